#!/usr/bin/env bash
# images/seed-registry.sh [--force]
#
# Fills the playground's registry mirror (images/registry/start.sh) with the images the lessons
# pull, for hosts where no public registry is reachable. Each is a LOCALLY BUILT STAND-IN for
# the public image of the same name, pushed as library/<name>:<tag> so that `docker pull <name>`
# in a dind node gets it through the mirror:
#   busybox:latest                Debian's busybox-static 1.35 and its applet symlinks
#                                 (images/dind/make-busybox-tar.sh), as the real one.
#   alpine:latest                 NOT Alpine: the busybox stand-in plus /etc/alpine-release and
#                                 an os-release that says so. `sh`, `echo`, `wget`... work;
#                                 `apk` does not exist.
#   nginx:latest                  nginx from Debian's `nginx` package (1.22) with its libraries,
#                                 on the busybox stand-in; the official image's layout
#                                 (/etc/nginx/conf.d/default.conf, /usr/share/nginx/html, logs to
#                                 stdout/stderr, CMD nginx -g 'daemon off;').
#   hello-world:latest            the busybox stand-in printing a hello message.
#   registry:2, registry:latest   playground/registry (Debian's docker-registry 2.8), storage in
#                                 /var/lib/registry on :5000 as the official registry:2.
# Stand-ins are built once as playground/standin-<name>:latest (--force rebuilds them). The nginx
# one is built in a playground/base container that needs the Debian mirror.
# Pushes go through a temporary writable registry (playground-registry-seed) on the mirror's
# storage, published on 127.0.0.1 (Docker trusts loopback registries without TLS):
# PLAYGROUND_REGISTRY_SEED_PORT picks the port (default: any free one). The mirror itself
# stays read-only. In mirror mode (pull-through cache of Docker Hub) there is nothing to seed.
set -euo pipefail

LOG_PREFIX=seed-registry
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REGISTRY=playground-registry
SEEDER=playground-registry-seed
VOLUME=playground-registry-data
BUSYBOX=${PLAYGROUND_BUSYBOX:-/bin/busybox}

usage() { sed -n '2,29s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

force=
while [ $# -gt 0 ]; do
    case $1 in
        --force) force=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            exit 2
            ;;
    esac
    shift
done

docker version >/dev/null 2>&1 || die "the Docker daemon does not answer (scripts/setup.sh docker)"
mode=$(docker container inspect -f '{{ index .Config.Labels "io.playground.registry.mode" }}' "$REGISTRY" 2>/dev/null || true)
[ -n "$mode" ] || die "$REGISTRY is not running: images/registry/start.sh"
if [ "$mode" = mirror ]; then
    log "$REGISTRY is a pull-through cache of Docker Hub: nothing to seed"
    exit 0
fi

WORK=$(mktemp -d)
cleanup() {
    docker rm -f "$SEEDER" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

need_build() { [ -n "$force" ] || ! docker image inspect "$1" >/dev/null 2>&1; }

busybox_tar() {
    [ -f "$WORK/busybox.tar" ] && return 0
    case $(LC_ALL=C ldd "$BUSYBOX" 2>&1 || true) in
        *'not a dynamic executable'* | *'statically linked'*) ;;
        *) die "$BUSYBOX is not a static busybox (install busybox-static: scripts/setup.sh tools)" ;;
    esac
    sh "$IMAGES_DIR/dind/make-busybox-tar.sh" "$BUSYBOX" "$WORK/busybox.tar" playground/standin-busybox:latest
}

build_busybox() {
    need_build playground/standin-busybox:latest || return 0
    busybox_tar
    docker load -q -i "$WORK/busybox.tar" >/dev/null
    log "built playground/standin-busybox:latest"
}

# docker build of a small Dockerfile on the busybox stand-in (no RUN: works with no network).
build_on_busybox() {
    local tag=$1 dir=$WORK/ctx-${1//[\/:]/-}
    need_build "$tag" || return 0
    mkdir -p "$dir"
    cat >"$dir/Dockerfile"
    cp -r "$WORK/files/." "$dir/" 2>/dev/null || true
    # (The legacy builder's deprecation notice goes to stderr: shown only on failure.)
    docker build -q --pull=false -t "$tag" "$dir" >"$dir.log" 2>&1 || {
        cat "$dir.log" >&2
        die "docker build $tag failed"
    }
    log "built $tag"
}

build_alpine() {
    mkdir -p "$WORK/files"
    printf '3.20.0\n' >"$WORK/files/alpine-release"
    cat >"$WORK/files/os-release" <<'EOF'
NAME="Alpine Linux (playground stand-in)"
ID=alpine
VERSION_ID=3.20.0
PRETTY_NAME="busybox standing in for Alpine Linux: no apk; see images/seed-registry.sh"
EOF
    build_on_busybox playground/standin-alpine:latest <<'EOF'
FROM playground/standin-busybox:latest
COPY alpine-release os-release /etc/
LABEL io.playground.standin-for=alpine
CMD ["/bin/sh"]
EOF
    rm -rf "$WORK/files"
}

build_hello() {
    build_on_busybox playground/standin-hello-world:latest <<'EOF'
FROM playground/standin-busybox:latest
LABEL io.playground.standin-for=hello-world
CMD ["echo", "\nHello from Docker!\nThis message shows that your installation appears to be working correctly.\n(playground stand-in for hello-world, served by the playground's registry mirror)\n"]
EOF
}

build_nginx() {
    local tag=playground/standin-nginx:latest
    need_build "$tag" || return 0
    busybox_tar
    mkdir -p "$WORK/nginx"
    cp "$WORK/busybox.tar" "$WORK/nginx/busybox.tar"
    cat >"$WORK/nginx/build.sh" <<'BUILD'
#!/bin/bash
# Runs in playground/base: install Debian's nginx, copy it and its libraries onto busybox.
set -euo pipefail
apt-get -q update >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends nginx >/dev/null 2>&1
r=/tmp/rootfs
mkdir -p "$r"
tar -xOf /out/busybox.tar --wildcards '*/layer.tar' | tar -C "$r" -xf -
mkdir -p "$r/usr/sbin" "$r/etc/nginx/conf.d" "$r/usr/share/nginx/html" "$r/var/log/nginx" \
    "$r/var/cache/nginx" "$r/var/lib/nginx" "$r/run"
ln -s /run "$r/var/run"
cp /usr/sbin/nginx "$r/usr/sbin/nginx"
for lib in $(ldd /usr/sbin/nginx | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
    mkdir -p "$r$(dirname "$lib")"
    cp -L "$lib" "$r$lib"
done
cp /etc/nginx/mime.types "$r/etc/nginx/mime.types"
ln -sf /dev/stdout "$r/var/log/nginx/access.log"
ln -sf /dev/stderr "$r/var/log/nginx/error.log"
printf 'root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101:nginx:/nonexistent:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
printf 'root:x:0:\nnginx:x:101:\nnogroup:x:65534:\n' >"$r/etc/group"
cat >"$r/etc/nginx/nginx.conf" <<'EOF'
user  nginx;
worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /var/run/nginx.pid;

events {
    worker_connections  1024;
}

http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';
    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    keepalive_timeout  65;

    include /etc/nginx/conf.d/*.conf;
}
EOF
cat >"$r/etc/nginx/conf.d/default.conf" <<'EOF'
server {
    listen       80;
    server_name  localhost;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }

    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
EOF
cat >"$r/usr/share/nginx/html/index.html" <<'EOF'
<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p><em>Thank you for using nginx.</em> (This is the playground's stand-in for the
nginx image: Debian's nginx package, served by the playground's registry mirror.)</p>
</body>
</html>
EOF
cat >"$r/usr/share/nginx/html/50x.html" <<'EOF'
<!DOCTYPE html>
<html>
<head><title>Error</title></head>
<body><h1>An error occurred.</h1>
<p>Sorry, the page you are looking for is currently unavailable.</p></body>
</html>
EOF
"$r/usr/sbin/nginx" -v 2>"$r/etc/nginx/VERSION" || true
tar -C "$r" --numeric-owner -cf /out/rootfs.tar .
BUILD
    log "building $tag from Debian's nginx package (in a playground/base container)"
    # Root in the container is an unprivileged uid on the host (the engine's userns-remap):
    # let it write its output here.
    chmod 0777 "$WORK/nginx"
    docker run --rm -v "$WORK/nginx:/out" "$(image_tag base)" bash /out/build.sh ||
        die "building the nginx stand-in failed (does the container reach the Debian mirror?)"
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'EXPOSE 80' \
        --change 'LABEL io.playground.standin-for=nginx' \
        --change 'CMD ["nginx", "-g", "daemon off;"]' \
        -m "images/seed-registry.sh: nginx stand-in" "$WORK/nginx/rootfs.tar" "$tag" >/dev/null
    log "built $tag ($(wc -c <"$WORK/nginx/rootfs.tar" | awk '{printf "%d MB", $1 / 1e6}'))"
}

build_busybox
build_alpine
build_hello
build_nginx
docker image inspect "$(image_tag registry)" >/dev/null 2>&1 || die "$(image_tag registry) is missing: images/build.sh registry"

# stand-in image -> repository:tag in the mirror
PUSHES=(
    "playground/standin-busybox:latest library/busybox:latest"
    "playground/standin-alpine:latest library/alpine:latest"
    "playground/standin-nginx:latest library/nginx:latest"
    "playground/standin-hello-world:latest library/hello-world:latest"
    "$(image_tag registry) library/registry:2"
    "$(image_tag registry) library/registry:latest"
)

docker rm -f "$SEEDER" >/dev/null 2>&1 || true
docker run -d --name "$SEEDER" -p "127.0.0.1:${PLAYGROUND_REGISTRY_SEED_PORT:-}:5000" \
    -v "$VOLUME:/var/lib/registry" "$(image_tag registry)" >/dev/null
addr=$(docker port "$SEEDER" 5000/tcp | grep -m1 '^127\.0\.0\.1:')
for _ in $(seq 1 40); do
    curl -fsS -o /dev/null "http://$addr/v2/" 2>/dev/null && break
    sleep 0.25
done
curl -fsS -o /dev/null "http://$addr/v2/" || die "the seeding registry does not answer on $addr"

for p in "${PUSHES[@]}"; do
    read -r src dst <<<"$p"
    docker tag "$src" "$addr/$dst"
    start=$SECONDS
    docker push -q "$addr/$dst" >/dev/null || die "docker push $addr/$dst failed"
    docker rmi "$addr/$dst" >/dev/null
    log "pushed $src as $dst ($((SECONDS - start)) s)"
done
log "catalog: $(curl -fsS "http://$addr/v2/_catalog")"
