#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Call setup and teardown rate, and memory per call, of the plugin in a real VPP.

VPP's packet generator plays N calls (inside phones 192.168.1.10.. behind NAT44-ED on
203.0.113.10, a proxy outside) in bursts, each burst as fast as pg sends it:
  invite    N INVITEs with SDP (each needs three NAT44-ED static mappings: signaling,
            RTP, RTCP; the INVITE is held until the main thread made them)
  answer    N 200 OKs with SDP from outside (three records each, no NAT mapping)
  ack       N ACKs
  bye       N BYEs and their 200 OKs (the call and its six entries are removed)
A burst is timed from the stream's start to the last of its packets leaving VPP (for bye:
to the server map being empty), from the interface counters polled every 10 ms. Between
answer/ack and bye, N calls are up: `show memory main-heap` against the same VPP before
the first INVITE gives heap bytes per call (ALG + NAT44-ED), and `show sip-alg memory`
the ALG's own state per call. `show sip-alg main-thread` says where the main thread's
time went (barrier, NAT44-ED's static mapping handler). A teardown still not done 5 s
after the BYEs counts the calls and entries left then (`left_5s`); entries left with every
call closed outlived their calls, and the benchmark exits non-zero (after the JSON).

Media on public addresses of their own (--media-addresses N): N addresses 203.0.113.20.. in
pg1's network, with the media range 10000-65535 on each (27,768 pairs an address), so the pool
holds more calls than one address can. pg needs no route or neighbour for them (the packets
it plays reach pg1 whatever their destination); on a real network NAT44-ED answers ARP for
one on the outside network while a pinhole uses it. The phones' signaling needs NAT44-ED
ports too: one pool address has at most ~64,000 towards the one proxy, so a run of more than
SIG_PER_ADDRESS calls gets more pool addresses (203.0.113.11, ...), and each call's answer
goes to the public address its INVITE left by. --heap sets VPP's main heap (512M by default;
100,000 calls need more). The call timers are off for the run (the calls send no media, and
at 100,000 calls the phases take minutes).

Usage: perf/call_bench.py [--calls 1000,10000] [--workers N] [--media-ports LO-HI]
                          [--media-addresses N] [--heap 4G] [--nat-plugin-dir DIR] [--json FILE]
"""

import argparse
import json
import os
import re
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "vpp"))

import vpp_harness as h  # noqa: E402
import sipmsgs as S  # noqa: E402
from pgnat import PgNat  # noqa: E402
from scapy.all import wrpcap  # noqa: E402

PER_HOST = 50  # calls per inside phone address (distinct SIP and RTP ports)
# phones' signaling per NAT44-ED pool address: towards the one proxy an address has ~64,500
# ports, and NAT44-ED tries 10 random ones per session: at 25,000 (39% full) it finds one
SIG_PER_ADDRESS = 25000
MEDIA_RANGE = "10000-65535"  # on each media address (--media-addresses)
# seconds after the BYEs at which what is left is counted (teardown takes 2-4 s): an entry
# still there with every call closed outlived its call
LEFT_AFTER = 5.0


def host(i):
    n = 10 + i // PER_HOST
    return f"192.168.{1 + n // 250}.{n % 250 + 1}"


def ports(i):
    k = i % PER_HOST
    return 20000 + 2 * k, 30000 + 2 * k  # SIP, RTP


def cid(msg, i):
    return msg.replace(b"call-1@", b"call-%d@" % i)


def tx(v, iface):
    m = re.search(r"tx packets\s+(\d+)", v.cli(f"show interface {iface}"))
    return int(m.group(1)) if m else 0


def rx(v, iface):
    m = re.search(r"rx packets\s+(\d+)", v.cli(f"show interface {iface}"))
    return int(m.group(1)) if m else 0


def entries_in_use(v):
    return int(re.search(r"max-entries \d+ \((\d+) in use\)", v.cli("show sip-alg config"))
               .group(1))


def heap_used(v):
    """Bytes in use in the main heap (thread 0), from `show memory main-heap`."""
    out = v.cli("show memory main-heap")
    m = re.search(r"used:\s*([\d.]+)([KMG]?)", out)
    return float(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)]


def read_pcap_frames(path):
    """(source address, sport, payload) of each UDP frame of a pcap (Ethernet, IPv4 without
    options)."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    off = 24
    while off + 16 <= len(data):
        n = struct.unpack("<I", data[off + 8:off + 12])[0]
        fr = data[off + 16:off + 16 + n]
        off += 16 + n
        if len(fr) >= 42 and fr[23] == 17:
            out.append((".".join(str(b) for b in fr[26:30]), struct.unpack("!H", fr[34:36])[0],
                        fr[42:]))
    return out


def read_pcap_udp(path):
    """(sport, payload) of each UDP frame of a pcap (Ethernet, IPv4 without options)."""
    return [(sport, payload) for _, sport, payload in read_pcap_frames(path)]


def media_addresses(n):
    """The first n media addresses of the benchmark: 203.0.113.20, ..."""
    return [f"203.0.113.{20 + k}" for k in range(n)]


def pool_addresses(calls):
    """NAT44-ED's pool for that many phones: S.PUB, then 203.0.113.11, ..."""
    n = max(1, -(-calls // SIG_PER_ADDRESS))
    return [S.PUB] + [f"203.0.113.{11 + k}" for k in range(n - 1)]


def rss_bytes(v):
    """VPP's resident memory (bytes), from /proc."""
    with open(f"/proc/{v.proc.pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) * 1024


def resent(v):
    """Datagrams dropped for their senders to send again: by the ALG, their phone's signaling
    was moved to a port of its own (sig_moved), their media pair clashed with a phone's NAT
    port (port_clash), or too many messages wait for pinholes (held_full); with workers, by
    NAT44-ED's handoff to the worker of the phone's flows, when its queue was full
    (congestion drop)."""
    c = v.counters()
    n = c["sig_moved"] + c["port_clash"] + c["held_full"]
    if v.workers:
        n += sum(int(x) for x in re.findall(r"^\s*(\d+)\s+\S*handoff\s+congestion drop",
                                             v.cli("show errors"), re.M))
    return n


STALL = 2.0  # s without an INVITE more out, all of them in VPP: the rest was dropped


def invites_out(t, name, frames, write, timeout=300.0, seen=None, rounds=None):
    """Play the INVITEs {call id: frame} from pg0 as fast as pg sends them, and wait until
    each one left by pg1. A phone whose NAT44-ED port is the public port of another
    pinhole has its INVITE dropped once while the ALG moves its signaling to a port of its
    own (sig_moved), one whose media pair clashed with such a port too (port_clash), and
    INVITEs beyond max-held are dropped (held_full); those are sent
    again, as the phones would, until all are out (at most 8 rounds); so are INVITEs
    dropped where the ALG does not count them (NAT44-ED finding no free port for a phone
    after its 10 tries): a round ends when every INVITE left or was counted, or when all are
    in VPP and none more left for STALL s. write(path, frames) makes a pcap. Returns
    (seconds until the first burst was out or dropped, {call id: public signaling port},
    INVITEs dropped and sent again as the counters say); seen, a dict, gets {call id: (public
    signaling address, the SDP's c= address)}; rounds, a list, the INVITEs each round
    sent."""
    v = t.vpp
    pub, todo, first, dropped0 = {}, dict(frames), None, resent(v)
    for rnd in range(8):
        cap, src = f"{v.dir}/{name}-{rnd}-out.pcap", f"{v.dir}/{name}-{rnd}.pcap"
        base, d0, in0 = tx(v, "pg1"), resent(v), rx(v, "pg0")
        if rounds is not None:
            rounds.append(len(todo))
        write(src, list(todo.values()))
        v.cli_ok(f"packet-generator capture pg1 pcap {cap} count {len(todo)}")
        v.cli_ok(f"packet-generator new pcap {src} source pg0 name {name}{rnd}")
        t0 = time.monotonic()
        v.cli_ok(f"packet-generator enable-stream {name}{rnd}")
        done, t_done = 0, t0
        while done < len(todo):
            now = time.monotonic()
            if now - t0 > timeout:
                raise RuntimeError(f"{name}: INVITEs not out after {timeout} s")
            if now - t_done > STALL and rx(v, "pg0") - in0 >= len(todo):
                break  # the rest was dropped uncounted: sent again next round
            time.sleep(0.01)
            n = tx(v, "pg1") - base + resent(v) - d0
            if n > done:
                done, t_done = n, time.monotonic()
        if first is None:
            first = t_done - t0
        v.cli_ok(f"packet-generator delete {name}{rnd}")
        v.cli("packet-generator capture pg1 disable")
        for src, sport, payload in read_pcap_frames(cap):
            m = re.search(rb"Call-ID: call-(\d+)@", payload)
            if m:
                pub[int(m.group(1))] = sport
                if seen is not None:
                    c = re.search(rb"\nc=IN IP4 ([\d.]+)", payload)
                    seen[int(m.group(1))] = (src, c.group(1).decode() if c else None)
        todo = {i: f for i, f in todo.items() if i not in pub}
        if not todo:
            break
    assert not todo, f"{len(todo)} of {len(frames)} INVITEs never left"
    return first, pub, resent(v) - dropped0


def burst(t, name, iface, pkts, done, timeout=120.0):
    """Send pkts from iface as fast as pg does; seconds until done() holds."""
    d = t.vpp.dir
    wrpcap(f"{d}/{name}.pcap", pkts)
    t.vpp.cli_ok(f"packet-generator new pcap {d}/{name}.pcap source {iface} name {name}")
    t0 = time.monotonic()
    t.vpp.cli_ok(f"packet-generator enable-stream {name}")
    while not done():
        if time.monotonic() - t0 > timeout:
            v = t.vpp
            raise RuntimeError(f"{name}: not done after {timeout} s\n" + "\n".join(
                v.cli(c) for c in ("show errors", "show sip-alg main-thread",
                                   "show sip-alg config", "show interface")))
        time.sleep(0.01)
    dt = time.monotonic() - t0
    t.vpp.cli_ok(f"packet-generator delete {name}")
    return dt


def run(prefix, n, nat_plugin_dir=None, n_media=0, heap="512M", workers=0, media_ports=None,
        max_held=None, end="bye", timers="bench"):
    """end: how the calls end, "bye" (each a BYE and its 200) or "expire" (no message: the
    call timeout is cut to 1 s once they are up, so one aging pass finds them all expired,
    and the main thread deletes them in slices). max_held: messages a thread may hold for their pinholes (default: every INVITE of the
    burst with 0 workers; with workers 4,000 over them, whose main thread makes pinholes
    more slowly here (it shares the CPUs with them) while each held INVITE keeps one of
    VPP's 8,192 buffers: the rest are dropped (held_full) and sent again). media_ports: the
    media range (default 20000-59999, or 10000-65535 with media addresses). timers: "bench"
    (no timer but the signaling entries' ends a call or its media while the run plays) or
    "default" (the product's media inactivity, one-way and call timers, only the signaling
    timeout lengthened: the aging pass then walks every call's media each second)."""
    if max_held is None:
        max_held = n if not workers else min(n, 4000 // workers)
    media_ports = media_ports or (MEDIA_RANGE if n_media else "20000-59999")
    res = {"calls": n, "workers": workers, "timers": timers,
           "media_addresses": media_addresses(n_media), "pool_addresses": pool_addresses(n),
           "heap": heap}
    with PgNat(prefix, workers=workers, alg=True, sessions=max(4 * n, 10000),
               nat_plugin_dir=nat_plugin_dir, main_heap=heap) as t:
        v = t.vpp
        # with stock NAT44-ED a static mapping delete walks the session table: at 100,000
        # calls the aging pass that ends the closed calls holds the main thread (and its
        # CLI) for tens of seconds
        v.cli_timeout = 600
        res["nat_plugin"] = v.loaded_nat_plugin()
        # every INVITE of the burst held at once (the default bound, 512, would drop the
        # rest, which invites_out sends again)
        # no timer ends a call or its media while the run plays (the calls send no media:
        # past 120 s of it the media inactivity timer would close every call's media at
        # once, in one aging pass)
        for c in ["set sip-alg ports udp 5060", f"set sip-alg max-calls {n + 100}",
                  "set sip-alg timeouts signaling 3600" +
                  (" media-inactivity 0 max-duration 0" if timers == "bench" else ""),
                  f"set sip-alg max-held {max_held}",
                  f"set sip-alg security max-entries {8 * n}",
                  f"set sip-alg media-ports {media_ports}"]:
            v.cli_ok(c)
        for a in res["pool_addresses"][1:]:
            v.cli_ok(f"nat44 add address {a}")
        if n_media:
            v.cli_ok("set sip-alg media-addresses " + " ".join(res["media_addresses"]))
        # the phones: past 12,000 calls they are in 192.168.2.0/24 and on, off pg0's own
        # network: attached routes through pg0 for those (their neighbours are static)
        nets = sorted({host(k * PER_HOST).rsplit(".", 1)[0]
                       for k in range(0, (n + PER_HOST - 1) // PER_HOST)})
        for net in nets[1:]:
            v.cli_ok(f"ip route add {net}.0/24 via pg0")
        for k in range(0, (n + PER_HOST - 1) // PER_HOST):
            v.cli_ok(f"ip neighbor pg0 {host(k * PER_HOST)} {t.A_MAC}")
        heap0 = heap_used(v)
        alg0 = v.cli("show sip-alg memory")

        invites = {}
        for i in range(n):
            sip, rtp = ports(i)
            invites[i] = t.udp("pg0", host(i), sip, S.PROXY, S.PROXY_PORT,
                               cid(S.invite(a=host(i), a_port=sip, rtp=rtp), i))
        seen, res["invite_rounds"] = {}, []
        res["invite_s"], pub, res["resent"] = invites_out(t, "invite", invites, wrpcap,
                                                          seen=seen,
                                                          rounds=res["invite_rounds"])
        # where the calls' signaling left from and their media went (the INVITEs' c=)
        res["signaling"], res["sdp_c"] = {}, {}
        for a, c in seen.values():
            res["signaling"][a] = res["signaling"].get(a, 0) + 1
            res["sdp_c"][c] = res["sdp_c"].get(c, 0) + 1
        sig = {i: seen[i][0] for i in pub}

        answers = [t.udp("pg1", S.PROXY, S.PROXY_PORT, sig[i], pub[i],
                         cid(S.response(200, "OK", "INVITE", 1, sig[i], pub[i],
                                        body=S.sdp(S.B, 4000 + 2 * (i % 1000))), i))
                   for i in range(n)]
        base = tx(v, "pg0")
        res["answer_s"] = burst(t, "answer", "pg1", answers, lambda: tx(v, "pg0") >= base + n)
        acks = []
        for i in range(n):
            sip, _ = ports(i)
            acks.append(t.udp("pg0", host(i), sip, S.PROXY, S.PROXY_PORT,
                              cid(S.request("ACK", host(i), sip, 1), i)))
        base = tx(v, "pg1")
        res["ack_s"] = burst(t, "ack", "pg0", acks, lambda: tx(v, "pg1") >= base + n)

        time.sleep(1.5)  # the process node's last batch
        res["entries_up"] = entries_in_use(v)
        res["media_in_use"] = re.search(r"^media-addresses.*$", v.cli("show sip-alg config"),
                                        re.M).group(0)
        res["rss_up"] = rss_bytes(v)
        res["heap_up"] = heap_used(v)
        res["heap_per_call"] = (heap_used(v) - heap0) / n
        alg = v.cli("show sip-alg memory")
        tot = lambda s: int(re.search(r"total (\d+) bytes", s).group(1))  # noqa: E731
        res["alg_per_call"] = (tot(alg) - tot(alg0)) / n
        res["alg_memory"] = alg
        res["alg_memory0"] = alg0
        mt_setup = v.cli("show sip-alg main-thread")
        print(f"{n} calls up: {res['entries_up']} server-map entries, {res['media_in_use']}, "
              f"heap {res['heap_per_call']:.0f} B a call, ALG {res['alg_per_call']:.0f} B a "
              f"call, main heap {res['heap_up'] / 2 ** 20:.0f} MB, VPP RSS "
              f"{res['rss_up'] / 2 ** 20:.0f} MB; INVITEs {res['invite_rounds']}", flush=True)

        if end == "expire":
            before = t.counters()
            t0 = time.monotonic()
            v.cli_ok("set sip-alg timeouts call 1")
            while entries_in_use(v) and time.monotonic() - t0 < 600:
                time.sleep(0.01)
            res["expire_s"] = time.monotonic() - t0
            res["main_thread"] = v.cli("show sip-alg main-thread")
            # what the expiry counted
            res["counters"] = {k: val - before.get(k, 0) for k, val in t.counters().items()
                               if val - before.get(k, 0)}
            res["entries_left"] = entries_in_use(v)
            return res
        byes = []
        for i in range(n):
            sip, _ = ports(i)
            byes.append(t.udp("pg0", host(i), sip, S.PROXY, S.PROXY_PORT,
                              cid(S.request("BYE", host(i), sip, 2), i)))
            byes.append(t.udp("pg1", S.PROXY, S.PROXY_PORT, sig[i], pub[i],
                              cid(S.response(200, "OK", "BYE", 2, sig[i], pub[i]), i)))
        # pg plays one interface per stream: the BYEs, then their answers, both streams
        # made before the clock starts
        d = v.dir
        wrpcap(f"{d}/bye.pcap", byes[0::2])
        wrpcap(f"{d}/byeok.pcap", byes[1::2])
        v.cli_ok(f"packet-generator new pcap {d}/bye.pcap source pg0 name bye")
        v.cli_ok(f"packet-generator new pcap {d}/byeok.pcap source pg1 name byeok")
        base = tx(v, "pg1")
        t0 = time.monotonic()
        v.cli_ok("packet-generator enable-stream bye")
        while tx(v, "pg1") < base + n and time.monotonic() - t0 < 120:
            time.sleep(0.01)
        v.cli_ok("packet-generator enable-stream byeok")
        res["left_5s"] = None  # [calls, entries] 5 s after the BYEs, when not done by then
        while entries_in_use(v) and time.monotonic() - t0 < 600:
            if res["left_5s"] is None and time.monotonic() - t0 > LEFT_AFTER:
                c = t.counters()
                res["left_5s"] = [c["calls_created"] - c["calls_closed"], entries_in_use(v)]
            time.sleep(0.01)
        res["bye_s"] = time.monotonic() - t0
        res["main_thread_setup"] = mt_setup
        res["main_thread"] = v.cli("show sip-alg main-thread")
        res["counters"] = {k: val for k, val in t.counters().items()
                           if k in ("pinhole_added", "pinhole_removed", "pinhole_failed",
                                    "calls_created", "calls_closed", "held", "smap_full",
                                    "no_media_port", "sig_moved", "port_clash")}
    setup = res["invite_s"] + res["answer_s"] + res["ack_s"]
    res["setup_calls_per_s"] = n / setup
    res["teardown_calls_per_s"] = n / res["bye_s"]
    res["calls_per_s"] = n / (setup + res["bye_s"])
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", default="1000,10000")
    ap.add_argument("--workers", type=int, default=0, help="VPP worker threads (default 0)")
    ap.add_argument("--media-ports", default=None,
                    help="the media port range (pairs: one call each; default 20000-59999)")
    ap.add_argument("--max-held", type=int, default=None,
                    help="INVITEs a thread may hold for their pinholes (default: all of them "
                    "with 0 workers, 4,000 over the workers with workers)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--media-addresses", type=int, default=0, metavar="N",
                    help="media on N public addresses of their own (203.0.113.20..., "
                         f"{MEDIA_RANGE} on each), at most 16")
    ap.add_argument("--heap", default="512M", help="VPP's main heap size (512M)")
    ap.add_argument("--nat-plugin-dir", default=None,
                    help="load this directory's nat_plugin.so instead of VPP's (a patched "
                         "NAT44-ED: make nat-patched)")
    ap.add_argument("--end", choices=("bye", "expire"), default="bye",
                    help="how the calls end: a BYE each (default), or all expiring at once "
                         "(the call timeout cut to 1 s: the aging pass's slices)")
    ap.add_argument("--timers", choices=("bench", "default"), default="bench",
                    help="bench (default): no media inactivity or call duration timer while "
                         "the run plays; default: the product's, only the signaling timeout "
                         "lengthened (the aging pass walks every call's media each second)")
    args = ap.parse_args()
    prefix, why = h.find_vpp()
    if not prefix or not h.find_plugin():
        sys.exit(why or "plugin not built: make plugin")
    out = []
    for n in (int(x) for x in args.calls.split(",")):
        r = run(prefix, n, args.nat_plugin_dir, args.media_addresses, args.heap, args.workers,
                args.media_ports, args.max_held, args.end, args.timers)
        out.append(r)
        if args.end == "expire":
            print(f"\n{n} calls, {args.workers} workers: all expired in {r['expire_s']:.2f} s "
                  f"({n / r['expire_s']:.0f} calls/s), {r['entries_left']} entries left; "
                  f"NAT44-ED: {r['nat_plugin']}; counters: {r['counters']}")
            print("  main thread:\n    " + r["main_thread"].strip().replace("\n", "\n    "))
            continue
        print(f"\n{n} calls, {args.workers} workers: setup {r['setup_calls_per_s']:.0f} calls/s (INVITE burst "
              f"{r['invite_s']:.2f} s, 200 {r['answer_s']:.2f} s, ACK {r['ack_s']:.2f} s), "
              f"teardown {r['teardown_calls_per_s']:.0f} calls/s ({r['bye_s']:.2f} s), "
              f"whole calls {r['calls_per_s']:.0f}/s; NAT44-ED: {r['nat_plugin']}")
        print(f"  up: {r['entries_up']} server-map entries; heap (ALG + NAT44-ED) "
              f"{r['heap_per_call']:.0f} B per call; ALG state {r['alg_per_call']:.0f} B per call")
        print(f"  INVITEs' c= {r['sdp_c']}; signaling from {r['signaling']}; INVITEs sent "
              f"per round {r['invite_rounds']}")
        print(f"  {r['media_in_use']}; main heap {r['heap_up'] / 2 ** 20:.0f} MB used of "
              f"{r['heap']}, VPP RSS {r['rss_up'] / 2 ** 20:.0f} MB")
        print("  " + r["alg_memory"].strip().replace("\n", "\n  "))
        print("  main thread, after setup:\n    " +
              r["main_thread_setup"].strip().replace("\n", "\n    "))
        print("  main thread, after teardown:\n    " +
              r["main_thread"].strip().replace("\n", "\n    "))
        print(f"  counters: {r['counters']}")
        if r["left_5s"]:
            print(f"  {LEFT_AFTER:.0f} s after the BYEs: {r['left_5s'][0]} calls open, "
                  f"{r['left_5s'][1]} server-map entries")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    outlived = [r["calls"] for r in out
                if r.get("left_5s") and not r["left_5s"][0] and r["left_5s"][1]]
    if outlived:
        sys.exit(f"entries outlived their calls (runs of {outlived} calls): "
                 "`left_5s` in the JSON")


if __name__ == "__main__":
    main()
