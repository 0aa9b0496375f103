# SPDX-License-Identifier: Apache-2.0
"""Tier 2: the life of a call beyond the plain call, with real sipp user agents across VPP
(0 and 2 workers). Caller A inside (192.168.1.1:2000, RTP 6000), callee B outside
(198.51.100.2:5060, RTP 7000), a Kamailio proxy on 198.51.100.1:5060 where it forks.

  hold and resume          re-INVITEs a=sendonly (or c=0.0.0.0) then a=sendrecv, silent caller
  re-INVITE to a new port  the caller's media move from 6000 to 6010
  early media              183 with SDP and RTP before the 200, without and with 100rel/PRACK
  forking                  Kamailio forks to two callees, both send 183, one answers
  long ringing             the callee rings for longer than the media timeout, then answers
  CANCEL                   the caller gives up while it rings
  401 challenge            the INVITE is sent again with credentials, same Call-ID

Each test checks that media reach the right address and port (packets counted in the
captures on both sides of VPP), that both user agents completed their scenario, and that the
ALG's server map and NAT's static mappings are empty soon after the call."""

import os
import re
import shutil
import time

import pytest

from capture import (Capture, assert_flow, assert_silent, call_bye, finish, floor,
                     pause_after_play, rtp_seqs, talk_seconds, udp)
from capture import kamailio as start_kamailio
from test_call import (A_RTP, A_SIP, B_RTP, B_SIP, HERE, assert_no_inside_address_outside,
                       assert_seed_entries, sipp_uas, udp_to)
from topo import Topo

SCENARIOS = os.path.join(HERE, "scenarios")
FORK_CFG = os.path.join(HERE, "..", "data", "kamailio-fork.cfg.in")
B2_SIP, B2_RTP = 5064, 7100  # the second callee of the forking test
A_NEW_RTP = 6010  # where the re-INVITE moves the caller's media
SIP_PORTS = (A_SIP, B_SIP, 5060)


class Run:
    """What run() saw: exit codes (uas: {sip port: rc}), captures, the mid-call snapshot,
    how long the call talked before its BYE (talk, from the scenarios: 0 without a BYE)
    and when its first BYE was captured (bye)."""

    def __init__(self, tmp, uac_rc, uas_rc, inside, outside, mid, talk):
        self.tmp, self.uac_rc, self.uas_rc = tmp, uac_rc, uas_rc
        self.inside, self.outside, self.mid = inside, outside, mid
        self.talk, self.bye = talk, call_bye(inside, outside)

    def ok(self):
        return self.uac_rc == 0 and all(rc == 0 for rc in self.uas_rc.values())

    def logs(self):
        """The user agents' errors, for assertion messages."""
        out = []
        for f in sorted(os.listdir(self.tmp)):
            if f.endswith("_errors.log") or f.endswith(".out"):
                out.append(f"--- {f}\n" + open(os.path.join(self.tmp, f)).read()[-1500:])
        return "\n".join(out)


def sent(log, start):
    """How many messages starting with start a sipp message log (-trace_msg) shows sent."""
    return len(re.findall(r"message sent \(\d+ bytes\):\s*\n\s*" + re.escape(start), log))


def received(log, start):
    return len(re.findall(r"message received \[\d+\] bytes :\s*\n\s*" + re.escape(start), log))


def run(t, tmp, uac, uas=(("", B_SIP, B_RTP),), kamailio=None, snapshot=None, after=None):
    """One call from A: the caller's scenario uac, one sipp callee per (scenario, SIP port,
    RTP port) of uas on B's address, through Kamailio with the configuration text kamailio
    when given, else straight to B. snapshot (when, what): what() is called once when(the
    caller's message log) holds, 0.5 s later; after(t) as soon as the user agents are done,
    before the captures stop."""
    caps = [Capture(t, t.ns_in, t.if_in, f"{tmp}/inside.pcap"),
            Capture(t, t.ns_out, t.if_out, f"{tmp}/outside.pcap")]
    if kamailio:
        start_kamailio(t, t.ns_out, tmp, kamailio)
    sipp = ("-m", "1", "-nostdin", "-timeout", "20s", "-trace_err", "-trace_msg")
    callees, sfs = {}, []
    for name, port, rtp in uas:
        # each scenario under its own name in tmp: sipp names its error log after it
        sf = os.path.join(tmp, f"uas{port}.xml")
        shutil.copy(os.path.join(SCENARIOS, name), sf)
        sfs.append(sf)
        callees[port] = sipp_uas(
            t, t.ns_out, tmp, ["-sf", sf, "-i", t.B, "-p", str(port), "-mi", t.B, "-mp",
                               str(rtp), *sipp, "-message_file",
                               f"{tmp}/uas{port}_messages.log"], f"{tmp}/uas{port}.out")
    sf = os.path.join(tmp, "uac.xml")
    shutil.copy(os.path.join(SCENARIOS, uac), sf)
    uac_log = f"{tmp}/uac_messages.log"
    target = f"{t.PROXY}:5060" if kamailio else f"{t.B}:{B_SIP}"
    caller = t.popen_in(t.ns_in, "sipp", "-sf", sf, target, "-s", "bob", "-i", t.A, "-p",
                        str(A_SIP), "-mi", t.A, "-mp", str(A_RTP), *sipp, "-message_file",
                        uac_log, cwd=tmp, log=f"{tmp}/uac.out")
    seen = None
    if snapshot:
        when, what = snapshot
        deadline = time.time() + 15
        while caller.poll() is None and time.time() < deadline:
            log = open(uac_log).read() if os.path.exists(uac_log) else ""
            if when(log):
                time.sleep(0.5)
                seen = what()
                break
            time.sleep(0.1)
    uac_rc = caller.wait(30)
    uas_rc = {port: p.wait(10) for port, p in callees.items()}
    if after:
        after(t)
    inside, outside = finish(caps)
    try:
        talk = talk_seconds(sf, *sfs)
    except AssertionError:  # no BYE: a call that never talked
        talk = 0
    return Run(tmp, uac_rc, uas_rc, inside, outside, seen, talk)


def sip(pkts):
    """(time, source address, payload) of the SIP messages among pkts."""
    from scapy.all import IP, UDP, Raw
    return [(float(p.time), p[IP].src, bytes(p[Raw])) for p in pkts
            if IP in p and UDP in p and Raw in p and
            (p[UDP].sport in SIP_PORTS or p[UDP].dport in SIP_PORTS)]


def cseq(payload):
    m = re.search(rb"^CSeq:\s*(\d+)\s+(\w+)", payload, re.M | re.I)
    return (int(m.group(1)), m.group(2).decode()) if m else None


def first(msgs, start, cs=None):
    """The first message (time, src, payload) that starts with start (and has CSeq cs)."""
    for m in msgs:
        if m[2].startswith(start) and (cs is None or cseq(m[2]) == cs):
            return m
    raise AssertionError(f"no {start!r} {cs} among {[m[2][:40] for m in msgs]}")


def sdp_port(payload):
    return int(re.search(rb"^m=audio (\d+) ", payload, re.M).group(1))


def sources(pkts):
    from scapy.all import IP, UDP
    return {(p[IP].src, p[UDP].sport) for p in pkts}


def dports(pkts):
    from scapy.all import UDP
    return {p[UDP].dport for p in pkts}


def from_b(outside, port=B_RTP):
    """B's packets from its RTP port, outside (to the public address)."""
    from scapy.all import IP, UDP
    return [p for p in outside if IP in p and UDP in p and p[IP].src == Topo.B and
            p[UDP].sport == port]


def b_to_a(t, c, a_port=A_RTP):
    """B's RTP reached A at a_port: at least FLOOR of what B plays in the call's talk time
    sent from B:7000 outside before the BYE, at least SHARE of it arrived inside."""
    return assert_flow(f"RTP B->A:{a_port}", rtp_seqs(c.outside, src=(t.B, B_RTP), before=c.bye),
                       rtp_seqs(c.inside, dst=(t.A, a_port)), floor(c.talk))


def a_silent(t, c, ports=(A_RTP,)):
    """A (a silent caller) sent no RTP from any of ports, and none reached B."""
    for port in ports:
        assert_silent(f"RTP from A:{port}", udp(c.inside, src=(t.A, port)), c.inside)
    assert_silent("RTP at B", udp_to(c.outside, t.B, B_RTP), c.outside)


def state(t):
    return t.server_map(), t.static_mappings()


def wait_clean(t, timeout=3.0):
    """Until the server map and the static mappings are empty (at most timeout s); returns
    what was last seen."""
    deadline = time.time() + timeout
    while True:
        seen = state(t)
        if seen == ([], []) or time.time() > deadline:
            return seen
        time.sleep(0.2)


def media_pairs_in_use(t):
    m = re.search(r"media-ports \S+ \(\d+ pairs shared by all threads, (\d+) in use\)",
                  t.vpp.cli("show sip-alg config"))
    return int(m.group(1))


def assert_after_call(t, n_calls=None):
    """The call is over: nothing of it is left in the ALG or in NAT, its calls were closed,
    not aged out, and its media ports are back in the pool."""
    left = wait_clean(t)
    assert left == ([], []), f"left after the call (server map, static mappings): {left}"
    n = t.vpp.counters()
    assert n["calls_created"] == n["calls_closed"], n
    if n_calls is not None:
        assert n["calls_created"] == n_calls, n
    assert n["pinhole_expired"] == 0, n
    assert media_pairs_in_use(t) == 0


def entries_for(lines, port):
    """Server-map entries of A's port (inside entries name it as [192.168.1.1:port])."""
    return [l for l in lines if f"[{Topo.A}:{port}]" in l]


@pytest.mark.parametrize("hold", ["sendonly", "c0"])
def test_hold_and_resume(topo02, hold, tmp_path):
    """A never sends media. After the call is set up A puts B on hold (a=sendonly, or the
    RFC 2543 c=0.0.0.0), B answers a=recvonly; A resumes on the same port (a=sendrecv) and
    only then B plays its RTP: it must reach A:6000 inside, through the pinhole of A's SDP."""
    t = topo02
    uac = "call_life_hold_uac.xml" if hold == "sendonly" else "call_life_hold0_uac.xml"
    c = run(t, str(tmp_path), uac, (("call_life_hold_uas.xml", B_SIP, B_RTP),))
    assert c.ok(), c.logs()
    out = sip(c.outside)
    invite, held, resumed = (first(out, b"INVITE ", (n, "INVITE"))[2] for n in (1, 2, 3))
    if hold == "sendonly":
        assert b"a=sendonly" in held
    else:
        assert re.search(rb"^c=IN IP4 0\.0\.0\.0\r?$", held, re.M), held
    assert b"a=sendrecv" in resumed
    # B played only after the resume's ACK: all of its RTP came after the resume
    t_resume = first(sip(c.inside), b"INVITE ", (3, "INVITE"))[0]
    b_to_a(t, c)
    to_a = udp_to(c.inside, t.A, A_RTP)
    assert sources(to_a) == {(t.B, B_RTP)}
    assert min(float(p.time) for p in to_a) > t_resume
    # outside, B sent it to the public port the ALG wrote into the resume's SDP
    assert dports(from_b(c.outside)) == {sdp_port(resumed)}, (sdp_port(invite),
                                                               sdp_port(resumed))
    a_silent(t, c)  # the caller was silent indeed
    assert_no_inside_address_outside(c.outside)
    assert_after_call(t, n_calls=1)


def test_reinvite_to_new_port(topo02, tmp_path):
    """A (silent) moves its media from 6000 to 6010 with a re-INVITE; B plays after the
    re-INVITE's ACK. Its RTP reaches A:6010, and mid-call the ALG has an entry (and NAT a
    static mapping) for A:6010 and none left for A:6000, which the call no longer uses."""
    t = topo02
    c = run(t, str(tmp_path), "call_life_newport_uac.xml",
            (("call_life_newport_uas.xml", B_SIP, B_RTP),),
            snapshot=(lambda log: sent(log, "ACK ") >= 2, lambda: state(t)))
    assert c.ok(), c.logs()
    reinvite = first(sip(c.outside), b"INVITE ", (2, "INVITE"))[2]
    b_to_a(t, c, A_NEW_RTP)
    to_new = udp_to(c.inside, t.A, A_NEW_RTP)
    assert sources(to_new) == {(t.B, B_RTP)}
    assert_silent("RTP to A's old port", udp_to(c.inside, t.A, A_RTP), c.inside)
    a_silent(t, c, (A_RTP, A_NEW_RTP))
    assert dports(from_b(c.outside)) == {sdp_port(reinvite)}
    assert c.mid is not None, "no snapshot after the re-INVITE"
    smap, nat = c.mid
    assert any("sip-rtp" in l for l in entries_for(smap, A_NEW_RTP)), smap
    assert any("sip-rtcp" in l for l in entries_for(smap, A_NEW_RTP + 1)), smap
    assert any(f"local {t.A}:{A_NEW_RTP} " in l for l in nat), nat
    # the old media are released once the re-INVITE is answered
    assert entries_for(smap, A_RTP) == [] and entries_for(smap, A_RTP + 1) == [], smap
    assert not any(f"local {t.A}:{A_RTP} " in l or f"local {t.A}:{A_RTP + 1} " in l
                   for l in nat), nat
    assert_no_inside_address_outside(c.outside)
    assert_after_call(t, n_calls=1)


def assert_early_media(t, c):
    """B's RTP reached A:6000 before the 200 OK to the INVITE did: of what B sent before
    its 200 left it (at least FLOOR of what B's scenario plays before that 200), at least
    SHARE reached A before the 200 did; then the call's media, A silent."""
    t_200_out = first(sip(c.outside), b"SIP/2.0 200", (1, "INVITE"))[0]
    t_200_in = first(sip(c.inside), b"SIP/2.0 200", (1, "INVITE"))[0]
    ringing = pause_after_play(open(os.path.join(c.tmp, f"uas{B_SIP}.xml")).read())
    assert_flow("early RTP B->A", rtp_seqs(c.outside, src=(t.B, B_RTP), before=t_200_out),
                rtp_seqs(c.inside, dst=(t.A, A_RTP), before=t_200_in), floor(ringing))
    b_to_a(t, c)
    assert sources(udp_to(c.inside, t.A, A_RTP)) == {(t.B, B_RTP)}
    a_silent(t, c)


def test_early_media(topo02, tmp_path):
    """B answers 183 Session Progress with SDP (no 100rel) and plays RTP for 2.5 s before
    its 200 OK; A is silent. The RTP reaches A before the 200."""
    t = topo02
    c = run(t, str(tmp_path), "call_life_early_uac.xml",
            (("call_life_early_uas.xml", B_SIP, B_RTP),))
    assert c.ok(), c.logs()
    assert_early_media(t, c)
    assert_no_inside_address_outside(c.outside)
    assert_after_call(t, n_calls=1)


def test_early_media_prack(topo02, tmp_path):
    """Reliable early media: INVITE with Supported: 100rel, B's 183 with Require: 100rel,
    RSeq: 1 and SDP, A's PRACK (RAck: 1 1 INVITE) and B's 200 OK to it, then B's RTP for
    2.5 s, then the 200 OK to the INVITE. The RTP reaches A before that 200."""
    t = topo02
    c = run(t, str(tmp_path), "call_life_prack_uac.xml",
            (("call_life_prack_uas.xml", B_SIP, B_RTP),))
    assert c.ok(), c.logs()
    out = sip(c.outside)
    prack = first(out, b"PRACK ", (2, "PRACK"))[2]
    assert re.search(rb"^RAck: 1 1 INVITE\r?$", prack, re.M), prack
    first(sip(c.inside), b"SIP/2.0 200", (2, "PRACK"))
    assert_early_media(t, c)
    assert_no_inside_address_outside(c.outside)
    assert_after_call(t, n_calls=1)


def test_forked_call(topo02, tmp_path):
    """Kamailio forks A's INVITE in parallel to B on 5060 (RTP 7000) and on 5064 (RTP 7100).
    Both answer 183 with SDP (two early dialogs: two To tags, two media ports); 5060 answers
    200 and Kamailio CANCELs 5064. The answering callee's RTP reaches A, the ALG keeps no
    media entry of the cancelled fork once the call is answered, and afterwards nothing of
    the call is left."""
    t = topo02
    cfg = open(FORK_CFG).read().replace("@CALLEE1@", f"{t.B}:{B_SIP}").replace(
        "@CALLEE2@", f"{t.B}:{B2_SIP}")
    c = run(t, str(tmp_path), "call_life_silent_uac.xml",
            (("call_life_fork_answer_uas.xml", B_SIP, B_RTP),
             ("call_life_fork_cancelled_uas.xml", B2_SIP, B2_RTP)), kamailio=cfg,
            snapshot=(lambda log: sent(log, "ACK ") >= 1, lambda: state(t)))
    assert c.ok(), c.logs()
    inside = sip(c.inside)
    # both forks' 183s reached A, with their own To tags and media ports
    early = [m[2] for m in inside if m[2].startswith(b"SIP/2.0 183")]
    tags = {re.search(rb"^To:.*;tag=(\S+?)\r?$", p, re.M).group(1) for p in early}
    assert len(tags) == 2, early
    assert {sdp_port(p) for p in early} == {B_RTP, B2_RTP}
    # the cancelled fork was really cancelled (its sipp saw CANCEL, answered 487, got ACK)
    log2 = open(f"{tmp_path}/uas{B2_SIP}_messages.log").read()
    assert received(log2, "CANCEL ") >= 1 and sent(log2, "SIP/2.0 487") >= 1
    b_to_a(t, c)
    assert sources(udp_to(c.inside, t.A, A_RTP)) == {(t.B, B_RTP)}
    a_silent(t, c)
    assert c.mid is not None
    assert_seed_entries_fork(t, c.mid[0])
    # the cancelled fork's early media are gone once the other fork answered
    assert not any(f"ANY -> {t.B}:{p}," in l
                   for l in c.mid[0] for p in (B2_RTP, B2_RTP + 1, B2_SIP)), c.mid[0]
    assert_no_inside_address_outside(c.outside)
    assert_after_call(t, n_calls=1)


def assert_seed_entries_fork(t, smap):
    """Mid-call, A's signaling and media entries exist."""
    assert any(f"[{t.A}:{A_SIP}]" in l for l in smap), smap
    assert any("sip-rtp" in l for l in entries_for(smap, A_RTP)), smap
    assert any("sip-rtcp" in l for l in entries_for(smap, A_RTP + 1)), smap


def test_long_ringing(topo02, tmp_path):
    """The media timeout (here 2 s) is how long media entries wait for the call to be set
    up: B rings for 4 s (180), then answers. A's media entries must still be there when it
    does, so B's RTP after the 200 reaches the silent A."""
    t = topo02
    t.vpp.cli_ok("set sip-alg timeouts media 2")
    c = run(t, str(tmp_path), "call_life_silent_uac.xml",
            (("call_life_ring_uas.xml", B_SIP, B_RTP),),
            snapshot=(lambda log: sent(log, "ACK ") >= 1, t.server_map))
    assert c.ok(), c.logs()
    assert c.mid is not None
    assert any("sip-rtp" in l for l in entries_for(c.mid, A_RTP)), c.mid
    b_to_a(t, c)
    assert sources(udp_to(c.inside, t.A, A_RTP)) == {(t.B, B_RTP)}
    a_silent(t, c)
    assert_no_inside_address_outside(c.outside)
    assert_after_call(t, n_calls=1)


def test_cancel(topo02, tmp_path):
    """A INVITEs, B rings (180), A CANCELs: 200 OK to the CANCEL, 487 to the INVITE, ACK.
    While it rang the ALG had A's media entries and static mappings; a few seconds after
    the CANCEL nothing is left and the call was closed, not aged out."""
    t = topo02
    c = run(t, str(tmp_path), "call_life_cancel_uac.xml",
            (("call_life_cancel_uas.xml", B_SIP, B_RTP),),
            snapshot=(lambda log: received(log, "SIP/2.0 180") >= 1, lambda: state(t)))
    assert c.ok(), c.logs()
    assert c.mid is not None
    smap, nat = c.mid
    assert any(f"[{t.A}:{A_SIP}]" in l for l in smap), smap
    assert any("sip-rtp" in l for l in entries_for(smap, A_RTP)), smap
    assert any(f"local {t.A}:{A_RTP} " in l for l in nat), nat
    out, inside = sip(c.outside), sip(c.inside)
    cancel = first(out, b"CANCEL ", (1, "CANCEL"))[2]
    invite = first(out, b"INVITE ", (1, "INVITE"))[2]
    branch = lambda p: re.search(rb"branch=([^;\s]+)", p).group(1)
    assert branch(cancel) == branch(invite)
    first(inside, b"SIP/2.0 487", (1, "INVITE"))
    first(out, b"ACK ", (1, "ACK"))
    assert_no_inside_address_outside(c.outside)
    assert_after_call(t, n_calls=1)


def test_auth_challenge(topo02, tmp_path):
    """B answers the first INVITE 401 with WWW-Authenticate; A ACKs it and sends the INVITE
    again with CSeq 2, an Authorization header and the same Call-ID. That call is set up
    with RTP both ways, then BYE; nothing of it is left afterwards."""
    t = topo02
    c = run(t, str(tmp_path), "call_life_auth_uac.xml",
            (("call_life_auth_uas.xml", B_SIP, B_RTP),),
            snapshot=(lambda log: sent(log, "ACK ") >= 2, t.server_map))
    assert c.ok(), c.logs()
    out = sip(c.outside)
    first1 = first(out, b"INVITE ", (1, "INVITE"))[2]
    second = first(out, b"INVITE ", (2, "INVITE"))[2]
    call_id = lambda p: re.search(rb"^Call-ID:\s*(\S+)", p, re.M).group(1)
    assert call_id(first1) == call_id(second)
    assert re.search(rb"^Authorization: Digest ", second, re.M)
    assert b"Authorization" not in first1
    first(sip(c.inside), b"SIP/2.0 401", (1, "INVITE"))
    first(out, b"ACK ", (1, "ACK"))
    b_to_a(t, c)
    assert_flow("RTP A->B", rtp_seqs(c.inside, src=(t.A, A_RTP), before=c.bye),
                rtp_seqs(c.outside, dst=(t.B, B_RTP)), floor(c.talk))
    assert sources(udp_to(c.inside, t.A, A_RTP)) == {(t.B, B_RTP)}
    assert c.mid is not None
    assert_seed_entries(t, c.mid)
    assert_no_inside_address_outside(c.outside)
    assert_after_call(t)
