#!/usr/bin/env bash
# scripts/run.sh [sandbox-server serve args...]
#
# Sets up the machine (scripts/setup.sh docker engine firewall images registry web), builds the web app
# (dist/) and the server (release), then serves the playground on http://127.0.0.1:${PORT:-8080}
# and learners' previews on http://127.0.0.1:${PREVIEW_PORT:-8081}, an origin of their own
# (this machine only; README.md, "Publishing", says how to serve others).
# Extra arguments go to `sandbox-server serve`; see `sandbox-server serve --help`.
# State (sessions database, ...) lives in .state/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

say() { printf 'run: %s\n' "$*"; }
# The learner engine (scripts/learner-engine.sh): the server, the tests and their docker
# commands all use it, never the host's main Docker daemon.
export PLAYGROUND_ENGINE_SOCKET=${PLAYGROUND_ENGINE_SOCKET:-/run/playground-engine/docker.sock}
export DOCKER_HOST="unix://$PLAYGROUND_ENGINE_SOCKET"
if [ -d "$HOME/.cargo/bin" ] && [[ ":$PATH:" != *":$HOME/.cargo/bin:"* ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

if [ -z "${PLAYGROUND_SETUP_DONE:-}" ]; then
    ./scripts/setup.sh docker engine firewall images registry web
fi
unset PLAYGROUND_SETUP_DONE

# A sudo user just added to group docker: continue in a shell that has the group.
if [ "$(id -u)" != 0 ] && ! docker info >/dev/null 2>&1 &&
    getent group docker | cut -d: -f4 | tr ',' '\n' | grep -qx "$(id -un)"; then
    say "continuing with group docker (sg docker)"
    exec env PLAYGROUND_SETUP_DONE=1 sg docker -c "$(printf '%q ' "$0" "$@")"
fi

# --- web app ----------------------------------------------------------------------------

./scripts/build-web.sh

# --- server -----------------------------------------------------------------------------

say "cargo build --release -p sandbox-server"
cargo build --release -p sandbox-server
say "building the lessons' graders (sandbox-server lesson build lessons)"
target/release/sandbox-server lesson build lessons --target-dir target/graders

# Loopback unless the arguments say otherwise (`--listen 0.0.0.0:8080` publishes it). Previews
# are served by a second listener, an origin of their own: port ${PREVIEW_PORT:-8081} of the
# app's address unless `--preview-listen` says otherwise.
listen= preview_listen= prev=
for a in "$@"; do
    case $prev in
        --listen) listen=$a ;;
        --preview-listen) preview_listen=$a ;;
    esac
    case $a in
        --listen=*) listen=${a#--listen=} ;;
        --preview-listen=*) preview_listen=${a#--preview-listen=} ;;
    esac
    prev=$a
done
args=(serve --data-dir .state --static-dir dist)
if [ -z "$listen" ]; then
    listen="127.0.0.1:${PORT:-8080}"
    args+=(--listen "$listen")
fi
if [ -z "$preview_listen" ] && [ -n "${PLAYGROUND_PREVIEW_LISTEN:-}" ]; then
    preview_listen=$PLAYGROUND_PREVIEW_LISTEN
elif [ -z "$preview_listen" ]; then
    preview_listen="${listen%:*}:${PREVIEW_PORT:-8081}"
    args+=(--preview-listen "$preview_listen")
fi
mkdir -p .state
say "serving on http://$listen"
say "previews on http://$preview_listen (their own origin; links use the host name the browser used for the app)"
exec target/release/sandbox-server "${args[@]}" "$@"
