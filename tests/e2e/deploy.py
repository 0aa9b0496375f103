# SPDX-License-Identifier: Apache-2.0
"""Helpers of the deployment tests (issue 14, items 1 and 2), on the topology of topo.py:

- a SIP server inside behind a NAT44-ED static mapping: the PBX (a sipp user agent) at
  192.168.1.5:5060, published as 203.0.113.10:5060 over UDP and TCP
  (test_deploy_pbx.py, test_deploy_examples.py);
- hairpin: two inside phones, 192.168.1.1 and 192.168.1.3, registered with the outside
  Kamailio registrar, call each other through it; their media hairpins through NAT44-ED
  (test_deploy_hairpin.py, test_deploy_examples.py);
- an example of mgmt/examples brought up by `sipalgctl up` on the topology's veths
  (ExampleTopo: test_deploy_examples.py, test_deploy_output_feature.py)."""

import os
import re
import time

import yaml

import vpp_harness as h
from capture import (Capture, assert_flow, assert_silent, call_bye, finish, floor,
                     pause_before_play, rtp_seqs, sipp_sockets, talk_seconds, wait_listening)
from capture import kamailio as start_kamailio
from test_call import HERE
from topo import Topo, ctl

PBX = "192.168.1.5"  # the SIP server inside, published on the NAT address's port 5060
PHONE3 = "192.168.1.3"  # the second inside phone of the hairpin (the first is Topo.A)
PHONE_SIP, PHONE_RTP = 2000, 6000
REGISTRAR_CFG = os.path.join(HERE, "..", "data", "kamailio-registrar.cfg.in")
PROXY_CFG = os.path.join(HERE, "..", "data", "kamailio.cfg.in")
# uac.xml's call, shorter: 3 s of media after the ACK instead of 6 s
SHORT = (('<pause milliseconds="6000"/>', '<pause milliseconds="3000"/>'),)
with open(os.path.join(HERE, "scenarios", "uac.xml")) as _f:
    TALK = talk_seconds(_f.read().replace(*SHORT[0]))  # how long call() talks before its BYE
with open(os.path.join(HERE, "scenarios", "pbx_uas.xml")) as _f:
    PBX_WAIT = pause_before_play(_f.read())  # the PBX answering plays this much less


def add_inside_host(t, addr, timeout=10):
    """Another host on the inside network: an address on the inside veth, and VPP's
    neighbour entry for it (learnt from a ping), so its first packet is not lost to ARP."""
    t.run_in(t.ns_in, "ip", "addr", "add", f"{addr}/24", "dev", t.if_in)
    deadline = time.time() + timeout
    while t.run_in(t.ns_in, "ping", "-c1", "-W1", "-I", addr, t.GW_IN,
                   check=False).returncode != 0:
        if time.time() > deadline:
            raise AssertionError(f"{addr} cannot reach VPP at {t.GW_IN} in {timeout} s")
        time.sleep(0.2)


EXAMPLES = os.path.join(HERE, "..", "..", "mgmt", "examples")


class ExampleTopo(Topo):
    """topo.py's namespaces and veths; VPP from `sipalgctl up` on the example, its
    interfaces' host_if and its runtime_dir made the test's. hosts: more inside addresses.
    HOST_IFS: the example's interface names -> the attribute naming the veth end each gets."""

    HOST_IFS = {"inside": "if_in_vpp", "outside": "if_out_vpp"}

    def __init__(self, prefix, tmp, example, hosts=()):
        super().__init__(prefix, start_vpp=False)
        os.rmdir(self.vpp.dir)  # that VPP is never started: sipalgctl's is
        self.run = os.path.join(tmp, "run")
        self.vpp = h.VPP(prefix, tmpdir=self.run)  # only for its cli(): run/cli.sock
        self.example = os.path.join(EXAMPLES, example)
        self.cfg = os.path.join(tmp, example)
        self.hosts = hosts
        self.upped = False

    def _setup(self):
        super()._setup()
        with open(self.example) as f:
            cfg = yaml.safe_load(f)
        cfg["vpp"]["runtime_dir"] = self.run
        assert set(cfg["interfaces"]) == set(self.HOST_IFS), cfg["interfaces"]
        for name, attr in self.HOST_IFS.items():
            cfg["interfaces"][name]["host_if"] = getattr(self, attr)
        with open(self.cfg, "w") as f:
            yaml.safe_dump(cfg, f)
        assert ": ok (" in ctl("check", self.cfg).stdout
        self.upped = True
        up = ctl("up", self.cfg)
        assert "up: VPP running" in up.stdout, up.stdout
        assert ctl("plan", self.cfg).stdout.strip() == "nothing to do"
        self.wait_reachable()
        for a in self.hosts:
            add_inside_host(self, a)

    def down(self):
        """`sipalgctl down`: VPP stopped, its pid file gone."""
        self.upped = False
        down = ctl("down", self.cfg, check=False)
        assert down.returncode == 0 and "stopped" in down.stdout, down.stdout + down.stderr
        assert not os.path.exists(os.path.join(self.run, "vpp.pid"))

    def __exit__(self, *exc):
        if self.upped:
            ctl("down", self.cfg, check=False)
        super().__exit__(*exc)


def scenario(tmp, name, out, subs=(), tcp=False):
    """tests/e2e/scenarios/<name> with every old of subs (pairs old, new; each must occur)
    replaced by its new, written to tmp/<out>.xml. tcp: without the callee's last pause
    (over TCP the caller closes the connection when it is done, which sipp would count as a
    failure)."""
    with open(os.path.join(HERE, "scenarios", name)) as f:
        xml = f.read()
    for old, new in subs:
        assert old in xml, f"{old!r} not in {name}"
        xml = xml.replace(old, new)
    if tcp:
        xml = re.sub(r"\s*<pause milliseconds=\"500\"/>\s*</scenario>", "\n</scenario>", xml)
    path = os.path.join(tmp, out + ".xml")
    with open(path, "w") as f:
        f.write(xml)
    return path


def sipp(t, ns, tmp, name, xml, *args, tcp=False, listen=False):
    """sipp in namespace ns: one call of scenario file xml; output in tmp/<name>.log.
    listen: a callee, returned once its SIP socket (-i, -p of args) is bound."""
    args = ["-sf", xml, *(["-t", "t1"] if tcp else []), *args, "-m", "1", "-nostdin",
            "-timeout", "30s", "-trace_err", "-trace_msg"]
    log = os.path.join(tmp, name + ".log")
    p = t.popen_in(ns, "sipp", *args, cwd=tmp, log=log)
    if listen:
        wait_listening(t, ns, p, sipp_sockets(args), f"sipp {name}", log)
    return p


def kamailio(t, tmp, cfg):
    """Kamailio in the outside namespace with the configuration text cfg, once it listens."""
    start_kamailio(t, t.ns_out, tmp, cfg)


def registrar(t, tmp):
    """The outside registrar (tests/data/kamailio-registrar.cfg.in): requests to a
    registered contact at the NAT address leave from its port 5080."""
    with open(REGISTRAR_CFG) as f:
        kamailio(t, tmp, f.read().replace("@PUB@", t.PUB.replace(".", r"\.")))


def proxy(t, tmp, callee):
    """The outside record-routing proxy (tests/data/kamailio.cfg.in) relaying to callee."""
    with open(PROXY_CFG) as f:
        kamailio(t, tmp, f.read().replace("@CALLEE@", callee))


def tail(tmp, name, n=2000):
    path = os.path.join(tmp, name + ".log")
    return open(path, errors="replace").read()[-n:] if os.path.exists(path) else ""


class Ua:
    """A sipp user agent: namespace, address, SIP port, RTP port."""

    def __init__(self, ns, addr, sip, rtp):
        self.ns, self.addr, self.sip, self.rtp = ns, addr, sip, rtp


def call(t, tmp, name, caller, callee, target, service, uas="uas.xml", tcp=False, mid=None,
         ready=None, mid_deadline=2.5):
    """One call from caller (uac.xml, 3 s of media) to target, answered by callee (scenario
    uas). mid(): a snapshot taken every 0.3 s from the caller's start until ready(snapshot)
    or mid_deadline seconds (mid-call: the call lasts 3 s after its answer). Returns
    (caller's exit code, callee's exit code, the last snapshot)."""
    uas_p = sipp(t, callee.ns, tmp, f"{name}-uas", scenario(tmp, uas, f"{name}-uas", tcp=tcp),
                 "-i", callee.addr, "-p", str(callee.sip), "-mi", callee.addr, "-mp",
                 str(callee.rtp), tcp=tcp, listen=True)
    uac_p = sipp(t, caller.ns, tmp, f"{name}-uac",
                 scenario(tmp, "uac.xml", f"{name}-uac", SHORT), target, "-s", service, "-i",
                 caller.addr, "-p", str(caller.sip), "-mi", caller.addr, "-mp", str(caller.rtp),
                 tcp=tcp)
    seen = None
    if mid:
        deadline = time.time() + mid_deadline
        while True:
            time.sleep(0.3)
            seen = mid()
            if (ready is not None and ready(seen)) or time.time() > deadline:
                break
    return uac_p.wait(40), uas_p.wait(10), seen


class Captures:
    """tcpdump on the inside and the outside veth, as in test_call.run_call."""

    def __init__(self, t, tmp, bpf="udp"):
        self.caps = [Capture(t, t.ns_in, t.if_in, os.path.join(tmp, "inside.pcap"), bpf),
                     Capture(t, t.ns_out, t.if_out, os.path.join(tmp, "outside.pcap"), bpf)]

    def stop(self):
        """Let the last packets land, stop (each must have run all along), return (inside
        packets, outside packets)."""
        return tuple(finish(self.caps))


def server_map_emptied(t, timeout=5):
    """The server map once empty, or as it is after timeout seconds."""
    deadline = time.time() + timeout
    while True:
        smap = t.server_map()
        if not smap or time.time() > deadline:
            return smap
        time.sleep(0.2)


# --- what the packets say -------------------------------------------------------------------

def l4(p):
    from scapy.all import TCP, UDP
    return p[UDP] if UDP in p else p[TCP] if TCP in p else None


def rtp(pkts, src=None, dst=None, since=None):
    """UDP packets from src and to dst, each (address, port) or None for any, at or after
    since (a capture timestamp) when given."""
    from scapy.all import IP, UDP
    out = []
    for p in pkts:
        if IP not in p or UDP not in p:
            continue
        if src and (p[IP].src, p[UDP].sport) != src:
            continue
        if dst and (p[IP].dst, p[UDP].dport) != dst:
            continue
        if since is not None and p.time < since:
            continue
        out.append(p)
    return out


SIP_START = re.compile(rb"^(?:[A-Z]+ sip:\S+ SIP/2\.0|SIP/2\.0 \d\d\d )", re.M)


def sip_messages(pkts, ports):
    """The SIP messages of the UDP and TCP packets with an end on one of ports, as (source
    address, destination address, message bytes); a TCP direction's payloads are joined
    and split at the start lines (a retransmitted segment may repeat a message)."""
    from scapy.all import IP, TCP
    out, streams = [], {}
    for p in pkts:
        seg = l4(p)
        if IP not in p or seg is None or not (seg.sport in ports or seg.dport in ports):
            continue
        data = bytes(seg.payload)
        if not data:
            continue
        if TCP in p:
            streams.setdefault((p[IP].src, p[IP].dst), []).append(data)
        else:
            out.append((p[IP].src, p[IP].dst, data))
    for (src, dst), parts in streams.items():
        data = b"".join(parts)
        starts = [m.start() for m in SIP_START.finditer(data)] + [len(data)]
        out += [(src, dst, data[a:b]) for a, b in zip(starts, starts[1:])]
    return out


def sdp(msg):
    """(o= address, c= address, first m=audio port) of a SIP message's SDP, or None."""
    o = re.search(rb"^o=\S+ \S+ \S+ IN IP4 (\S+)\r?$", msg, re.M)
    c = re.search(rb"^c=IN IP4 (\S+)\r?$", msg, re.M)
    m = re.search(rb"^m=audio (\d+) ", msg, re.M)
    if not (o and c and m):
        return None
    return o.group(1).decode(), c.group(1).decode(), int(m.group(1))


def find(msgs, start, src=None, dst=None, with_sdp=True):
    """The messages whose start line begins with start (bytes), from src, to dst, with an
    SDP when with_sdp."""
    return [m for s, d, m in msgs if m.startswith(start) and (src is None or s == src) and
            (dst is None or d == dst) and (not with_sdp or sdp(m))]


def entry(smap, inside, app):
    """The public port of the server-map entry leading to inside ("addr:port") for app
    (sip, sip-rtp, sip-rtcp), or None."""
    for line in smap:
        m = re.search(r"ANY -> \S+:(\d+)\[" + re.escape(inside) + r"\], Protocol: \w+\(Appro: "
                      + re.escape(app) + r"\)", line)
        if m:
            return int(m.group(1))
    return None


NAT_SESSION = re.compile(r"i2o (\S+) proto (\w+) port (\d+) fib \d+\s+o2i (\S+) proto \w+ port "
                         r"(\d+) fib \d+\s+external host (\S+):(\d+)")


def nat_sessions(text):
    """`show nat44 sessions` as tuples (inside address, protocol, inside port, outside
    address, outside port, external host, external port)."""
    return [(a, pr, int(ap), o, int(op), e, int(ep))
            for a, pr, ap, o, op, e, ep in NAT_SESSION.findall(text)]


# --- hairpin --------------------------------------------------------------------------------

class Hairpin:
    """What a hairpin call saw: the exit codes of both registrations (alice: phone 1, bob:
    phone 3) and of the call, the server map after the registrations and mid-call, `show
    nat44 sessions` mid-call, the packets captured inside and outside."""


def hairpin_call(t, tmp):
    """Phone 1 (Topo.A, alice) and phone 3 (PHONE3, bob), both at SIP port 2000 and RTP port
    6000 on their own addresses, register with the outside registrar; phone 1 calls bob
    through it, phone 3 answers. Returns a Hairpin."""
    hp = Hairpin()
    phone1 = Ua(t.ns_in, t.A, PHONE_SIP, PHONE_RTP)
    phone3 = Ua(t.ns_in, PHONE3, PHONE_SIP, PHONE_RTP)
    registrar(t, tmp)
    caps = Captures(t, tmp)
    hp.reg = {}
    for ua, user in ((phone1, "alice"), (phone3, "bob")):
        xml = scenario(tmp, "register.xml", f"register-{user}", (("alice", user),))
        p = sipp(t, ua.ns, tmp, f"register-{user}", xml, f"{t.PROXY}:5060", "-i", ua.addr,
                 "-p", str(ua.sip))
        hp.reg[user] = p.wait(20)
    hp.bindings = t.server_map()

    def mid():
        return t.server_map(), t.vpp.cli("show nat44 sessions")

    def ready(seen):
        smap, nat = seen
        return (entry(smap, f"{t.A}:{PHONE_RTP}", "sip-rtp") is not None and
                entry(smap, f"{PHONE3}:{PHONE_RTP}", "sip-rtp") is not None and
                any(s[2] == PHONE_RTP for s in nat_sessions(nat)))

    hp.uac_rc, hp.uas_rc, seen = call(t, tmp, "hairpin", phone1, phone3, f"{t.PROXY}:5060",
                                      "bob", mid=mid, ready=ready, mid_deadline=3)
    hp.smap_mid, hp.nat_mid = seen
    hp.inside, hp.outside = caps.stop()
    hp.smap_after = t.server_map()
    return hp


def check_hairpin(t, hp, tmp):
    """What works whatever the media: both phones registered (each a binding of its own
    public port), the call completed through the registrar (the INVITE reached phone 3 from
    the registrar's other socket), nothing outside names the inside network, no media left
    VPP on the outside, and the call's entries are gone after BYE."""
    from scapy.all import IP, UDP
    for user, rc in hp.reg.items():
        assert rc == 0, f"{user} did not register\n" + tail(tmp, f"register-{user}")
    sig1 = entry(hp.bindings, f"{t.A}:{PHONE_SIP}", "sip")
    sig3 = entry(hp.bindings, f"{PHONE3}:{PHONE_SIP}", "sip")
    assert sig1 and sig3 and sig1 != sig3, hp.bindings
    assert (hp.uac_rc, hp.uas_rc) == (0, 0), tail(tmp, "hairpin-uac") + tail(tmp, "hairpin-uas")
    msgs_in = sip_messages(hp.inside, (PHONE_SIP, 5060, 5080))
    assert find(msgs_in, b"INVITE sip:bob@", src=t.PROXY, dst=PHONE3)
    assert any(p[IP].src == t.PROXY and p[UDP].sport == 5080 and p[IP].dst == PHONE3
               for p in hp.inside if UDP in p)
    for src, dst, m in sip_messages(hp.outside, (5060, 5080)):
        assert b"192.168.1." not in m, m
    # the media never left: everything outside is signaling with the registrar (which
    # shows the call from its INVITE to its BYE)
    stray = [p for p in hp.outside if UDP in p and t.PROXY not in (p[IP].src, p[IP].dst)]
    assert_silent("packets outside other than with the registrar", stray, hp.outside)
    # the bindings stay, the call's entries go
    deadline = time.time() + 5
    smap = hp.smap_after
    while len(smap) != 2 and time.time() < deadline:
        time.sleep(0.2)
        smap = t.server_map()
    assert sorted(entry(smap, f"{a}:{PHONE_SIP}", "sip") for a in (t.A, PHONE3)) == \
        sorted((sig1, sig3)) and len(smap) == 2, smap


def check_hairpin_media(t, hp):
    """The hairpin's media: each phone receives the other's SDP with the NAT address and the
    other's public media port (that of its sip-rtp entry), and RTP from the NAT address;
    NAT44-ED holds one hairpin session between the two pinholes. NAT44-ED rewrites the source
    port of the direction that made its session only: the other direction (matched on the
    session's o2i flow, nat44_ed_in2out.c) arrives from its sender's inside RTP port, at the
    NAT address (hairpin.yaml says so)."""
    from scapy.all import IP, UDP
    msgs_in = sip_messages(hp.inside, (PHONE_SIP, 5060, 5080))
    p1 = entry(hp.smap_mid, f"{t.A}:{PHONE_RTP}", "sip-rtp")
    p3 = entry(hp.smap_mid, f"{PHONE3}:{PHONE_RTP}", "sip-rtp")
    assert p1 and p3 and p1 != p3, f"media entries mid-call: {hp.smap_mid}"
    # the SDP each phone received: the other's, at the NAT address and its public port
    offer = find(msgs_in, b"INVITE sip:bob@", src=t.PROXY, dst=PHONE3)
    answer = [m for m in find(msgs_in, b"SIP/2.0 200", src=t.PROXY, dst=t.A)
              if b" INVITE\r\n" in m]
    assert offer and answer, msgs_in
    assert {sdp(m) for m in offer} == {(t.PUB, t.PUB, p1)}, offer
    assert {sdp(m) for m in answer} == {(t.PUB, t.PUB, p3)}, answer
    # one media session in NAT44-ED, between the two pinholes, made by the first sender
    sessions = [s for s in nat_sessions(hp.nat_mid) if s[2] == PHONE_RTP]
    by_1 = (t.A, "UDP", PHONE_RTP, t.PUB, p1, t.PUB, p3)
    by_3 = (PHONE3, "UDP", PHONE_RTP, t.PUB, p3, t.PUB, p1)
    assert len(sessions) == 1 and sessions[0] in (by_1, by_3), \
        f"NAT44-ED media sessions mid-call: {sessions}, want one of {[by_1, by_3]}"
    # RTP at each phone, from the NAT address: the session's direction from the sender's
    # public port, the other from the sender's inside port
    first, other = (t.A, PHONE3) if sessions[0] == by_1 else (PHONE3, t.A)
    pub = {t.A: p1, PHONE3: p3}
    bye = call_bye(hp.inside)
    for sender, receiver, src_port in ((first, other, pub[first]), (other, first, PHONE_RTP)):
        got = rtp(hp.inside, dst=(receiver, PHONE_RTP))
        sources = {(p[IP].src, p[UDP].sport) for p in got}
        assert sources == {(t.PUB, src_port)}, \
            f"{receiver} received {len(got)} RTP packets from {sources}, want from " \
            f"{(t.PUB, src_port)} ({sender}'s media)"
        # the sender's packets to the NAT address before the BYE, those that came back in
        assert_flow(f"RTP {sender}->{receiver}",
                    rtp_seqs(hp.inside, src=(sender, PHONE_RTP), dst=(t.PUB, None), before=bye),
                    rtp_seqs(got), floor(TALK))
