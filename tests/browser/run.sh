#!/usr/bin/env bash
# tests/browser/run.sh: browser end-to-end tests of the web app in real headless Chromium.
#
# Builds the web app (trunk build --release, when dist/ is missing or older than its sources)
# and the server, writes a config for a private server instance (its own loopback port, a
# second one for previews, temp data dir, Docker label), then runs tests/browser/e2e.mjs
# with playwright-core driving /usr/bin/chromium. Screenshots and measurements go to tests/artifacts/.
# Without Chromium or Docker it skips, except with CI=true, where it fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
if [ -d "$HOME/.cargo/bin" ] && [[ ":$PATH:" != *":$HOME/.cargo/bin:"* ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

# The learner engine, as the server uses it (scripts/learner-engine.sh).
export PLAYGROUND_ENGINE_SOCKET=${PLAYGROUND_ENGINE_SOCKET:-/run/playground-engine/docker.sock}
export DOCKER_HOST="unix://$PLAYGROUND_ENGINE_SOCKET"

say() { printf 'browser: %s\n' "$*"; }
missing() {
    if [ "${CI:-}" = true ]; then
        say "error: $* (CI=true: failing instead of skipping)" >&2
        exit 1
    fi
    say "skipped: $*"
    exit 0
}

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || missing "no Chromium at $CHROMIUM (scripts/setup.sh browser installs it)"
command -v node >/dev/null 2>&1 || missing "node is not installed (scripts/setup.sh web)"
docker info >/dev/null 2>&1 || missing "the learner engine does not answer (scripts/setup.sh docker engine)"
docker image inspect playground/base >/dev/null 2>&1 ||
    missing "the session image playground/base is missing (scripts/setup.sh images)"
command -v trunk >/dev/null 2>&1 || missing "trunk is not installed (scripts/setup.sh web)"

if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/@xterm/xterm ] ||
    [ package-lock.json -nt node_modules ]; then
    say "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    touch node_modules
fi

# --- web app ----------------------------------------------------------------------------
./scripts/build-web.sh

# --- server -----------------------------------------------------------------------------
say "cargo build -p sandbox-server"
cargo build -q -p sandbox-server
SERVER="$ROOT/target/debug/sandbox-server"
say "building the lessons' graders"
"$SERVER" lesson build "$ROOT/lessons" --target-dir "$ROOT/target/graders" 2>&1 | tail -1

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
PORT=$(free_port)
# Previews are served on an origin of their own: another port.
PREVIEW_PORT=$(free_port)
while [ "$PREVIEW_PORT" = "$PORT" ]; do PREVIEW_PORT=$(free_port); done
WORK=$(mktemp -d /tmp/playground-browser.XXXXXX)
INSTANCE="browser-test-$$"
ARTIFACTS="$ROOT/tests/artifacts"
mkdir -p "$ARTIFACTS" "$WORK/data"

cleanup() {
    # The server leaves sessions in Docker when it stops: remove what this instance made.
    "$SERVER" purge --instance "$INSTANCE" --log warn >/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/config.toml" <<TOML
listen = "127.0.0.1:$PORT"
preview_listen = "127.0.0.1:$PREVIEW_PORT"
instance = "$INSTANCE"
data_dir = "$WORK/data"
static_dir = "$ROOT/dist"
lessons_dirs = ["$ROOT/tests/browser/fixtures/lessons", "$ROOT/lessons"]
max_sessions_per_ip = 10
session_creations_per_minute = 100
TOML

say "server on http://127.0.0.1:$PORT, previews on http://127.0.0.1:$PREVIEW_PORT (instance $INSTANCE); chromium $("$CHROMIUM" --version 2>/dev/null | head -1)"
node tests/browser/e2e.mjs "$SERVER" "$WORK" "$ARTIFACTS"
