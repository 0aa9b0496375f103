# SPDX-License-Identifier: Apache-2.0
"""Tier 2: real calls through VPP. sipp caller A inside (192.168.1.1:2000, RTP 6000), sipp
callee B outside (198.51.100.2:5060, RTP 7000), directly or through a kamailio proxy
(198.51.100.1:5060); G.711 RTP from sipp's own pcap."""

import os
import re
import tempfile
import time

import pytest

from capture import (Capture, assert_flow, assert_silent, call_bye, finish, floor, kamailio,
                     rtp_seqs, sipp_sockets, talk_seconds, udp, wait_listening)
from topo import HERE, Topo

A_SIP, A_RTP, B_SIP, B_RTP = 2000, 6000, 5060, 7000
SIP_PORTS = (A_SIP, B_SIP, 5060)
KAMAILIO_CFG = os.path.join(HERE, "..", "data", "kamailio.cfg.in")


def scenario(name, media=True, tcp=False):
    xml = open(os.path.join(HERE, "scenarios", name)).read()
    if tcp:
        # over TCP the caller closes the connection as soon as it is done: a callee still
        # pausing after its last message would count that as a failed call
        xml = re.sub(r"\s*<pause milliseconds=\"500\"/>\s*</scenario>", "\n</scenario>", xml)
    if not media:
        xml, n = re.subn(r"<nop>\s*<action><exec play_pcap_audio=[^>]*/></action>\s*</nop>", "",
                         xml)
        assert n == 1, "media block not found in " + name
    f = tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False)
    f.write(xml)
    f.close()
    return f.name


def udp_to(pkts, dst, dport):
    return udp(pkts, dst=(dst, dport))


class Call:
    """What run_call saw: exit codes of both user agents, the packets captured inside and
    outside (each capture alive from before the call to its end), the mid-call snapshot,
    how long the call talked before its BYE (talk, from the scenarios) and when its first
    BYE was captured (bye)."""

    def __init__(self, uac_rc, uas_rc, inside, outside, mid, talk):
        self.uac_rc, self.uas_rc = uac_rc, uas_rc
        self.inside, self.outside, self.mid = inside, outside, mid
        self.talk = talk
        self.bye = call_bye(inside, outside)


def sipp_uas(t, ns, tmp, args, log):
    """A sipp callee in namespace ns with args; returns once its SIP socket is bound (its
    caller's INVITE cannot be refused)."""
    p = t.popen_in(ns, "sipp", *args, cwd=tmp, log=log)
    wait_listening(t, ns, p, sipp_sockets(args), "sipp (callee)", log)
    return p


def run_call(t, tmp, uac_media=True, uas_media=True, via_proxy=False, mid_call=None,
             ready=None, record_route=True, uac="uac.xml", uas="uas.xml", after=None,
             transport="udp"):
    """One call from A to B; returns a Call. after(t) runs as soon as both user agents are
    done, before the captures stop. transport "tcp": SIP over TCP (sipp -t t1, Kamailio
    listening on TCP and relaying over TCP); media is RTP over UDP either way."""
    bpf = "udp" if transport == "udp" else "udp or tcp"
    caps = [Capture(t, t.ns_in, t.if_in, f"{tmp}/inside.pcap", bpf),
            Capture(t, t.ns_out, t.if_out, f"{tmp}/outside.pcap", bpf)]
    tport = ["-t", "t1"] if transport == "tcp" else []
    if via_proxy:
        callee = f"{t.B}:{B_SIP}" + (";transport=tcp" if transport == "tcp" else "")
        cfg = open(KAMAILIO_CFG).read().replace("@CALLEE@", callee)
        if transport == "tcp":
            cfg = cfg.replace("disable_tcp=yes\n", "").replace(
                "listen=udp:198.51.100.1:5060\n",
                "listen=udp:198.51.100.1:5060\nlisten=tcp:198.51.100.1:5060\n")
        if not record_route:
            # the proxy leaves the dialog: in-dialog requests go straight to the Contact
            cfg, n = re.subn(r"^\s*record_route\(\);\n", "", cfg, flags=re.M)
            assert n == 1
        kamailio(t, t.ns_out, tmp, cfg)
    uac_xml, uas_xml = scenario(uac, uac_media), scenario(uas, uas_media, tcp=bool(tport))
    uas = sipp_uas(t, t.ns_out, tmp, ["-sf", uas_xml, *tport, "-i", t.B, "-p", str(B_SIP),
                                      "-mi", t.B, "-mp", str(B_RTP), "-m", "1", "-nostdin",
                                      "-timeout", "30s", "-trace_err", "-trace_msg"],
                   f"{tmp}/uas.log")
    target = f"{t.PROXY}:5060" if via_proxy else f"{t.B}:{B_SIP}"
    uac = t.popen_in(t.ns_in, "sipp", "-sf", uac_xml, target, *tport, "-s", "bob",
                     "-i", t.A, "-p", str(A_SIP), "-mi", t.A, "-mp", str(A_RTP), "-m", "1",
                     "-nostdin", "-timeout", "30s", "-trace_err", "-trace_msg", cwd=tmp,
                     log=f"{tmp}/uac.log")
    seen = None
    if mid_call:
        # a snapshot once the call is established (and before its 6 s are over)
        deadline = time.time() + 5
        while True:
            time.sleep(0.5)
            seen = mid_call()
            if ready is None or ready(seen) or time.time() > deadline:
                break
    uac_rc = uac.wait(40)
    uas_rc = uas.wait(10)
    if after:
        after(t)
    inside, outside = finish(caps)
    return Call(uac_rc, uas_rc, inside, outside, seen, talk_seconds(uac_xml, uas_xml))


def a_to_b(t, c):
    """A's RTP: (the sequence numbers it sent from A:6000 inside before the call's BYE,
    those that reached B:7000 outside)."""
    return (rtp_seqs(c.inside, src=(t.A, A_RTP), before=c.bye),
            rtp_seqs(c.outside, dst=(t.B, B_RTP)))


def b_to_a(t, c):
    """B's RTP: (sent from B:7000 outside before the BYE, reached A:6000 inside)."""
    return (rtp_seqs(c.outside, src=(t.B, B_RTP), before=c.bye),
            rtp_seqs(c.inside, dst=(t.A, A_RTP)))


def assert_media(t, c, a=True, b=True):
    """The call's RTP each way. A side that plays (a: A, b: B) sent at least FLOOR of what
    its scenario plays before the BYE and at least SHARE of it arrived; a side that does not
    sent nothing and nothing arrived from it, in captures that saw the call. Returns
    {"A->B": (sent, arrived), "B->A": ...} for the sides that play."""
    assert c.bye is not None, "no BYE in the captures"
    out = {}
    for name, plays, way, src_side, src, dst_side, dst in (
            ("A->B", a, a_to_b, c.inside, (t.A, A_RTP), c.outside, (t.B, B_RTP)),
            ("B->A", b, b_to_a, c.outside, (t.B, B_RTP), c.inside, (t.A, A_RTP))):
        if plays:
            out[name] = assert_flow(f"RTP {name}", *way(t, c), floor(c.talk))
        else:
            assert_silent(f"RTP {name} sent", udp(src_side, src=src), src_side)
            assert_silent(f"RTP {name} arriving", udp(dst_side, dst=dst), dst_side)
    print(f"\nRTP (sent, arrived), {c.talk} s of talk: {out}")
    return out


def assert_seed_entries(t, lines):
    ins = sorted(l for l in lines if "[" in l)
    outs = sorted(l for l in lines if "[" not in l)
    apps = lambda ls: sorted(re.search(r"Appro: (\S+)\)", l).group(1) for l in ls)
    assert apps(ins) == ["sip", "sip-rtcp", "sip-rtp"], lines
    assert any(f"[{t.A}:{A_SIP}]" in l for l in ins)
    assert any(f"[{t.A}:{A_RTP}]" in l and "sip-rtp" in l for l in ins)
    assert any(f"[{t.A}:{A_RTP + 1}]" in l and "sip-rtcp" in l for l in ins)
    assert apps(outs) == ["sip", "sip-rtcp", "sip-rtp"], lines
    assert any(f"ANY -> {t.B}:{B_RTP}," in l for l in outs)
    assert any(f"ANY -> {t.B}:{B_RTP + 1}," in l for l in outs)
    for l in lines:
        assert re.search(r"Left-Time: \d\d:\d\d:\d\d, VPN: public -> public$", l), l


def sip_payloads(pkts):
    from scapy.all import Raw, UDP
    return [bytes(p[Raw]) for p in pkts if UDP in p and Raw in p and
            (p[UDP].sport in SIP_PORTS or p[UDP].dport in SIP_PORTS)]


def assert_no_inside_address_outside(outside):
    """Nothing that left VPP on the outside names the inside network: not the IP header,
    not a line of SIP or SDP (Call-ID included), and there was SIP to look at."""
    from scapy.all import IP
    assert outside
    for p in outside:
        assert p[IP].src != Topo.A and p[IP].dst != Topo.A
    sip = sip_payloads(outside)
    assert len(sip) >= 5, "too little SIP seen outside"
    for data in sip:
        assert b"192.168.1." not in data, data


@pytest.mark.parametrize("via_proxy", [False, True], ids=["direct", "kamailio"])
def test_seed_call(topo, via_proxy, tmp_path):
    t = topo
    c = run_call(t, str(tmp_path), via_proxy=via_proxy, mid_call=t.server_map,
                 ready=lambda m: len(m) == 6)
    assert (c.uac_rc, c.uas_rc) == (0, 0), "the call did not complete"
    assert_media(t, c)
    assert_seed_entries(t, c.mid)
    assert_no_inside_address_outside(c.outside)
    assert t.server_map() == [] and t.static_mappings() == []
    n = t.vpp.counters()
    assert (n["calls_created"], n["calls_closed"], n["pinhole_expired"]) == (1, 1, 0)


def test_callee_hangs_up_straight_to_the_caller(topo, tmp_path):
    """The proxy does not record-route, so B's BYE goes straight to A's Contact from an
    address the call's signaling has not used (the proxy's was). With workers, NAT44-ED
    hands it to the worker of A's static mapping, the one that holds the call: the BYE
    reaches A and ends the call at once, not by aging."""
    t = topo
    seen = {}

    def after(t):
        seen["server_map"] = t.server_map()
        seen["counters"] = t.vpp.counters()

    c = run_call(t, str(tmp_path), via_proxy=True, record_route=False, uac="uac_callee_bye.xml",
                 uas="uas_bye.xml", mid_call=t.server_map, ready=lambda m: len(m) == 6,
                 after=after)
    assert (c.uac_rc, c.uas_rc) == (0, 0), "the call did not complete"
    assert_seed_entries(t, c.mid)
    assert_media(t, c)
    # the BYE came from B itself, not through the proxy, and reached A
    byes = [p for p in c.inside if p.haslayer("Raw") and bytes(p["Raw"]).startswith(b"BYE ")]
    assert byes and all(p["IP"].src == t.B for p in byes), [p.summary() for p in byes]
    # right after the 200 OK to that BYE (timeouts: 120 s signaling, 60 s media)
    assert seen["server_map"] == [], seen
    n = seen["counters"]
    assert (n["calls_created"], n["calls_closed"], n["pinhole_expired"]) == (1, 1, 0), n
    assert t.static_mappings() == []
    assert_no_inside_address_outside(c.outside)


def test_only_outside_party_sends_media(topo, tmp_path):
    """A silent caller: B's RTP reaches A only through the pinhole the ALG opened from A's
    SDP (NAT has no session for A's media port before the first outside packet)."""
    t = topo
    c = run_call(t, str(tmp_path), uac_media=False, mid_call=t.server_map,
                 ready=lambda m: len(m) == 6)
    assert (c.uac_rc, c.uas_rc) == (0, 0)
    assert_seed_entries(t, c.mid)
    assert_media(t, c, a=False)  # the caller is silent indeed
    to_a = udp_to(c.inside, t.A, A_RTP)
    from scapy.all import IP, UDP
    assert {(p[IP].src, p[UDP].sport) for p in to_a} == {(t.B, B_RTP)}
    # outside, B sent it to the public port the ALG wrote into A's SDP
    pub_ports = {p[UDP].dport for p in c.outside if IP in p and UDP in p and
                 p[IP].src == t.B and p[UDP].sport == B_RTP}
    assert len(pub_ports) == 1 and pub_ports != {A_RTP}, pub_ports


def test_without_alg_no_media_reaches_inside(topo_no_alg, tmp_path):
    """The same call with the ALG off: the call itself sets up (NAT carries the signaling),
    B sends its RTP to the private address in A's SDP, and none of it reaches A. The ALG is
    what makes the media work."""
    t = topo_no_alg
    # let B's packets to 192.168.1.0/24 leave its namespace, so the capture sees them (VPP
    # drops them: wrong MAC, and it would not route them inside from the outside anyway)
    t.run_in(t.ns_out, "ip", "route", "add", "192.168.1.0/24", "dev", t.if_out)
    t.run_in(t.ns_out, "ip", "neigh", "add", t.A, "lladdr", "02:00:00:00:00:99", "dev", t.if_out,
             "nud", "permanent")
    c = run_call(t, str(tmp_path))
    assert (c.uac_rc, c.uas_rc) == (0, 0), "the call did not set up without the ALG"
    # NAT carries A's media out; B's, sent to A's private address, never reaches A
    assert_flow("RTP A->B", *a_to_b(t, c), floor(c.talk))
    sent = rtp_seqs(c.outside, src=(t.B, B_RTP), dst=(t.A, A_RTP), before=c.bye)
    assert len(sent) >= floor(c.talk), f"B sent {len(sent)} RTP packets to A's address"
    assert_silent("RTP B->A arriving", udp_to(c.inside, t.A, A_RTP), c.inside)
    # and the inside address leaked into the signaling
    assert any(b"192.168.1.1" in d for d in sip_payloads(c.outside))
    assert t.vpp.counters()["sip"] == 0  # the ALG saw nothing: it is off
