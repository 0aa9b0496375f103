#!/usr/bin/env bash
# Regenerate the real-stack SIP captures used by tests/core/test_captures.py.
#
# Runs sipp (UAC and UAS), kamailio (record-routing proxy) and baresip inside a
# private network namespace whose loopback carries the test addresses
# (192.168.1.1 = inside caller, 198.51.100.2 = callee, 198.51.100.1 = proxy), captures with
# tcpdump and writes each SIP payload to <stack>/NN.sip. Needs root, sip-tester, kamailio,
# baresip, tcpdump and tshark. Nothing leaves the namespace.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$(mktemp -d)"  # sipp writes its logs into the working directory
ns=sipalg-cap-$$
work=$(mktemp -d)
cleanup() { ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
            ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
for a in 192.168.1.1 198.51.100.1 198.51.100.2; do ip -n "$ns" addr add $a/32 dev lo; done
run() { ip netns exec "$ns" "$@"; }

capture() {  # capture NAME COMMAND...: run COMMAND while tcpdump records SIP ports
  local name=$1; shift
  run tcpdump -i lo -U -s 0 -w "$work/$name.pcap" 'udp port 5060 or udp port 5070' \
    >/dev/null 2>&1 & local td=$!
  sleep 1
  "$@"
  sleep 1; kill $td; wait $td 2>/dev/null || true
  ip netns pids "$ns" | xargs -r kill 2>/dev/null || true  # leftover sipp/kamailio
  sleep 0.5
  rm -rf "${here:?}/$name"; mkdir -p "$here/$name"
  python3 - "$work/$name.pcap" "$here/$name" <<'PY'
import subprocess, sys
out = subprocess.run(["tshark", "-r", sys.argv[1], "-T", "fields", "-e", "udp.payload"],
                     check=True, capture_output=True, text=True).stdout.split()
for i, h in enumerate(out):
    open(f"{sys.argv[2]}/{i:02d}.sip", "wb").write(bytes.fromhex(h.replace(":", "")))
print(sys.argv[2], len(out), "messages")
PY
}

# 1. sipp UAC -> sipp UAS, default scenarios (INVITE with SDP, 100, 180, 200, ACK, BYE, 200)
sipp_call() {
  run sipp -sn uas -i 198.51.100.2 -p 5060 -m 1 -bg >/dev/null || true  # -bg exits 99
  sleep 0.5
  run sipp -sn uac 198.51.100.2:5060 -i 192.168.1.1 -p 5070 -m 1 -timeout 10 \
    >/dev/null 2>&1 || true
  sleep 0.5
}
capture sipp sipp_call

# 2. the same call through a kamailio record-routing proxy
sed 's/@CALLEE@/198.51.100.2:5060/' "$here/../kamailio.cfg.in" > "$work/kamailio.cfg"
kam_call() {
  run kamailio -f "$work/kamailio.cfg" -P "$work/kam.pid" -Y "$work" -w "$work" -E \
    >/dev/null 2>&1
  sleep 1
  run sipp -sn uas -i 198.51.100.2 -p 5060 -m 1 -bg >/dev/null || true  # -bg exits 99
  sleep 0.5
  run sipp -sn uac 198.51.100.1:5060 -i 192.168.1.1 -p 5070 -m 1 -timeout 10 >/dev/null 2>&1 \
    || true
  sleep 0.5
  kill "$(cat "$work/kam.pid")" 2>/dev/null || true
}
capture kamailio kam_call

# 3. baresip calling a sipp UAS directly (no registrar)
mkdir -p "$work/baresip"
cat > "$work/baresip/config" <<'BCONF'
sip_listen 192.168.1.1:5070
audio_player aubridge,nil
audio_source aubridge,nil
module_path /usr/lib/baresip/modules
module stdio.so
module g711.so
module aubridge.so
module menu.so
module account.so
module ausine.so
BCONF
echo '<sip:alice@192.168.1.1:5070>;regint=0;audio_source=ausine,440' > "$work/baresip/accounts"
bs_call() {
  run sipp -sn uas -i 198.51.100.2 -p 5060 -m 1 -bg >/dev/null || true  # -bg exits 99
  sleep 0.5
  run timeout 8 baresip -f "$work/baresip" -e "/dial sip:bob@198.51.100.2:5060" -t 6 \
    >"$work/baresip.log" 2>&1 || true
  sleep 0.5
}
capture baresip bs_call
