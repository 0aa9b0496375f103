# SPDX-License-Identifier: Apache-2.0
"""Captures, readiness waits and media counts of the e2e tier.

- Capture: tcpdump on an interface of a namespace, ready once it says it listens; stop()
  fails when it died or the kernel dropped packets, packets() when the file does not hold
  what tcpdump counted. finish(caps) lets the last packets land, stops them, and returns
  their packets.
- wait_for(what, cond, timeout); wait_listening(t, ns, proc, sockets): until a process
  (sipp, Kamailio, a test server) has bound its sockets in a namespace, as `ss` shows them;
  kamailio(t, ns, tmp, cfg): Kamailio started, returned once it listens on every socket of
  its configuration's listen= lines.
- RTP: rtp_seqs(pkts, src, dst, before) (the RTP sequence numbers of a flow in a capture),
  assert_flow (at least FLOOR of what sipp's g711a.pcap plays in a scenario's talk time was
  sent, at least SHARE of it arrived), assert_silent (exactly nothing, in a capture that
  shows the call's signaling from its INVITE to its BYE); talk_seconds(scenario) and
  g711_packets(seconds): what a sipp scenario plays.

Every wait is bounded in time."""

import functools
import os
import re
import struct
import time

G711 = "/usr/share/sip-tester/g711a.pcap"
SHARE = 0.9  # of the RTP sent one way, what must arrive where media flow
FLOOR = 0.9  # of what the scenario plays before its BYE, what the sender must have sent


def wait_for(what, cond, timeout, step=0.1):
    """Until cond() is true (returns its value), at most timeout seconds."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(step)


# ---------------------------------------------------------------------------------------
# captures


class Capture:
    """tcpdump on iface in namespace ns, writing path; returns once tcpdump listens."""

    def __init__(self, t, ns, iface, path, bpf="udp", timeout=10):
        self.path, self.log, self.iface = path, path + ".log", iface
        self.captured = None
        # immediate mode: each packet handed over (and, -U, written) as it comes, so that
        # the file is complete when the test stops it
        self.proc = t.popen_in(ns, "tcpdump", "-i", iface, "--immediate-mode", "-U", "-n",
                               "-s", "0", "-w", path, bpf, log=self.log)
        wait_for(f"tcpdump on {iface} listening",
                 lambda: self.proc.poll() is not None or "listening on" in self._log(), timeout)
        assert self.proc.poll() is None, f"tcpdump on {iface} exited: {self._log()}"

    def _log(self):
        return open(self.log, errors="replace").read() if os.path.exists(self.log) else ""

    def size(self):
        return os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def stop(self):
        """Stops the capture; it must have run all along and the kernel dropped nothing."""
        assert self.proc.poll() is None, f"tcpdump on {self.iface} died during the test: " \
                                         f"{self._log()}"
        self.proc.terminate()
        self.proc.wait(5)
        log = self._log()
        m = re.search(r"(\d+) packets? captured\s+(\d+) packets? received by filter\s+"
                      r"(\d+) packets? dropped by kernel", log)
        assert m, f"no statistics from tcpdump on {self.iface}: {log}"
        self.captured, received, dropped = map(int, m.groups())
        assert dropped == 0 and self.captured == received, \
            f"the capture on {self.iface} lost packets: {log}"

    def packets(self):
        """The packets of the stopped capture (scapy), as many as tcpdump says it wrote."""
        from scapy.all import rdpcap
        assert self.captured is not None, "packets() of a capture not stopped"
        assert os.path.exists(self.path), f"no capture file {self.path}"
        pkts = list(rdpcap(self.path)) if self.captured else []
        assert len(pkts) == self.captured, \
            f"{self.path}: {len(pkts)} packets, tcpdump wrote {self.captured}"
        return pkts


def settle(caps, quiet=0.3, timeout=3.0):
    """Until no capture of caps has grown for `quiet` seconds (the last packets in flight
    have landed), at most timeout seconds."""
    deadline = time.time() + timeout
    sizes = [c.size() for c in caps]
    since = time.time()
    while time.time() < deadline:
        time.sleep(0.05)
        now = [c.size() for c in caps]
        if now != sizes:
            sizes, since = now, time.time()
        elif time.time() - since >= quiet:
            return


def finish(caps):
    """The user agents are done: let the last packets land, stop every capture of caps
    (each must have run all along), return the packets of each, in order."""
    settle(caps)
    for c in caps:
        c.stop()
    return [c.packets() for c in caps]


# ---------------------------------------------------------------------------------------
# readiness


def listening(t, ns, proto):
    """The local endpoints ("addr:port") of the sockets bound for proto (udp, tcp:
    listening) in namespace ns."""
    out = t.run_in(ns, "ss", "-Hln" + {"udp": "u", "tcp": "t"}[proto], check=False).stdout
    return {line.split()[3] for line in out.splitlines() if len(line.split()) > 3}


def wait_listening(t, ns, proc, sockets, what, log=None, timeout=15):
    """Until process proc has bound every (proto, addr, port) of sockets in namespace ns
    (what: its name in the error; log: its output, shown when it exited)."""
    def bound():
        if proc.poll() is not None:
            tail = open(log, errors="replace").read()[-2000:] if log and os.path.exists(log) \
                else ""
            raise AssertionError(f"{what} exited ({proc.returncode}) before it listened\n"
                                 f"{tail}")
        have = {p: listening(t, ns, p) for p in {s[0] for s in sockets}}
        return all(f"{a}:{port}" in have[p] or f"0.0.0.0:{port}" in have[p] or
                   f"*:{port}" in have[p] for p, a, port in sockets)
    wait_for(f"{what} listening on {sockets}", bound, timeout, 0.05)


LISTEN = re.compile(r"^listen=(udp|tcp):([\d.]+):(\d+)\s*$", re.M)


def kamailio(t, ns, tmp, cfg):
    """Kamailio in namespace ns with the configuration text cfg (written to
    tmp/kamailio.cfg, its output in tmp/kamailio.log); returns its process once it listens
    on every socket of cfg's listen= lines (what comes before its children run waits in
    those sockets)."""
    path = os.path.join(tmp, "kamailio.cfg")
    with open(path, "w") as f:
        f.write(cfg)
    log = os.path.join(tmp, "kamailio.log")
    p = t.popen_in(ns, "kamailio", "-f", path, "-P", os.path.join(tmp, "kam.pid"), "-Y", tmp,
                   "-w", tmp, "-DD", "-E", log=log)
    sockets = [(proto, a, int(port)) for proto, a, port in LISTEN.findall(cfg)]
    assert sockets, "no listen= line in Kamailio's configuration"
    wait_listening(t, ns, p, sockets, "Kamailio", log)
    return p


def sipp_sockets(args, default_port=5060):
    """What a sipp started with args binds for its SIP: (proto, -i address, -p port)."""
    args = list(args)
    at = lambda flag, dflt=None: args[args.index(flag) + 1] if flag in args else dflt
    proto = "tcp" if at("-t", "u1").startswith("t") else "udp"
    return [(proto, at("-i", "0.0.0.0"), int(at("-p", default_port)))]


# ---------------------------------------------------------------------------------------
# what sipp plays, what the captures hold


@functools.lru_cache(maxsize=None)
def _g711_offsets():
    from scapy.all import rdpcap
    pkts = rdpcap(G711)
    return [float(p.time - pkts[0].time) for p in pkts]


def g711_packets(seconds):
    """How many RTP packets sipp's play_pcap_audio of g711a.pcap sends in its first
    seconds (the pcap's own timing: 236 packets over 7.05 s)."""
    return sum(1 for x in _g711_offsets() if x < seconds)


PAUSE = re.compile(r'<pause milliseconds="(\d+)"/>')


def pause_before(xml, start):
    """Seconds of the last <pause> before the first <send> of a message starting with start
    (e.g. "BYE ") in scenario text xml; None when the scenario sends no such message."""
    m = re.search(r"<send[^>]*>\s*<!\[CDATA\[\s*" + re.escape(start), xml)
    if not m:
        return None
    pauses = PAUSE.findall(xml[:m.start()])
    assert pauses, f"no pause before the {start!r} of the scenario"
    return int(pauses[-1]) / 1000


def pause_before_play(xml):
    """Seconds of the <pause> right before the play_pcap_audio of scenario text xml (0 when
    the play does not follow a pause): how long it waits before it plays."""
    head = xml[:xml.index("play_pcap_audio=")]
    m = list(PAUSE.finditer(head))
    if not m or re.search(r"<(?:send|recv)\b", head[m[-1].end():]):
        return 0.0
    return int(m[-1].group(1)) / 1000


def pause_after_play(xml):
    """Seconds of the first <pause> after the play_pcap_audio of scenario text xml: how long
    it plays before it goes on (e.g. to its 200 OK after early media)."""
    i = xml.index("play_pcap_audio=")
    m = PAUSE.search(xml, i)
    assert m, "no pause after the scenario's play_pcap_audio"
    return int(m.group(1)) / 1000


def talk_seconds(*xmls):
    """How long a call of the scenarios xmls (paths or texts) talks before its BYE: the
    pause before the BYE, in the scenario that sends it (media start with the ACK before
    that pause)."""
    for x in xmls:
        text = open(x).read() if not x.lstrip().startswith("<") else x
        s = pause_before(text, "BYE ")
        if s is not None:
            return s
    raise AssertionError("none of the scenarios sends a BYE")


def rtp_seq(payload):
    """The sequence number of an RTP packet (version 2), or None."""
    if len(payload) >= 12 and payload[0] >> 6 == 2:
        return struct.unpack("!H", payload[2:4])[0]
    return None


def udp(pkts, src=None, dst=None, before=None):
    """The UDP packets of pkts from src and to dst (each (address, port), (address, None)
    or None for any) captured before the time before (when given)."""
    from scapy.all import IP, UDP
    out = []
    for p in pkts:
        if IP not in p or UDP not in p:
            continue
        if before is not None and float(p.time) >= before:
            continue
        ip, u = p[IP], p[UDP]
        if src and (ip.src != src[0] or src[1] is not None and u.sport != src[1]):
            continue
        if dst and (ip.dst != dst[0] or dst[1] is not None and u.dport != dst[1]):
            continue
        out.append(p)
    return out


def rtp_seqs(pkts, src=None, dst=None, before=None):
    """The RTP sequence numbers of udp(pkts, src, dst, before)."""
    from scapy.all import UDP
    seqs = (rtp_seq(bytes(p[UDP].payload)) for p in udp(pkts, src, dst, before))
    return {s for s in seqs if s is not None}


def sip_payloads(pkts):
    """(time, payload) of every UDP and TCP packet of pkts whose payload starts like a SIP
    message."""
    from scapy.all import IP, TCP, UDP
    out = []
    for p in pkts:
        if IP not in p:
            continue
        l4 = p[UDP] if UDP in p else p[TCP] if TCP in p else None
        if l4 is None:
            continue
        data = bytes(l4.payload)
        if re.match(rb"(?:[A-Z]+ sip:\S+ SIP/2\.0|SIP/2\.0 \d\d\d )", data):
            out.append((float(p.time), data))
    return out


def first_sip(pkts, start, since=None):
    """When the first SIP message starting with start (bytes) was captured (at or after the
    time since, when given), or None."""
    return next((tm for tm, d in sip_payloads(pkts) if d.startswith(start) and
                 (since is None or tm >= since)), None)


def call_bye(*captures, since=None):
    """When the call's first BYE was captured (the earliest of captures; the first at or
    after the time since, when given), or None."""
    times = [tm for c in captures for tm in [first_sip(c, b"BYE ", since)] if tm is not None]
    return min(times) if times else None


def assert_flow(what, sent, got, floor):
    """Media flowed one way: the sender sent at least floor packets (sent: their RTP
    sequence numbers, from the sender's side of VPP) and at least SHARE of them arrived
    (got: those seen on the receiver's side). Returns (sent, arrived)."""
    arrived = len(sent & got)
    assert len(sent) >= floor, \
        f"{what}: {len(sent)} RTP packets sent, the scenario plays at least {floor}"
    assert arrived >= SHARE * len(sent), \
        f"{what}: {arrived} of {len(sent)} RTP packets sent arrived (< {SHARE:.0%})"
    return len(sent), arrived


def floor(seconds):
    """What a sender must have sent of g711a.pcap when it talked for seconds."""
    return int(FLOOR * g711_packets(seconds))


def assert_silent(what, pkts, seen):
    """Exactly none of pkts (the packets that must not be there) in a capture whose packets
    seen hold the call's signaling from its INVITE to its BYE: the capture ran all along
    the call and saw it."""
    assert first_sip(seen, b"INVITE ") is not None and first_sip(seen, b"BYE ") is not None, \
        f"{what}: the capture does not show the call's INVITE and BYE: it saw nothing of it"
    assert len(pkts) == 0, f"{what}: {len(pkts)} packets, want none: " \
                           f"{[p.summary() for p in pkts[:5]]}"
