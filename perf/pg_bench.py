#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Packet-generator benchmark of the plugin in a real VPP (no NICs needed).

Three runs in one VPP build, same topology as tests/vpp (pg0 inside, pg1 outside,
NAT44-ED on 203.0.113.10), each replaying one packet `--packets` times from pg0:
  nat        : non-SIP UDP, NAT44-ED only (ALG not enabled)
  nat+alg    : the same non-SIP UDP with the ALG enabled on both interfaces
  sip        : a SIP INVITE with SDP (a retransmission after the first: parse, call lookup,
               rewrite, no new pinhole) with the ALG enabled
For each run it prints VPP's `show runtime` clocks per packet of every node on the path and
their sum, and the ratio nat+alg / nat. Usage: perf/pg_bench.py [--packets N]
"""

import argparse
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))  # the test tiers' VPP harness
sys.path.insert(0, os.path.join(HERE, "..", "tests", "vpp"))

import vpp_harness as h  # noqa: E402
import sipmsgs as S  # noqa: E402
from pgnat import PgNat  # noqa: E402
from scapy.all import wrpcap  # noqa: E402

PATH_NODES = ["ethernet-input", "ip4-input-no-checksum", "ip4-input", "ip4-sv-reassembly-feature",
              "sip-alg-pre", "nat-pre-in2out", "nat44-ed-in2out", "sip-alg-post", "ip4-lookup",
              "ip4-rewrite", "pg1-output", "pg1-tx"]


def runtime(v):
    """{node: (vectors, clocks per vector)} from `show runtime`."""
    out = {}
    for line in v.cli("show runtime").splitlines():
        f = line.split()
        if len(f) >= 7 and f[0] in PATH_NODES and re.match(r"^\d", f[2]):
            out[f[0]] = (int(f[3]), float(f[5]))
    return out


def run(t, name, pkt, packets):
    d = t.vpp.dir
    wrpcap(f"{d}/{name}.pcap", [pkt])
    # one packet first (creates the NAT session / call), then the measured run
    t.vpp.cli_ok(f"packet-generator new pcap {d}/{name}.pcap source pg0 name {name}0 limit 1")
    t.vpp.cli_ok(f"packet-generator enable-stream {name}0")
    time.sleep(0.5)
    t.vpp.cli_ok(f"packet-generator delete {name}0")
    t.vpp.cli_ok("clear runtime")
    t.vpp.cli_ok(f"packet-generator new pcap {d}/{name}.pcap source pg0 name {name} "
                 f"limit {packets}")
    t0 = time.time()
    t.vpp.cli_ok(f"packet-generator enable-stream {name}")
    while "Yes" in t.vpp.cli("show packet-generator") and time.time() - t0 < 120:
        time.sleep(0.2)
    rt = runtime(t.vpp)
    t.vpp.cli_ok(f"packet-generator delete {name}")
    return rt


def report(name, rt):
    total = sum(c for n, (v, c) in rt.items())
    print(f"\n[{name}]")
    for n in PATH_NODES:
        if n in rt:
            print(f"  {n:28s} {rt[n][1]:8.1f} clocks/pkt  ({rt[n][0]} pkts)")
    print(f"  {'sum':28s} {total:8.1f}")
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=2_000_000)
    args = ap.parse_args()
    prefix, why = h.find_vpp()
    if not prefix or not h.find_plugin():
        sys.exit(why or "plugin not built: make plugin")

    results = {}
    for alg in (False, True):
        with PgNat(prefix, alg=alg) as t:
            udp = t.udp("pg0", S.A, 1234, S.PROXY, 9999, bytes(64))
            results["nat+alg" if alg else "nat"] = report(
                "non-SIP UDP, " + ("NAT44-ED + ALG" if alg else "NAT44-ED only"),
                run(t, "udp", udp, args.packets))
            if alg:
                inv = t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, S.invite())
                sip = run(t, "sip", inv, max(args.packets // 10, 1000))
                results["sip"] = report("SIP INVITE (retransmission), NAT44-ED + ALG", sip)
                print("  sip-alg-post on SIP: %.0f clocks/pkt" % sip["sip-alg-post"][1])
    print("\nnon-SIP path, NAT44-ED + ALG / NAT44-ED only: %.3f" %
          (results["nat+alg"] / results["nat"]))


if __name__ == "__main__":
    main()
