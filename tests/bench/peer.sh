#!/usr/bin/env bash
# tests/bench/peer.sh [--throughput-mb N] [--echoes N] [--json]
#
# Side-by-side reference for `terminal-bench`: the same work through WeTTY 3.2.0 (a web
# terminal from npm: node-pty, socket.io, flow control) running `docker exec -it` into a
# playground/base container on this machine, and `docker exec -t cat` alone (the ceiling
# of the container PTY path). WeTTY is installed into a cache directory outside the
# repository ($PEER_DIR, default ~/.cache/playground-peer); nothing of it is committed.
# Traffic stays on loopback. Prints a table, or with --json one JSON object (what
# `terminal-bench --peer` reads).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PEER_DIR=${PEER_DIR:-$HOME/.cache/playground-peer}
MB=100
ECHOES=200
JSON=
while [ $# -gt 0 ]; do
    case $1 in
        --throughput-mb) MB=$2; shift ;;
        --echoes) ECHOES=$2; shift ;;
        --json) JSON=1 ;;
        -h | --help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "peer.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

say() { printf 'peer: %s\n' "$*" >&2; }
docker info >/dev/null 2>&1 || { say "Docker does not answer (scripts/setup.sh docker)"; exit 1; }

if [ ! -x "$PEER_DIR/node_modules/.bin/wetty" ] || [ ! -d "$PEER_DIR/node_modules/socket.io-client" ]; then
    say "installing wetty 3.2.0 and socket.io-client into $PEER_DIR"
    mkdir -p "$PEER_DIR"
    (cd "$PEER_DIR" && { [ -f package.json ] || npm init -y >/dev/null; } &&
        npm install --no-audit --no-fund --loglevel=error wetty@3.2.0 socket.io-client@4 >/dev/null)
fi

C=pg-peer-bench-$$
PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
WETTY_PID=
cleanup() {
    [ -n "$WETTY_PID" ] && kill "$WETTY_PID" 2>/dev/null
    docker rm -f "$C" >/dev/null 2>&1 || true
}
trap cleanup EXIT

docker run -d --name "$C" --init playground/base:latest >/dev/null
raw=$((MB * 1000000 * 3 / 4))
docker exec "$C" sh -c "head -c $raw /dev/urandom | base64 -w 100 > /tmp/big && sync"
size=$(docker exec "$C" stat -c %s /tmp/big)

"$PEER_DIR/node_modules/.bin/wetty" --host 127.0.0.1 --port "$PORT" \
    --command "docker exec -it $C bash" --log-level error >/dev/null 2>&1 &
WETTY_PID=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && break
    sleep 0.1
done

# Run from $PEER_DIR so that `import 'socket.io-client'` resolves there.
cp "$ROOT/tests/bench/peer-wetty.mjs" "$PEER_DIR/peer-wetty.mjs"
json=$(node "$PEER_DIR/peer-wetty.mjs" "$PORT" "$C" "$ECHOES" "$size")

t0=$(date +%s.%N)
docker exec -t "$C" cat /tmp/big >/dev/null
t1=$(date +%s.%N)

ceiling_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
ceiling=$(awk -v s="$size" -v t="$ceiling_s" 'BEGIN { printf "%.1f", s / t / 1e6 }')
if [ -n "$JSON" ]; then
    printf '%s' "$json" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{
        const j=JSON.parse(s); j.ceiling_mb_per_s=$ceiling; j.ceiling_seconds=$ceiling_s;
        j.file_mb=Math.floor($size/1e6); console.log(JSON.stringify(j))})"
    exit 0
fi
field() { printf '%s' "$json" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s)['$1']))"; }
echo
echo "| measure (WeTTY 3.2.0 + docker exec -it) | result |"
echo "|---|---|"
echo "| keystroke echo round trip | p50 $(field echo_p50_ms) ms, p99 $(field echo_p99_ms) ms (n=$(field echoes)) |"
echo "| cat of $((size / 1000000)) MB to an acking client | $(field mb_per_s) MB/s ($(field seconds) s) |"
echo "| same file, \`docker exec -t cat\` alone (PTY ceiling) | $ceiling MB/s ($ceiling_s s) |"
