#!/usr/bin/env bash
# scripts/host-firewall.sh install|remove|status [POOL]
#
# The host firewall of learner nodes: session networks (POOL, by default the server's
# session_subnet_pool: $PLAYGROUND_SESSION_SUBNET_POOL or 10.210.0.0/16) must not reach any
# address of the host (the server's port, Docker's API, anything listening). An iptables chain
# of our own, PLAYGROUND-INPUT, jumped to first from INPUT:
#   -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT   replies to host->node connections
#                                                          (the preview proxy) still pass
#   -s POOL -j DROP                                        everything else from the nodes
# Traffic between containers on a bridge (a session's nodes, the registry mirror) is
# forwarded, not INPUT, and stays allowed; Docker's embedded DNS lives in each container's
# namespace. Idempotent: each rule is checked (iptables -C) before it is added.
# `scripts/setup.sh firewall` runs `install`; sandbox-server refuses to start without the rule
# unless require_host_firewall = false. Needs root (or sudo).
set -euo pipefail

CHAIN=PLAYGROUND-INPUT
say() { printf 'host-firewall: %s\n' "$*"; }
die() {
    printf 'host-firewall: error: %s\n' "$*" >&2
    exit 1
}

SUDO=()
[ "$(id -u)" = 0 ] || SUDO=(sudo)
ipt() { "${SUDO[@]}" iptables -w "$@"; }

action=${1:-}
pool=${2:-${PLAYGROUND_SESSION_SUBNET_POOL:-10.210.0.0/16}}
[ -n "$pool" ] || die "no pool: session_subnet_pool is empty (Docker's default pools); set it"
[[ $pool =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/[0-9]+$ ]] || die "pool '$pool' is not an IPv4 CIDR"
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || die "iptables is missing (apt-get install iptables)"
export PATH="$PATH:/usr/sbin:/sbin"

# ensure RULE...: appends the rule to CHAIN unless it is there.
ensure() {
    if ipt -C "$CHAIN" "$@" 2>/dev/null; then
        say "present: -A $CHAIN $*"
    else
        ipt -A "$CHAIN" "$@"
        say "added: -A $CHAIN $*"
    fi
}

case $action in
    install)
        if ipt -S "$CHAIN" >/dev/null 2>&1; then
            say "present: chain $CHAIN"
        else
            ipt -N "$CHAIN"
            say "created: chain $CHAIN"
        fi
        ensure -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        ensure -s "$pool" -j DROP
        if ipt -C INPUT -j "$CHAIN" 2>/dev/null; then
            say "present: -A INPUT -j $CHAIN"
        else
            ipt -I INPUT 1 -j "$CHAIN"
            say "added: -I INPUT 1 -j $CHAIN"
        fi
        ;;
    remove)
        while ipt -C INPUT -j "$CHAIN" 2>/dev/null; do
            ipt -D INPUT -j "$CHAIN"
        done
        if ipt -S "$CHAIN" >/dev/null 2>&1; then
            ipt -F "$CHAIN"
            ipt -X "$CHAIN"
        fi
        say "removed chain $CHAIN"
        ;;
    status)
        ipt -S INPUT | grep -- "-j $CHAIN" || say "INPUT does not jump to $CHAIN"
        ipt -S "$CHAIN" 2>/dev/null || say "no chain $CHAIN"
        ;;
    *)
        sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
        exit 2
        ;;
esac
