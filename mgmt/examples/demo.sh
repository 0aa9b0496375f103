#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make demo`: the seed document's call, for real, on this machine.
#
#   ns sipalg-demo-in: A 192.168.1.1 ── veth ── sipalg-in  (VPP 192.168.1.254)
#                                               NAT44-ED 203.0.113.10 + SIP ALG
#   ns sipalg-demo-out: 203.0.113.2 ── veth ── sipalg-out (VPP 203.0.113.1)
#                       proxy 198.51.100.1 (kamailio), B 198.51.100.2 (sipp)
#
# `sipalgctl up mgmt/examples/seed.yaml` starts VPP on the two veth ends, A calls B through the
# proxy with G.711 RTP both ways, and mid-call the server map, session table and calls are
# printed as the seed shows them. Everything is torn down at the end, also on failure.
# Needs root, an installed VPP, the plugin (make plugin), sipp and kamailio.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
py="${PYTHON:-$root/.venv/bin/python}"
cfg="$root/mgmt/examples/seed.yaml"
scen="$root/tests/e2e/scenarios"
work="$(mktemp -d /tmp/sipalg-demo.XXXXXX)"
NS_IN=sipalg-demo-in NS_OUT=sipalg-demo-out

die() { echo "demo: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, VPP)"
for t in ip sipp kamailio; do command -v "$t" >/dev/null || die "$t not found (apt-get install iproute2 sip-tester kamailio)"; done
[ -x "$py" ] || die "no Python environment at $py (run: make venv)"
ctl() { "$py" -m sipalgctl.cli "$@"; }

cleanup() {
  set +e
  [ -n "${uas:-}" ] && kill "$uas" 2>/dev/null
  [ -f "$work/kam.pid" ] && kill "$(cat "$work/kam.pid")" 2>/dev/null
  ctl down "$cfg" >/dev/null 2>&1
  ip netns del "$NS_IN" 2>/dev/null
  ip netns del "$NS_OUT" 2>/dev/null
  ip link del sipalg-in 2>/dev/null
  ip link del sipalg-out 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cleanup 2>/dev/null; work="$(mktemp -d /tmp/sipalg-demo.XXXXXX)"

echo "== topology: namespaces $NS_IN / $NS_OUT, veths sipalg-in / sipalg-out"
ins() { ip netns exec "$NS_IN" "$@"; }
outs() { ip netns exec "$NS_OUT" "$@"; }
ip netns add "$NS_IN"; ip netns add "$NS_OUT"
ip link add sipalg-in type veth peer name demo-a
ip link add sipalg-out type veth peer name demo-o
ip link set demo-a netns "$NS_IN"; ip link set demo-o netns "$NS_OUT"
ip link set sipalg-in up; ip link set sipalg-out up
ins ip link set lo up; ins ip link set demo-a up
outs ip link set lo up; outs ip link set demo-o up
ins ethtool -K demo-a tx off >/dev/null 2>&1 || true
outs ethtool -K demo-o tx off >/dev/null 2>&1 || true
ins ip addr add 192.168.1.1/24 dev demo-a
ins ip route add default via 192.168.1.254
outs ip addr add 203.0.113.2/24 dev demo-o
outs ip addr add 198.51.100.1/32 dev lo
outs ip addr add 198.51.100.2/32 dev lo
outs ip route add 203.0.113.10/32 via 203.0.113.1

echo "== sipalgctl up $cfg"
ctl check "$cfg"
ctl up "$cfg"
for i in $(seq 50); do ins ping -c1 -W1 192.168.1.254 >/dev/null 2>&1 && break; sleep 0.2; done
for i in $(seq 50); do outs ping -c1 -W1 203.0.113.1 >/dev/null 2>&1 && break; sleep 0.2; done

echo "== call: A 192.168.1.1:2000 -> proxy 198.51.100.1:5060 -> B 198.51.100.2:5060, G.711 both ways"
sed 's/@CALLEE@/198.51.100.2:5060/' "$root/tests/data/kamailio.cfg.in" > "$work/kamailio.cfg"
outs kamailio -f "$work/kamailio.cfg" -P "$work/kam.pid" -Y "$work" -w "$work" -E >"$work/kamailio.log" 2>&1
(cd "$work" && outs sipp -sf "$scen/uas.xml" -i 198.51.100.2 -p 5060 -mi 198.51.100.2 -mp 4000 \
   -m 1 -nostdin -timeout 30s >"$work/uas.log" 2>&1) & uas=$!
sleep 1
(cd "$work" && ins sipp -sf "$scen/uac.xml" 198.51.100.1:5060 -s bob -i 192.168.1.1 -p 2000 \
   -mi 192.168.1.1 -mp 3000 -m 1 -nostdin -timeout 30s >"$work/uac.log" 2>&1) & uac=$!
sleep 3
echo
echo "== mid-call: sipalgctl show server-map"
ctl show server-map "$cfg"
echo
echo "== mid-call: sipalgctl show session-table"
ctl show session-table "$cfg"
echo
echo "== mid-call: sipalgctl show calls"
ctl show calls "$cfg"
if wait "$uac" && wait "$uas"; then
  echo; echo "== the call completed (INVITE, 200, ACK, RTP both ways, BYE, 200)"
else
  echo; echo "== the call FAILED: logs follow"; tail -20 "$work"/*.log; exit 1
fi
uas=""
echo
echo "== after BYE: server map (empty) and the ALG's counters"
ctl show server-map "$cfg"
ctl stats "$cfg" | awk '$2 != 0'
echo
echo "== tearing down"
