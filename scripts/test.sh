#!/usr/bin/env bash
# scripts/test.sh: every check and test of the project (what CI runs, via .ci/run).
#
# Stages: setup (scripts/setup.sh, all components), fmt, clippy, build, test (unit, and the
# end-to-end tests in tests/, which need Docker and the session images; with CI=true they
# fail rather than skip when Docker is missing), and browser (tests/browser/run.sh, when it
# exists). Stops at the first failing stage with a non-zero exit.
# SKIP_SETUP=1 skips the setup stage (for quick reruns).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# The learner engine (scripts/learner-engine.sh): the server, the tests and their docker
# commands all use it, never the host's main Docker daemon.
export PLAYGROUND_ENGINE_SOCKET=${PLAYGROUND_ENGINE_SOCKET:-/run/playground-engine/docker.sock}
export DOCKER_HOST="unix://$PLAYGROUND_ENGINE_SOCKET"
if [ -d "$HOME/.cargo/bin" ] && [[ ":$PATH:" != *":$HOME/.cargo/bin:"* ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

STAGE=
STAGE_START=$SECONDS
TOTAL_START=$SECONDS
stage() {
    if [ -n "$STAGE" ]; then
        printf '==== %s: ok (%d s)\n' "$STAGE" $((SECONDS - STAGE_START))
    fi
    STAGE=$1
    STAGE_START=$SECONDS
    printf '\n==== %s: %s\n' "$STAGE" "$2"
}
on_exit() {
    local rc=$?
    if [ "$rc" != 0 ] && [ -n "$STAGE" ]; then
        printf '\n==== %s: FAILED (exit %d, after %d s)\n' "$STAGE" "$rc" $((SECONDS - STAGE_START)) >&2
    fi
}
trap on_exit EXIT

if [ -z "${SKIP_SETUP:-}" ] && [ -z "${PLAYGROUND_SETUP_DONE:-}" ]; then
    stage setup "scripts/setup.sh"
    ./scripts/setup.sh
fi

# A sudo user just added to group docker: continue in a shell that has the group.
if [ "$(id -u)" != 0 ] && ! docker info >/dev/null 2>&1 &&
    getent group docker | cut -d: -f4 | tr ',' '\n' | grep -qx "$(id -un)"; then
    echo "test: continuing with group docker (sg docker)"
    STAGE=
    exec env PLAYGROUND_SETUP_DONE=1 sg docker -c "$(printf '%q ' "$0" "$@")"
fi

stage fmt "cargo fmt --all --check"
cargo fmt --all --check

stage clippy "cargo clippy --workspace --all-targets -- -D warnings (and the web app for wasm32)"
cargo clippy --workspace --all-targets -- -D warnings
# The web app's components (playground-web/src/app/) build for wasm32 only.
cargo clippy -p playground-web --target wasm32-unknown-unknown -- -D warnings

stage build "cargo build --workspace, then the lessons' graders (sandbox-server lesson build)"
cargo build --workspace
./target/debug/sandbox-server lesson build lessons tests/fixtures/graders --target-dir target/graders

stage test "cargo test --workspace"
cargo test --workspace

if [ -f tests/browser/run.sh ]; then
    stage browser "tests/browser/run.sh"
    bash tests/browser/run.sh
fi

printf '==== %s: ok (%d s)\n' "$STAGE" $((SECONDS - STAGE_START))
STAGE=
printf '\n==== all stages passed in %d s\n' $((SECONDS - TOTAL_START))
