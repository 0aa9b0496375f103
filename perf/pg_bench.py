#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Packet-generator benchmark of the plugin in a real VPP (no NICs needed).

Same topology as tests/vpp (pg0 inside, pg1 outside, NAT44-ED on 203.0.113.10), in four
configurations: the ALG off or on, and the firewall (VPP's ACL plugin as in
mgmt/examples/firewall.yaml: inside input permit, outside output permit+reflect, outside
input deny) off or on. In each, one packet is replayed `--packets` times per run:
  in2out      non-SIP UDP from the inside (an established NAT flow)
  out2in      the reply of that flow from outside (the firewall's reflect session)
  media       outside RTP to a live pinhole of a call (ALG on only: the gate's pass path)
  media-out   the inside party's RTP out through that pinhole (ALG on only)
  media-untracked, media-out-untracked: the same two with the media inactivity timer and
              the one-way check off (media not counted: the difference is what counting
              costs per media packet)
  sip         a SIP INVITE with SDP, a retransmission (ALG on, firewall off)
  tcp         non-SIP TCP from the inside (port 80, an established NAT flow)
  sip-tcp     a SIP over TCP segment with an INVITE, a retransmission of it (the ALG sends
              the unit as first rewritten again) (ALG on, firewall off)
For each it reads VPP's `show runtime`: clocks per packet of each node on the path, of the
ALG's nodes (sip-alg-pre + sip-alg-post) and of the whole path. `--rounds` repeats every
configuration (alternating) and reports medians; ratios are taken inside one run of this
script, since whole-graph clocks drift by +-10% between runs on small VMs.
Usage: perf/pg_bench.py [--packets N] [--rounds R] [--json FILE]
"""

import argparse
import json
import os
import re
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))  # the test tiers' VPP harness
sys.path.insert(0, os.path.join(HERE, "..", "tests", "vpp"))

import vpp_harness as h  # noqa: E402
import sipmsgs as S  # noqa: E402
from pgnat import PgNat  # noqa: E402
from scapy.all import Ether, IP, TCP, UDP, Raw, wrpcap  # noqa: E402

PATH_NODES = ["ethernet-input", "ip4-input-no-checksum", "ip4-input", "ip4-sv-reassembly-feature",
              "ip4-full-reassembly-feature",
              "sip-alg-pre", "acl-plugin-in-ip4-fa", "nat-pre-in2out", "nat44-ed-in2out",
              "nat-pre-out2in", "nat44-ed-out2in", "sip-alg-post", "ip4-lookup", "ip4-rewrite",
              "acl-plugin-out-ip4-fa", "pg0-output", "pg0-tx", "pg1-output", "pg1-tx"]
ALG_NODES = ("sip-alg-pre", "sip-alg-post")


def firewall(t):
    """mgmt/examples/firewall.yaml's policy by CLI."""
    v = t.vpp
    idx = []
    for rule in ("permit tag bench-outbound", "permit+reflect tag bench-reflect",
                 "deny tag bench-inbound"):
        idx.append(int(re.search(r"ACL index:\s*(\d+)", v.cli(f"set acl-plugin acl {rule}"))
                       .group(1)))
    v.cli_ok(f"set acl-plugin interface pg0 input acl {idx[0]}")
    v.cli_ok(f"set acl-plugin interface pg1 output acl {idx[1]}")
    v.cli_ok(f"set acl-plugin interface pg1 input acl {idx[2]}")


def free_hugepages():
    with open("/proc/meminfo") as f:
        return int(re.search(r"HugePages_Free:\s+(\d+)", f.read()).group(1))


def runtime(v):
    """{node: (vectors, clocks per vector)} from `show runtime`."""
    out = {}
    for line in v.cli("show runtime").splitlines():
        f = line.split()
        if len(f) >= 7 and f[0] in PATH_NODES and re.match(r"^\d", f[2]):
            out[f[0]] = (int(f[3]), float(f[5]))
    return out


def run(t, name, pkts, packets, iface="pg0"):
    """Replay pkts (cycling) until `packets` are sent from iface; the nodes' clocks per
    packet."""
    d = t.vpp.dir
    wrpcap(f"{d}/{name}.pcap", pkts if isinstance(pkts, list) else [pkts])
    for i in ("pg0", "pg1"):  # a capture left armed costs its tx node ~1,500 clk/pkt
        t.vpp.cli(f"packet-generator capture {i} disable")
    t.vpp.cli_ok("clear runtime")
    t.vpp.cli_ok(f"packet-generator new pcap {d}/{name}.pcap source {iface} name {name} "
                 f"limit {packets}")
    t0 = time.time()
    t.vpp.cli_ok(f"packet-generator enable-stream {name}")
    while "Yes" in t.vpp.cli("show packet-generator") and time.time() - t0 < 120:
        time.sleep(0.2)
    rt = runtime(t.vpp)
    t.vpp.cli_ok(f"packet-generator delete {name}")
    total = sum(c for v, c in rt.values())
    alg = sum(rt[n][1] for n in ALG_NODES if n in rt)
    return {"nodes": {n: c for n, (v, c) in rt.items()},
            "alg": alg, "total": total, "rest": total - alg,
            "packets": max((v for v, c in rt.values()), default=0)}


def flows(t, n, make, out_iface="pg1"):
    """n packets (one per flow) sent once, so NAT44-ED has their sessions; returns what
    came out of out_iface."""
    pkts = [make(i) for i in range(n)]
    out = []
    for i in range(0, n, 500):  # the capture in batches: pg's pcap writer keeps up
        out += t.send("pg0", pkts[i:i + 500], out_iface, len(pkts[i:i + 500]), timeout=30)
    return pkts, out


def invite(i):
    """The INVITE of call i from A (Call-ID, SIP and RTP port differ per call)."""
    return S.invite(a_port=20000 + 2 * i, rtp=30000 + 2 * i).replace(b"call-1@", b"call-%d@" % i)


def measure(prefix, alg, fw, packets, n_flows, pages="4k"):
    out = {}
    with PgNat(prefix, alg=alg, buffer_pages=pages) as t:
        if alg:
            t.vpp.cli_ok("set sip-alg ports udp 5060 tcp 5060")
        if fw:
            firewall(t)
        # the flows first (NAT sessions, reflect sessions), then their two directions
        udp, o = flows(t, n_flows, lambda i: t.udp("pg0", S.A, 10000 + i, S.PROXY, 9999,
                                                    bytes(64)))
        out["in2out"] = run(t, "in2out", udp, packets)
        replies = [t.udp("pg1", S.PROXY, 9999, S.PUB, p[UDP].sport, bytes(64)) for p in o]
        out["out2in"] = run(t, "out2in", replies, packets, iface="pg1")
        if alg:
            inv = t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, S.invite())
            [p] = t.send("pg0", [inv], "pg1", 1)
            rtp = int(re.search(rb"m=audio (\d+) ", bytes(p[Raw])).group(1))
            media = t.udp("pg1", S.B, S.B_RTP, S.PUB, rtp, b"\x80\x00" + bytes(170))
            out["media"] = run(t, "media", media, packets, iface="pg1")
            # the inside party's RTP out through its pinhole; then both without the media
            # inactivity timer and the one-way check (nothing counts media: no hash lookup)
            rtp_out = t.udp("pg0", S.A, S.A_RTP, S.B, S.B_RTP, b"\x80\x00" + bytes(170))
            out["media-out"] = run(t, "mediaout", rtp_out, packets)
            t.vpp.cli_ok("set sip-alg timeouts media-inactivity 0 one-way-media 0")
            out["media-untracked"] = run(t, "media0", media, packets, iface="pg1")
            out["media-out-untracked"] = run(t, "mediaout0", rtp_out, packets)
            t.vpp.cli_ok("set sip-alg timeouts media-inactivity 120 one-way-media 5")
            if not fw:
                # n calls set up once (pinholes installed), then their INVITEs resent: the
                # cost of a message, without installing pinholes
                sip, _ = flows(t, min(n_flows, 1000), lambda i: t.udp(
                    "pg0", S.A, 20000 + 2 * i, S.PROXY, S.PROXY_PORT, invite(i)))
                out["sip"] = run(t, "sip", sip, max(packets // 10, 2000))
        tcp = [tcp_flow(t, 80, b"x" * 64, sport=41000 + i) for i in range(min(n_flows, 200))]
        out["tcp"] = run(t, "tcp", tcp, packets)
        if alg and not fw:
            seg = tcp_flow(t, 5060, S.invite(a_port=40600), sport=40600)
            out["sip-tcp"] = run(t, "siptcp", seg, max(packets // 10, 1000))
    return out


def tcp_flow(t, dport, data, sport=40500):
    """A TCP connection from A (SYN through NAT44-ED), its first data segment sent once;
    returns that segment for replaying."""
    mk = lambda flags, seq, d=b"": (Ether(dst=t.mac["pg0"], src=t.A_MAC) /
                                    IP(src=S.A, dst=S.PROXY) /
                                    TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=1) /
                                    Raw(d))
    t.send("pg0", [mk("S", 0), mk("PA", 1, data)], "pg1", 2)
    return mk("PA", 1, data)


CONFIGS = [("nat", False, False), ("nat+alg", True, False), ("nat+acl", False, True),
           ("nat+acl+alg", True, True)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=2_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--flows", type=int, default=1000, help="UDP flows (TCP: up to 200, "
                    "SIP calls: up to 1000)")
    ap.add_argument("--json", default=None, help="write the medians here")
    ap.add_argument("--pages", choices=("4k", "2M", "auto"), default="auto",
                    help="page size of VPP's buffers (auto: 2M when 100 hugepages are free: "
                    "`echo 300 > /proc/sys/vm/nr_hugepages`). On 4 KB pages every node's first "
                    "touch of a buffer header is a TLB miss, which hides what the nodes "
                    "themselves cost (sip-alg-pre + sip-alg-post: ~50 clk/pkt on 4 KB pages, "
                    "~22 on 2 MB)")
    args = ap.parse_args()
    pages = args.pages if args.pages != "auto" else ("2M" if free_hugepages() >= 100 else "4k")
    print(f"buffers on {pages} pages", file=sys.stderr)
    prefix, why = h.find_vpp()
    if not prefix or not h.find_plugin():
        sys.exit(why or "plugin not built: make plugin")

    rounds = {name: [] for name, _, _ in CONFIGS}
    for r in range(args.rounds):
        for name, alg, fw in CONFIGS:
            rounds[name].append(measure(prefix, alg, fw, args.packets, args.flows, pages))
            print(f"round {r + 1}/{args.rounds}: {name} done", file=sys.stderr)

    med = {}
    for name, runs in rounds.items():
        med[name] = {}
        for kind in runs[0]:
            med[name][kind] = {
                "alg": statistics.median(x[kind]["alg"] for x in runs),
                "total": statistics.median(x[kind]["total"] for x in runs),
                "nodes": {n: statistics.median(x[kind]["nodes"].get(n, 0) for x in runs)
                          for n in runs[0][kind]["nodes"]},
            }
    for name, kinds in med.items():
        for kind, m in kinds.items():
            print(f"\n[{name}: {kind}] medians of {args.rounds}")
            for n in PATH_NODES:
                if n in m["nodes"]:
                    print(f"  {n:28s} {m['nodes'][n]:8.1f} clocks/pkt")
            print(f"  {'ALG nodes':28s} {m['alg']:8.1f}")
            print(f"  {'path':28s} {m['total']:8.1f}")

    def ratio(a, b, kind):
        return med[a][kind]["total"] / med[b][kind]["total"]

    print("\nsummary (medians; ALG nodes = sip-alg-pre + sip-alg-post clk/pkt; share = ALG nodes"
          " / the rest of the path in the same run; ratio = path clocks ALG off / on, i.e. "
          "throughput on / off when CPU bound; reass = ip4-full-reassembly-feature, which the "
          "ALG enables on its interfaces)")
    for kind in ("in2out", "out2in", "tcp"):
        for fw, on, off in ((" ", "nat+alg", "nat"), ("+acl", "nat+acl+alg", "nat+acl")):
            if kind not in med[on]:
                continue
            m = med[on][kind]
            share = m["alg"] / (m["total"] - m["alg"])
            reass = m["nodes"].get("ip4-full-reassembly-feature", 0)
            print(f"  non-SIP {kind:6s} {fw:4s} ALG nodes {m['alg']:5.1f} (pre "
                  f"{m['nodes'].get('sip-alg-pre', 0):.1f}, post "
                  f"{m['nodes'].get('sip-alg-post', 0):.1f}), share {100 * share:.1f}%, "
                  f"reass {reass:.1f}; throughput ratio on/off "
                  f"{med[off][kind]['total'] / m['total']:.3f}")
    print(f"  media to a pinhole through the firewall (gate pass): path "
          f"{med['nat+acl+alg']['media']['total']:.1f} clk/pkt vs a reflected reply without "
          f"the ALG {med['nat+acl']['out2in']['total']:.1f}; ALG nodes "
          f"{med['nat+acl+alg']['media']['alg']:.1f}")
    for cfg in ("nat+alg", "nat+acl+alg"):
        m = med[cfg]
        print(f"  media ({cfg}): ALG nodes in {m['media']['alg']:.1f} / out "
              f"{m['media-out']['alg']:.1f} clk/pkt with the media inactivity stamp, "
              f"{m['media-untracked']['alg']:.1f} / {m['media-out-untracked']['alg']:.1f} "
              f"without; path in {m['media']['total']:.1f} / out {m['media-out']['total']:.1f}")
    print(f"  SIP INVITE+SDP (1,000 calls' INVITEs resent, no pinhole install): sip-alg-post "
          f"{med['nat+alg']['sip']['nodes']['sip-alg-post']:.0f}, sip-alg-pre "
          f"{med['nat+alg']['sip']['nodes']['sip-alg-pre']:.0f} clk/pkt")
    print(f"  SIP over TCP segment (INVITE, resent unit): sip-alg-post "
          f"{med['nat+alg']['sip-tcp']['nodes']['sip-alg-post']:.0f} clk/pkt")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"packets": args.packets, "rounds": args.rounds, "flows": args.flows,
                       "buffer_pages": pages, "medians": med}, f, indent=1)


if __name__ == "__main__":
    main()
