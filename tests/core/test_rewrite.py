# SPDX-License-Identifier: Apache-2.0
"""Rewrite sites, SDP decoding and the rewriter, table-driven."""

import pytest

import sipcore

IN = "192.168.1.1"
PUB = "203.0.113.10"


def build(start, headers, body=b""):
    lines = [start] + headers
    if body:
        lines.append(b"Content-Type: application/sdp")
    lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def invite(headers=(), body=b"", ruri=b"sip:b@198.51.100.2"):
    base = [
        b"Via: SIP/2.0/UDP 192.168.1.1:2000;branch=z9hG4bK1;rport",
        b"From: <sip:a@192.168.1.1:2000>;tag=1",
        b"To: <sip:b@198.51.100.2>",
        b"Call-ID: x1@192.168.1.1",
        b"CSeq: 1 INVITE",
    ]
    return build(b"INVITE " + ruri + b" SIP/2.0", base + list(headers), body)


def sdp(*lines):
    return b"".join(l + b"\r\n" for l in (b"v=0", b"o=- 1 1 IN IP4 192.168.1.1", b"s=-") + lines)


def sites_of(data):
    p = sipcore.parse(data)
    assert (p.result, p.sites_result) == ("OK", "OK")
    return p, p.site_list()


SITE_CASES = [
    ("via received/rport/maddr",
     [b"Via: SIP/2.0/UDP 198.51.100.9:5062;received=203.0.113.10;rport=2222;maddr=224.2.0.1"],
     [("via", "198.51.100.9", 5062), ("via-received", "203.0.113.10", 0),
      ("via-rport", "", 2222), ("via-maddr", "224.2.0.1", 0)]),
    ("via comma list",
     [b"Via: SIP/2.0/TCP 198.51.100.9;branch=z9hG4bKa, SIP/2.0/UDP 198.51.100.8:5070"],
     [("via", "198.51.100.9", 5060), ("via", "198.51.100.8", 5070)]),
    ("via ipv6 and hostname",
     [b"Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKb", b"v: SIP/2.0/UDP proxy.example.com"],
     [("via", "[2001:db8::1]", 5060), ("via", "proxy.example.com", 5060)]),
    ("contact list and star-free params",
     [b"Contact: \"A, B\" <sip:a@192.168.1.1:2000;transport=udp>;expires=60, <sips:a@192.168.1.1>"],
     [("contact", "192.168.1.1", 2000), ("contact", "192.168.1.1", 5060)]),
    ("record-route", [b"Record-Route: <sip:198.51.100.7;lr>, <sip:198.51.100.6:5080;lr>"],
     [("record-route", "198.51.100.7", 5060), ("record-route", "198.51.100.6", 5080)]),
    ("tel uri has no site", [b"Contact: <tel:+15551234>"], []),
    ("user part with colon", [b"Contact: <sip:a:secret@192.168.1.1:2000>"],
     [("contact", "192.168.1.1", 2000)]),
]


@pytest.mark.parametrize("name,extra,expected", SITE_CASES, ids=[c[0] for c in SITE_CASES])
def test_header_sites(name, extra, expected):
    _, sites = sites_of(invite(extra))
    base_kinds = {"request-uri", "from", "to", "call-id"}
    got = [(s["kind"], s["host"], s["value"]) for s in sites if s["kind"] not in base_kinds]
    # the base message has one Via of its own, first
    assert got[0] == ("via", IN, 2000)
    assert got[1:] == [g for g in expected if g[0] in {"via", "via-received", "via-rport",
                                                       "via-maddr"}] + \
        [g for g in expected if g[0] not in {"via", "via-received", "via-rport", "via-maddr"}]


BAD_HEADERS = [
    ("via no transport", [b"Via: SIP/2.0 198.51.100.9"], "ERR_VIA"),
    ("via bad port", [b"Via: SIP/2.0/UDP 198.51.100.9:99999"], "ERR_VIA"),
    ("via empty param", [b"Via: SIP/2.0/UDP 198.51.100.9;;branch=1"], "ERR_VIA"),
    ("via rport not numeric", [b"Via: SIP/2.0/UDP 198.51.100.9;rport=x"], "ERR_VIA"),
    ("contact unterminated <", [b"Contact: <sip:a@192.168.1.1"], "ERR_CONTACT"),
    ("contact bad expires", [b"Contact: <sip:a@192.168.1.1>;expires=99999999999"],
     "ERR_EXPIRES"),
    ("route with blank inside <>", [b"Route: < sip:p@198.51.100.7>"], "ERR_NAME_ADDR"),
    ("contact unterminated quote", [b"Contact: \"A <sip:a@192.168.1.1>"], "ERR_CONTACT"),
]


@pytest.mark.parametrize("name,extra,expected", BAD_HEADERS, ids=[c[0] for c in BAD_HEADERS])
def test_bad_headers(name, extra, expected):
    p = sipcore.parse(invite(extra))
    assert p.result == "OK" and p.sites_result == expected


def test_too_many_sites():
    data = invite([b"Route: " + b", ".join(b"<sip:198.51.100.%d>" % i for i in range(20))])
    assert sipcore.parse(data, max_sites=10).sites_result == "ERR_TOO_MANY_SITES"
    assert sipcore.parse(data, max_sites=40).sites_result == "OK"


SDP_CASES = [
    ("session c, two media",
     sdp(b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0", b"m=video 3002 RTP/AVP 96"),
     [("audio", "192.168.1.1", 3000, 3001, False), ("video", "192.168.1.1", 3002, 3003, False)]),
    ("media c overrides session c",
     sdp(b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0", b"c=IN IP4 192.168.1.5"),
     [("audio", "192.168.1.5", 3000, 3001, False)]),
    ("a=rtcp port only",
     sdp(b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0", b"a=rtcp:4005"),
     [("audio", "192.168.1.1", 3000, 4005, False)]),
    ("a=rtcp-mux",
     sdp(b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0", b"a=rtcp-mux"),
     [("audio", "192.168.1.1", 3000, 3000, True)]),
    ("port 0 disabled stream",
     sdp(b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0", b"m=video 0 RTP/AVP 31"),
     [("audio", "192.168.1.1", 3000, 3001, False), ("video", "192.168.1.1", 0, 0, False)]),
    ("t38 image", sdp(b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=image 4000 udptl t38"),
     [("image", "192.168.1.1", 4000, 4001, False)]),
]


@pytest.mark.parametrize("name,body,expected", SDP_CASES, ids=[c[0] for c in SDP_CASES])
def test_sdp_media(name, body, expected):
    p, _ = sites_of(invite(body=body))
    got = [(m["type"], m["ip"], m["port"], m["rtcp_port"], m["rtcp_mux"]) for m in p.media()]
    assert got == expected


def test_sdp_rtcp_with_address():
    p, sites = sites_of(invite(body=sdp(b"c=IN IP4 192.168.1.1", b"t=0 0",
                                        b"m=audio 3000 RTP/AVP 0", b"a=rtcp:5001 IN IP4 192.168.1.7")))
    m = p.media()[0]
    assert (m["rtcp_port"], m["rtcp_ip"], m["rtcp_attr"]) == (5001, "192.168.1.7", True)
    assert ("sdp-rtcp-addr", "192.168.1.7") in [(s["kind"], s["host"]) for s in sites]


def test_sdp_port_count():
    p, _ = sites_of(invite(body=sdp(b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=video 3000/2 RTP/AVP 96")))
    assert p.media()[0]["n_ports"] == 2


def test_sdp_ipv6_and_fqdn_recognised_not_ip4():
    p, sites = sites_of(invite(body=sdp(b"c=IN IP6 2001:db8::5", b"t=0 0", b"m=audio 3000 RTP/AVP 0",
                                        b"c=IN IP4 media.example.com")))
    kinds = {(s["kind"], s["host"], s["host_type"]) for s in sites}
    assert ("sdp-c-session", "2001:db8::5", "ip6") in kinds
    assert ("sdp-c-media", "media.example.com", "name") in kinds
    assert p.media()[0]["addr_type"] == "name"


BAD_SDP = [
    ("no v= first", b"o=- 1 1 IN IP4 192.168.1.1\r\nv=0\r\n", "ERR_SDP"),
    ("c= not IN", sdp(b"c=XX IP4 192.168.1.1"), "ERR_SDP"),
    ("c= bad addrtype", sdp(b"c=IN IP5 192.168.1.1"), "ERR_SDP"),
    ("m= port too big", sdp(b"m=audio 70000 RTP/AVP 0"), "ERR_SDP"),
    ("m= no format", sdp(b"m=audio 3000"), "ERR_SDP"),
    ("m= port count overflow", sdp(b"m=audio 65534/2 RTP/AVP 0"), "ERR_SDP"),
    ("a=rtcp bad port", sdp(b"m=audio 3000 RTP/AVP 0", b"a=rtcp:abc"), "ERR_SDP"),
    ("line without =", sdp(b"m audio"), "ERR_SDP"),
    ("nine media", sdp(*[b"m=audio %d RTP/AVP 0" % (3000 + 2 * i) for i in range(9)]),
     "ERR_SDP_TOO_MANY_MEDIA"),
]


@pytest.mark.parametrize("name,body,expected", BAD_SDP, ids=[c[0] for c in BAD_SDP])
def test_bad_sdp(name, body, expected):
    p = sipcore.parse(invite(body=body))
    assert p.result == "OK" and p.sites_result == expected


# --- rewriting ---------------------------------------------------------------------------
# Every rewrite runs in the buffer the message was parsed in; a successful one is checked by
# Rewritten.written() (plan and apply OK, out_len == msg_len + delta, nothing written past
# out_len, input unchanged) and the tests then look at the bytes C wrote.

def parsed(data):
    p = sipcore.parse(data)
    assert (p.result, p.sites_result) == ("OK", "OK")
    return p


def rewrite(data, xlates, media=(), **kw):
    """(bytes C wrote, plan) of a rewrite that must succeed."""
    rw = sipcore.rewrite(parsed(data), xlates, media, **kw)
    return rw.written(), rw.plan


def test_port_inserted_when_absent_and_not_default():
    data = invite([b"Contact: <sip:a@192.168.1.1>"])
    out, _ = rewrite(data, [(IN, 5060, PUB, 40000)])
    assert out == data.replace(b"<sip:a@192.168.1.1>", b"<sip:a@203.0.113.10:40000>") \
        .replace(b"x1@192.168.1.1", b"x1@203.0.113.10")


def test_default_port_stays_implicit():
    data = invite([b"Contact: <sip:a@192.168.1.1>"])
    out, _ = rewrite(data, [(IN, 5060, PUB, 5060)])
    # Via and From carry port 2000: not this mapping; the Call-ID host matches on address
    assert out == data.replace(b"Contact: <sip:a@192.168.1.1>", b"Contact: <sip:a@203.0.113.10>") \
        .replace(b"x1@192.168.1.1", b"x1@203.0.113.10")


def test_only_matching_port_is_rewritten():
    data = invite([b"Contact: <sip:a@192.168.1.1:2001>"])
    out, _ = rewrite(data, [(IN, 2000, PUB, 2222)])
    # Via and From carry port 2000; the Contact's other port is not this mapping
    assert out == data.replace(b"192.168.1.1:2000", b"203.0.113.10:2222") \
        .replace(b"x1@192.168.1.1", b"x1@203.0.113.10")
    assert b"Contact: <sip:a@192.168.1.1:2001>" in out


def test_hostnames_and_ipv6_left_alone():
    data = invite([b"Contact: <sip:a@host.example.com:2000>",
                   b"Record-Route: <sip:[2001:db8::1]:2000;lr>"])
    out, _ = rewrite(data, [(IN, 2000, PUB, 2222)])
    assert out == data.replace(b"192.168.1.1:2000", b"203.0.113.10:2222") \
        .replace(b"x1@192.168.1.1", b"x1@203.0.113.10")


def test_response_via_received_rport_mapped_back():
    data = build(b"SIP/2.0 180 Ringing", [
        b"Via: SIP/2.0/UDP 203.0.113.10:2222;branch=z9hG4bK1;rport=2222;received=203.0.113.10",
        b"From: <sip:a@203.0.113.10:2222>;tag=1", b"To: <sip:b@198.51.100.2>;tag=2",
        b"Call-ID: x1@203.0.113.10", b"CSeq: 1 INVITE"])
    out, _ = rewrite(data, [(PUB, 2222, IN, 2000)])
    assert b"\r\nVia: SIP/2.0/UDP 192.168.1.1:2000;branch=z9hG4bK1;rport=2000;" \
        b"received=192.168.1.1\r\n" in out
    assert out == data.replace(PUB.encode(), IN.encode()).replace(b"2222", b"2000")


def test_rewrite_growth_fixes_content_length():
    body = sdp(b"c=IN IP4 10.0.0.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0", b"a=rtcp:3001")
    data = invite(body=body)
    out, plan = rewrite(data, [("10.0.0.1", 0, "203.0.113.100", 0)], media=[(65000, 65001)])
    q = sipcore.parse(out)
    assert q.result == "OK" and q.msg.content_length == len(body) + plan.body_delta
    # c= grows by 5; m= and a=rtcp ports gain a digit each; o= (192.168.1.1) has no mapping
    assert plan.body_delta == len("203.0.113.100") - len("10.0.0.1") + 1 + 1
    m = q.media()[0]
    assert (m["ip"], m["port"], m["rtcp_port"]) == ("203.0.113.100", 65000, 65001)


def test_rewrite_rtcp_mux_and_port_zero():
    body = sdp(b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0", b"a=rtcp-mux",
               b"m=video 0 RTP/AVP 31")
    out, _ = rewrite(invite(body=body), [(IN, 2000, PUB, 2222)], media=[(4000, 0), (4002, 4003)])
    q = sipcore.parse(out)
    assert (q.result, q.sites_result) == ("OK", "OK")
    got = [(m["port"], m["rtcp_port"]) for m in q.media()]
    assert got == [(4000, 4000), (0, 0)]  # a disabled stream keeps port 0


def test_site_mask_excludes_call_id():
    mask = ((1 << 17) - 1) & ~(1 << 10)  # SIP_SITE_CALL_ID
    data = invite()
    out, _ = rewrite(data, [(IN, 2000, PUB, 2222)], site_mask=mask)
    assert out == data.replace(b"192.168.1.1:2000", b"203.0.113.10:2222")
    assert b"Call-ID: x1@192.168.1.1\r\n" in out


def test_no_translation_no_edit():
    data = invite(body=sdp(b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0"))
    out, plan = rewrite(data, [])
    assert out == data and plan.n_edits == 0 and plan.delta == 0


def test_identity_translation_no_edit():
    data = invite()
    out, plan = rewrite(data, [(IN, 2000, IN, 2000)])
    assert out == data and plan.n_edits == 0 and plan.delta == 0


def test_exact_capacity_and_no_space_refused_with_output_untouched():
    data = invite([b"Contact: <sip:a@192.168.1.1:2000>"])
    p = parsed(data)
    xl = [(IN, 2000, "203.0.113.100", 65535)]
    rw = sipcore.rewrite(p, xl)
    out = rw.written()
    need = len(data) + rw.plan.delta
    assert rw.plan.delta > 0 and rw.cap == need and len(out) == need
    assert out == data.replace(b"192.168.1.1:2000", b"203.0.113.100:65535") \
        .replace(b"x1@192.168.1.1", b"x1@203.0.113.100")
    short = sipcore.rewrite(p, xl, out_cap=need - 1)
    assert (short.plan_result, short.apply_result) == ("OK", "ERR_NO_SPACE")
    short.check_refused("ERR_NO_SPACE")  # not a byte of the output buffer written


def test_shrinking_fits_in_smaller_buffer():
    data = invite()
    p = parsed(data)
    rw = sipcore.rewrite(p, [(IN, 2000, "1.1.1.1", 1)], out_cap=len(data) - 10)
    out = rw.written()  # nothing written past out_len inside the larger capacity either
    assert rw.plan.delta < -10 and len(out) == len(data) + rw.plan.delta
    assert out == data.replace(b"192.168.1.1:2000", b"1.1.1.1:1") \
        .replace(b"x1@192.168.1.1", b"x1@1.1.1.1")


def test_too_many_edits():
    data = invite([b"Route: " + b", ".join(b"<sip:192.168.1.1:2000>" for _ in range(10))])
    rw = sipcore.rewrite(parsed(data), [(IN, 2000, PUB, 2222)], max_edits=5)
    assert (rw.plan_result, rw.apply_result) == ("ERR_TOO_MANY_EDITS", None)
    rw.check_input_unchanged()


def test_input_buffer_never_modified():
    data = invite(body=sdp(b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0"))
    p = parsed(data)
    rw = sipcore.rewrite(p, [(IN, 2000, PUB, 2222)], [(3333, 3334)])
    assert rw.written() != data
    # the buffer C parsed and rewrote from, as it is after both calls
    assert rw.in_before == data and rw.in_after == data and p.buf.raw == data
