#!/usr/bin/env bash
# scripts/setup.sh [component...]  (default: all)
#
# Installs what the playground needs to build, run and test, on Debian/Ubuntu. Idempotent:
# each step checks first and skips what is already there. Run as root or as a sudo user.
#   rust     Rust toolchain check (rustfmt, clippy), the wasm32-wasip2 target (lesson graders)
#            and a C linker (build-essential)
#   docker   Docker Engine packages (Debian's docker.io: dockerd, runc, containerd), jq
#   engine   the learner engine: a dockerd of the playground's own with userns-remap, its own
#            socket (/run/playground-engine/docker.sock), data-root (on an XFS image file of
#            its own: PLAYGROUND_ENGINE_DISK_GB) and bridge (scripts/learner-engine.sh start),
#            and xfsprogs. Everything below that uses Docker uses it.
#   firewall the iptables chain PLAYGROUND-INPUT: session networks cannot reach the host
#            (scripts/host-firewall.sh; pool: $PLAYGROUND_SESSION_SUBNET_POOL or 10.210.0.0/16)
#   tools    debootstrap, busybox-static, docker-registry, sqlite3 (offline image builder)
#   images   the session images playground/base and playground/dind (images/build.sh)
#   registry the registry mirror session nodes pull from (playground-registry): build, start,
#            and seed it with stand-in images (images/registry/start.sh, images/seed-registry.sh)
#   web      wasm32 target, trunk 0.21.14, wasm-bindgen-cli (Cargo.lock's version),
#            npm packages (npm ci: xterm.js, binaryen's wasm-opt, playwright-core)
#   browser  chromium and chromium-driver (browser tests)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

TRUNK_VERSION=0.21.14
ALL_COMPONENTS=(rust docker engine firewall tools images registry web browser)
# Every docker command here (and in the scripts it runs) talks to the learner engine.
ENGINE_SOCKET=${PLAYGROUND_ENGINE_SOCKET:-/run/playground-engine/docker.sock}
export DOCKER_HOST="unix://$ENGINE_SOCKET"

say() { printf 'setup: %-8s %s\n' "$STEP" "$*"; }
die() {
    printf 'setup: %-8s error: %s\n' "$STEP" "$*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

STEP=-
SUDO=()
if [ "$(id -u)" != 0 ]; then
    have sudo || die "not root and sudo is missing: run as root or install sudo"
    SUDO=(sudo)
fi
if [ -d "$HOME/.cargo/bin" ] && [[ ":$PATH:" != *":$HOME/.cargo/bin:"* ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

# --- apt --------------------------------------------------------------------------------

APT_UPDATED=
pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}
# apt_install PKG...: installs the packages that are not installed yet.
apt_install() {
    local missing=() p
    for p in "$@"; do
        pkg_installed "$p" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "present: $*"
        return 0
    fi
    have apt-get || die "apt-get not found: install ${missing[*]} yourself"
    if [ -z "$APT_UPDATED" ]; then
        say "apt-get update"
        apt_get update
        APT_UPDATED=1
    fi
    say "apt-get install ${missing[*]}"
    apt_get install -y "${missing[@]}"
}
# apt-get with its chatter in a log, shown only when it fails.
apt_get() {
    local log
    log=$(mktemp)
    if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q "$@" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        rm -f "$log"
        die "apt-get $* failed"
    fi
    rm -f "$log"
}

# --- components -------------------------------------------------------------------------

setup_rust() {
    if ! have cargo; then
        say "cargo not found: installing rustup (stable)"
        have curl || apt_install curl ca-certificates
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal ||
            die "rustup install failed: install Rust (https://rustup.rs) and re-run"
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    say "present: $(cargo --version)"
    if have rustup; then
        local c
        for c in rustfmt clippy; do
            if rustup component list --installed 2>/dev/null | grep -q "^$c"; then
                say "present: $c"
            else
                say "rustup component add $c"
                rustup -q component add "$c"
            fi
        done
        # Lesson graders are WebAssembly components (sandbox-server lesson build).
        if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
            say "present: wasm32-wasip2"
        else
            say "rustup target add wasm32-wasip2"
            rustup -q target add wasm32-wasip2
        fi
    fi
    if have cc; then
        say "present: cc"
    else
        apt_install build-essential pkg-config
    fi
}

setup_docker() {
    if (have dockerd || [ -x /usr/sbin/dockerd ]) && (have runc || [ -x /usr/sbin/runc ]); then
        say "present: dockerd"
    else
        apt_install docker.io iptables
    fi
    have docker || apt_install docker.io
    have jq || apt_install jq
    have ip || apt_install iproute2
}

setup_engine() {
    # The engine's data-root goes on an XFS image file (scripts/learner-engine.sh).
    have mkfs.xfs || [ -x /usr/sbin/mkfs.xfs ] || apt_install xfsprogs
    # Its settings (PLAYGROUND_ENGINE_*) survive sudo.
    local settings=() v
    for v in DATA_ROOT DISK_GB DISK_IMAGE BRIDGE_CIDR ADDRESS_POOL; do
        v=PLAYGROUND_ENGINE_$v
        [ -z "${!v:-}" ] || settings+=("$v=${!v}")
    done
    "${SUDO[@]}" env PLAYGROUND_ENGINE_SOCKET="$ENGINE_SOCKET" "${settings[@]}" \
        "$ROOT/scripts/learner-engine.sh" start || die "scripts/learner-engine.sh start failed"
    if [ ${#SUDO[@]} -gt 0 ] && ! docker info >/dev/null 2>&1; then
        # The server and the tests talk to the engine's socket (group docker) as this user.
        local me
        me=$(id -un)
        if ! id -nG "$me" | tr ' ' '\n' | grep -qx docker; then
            say "adding $me to group docker"
            "${SUDO[@]}" usermod -aG docker "$me"
        fi
        say "note: $me is in group docker, but this shell is not yet: log in again, or run via sg docker -c '...'"
    fi
}

setup_firewall() {
    have iptables || [ -x /usr/sbin/iptables ] || apt_install iptables
    "$ROOT/scripts/host-firewall.sh" install || die "scripts/host-firewall.sh install failed"
}

setup_tools() {
    apt_install debootstrap debian-archive-keyring busybox-static docker-registry sqlite3
}

setup_images() {
    # The offline builder (used when no registry is reachable) needs these.
    apt_install debootstrap debian-archive-keyring busybox-static
    if docker info >/dev/null 2>&1; then
        "$ROOT/images/build.sh"
    else
        "${SUDO[@]}" "$ROOT/images/build.sh"
    fi
}

setup_registry() {
    apt_install docker-registry busybox-static ca-certificates curl
    local run=()
    docker info >/dev/null 2>&1 || run=("${SUDO[@]}")
    "${run[@]}" "$ROOT/images/build.sh" registry
    say "mode: $("${run[@]}" "$ROOT/images/registry/start.sh")"
    "${run[@]}" "$ROOT/images/seed-registry.sh"
}

# The wasm-bindgen version recorded in Cargo.lock, or nothing.
locked_wasm_bindgen_version() {
    [ -f Cargo.lock ] || return 0
    awk '
        /^\[\[package\]\]/ { name = "" }
        /^name = / { name = $3; gsub(/"/, "", name) }
        /^version = / && name == "wasm-bindgen" { v = $3; gsub(/"/, "", v); print v; exit }
    ' Cargo.lock
}

setup_web() {
    setup_rust_quiet
    if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        say "present: wasm32-unknown-unknown"
    else
        say "rustup target add wasm32-unknown-unknown"
        rustup -q target add wasm32-unknown-unknown
    fi

    # Another shell may be installing trunk right now: wait for it instead of starting a second
    # 12-CPU-minute build.
    local waited=0
    while pgrep -f '^([^ ]*/)?cargo (\+[^ ]+ )?install( [^ ]+)* trunk( |$)' >/dev/null 2>&1; do
        [ "$waited" = 0 ] && say "waiting for a running 'cargo install trunk' to finish"
        waited=$((waited + 5))
        [ "$waited" -gt 3600 ] && die "'cargo install trunk' still running after an hour"
        sleep 5
    done
    if [ "$(trunk --version 2>/dev/null || true)" = "trunk $TRUNK_VERSION" ]; then
        say "present: trunk $TRUNK_VERSION"
    else
        say "cargo install trunk $TRUNK_VERSION (about 12 CPU-minutes)"
        cargo install -q trunk --locked --version "$TRUNK_VERSION"
    fi

    local wbg
    wbg=$(locked_wasm_bindgen_version)
    if [ -z "$wbg" ]; then
        say "skip wasm-bindgen-cli: Cargo.lock has no wasm-bindgen yet"
    elif [ "$(wasm-bindgen --version 2>/dev/null || true)" = "wasm-bindgen $wbg" ]; then
        say "present: wasm-bindgen $wbg"
    else
        # Not --locked: one of its locked dependencies is missing from some registry mirrors.
        say "cargo install wasm-bindgen-cli $wbg (about 3 minutes)"
        cargo install -q wasm-bindgen-cli --version "$wbg"
    fi

    if [ -f package-lock.json ]; then
        if ! have npm; then
            apt_install nodejs npm
        fi
        if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
            say "npm ci"
            npm ci --no-audit --no-fund --loglevel=error
            touch node_modules
        else
            say "present: node_modules"
        fi
    fi
}

# rust, for components that need cargo, printing nothing when all is there.
setup_rust_quiet() {
    if ! have cargo || ! have cc; then
        local step=$STEP
        STEP=rust
        setup_rust
        STEP=$step
    fi
}

setup_browser() {
    if [ -x /usr/bin/chromium ]; then
        say "present: chromium"
    else
        apt_install chromium chromium-driver
    fi
    if ! have chromedriver; then
        apt_install chromium-driver
    fi
}

# --- main -------------------------------------------------------------------------------

components=("$@")
[ ${#components[@]} -gt 0 ] || components=("${ALL_COMPONENTS[@]}")
for c in "${components[@]}"; do
    case $c in
        rust | docker | engine | firewall | tools | images | registry | web | browser) ;;
        -h | --help)
            sed -n '2,21s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *) die "unknown component '$c' (known: ${ALL_COMPONENTS[*]})" ;;
    esac
done
for c in "${components[@]}"; do
    STEP=$c
    "setup_$c"
done
