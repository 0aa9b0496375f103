# SPDX-License-Identifier: Apache-2.0
"""Impaired links for the tier 2 topology (topo.py): loss, duplication, reordering and delay
jitter on the test's own veths, and what is needed to read a run of calls over them.

  Nft(t, ns, dev, loss=N, dup=M)  nftables in namespace ns, on its end dev of the veth to
      VPP (a netdev table of its own, deleted on exit):
        egress (towards VPP):    numgen random mod 100 < N drop, then
                                 numgen random mod 100 < M dup to dev (each copy once: a mark)
        ingress (from VPP):      numgen random mod 100 < N drop
      IPv4 UDP only (ARP and pings pass). A capture on dev (tcpdump in ns) sees what left
      after the egress drop and what arrived before the ingress drop: exactly what VPP got
      from that side and what VPP sent to it.
  RelayTopo(..., jitter=ms, late=%, late_ms=(lo, hi))  the topology with a hop on each link:
      host end <-veth-> h0 [namespace sipalg-hop<in|out>-...] h1 <-veth-> VPP end, where a
      small userspace relay (relay_main, two AF_PACKET sockets, standard library only)
      passes every frame on after a random delay of 0..jitter ms, and late % of them after
      lo..hi ms more: frames overtake each other (reordering) and some arrive after the
      sender's retransmission timer (T1, 500 ms) fired. Bounded: frames in flight
      (max_queue; past it frames pass at once), lifetime (seconds), one read burst per
      socket per turn. A capture on h1 sees what VPP gets and sends (capture_point).
  read_pcap(path)  the IPv4 UDP packets of a tcpdump file, without scapy (runs of many calls).
  sip_info(payload), SipLog(path)  SIP messages as the captures and sipp's -trace_msg show them.

Only the namespaces, veths and processes of the test are touched; the relay runs in its
hop namespace and ends on SIGTERM or after its lifetime.
"""

import functools
import heapq
import json
import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import time

TABLE = "sipalg_impair"
DUP_MARK = 0x1D  # a copy made by dup goes through egress again: not copied twice


def nft_ruleset(dev, loss=0, dup=0):
    """The netdev table for dev: loss % dropped each way, dup % of what leaves copied."""
    udp = "meta protocol ip ip protocol udp"
    eg, ig = [], []
    if loss:
        eg.append(f"{udp} numgen random mod 100 < {int(loss)} counter drop")
        ig.append(f"{udp} numgen random mod 100 < {int(loss)} counter drop")
    if dup:
        eg.append(f"{udp} meta mark != {DUP_MARK:#x} numgen random mod 100 < {int(dup)} "
                  f"meta mark set {DUP_MARK:#x} counter dup to \"{dev}\"")
    chains = []
    for name, hook, rules in (("egress", "egress", eg), ("ingress", "ingress", ig)):
        if rules:
            body = "\n".join("    " + r for r in rules)
            chains.append(f"  chain {name} {{\n    type filter hook {hook} device \"{dev}\" "
                          f"priority 0; policy accept;\n{body}\n  }}")
    return f"table netdev {TABLE} {{\n" + "\n".join(chains) + "\n}\n"


class Nft:
    """Loss and duplication on one veth end (see the module's doc). Use as a context
    manager; counters() reads what the rules did (before the exit deletes them)."""

    def __init__(self, t, ns, dev, loss=0, dup=0):
        self.t, self.ns, self.dev, self.loss, self.dup = t, ns, dev, loss, dup
        self.last = None

    def __enter__(self):
        if self.loss or self.dup:
            r = subprocess.run(["ip", "netns", "exec", self.ns, "nft", "-f", "-"],
                               input=nft_ruleset(self.dev, self.loss, self.dup),
                               capture_output=True, text=True, timeout=10)
            if r.returncode:
                raise RuntimeError(f"nft in {self.ns}: {r.stderr}")
        return self

    def counters(self):
        """{"egress drop": n, "egress dup": n, "ingress drop": n} packets so far."""
        out = {}
        if not (self.loss or self.dup):
            return out
        r = subprocess.run(["ip", "netns", "exec", self.ns, "nft", "-j", "list", "table",
                            "netdev", TABLE], capture_output=True, text=True, timeout=10)
        if r.returncode:
            return self.last or out
        for item in json.loads(r.stdout).get("nftables", []):
            rule = item.get("rule")
            if not rule:
                continue
            n = next((e["counter"]["packets"] for e in rule["expr"] if "counter" in e), 0)
            kind = "dup" if any("dup" in e for e in rule["expr"]) else "drop"
            out[f"{rule['chain']} {kind}"] = n
        self.last = out
        return out

    def __exit__(self, *exc):
        if self.loss or self.dup:
            self.counters()
            subprocess.run(["ip", "netns", "exec", self.ns, "nft", "delete", "table", "netdev",
                            TABLE], capture_output=True, timeout=10)


# --- the relay ---------------------------------------------------------------------------

ETH_P_ALL, SOL_PACKET, PACKET_IGNORE_OUTGOING, PACKET_OUTGOING = 3, 263, 23, 4


def relay_main(argv):
    """relay A B: frames between interfaces A and B (both ways), each after a random delay.
    Options: --jitter ms, --late %, --late-ms lo,hi, --seconds s, --max-queue n, --seed n,
    --stats file (JSON, rewritten at most once a second and at the end)."""
    import argparse
    ap = argparse.ArgumentParser(prog="impair relay")
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--jitter", type=float, default=0.0)
    ap.add_argument("--late", type=float, default=0.0)
    ap.add_argument("--late-ms", default="300,700")
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--max-queue", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--stats", default=None)
    o = ap.parse_args(argv)
    late_lo, late_hi = (float(x) for x in o.late_ms.split(","))
    rnd = random.Random(o.seed)
    socks = {}
    for name in (o.a, o.b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        except OSError:
            pass  # older kernels: outgoing frames are skipped by their type below
        s.bind((name, 0))
        s.setblocking(False)
        socks[name] = s
    other = {o.a: o.b, o.b: o.a}
    st = {"frames": {o.a: 0, o.b: 0}, "late": 0, "reordered": 0, "overflow": 0,
          "max_queue_seen": 0, "max_delay_ms": 0.0}
    arrival = {o.a: 0, o.b: 0}   # frames received per input, numbered in arrival order
    sent_max = {o.a: -1, o.b: -1}  # highest arrival number passed on, per input
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    heap, seq = [], 0
    deadline = time.monotonic() + o.seconds
    last_stats = 0.0

    def write_stats():
        if o.stats:
            tmp = o.stats + ".tmp"
            with open(tmp, "w") as f:
                json.dump(st, f)
            os.replace(tmp, o.stats)

    def send(src, n, frame):
        try:
            socks[other[src]].send(frame)
        except OSError:
            return
        st["frames"][src] += 1
        if n < sent_max[src]:
            st["reordered"] += 1
        sent_max[src] = max(sent_max[src], n)

    while not stop and time.monotonic() < deadline:
        now = time.monotonic()
        wait = min(0.2, max(0.0, heap[0][0] - now)) if heap else 0.2
        try:
            ready, _, _ = select.select(list(socks.values()), [], [], wait)
        except InterruptedError:
            continue
        now = time.monotonic()
        for s in ready:
            name = next(k for k, v in socks.items() if v is s)
            for _ in range(256):  # one bounded burst per socket and turn
                try:
                    frame, addr = s.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                n = arrival[name]
                arrival[name] += 1
                if len(heap) >= o.max_queue:
                    st["overflow"] += 1
                    send(name, n, frame)
                    continue
                delay = rnd.uniform(0.0, o.jitter)
                if o.late and rnd.uniform(0.0, 100.0) < o.late:
                    delay += rnd.uniform(late_lo, late_hi)
                    st["late"] += 1
                st["max_delay_ms"] = max(st["max_delay_ms"], round(delay, 1))
                heapq.heappush(heap, (now + delay / 1000.0, seq, name, n, frame))
                seq += 1
                st["max_queue_seen"] = max(st["max_queue_seen"], len(heap))
        now = time.monotonic()
        while heap and heap[0][0] <= now:
            _, _, name, n, frame = heapq.heappop(heap)
            send(name, n, frame)
        if now - last_stats >= 1.0:
            write_stats()
            last_stats = now
    for _, _, name, n, frame in sorted(heap):  # what is still in flight leaves now
        send(name, n, frame)
    write_stats()
    return 0


def relay_command(*args):
    """The command line that runs relay_main(args) with this interpreter."""
    return [sys.executable, os.path.abspath(__file__), "relay", *[str(a) for a in args]]


@functools.cache
def _relay_topo_class():
    from topo import Topo, sh

    class RelayTopo(Topo):
        """Topo with a hop namespace on each link, where relay_main delays the frames of
        both directions (see the module's doc). stats(side) reads a relay's counters."""

        def __init__(self, prefix, jitter=0.0, late=0.0, late_ms=(300, 700), seconds=900,
                     **kw):
            super().__init__(prefix, **kw)
            self.relay_args = ["--jitter", jitter, "--late", late, "--late-ms",
                               f"{late_ms[0]},{late_ms[1]}", "--seconds", seconds]
            self.hops, self.stats_files, self.hop_ns = [], {}, {}

        def _link(self, host, vpp_end, ns):
            hop = ns.replace("sipalg-", "sipalg-hop", 1)
            side = "in" if ns == self.ns_in else "out"
            sh("ip", "netns", "del", hop, check=False)
            sh("ip", "netns", "add", hop)
            self.hops.append(hop)
            self.hop_ns[side] = hop
            # the hop forwards nothing itself and says nothing (no IPv6 on its veths)
            self.run_in(hop, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
            self.run_in(hop, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            sh("ip", "link", "add", host, "netns", ns, "type", "veth", "peer", "name", "h0",
               "netns", hop)
            sh("ip", "link", "add", vpp_end, "type", "veth", "peer", "name", "h1", "netns",
               hop)
            for dev in ("h0", "h1"):
                self.run_in(hop, "ip", "link", "set", dev, "promisc", "on", "up")
            sh("ip", "link", "set", vpp_end, "up")
            self.run_in(ns, "ip", "link", "set", host, "up")
            self.run_in(ns, "ethtool", "-K", host, "tx", "off")
            stats = os.path.join(self.vpp.dir, f"relay-{side}.json")
            self.stats_files[side] = stats
            self.popen_in(hop, *relay_command("h0", "h1", *self.relay_args, "--stats", stats),
                          log=os.path.join(self.vpp.dir, f"relay-{side}.log"))

        def capture_point(self, side):
            """Where to capture what VPP gets and sends on side ("in", "out"): the hop's
            veth to VPP, behind the relay's delays."""
            return self.hop_ns[side], "h1"

        def stats(self, side):
            try:
                with open(self.stats_files[side]) as f:
                    return json.load(f)
            except (KeyError, OSError, ValueError):
                return None

        def __exit__(self, *exc):
            try:
                return super().__exit__(*exc)
            finally:
                for hop in self.hops:
                    sh("ip", "netns", "del", hop, check=False)

    return RelayTopo


def __getattr__(name):
    # RelayTopo needs topo (and through it the VPP harness); the relay process does not
    if name == "RelayTopo":
        return _relay_topo_class()
    raise AttributeError(name)


# --- reading a run ------------------------------------------------------------------------

class Pkt:
    __slots__ = ("time", "src", "sport", "dst", "dport", "payload")

    def __init__(self, t, src, sport, dst, dport, payload):
        self.time, self.src, self.sport, self.dst, self.dport = t, src, sport, dst, dport
        self.payload = payload


def read_pcap(path):
    """The IPv4 UDP packets (first fragments) of a pcap file of Ethernet frames."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        end = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        end = ">"
    else:
        raise ValueError(f"{path}: not a pcap file")
    frac = 1e9 if magic in (0xA1B23C4D, 0x4D3CB2A1) else 1e6
    if struct.unpack(end + "I", data[20:24])[0] != 1:
        raise ValueError(f"{path}: not Ethernet")
    out, off = [], 24
    while off + 16 <= len(data):
        sec, sub, caplen, _ = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        frame = data[off:off + caplen]
        off += caplen
        if len(frame) < caplen or len(frame) < 42 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        if ip[0] >> 4 != 4 or ip[9] != 17 or struct.unpack("!H", ip[6:8])[0] & 0x1FFF:
            continue
        ihl = (ip[0] & 15) * 4
        udp = ip[ihl:struct.unpack("!H", ip[2:4])[0]]
        if len(udp) < 8:
            continue
        sport, dport, ulen = struct.unpack("!HHH", udp[:6])
        out.append(Pkt(sec + sub / frac, socket.inet_ntoa(ip[12:16]), sport,
                       socket.inet_ntoa(ip[16:20]), dport, bytes(udp[8:ulen])))
    return out


def rtp_seq(payload):
    """An RTP packet's sequence number, or None."""
    if len(payload) >= 12 and payload[0] >> 6 == 2:
        return struct.unpack("!H", payload[2:4])[0]
    return None


_FIRST = re.compile(rb"^(?:SIP/2\.0 \d{3}|[A-Z]+ \S+ SIP/2\.0)")


def sip_info(payload):
    """(first line, Call-ID, (CSeq number, method)) of a SIP message, or None."""
    if not _FIRST.match(payload):
        return None
    head = payload.split(b"\r\n\r\n", 1)[0]
    first = head.split(b"\r\n", 1)[0].decode(errors="replace")
    cid = re.search(rb"^(?:Call-ID|i)\s*:\s*(\S+)", head, re.M | re.I)
    cseq = re.search(rb"^CSeq\s*:\s*(\d+)\s+(\w+)", head, re.M | re.I)
    return (first, cid.group(1).decode(errors="replace") if cid else None,
            (int(cseq.group(1)), cseq.group(2).decode()) if cseq else None)


def _stamp(text):
    """sipp's local time stamp (2026-01-31 12:00:00.123456) as seconds since the epoch."""
    whole, _, frac = text.partition(".")
    return time.mktime(time.strptime(whole, "%Y-%m-%d %H:%M:%S")) + float("0." + (frac or "0"))


class SipLog:
    """A sipp message log (-trace_msg): per message, its time (seconds since the epoch),
    sent or received, first line, Call-ID and CSeq."""

    BLOCK = re.compile(r"^-{20,} (\S+ \S+)\n(\w+) message (sent|received)[^\n]*\n\n(.*?)"
                       r"(?=^-{20,} |\Z)", re.M | re.S)

    def __init__(self, path):
        self.msgs = []
        text = open(path, errors="replace").read() if os.path.exists(path) else ""
        text = text.replace("\r\n", "\n")
        for m in self.BLOCK.finditer(text):
            info = sip_info(m.group(4).strip("\n").replace("\n", "\r\n").encode())
            if info:
                self.msgs.append((_stamp(m.group(1)), m.group(3), *info))

    def call_ids(self):
        """Call-IDs in the order of their first message."""
        seen = []
        for _, _, _, cid, _ in self.msgs:
            if cid and cid not in seen:
                seen.append(cid)
        return seen

    def of(self, cid):
        return [m for m in self.msgs if m[3] == cid]

    def when(self, cid, way, start, cseq_method=None):
        """When call cid first had a message sent/received (way) whose first line starts
        with start (and whose CSeq method is cseq_method), or None."""
        return next((m[0] for m in self.of(cid) if m[1] == way and m[2].startswith(start) and
                     (cseq_method is None or (m[4] and m[4][1] == cseq_method))), None)

    def has(self, cid, way, start, cseq_method=None):
        return self.when(cid, way, start, cseq_method) is not None


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "relay":
        sys.exit(relay_main(sys.argv[2:]))
    sys.exit("usage: impair.py relay A B [options]")
