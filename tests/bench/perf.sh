#!/usr/bin/env bash
# tests/bench/perf.sh [--quick]
#
# Every number docs/performance.md reports, in one run on this machine: terminal latency
# and throughput beside WeTTY and the `docker exec` ceiling (also with 20 other sessions
# streaming), bursts of 100 shell and 30 and 50 Docker-in-Docker sessions, 30 from a warm
# pool, and where a Docker-in-Docker node's memory goes. Needs what `scripts/setup.sh`
# sets up (the learner engine, images, the registry mirror) and node/npm for WeTTY.
# About 10 minutes on 2 cores. --quick: smaller bursts and fewer samples (a smoke run).
# Traffic stays on loopback. Prints markdown tables.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
QUICK=
case ${1:-} in
    --quick) QUICK=1 ;;
    -h | --help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
    "") ;;
    *) echo "perf.sh: unknown argument $1" >&2; exit 2 ;;
esac

export DOCKER_HOST=${DOCKER_HOST:-unix:///run/playground-engine/docker.sock}
say() { printf '\nperf: %s\n' "$*" >&2; }

say "building release binaries"
cargo build --release -q -p sandbox-server -p playground-e2e --bins
bin=$ROOT/target/release

say "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
if [ -n "$QUICK" ]; then
    "$bin/terminal-bench" --peer --sessions 5 --echoes 100 --throughput-mb 20 --idle-sessions 5 --streamers 5
    "$bin/session-bench" --burst --base 10 --dind 5 --pool 5
else
    say "terminal: echo, echo under load, throughput, beside WeTTY and docker exec"
    "$bin/terminal-bench" --peer --echoes 1000 --streamers 20
    say "bursts: 100 shell, 30 and 50 Docker-in-Docker, 30 from a warm pool"
    "$bin/session-bench" --burst --base 100 --dind 30,50 --pool 30
fi
say "memory of a Docker-in-Docker node"
"$bin/session-bench" --memory
