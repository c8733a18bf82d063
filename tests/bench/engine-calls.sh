#!/usr/bin/env bash
# tests/bench/engine-calls.sh [N]
#
# Which Engine calls of a session's creation and deletion run side by side, and which
# one at a time: each call N times in a row, then N at once, straight on the Engine's
# socket with curl (no server, no CLI start-up cost). Uses the learner engine
# ($PLAYGROUND_ENGINE_SOCKET, default /run/playground-engine/docker.sock), the
# playground/base image and the playground-registry container (scripts/setup.sh).
# Its networks are internal /27s in 10.230.0.0/16 (outside the session pool and the
# engine's own pools), labelled burst-probe=1, and removed at the end (or on Ctrl-C).
# Prints one line per call and mode: total and per call. Serialized calls take as long
# (or longer) at once as in a row; calls that run side by side take less.
set -uo pipefail

N=${1:-16}
SOCK=${PLAYGROUND_ENGINE_SOCKET:-/run/playground-engine/docker.sock}
case $N in '' | *[!0-9]*) echo "engine-calls.sh: N must be a number" >&2; exit 2 ;; esac
[ "$N" -ge 1 ] && [ "$N" -le 200 ] || { echo "engine-calls.sh: N must be 1 to 200" >&2; exit 2; }
curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null ||
    { echo "engine-calls.sh: no Engine answers on $SOCK (scripts/setup.sh engine)" >&2; exit 1; }

api() {
    curl -s --unix-socket "$SOCK" -o /dev/null -w '%{http_code}' -X "$1" \
        -H 'Content-Type: application/json' ${3:+-d "$3"} "http://d/v1.41$2"
}
ms() { date +%s%N | cut -c1-13; }

mknet() {
    api POST /networks/create "{\"Name\":\"burstprobe-$1\",\"Driver\":\"bridge\",\"Internal\":true,\
\"Labels\":{\"burst-probe\":\"1\"},\"IPAM\":{\"Config\":[{\"Subnet\":\"10.230.$1.0/27\",\"Gateway\":\"10.230.$1.1\"}]}}"
}
lsnet() { api GET /networks; }
connect() { api POST "/networks/burstprobe-$1/connect" '{"Container":"playground-registry"}'; }
mkctr() {
    api POST "/containers/create?name=burstprobe-c$1" "{\"Image\":\"playground/base:latest\",\
\"Labels\":{\"burst-probe\":\"1\"},\"HostConfig\":{\"NetworkMode\":\"burstprobe-$1\",\"Init\":true,\"CapDrop\":[\"ALL\"]}}"
}
start() { api POST "/containers/burstprobe-c$1/start"; }
rmctr() { api DELETE "/containers/burstprobe-c$1?force=true"; }
disconnect() { api POST "/networks/burstprobe-$1/disconnect" '{"Container":"playground-registry","Force":true}'; }
rmnet() { api DELETE "/networks/burstprobe-$1"; }

cleanup() {
    for i in $(seq 1 "$N"); do rmctr "$i" >/dev/null; disconnect "$i" >/dev/null; rmnet "$i" >/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

run() { # what, mode (row|once), function
    local t0 t1 i
    t0=$(ms)
    if [ "$2" = row ]; then
        for i in $(seq 1 "$N"); do "$3" "$i" >/dev/null; done
    else
        for i in $(seq 1 "$N"); do "$3" "$i" >/dev/null & done
        wait
    fi
    t1=$(ms)
    printf '| %s | %s | %d ms | %d ms |\n' "$1" "$2" $((t1 - t0)) $(((t1 - t0) / N))
}

echo "| call (N=$N) | mode | total | per call |"
echo "|---|---|---|---|"
for mode in row once; do
    run "network create" "$mode" mknet
    run "network list" "$mode" lsnet
    run "registry connect" "$mode" connect
    run "container create" "$mode" mkctr
    run "container start" "$mode" start
    run "container remove (force)" "$mode" rmctr
    run "registry disconnect" "$mode" disconnect
    run "network remove" "$mode" rmnet
done
