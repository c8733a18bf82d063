#!/usr/bin/env bash
# scripts/learner-engine.sh start|stop|status|env
#
# The learner engine: a Docker Engine of the playground's own that runs every learner node,
# set up for isolation, next to (never instead of) the host's main Docker daemon:
#   - `userns-remap default`: root in a node is uid 100000+ on the host (user dockremap);
#   - its own socket, data-root, exec-root, pidfile, containerd namespace and bridge, so it
#     shares nothing with the main daemon but the kernel and the dockerd binary;
#   - its default OCI runtime is scripts/engine/runc-delegate (runc, plus cgroup delegation
#     to Docker-in-Docker nodes), installed as /usr/local/libexec/playground/runc-delegate;
#   - the seccomp profile for Docker-in-Docker nodes (Docker 20.10's default plus keyctl,
#     add_key, request_key and pivot_root), written to $ENGINE_ETC/seccomp-dind.json from
#     Debian's golang-github-docker-docker-dev package.
# Idempotent: `start` rewrites the config, and restarts the engine only when it changed or
# does not answer. With systemd it installs and starts playground-engine.service; otherwise
# it starts dockerd in the background (log: /var/log/playground-engine.log).
#   env   prints `export DOCKER_HOST=...` for the docker CLI: eval "$(scripts/learner-engine.sh env)"
# Settings (environment): PLAYGROUND_ENGINE_SOCKET (/run/playground-engine/docker.sock),
# PLAYGROUND_ENGINE_DATA_ROOT (/var/lib/playground-engine),
# PLAYGROUND_ENGINE_BRIDGE_CIDR (10.211.0.1/24: the engine's default bridge, playground0),
# PLAYGROUND_ENGINE_ADDRESS_POOL (10.212.0.0/16: networks the engine creates by itself).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

SOCKET=${PLAYGROUND_ENGINE_SOCKET:-/run/playground-engine/docker.sock}
DATA_ROOT=${PLAYGROUND_ENGINE_DATA_ROOT:-/var/lib/playground-engine}
BRIDGE=playground0
BRIDGE_CIDR=${PLAYGROUND_ENGINE_BRIDGE_CIDR:-10.211.0.1/24}
# Networks the engine makes itself (the registry mirror's): never the main daemon's 172.x pools.
ADDRESS_POOL=${PLAYGROUND_ENGINE_ADDRESS_POOL:-10.212.0.0/16}
RUN_DIR=/run/playground-engine
ENGINE_ETC=/etc/playground-engine
LIBEXEC=/usr/local/libexec/playground
LOG=/var/log/playground-engine.log
UNIT=/etc/systemd/system/playground-engine.service
SECCOMP_SOURCE=usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json

say() { printf 'learner-engine: %s\n' "$*"; }
die() {
    printf 'learner-engine: error: %s\n' "$*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
SUDO=()
[ "$(id -u)" = 0 ] || SUDO=(sudo)

answers() { "${SUDO[@]}" docker -H "unix://$SOCKET" version >/dev/null 2>&1; }
has_systemd() { [ -d /run/systemd/system ] && have systemctl; }

daemon_json() {
    cat <<EOF
{
  "hosts": ["unix://$SOCKET"],
  "data-root": "$DATA_ROOT",
  "exec-root": "$RUN_DIR/exec",
  "pidfile": "$RUN_DIR/dockerd.pid",
  "containerd-namespace": "playground",
  "containerd-plugins-namespace": "playground-plugins",
  "bridge": "$BRIDGE",
  "default-address-pools": [{ "base": "$ADDRESS_POOL", "size": 24 }],
  "cgroup-parent": "/playground",
  "userns-remap": "default",
  "storage-driver": "overlay2",
  "default-runtime": "playground-runc",
  "runtimes": { "playground-runc": { "path": "$LIBEXEC/runc-delegate" } },
  "log-driver": "json-file",
  "log-opts": { "max-size": "1m", "max-file": "2" },
  "userland-proxy": false,
  "live-restore": false
}
EOF
}

# The seccomp profile of Docker-in-Docker nodes: Docker 20.10's default plus the four system
# calls a nested dockerd needs ("unable to join session keyring", "pivot_root .: operation
# not permitted" without them). They stay inside the node's user namespace.
write_seccomp() {
    local out=$ENGINE_ETC/seccomp-dind.json tmp deb
    [ -s "$out" ] && return 0
    have jq || die "jq is missing (apt-get install jq)"
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download golang-github-docker-docker-dev >/dev/null 2>&1) ||
        die "cannot download golang-github-docker-docker-dev (Docker's default seccomp profile): run apt-get update, or write $out yourself"
    deb=$(ls "$tmp"/*.deb)
    dpkg-deb -x "$deb" "$tmp/x"
    [ -f "$tmp/x/$SECCOMP_SOURCE" ] || die "$deb has no $SECCOMP_SOURCE"
    jq '.syscalls += [{"names": ["keyctl", "add_key", "request_key", "pivot_root"], "action": "SCMP_ACT_ALLOW", "args": [], "comment": "playground: a nested dockerd", "includes": {}, "excludes": {}}]' \
        "$tmp/x/$SECCOMP_SOURCE" | "${SUDO[@]}" tee "$out.new" >/dev/null
    "${SUDO[@]}" mv "$out.new" "$out"
    rm -rf "$tmp"
    say "wrote $out"
}

# The engine's default bridge, which dockerd attaches to but does not create under this name.
ensure_bridge() {
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        "${SUDO[@]}" ip link add "$BRIDGE" type bridge
        say "created bridge $BRIDGE"
    fi
    if ! ip -4 addr show dev "$BRIDGE" | grep -q "inet $BRIDGE_CIDR"; then
        "${SUDO[@]}" ip addr flush dev "$BRIDGE"
        "${SUDO[@]}" ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
    fi
    "${SUDO[@]}" ip link set "$BRIDGE" up
}

write_config() { # prints "changed" when the engine must be restarted to pick it up
    "${SUDO[@]}" mkdir -p "$ENGINE_ETC" "$LIBEXEC" "$RUN_DIR"
    local changed=
    if ! cmp -s "$ROOT/scripts/engine/runc-delegate" "$LIBEXEC/runc-delegate"; then
        "${SUDO[@]}" install -m 0755 "$ROOT/scripts/engine/runc-delegate" "$LIBEXEC/runc-delegate"
        changed=1
    fi
    if ! daemon_json | cmp -s - "$ENGINE_ETC/daemon.json"; then
        daemon_json | "${SUDO[@]}" tee "$ENGINE_ETC/daemon.json" >/dev/null
        changed=1
    fi
    if has_systemd; then
        local unit
        unit="[Unit]
Description=Playground learner engine (isolated Docker Engine for learner nodes)
After=network-online.target

[Service]
ExecStartPre=$ROOT/scripts/learner-engine.sh prepare
ExecStart=/usr/sbin/dockerd --config-file $ENGINE_ETC/daemon.json
Restart=on-failure
Delegate=yes
KillMode=process
LimitNOFILE=1048576

[Install]
WantedBy=multi-user.target
"
        if ! printf '%s' "$unit" | cmp -s - "$UNIT"; then
            printf '%s' "$unit" | "${SUDO[@]}" tee "$UNIT" >/dev/null
            "${SUDO[@]}" systemctl daemon-reload
            changed=1
        fi
    fi
    [ -z "$changed" ] || echo changed
}

engine_pid() {
    local pid
    pid=$(cat "$RUN_DIR/dockerd.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
    return 0
}

stop_engine() {
    if has_systemd && systemctl is-active -q playground-engine 2>/dev/null; then
        "${SUDO[@]}" systemctl stop playground-engine
        return 0
    fi
    local pid i
    pid=$(engine_pid)
    [ -n "$pid" ] || return 0
    say "stopping dockerd (pid $pid)"
    "${SUDO[@]}" kill "$pid"
    for i in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    die "dockerd (pid $pid) did not stop within 30 s"
}

start_engine() {
    have dockerd || [ -x /usr/sbin/dockerd ] || die "dockerd is missing (scripts/setup.sh docker)"
    if has_systemd; then
        "${SUDO[@]}" systemctl enable -q playground-engine
        "${SUDO[@]}" systemctl start playground-engine
    else
        local pid
        pid=$(cat "$RUN_DIR/dockerd.pid" 2>/dev/null || true)
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            "${SUDO[@]}" rm -f "$RUN_DIR/dockerd.pid"
        fi
        say "starting dockerd (log: $LOG)"
        "${SUDO[@]}" setsid sh -c "exec dockerd --config-file $ENGINE_ETC/daemon.json >>$LOG 2>&1" </dev/null >/dev/null 2>&1 &
    fi
    local i
    for i in $(seq 1 120); do
        answers && return 0
        sleep 0.5
    done
    tail -n 20 "$LOG" >&2 || true
    die "the learner engine did not answer on $SOCKET within 60 s (see $LOG)"
}

case ${1:-} in
    prepare)
        # What must exist before dockerd starts (also systemd's ExecStartPre).
        "${SUDO[@]}" mkdir -p "$RUN_DIR"
        ensure_bridge
        ;;
    start)
        changed=$(write_config)
        write_seccomp
        ensure_bridge
        if answers && [ -z "$changed" ]; then
            say "answers on $SOCKET"
        else
            [ -z "$changed" ] || say "configuration changed: (re)starting"
            stop_engine
            start_engine
            say "answers on $SOCKET"
        fi
        if ! "${SUDO[@]}" docker -H "unix://$SOCKET" info -f '{{.SecurityOptions}}' | grep -q userns; then
            die "the engine on $SOCKET runs without userns-remap"
        fi
        ;;
    stop) stop_engine ;;
    status)
        if answers; then
            say "answers on $SOCKET ($("${SUDO[@]}" docker -H "unix://$SOCKET" info -f '{{.SecurityOptions}}'))"
        else
            say "not running"
            exit 1
        fi
        ;;
    env) echo "export DOCKER_HOST=unix://$SOCKET" ;;
    -h | --help) sed -n '2,23s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" ;;
    *) die "usage: $0 start|stop|status|env" ;;
esac
