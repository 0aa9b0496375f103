# SPDX-License-Identifier: Apache-2.0
"""Tier 1: the whole life of a call through the plugin in VPP (packet generator, 0 and 2
workers): renegotiation (re-INVITE, UPDATE, hold and resume, glare), early media and
forking, challenges, CANCEL, and the call timers. Each test drives the call message by
message and asserts the server map, NAT44-ED's static mappings, the counters, and where
media goes."""

import os
import re
import time

import sipmsgs as S
from scapy.all import IP, UDP, Raw, wrpcap
from test_pg import entries, media_port, wait_for


class Call:
    """One call of A (inside) through the proxy, message by message. Its Call-ID is
    `<name>@192.168.1.1`; B answers from the proxy's address."""

    def __init__(self, t, name="call-1"):
        self.t, self.name = t, name
        self.pub_port = None  # A's public signaling port

    def _id(self, msg):
        return msg.replace(b"call-1@", f"{self.name}@".encode())

    def a_sends(self, msg, count=1):
        """msg from A to the proxy; returns what left VPP on the outside."""
        got = self.t.send("pg0", [self.t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT,
                                              self._id(msg))], "pg1", count)
        if got and self.pub_port is None:
            self.pub_port = got[0][UDP].sport
        return got

    def b_sends(self, msg, count=1):
        """msg from the proxy to A's public signaling port; returns what reached A."""
        return self.t.send("pg1", [self.t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB,
                                              self.pub_port, self._id(msg))], "pg0", count)

    def invite(self, rtp=S.A_RTP, cseq=1, extra=(), addr=None):
        """A's first INVITE (or the same again with credentials); returns its RTP public
        port from the SDP that left VPP."""
        msg = S.message(f"INVITE sip:bob@{S.PROXY} SIP/2.0",
                        S.dialog(S.A, S.A_PORT, cseq, "INVITE", branch=f"z9hG4bK-{cseq}"),
                        S.sdp(addr or S.A, rtp, extra))
        [p] = self.a_sends(msg)
        return media_port(bytes(p[Raw]))

    def reinvite(self, rtp, cseq, extra=(), addr=None, method="INVITE", tag="b1"):
        """A's in-dialog offer; returns the port it announces outside (0: none)."""
        msg = S.message(f"{method} sip:bob@{S.B}:{S.B_SIP} SIP/2.0",
                        S.dialog(S.A, S.A_PORT, cseq, method, to_tag=tag,
                                 branch=f"z9hG4bK-{cseq}"),
                        S.sdp(addr or S.A, rtp, extra))
        [p] = self.a_sends(msg)
        return media_port(bytes(p[Raw]))

    def answer(self, status, reason, cseq, method="INVITE", sdp=None, tag="b1"):
        """B's response to A's request cseq, with B's SDP (port sdp) or none."""
        body = S.sdp(S.B, sdp) if sdp else b""
        return self.b_sends(S.response(status, reason, method, cseq, S.PUB, self.pub_port,
                                       body=body, to_tag=tag))

    def ack(self, cseq, tag="b1"):
        msg = S.request("ACK", S.A, S.A_PORT, cseq, to_tag=tag)
        self.a_sends(msg)

    def bye(self, cseq, tag="b1"):
        self.a_sends(S.request("BYE", S.A, S.A_PORT, cseq, to_tag=tag))
        self.answer(200, "OK", cseq, method="BYE", tag=tag)

    def establish(self, rtp=S.A_RTP):
        """INVITE, 200 OK with B's SDP, ACK: returns A's RTP public port."""
        pub = self.invite(rtp)
        self.answer(200, "OK", 1, sdp=S.B_RTP)
        self.ack(1)
        return pub


def media_to_a(t, pub_rtp, in_port, n=1):
    """B sends n RTP packets to A's public port pub_rtp: True when all reach A at in_port."""
    pkts = [t.udp("pg1", S.B, S.B_RTP, S.PUB, pub_rtp, b"\x80\x00" + bytes(170))
            for _ in range(n)]
    got = t.send("pg1", pkts, "pg0", n, timeout=2.0)
    return len(got) == n and all((g[IP].dst, g[UDP].dport) == (S.A, in_port) for g in got)


def inside_media(t):
    """{(inside port, app)} of the server map's NAT pinholes for A's media."""
    out = set()
    for pub, ins, app in entries(t):
        if ins and app != "sip":
            out.add((int(ins.split(":")[1]), app))
    return out


def pub_media(t):
    """{public port} of A's media pinholes."""
    return {int(pub.split(":")[1]) for pub, ins, app in entries(t) if ins and app == "sip-rtp"}


def mappings_for(t, in_port):
    return [m for m in t.static_mappings() if f"local {S.A}:{in_port} " in m]


# --- renegotiation -----------------------------------------------------------------------


def test_reinvite_to_a_new_port_moves_the_media(pgnat02):
    """A re-INVITE to a new port opens the new port's pinholes before the offer leaves
    VPP, keeps the old ones until B answers, then releases them (entries, NAT mappings and
    the port pair); B's media reaches the new port."""
    t = pgnat02
    c = Call(t)
    old_pub = c.establish()
    new_pub = c.reinvite(3010, 2)
    assert new_pub != old_pub and 40000 <= new_pub <= 59999
    # both while the offer is out
    assert inside_media(t) == {(3000, "sip-rtp"), (3001, "sip-rtcp"), (3010, "sip-rtp"),
                               (3011, "sip-rtcp")}
    assert media_to_a(t, new_pub, 3010)
    c.answer(200, "OK", 2, sdp=S.B_RTP)
    c.ack(2)
    assert wait_for(lambda: inside_media(t) == {(3010, "sip-rtp"), (3011, "sip-rtcp")})
    assert mappings_for(t, 3000) == [] and mappings_for(t, 3001) == []
    assert len(mappings_for(t, 3010)) == 1
    assert media_to_a(t, new_pub, 3010)
    assert not media_to_a(t, old_pub, 3000)  # nothing behind the old public port
    n = t.counters()
    assert n["media_released"] == 1 and n["no_media_port"] == 0
    assert "Media: 1," in t.vpp.cli("show sip-alg calls")


def test_added_then_disabled_stream(pgnat02):
    """A re-INVITE adds a video stream (its own pinholes); the next one disables it with
    port 0 (RFC 3264 8.2): the video's pinholes go, the audio's stay."""
    t = pgnat02
    c = Call(t)
    audio = c.establish()
    c.reinvite(S.A_RTP, 2, extra=["m=video 3100 RTP/AVP 96", "a=rtpmap:96 H264/90000"])
    c.answer(200, "OK", 2, sdp=S.B_RTP)
    c.ack(2)
    assert wait_for(lambda: inside_media(t) == {(3000, "sip-rtp"), (3001, "sip-rtcp"),
                                                (3100, "sip-rtp"), (3101, "sip-rtcp")})
    assert c.reinvite(S.A_RTP, 3, extra=["m=video 0 RTP/AVP 96"]) == audio
    c.answer(200, "OK", 3, sdp=S.B_RTP)
    c.ack(3)
    assert wait_for(lambda: inside_media(t) == {(3000, "sip-rtp"), (3001, "sip-rtcp")})
    assert mappings_for(t, 3100) == []
    assert t.counters()["media_released"] == 1
    assert media_to_a(t, audio, S.A_RTP)


def test_rejected_reoffer_keeps_the_session(pgnat02):
    """Glare: B answers A's re-INVITE with 491. The port offered anew is released, the
    session's media stay and still carry B's RTP."""
    t = pgnat02
    c = Call(t)
    old_pub = c.establish()
    new_pub = c.reinvite(3010, 2)
    c.answer(491, "Request Pending", 2)
    c.ack(2)
    assert wait_for(lambda: inside_media(t) == {(3000, "sip-rtp"), (3001, "sip-rtcp")})
    assert mappings_for(t, 3010) == []
    assert media_to_a(t, old_pub, 3000)
    assert not media_to_a(t, new_pub, 3010)
    assert t.counters()["media_released"] == 1
    # the call is still up: a BYE ends it
    c.bye(3)
    assert wait_for(lambda: t.server_map() == [] and t.static_mappings() == [])


def test_update_moves_the_media(pgnat02):
    """UPDATE with an offer (RFC 3311) moves the media like a re-INVITE."""
    t = pgnat02
    c = Call(t)
    c.establish()
    new_pub = c.reinvite(3020, 2, method="UPDATE")
    c.answer(200, "OK", 2, method="UPDATE", sdp=S.B_RTP)
    assert wait_for(lambda: inside_media(t) == {(3020, "sip-rtp"), (3021, "sip-rtcp")})
    assert media_to_a(t, new_pub, 3020)


def test_hold_sendonly_and_resume_keep_the_pinholes(pgnat02):
    """Hold with a=sendonly and resume with a=sendrecv on the same port: the same public
    port, no pinhole churn, and B's media reaches A after the resume."""
    t = pgnat02
    c = Call(t)
    pub = c.establish()
    assert c.reinvite(S.A_RTP, 2, extra=["a=sendonly"]) == pub
    c.answer(200, "OK", 2, sdp=S.B_RTP)
    c.ack(2)
    assert c.reinvite(S.A_RTP, 3, extra=["a=sendrecv"]) == pub
    c.answer(200, "OK", 3, sdp=S.B_RTP)
    c.ack(3)
    time.sleep(0.3)
    assert pub_media(t) == {pub}
    n = t.counters()
    assert n["media_released"] == 0 and n["pinhole_added"] == 6  # A's 3, B's 3
    assert media_to_a(t, pub, S.A_RTP)


def test_hold_with_zero_address_releases_and_resume_reopens(pgnat02):
    """The old hold form, c=0.0.0.0 (RFC 2543): no pinhole for it, the session's media are
    released once B accepts; the resume gets a new public port that works."""
    t = pgnat02
    c = Call(t)
    pub = c.establish()
    c.reinvite(S.A_RTP, 2, addr="0.0.0.0")
    c.answer(200, "OK", 2, sdp=S.B_RTP)
    c.ack(2)
    assert wait_for(lambda: inside_media(t) == set())
    assert t.static_mappings() == [f"UDP local {S.A}:{S.A_PORT} external {S.PUB}:{c.pub_port} vrf 0"]
    resumed = c.reinvite(S.A_RTP, 3)
    assert resumed and resumed != pub
    c.answer(200, "OK", 3, sdp=S.B_RTP)
    c.ack(3)
    assert media_to_a(t, resumed, S.A_RTP)
    assert t.counters()["media_released"] == 1


def test_many_reoffers_stay_translated(pgnat02):
    """Twelve re-INVITEs, each to a new port, each answered: every offer leaves with a
    public port (none untranslated past the call's eight streams), and only the last
    stream keeps pinholes."""
    t = pgnat02
    c = Call(t)
    c.establish()
    for k in range(12):
        rtp = 3100 + 2 * k
        pub = c.reinvite(rtp, 2 + k)
        assert 40000 <= pub <= 59999, (k, pub)
        c.answer(200, "OK", 2 + k, sdp=S.B_RTP)
        c.ack(2 + k)
    assert wait_for(lambda: inside_media(t) == {(3122, "sip-rtp"), (3123, "sip-rtcp")})
    n = t.counters()
    assert n["no_media_port"] == 0 and n["media_released"] == 12
    assert media_to_a(t, pub, 3122)


def test_outside_party_moves_its_media(pgnat02):
    """B's re-INVITE to a new port of its own: B's old media records go, the new ones
    come; A's pinholes stay."""
    t = pgnat02
    c = Call(t)
    pub = c.establish()
    reinv = S.request_from_b("INVITE", S.PUB, c.pub_port, 1)
    reinv = reinv.replace(b"Content-Length: 0\r\n",
                          b"Content-Type: application/sdp\r\nContent-Length: %d\r\n"
                          % len(S.sdp(S.B, 4100))) + S.sdp(S.B, 4100)
    t.send("pg1", [t.udp("pg1", S.B, S.B_SIP, S.PUB, c.pub_port, reinv)], "pg0", 1)
    assert wait_for(lambda: {(p, a) for p, i, a in entries(t) if i is None and a != "sip"} ==
                    {(f"{S.B}:4100", "sip-rtp"), (f"{S.B}:4101", "sip-rtcp")})
    assert pub_media(t) == {pub}


# --- early media, forking ----------------------------------------------------------------


def test_early_media_before_the_answer(pgnat02):
    """183 with SDP: B's media reaches A before the 200 OK, and goes on after it."""
    t = pgnat02
    c = Call(t)
    pub = c.invite()
    c.answer(183, "Session Progress", 1, sdp=S.B_RTP)
    assert media_to_a(t, pub, S.A_RTP, n=3)
    c.answer(200, "OK", 1, sdp=S.B_RTP)
    c.ack(1)
    assert media_to_a(t, pub, S.A_RTP)


def test_forks_records_and_the_bye_of_a_fork_not_answered(pgnat02):
    """Two forks answer 183 with their own SDP (to-tags f1, f2). The 200 of f1 leaves f1's
    records only; the caller's BYE to f2 (after f2's late 200) ends f2's dialog, not the
    call: A's media stay until the BYE to f1."""
    t = pgnat02
    c = Call(t)
    pub = c.invite()
    c.b_sends(S.response(183, "Session Progress", "INVITE", 1, S.PUB, c.pub_port,
                         body=S.sdp(S.B, 4000), to_tag="f1"))
    f2_contact = lambda m: m.replace(f"<sip:bob@{S.B}:{S.B_SIP}>".encode(),
                                     b"<sip:bob@198.51.100.3:5064>")
    c.b_sends(f2_contact(S.response(183, "Session Progress", "INVITE", 1, S.PUB, c.pub_port,
                                    body=S.sdp("198.51.100.3", 4200), to_tag="f2")))
    assert wait_for(lambda: {p for p, i, a in entries(t) if i is None and a == "sip-rtp"} ==
                    {f"{S.B}:4000", "198.51.100.3:4200"})
    assert {p for p, i, a in entries(t) if i is None and a == "sip"} == \
        {f"{S.B}:{S.B_SIP}", "198.51.100.3:5064"}
    c.b_sends(S.response(200, "OK", "INVITE", 1, S.PUB, c.pub_port, body=S.sdp(S.B, 4000),
                         to_tag="f1"))
    c.ack(1, tag="f1")
    assert wait_for(lambda: {p for p, i, a in entries(t) if i is None and a == "sip-rtp"} ==
                    {f"{S.B}:4000"})
    # the forks' Contact records: only the answered one's
    assert {p for p, i, a in entries(t) if i is None and a == "sip"} == {f"{S.B}:{S.B_SIP}"}
    # f2 answers too late: A acknowledges and hangs up on that dialog only
    c.b_sends(f2_contact(S.response(200, "OK", "INVITE", 1, S.PUB, c.pub_port,
                                    body=S.sdp("198.51.100.3", 4200), to_tag="f2")))
    c.ack(1, tag="f2")
    c.bye(2, tag="f2")
    time.sleep(0.5)
    assert t.counters()["other_dialog"] == 1
    assert pub_media(t) == {pub}
    assert media_to_a(t, pub, S.A_RTP)
    c.bye(3, tag="f1")
    assert wait_for(lambda: t.server_map() == [] and t.static_mappings() == [])


# --- teardown and failures ---------------------------------------------------------------


def test_cancel_clears_the_call(pgnat02):
    t = pgnat02
    c = Call(t)
    c.invite()
    c.answer(180, "Ringing", 1)
    cancel = S.message(f"CANCEL sip:bob@{S.PROXY} SIP/2.0",
                       S.dialog(S.A, S.A_PORT, 1, "CANCEL", branch="z9hG4bK-1"))
    c.a_sends(cancel)
    c.answer(200, "OK", 1, method="CANCEL")
    c.answer(487, "Request Terminated", 1)
    c.ack(1)
    assert wait_for(lambda: t.server_map() == [] and t.static_mappings() == [])
    n = t.counters()
    assert n["calls_created"] == n["calls_closed"] == 1
    assert "0 in use" in t.vpp.cli("show sip-alg config")


def test_481_to_a_reinvite_ends_the_call(pgnat02):
    """481 Call/Transaction Does Not Exist to a re-INVITE: the dialog is gone (RFC 5057),
    so is everything the call had, also the re-offer's new port."""
    t = pgnat02
    c = Call(t)
    c.establish()
    c.reinvite(3010, 2)
    c.answer(481, "Call/Transaction Does Not Exist", 2)
    c.ack(2)
    assert wait_for(lambda: t.server_map() == [] and t.static_mappings() == [])
    assert t.counters()["calls_closed"] == 1
    assert "0 in use" in t.vpp.cli("show sip-alg config")


def test_crossing_byes(pgnat02):
    """A and B hang up at once: both BYEs pass, the call ends with the 200 to A's BYE and
    nothing is left."""
    t = pgnat02
    c = Call(t)
    c.establish()
    c.a_sends(S.request("BYE", S.A, S.A_PORT, 2))
    bye_b = S.request_from_b("BYE", S.PUB, c.pub_port, 9)
    [p] = t.send("pg1", [t.udp("pg1", S.B, S.B_SIP, S.PUB, c.pub_port, bye_b)], "pg0", 1)
    assert (p[IP].dst, p[UDP].dport) == (S.A, S.A_PORT)
    ok_b = S.response_to_b(200, "OK", "BYE", 9, S.A, S.A_PORT)
    t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.B, S.B_SIP, ok_b)], "pg1", 1)
    c.answer(200, "OK", 2, method="BYE")
    assert wait_for(lambda: t.server_map() == [] and t.static_mappings() == [])
    n = t.counters()
    assert n["calls_closed"] == 1 and n["pinhole_expired"] == 0


def send_together(t, streams, out_iface, count, timeout=5.0):
    """Several packet-generator streams (iface, packets) started by one command: pg-input
    sends them in one dispatch, before the main thread handles a request they cause."""
    return t.send_streams(streams, out_iface, count, timeout)


def test_challenge_and_retry_in_one_burst(pgnat02):
    """407, its ACK and the INVITE with credentials (CSeq 2, same Call-ID) reach the
    plugin before the main thread has handled the 407's close: the retry is a new dialog
    of the record (counted; with workers the retry may reach the worker before the 407,
    which is then stale), its media get pinholes that stay, and B's media reaches A."""
    t = pgnat02
    c = Call(t)
    c.invite()
    challenge = c._id(S.response(407, "Proxy Authentication Required", "INVITE", 1, S.PUB,
                                 c.pub_port))
    ack = c._id(S.request("ACK", S.A, S.A_PORT, 1))
    retry = c._id(S.message(f"INVITE sip:bob@{S.PROXY} SIP/2.0",
                            S.dialog(S.A, S.A_PORT, 2, "INVITE", branch="z9hG4bK-2") +
                            ['Proxy-Authorization: Digest username="alice", realm="x", '
                             'nonce="n", uri="sip:bob@198.51.100.1", response="0"'],
                            S.sdp(S.A, S.A_RTP)))
    got = send_together(t, [
        ("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, c.pub_port, challenge)]),
        ("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, ack),
                 t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, retry)]),
    ], "pg1", 2)
    invites = [g for g in got if bytes(g[Raw]).startswith(b"INVITE")]
    assert len(invites) == 1
    pub = media_port(bytes(invites[0][Raw]))
    time.sleep(3.5)  # the old dialog's close, then aging, have run
    n = t.counters()
    if t.workers == 0:
        # one thread handles the burst in order: the 407 ends the first dialog, the retry
        # comes before the main thread handled that close and restarts the record
        assert (n["dialog_restarted"], n["stale"], n["calls_created"]) == (1, 0, 1), n
    else:
        # NAT44-ED hands the burst to the session's worker on two queues (in2out, out2in):
        # the worker may take the retry first (it supersedes the first INVITE and the 407
        # that follows is stale: what every run here showed) or the 407 first (then the
        # retry restarts the record). Either way one record, and exactly one of the two.
        assert (n["dialog_restarted"] + n["stale"], n["calls_created"]) == (1, 1), n
    assert pub in pub_media(t)
    assert len(mappings_for(t, S.A_RTP)) == 1
    assert f"external {S.PUB}:{pub} " in mappings_for(t, S.A_RTP)[0]
    c.answer(200, "OK", 2, sdp=S.B_RTP)
    c.ack(2)
    assert media_to_a(t, pub, S.A_RTP)
    c.bye(3)
    assert wait_for(lambda: t.server_map() == [] and t.static_mappings() == [])
    assert "0 in use" in t.vpp.cli("show sip-alg config")


def test_media_entries_live_while_the_call_rings(pgnat02):
    """Media timeout 2 s, the callee rings for 4 s: the media pinholes are still there when
    B answers, and B's media reaches A (a silent caller)."""
    t = pgnat02
    t.vpp.cli_ok("set sip-alg timeouts media 2")
    c = Call(t)
    pub = c.invite()
    c.answer(180, "Ringing", 1)
    time.sleep(4.0)
    assert pub_media(t) == {pub}
    c.answer(200, "OK", 1, sdp=S.B_RTP)
    c.ack(1)
    assert media_to_a(t, pub, S.A_RTP)
    assert t.counters()["pinhole_expired"] == 0


def test_signaling_entry_shared_by_two_calls(pgnat02):
    """Two calls of one phone share its signaling entry (one public port). The newer call
    ends first: the entry stays for the older one, which still receives its BYE; it goes
    with the last call."""
    t = pgnat02
    c1, c2 = Call(t, "call-1"), Call(t, "call-2")
    c1.establish()
    c2.pub_port = c1.pub_port
    c2.invite(rtp=3010)
    c2.answer(200, "OK", 1, sdp=4100)
    c2.ack(1)
    c2.bye(2)
    time.sleep(1.0)
    sig = [e for e in entries(t) if e[2] == "sip" and e[1]]
    assert sig == [(f"{S.PUB}:{c1.pub_port}", f"{S.A}:{S.A_PORT}", "sip")]
    assert inside_media(t) == {(3000, "sip-rtp"), (3001, "sip-rtcp")}
    # B hangs up call 1 from its own address, through the signaling entry
    bye = S.request_from_b("BYE", S.PUB, c1.pub_port, 5)
    [p] = t.send("pg1", [t.udp("pg1", S.B, S.B_SIP, S.PUB, c1.pub_port, bye)], "pg0", 1)
    assert (p[IP].dst, p[UDP].dport) == (S.A, S.A_PORT)
    ok = S.response_to_b(200, "OK", "BYE", 5, S.A, S.A_PORT)
    t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.B, S.B_SIP, ok)], "pg1", 1)
    assert wait_for(lambda: t.server_map() == [] and t.static_mappings() == [])


# --- timers ------------------------------------------------------------------------------


def test_media_inactivity_ends_the_media_not_the_call(pgnat02):
    """media-inactivity 3: RTP every half second keeps the media; once it stops, the
    media entries go within the timer (counted) and the call record stays, confirmed."""
    t = pgnat02
    t.vpp.cli_ok("set sip-alg timeouts media-inactivity 3")
    assert "media-inactivity 3 " in t.vpp.cli("show sip-alg config")
    c = Call(t)
    pub = c.establish()
    deadline = time.time() + 5
    while time.time() < deadline:
        assert media_to_a(t, pub, S.A_RTP)
        time.sleep(0.5)
    assert pub_media(t) == {pub} and t.counters()["media_inactive"] == 0
    calls = t.vpp.cli("show sip-alg calls")
    assert re.search(r"Media-Idle: 00:00:0[0-2]", calls), calls
    assert wait_for(lambda: pub_media(t) == set(), timeout=6)
    n = t.counters()
    assert n["media_inactive"] == 1
    assert mappings_for(t, S.A_RTP) == []
    calls = t.vpp.cli("show sip-alg calls")
    assert "State: confirmed" in calls and "Media-Idle: -" in calls
    # the call goes on: a re-INVITE gets media again
    again = c.reinvite(S.A_RTP, 2)
    c.answer(200, "OK", 2, sdp=S.B_RTP)
    assert media_to_a(t, again, S.A_RTP)


def test_media_through_the_firewall_gate_keeps_the_call_active(pgnat02):
    """With the firewall, outside RTP passes the ALG's gate, which stamps the entry it
    found: only B sends, and the media stay for longer than the timer."""
    from test_pg_firewall import firewall
    t = pgnat02
    firewall(t)
    t.vpp.cli_ok("set sip-alg timeouts media-inactivity 3")
    c = Call(t)
    pub = c.establish()
    deadline = time.time() + 5
    while time.time() < deadline:
        assert media_to_a(t, pub, S.A_RTP)
        time.sleep(0.5)
    n = t.counters()
    assert n["gate_pass"] >= 5 and n["media_inactive"] == 0
    assert pub_media(t) == {pub}


def test_inside_media_alone_keeps_the_call_active(pgnat02):
    """Only A sends RTP (B is silent): that counts as media activity too."""
    t = pgnat02
    t.vpp.cli_ok("set sip-alg timeouts media-inactivity 3")
    c = Call(t)
    pub = c.establish()
    deadline = time.time() + 5
    while time.time() < deadline:
        [o] = t.send("pg0", [t.udp("pg0", S.A, S.A_RTP, S.B, S.B_RTP, bytes(172))], "pg1", 1)
        assert (o[IP].src, o[UDP].sport) == (S.PUB, pub)
        time.sleep(0.5)
    assert pub_media(t) == {pub} and t.counters()["media_inactive"] == 0


def test_max_duration_ends_the_call(pgnat02):
    t = pgnat02
    t.vpp.cli_ok("set sip-alg timeouts max-duration 3")
    c = Call(t)
    c.establish()
    assert re.search(r"Left-Time: 00:00:0[1-3]", t.vpp.cli("show sip-alg calls"))
    assert wait_for(lambda: t.server_map() == [] and t.static_mappings() == [], timeout=6)
    n = t.counters()
    assert n["max_duration"] == 1 and n["calls_closed"] == 1
    assert t.vpp.cli("show sip-alg calls").strip() == ""
