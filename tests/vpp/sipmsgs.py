# SPDX-License-Identifier: Apache-2.0
"""SIP messages of the seed call in documentation addresses: A 192.168.1.1:2000 (inside),
proxy 198.51.100.1:5060, B's media 198.51.100.2:4000, NAT address 203.0.113.10."""

A, A_PORT, A_RTP = "192.168.1.1", 2000, 3000
# a second inside host; NAT44-ED's worker choice (a hash of the inside address) puts it on
# another worker than A with 2 and with 4 workers
A2 = "192.168.1.2"
PROXY, PROXY_PORT = "198.51.100.1", 5060
B, B_SIP, B_RTP = "198.51.100.2", 5062, 4000
PUB = "203.0.113.10"


def message(start, headers, body=b""):
    lines = [start] + headers
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def sdp(addr, port, extra=()):
    lines = ["v=0", f"o=- 2890844526 2890844526 IN IP4 {addr}", "s=-", f"c=IN IP4 {addr}",
             "t=0 0", f"m=audio {port} RTP/AVP 0", "a=rtpmap:0 PCMU/8000"] + list(extra)
    return "".join(l + "\r\n" for l in lines).encode()


def dialog(a, a_port, cseq, method, to_tag=None, branch="z9hG4bK-1", rport=None, received=None):
    via = f"Via: SIP/2.0/UDP {a}:{a_port};branch={branch};rport"
    if rport is not None:
        via += f"={rport};received={received}"
    return [
        via,
        "Max-Forwards: 70",
        f"From: \"A\" <sip:alice@{a}:{a_port}>;tag=a1",
        f"To: <sip:bob@{PROXY}>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: call-1@{a}",
        f"CSeq: {cseq} {method}",
        f"Contact: <sip:alice@{a}:{a_port}>",
    ]


def invite(a=A, a_port=A_PORT, rtp=A_RTP, cseq=1, media_addr=None):
    return message(f"INVITE sip:bob@{PROXY} SIP/2.0", dialog(a, a_port, cseq, "INVITE"),
                   sdp(media_addr or a, rtp))


def response(status, reason, method, cseq, a, a_port, rport=None, received=None, body=b"",
             to_tag="b1"):
    h = dialog(a, a_port, cseq, method, to_tag=to_tag, rport=rport, received=received)
    h[-1] = f"Contact: <sip:bob@{B}:{B_SIP}>"
    return message(f"SIP/2.0 {status} {reason}", h, body)


def request(method, a, a_port, cseq, to_tag="b1"):
    return message(f"{method} sip:bob@{B}:{B_SIP} SIP/2.0",
                   dialog(a, a_port, cseq, method, to_tag=to_tag, branch=f"z9hG4bK-{cseq}"))


def request_from_b(method, a, a_port, cseq):
    """An in-dialog request of B (the callee) straight to A's Contact, A being a:a_port as
    B sees it: no proxy on the way (the proxy did not record-route)."""
    return message(f"{method} sip:alice@{a}:{a_port} SIP/2.0", [
        f"Via: SIP/2.0/UDP {B}:{B_SIP};branch=z9hG4bK-b{cseq};rport",
        "Max-Forwards: 70",
        f"From: <sip:bob@{PROXY}>;tag=b1",
        f"To: \"A\" <sip:alice@{a}:{a_port}>;tag=a1",
        f"Call-ID: call-1@{a}",
        f"CSeq: {cseq} {method}",
        f"Contact: <sip:bob@{B}:{B_SIP}>",
    ])


def response_to_b(status, reason, method, cseq, a, a_port):
    """A's response to request_from_b (a, a_port: A as it writes itself)."""
    return message(f"SIP/2.0 {status} {reason}", [
        f"Via: SIP/2.0/UDP {B}:{B_SIP};branch=z9hG4bK-b{cseq};rport",
        f"From: <sip:bob@{PROXY}>;tag=b1",
        f"To: \"A\" <sip:alice@{a}:{a_port}>;tag=a1",
        f"Call-ID: call-1@{a}",
        f"CSeq: {cseq} {method}",
    ])


def register(a=A, a_port=A_PORT, cseq=1, expires=600):
    h = dialog(a, a_port, cseq, "REGISTER", branch=f"z9hG4bK-r{cseq}")
    h[3] = f"To: <sip:alice@{PROXY}>"
    h[4] = f"Call-ID: reg-1@{a}"
    h[-1] = f"Contact: <sip:alice@{a}:{a_port}>;expires={expires}"
    return message(f"REGISTER sip:{PROXY} SIP/2.0", h)


def register_ok(a, a_port, cseq=1, expires=600):
    h = dialog(a, a_port, cseq, "REGISTER", to_tag="r1")
    h[3] = f"To: <sip:alice@{PROXY}>;tag=r1"
    h[4] = f"Call-ID: reg-1@{a}"
    h[-1] = f"Contact: <sip:alice@{a}:{a_port}>;expires={expires}"
    return message("SIP/2.0 200 OK", h)
