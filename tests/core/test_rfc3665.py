# SPDX-License-Identifier: Apache-2.0
"""RFC 3665 basic call flows: registration with a digest challenge (section 2.1), a
successful session with media (3.1) and its BYE, an unanswered call cancelled (3.8), and a
busy callee (3.6). Messages are transcribed from the RFC; Content-Length is recomputed
from the body (the RFC's own values are not always exact). Each flow is parsed message by
message and driven through the call state machine.
"""

import pytest

import sipcore


def m(*lines, body=None):
    text = "\r\n".join(lines)
    if body is None:
        return (text + "\r\nContent-Length: 0\r\n\r\n").encode()
    b = "".join(l + "\r\n" for l in body).encode()
    return (text + "\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n" % len(b)
            ).encode() + b


ALICE_SDP = ["v=0", "o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com", "s=-",
             "c=IN IP4 192.0.2.101", "t=0 0", "m=audio 49172 RTP/AVP 0", "a=rtpmap:0 PCMU/8000"]
BOB_SDP = ["v=0", "o=bob 2890844527 2890844527 IN IP4 client.biloxi.example.com", "s=-",
           "c=IN IP4 192.0.2.201", "t=0 0", "m=audio 3456 RTP/AVP 0", "a=rtpmap:0 PCMU/8000"]

A_VIA = "Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9"
A_FROM = "From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl"
B_TO = "To: Bob <sip:bob@biloxi.example.com>"
CID = "Call-ID: 3848276298220188511@atlanta.example.com"

SESSION = [
    (m("INVITE sip:bob@biloxi.example.com SIP/2.0", A_VIA, "Max-Forwards: 70", A_FROM, B_TO,
       CID, "CSeq: 1 INVITE", "Contact: <sip:alice@client.atlanta.example.com;transport=tcp>",
       body=ALICE_SDP), {"open_signal", "open_media"}, "inviting"),
    (m("SIP/2.0 180 Ringing",
       A_VIA + ";received=192.0.2.101", A_FROM, B_TO + ";tag=8321234356", CID,
       "Contact: <sip:bob@client.biloxi.example.com;transport=tcp>", "CSeq: 1 INVITE"),
     set(), "early"),
    (m("SIP/2.0 200 OK",
       A_VIA + ";received=192.0.2.101", A_FROM, B_TO + ";tag=8321234356", CID, "CSeq: 1 INVITE",
       "Contact: <sip:bob@client.biloxi.example.com;transport=tcp>", body=BOB_SDP),
     {"open_media"}, "confirmed"),
    (m("ACK sip:bob@client.biloxi.example.com SIP/2.0",
       "Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bd5",
       "Max-Forwards: 70", A_FROM, B_TO + ";tag=8321234356", CID, "CSeq: 1 ACK"),
     set(), "confirmed"),
    (m("BYE sip:alice@client.atlanta.example.com SIP/2.0",
       "Via: SIP/2.0/TCP client.biloxi.example.com:5060;branch=z9hG4bKnashds7",
       "Max-Forwards: 70", "From: Bob <sip:bob@biloxi.example.com>;tag=8321234356",
       "To: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl", CID, "CSeq: 1 BYE"),
     {"close_media"}, "terminating"),
    (m("SIP/2.0 200 OK",
       "Via: SIP/2.0/TCP client.biloxi.example.com:5060;branch=z9hG4bKnashds7;received=192.0.2.201",
       "From: Bob <sip:bob@biloxi.example.com>;tag=8321234356",
       "To: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl", CID, "CSeq: 1 BYE"),
     {"close_call"}, "closed"),
]

B_VIA = "Via: SIP/2.0/TCP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7"
REG_CID = "Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com"
REGISTRATION = [
    (m("REGISTER sips:ss2.biloxi.example.com SIP/2.0", B_VIA, "Max-Forwards: 70",
       "From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl",
       "To: Bob <sips:bob@biloxi.example.com>", REG_CID, "CSeq: 1 REGISTER",
       "Contact: <sips:bob@client.biloxi.example.com>"), set(), "registering"),
    (m("SIP/2.0 401 Unauthorized", B_VIA + ";received=192.0.2.201",
       "From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl",
       "To: Bob <sips:bob@biloxi.example.com>;tag=1410948204", REG_CID, "CSeq: 1 REGISTER",
       'WWW-Authenticate: Digest realm="atlanta.example.com", qop="auth",',
       ' nonce="ea9c8e88df84f1cec4341ae6cbe5a359", opaque="", stale=FALSE, algorithm=MD5'),
     set(), "idle"),
    (m("REGISTER sips:ss2.biloxi.example.com SIP/2.0",
       "Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashd92",
       "Max-Forwards: 70", "From: Bob <sips:bob@biloxi.example.com>;tag=ja743ks76zlflH",
       "To: Bob <sips:bob@biloxi.example.com>", REG_CID, "CSeq: 2 REGISTER",
       "Contact: <sips:bob@client.biloxi.example.com>",
       'Authorization: Digest username="bob", realm="atlanta.example.com",',
       ' nonce="ea9c8e88df84f1cec4341ae6cbe5a359", opaque="",',
       ' uri="sips:ss2.biloxi.example.com", response="dfe56131d1958046689d83306477ecc"'),
     set(), "registering"),
    (m("SIP/2.0 200 OK",
       "Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashd92;received=192.0.2.201",
       "From: Bob <sips:bob@biloxi.example.com>;tag=ja743ks76zlflH",
       "To: Bob <sips:bob@biloxi.example.com>;tag=37GkEhwl6", REG_CID, "CSeq: 2 REGISTER",
       "Contact: <sips:bob@client.biloxi.example.com>;expires=3600"), {"bind"}, "registered"),
]

CANCELLED = [
    SESSION[0],
    SESSION[1],
    (m("CANCEL sip:bob@biloxi.example.com SIP/2.0", A_VIA, "Max-Forwards: 70", A_FROM, B_TO,
       CID, "CSeq: 1 CANCEL"), {"close_media"}, "cancelling"),
    (m("SIP/2.0 200 OK", A_VIA + ";received=192.0.2.101", A_FROM,
       B_TO + ";tag=8321234356", CID, "CSeq: 1 CANCEL"), set(), "cancelling"),
    (m("SIP/2.0 487 Request Terminated", A_VIA + ";received=192.0.2.101", A_FROM,
       B_TO + ";tag=8321234356", CID, "CSeq: 1 INVITE"), {"close_media", "close_call"}, "closed"),
]

BUSY = [
    SESSION[0],
    (m("SIP/2.0 486 Busy Here", A_VIA + ";received=192.0.2.101", A_FROM,
       B_TO + ";tag=8321234356", CID, "CSeq: 1 INVITE"), {"close_media", "close_call"}, "closed"),
]

FLOWS = {"registration": REGISTRATION, "session": SESSION, "cancel": CANCELLED, "busy": BUSY}


@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_flow(flow):
    f = sipcore.CallFsm()
    for i, (data, actions, state) in enumerate(FLOWS[flow]):
        for mode in (sipcore.DATAGRAM, sipcore.STREAM):
            result, p = sipcore.analyze(data, mode)
            assert result == "OK", f"message {i}"
        ev = dict(cseq=p.msg.cseq, sdp=p.info.sdp.n_media > 0, expires=p.info.contact_expires
                  if p.info.contact_expires >= 0 else p.msg.expires)
        if p.msg.is_request:
            ev["request"] = p.text(p.msg.method_tok).decode()
        else:
            ev["status"] = p.msg.status
            ev["cseq_method"] = sipcore.lib.sip_method_name(p.msg.cseq_method).decode()
        got, _ = sipcore.call_step(f, **ev)
        assert (got, sipcore.STATE_NAMES[f.state]) == (actions, state), f"message {i}"


def test_session_media_endpoints():
    offer = sipcore.parse(SESSION[0][0]).media()[0]
    answer = sipcore.parse(SESSION[2][0]).media()[0]
    assert (offer["ip"], offer["port"], offer["rtcp_port"]) == ("192.0.2.101", 49172, 49173)
    assert (answer["ip"], answer["port"], answer["rtcp_port"]) == ("192.0.2.201", 3456, 3457)


def test_registration_expiry_from_contact():
    p = sipcore.parse(REGISTRATION[3][0])
    assert p.info.contact_expires == 3600
