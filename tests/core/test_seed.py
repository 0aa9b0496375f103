# SPDX-License-Identifier: Apache-2.0
"""The seed document's call (shared/seed): A at 192.168.1.1 behind the NAT calls B.

The NAT maps A's signaling 192.168.1.1:2000 to 1.1.1.10:2222 and its media 3000 to 3333
(RTCP 3334). The INVITE must leave with every inside address and port translated; the
200 OK coming back carries B's media (1.1.1.2:4000), which is the peer's endpoint to open
pinholes for, and its Via/Contact of A are mapped back to the inside values.
"""

import sipcore


def msg(lines, body=b""):
    head = b"".join(l + b"\r\n" for l in lines)
    return head.replace(b"@CL@", str(len(body)).encode()) + b"\r\n" + body


SDP_A = (b"v=0\r\n"
         b"o=A 2890844526 2890844526 IN IP4 192.168.1.1\r\n"
         b"s=-\r\n"
         b"c=IN IP4 192.168.1.1\r\n"
         b"t=0 0\r\n"
         b"m=audio 3000 RTP/AVP 0 8\r\n"
         b"a=rtpmap:0 PCMU/8000\r\n")

INVITE = msg([
    b"INVITE sip:B@1.1.1.1 SIP/2.0",
    b"Via: SIP/2.0/UDP 192.168.1.1:2000;branch=z9hG4bK-seed-1;rport",
    b"Max-Forwards: 70",
    b"From: \"A\" <sip:A@192.168.1.1:2000>;tag=a1",
    b"To: <sip:B@1.1.1.1>",
    b"Call-ID: seed-call-1@192.168.1.1",
    b"CSeq: 1 INVITE",
    b"Contact: <sip:A@192.168.1.1:2000>",
    b"Content-Type: application/sdp",
    b"Content-Length: @CL@",
], SDP_A)

SDP_A_OUT = (b"v=0\r\n"
             b"o=A 2890844526 2890844526 IN IP4 1.1.1.10\r\n"
             b"s=-\r\n"
             b"c=IN IP4 1.1.1.10\r\n"
             b"t=0 0\r\n"
             b"m=audio 3333 RTP/AVP 0 8\r\n"
             b"a=rtpmap:0 PCMU/8000\r\n")

INVITE_OUT = msg([
    b"INVITE sip:B@1.1.1.1 SIP/2.0",
    b"Via: SIP/2.0/UDP 1.1.1.10:2222;branch=z9hG4bK-seed-1;rport",
    b"Max-Forwards: 70",
    b"From: \"A\" <sip:A@1.1.1.10:2222>;tag=a1",
    b"To: <sip:B@1.1.1.1>",
    b"Call-ID: seed-call-1@1.1.1.10",
    b"CSeq: 1 INVITE",
    b"Contact: <sip:A@1.1.1.10:2222>",
    b"Content-Type: application/sdp",
    b"Content-Length: @CL@",
], SDP_A_OUT)

SDP_B = (b"v=0\r\n"
         b"o=B 2890844527 2890844527 IN IP4 1.1.1.2\r\n"
         b"s=-\r\n"
         b"c=IN IP4 1.1.1.2\r\n"
         b"t=0 0\r\n"
         b"m=audio 4000 RTP/AVP 0\r\n"
         b"a=rtpmap:0 PCMU/8000\r\n")

OK_200 = msg([
    b"SIP/2.0 200 OK",
    b"Via: SIP/2.0/UDP 1.1.1.10:2222;branch=z9hG4bK-seed-1;rport=2222;received=1.1.1.10",
    b"From: \"A\" <sip:A@1.1.1.10:2222>;tag=a1",
    b"To: <sip:B@1.1.1.1>;tag=b1",
    b"Call-ID: seed-call-1@1.1.1.10",
    b"CSeq: 1 INVITE",
    b"Contact: <sip:B@1.1.1.2:3000>",
    b"Content-Type: application/sdp",
    b"Content-Length: @CL@",
], SDP_B)

OK_200_IN = msg([
    b"SIP/2.0 200 OK",
    b"Via: SIP/2.0/UDP 192.168.1.1:2000;branch=z9hG4bK-seed-1;rport=2000;received=192.168.1.1",
    b"From: \"A\" <sip:A@192.168.1.1:2000>;tag=a1",
    b"To: <sip:B@1.1.1.1>;tag=b1",
    b"Call-ID: seed-call-1@192.168.1.1",
    b"CSeq: 1 INVITE",
    b"Contact: <sip:B@1.1.1.2:3000>",
    b"Content-Type: application/sdp",
    b"Content-Length: @CL@",
], SDP_B)

IN2OUT = [("192.168.1.1", 2000, "1.1.1.10", 2222)]
OUT2IN = [("1.1.1.10", 2222, "192.168.1.1", 2000)]


def test_invite_parses_with_inside_endpoints():
    p = sipcore.parse(INVITE)
    assert (p.result, p.sites_result) == ("OK", "OK")
    assert p.media() == [{
        "type": "audio", "addr_type": "ip4", "ip": "192.168.1.1", "port": 3000, "n_ports": 1,
        "rtcp_port": 3001, "rtcp_ip": "192.168.1.1", "rtcp_mux": False, "rtcp_attr": False,
    }]
    kinds = [(s["kind"], s["host"], s["value"]) for s in p.site_list()]
    assert kinds == [
        ("request-uri", "1.1.1.1", 5060),
        ("via", "192.168.1.1", 2000),
        ("from", "192.168.1.1", 2000),
        ("to", "1.1.1.1", 5060),
        ("call-id", "192.168.1.1", 0),
        ("contact", "192.168.1.1", 2000),
        ("sdp-o", "192.168.1.1", 0),
        ("sdp-c-session", "192.168.1.1", 0),
        ("sdp-m", "", 3000),
    ]


def test_invite_rewritten_exactly():
    p = sipcore.parse(INVITE)
    rw = sipcore.rewrite(p, IN2OUT, media=[(3333, 3334)])
    out, plan = rw.written(), rw.plan
    assert out == INVITE_OUT
    assert plan.delta == len(INVITE_OUT) - len(INVITE)
    assert plan.body_delta == len(SDP_A_OUT) - len(SDP_A) == -6
    assert b"192.168.1.1" not in out


def test_invite_rtcp_is_rtp_plus_one_after_translation():
    out = sipcore.parse(INVITE_OUT)
    m = out.media()[0]
    assert (m["ip"], m["port"], m["rtcp_port"]) == ("1.1.1.10", 3333, 3334)


def test_200_ok_carries_peer_media():
    p = sipcore.parse(OK_200)
    assert (p.result, p.sites_result) == ("OK", "OK")
    m = p.media()[0]
    assert (m["ip"], m["port"], m["rtcp_port"]) == ("1.1.1.2", 4000, 4001)
    contact = [s for s in p.site_list() if s["kind"] == "contact"][0]
    assert (contact["ip"], contact["value"]) == ("1.1.1.2", 3000)


def test_200_ok_mapped_back_inside():
    p = sipcore.parse(OK_200)
    rw = sipcore.rewrite(p, OUT2IN)
    out, plan = rw.written(), rw.plan
    assert out == OK_200_IN
    assert plan.body_delta == 0  # the peer's SDP is not touched


def test_fsm_over_the_seed_call():
    f = sipcore.CallFsm()
    assert sipcore.call_step(f, request="INVITE", cseq=1, sdp=True)[0] == {"open_signal",
                                                                            "open_media"}
    assert sipcore.call_step(f, status=100, cseq=1, cseq_method="INVITE")[0] == set()
    assert sipcore.call_step(f, status=180, cseq=1, cseq_method="INVITE")[0] == set()
    assert sipcore.STATE_NAMES[f.state] == "early"
    assert sipcore.call_step(f, status=200, cseq=1, cseq_method="INVITE",
                             sdp=True)[0] == {"open_media"}
    assert sipcore.STATE_NAMES[f.state] == "confirmed"
    assert sipcore.call_step(f, request="ACK", cseq=1)[0] == set()
    assert sipcore.call_step(f, request="BYE", cseq=2)[0] == {"close_media"}
    assert sipcore.call_step(f, status=200, cseq=2, cseq_method="BYE")[0] == {"close_call"}
    assert sipcore.STATE_NAMES[f.state] == "closed"
