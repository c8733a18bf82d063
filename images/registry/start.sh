#!/usr/bin/env bash
# images/registry/start.sh [--mode auto|mirror|local] [--recreate]
#
# Starts (or keeps) the playground's registry mirror: container playground-registry of image
# playground/registry:latest (images/build.sh registry), on its own network
# playground-registry, storage in volume playground-registry-data. The sandbox server attaches
# it to every session network as `registry`, and the dind image's dockerd uses
# http://registry:5000 as its registry mirror, so `docker pull nginx` in a node needs no public
# registry.
#   mirror  a pull-through cache of Docker Hub (proxy.remoteurl=https://registry-1.docker.io):
#           for hosts that reach Docker Hub. Nothing needs seeding.
#   local   read-only, serves what images/seed-registry.sh pushed (locally built stand-ins):
#           for hosts with no registry reachable.
#   auto    mirror if https://registry-1.docker.io/v2/ answers within 5 s, else local (default).
# Env: PLAYGROUND_REGISTRY_MODE (as --mode), PLAYGROUND_REGISTRY_REMOTE (upstream of mirror
# mode), REGISTRY_PROXY_USERNAME/REGISTRY_PROXY_PASSWORD (Docker Hub account for mirror mode).
# The container is recreated when its image or mode changed; running sessions get it attached
# again. Prints the mode in use on stdout.
set -euo pipefail

LOG_PREFIX=registry
# shellcheck source=../lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

NAME=playground-registry
NETWORK=playground-registry
VOLUME=playground-registry-data
IMAGE=$(image_tag registry)
ALIAS=registry
REMOTE=${PLAYGROUND_REGISTRY_REMOTE:-https://registry-1.docker.io}

usage() { sed -n '2,19s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

mode=${PLAYGROUND_REGISTRY_MODE:-auto}
recreate=
while [ $# -gt 0 ]; do
    case $1 in
        --mode)
            mode=${2:-}
            shift
            ;;
        --recreate) recreate=1 ;;
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
case $mode in
    auto | mirror | local) ;;
    *) die "mode must be auto, mirror or local, not '$mode'" ;;
esac

docker version >/dev/null 2>&1 || die "the Docker daemon does not answer (scripts/setup.sh docker)"
docker image inspect "$IMAGE" >/dev/null 2>&1 || die "$IMAGE is missing: images/build.sh registry"

if [ "$mode" = auto ]; then
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$REMOTE/v2/" 2>/dev/null || true)
    # Docker Hub answers /v2/ with 401 (a token is needed), a private upstream maybe with 200.
    case $code in
        200 | 401) mode=mirror ;;
        *) mode=local ;;
    esac
    log "$REMOTE answered '${code:-nothing}': $mode mode"
fi

docker network inspect "$NETWORK" >/dev/null 2>&1 ||
    docker network create --label io.playground.role=registry "$NETWORK" >/dev/null
docker volume inspect "$VOLUME" >/dev/null 2>&1 ||
    docker volume create --label io.playground.role=registry "$VOLUME" >/dev/null

# It sits on every session network: it must not route between them (a node with NET_ADMIN
# could use it as a gateway into another session), hence ip_forward=0.
args=(--restart unless-stopped --network "$NETWORK" --volume "$VOLUME:/var/lib/registry"
    --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges
    --sysctl net.ipv4.ip_forward=0 --memory 256m --pids-limit 256)
if [ "$mode" = mirror ]; then
    args+=(--env "REGISTRY_PROXY_REMOTEURL=$REMOTE")
    [ -z "${REGISTRY_PROXY_USERNAME:-}" ] || args+=(--env REGISTRY_PROXY_USERNAME --env REGISTRY_PROXY_PASSWORD)
    args+=("$IMAGE" /etc/docker/registry/config.yml)
else
    args+=("$IMAGE" /etc/docker/registry/config-readonly.yml)
fi
# Recreate when the image, the mode or these settings changed.
want=$(printf '%s\n' "$(docker image inspect -f '{{.Id}}' "$IMAGE")" "$mode" "${args[@]}" | sha256sum | cut -c1-16)
have=$(docker container inspect -f '{{ index .Config.Labels "io.playground.registry.recipe" }}' "$NAME" 2>/dev/null || echo none)
running=$(docker container inspect -f '{{.State.Running}}' "$NAME" 2>/dev/null || true)
if [ "$have" != none ] && { [ -n "$recreate" ] || [ "$have" != "$want" ]; }; then
    log "recreating $NAME (image, mode or settings changed)"
    docker rm -f "$NAME" >/dev/null
    have=none
fi

if [ "$have" = none ]; then
    docker run --detach --name "$NAME" --label io.playground.role=registry \
        --label "io.playground.registry.mode=$mode" --label "io.playground.registry.recipe=$want" \
        "${args[@]}" >/dev/null
    log "started $NAME ($mode mode)"
elif [ "$running" != true ]; then
    docker start "$NAME" >/dev/null
    log "started $NAME again ($mode mode)"
else
    log "$NAME is running ($mode mode)"
fi

# Sessions that exist already (a recreated container lost its networks) get it back.
for net in $(docker network ls -q --filter label=io.playground.managed=true); do
    if ! docker network inspect -f '{{range .Containers}}{{.Name}} {{end}}' "$net" | grep -qw "$NAME"; then
        docker network connect --alias "$ALIAS" "$net" "$NAME" >/dev/null 2>&1 || true
    fi
done

# The host reaches the container on its network (as the server reaches nodes).
ip=$(docker container inspect -f "{{ (index .NetworkSettings.Networks \"$NETWORK\").IPAddress }}" "$NAME")
for _ in $(seq 1 40); do
    # 200, or 401 from a mirror that has no Docker Hub token yet: it is up.
    case $(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$ip:5000/v2/" 2>/dev/null || true) in
        200 | 401)
            echo "$mode"
            exit 0
            ;;
    esac
    sleep 0.25
done
docker logs --tail 20 "$NAME" >&2 || true
die "$NAME does not answer on $ip:5000"
