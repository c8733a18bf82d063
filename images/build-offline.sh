#!/usr/bin/env bash
# images/build-offline.sh [--no-cache] [base|dind|registry]...
#
# Builds playground/base:latest and playground/dind:latest with no container registry:
# debootstrap (minbase) a Debian bookworm root filesystem with base/packages.txt, derive the
# dind root filesystem from a copy of it (dind/packages.txt installed in a chroot), add each
# image's rootfs/ overlay, and `docker import` the result with the ENV/WORKDIR/LABEL/
# ENTRYPOINT/CMD/VOLUME instructions of the image's Dockerfile.
#
# The package-installed root filesystems are cached under $PLAYGROUND_IMAGE_CACHE
# (default /var/cache/playground-images), keyed by the package lists, so a rebuild after
# `docker rmi` only re-imports. --no-cache rebuilds them. Needs root, debootstrap, and a
# static busybox at /bin/busybox (Debian's busybox-static) for dind; scripts/setup.sh tools
# installs both. Mirror: $DEBIAN_MIRROR, else the host's Debian mirror, else deb.debian.org.
# Usually run by images/build.sh, which skips images that are already up to date.
# registry (only when named) is playground/registry: the host's docker-registry binary (Debian's
# package, scripts/setup.sh tools) with its libraries, CA certificates and a static busybox.
set -euo pipefail
umask 022

LOG_PREFIX=build-offline
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Bump when the root filesystem steps below change, to invalidate the cache.
ROOTFS_RECIPE_VERSION=1
BUSYBOX=${PLAYGROUND_BUSYBOX:-/bin/busybox}
DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

usage() { sed -n '2,18s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

no_cache=
names=()
while [ $# -gt 0 ]; do
    case $1 in
        --no-cache) no_cache=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        base | dind | registry) names+=("$1") ;;
        *)
            usage >&2
            exit 2
            ;;
    esac
    shift
done
[ ${#names[@]} -gt 0 ] || names=("${ALL_IMAGES[@]}")

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot): run it with sudo"
command -v debootstrap >/dev/null || die "debootstrap is missing (scripts/setup.sh tools installs it)"
docker version >/dev/null 2>&1 || die "the Docker daemon does not answer (scripts/setup.sh docker)"

MIRROR=$(debian_mirror)
SECURITY_MIRROR=$(debian_security_mirror)
ARCH=$(dpkg --print-architecture 2>/dev/null || uname -m)

mkdir -p "$IMAGE_CACHE_DIR"
exec 9>"$IMAGE_CACHE_DIR/.lock"
flock 9

# --- chroot plumbing --------------------------------------------------------------------

MOUNTS=()
STAGING=
cleanup() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount -l "${MOUNTS[i]}" 2>/dev/null || true
    done
    MOUNTS=()
    if [ -n "$STAGING" ] && [ -d "$STAGING" ]; then
        rm -rf --one-file-system "$STAGING"
    fi
}
trap cleanup EXIT

in_chroot() {
    chroot "$CHROOT" /usr/bin/env -i PATH="$DEFAULT_PATH" HOME=/root LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true \
        ${http_proxy:+http_proxy="$http_proxy"} ${https_proxy:+https_proxy="$https_proxy"} \
        ${no_proxy:+no_proxy="$no_proxy"} "$@"
}

# Mount /proc (and /dev when debootstrap could not create device nodes), give the chroot
# DNS and apt sources, keep services from starting.
enter_chroot() {
    CHROOT=$1
    mount -t proc proc "$CHROOT/proc"
    MOUNTS+=("$CHROOT/proc")
    if [ ! -c "$CHROOT/dev/null" ]; then
        mount --bind /dev "$CHROOT/dev"
        MOUNTS+=("$CHROOT/dev")
    fi
    rm -f "$CHROOT/etc/resolv.conf"
    cp -L /etc/resolv.conf "$CHROOT/etc/resolv.conf"
    printf '#!/bin/sh\nexit 101\n' >"$CHROOT/usr/sbin/policy-rc.d"
    chmod 0755 "$CHROOT/usr/sbin/policy-rc.d"
    rm -f "$CHROOT/etc/apt/sources.list"
    cat >"$CHROOT/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $DEBIAN_SUITE $DEBIAN_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $DEBIAN_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # No docs, man pages or translations from here on (as in debian:bookworm-slim).
    install -D -m 0644 "$IMAGES_DIR/base/rootfs/etc/dpkg/dpkg.cfg.d/playground-slim" \
        "$CHROOT/etc/dpkg/dpkg.cfg.d/playground-slim"
    # The image is rebuilt, not upgraded in place: unpack fast.
    echo force-unsafe-io >"$CHROOT/etc/dpkg/dpkg.cfg.d/playground-unsafe-io"
}

# Drop caches, logs, docs and host leftovers; unmount.
leave_chroot() {
    local r=$CHROOT i
    in_chroot apt-get clean
    rm -f "$r/usr/sbin/policy-rc.d" "$r/etc/dpkg/dpkg.cfg.d/playground-unsafe-io"
    rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/debconf/*-old \
        "$r"/var/lib/dpkg/*-old "$r"/tmp/* "$r"/var/tmp/* "$r/root/.bash_history"
    find "$r/var/log" -type f -delete
    find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* \
        "$r"/usr/share/groff/* "$r"/usr/share/lintian/*
    # Docker provides these per container.
    : >"$r/etc/resolv.conf"
    rm -f "$r/etc/hostname"
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTS[i]}"
    done
    MOUNTS=()
}

# Remove cached root filesystems of an image other than the current one.
prune_cache() {
    local kind=$1 keep=$2 d
    for d in "$IMAGE_CACHE_DIR/$kind"-*; do
        if [ ! -d "$d" ] || [ "$d" = "$keep" ]; then continue; fi
        log "removing stale cache $d"
        rm -rf --one-file-system "$d"
    done
}

# --- root filesystems -------------------------------------------------------------------

rootfs_key() {
    {
        echo "rootfs v$ROOTFS_RECIPE_VERSION $DEBIAN_SUITE $ARCH $MIRROR $SECURITY_MIRROR"
        sha256sum <"$IMAGES_DIR/base/rootfs/etc/dpkg/dpkg.cfg.d/playground-slim"
        image_packages base
        if [ "$1" = dind ]; then
            echo dind
            image_packages dind
        fi
    } | sha256sum | cut -c1-16
}

# Sets BASE_ROOTFS to the cached base root filesystem, building it if needed.
# (Not a command substitution: the EXIT trap must see the chroot mounts.)
base_rootfs() {
    local dir tmp start
    dir=$IMAGE_CACHE_DIR/base-$(rootfs_key base)
    if [ -z "$no_cache" ] && [ -f "$dir/.complete" ]; then
        log "base rootfs: cached ($dir)"
        BASE_ROOTFS=$dir/rootfs
        return
    fi
    start=$SECONDS
    tmp=$dir.tmp
    rm -rf --one-file-system "$tmp" "$dir"
    mkdir -p "$tmp"
    log "base rootfs: debootstrap $DEBIAN_SUITE from $MIRROR (log: $tmp/debootstrap.log)"
    if ! debootstrap --variant=minbase --include="$(image_packages base | paste -sd, -)" \
        "$DEBIAN_SUITE" "$tmp/rootfs" "$MIRROR" >"$tmp/debootstrap.log" 2>&1; then
        tail -n 30 "$tmp/debootstrap.log" >&2
        die "debootstrap failed (log: $tmp/debootstrap.log)"
    fi
    log "base rootfs: apt-get upgrade (security and point-release updates)"
    enter_chroot "$tmp/rootfs"
    if ! { in_chroot apt-get -q update && in_chroot apt-get -q -y upgrade; } >"$tmp/apt.log" 2>&1; then
        tail -n 30 "$tmp/apt.log" >&2
        die "apt-get upgrade failed (log: $tmp/apt.log)"
    fi
    leave_chroot
    mv "$tmp" "$dir"
    touch "$dir/.complete"
    prune_cache base "$dir"
    log "base rootfs: built in $((SECONDS - start)) s"
    BASE_ROOTFS=$dir/rootfs
}

# Sets DIND_ROOTFS to the cached dind root filesystem: a copy of base's plus dind/packages.txt.
dind_rootfs() {
    local base=$1 dir tmp start
    dir=$IMAGE_CACHE_DIR/dind-$(rootfs_key dind)
    if [ -z "$no_cache" ] && [ -f "$dir/.complete" ]; then
        log "dind rootfs: cached ($dir)"
        DIND_ROOTFS=$dir/rootfs
        return
    fi
    start=$SECONDS
    tmp=$dir.tmp
    rm -rf --one-file-system "$tmp" "$dir"
    mkdir -p "$tmp"
    cp -a "$base" "$tmp/rootfs"
    log "dind rootfs: apt-get install $(image_packages dind | paste -sd' ' -)"
    enter_chroot "$tmp/rootfs"
    # shellcheck disable=SC2046 # one word per package
    if ! { in_chroot apt-get -q update &&
        in_chroot apt-get -q -y install --no-install-recommends $(image_packages dind); } >"$tmp/apt.log" 2>&1; then
        tail -n 30 "$tmp/apt.log" >&2
        die "apt-get install failed (log: $tmp/apt.log)"
    fi
    leave_chroot
    mv "$tmp" "$dir"
    touch "$dir/.complete"
    prune_cache dind "$dir"
    log "dind rootfs: built in $((SECONDS - start)) s"
    DIND_ROOTFS=$dir/rootfs
}

# --- images -----------------------------------------------------------------------------

# Copy an image's rootfs/ overlay into the staging tree (root-owned; files are replaced,
# never written through, so the hard-linked cache stays intact).
apply_overlay() {
    local src=$IMAGES_DIR/$1/rootfs dst=$2 f
    [ -d "$src" ] || return 0
    (cd "$src" && find . ! -type d -print) | while IFS= read -r f; do
        f=${f#./}
        mkdir -p "$dst/$(dirname "$f")"
        rm -f "$dst/$f"
        cp -P "$src/$f" "$dst/$f"
        if [ -f "$dst/$f" ] && [ ! -L "$dst/$f" ]; then
            if [ -x "$src/$f" ]; then chmod 0755 "$dst/$f"; else chmod 0644 "$dst/$f"; fi
        fi
        chown -h 0:0 "$dst/$f"
    done
}

# The single-line metadata instructions of the final stage of a Dockerfile.
dockerfile_changes() {
    awk '
        /^FROM[[:space:]]/ { n = 0; next }
        /^(ENV|WORKDIR|LABEL|ENTRYPOINT|CMD|VOLUME|USER|EXPOSE|STOPSIGNAL)[[:space:]]/ {
            if ($0 ~ /\\[[:space:]]*$/) { print "continuation lines are not supported: " $0 > "/dev/stderr"; exit 1 }
            line[n++] = $0
        }
        END { for (i = 0; i < n; i++) print line[i] }
    ' "$1"
}

import_image() {
    local name=$1 rootfs=$2 tag hash old new start line
    local changes=(--change "ENV PATH=$DEFAULT_PATH")
    start=$SECONDS
    tag=$(image_tag "$name")
    hash=$(recipe_hash "$name")
    STAGING=$(mktemp -d "$IMAGE_CACHE_DIR/staging-$name.XXXXXX")
    chmod 0755 "$STAGING"
    cp -al "$rootfs/." "$STAGING/"
    apply_overlay base "$STAGING"
    while IFS= read -r line; do changes+=(--change "$line"); done < <(dockerfile_changes "$IMAGES_DIR/base/Dockerfile")
    if [ "$name" = dind ]; then
        apply_overlay dind "$STAGING"
        case $(LC_ALL=C ldd "$BUSYBOX" 2>&1 || true) in
            *'not a dynamic executable'* | *'statically linked'*) ;;
            *) die "$BUSYBOX is not a static busybox (install busybox-static: scripts/setup.sh tools)" ;;
        esac
        sh "$IMAGES_DIR/dind/make-busybox-tar.sh" "$BUSYBOX" "$STAGING/opt/playground/images/busybox.tar" busybox:latest
        while IFS= read -r line; do changes+=(--change "$line"); done < <(dockerfile_changes "$IMAGES_DIR/dind/Dockerfile")
    fi
    changes+=(--change "LABEL io.playground.recipe=$hash io.playground.builder=build-offline")
    old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    tar -C "$STAGING" --numeric-owner --xattrs --xattrs-include='security.capability' -cf - . |
        docker import "${changes[@]}" -m "images/build-offline.sh $name" - "$tag" >/dev/null
    rm -rf --one-file-system "$STAGING"
    STAGING=
    new=$(docker image inspect -f '{{.Id}}' "$tag")
    if [ -n "$old" ] && [ "$old" != "$new" ]; then
        docker rmi "$old" >/dev/null 2>&1 || true
    fi
    log "$tag: imported in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%d MB", $1 / 1e6}'))"
}

# playground/registry: no Debian tree, just Debian's docker-registry binary and what it needs
# (about 30 MB): the libraries ldd names, the CA bundle (pull-through mode talks HTTPS to
# Docker Hub), a static busybox for a shell, and registry/rootfs (the configs).
import_registry() {
    local name=registry tag hash old new start line bin=/usr/bin/docker-registry lib d
    local changes=(--change "ENV PATH=$DEFAULT_PATH")
    start=$SECONDS
    tag=$(image_tag "$name")
    hash=$(recipe_hash "$name")
    [ -x "$bin" ] || die "$bin is missing: install Debian's docker-registry (scripts/setup.sh tools)"
    case $(LC_ALL=C ldd "$BUSYBOX" 2>&1 || true) in
        *'not a dynamic executable'* | *'statically linked'*) ;;
        *) die "$BUSYBOX is not a static busybox (install busybox-static: scripts/setup.sh tools)" ;;
    esac
    STAGING=$(mktemp -d "$IMAGE_CACHE_DIR/staging-$name.XXXXXX")
    chmod 0755 "$STAGING"
    for d in bin etc/ssl/certs usr/bin var/lib/registry tmp root; do mkdir -p "$STAGING/$d"; done
    chmod 1777 "$STAGING/tmp"
    chmod 0700 "$STAGING/root"
    cp "$bin" "$STAGING/usr/bin/docker-registry"
    for lib in $(LC_ALL=C ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
        mkdir -p "$STAGING$(dirname "$lib")"
        cp -L "$lib" "$STAGING$lib"
    done
    cp -L /etc/ssl/certs/ca-certificates.crt "$STAGING/etc/ssl/certs/ca-certificates.crt" ||
        die "no CA bundle at /etc/ssl/certs/ca-certificates.crt (install ca-certificates)"
    cp "$BUSYBOX" "$STAGING/bin/busybox"
    ln -s busybox "$STAGING/bin/sh"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$STAGING/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$STAGING/etc/group"
    apply_overlay "$name" "$STAGING"
    while IFS= read -r line; do changes+=(--change "$line"); done < <(dockerfile_changes "$IMAGES_DIR/$name/Dockerfile")
    changes+=(--change "LABEL io.playground.recipe=$hash io.playground.builder=build-offline")
    old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    tar -C "$STAGING" --numeric-owner -cf - . |
        docker import "${changes[@]}" -m "images/build-offline.sh $name" - "$tag" >/dev/null
    rm -rf --one-file-system "$STAGING"
    STAGING=
    new=$(docker image inspect -f '{{.Id}}' "$tag")
    if [ -n "$old" ] && [ "$old" != "$new" ]; then
        docker rmi "$old" >/dev/null 2>&1 || true
    fi
    log "$tag: imported in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%d MB", $1 / 1e6}'))"
}

want_dind=
want_base=
want_registry=
for n in "${names[@]}"; do
    case $n in
        dind) want_dind=1 want_base=1 ;;
        base) want_base=1 ;;
        registry) want_registry=1 ;;
    esac
done

if [ -n "$want_registry" ]; then
    import_registry
fi
[ -n "$want_base" ] || exit 0
base_rootfs
for n in "${names[@]}"; do
    if [ "$n" = base ]; then
        import_image base "$BASE_ROOTFS"
    fi
done
if [ -n "$want_dind" ]; then
    dind_rootfs "$BASE_ROOTFS"
    import_image dind "$DIND_ROOTFS"
fi
