# SPDX-License-Identifier: Apache-2.0
"""Tier 1: loss, duplication, reordering and late retransmissions (RFC 3261 timers) through
the plugin in VPP (packet generator, 0 and 2 workers). The state after any of them is the
state without them: a message of a transaction that is over or superseded (a late 407, a
2xx after the BYE, an 18x after the 2xx, an INVITE resent after its final response)
changes nothing, a duplicate is idempotent, and once the call ends its record, server-map
entries and NAT44-ED static mappings are gone at once (not after aging).

A message "lost" here is lost before VPP (the ALG never sees it): its sender resends it."""

import time

import pytest

import sipmsgs as S
from scapy.all import Raw
from test_pg import entries, media_port, wait_for
from test_pg_call_life import Call, inside_media, media_to_a, pub_media
from test_pg_firewall import inbound_invite, inbound_ok, register


def gone(t, timeout=1.5):
    """The call's record, its server-map entries and the static mappings the ALG made are
    all gone within timeout: the main thread's close, not aging (a record left closed goes
    2 s after its last message, media entries 60 s after theirs)."""
    return wait_for(lambda: t.server_map() == [] and t.static_mappings() == [] and
                    t.vpp.cli("show sip-alg calls").strip() == "", timeout=timeout)


def stays_gone(t):
    time.sleep(0.5)
    return gone(t, timeout=0)


def outside(t):
    """{(endpoint, app)} of the outside party's records (no inside end)."""
    return {(pub, app) for pub, ins, app in entries(t) if ins is None}


def snapshot(t):
    """What a message that changes nothing leaves as it was: the server map's entries (the
    Left-Time aside), NAT44-ED's static mappings, the call records' states and the counters
    of state changes."""
    n = t.counters()
    calls = t.vpp.cli("show sip-alg calls")
    states = sorted(l.split("State:")[1].split(",")[0].strip()
                    for l in calls.splitlines() if "State:" in l)
    return (entries(t), sorted(t.static_mappings()), states,
            {k: n[k] for k in ("pinhole_added", "pinhole_removed", "calls_created",
                               "calls_closed", "media_released", "dialog_restarted")})


def b_response(c, status, reason, cseq, method="INVITE", sdp=None, tag="b1", count=1):
    """c.answer with a choice of how many packets to wait for (0: it may not get through)."""
    body = S.sdp(S.B, sdp) if sdp else b""
    return c.b_sends(S.response(status, reason, method, cseq, S.PUB, c.pub_port, body=body,
                                to_tag=tag), count=count)


def b_request(c, method, cseq, sdp=None):
    """An in-dialog request of B (the callee of A's call) to A's public signaling port."""
    msg = S.request_from_b(method, S.PUB, c.pub_port, cseq)
    if sdp:
        body = S.sdp(S.B, sdp)
        msg = msg.replace(b"Content-Length: 0\r\n", b"Content-Type: application/sdp\r\n"
                          b"Content-Length: %d\r\n" % len(body)) + body
    [p] = c.t.send("pg1", [c.t.udp("pg1", S.B, S.B_SIP, S.PUB, c.pub_port, c._id(msg))],
                   "pg0", 1)
    return p


def a_responds_to_b(c, status, reason, method, cseq):
    msg = S.response_to_b(status, reason, method, cseq, S.A, S.A_PORT)
    c.t.send("pg0", [c.t.udp("pg0", S.A, S.A_PORT, S.B, S.B_SIP, c._id(msg))], "pg1", 1)


def challenged(c, status=407, reason="Proxy Authentication Required"):
    """A's INVITE (CSeq 1), the proxy's challenge (its own to-tag, p1), A's ACK; then the
    INVITE again with credentials (CSeq 2, same Call-ID): returns its RTP public port."""
    c.invite(cseq=1)
    b_response(c, status, reason, 1, tag="p1")
    c.ack(1, tag="p1")
    return c.invite(cseq=2)


# --- 1. a late failure response of the challenged INVITE ---------------------------------


def test_late_407_after_the_retry_was_answered(pgnat02):
    """The proxy resends its 407 after the INVITE with credentials was answered (as it does
    while A's ACK to it is lost); A acknowledges it again. The call goes on as it was, and
    A's BYE ends it: record, entries and NAT mappings gone at once."""
    t = pgnat02
    c = Call(t)
    pub = challenged(c)
    b_response(c, 200, "OK", 2, sdp=S.B_RTP)
    c.ack(2)
    before = snapshot(t)
    b_response(c, 407, "Proxy Authentication Required", 1, tag="p1")
    c.ack(1, tag="p1")
    time.sleep(0.3)
    assert snapshot(t) == before
    assert pub_media(t) == {pub} and media_to_a(t, pub, S.A_RTP)
    c.bye(3)
    assert gone(t)
    n = t.counters()
    assert n["other_dialog"] == 0 and n["stale"] == 2  # the 407 and its ACK
    assert n["calls_created"] == n["calls_closed"]


@pytest.mark.parametrize("status,reason", [(407, "Proxy Authentication Required"),
                                           (401, "Unauthorized")], ids=["407", "401"])
def test_bye_after_a_late_challenge_names_its_tag(pgnat02, status, reason):
    """The same, A being a UA that builds its BYE from the last response it got (as sipp
    does): after the late challenge its BYE carries the challenge's to-tag (p1). A non-2xx
    final response makes no dialog (RFC 3261 12.1), so that BYE names no fork of the call:
    it is A hanging up, and the call ends with its answer, at once (before, it counted as
    another fork's BYE and the record and media pinholes stayed ~60 s)."""
    t = pgnat02
    c = Call(t)
    challenged(c, status, reason)
    b_response(c, 200, "OK", 2, sdp=S.B_RTP)
    c.ack(2)
    b_response(c, status, reason, 1, tag="p1")
    c.ack(1, tag="p1")
    c.bye(3, tag="p1")
    assert gone(t)
    n = t.counters()
    assert n["other_dialog"] == 0
    assert n["calls_created"] == n["calls_closed"]


# --- 2. a late 2xx ------------------------------------------------------------------------


def test_late_200_after_the_bye_opens_nothing(pgnat02):
    """B resends its 200 (A's ACK lost) after A's BYE: once before the BYE's answer, once
    after. A ACKs each. Neither reopens media pinholes nor brings the record back."""
    t = pgnat02
    c = Call(t)
    pub = c.establish()
    c.a_sends(S.request("BYE", S.A, S.A_PORT, 2))
    b_response(c, 200, "OK", 1, sdp=S.B_RTP, count=0)
    c.a_sends(S.request("ACK", S.A, S.A_PORT, 1), count=0)
    b_response(c, 200, "OK", 2, method="BYE", count=0)
    assert gone(t)
    b_response(c, 200, "OK", 1, sdp=S.B_RTP, count=0)
    c.a_sends(S.request("ACK", S.A, S.A_PORT, 1), count=0)
    assert stays_gone(t)
    assert not media_to_a(t, pub, S.A_RTP)
    n = t.counters()
    assert n["calls_created"] == n["calls_closed"] == 1


def inbound_call(t):
    """B calls A (registered): INVITE, A's 200 with its SDP. Returns (A's public signaling
    port, A's RTP public port, A's 200 as it left)."""
    pub_port = register(t)
    inv = inbound_invite(pub_port)
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, inv)], "pg0", 1)
    [o] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inbound_ok())],
                 "pg1", 1)
    return pub_port, media_port(bytes(o[Raw]))


def b_to_a(t, pub_port, method, cseq):
    """B's in-dialog request of the inbound call (through the proxy) to A."""
    msg = S.message(f"{method} sip:alice@{S.PUB}:{pub_port} SIP/2.0", [
        f"Via: SIP/2.0/UDP {S.PROXY}:{S.PROXY_PORT};branch=z9hG4bK-in{method}{cseq}",
        "Max-Forwards: 69",
        f"From: <sip:bob@{S.PROXY}>;tag=b9",
        f"To: <sip:alice@{S.PROXY}>;tag=a9",
        "Call-ID: in-1@198.51.100.1",
        f"CSeq: {cseq} {method}",
    ])
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, msg)], "pg0", 1)


def a_ok_to_b(t, method, cseq):
    msg = S.message("SIP/2.0 200 OK", [
        f"Via: SIP/2.0/UDP {S.PROXY}:{S.PROXY_PORT};branch=z9hG4bK-in{method}{cseq}",
        f"From: <sip:bob@{S.PROXY}>;tag=b9",
        f"To: <sip:alice@{S.PROXY}>;tag=a9",
        "Call-ID: in-1@198.51.100.1",
        f"CSeq: {cseq} {method}",
    ])
    t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, msg)], "pg1", 1)


def test_callee_resends_its_200_after_the_bye(pgnat02):
    """A is called (inbound) and answers; B's ACK is lost, so A resends its 200 (with its
    SDP), also after B's BYE came: before A answers the BYE and after. No media pinhole
    opens again and the call's record goes at once; A's REGISTER binding stays."""
    t = pgnat02
    pub_port, rtp = inbound_call(t)
    assert media_to_a(t, rtp, S.A_RTP)
    b_to_a(t, pub_port, "BYE", 2)
    assert wait_for(lambda: inside_media(t) == set())
    added = t.counters()["pinhole_added"]
    t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inbound_ok())], "pg1", 1)
    a_ok_to_b(t, "BYE", 2)
    t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inbound_ok())], "pg1", 1)
    binding = [(f"{S.PUB}:{pub_port}", f"{S.A}:{S.A_PORT}", "sip")]
    assert wait_for(lambda: sorted(entries(t)) == binding and
                    "in-1@198.51.100.1" not in t.vpp.cli("show sip-alg calls"), timeout=1.5)
    time.sleep(0.5)
    assert sorted(entries(t)) == binding
    assert t.counters()["pinhole_added"] == added
    assert t.static_mappings() == [f"UDP local {S.A}:{S.A_PORT} external {S.PUB}:{pub_port} vrf 0"]
    assert not media_to_a(t, rtp, S.A_RTP)


def test_200_again_while_confirmed_changes_nothing(pgnat02):
    """A confirmed call: B's 200 again (A's ACK lost) changes nothing, nor does a late one
    of the first INVITE after a re-INVITE moved B's media (4100): B's records stay those
    of the session that holds."""
    t = pgnat02
    c = Call(t)
    pub = c.establish()
    before = snapshot(t)
    b_response(c, 200, "OK", 1, sdp=S.B_RTP)
    c.ack(1)
    time.sleep(0.3)
    assert snapshot(t) == before
    assert c.reinvite(S.A_RTP, 2) == pub
    b_response(c, 200, "OK", 2, sdp=4100)
    c.ack(2)
    assert wait_for(lambda: (f"{S.B}:4100", "sip-rtp") in outside(t))
    assert (f"{S.B}:{S.B_RTP}", "sip-rtp") not in outside(t)
    before = snapshot(t)
    b_response(c, 200, "OK", 1, sdp=S.B_RTP)  # its first 200, late
    c.ack(1)
    b_response(c, 200, "OK", 2, sdp=4100)  # and the second again
    c.ack(2)
    time.sleep(0.3)
    assert snapshot(t) == before
    assert media_to_a(t, pub, S.A_RTP)
    c.bye(3)
    assert gone(t)


def test_18x_after_the_200_changes_nothing(pgnat02):
    """Reordering: a fork's 183 with its own SDP reaches VPP after the 200 of the answered
    fork. The answered dialog's records stay (before, the late 183 replaced them)."""
    t = pgnat02
    c = Call(t)
    pub = c.invite()
    b_response(c, 200, "OK", 1, sdp=S.B_RTP)
    c.ack(1)
    assert wait_for(lambda: (f"{S.B}:{S.B_RTP}", "sip-rtp") in outside(t))
    before = snapshot(t)
    b_response(c, 183, "Session Progress", 1, sdp=4200, tag="f2")
    b_response(c, 180, "Ringing", 1)
    time.sleep(0.3)
    assert snapshot(t) == before
    assert media_to_a(t, pub, S.A_RTP)
    c.bye(2)
    assert gone(t)


# --- 3. duplicated and crossing BYEs ------------------------------------------------------


def test_duplicated_bye(pgnat02):
    """A's BYE twice (its first copy duplicated on the way), B's 200, then A's BYE again
    (the 200 lost after VPP) and B's 200 again: one close, nothing left, no record made."""
    t = pgnat02
    c = Call(t)
    c.establish()
    bye = S.request("BYE", S.A, S.A_PORT, 2)
    c.a_sends(bye)
    c.a_sends(bye)
    b_response(c, 200, "OK", 2, method="BYE")
    assert gone(t)
    c.a_sends(bye)
    b_response(c, 200, "OK", 2, method="BYE", count=0)
    assert stays_gone(t)
    n = t.counters()
    assert n["calls_created"] == n["calls_closed"] == 1


def test_crossing_byes_either_answer_ends_the_call(pgnat02):
    """A and B hang up at once. A's BYE reaches VPP first but is lost after it; B's BYE
    crosses it and A answers that (200). The dialog is over (RFC 3261 15.1.2): nothing is
    left at once, without waiting for an answer to A's BYE (B would answer its resend
    481, or never, if every copy is lost). A's resent BYE and B's 481 change nothing."""
    t = pgnat02
    c = Call(t)
    c.establish()
    c.a_sends(S.request("BYE", S.A, S.A_PORT, 2))
    b_request(c, "BYE", 9)
    a_responds_to_b(c, 200, "OK", "BYE", 9)
    assert gone(t)
    c.a_sends(S.request("BYE", S.A, S.A_PORT, 2))
    b_response(c, 481, "Call/Transaction Does Not Exist", 2, method="BYE", count=0)
    assert stays_gone(t)
    n = t.counters()
    assert n["calls_created"] == n["calls_closed"] == 1


def test_crossing_byes_resent(pgnat02):
    """A's BYE first, then B's; each side's BYE resent (both answers lost once), then both
    answered, the 200s duplicated: one close, nothing left."""
    t = pgnat02
    c = Call(t)
    c.establish()
    c.a_sends(S.request("BYE", S.A, S.A_PORT, 2))
    b_request(c, "BYE", 9)
    c.a_sends(S.request("BYE", S.A, S.A_PORT, 2))
    b_request(c, "BYE", 9)
    b_response(c, 200, "OK", 2, method="BYE")
    assert gone(t)
    a_responds_to_b(c, 200, "OK", "BYE", 9)
    b_response(c, 200, "OK", 2, method="BYE", count=0)
    assert stays_gone(t)
    n = t.counters()
    assert n["calls_created"] == n["calls_closed"] == 1


# --- 4. lost ACK --------------------------------------------------------------------------


def test_lost_ack_same_as_without(pgnat02):
    """Two calls of A in turn, one with its ACK lost (B resends the 200, A ACKs that), one
    without: the same entries (the public ports aside), mappings and counters; each ends
    with nothing left. The ACK of a re-INVITE's 200 lost too: its 200 resent changes
    nothing."""
    t = pgnat02

    def shape(t):
        """The entries without their public ports (each call gets its own)."""
        return ({(a, i) if i else (p, a) for p, i, a in entries(t)}, len(t.static_mappings()))

    shapes = []
    for k, lost in enumerate((False, True)):
        c = Call(t, f"call-{k}")
        c.pub_port = None
        pub = c.invite()
        b_response(c, 200, "OK", 1, sdp=S.B_RTP)
        if lost:
            b_response(c, 200, "OK", 1, sdp=S.B_RTP)
        c.ack(1)
        time.sleep(0.3)
        shapes.append(shape(t))
        assert media_to_a(t, pub, S.A_RTP)
        c.reinvite(3010, 2)
        b_response(c, 200, "OK", 2, sdp=S.B_RTP)
        if lost:
            b_response(c, 200, "OK", 2, sdp=S.B_RTP)
        c.ack(2)
        assert wait_for(lambda: inside_media(t) == {(3010, "sip-rtp"), (3011, "sip-rtcp")})
        shapes.append(shape(t))
        c.bye(3)
        assert gone(t)
    assert shapes[0] == shapes[2] and shapes[1] == shapes[3]
    n = t.counters()
    assert n["calls_created"] == n["calls_closed"] == 2 and n["media_released"] == 2


def test_lost_ack_of_an_inbound_call_and_a_reinvite(pgnat02):
    """B calls A; B's ACK is lost, so A resends its 200 (timer G), and meanwhile A
    re-INVITEs to a new port with CSeq 1: A numbers its requests on its own (RFC 3261
    12.2.1.1), so its first one has the number of B's INVITE. The resent 200 is B's
    transaction again, not the answer of A's offer: A's offered port stays until B's
    answer, which moves the media to it (before, the resent 200 took A's offer as answered
    and released the new port, and B's media to it were dropped)."""
    t = pgnat02
    pub_port, rtp = inbound_call(t)
    a_offer = S.message(f"INVITE sip:bob@{S.B}:{S.B_SIP} SIP/2.0", [
        f"Via: SIP/2.0/UDP {S.A}:{S.A_PORT};branch=z9hG4bK-ar1;rport",
        "Max-Forwards: 70",
        f"From: <sip:alice@{S.PROXY}>;tag=a9",
        f"To: <sip:bob@{S.PROXY}>;tag=b9",
        "Call-ID: in-1@198.51.100.1",
        "CSeq: 1 INVITE",
        f"Contact: <sip:alice@{S.A}:{S.A_PORT}>",
    ], S.sdp(S.A, 3010))
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, a_offer)], "pg1", 1)
    new = media_port(bytes(p[Raw]))
    t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inbound_ok())], "pg1", 1)
    b_to_a(t, pub_port, "ACK", 1)
    ok = S.message("SIP/2.0 200 OK", [
        f"Via: SIP/2.0/UDP {S.PUB}:{pub_port};branch=z9hG4bK-ar1;rport",
        f"From: <sip:alice@{S.PROXY}>;tag=a9",
        f"To: <sip:bob@{S.PROXY}>;tag=b9",
        "Call-ID: in-1@198.51.100.1",
        "CSeq: 1 INVITE",
        f"Contact: <sip:bob@{S.B}:{S.B_SIP}>",
    ], S.sdp(S.B, S.B_RTP))
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, ok)], "pg0", 1)
    ack = S.message(f"ACK sip:bob@{S.B}:{S.B_SIP} SIP/2.0", [
        f"Via: SIP/2.0/UDP {S.A}:{S.A_PORT};branch=z9hG4bK-ar1a;rport",
        "Max-Forwards: 70",
        f"From: <sip:alice@{S.PROXY}>;tag=a9",
        f"To: <sip:bob@{S.PROXY}>;tag=b9",
        "Call-ID: in-1@198.51.100.1",
        "CSeq: 1 ACK",
    ])
    t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, ack)], "pg1", 1)
    assert wait_for(lambda: inside_media(t) == {(3010, "sip-rtp"), (3011, "sip-rtcp")})
    assert media_to_a(t, new, 3010) and not media_to_a(t, rtp, S.A_RTP)
    assert t.counters()["media_released"] == 1
    b_to_a(t, pub_port, "BYE", 2)
    a_ok_to_b(t, "BYE", 2)
    assert wait_for(lambda: sorted(entries(t)) == [(f"{S.PUB}:{pub_port}", f"{S.A}:{S.A_PORT}",
                                                     "sip")], timeout=1.5)


# --- 5. CANCEL racing the 200 -------------------------------------------------------------


def cancel(c, cseq=1):
    c.a_sends(S.message(f"CANCEL sip:bob@{S.PROXY} SIP/2.0",
                        S.dialog(S.A, S.A_PORT, cseq, "CANCEL", branch=f"z9hG4bK-{cseq}")))


def test_cancel_racing_the_200(pgnat02):
    """A cancels while B answers: the 200 to the INVITE reaches VPP after the CANCEL. The
    dialog is confirmed (RFC 3261 9.1); the CANCEL's answer (481), A's CANCEL resent and
    the 200 resent change nothing; A ACKs and hangs up, and the BYE's answer ends it all."""
    t = pgnat02
    c = Call(t)
    c.invite()
    b_response(c, 180, "Ringing", 1)
    cancel(c)
    b_response(c, 200, "OK", 1, sdp=S.B_RTP)
    cancel(c)
    b_response(c, 481, "Call/Transaction Does Not Exist", 1, method="CANCEL")
    b_response(c, 200, "OK", 1, sdp=S.B_RTP)
    c.ack(1)
    assert "State: confirmed" in t.vpp.cli("show sip-alg calls")
    c.bye(2)
    assert gone(t)
    n = t.counters()
    assert n["calls_created"] == n["calls_closed"] == 1


def test_cancel_487_with_losses(pgnat02):
    """A cancels; the 487 reaches VPP before the CANCEL's 200, A's ACK to it is lost so B
    resends the 487 after the call ended, and A resends its CANCEL late: one close at the
    487, nothing left, nothing made again."""
    t = pgnat02
    c = Call(t)
    c.invite()
    b_response(c, 180, "Ringing", 1)
    cancel(c)
    b_response(c, 487, "Request Terminated", 1)
    assert gone(t)
    b_response(c, 200, "OK", 1, method="CANCEL", count=0)
    b_response(c, 487, "Request Terminated", 1, count=0)
    c.a_sends(S.request("ACK", S.A, S.A_PORT, 1), count=0)
    cancel(c)
    assert stays_gone(t)
    n = t.counters()
    assert n["calls_created"] == n["calls_closed"] == 1


# --- 6. re-INVITE glare under loss --------------------------------------------------------


def test_reinvite_glare_with_losses(pgnat02):
    """A and B re-INVITE at once (A to a new port 3010, B to 4100); each answers the other
    491 (RFC 3261 14.1). Losses: A's 491 is lost once (B resends its INVITE, A its 491),
    A's ACK to B's 491 is lost (B resends the 491), and a copy of A's INVITE turns up after
    its 491. None of them opens a pinhole or changes the session: A's offered port goes
    once, its old media stay. A's retry (CSeq 3) is answered and ACKed (200 resent once);
    then a late 491 of the glare again. The BYE leaves nothing."""
    t = pgnat02
    c = Call(t)
    pub = c.establish()
    a_offer = S.message(f"INVITE sip:bob@{S.B}:{S.B_SIP} SIP/2.0",
                        S.dialog(S.A, S.A_PORT, 2, "INVITE", to_tag="b1", branch="z9hG4bK-2"),
                        S.sdp(S.A, 3010))
    [p] = c.a_sends(a_offer)
    new = media_port(bytes(p[Raw]))
    b_request(c, "INVITE", 9, sdp=4100)  # crosses A's
    a_responds_to_b(c, 491, "Request Pending", "INVITE", 9)
    b_request(c, "INVITE", 9, sdp=4100)  # A's 491 lost: B resends
    a_responds_to_b(c, 491, "Request Pending", "INVITE", 9)
    b_request(c, "ACK", 9)
    b_response(c, 491, "Request Pending", 2)
    assert wait_for(lambda: inside_media(t) == {(3000, "sip-rtp"), (3001, "sip-rtcp")})
    assert t.counters()["media_released"] == 1
    before = snapshot(t)
    b_response(c, 491, "Request Pending", 2)  # A's ACK lost: B resends
    c.ack(2)
    c.a_sends(a_offer)  # a late copy of A's offer
    time.sleep(0.3)
    assert snapshot(t) == before
    assert media_to_a(t, pub, S.A_RTP) and not media_to_a(t, new, 3010)
    # A's retry after the glare timer, answered with B's old media
    retry = c.reinvite(3010, 3)
    b_response(c, 200, "OK", 3, sdp=S.B_RTP)
    b_response(c, 200, "OK", 3, sdp=S.B_RTP)
    c.ack(3)
    b_response(c, 491, "Request Pending", 2, count=0)
    assert wait_for(lambda: inside_media(t) == {(3010, "sip-rtp"), (3011, "sip-rtcp")})
    assert media_to_a(t, retry, 3010)
    assert "State: confirmed" in t.vpp.cli("show sip-alg calls")
    c.bye(4)
    assert gone(t)
    n = t.counters()
    assert n["calls_created"] == n["calls_closed"] == 1


def test_late_invite_copy_after_the_call_ended(pgnat02):
    """A copy of A's INVITE held back (a relay, a slow path) arrives after the call's BYE
    and 200: it is dropped and counted stale, no record, entry or mapping comes back (it
    used to start a new record that aged out 2 minutes later). A new INVITE of the same
    Call-ID with a higher CSeq, or another call, still starts one."""
    t = pgnat02
    c = Call(t)
    c.establish()
    c.bye(2)
    assert gone(t)
    inv = S.message(f"INVITE sip:bob@{S.PROXY} SIP/2.0",
                    S.dialog(S.A, S.A_PORT, 1, "INVITE", branch="z9hG4bK-1"),
                    S.sdp(S.A, S.A_RTP))
    # a capture armed for one packet: the copy must not leave VPP
    assert t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)], "pg1", 1,
                  timeout=1.0) == []
    assert stays_gone(t)
    n = t.counters()
    assert (n["calls_created"], n["calls_closed"], n["stale"]) == (1, 1, 1)
    # the Call-ID again with a new CSeq: a new call, as a UA may place one
    c.invite(cseq=3)
    assert t.counters()["calls_created"] == 2
    Call(t, name="call-2").invite()
    assert t.counters()["calls_created"] == 3


def test_call_with_cseq_0(pgnat02):
    """CSeq 0 is a CSeq like any other (RFC 3261 8.1.1.5): the INVITE's retransmission is a
    retransmission, the ACK answers it, and a late copy after the call's end is dropped as
    stale like any other (it used to be taken for "no INVITE yet": the copy started a new
    call record)."""
    t = pgnat02
    c = Call(t)
    pub = c.invite(cseq=0)
    assert c.invite(cseq=0) == pub
    c.answer(200, "OK", 0, sdp=S.B_RTP)
    c.ack(0)
    assert "State: confirmed" in t.vpp.cli("show sip-alg calls")
    c.bye(1)
    assert gone(t)
    inv = S.message(f"INVITE sip:bob@{S.PROXY} SIP/2.0",
                    S.dialog(S.A, S.A_PORT, 0, "INVITE", branch="z9hG4bK-0"),
                    S.sdp(S.A, S.A_RTP))
    assert t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)], "pg1", 1,
                  timeout=1.0) == []
    assert stays_gone(t)
    n = t.counters()
    assert (n["calls_created"], n["calls_closed"], n["stale"]) == (1, 1, 1)
