#!/usr/bin/env bash
# Two "machines" on one host for MPI tests: two network namespaces joined by a veth pair,
# each with its own hostname (its own UTS namespace) and address, MPI over TCP between them.
#
#   scripts/netns_two_hosts.sh up                 create the namespaces, the link, /etc/netns/*/hosts
#   scripts/netns_two_hosts.sh exec a|b CMD...    run CMD on host a or b
#   scripts/netns_two_hosts.sh mpirun N CMD...    mpiexec -n N over both hosts (started on host a)
#   scripts/netns_two_hosts.sh down               remove everything "up" created
#   scripts/netns_two_hosts.sh run N CMD...       up, mpirun, and down even when CMD fails
#
# Host a is namespace ${PREFIX}a (hostname ${PREFIX}host-a, 10.231.7.1/24), host b is
# ${PREFIX}b (${PREFIX}host-b, 10.231.7.2/24); the namespaces have no route anywhere else.
# Ranks are placed round-robin: rank 0 on host a, rank 1 on host b, rank 2 on host a...
# MPICH's mpiexec (hydra) starts its proxy on each host through a "remote shell"; this script
# is that remote shell too (the hidden "ssh" command): "ssh -x HOST CMD" becomes "exec HOST CMD".
# Needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN), iproute2 (ip) and util-linux (unshare).
# Environment: TC_NETNS_PREFIX (default "tc"), MPIEXEC (default: mpiexec on PATH).
set -euo pipefail

PREFIX="${TC_NETNS_PREFIX:-tc}"
NS_A="${PREFIX}a"
NS_B="${PREFIX}b"
HOST_A="${PREFIX}host-a"
HOST_B="${PREFIX}host-b"
IP_A=10.231.7.1
IP_B=10.231.7.2
VETH_A="${PREFIX}veth-a"   # the two ends while they are created in the root namespace,
VETH_B="${PREFIX}veth-b"   # then both renamed to $IFACE, so one FI_TCP_IFACE fits both hosts
IFACE="${PREFIX}eth0"
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

die() { echo "netns_two_hosts: $*" >&2; exit 2; }

up() {
    [ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
    command -v ip >/dev/null || die "needs ip (iproute2)"
    command -v unshare >/dev/null || die "needs unshare (util-linux)"
    down 2>/dev/null || true
    ip netns add "$NS_A"
    ip netns add "$NS_B"
    ip link add "$VETH_A" type veth peer name "$VETH_B"
    ip link set "$VETH_A" netns "$NS_A"
    ip link set "$VETH_B" netns "$NS_B"
    ip -n "$NS_A" link set "$VETH_A" name "$IFACE"
    ip -n "$NS_B" link set "$VETH_B" name "$IFACE"
    ip -n "$NS_A" addr add "$IP_A/24" dev "$IFACE"
    ip -n "$NS_B" addr add "$IP_B/24" dev "$IFACE"
    for ns in "$NS_A" "$NS_B"; do
        ip -n "$ns" link set lo up
        mkdir -p "/etc/netns/$ns"
        # "ip netns exec" bind-mounts /etc/netns/NS/hosts over /etc/hosts: name resolution
        # for the two hosts, with no DNS.
        printf '127.0.0.1 localhost\n%s %s\n%s %s\n' \
            "$IP_A" "$HOST_A" "$IP_B" "$HOST_B" > "/etc/netns/$ns/hosts"
    done
    ip -n "$NS_A" link set "$IFACE" up
    ip -n "$NS_B" link set "$IFACE" up
}

down() {
    local ns
    for ns in "$NS_A" "$NS_B"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true   # deleting a namespace deletes its veth end
        rm -rf "/etc/netns/$ns"
    done
    ip link del "$VETH_A" 2>/dev/null || true
    rmdir /etc/netns 2>/dev/null || true
}

# exec a|b CMD...: CMD in the host's network namespace and in a new UTS namespace with its name.
on_host() {
    local which="$1"; shift
    local ns name
    case "$which" in
        a|"$HOST_A") ns="$NS_A"; name="$HOST_A" ;;
        b|"$HOST_B") ns="$NS_B"; name="$HOST_B" ;;
        *) die "unknown host $which (a, b, $HOST_A or $HOST_B)" ;;
    esac
    exec ip netns exec "$ns" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$name" "$@"
}

# What hydra runs to reach a host: ssh [-x] HOST 'COMMAND LINE' (one string for a shell).
fake_ssh() {
    while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done   # -x and other options
    local host="$1"; shift
    on_host "$host" sh -c "$*"
}

mpi_run() {
    local n="$1"; shift
    local mpiexec="${MPIEXEC:-$(command -v mpiexec || true)}"
    [ -n "$mpiexec" ] || die "no mpiexec on PATH (pip install mpich)"
    # The ranks of one host talk through MPICH's shared memory; between hosts MPICH's network
    # module (UCX in the PyPI wheel, or libfabric) must use TCP on the veth device: UCX would
    # otherwise notice that both "hosts" are one machine and use its own shared memory.
    # Hydra passes mpiexec's environment on to every rank.
    on_host a env UCX_TLS="${UCX_TLS:-tcp,self}" UCX_NET_DEVICES="$IFACE" \
        FI_PROVIDER=tcp FI_TCP_IFACE="$IFACE" "$mpiexec" \
        -n "$n" -hosts "$HOST_A,$HOST_B" -launcher ssh -launcher-exec "$SELF" "$@"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
    up) up ;;
    down) down ;;
    exec) [ $# -ge 2 ] || die "usage: exec a|b CMD..."; on_host "$@" ;;
    mpirun) [ $# -ge 2 ] || die "usage: mpirun N CMD..."; mpi_run "$@" ;;
    run)
        [ $# -ge 2 ] || die "usage: run N CMD..."
        up
        trap down EXIT
        trap 'exit 130' INT TERM
        ( mpi_run "$@" )
        ;;
    -x|"$HOST_A"|"$HOST_B") fake_ssh "$cmd" "$@" ;;
    *) die "usage: $0 up|down|exec a|b CMD|mpirun N CMD|run N CMD" ;;
esac
