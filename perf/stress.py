#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Hostile load on the plugin in a real VPP (issue 13): the packet generator plays

  mutate  N mutated SIP datagrams (from the fuzz corpus: RFC 4475, captures, fuzzer finds;
          byte flips, cuts, splices, repeated headers, huge numbers, bare LFs, ...) from 64
          inside hosts and, one in ten, from outside to a REGISTER binding's pinhole. VPP
          must answer after every batch; at the end, once the state they made has aged out,
          the buffers in use and the main heap are back where they were after a first
          batch (the baseline: hash tables keep their size).
  soak    N whole calls (INVITE with SDP, 200 OK with SDP, ACK, BYE, 200 OK) in rounds;
          the server map and the call table empty after each round, and the main heap
          after the last round is where it was after the first. The calls and server-map
          dumps are read through the binary API at the round's peak (every call and entry
          once; the pages the dump took, continued on EAGAIN).
  flood   a call's RTP both ways at a fixed rate while an inside host sends INVITEs as
          fast as pg produces them (new Call-IDs: each wants a call record and three NAT44-ED
          static mappings), with and without an INVITE rate limit; then INVITEs from
          outside to a registered phone. RTP sent and delivered per direction, and the
          INVITEs that went through.

Every loop is bounded in packets and seconds. Usage:
  perf/stress.py [--parts mutate,soak,flood] [--mutations 1000000] [--calls 100000]
                 [--flood-seconds 5] [--workers 0] [--json FILE]
"""

import argparse
import glob
import json
import os
import random
import re
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "vpp"))

import vpp_harness as h  # noqa: E402
import sipmsgs as S  # noqa: E402
from pgnat import PgNat  # noqa: E402

sys.path.insert(0, HERE)
# the soak's phones are call_bench's: host(i), ports(i), cid(msg, i), PER_HOST of them a host
from call_bench import PER_HOST, cid, heap_used, host as call_host, ports as call_ports  # noqa
from call_bench import entries_in_use as n_entries, invites_out, read_pcap_udp  # noqa: E402

# --- packets without scapy (a million of them) --------------------------------------------


def _mac(s):
    return bytes.fromhex(s.replace(":", ""))


def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


class Frames:
    """Ethernet/IPv4/UDP frames for pg0 (inside) and pg1 (outside) of a PgNat."""

    def __init__(self, t):
        self.l2 = {"pg0": _mac(t.mac["pg0"]) + _mac(t.A_MAC) + b"\x08\x00",
                   "pg1": _mac(t.mac["pg1"]) + _mac(t.ROUTER_MAC) + b"\x08\x00"}

    def udp(self, iface, src, sport, dst, dport, payload):
        s, d = socket.inet_aton(src), socket.inet_aton(dst)
        ulen = 8 + len(payload)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0, 0, 64, 17, 0, s, d)
        ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        u = struct.pack("!HHHH", sport, dport, ulen, 0)
        c = _csum(s + d + struct.pack("!BBH", 0, 17, ulen) + u + payload) or 0xffff
        return self.l2[iface] + ip + u[:6] + struct.pack("!H", c) + payload


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)))
            f.write(fr)


# --- VPP readings ------------------------------------------------------------------------


def counter(v, iface, what):
    m = re.search(what + r"\s+(\d+)", v.cli(f"show interface {iface}"))
    return int(m.group(1)) if m else 0


def buffers_used(v):
    """Buffers not available (Total - Avail: in use or in per-thread caches), from
    `show buffers`, summed over pools."""
    used = 0
    for line in v.cli("show buffers").splitlines():
        f = line.split()
        if len(f) >= 9 and f[1].isdigit():
            used += int(f[5]) - int(f[6])
    return used


def n_calls(v):
    return int(re.search(r"call records (\d+)", v.cli("show sip-alg memory")).group(1))


def play(t, name, iface, frames, timeout=120.0, rate=None):
    """Send frames from iface (pg as fast as it goes, or rate pps); wait until all of them
    were received by pg (the interface's rx counter). Returns seconds."""
    v = t.vpp
    path = f"{v.dir}/{name}.pcap"
    write_pcap(path, frames)
    base = counter(v, iface, "rx packets")
    v.cli_ok(f"packet-generator new pcap {path} source {iface} name {name}" +
             (f" rate {rate}" if rate else ""))
    t0 = time.monotonic()
    v.cli_ok(f"packet-generator enable-stream {name}")
    while counter(v, iface, "rx packets") < base + len(frames):
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"{name}: not sent after {timeout} s")
        v.assert_alive()
        time.sleep(0.02)
    dt = time.monotonic() - t0
    v.cli_ok(f"packet-generator delete {name}")
    return dt


def wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not so after {timeout} s")
        time.sleep(0.2)


# --- mutate ------------------------------------------------------------------------------


def seeds():
    """The fuzz corpus (RFC 4475 torture messages, captures of sipp/Kamailio/baresip calls)
    and what the fuzzer found; the well-formed ones count three times."""
    corpus = sorted(glob.glob(os.path.join(ROOT, "tests", "fuzz", "corpus", "*")))
    found = sorted(glob.glob(os.path.join(ROOT, "tests", "fuzz", "found", "*")))
    out = [open(f, "rb").read() for f in corpus] * 3 + [open(f, "rb").read() for f in found]
    out += [S.invite(), S.register(), S.response(200, "OK", "INVITE", 1, S.PUB, 5060,
                                                 body=S.sdp(S.B, S.B_RTP))]
    return [d for d in out if 0 < len(d) <= 1300]


NUMBERS = re.compile(rb"\d+")


def mutate(rng, data, pool):
    """One mutation of data (bytes), 1 to 4 steps (mostly one, so that many still parse and
    reach the call state and the rewrite) of the kinds a hostile peer would try."""
    d = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 1, 1, 2, 2, 3, 4))):
        k = rng.randrange(10)
        n = len(d)
        if not n:
            d = bytearray(rng.choice(pool))
            continue
        i = rng.randrange(n)
        if k == 0:  # flip bytes
            for _ in range(rng.randint(1, 8)):
                d[rng.randrange(n)] = rng.randrange(256)
        elif k == 1:  # cut a span
            del d[i:i + rng.randint(1, 64)]
        elif k == 2:  # repeat a span
            j = min(n, i + rng.randint(1, 200))
            d[i:i] = d[i:j] * rng.randint(1, 8)
        elif k == 3:  # truncate
            del d[i:]
        elif k == 4:  # a huge or odd number
            ms = list(NUMBERS.finditer(d))
            if ms:
                m = rng.choice(ms)
                d[m.start():m.end()] = rng.choice([b"99999999999999999999", b"0", b"65536",
                                                   b"-1", b"4294967296", b"00000000001"])
        elif k == 5:  # line ends
            d = bytearray(bytes(d).replace(b"\r\n", rng.choice([b"\n", b"\r", b"\r\n\r\n"]), 3))
        elif k == 6:  # splice another message in
            o = rng.choice(pool)
            d[i:] = o[rng.randrange(len(o)):]
        elif k == 7:  # many copies of a header line
            line = rng.choice([b"Via: SIP/2.0/UDP 192.168.1.7:5060;branch=z9hG4bK-x\r\n",
                               b"Contact: <sip:a@192.168.1.7:5060>\r\n", b"m=audio 0 RTP/AVP 0\r\n",
                               b"c=IN IP4 192.168.1.7\r\n", b"Record-Route: <sip:p;lr>\r\n"])
            j = bytes(d).find(b"\r\n")
            d[j + 2 if j >= 0 else 0:j + 2 if j >= 0 else 0] = line * rng.randint(1, 120)
        elif k == 8:  # an address or port the ALG acts on
            d = bytearray(bytes(d).replace(b"192.168.1.1", rng.choice(
                [b"192.168.1.999", b"0.0.0.0", b"255.255.255.255", b"192.168.1.1:0",
                 b"[::1]", b"192.168.1.1:99999", b"192.168.1.2"]), 2))
        else:  # random bytes in
            d[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
    return bytes(d[:1400])


def register_binding(t, fr, host, port):
    """A 200 OK to host's REGISTER: its public port (a pinhole anyone outside may reach)."""
    v = t.vpp
    v.cli_ok(f"packet-generator capture pg1 pcap {v.dir}/reg.pcap count 1")
    play(t, "reg", "pg0", [fr.udp("pg0", host, port, S.PROXY, S.PROXY_PORT,
                                  S.register(a=host, a_port=port, expires=3600))])
    wait(lambda: os.path.exists(f"{v.dir}/reg.pcap") and read_pcap_udp(f"{v.dir}/reg.pcap"),
         5, "REGISTER out")
    pub = read_pcap_udp(f"{v.dir}/reg.pcap")[0][0]
    ok = S.register_ok(S.PUB, pub, expires=3600).replace(b"192.168.1.1", host.encode())
    play(t, "regok", "pg1", [fr.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub, ok)])
    return pub


def run_mutate(prefix, n, workers, batch=50000, seed=13, trace_memory=False):
    res = {"packets": n, "workers": workers}
    rng = random.Random(seed)
    pool = seeds()
    res["seeds"] = len(pool)
    hosts = [f"192.168.1.{10 + i}" for i in range(64)]
    with PgNat(prefix, workers=workers, sessions=200000) as t:
        v = t.vpp
        for hst in hosts:
            v.cli_ok(f"ip neighbor pg0 {hst} {t.A_MAC}")
        # short timers: what the mutants made ages out within seconds at the end
        v.cli_ok("set sip-alg timeouts signaling 3 media 3 call 6")
        v.cli_ok("set sip-alg security max-binding-time 4")
        fr = Frames(t)
        pub = register_binding(t, fr, hosts[0], 5060)
        sent, t0, base = 0, time.monotonic(), None
        heap0 = bufs0 = None
        while sent < n:
            k = min(batch, n - sent)
            frames = []
            for _ in range(k):
                m = mutate(rng, rng.choice(pool), pool)
                if rng.random() < 0.1:
                    frames.append(fr.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub, m))
                else:
                    # half from the address the seeds' own messages carry (S.A): rewritten
                    src = S.A if rng.random() < 0.5 else rng.choice(hosts)
                    frames.append(fr.udp("pg0", src, rng.choice((S.A_PORT, 5060)),
                                         S.PROXY, S.PROXY_PORT, m))
            inside = [f for f in frames if f[:14] == fr.l2["pg0"]]
            outside = [f for f in frames if f[:14] == fr.l2["pg1"]]
            play(t, f"m{sent}", "pg0", inside)
            play(t, f"o{sent}", "pg1", outside)
            sent += k
            v.assert_alive()
            if base is None:
                # the baseline: after one batch and its aging, hash tables at their size
                wait(lambda: n_calls(v) == 0 and n_entries(v) == 0, 60, "first batch aged")
                heap0, bufs0 = heap_used(v), buffers_used(v)
                base = sent
                if trace_memory:
                    v.cli("memory-trace on main-heap")
        res["seconds"] = round(time.monotonic() - t0, 1)
        wait(lambda: n_calls(v) == 0 and n_entries(v) == 0, 60, "state aged out")
        time.sleep(1)
        res["counters"] = {k: c for k, c in v.counters().items() if c}
        res["heap_baseline"], res["heap_end"] = heap0, heap_used(v)
        res["buffers_baseline"], res["buffers_end"] = bufs0, buffers_used(v)
        res["static_mappings_end"] = len(t.static_mappings())
        res["alive"] = "sip_alg" in v.cli("show plugins")
        if trace_memory:
            res["memory_trace"] = v.cli("show memory main-heap verbose")
    return res


# --- soak --------------------------------------------------------------------------------

def api_dump_pages(v, msg):
    """(details, replies) of a cursor *_get through the binary API, continued on EAGAIN."""
    from sipalgctl import vpp as V
    c = V.Client(os.path.join(v.dir, "api.sock"), V.installed_prefix(v.prefix),
                 plugin_path=h.PLUGIN_DIR, name="stress")
    with c:
        n, pages, cursor = 0, 0, 0
        for _ in range(100000):
            reply, details = getattr(c.vpp.api, msg)(cursor=cursor)
            n += len(details)
            pages += 1
            if reply.retval == 0:
                return n, pages
            assert reply.retval == V.Client.EAGAIN, reply
            cursor = reply.cursor
    raise RuntimeError(f"{msg}: more than 100000 pages")


def run_soak(prefix, n, rounds, workers, trace_memory=False):
    res = {"calls": n, "rounds": rounds, "workers": workers, "heap": [], "alg_bytes": [],
           "round_s": []}
    per = n // rounds
    with PgNat(prefix, workers=workers, sessions=max(4 * per, 10000)) as t:
        v = t.vpp
        for c in [f"set sip-alg max-calls {per + 100}", f"set sip-alg max-held {per}",
                  f"set sip-alg security max-entries {8 * per}",
                  "set sip-alg media-ports 20000-59999"]:
            v.cli_ok(c)
        for k in range(0, (per + PER_HOST - 1) // PER_HOST):
            v.cli_ok(f"ip neighbor pg0 {call_host(k * PER_HOST)} {t.A_MAC}")
        fr = Frames(t)
        heap0 = heap_used(v)
        for r in range(rounds):
            t0 = time.monotonic()
            ids = range(r * per, (r + 1) * per)
            hosts = {i: call_host(i - r * per) for i in ids}
            inv = {}
            for i in ids:
                sip, rtp = call_ports(i)
                inv[i] = fr.udp("pg0", hosts[i], sip, S.PROXY, S.PROXY_PORT,
                                cid(S.invite(a=hosts[i], a_port=sip, rtp=rtp), i))
            _, pub, moved = invites_out(t, f"inv{r}", inv, write_pcap)
            res["resent"] = res.get("resent", 0) + moved
            play(t, f"ok{r}", "pg1", [fr.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub[i], cid(
                S.response(200, "OK", "INVITE", 1, S.PUB, pub[i],
                           body=S.sdp(S.B, 4000 + 2 * (i % 1000))), i)) for i in ids], timeout=300)
            def requests(method, cseq):
                """method (in dialog) from each phone of the round"""
                return [fr.udp("pg0", hosts[i], call_ports(i)[0], S.PROXY, S.PROXY_PORT,
                               cid(S.request(method, hosts[i], call_ports(i)[0], cseq), i))
                        for i in ids]

            play(t, f"ack{r}", "pg0", requests("ACK", 1), timeout=300)
            if r == 0:
                time.sleep(1.5)
                res["calls_up"] = n_calls(v)
                res["entries_up"] = n_entries(v)
                res["calls_dump"] = api_dump_pages(v, "sip_alg_calls_get")
                res["server_map_dump"] = api_dump_pages(v, "sip_alg_server_map_get")
            play(t, f"bye{r}", "pg0", requests("BYE", 2), timeout=300)
            play(t, f"byeok{r}", "pg1", [fr.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub[i], cid(
                S.response(200, "OK", "BYE", 2, S.PUB, pub[i]), i)) for i in ids], timeout=300)
            wait(lambda: n_calls(v) == 0 and n_entries(v) == 0, 300, f"round {r} cleared")
            res["round_s"].append(round(time.monotonic() - t0, 1))
            if trace_memory and r == 0:
                # what the later rounds allocate and keep, by call site
                v.cli("memory-trace on main-heap")
            res["heap"].append(heap_used(v) - heap0)
            # the ALG's own state (allocated sizes), to tell its growth from NAT44-ED's
            res["alg_bytes"].append(int(re.search(r"total (\d+) bytes",
                                                  v.cli("show sip-alg memory")).group(1)))
            v.assert_alive()
        if trace_memory:
            res["memory_trace"] = v.cli("show memory main-heap verbose")
        c = v.counters()
        res["calls_created"], res["calls_closed"] = c["calls_created"], c["calls_closed"]
        res["static_mappings_end"] = len(t.static_mappings())
    return res


# --- flood -------------------------------------------------------------------------------

RTP_RATE = 5000  # pps each way


def adj_packets(v, via):
    """Packets sent through the adjacency towards next hop via (adjacency counters on)."""
    m = re.search(r"\[@(\d+)\] ipv4 via " + re.escape(via) + " ", v.cli("show adj"))
    if not m:
        return 0
    c = re.search(r"counts:\[(\d+):", v.cli(f"show adj {m.group(1)}"))
    return int(c.group(1)) if c else 0


def run_flood(prefix, seconds, workers, variant):
    """variant: none (RTP alone), inside, inside-limited, outside. RTP in (B -> A) and out
    (A -> B), and the flood's INVITEs that went through, are told apart by next hop: A
    192.168.1.1, B behind 203.0.113.3, the proxy behind 203.0.113.2, the phone the outside
    flood calls 192.168.1.60 (VPP's adjacency counters)."""
    res = {"variant": variant, "workers": workers, "seconds": seconds, "rtp_rate": RTP_RATE}
    with PgNat(prefix, workers=workers, sessions=200000) as t:
        v = t.vpp
        fr = Frames(t)
        flooder, callee = "192.168.1.50", "192.168.1.60"
        for c in [f"ip neighbor pg0 {flooder} {t.A_MAC}", f"ip neighbor pg0 {callee} {t.A_MAC}",
                  "ip neighbor pg1 203.0.113.3 02:00:00:00:03:03",
                  f"ip route add {S.B}/32 via 203.0.113.3 pg1", "adjacency counters enable"]:
            v.cli_ok(c)
        if variant == "inside-limited":
            v.cli_ok("set sip-alg validation invite-rate 10 burst 20")
        # the call whose media must survive
        v.cli_ok(f"packet-generator capture pg1 pcap {v.dir}/inv.pcap count 1")
        play(t, "inv", "pg0", [fr.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, S.invite())])
        wait(lambda: os.path.exists(f"{v.dir}/inv.pcap") and read_pcap_udp(f"{v.dir}/inv.pcap"),
             5, "INVITE out")
        sport, payload = read_pcap_udp(f"{v.dir}/inv.pcap")[0]
        rtp_pub = int(re.search(rb"m=audio (\d+) ", payload).group(1))
        play(t, "ok", "pg1", [fr.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, sport, S.response(
            200, "OK", "INVITE", 1, S.PUB, sport, body=S.sdp(S.B, S.B_RTP)))])
        play(t, "ack", "pg0", [fr.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT,
                                      S.request("ACK", S.A, S.A_PORT, 1))])
        pub = None
        if variant == "outside":
            pub = register_binding(t, fr, callee, 5060)
        time.sleep(0.5)
        rtp = b"\x80\x00" + b"\0" * 170
        n_rtp = RTP_RATE * seconds
        # RTP on the first worker, the flood on the last (with workers)
        w_rtp = " worker 0" if workers else ""
        w_flood = f" worker {workers - 1}" if workers else ""
        streams = []
        for name, iface, frame in [
                ("rtpin", "pg1", fr.udp("pg1", S.B, S.B_RTP, S.PUB, rtp_pub, rtp)),
                ("rtpout", "pg0", fr.udp("pg0", S.A, S.A_RTP, S.B, S.B_RTP, rtp))]:
            write_pcap(f"{v.dir}/{name}.pcap", [frame])
            v.cli_ok(f"packet-generator new pcap {v.dir}/{name}.pcap source {iface} name {name} "
                     f"rate {RTP_RATE} limit {n_rtp}{w_rtp}")
            streams.append(name)
        flood, iface, through = [], None, None
        if variant in ("inside", "inside-limited"):
            for i in range(20000):
                flood.append(fr.udp("pg0", flooder, 5060, S.PROXY, S.PROXY_PORT, cid(S.invite(
                    a=flooder, a_port=5060, rtp=30000 + 2 * (i % 1000)), 100000 + i)))
            iface, through = "pg0", "203.0.113.2"
        elif variant == "outside":
            for i in range(20000):
                hd = S.dialog(S.B, S.B_SIP, 1, "INVITE")
                hd[0] = f"Via: SIP/2.0/UDP {S.B}:{S.B_SIP};branch=z9hG4bK-f{i}"
                hd[3] = f"To: <sip:alice@{S.PUB}:{pub}>"
                hd[4] = f"Call-ID: f{i}@{S.B}"
                flood.append(fr.udp("pg1", S.B, S.B_SIP, S.PUB, pub, S.message(
                    f"INVITE sip:alice@{S.PUB}:{pub} SIP/2.0", hd, S.sdp(S.B, S.B_RTP))))
            iface, through = "pg1", callee
        if flood:
            write_pcap(f"{v.dir}/flood.pcap", flood)
            # as fast as pg goes, bounded by count and by the RTP's duration (disabled then)
            v.cli_ok(f"packet-generator new pcap {v.dir}/flood.pcap source {iface} name flood "
                     f"limit {200 * len(flood)}{w_flood}")
            streams.append("flood")
        adj0 = {a: adj_packets(v, a) for a in (S.A, "203.0.113.3", "203.0.113.2", callee)}
        rx0 = counter(v, iface, "rx packets") if flood else 0
        v.cli_ok("clear runtime")
        t0 = time.monotonic()
        v.cli_ok("packet-generator enable-stream")
        time.sleep(seconds + 1.0)
        # the CLI may wait under the flood (the main thread's share): how long, bounded
        for _ in range(10):
            try:
                v.cli("packet-generator disable-stream")
                break
            except Exception:  # vppctl's 30 s timeout
                v.assert_alive()
        res["elapsed"] = round(time.monotonic() - t0, 2)
        time.sleep(0.5)
        adj = {a: adj_packets(v, a) - adj0[a] for a in adj0}
        res["rtp_sent_each_way"] = n_rtp
        res["rtp_in_delivered"] = adj[S.A]
        res["rtp_out_delivered"] = adj["203.0.113.3"]
        res["flood_sent"] = counter(v, iface, "rx packets") - rx0 - n_rtp if flood else 0
        res["flood_through"] = adj[through] if flood else 0
        c = v.counters()
        res["counters"] = {k: x for k, x in c.items() if x}
        for s_ in streams:
            v.cli(f"packet-generator delete {s_}")
        res["drops"] = [l.strip() for l in v.cli("show errors").splitlines()
                        if "drop" in l.lower() or "congestion" in l.lower()][:12]
        res["alive"] = "sip_alg" in v.cli("show plugins")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="mutate,soak,flood")
    ap.add_argument("--mutations", type=int, default=1000000)
    ap.add_argument("--calls", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--flood-seconds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--trace-memory", action="store_true",
                    help="mutate, soak: trace the main heap's allocations after the first "
                    "batch or round")
    ap.add_argument("--json")
    a = ap.parse_args()
    prefix, why = h.find_vpp()
    if not prefix:
        sys.exit(why)
    out = {}
    parts = a.parts.split(",")
    if "mutate" in parts:
        out["mutate"] = run_mutate(prefix, a.mutations, a.workers,
                                   trace_memory=a.trace_memory)
        print(json.dumps(out["mutate"], indent=1), flush=True)
    if "soak" in parts:
        out["soak"] = run_soak(prefix, a.calls, a.rounds, a.workers, a.trace_memory)
        print(json.dumps(out["soak"], indent=1), flush=True)
    if "flood" in parts:
        out["flood"] = [run_flood(prefix, a.flood_seconds, a.workers, var)
                        for var in ("none", "inside", "inside-limited", "outside")]
        print(json.dumps(out["flood"], indent=1), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
