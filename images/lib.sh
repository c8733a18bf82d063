# shellcheck shell=bash
# Shared helpers of images/build.sh and images/build-offline.sh (sourced, not run).
# shellcheck disable=SC2034 # variables used by the scripts that source this file

IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Image names, in build order (dind is built on base).
ALL_IMAGES=(base dind)
IMAGE_CACHE_DIR=${PLAYGROUND_IMAGE_CACHE:-/var/cache/playground-images}
DEBIAN_SUITE=bookworm

log() { printf '%s: %s\n' "${LOG_PREFIX:-images}" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

image_tag() { printf 'playground/%s:latest\n' "$1"; }

# Package names of an image (packages.txt without comments and blank lines).
image_packages() {
    sed -e 's/#.*//' -e 's/[[:space:]]//g' "$IMAGES_DIR/$1/packages.txt" | grep -v '^$'
}

# Digest of every file that defines an image: its directory (Dockerfile, packages, rootfs
# overlay), the offline builder, and for dind the base recipe. Stored in the image label
# io.playground.recipe; build.sh rebuilds an image whose label differs.
recipe_hash() {
    local name=$1 f x
    {
        echo "playground image recipe v1: $name"
        (
            cd "$IMAGES_DIR" || exit 1
            find "$name" -type f -print | LC_ALL=C sort | while IFS= read -r f; do
                x=-
                [ -x "$f" ] && x=x
                printf '%s %s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$x" "$f"
            done
            for f in build-offline.sh lib.sh; do
                printf '%s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
            done
        )
        if [ "$name" = dind ]; then
            recipe_hash base
        fi
    } | sha256sum | cut -d' ' -f1
}

# Recipe label of an existing image, or nothing.
image_recipe_label() {
    docker image inspect -f '{{ index .Config.Labels "io.playground.recipe" }}' "$(image_tag "$1")" 2>/dev/null || true
}

# The Debian mirror for debootstrap: $DEBIAN_MIRROR, else the host's own Debian mirror
# (deb822 /etc/apt/sources.list.d/*.sources or one-line sources.list), else deb.debian.org.
debian_mirror() {
    local uri=
    if [ -n "${DEBIAN_MIRROR:-}" ]; then
        echo "$DEBIAN_MIRROR"
        return
    fi
    if grep -qs '^ID=debian' /etc/os-release; then
        uri=$(host_source_uri '^[a-z]+(-updates)?$')
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

# The Debian security mirror written into the images' apt sources.
debian_security_mirror() {
    local uri=
    if [ -n "${DEBIAN_SECURITY_MIRROR:-}" ]; then
        echo "$DEBIAN_SECURITY_MIRROR"
        return
    fi
    if grep -qs '^ID=debian' /etc/os-release; then
        uri=$(host_source_uri '^[a-z]+-security$|^[a-z]+/updates$')
    fi
    echo "${uri:-http://deb.debian.org/debian-security}"
}

# First URI of the host's apt sources whose suite matches the regex $1 (http/https only).
host_source_uri() {
    host_source_uris "$1" | head -n1
}

host_source_uris() {
    local suite_re=$1 f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v re="$suite_re" '
            function flush() {
                if (uris != "" && types ~ /(^| )deb( |$)/) {
                    n = split(suites, s, " ")
                    for (i = 1; i <= n; i++) if (s[i] ~ re) { split(uris, u, " "); print u[1]; exit }
                }
                uris = ""; suites = ""; types = ""
            }
            /^[[:space:]]*$/ { flush(); next }
            /^URIs:/ { sub(/^URIs:[[:space:]]*/, ""); uris = $0 }
            /^Suites:/ { sub(/^Suites:[[:space:]]*/, ""); suites = $0 }
            /^Types:/ { sub(/^Types:[[:space:]]*/, ""); types = $0 }
            END { flush() }
        ' "$f"
    done | grep -E '^https?://'
    if [ -f /etc/apt/sources.list ]; then
        # deb [options] URI SUITE COMPONENTS...
        sed -e 's/\[[^]]*\]//' /etc/apt/sources.list |
            awk -v re="$suite_re" '$1 == "deb" && $3 ~ re { print $2 }' | grep -E '^https?://'
    fi
}
