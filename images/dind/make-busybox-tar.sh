#!/bin/sh
# make-busybox-tar.sh BUSYBOX OUT.tar [TAG]
# Writes a `docker load` tarball holding a one-layer image TAG (default busybox:latest) made of
# a static busybox binary and its applet symlinks (`busybox --install -s` layout). Needs only
# sh, tar, sha256sum: it runs in the dind Dockerfile's build stage and in build-offline.sh.
set -eu

bb=${1:?usage: make-busybox-tar.sh BUSYBOX OUT.tar [TAG]}
out=${2:?usage: make-busybox-tar.sh BUSYBOX OUT.tar [TAG]}
tag=${3:-busybox:latest}

case $(uname -m) in
    x86_64) arch=amd64 ;;
    aarch64) arch=arm64 ;;
    armv7l | armv6l) arch=arm ;;
    i?86) arch=386 ;;
    ppc64le) arch=ppc64le ;;
    s390x) arch=s390x ;;
    riscv64) arch=riscv64 ;;
    *) arch=$(uname -m) ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/tmp" "$root/var" "$root/home"
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
cp "$bb" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
# Same layout as `busybox --install -s`: every applet at its usual path, a symlink to /bin/busybox.
"$bb" --list-full | while read -r applet; do
    [ -n "$applet" ] || continue
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -sf /bin/busybox "$root/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

# Reproducible: the image's date is the busybox binary's.
created=$(date -u -r "$bb" +%Y-%m-%dT%H:%M:%SZ)
mtime=$(date -u -r "$bb" +%s)

mkdir -p "$work/image/layer"
tar -C "$root" --sort=name --mtime=@"$mtime" --owner=0 --group=0 --numeric-owner -cf "$work/image/layer/layer.tar" .
diff_id=$(sha256sum "$work/image/layer/layer.tar" | cut -d' ' -f1)
mv "$work/image/layer" "$work/image/$diff_id"

cat >"$work/config.json" <<JSON
{"architecture":"$arch","os":"linux","created":"$created","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},"history":[{"created":"$created","created_by":"make-busybox-tar.sh (static busybox and applet symlinks)"}]}
JSON
config_id=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/image/$config_id.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]\n' \
    "$config_id" "$tag" "$diff_id" >"$work/image/manifest.json"

mkdir -p "$(dirname "$out")"
tar -C "$work/image" --sort=name --mtime=@"$mtime" --owner=0 --group=0 --numeric-owner -cf "$out.tmp" .
mv "$out.tmp" "$out"
