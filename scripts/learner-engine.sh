#!/usr/bin/env bash
# scripts/learner-engine.sh start|stop|status|env|disk
#
# The learner engine: a Docker Engine of the playground's own that runs every learner node,
# set up for isolation, next to (never instead of) the host's main Docker daemon:
#   - `userns-remap default`: root in a node is uid 100000+ on the host (user dockremap);
#   - its own socket, data-root, exec-root, pidfile, containerd namespace and bridge, so it
#     shares nothing with the main daemon but the kernel and the dockerd binary;
#   - its default OCI runtime is scripts/engine/runc-delegate (runc, plus cgroup delegation
#     to Docker-in-Docker nodes), installed as /usr/local/libexec/playground/runc-delegate,
#     with scripts/engine/libnetwork-setkey next to it (a cheap stand-in for Docker's
#     network prestart hook);
#   - the seccomp profile for Docker-in-Docker nodes (Docker 20.10's default plus
#     pivot_root), written to $ENGINE_ETC/seccomp-dind.json from
#     Debian's golang-github-docker-docker-dev package;
#   - its data-root on a file system of its own: an XFS image file of a fixed size, made once
#     (space reserved with fallocate) and loop-mounted with project quotas where the kernel
#     has them, so all the engine stores (images, nodes' writable layers, Docker-in-Docker
#     volumes, logs) cannot fill the host's disk, and, with quotas, Docker can size each
#     node's writable layer and volume. An existing data-root with data in it is kept as it
#     is (with a warning): nothing is moved or deleted. The runtime sizes Docker-in-Docker
#     volumes on the server's request (engine label io.playground.dind-volume-size=runtime).
# Idempotent: `start` rewrites the config, and restarts the engine only when it changed or
# does not answer. With systemd it installs and starts playground-engine.service; otherwise
# it starts dockerd in the background (log: /var/log/playground-engine.log). The data-root's
# image is mounted again by `start` and `prepare` (systemd's ExecStartPre) after a reboot.
#   env   prints `export DOCKER_HOST=...` for the docker CLI: eval "$(scripts/learner-engine.sh env)"
#   disk  only puts the data-root on its image (as start does), starting nothing
# Settings (environment): PLAYGROUND_ENGINE_SOCKET (/run/playground-engine/docker.sock),
# PLAYGROUND_ENGINE_DATA_ROOT (/var/lib/playground-engine),
# PLAYGROUND_ENGINE_DISK_GB (auto: half the free space where the image goes, at most 32, at
#   least 8, else the data-root stays on the host's file system; a number of GB; or off),
# PLAYGROUND_ENGINE_DISK_IMAGE ($PLAYGROUND_ENGINE_DATA_ROOT.img: the data-root's image file),
# PLAYGROUND_ENGINE_BRIDGE_CIDR (10.211.0.1/24: the engine's default bridge, playground0),
# PLAYGROUND_ENGINE_ADDRESS_POOL (10.212.0.0/16: networks the engine creates by itself),
# PLAYGROUND_SESSION_SUBNET_POOL (10.210.0.0/16: the server's session networks),
# PLAYGROUND_NETWORK_INTERNAL (true: session networks get no route out; as the server's key).
# The engine leaves iptables to this script (chains PLAYGROUND-FORWARD, PLAYGROUND-POSTROUTING;
# see ensure_rules), so it never touches the host's main daemon's rules.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

SOCKET=${PLAYGROUND_ENGINE_SOCKET:-/run/playground-engine/docker.sock}
DATA_ROOT=${PLAYGROUND_ENGINE_DATA_ROOT:-/var/lib/playground-engine}
DISK_GB=${PLAYGROUND_ENGINE_DISK_GB:-auto}
DISK_IMAGE=${PLAYGROUND_ENGINE_DISK_IMAGE:-$DATA_ROOT.img}
BRIDGE=playground0
BRIDGE_CIDR=${PLAYGROUND_ENGINE_BRIDGE_CIDR:-10.211.0.1/24}
# Networks the engine makes itself (the registry mirror's): never the main daemon's 172.x pools.
ADDRESS_POOL=${PLAYGROUND_ENGINE_ADDRESS_POOL:-10.212.0.0/16}
# Where the server's session networks come from (its session_subnet_pool).
SESSION_POOL=${PLAYGROUND_SESSION_SUBNET_POOL:-10.210.0.0/16}
RUN_DIR=/run/playground-engine
ENGINE_ETC=/etc/playground-engine
LIBEXEC=/usr/local/libexec/playground
LOG=/var/log/playground-engine.log
UNIT=/etc/systemd/system/playground-engine.service
SECCOMP_SOURCE=usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json

say() { printf 'learner-engine: %s\n' "$*"; }
warn() { printf 'learner-engine: warning: %s\n' "$*" >&2; }
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
  "labels": ["io.playground.dind-volume-size=runtime"],
  "iptables": false,
  "log-driver": "json-file",
  "log-opts": { "max-size": "1m", "max-file": "2" },
  "live-restore": false
}
EOF
}

# The seccomp profile of Docker-in-Docker nodes: Docker 20.10's default plus pivot_root, which
# a nested dockerd's runc needs ("pivot_root .: operation not permitted" without it); it stays
# inside the node's mount namespace. The kernel keyring calls (keyctl, add_key, request_key)
# stay refused, as in Docker's default: keys are counted per host user, every node's root is
# the same host user, so one node could use up that user's quota and stop every other
# learner's containers and shells from starting. The nested dockerd runs runc with
# --no-new-keyring instead (images/dind: playground-runc). A profile written by an earlier
# version (which allowed them) is rewritten.
SECCOMP_ENTRY_COMMENT="playground: a nested dockerd"
write_seccomp() {
    local out=$ENGINE_ETC/seccomp-dind.json tmp deb
    have jq || die "jq is missing (apt-get install jq)"
    if [ -s "$out" ]; then
        if jq -e --arg c "$SECCOMP_ENTRY_COMMENT" \
            'any(.syscalls[]; .comment == $c and any(.names[]; . == "keyctl" or . == "add_key" or . == "request_key"))' \
            "$out" >/dev/null; then
            jq --arg c "$SECCOMP_ENTRY_COMMENT" \
                '.syscalls |= map(if .comment == $c then .names -= ["keyctl", "add_key", "request_key"] else . end)' \
                "$out" | "${SUDO[@]}" tee "$out.new" >/dev/null
            "${SUDO[@]}" mv "$out.new" "$out"
            say "rewrote $out: the kernel keyring calls are refused again"
        fi
        return 0
    fi
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download golang-github-docker-docker-dev >/dev/null 2>&1) ||
        die "cannot download golang-github-docker-docker-dev (Docker's default seccomp profile): run apt-get update, or write $out yourself"
    deb=$(ls "$tmp"/*.deb)
    dpkg-deb -x "$deb" "$tmp/x"
    [ -f "$tmp/x/$SECCOMP_SOURCE" ] || die "$deb has no $SECCOMP_SOURCE"
    jq --arg c "$SECCOMP_ENTRY_COMMENT" '.syscalls += [{"names": ["pivot_root"], "action": "SCMP_ACT_ALLOW", "args": [], "comment": $c, "includes": {}, "excludes": {}}]' \
        "$tmp/x/$SECCOMP_SOURCE" | "${SUDO[@]}" tee "$out.new" >/dev/null
    "${SUDO[@]}" mv "$out.new" "$out"
    rm -rf "$tmp"
    say "wrote $out"
}

# The kernel's key quota of users other than root (kernel.keys.maxkeys, maxbytes): runc gives
# every container and every process it starts in one (a shell, a check) a session keyring, and
# every learner node's root is the same host user (userns-remap), so all nodes share one
# quota. Linux's default (200 keys, 20000 bytes) runs out at about 100 nodes with a shell each:
# "unable to join session keyring: disk quota exceeded". Raised, never lowered; kept in
# /etc/sysctl.d for the next boot. Nodes cannot make keys themselves (write_seccomp).
KEYS_MAXKEYS=${PLAYGROUND_KEYS_MAXKEYS:-20000}
KEYS_MAXBYTES=${PLAYGROUND_KEYS_MAXBYTES:-2000000}
ensure_key_quota() {
    local key want have keep persist="" conf=/etc/sysctl.d/60-playground-keys.conf
    for key in maxkeys maxbytes; do
        if [ $key = maxkeys ]; then want=$KEYS_MAXKEYS; else want=$KEYS_MAXBYTES; fi
        have=$(cat /proc/sys/kernel/keys/$key 2>/dev/null) || continue
        keep=$have
        if [ "$have" -lt "$want" ]; then
            keep=$want
            if echo "$want" | "${SUDO[@]}" tee /proc/sys/kernel/keys/$key >/dev/null 2>&1; then
                say "kernel.keys.$key: $have -> $want"
            else
                warn "cannot raise kernel.keys.$key from $have to $want: learner nodes and shells beyond the quota will not start"
            fi
        fi
        # What is in effect now or what it should be, whichever is higher: never lower
        # at the next boot what the host runs with.
        persist="${persist}kernel.keys.$key = $keep
"
    done
    persist="# scripts/learner-engine.sh: every learner node and every shell in one holds a kernel key.
$persist"
    if [ -d /etc/sysctl.d ] && [ "$(cat "$conf" 2>/dev/null)
" != "$persist" ]; then
        printf '%s' "$persist" | "${SUDO[@]}" tee "$conf" >/dev/null 2>&1 || :
    fi
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

# --- forwarding and NAT ------------------------------------------------------------------

# The engine runs with "iptables": false. Two dockerds that both manage iptables rewrite
# the same chains (DOCKER, DOCKER-ISOLATION-STAGE-*): whichever starts last removes the
# other's rules, so starting this engine would break the host's main daemon's published
# ports and network isolation, and the reverse. The engine's own rules live in chains of
# the playground's own instead, rebuilt here on every start and put first in FORWARD and
# POSTROUTING:
#   PLAYGROUND-FORWARD (filter): frames bridged inside one session network (the nodes of a
#     session and its registry mirror) pass; anything routed between session networks, out
#     of them or into them is dropped (Docker gives even internal networks a default route:
#     this is what keeps sessions apart and internal; PLAYGROUND_NETWORK_INTERNAL=false, as
#     the server's network_internal, lets session networks out instead); the engine's own
#     networks (its bridge, the registry mirror's network) may go out, with their replies.
#   PLAYGROUND-POSTROUTING (nat): masquerading for what goes out.
# Nothing here opens the host to nodes: that is PLAYGROUND-INPUT (scripts/host-firewall.sh).
# Published ports (only the registry seeder uses one) go through Docker's userland proxy.
ipt() { "${SUDO[@]}" iptables -w 5 "$@"; }
ensure_chain() { # TABLE CHAIN PARENT: an empty CHAIN, jumped to first from PARENT
    ipt -t "$1" -n -L "$2" >/dev/null 2>&1 || ipt -t "$1" -N "$2"
    ipt -t "$1" -F "$2"
    if [ "$(ipt -t "$1" -S "$3" 2>/dev/null | sed -n 2p)" != "-A $3 -j $2" ]; then
        while ipt -t "$1" -D "$3" -j "$2" 2>/dev/null; do :; done
        ipt -t "$1" -I "$3" 1 -j "$2"
    fi
}
ensure_rules() {
    have iptables || [ -x /usr/sbin/iptables ] || die "iptables is missing (scripts/setup.sh docker)"
    local net
    ensure_chain filter PLAYGROUND-FORWARD FORWARD
    ipt -A PLAYGROUND-FORWARD -s "$SESSION_POOL" -d "$SESSION_POOL" -m physdev --physdev-is-bridged -j ACCEPT
    ipt -A PLAYGROUND-FORWARD -s "$SESSION_POOL" -d "$SESSION_POOL" -j DROP
    if [ "${PLAYGROUND_NETWORK_INTERNAL:-true}" = false ]; then
        ipt -A PLAYGROUND-FORWARD -s "$SESSION_POOL" -j ACCEPT
        ipt -A PLAYGROUND-FORWARD -d "$SESSION_POOL" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    fi
    ipt -A PLAYGROUND-FORWARD -s "$SESSION_POOL" -j DROP
    ipt -A PLAYGROUND-FORWARD -d "$SESSION_POOL" -j DROP
    for net in "$BRIDGE_CIDR" "$ADDRESS_POOL"; do
        ipt -A PLAYGROUND-FORWARD -s "$net" -j ACCEPT
        ipt -A PLAYGROUND-FORWARD -d "$net" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    done
    ensure_chain nat PLAYGROUND-POSTROUTING POSTROUTING
    for net in "$BRIDGE_CIDR" "$ADDRESS_POOL" "$SESSION_POOL"; do
        ipt -t nat -A PLAYGROUND-POSTROUTING -s "$net" ! -d "$net" -j MASQUERADE
    done
    echo 1 | "${SUDO[@]}" tee /proc/sys/net/ipv4/ip_forward >/dev/null
}

# --- the data-root's file system ---------------------------------------------------------

# The file backing the loop device mounted on DIR, if any.
mounted_image() { # DIR
    local dev
    dev=$(findmnt -n -o SOURCE --mountpoint "$1" 2>/dev/null | tail -n 1)
    case $dev in /dev/loop*) "${SUDO[@]}" losetup -n -O BACK-FILE "$dev" 2>/dev/null ;; esac
}

# One line about the data-root's file system: type, size, free, project quotas.
disk_summary() {
    local fstype size avail options quota=off
    read -r fstype size avail options < <(findmnt -n -o FSTYPE,SIZE,AVAIL,OPTIONS -T "$DATA_ROOT" 2>/dev/null | tail -n 1)
    case ${options:-} in *prjquota* | *pquota*) quota=on ;; esac
    echo "${fstype:-?}, ${size:-?} (${avail:-?} free), project quotas $quota"
}

# Size in GB of a new image: PLAYGROUND_ENGINE_DISK_GB, or for auto half the free space of
# the file system that will hold it (at most 32). Prints nothing when there is too little.
disk_size_gb() {
    local free
    free=$(df -BG --output=avail "$(dirname "$DISK_IMAGE")" | tail -n 1 | tr -dc 0-9)
    case $DISK_GB in
        auto)
            local gb=$((free / 2))
            [ "$gb" -le 32 ] || gb=32
            if [ "$gb" -lt 8 ]; then
                warn "only ${free} GB free next to $DISK_IMAGE: not making an image for the data-root (set PLAYGROUND_ENGINE_DISK_GB)"
                return 0
            fi
            echo "$gb"
            ;;
        *[!0-9]* | '') die "PLAYGROUND_ENGINE_DISK_GB=$DISK_GB: a number of GB, auto or off" ;;
        *)
            [ "$DISK_GB" -ge 2 ] || die "PLAYGROUND_ENGINE_DISK_GB=$DISK_GB: at least 2"
            [ "$DISK_GB" -lt "$free" ] || die "PLAYGROUND_ENGINE_DISK_GB=$DISK_GB but only ${free} GB are free next to $DISK_IMAGE"
            echo "$DISK_GB"
            ;;
    esac
}

make_disk() { # GB
    have mkfs.xfs || die "mkfs.xfs is missing: apt-get install xfsprogs (scripts/setup.sh engine installs it)"
    say "making $DISK_IMAGE: XFS, $1 GB, reserved now (fallocate)"
    "${SUDO[@]}" mkdir -p "$(dirname "$DISK_IMAGE")"
    "${SUDO[@]}" rm -f "$DISK_IMAGE.new"
    # Reserved, not sparse: the host cannot run out of room under the engine's file system
    # (XFS on a loop device whose writes fail shuts down). Where fallocate is not supported
    # the file is sparse, with a warning.
    if ! "${SUDO[@]}" fallocate -l "${1}G" "$DISK_IMAGE.new" 2>/dev/null; then
        warn "fallocate is not supported there: $DISK_IMAGE is a sparse file, so its room is not reserved"
        "${SUDO[@]}" truncate -s "${1}G" "$DISK_IMAGE.new"
    fi
    "${SUDO[@]}" chmod 600 "$DISK_IMAGE.new"
    # -K: no discard, which would give the reserved blocks back.
    "${SUDO[@]}" mkfs.xfs -q -K -L pg-engine "$DISK_IMAGE.new" || die "mkfs.xfs $DISK_IMAGE.new failed"
    "${SUDO[@]}" mv "$DISK_IMAGE.new" "$DISK_IMAGE"
}

mount_disk() {
    "${SUDO[@]}" mkdir -p "$DATA_ROOT"
    # Project quotas let Docker size writable layers and volumes; kernels built without
    # CONFIG_XFS_QUOTA refuse the option, and the file system still bounds the whole engine.
    if "${SUDO[@]}" mount -o loop,pquota "$DISK_IMAGE" "$DATA_ROOT" 2>/dev/null; then
        :
    elif "${SUDO[@]}" mount -o loop "$DISK_IMAGE" "$DATA_ROOT"; then
        warn "$DISK_IMAGE is mounted without project quotas (this kernel's XFS has none: CONFIG_XFS_QUOTA): the engine as a whole is bounded, and Docker-in-Docker volumes by the engine's runtime, but not each node's writable layer (docs/security.md, \"Disk\")"
    else
        die "cannot mount $DISK_IMAGE on $DATA_ROOT"
    fi
    "${SUDO[@]}" chmod 711 "$DATA_ROOT"
}

# Puts the data-root on its image, making the image on first use; never over data.
ensure_disk() {
    case $DISK_GB in off | 0) return 0 ;; esac
    local image
    if mountpoint -q "$DATA_ROOT" 2>/dev/null; then
        image=$(mounted_image "$DATA_ROOT")
        if [ "$image" = "$DISK_IMAGE" ]; then
            say "data-root $DATA_ROOT: $DISK_IMAGE, $(disk_summary)"
        else
            say "data-root $DATA_ROOT is a mount of its own (${image:-$(findmnt -n -o SOURCE --mountpoint "$DATA_ROOT" | tail -n 1)}): kept, $(disk_summary)"
        fi
        return 0
    fi
    if [ -n "$("${SUDO[@]}" ls -A "$DATA_ROOT" 2>/dev/null)" ]; then
        if [ -e "$DISK_IMAGE" ]; then
            warn "$DISK_IMAGE exists but is not mounted, and $DATA_ROOT has data: not mounting over it; the engine runs on $(disk_summary). Stop the engine and move $DATA_ROOT away to use the image."
        else
            warn "$DATA_ROOT already holds an engine's data, on the host's file system ($(disk_summary)): kept there, so learner nodes can fill this disk. To give the engine a file system of its own: stop it (scripts/learner-engine.sh stop), move $DATA_ROOT away, start it again and rebuild the images (docs/security.md, \"Disk\"). PLAYGROUND_ENGINE_DISK_GB=off silences this."
        fi
        return 0
    fi
    if [ ! -e "$DISK_IMAGE" ]; then
        local gb
        gb=$(disk_size_gb)
        [ -n "$gb" ] || return 0
        make_disk "$gb"
    fi
    mount_disk
    say "data-root $DATA_ROOT: $DISK_IMAGE, $(disk_summary)"
}

# Volumes the runtime mounted (runc-delegate) and did not unmount, say when the engine died:
# Docker could not remove them. Only while the engine is down.
unmount_stale_volumes() {
    local target
    { findmnt -rn -o TARGET 2>/dev/null || :; } |
        { grep -E "^$DATA_ROOT/([^/]+/)?volumes/[^/]+/_data\$" || :; } |
        while read -r target; do
            case $(mounted_image "$target") in
                */playground-disk.img)
                    "${SUDO[@]}" umount "$target" 2>/dev/null || "${SUDO[@]}" umount -l "$target"
                    ;;
            esac
        done
    return 0
}

write_config() { # prints "changed" when the engine must be restarted to pick it up
    "${SUDO[@]}" mkdir -p "$ENGINE_ETC" "$LIBEXEC" "$RUN_DIR"
    local changed=
    if ! cmp -s "$ROOT/scripts/engine/runc-delegate" "$LIBEXEC/runc-delegate"; then
        "${SUDO[@]}" install -m 0755 "$ROOT/scripts/engine/runc-delegate" "$LIBEXEC/runc-delegate"
        changed=1
    fi
    # Read at every container start: no restart needed.
    if ! cmp -s "$ROOT/scripts/engine/libnetwork-setkey" "$LIBEXEC/libnetwork-setkey"; then
        "${SUDO[@]}" install -m 0755 "$ROOT/scripts/engine/libnetwork-setkey" "$LIBEXEC/libnetwork-setkey"
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
Environment=PLAYGROUND_ENGINE_SOCKET=$SOCKET PLAYGROUND_ENGINE_DATA_ROOT=$DATA_ROOT
Environment=PLAYGROUND_ENGINE_DISK_GB=$DISK_GB PLAYGROUND_ENGINE_DISK_IMAGE=$DISK_IMAGE
Environment=PLAYGROUND_ENGINE_BRIDGE_CIDR=$BRIDGE_CIDR
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
        ensure_key_quota
        ensure_bridge
        ensure_rules
        ensure_disk
        answers || unmount_stale_volumes
        ;;
    start)
        changed=$(write_config)
        write_seccomp
        ensure_key_quota
        ensure_bridge
        ensure_rules
        if answers && [ -z "$changed" ]; then
            ensure_disk
            say "answers on $SOCKET"
        else
            [ -z "$changed" ] || say "configuration changed: (re)starting"
            stop_engine
            ensure_disk
            unmount_stale_volumes
            start_engine
            say "answers on $SOCKET"
        fi
        if ! "${SUDO[@]}" docker -H "unix://$SOCKET" info -f '{{.SecurityOptions}}' | grep -q userns; then
            die "the engine on $SOCKET runs without userns-remap"
        fi
        ;;
    disk) ensure_disk ;;
    stop) stop_engine ;;
    status)
        if answers; then
            say "answers on $SOCKET ($("${SUDO[@]}" docker -H "unix://$SOCKET" info -f '{{.SecurityOptions}}'))"
            image=$(mounted_image "$DATA_ROOT")
            say "data-root $DATA_ROOT${image:+ on $image}: $(disk_summary)"
        else
            say "not running"
            exit 1
        fi
        ;;
    env) echo "export DOCKER_HOST=unix://$SOCKET" ;;
    -h | --help) sed -n '2,42s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" ;;
    *) die "usage: $0 start|stop|status|env|disk" ;;
esac
