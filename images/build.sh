#!/usr/bin/env bash
# images/build.sh [--force] [--docker|--offline] [base|dind|registry]...
#
# Builds the session images playground/base:latest and playground/dind:latest (default: both),
# and, when named, playground/registry:latest (the registry mirror; scripts/setup.sh registry).
# An image whose io.playground.recipe label matches the current recipe (hash of its
# directory and the offline builder; dind includes base) is skipped; --force rebuilds.
# With a reachable registry (debian:bookworm-slim present or pullable) the Dockerfiles are
# built with `docker build`; otherwise images/build-offline.sh builds them from Debian
# packages (debootstrap). --docker / --offline, or PLAYGROUND_IMAGE_BUILDER=docker|offline,
# choose the builder.
set -euo pipefail

LOG_PREFIX=images
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PULL_TIMEOUT=${PLAYGROUND_PULL_TIMEOUT:-30}

usage() { sed -n '2,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

force=
builder=${PLAYGROUND_IMAGE_BUILDER:-}
names=()
while [ $# -gt 0 ]; do
    case $1 in
        --force) force=1 ;;
        --docker) builder=docker ;;
        --offline) builder=offline ;;
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
case $builder in
    '' | docker | offline) ;;
    *) die "PLAYGROUND_IMAGE_BUILDER must be docker or offline, not '$builder'" ;;
esac

docker version >/dev/null 2>&1 || die "the Docker daemon does not answer (scripts/setup.sh docker)"

# One build at a time (setup.sh may run from several shells).
exec 9>"${TMPDIR:-/tmp}/playground-images-build.lock"
flock 9

# dind is built on base: building dind means base must be current too.
todo=()
for n in "${ALL_IMAGES[@]}" registry; do
    for want in "${names[@]}"; do
        if [ "$want" = "$n" ] || { [ "$n" = base ] && [ "$want" = dind ]; }; then
            todo+=("$n")
            break
        fi
    done
done

pick_builder() {
    [ -z "$builder" ] || return 0
    if docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
        builder=docker
    elif timeout "$PULL_TIMEOUT" docker pull -q debian:bookworm-slim >/dev/null 2>&1; then
        builder=docker
    else
        log "no registry reachable (docker pull debian:bookworm-slim failed): building offline"
        builder=offline
    fi
}

offline_build() {
    if [ "$(id -u)" = 0 ]; then
        "$IMAGES_DIR/build-offline.sh" "$@"
    else
        sudo --preserve-env=PLAYGROUND_IMAGE_CACHE,DEBIAN_MIRROR,DEBIAN_SECURITY_MIRROR,PLAYGROUND_BUSYBOX,http_proxy,https_proxy,no_proxy \
            "$IMAGES_DIR/build-offline.sh" "$@"
    fi
}

docker_build() {
    local name=$1 tag old new
    tag=$(image_tag "$name")
    old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    docker build --pull=false --label "io.playground.recipe=$(recipe_hash "$name")" \
        --label io.playground.builder=docker-build -t "$tag" "$IMAGES_DIR/$name"
    new=$(docker image inspect -f '{{.Id}}' "$tag")
    if [ -n "$old" ] && [ "$old" != "$new" ]; then
        docker rmi "$old" >/dev/null 2>&1 || true
    fi
    # The legacy builder keeps the busybox stage of dind as a dangling image.
    docker image prune -f --filter label=io.playground.stage=busybox >/dev/null 2>&1 || true
}

for name in "${todo[@]}"; do
    tag=$(image_tag "$name")
    if [ -z "$force" ] && [ "$(image_recipe_label "$name")" = "$(recipe_hash "$name")" ]; then
        log "$tag: up to date"
        continue
    fi
    pick_builder
    start=$SECONDS
    log "$tag: building ($builder)"
    if [ "$builder" = docker ]; then
        docker_build "$name"
    else
        offline_build "$name"
    fi
    log "$tag: built in $((SECONDS - start)) s"
done
