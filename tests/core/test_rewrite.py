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


MEDIA = "203.0.113.21"


def test_media_ip_on_sdp_connection_sites_only():
    """media_ip: c= (session and media level) and the a=rtcp address take the media
    address; o=, Via, Contact, From, Call-ID keep the signaling translation; the ports are
    the media table's as without it; Content-Length follows the longer body."""
    body = sdp(b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0",
               b"c=IN IP4 192.168.1.1", b"a=rtcp:3001 IN IP4 192.168.1.1",
               b"m=video 3002 RTP/AVP 31")
    data = invite([b"Contact: <sip:a@192.168.1.1:2000>"], body)
    out, plan = rewrite(data, [(IN, 2000, PUB, 2222)], media=[(40000, 40001), (40002, 40003)],
                        media_ip=MEDIA)
    q = sipcore.parse(out)
    assert (q.result, q.sites_result) == ("OK", "OK")
    head, _, new_body = out.partition(b"\r\n\r\n")
    assert b"Via: SIP/2.0/UDP 203.0.113.10:2222;" in head
    assert b"Contact: <sip:a@203.0.113.10:2222>" in head
    assert b"From: <sip:a@203.0.113.10:2222>" in head and b"Call-ID: x1@203.0.113.10" in head
    assert new_body == sdp(b"c=IN IP4 203.0.113.21", b"t=0 0", b"m=audio 40000 RTP/AVP 0",
                           b"c=IN IP4 203.0.113.21", b"a=rtcp:40001 IN IP4 203.0.113.21",
                           b"m=video 40002 RTP/AVP 31").replace(b"o=- 1 1 IN IP4 192.168.1.1",
                                                                b"o=- 1 1 IN IP4 203.0.113.10")
    assert q.msg.content_length == len(new_body) == len(body) + plan.body_delta
    assert [(m["ip"], m["port"], m["rtcp_ip"], m["rtcp_port"]) for m in q.media()] == \
        [(MEDIA, 40000, MEDIA, 40001), (MEDIA, 40002, MEDIA, 40003)]


def test_media_ip_zero_is_the_xlate_address():
    """media_ip 0 (every caller before it existed): the SDP takes the xlate entry's address,
    byte for byte the rewrite without the field."""
    body = sdp(b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0",
               b"a=rtcp:3001 IN IP4 192.168.1.1")
    data = invite(body=body)
    out, _ = rewrite(data, [(IN, 2000, PUB, 2222)], media=[(40000, 40001)])
    assert b"c=IN IP4 203.0.113.10\r\n" in out and b"a=rtcp:40001 IN IP4 203.0.113.10" in out
    assert MEDIA.encode() not in out


def test_media_ip_only_where_an_entry_matches():
    """An SDP address no xlate entry names (the outside party's, a host not translated)
    stays as written with media_ip set: media_ip replaces the translation's address, it
    does not translate anything by itself; an address-only site other than SDP (received=)
    keeps the entry's address."""
    body = sdp(b"c=IN IP4 198.51.100.7", b"t=0 0", b"m=audio 3000 RTP/AVP 0",
               b"c=IN IP4 192.168.1.1")
    data = invite([b"Via: SIP/2.0/UDP 198.51.100.9:5062;received=192.168.1.1"], body)
    out, _ = rewrite(data, [(IN, 2000, PUB, 2222)], media_ip=MEDIA)
    assert b"c=IN IP4 198.51.100.7\r\n" in out  # session level: nobody's to translate
    assert b"m=audio 3000 RTP/AVP 0\r\nc=IN IP4 203.0.113.21\r\n" in out
    assert b";received=203.0.113.10" in out


def test_media_ip_needs_the_sdp_sites_in_the_mask():
    """The site mask still decides: with the SDP kinds masked out (a message from outside)
    media_ip changes nothing."""
    sdp_kinds = sum(1 << k for k in (11, 12, 13, 14, 15, 16))  # SIP_SITE_SDP_*
    body = sdp(b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0")
    data = invite(body=body)
    out, _ = rewrite(data, [(IN, 2000, PUB, 2222)], media=[(40000, 40001)],
                     site_mask=((1 << 17) - 1) & ~sdp_kinds, media_ip=MEDIA)
    assert out.endswith(body)


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


# --- the planner and the applier at their edges ------------------------------------------

import ctypes as C  # noqa: E402


def plan_raw(p, xlates, n_xlate=None, media=(), n_media=None, max_edits=sipcore.MAX_EDITS,
             guard=2):
    """sip_rewrite_plan with the arrays as given but only n_xlate / n_media entries counted
    (the rest are past the end for C), and `guard` edits behind max_edits, prefilled.
    Returns (result, plan, edits, guard edits intact)."""
    xl = (sipcore.Xlate * max(len(xlates), 1))()
    for i, (fi, fp, ti, tp) in enumerate(xlates):
        xl[i] = sipcore.Xlate(sipcore.ip2int(fi), sipcore.ip2int(ti), fp, tp)
    mx = (sipcore.MediaXlate * max(len(media), 1))()
    for i, (rtp, rtcp) in enumerate(media):
        mx[i] = sipcore.MediaXlate(rtp, rtcp)
    cfg = sipcore.RewriteCfg(xl, len(xlates) if n_xlate is None else n_xlate, mx,
                             len(media) if n_media is None else n_media, (1 << 17) - 1)
    edits = (sipcore.Edit * (max_edits + guard))()
    C.memset(edits, 0xA5, C.sizeof(edits))
    plan = sipcore.Plan()
    r = sipcore.lib.sip_rewrite_plan(p.buf, C.byref(p.msg), C.byref(p.info), C.byref(cfg),
                                     C.byref(plan), edits, max_edits)
    past = bytes(edits)[max_edits * C.sizeof(sipcore.Edit):]
    return sipcore.result_name(r), plan, edits, past == b"\xa5" * len(past)


def test_only_n_xlate_entries_used():
    """sip_rewrite.h: the translations are xlate[0 .. n_xlate); an entry past n_xlate that
    would match is not one of them."""
    data = invite()
    p = parsed(data)
    r, plan, _, _ = plan_raw(p, [(IN, 2000, PUB, 2222), ("198.51.100.2", 5060, PUB, 3333)],
                             n_xlate=1)
    assert (r, plan.n_edits) == ("OK", 3)  # Via, From (IN:2000), Call-ID (address only)
    r, plan, _, _ = plan_raw(p, [("198.51.100.2", 5060, PUB, 3333)], n_xlate=0)
    assert (r, plan.n_edits) == ("OK", 0)


def test_only_n_media_entries_used():
    """sip_rewrite.h: media[] is indexed by media index, n_media entries; a media with no
    entry keeps its port."""
    body = sdp(b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0",
               b"m=video 3002 RTP/AVP 96", b"a=rtcp:3005")
    p = parsed(invite(body=body))
    r, plan, edits, _ = plan_raw(p, [], media=[(4000, 4001), (5000, 5001)], n_media=1)
    assert r == "OK"
    # m=video (media 1) and its a=rtcp have no entry: only the audio port changes
    assert [e.text[:e.new_len] for e in edits[:plan.n_edits]] == [b"4000"]


def test_edits_name_their_site_content_length_0xff():
    """sip_rewrite.h: an edit names the index of its site, 0xff marking the Content-Length
    fix; sites from 255 on share 0xfe, so no site edit is taken for the Content-Length one."""
    route = b"Route: " + b", ".join(b"<sip:192.168.1.1:2000>" for _ in range(260))
    p = sipcore.parse(invite([route]), max_sites=400)
    assert (p.result, p.sites_result) == ("OK", "OK") and p.info.n_sites > 260
    r, plan, edits, _ = plan_raw(p, [(IN, 2000, PUB, 2222)], max_edits=400)
    assert r == "OK" and plan.n_edits > 256
    site_at = {p.sites[i].host.off: i for i in range(p.info.n_sites)}
    got = [(site_at[e.off], e.site) for e in edits[:plan.n_edits]]
    assert got == [(i, i if i < 255 else 0xfe) for i, _ in got]
    assert max(i for i, _ in got) > 255


def test_content_length_edit_needs_a_free_edit():
    """sip_rewrite.h: max_edits bounds the plan, the Content-Length fix included: a plan that
    fills the array with site edits and changes the body size is ERR_TOO_MANY_EDITS, with
    nothing written past the array; one more edit is enough."""
    body = sdp(b"c=IN IP4 10.0.0.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0")
    p = parsed(invite(body=body))
    xl = [("10.0.0.1", 0, "203.0.113.100", 0)]
    r, plan, edits, intact = plan_raw(p, xl, max_edits=1)
    assert (r, intact) == ("ERR_TOO_MANY_EDITS", True)
    r, plan, edits, intact = plan_raw(p, xl, max_edits=2)
    assert (r, plan.n_edits, intact) == ("OK", 2, True)
    assert [e.text[:e.new_len] for e in edits[:2]] == [b"%d" % (len(body) + 5), b"203.0.113.100"]
    assert edits[0].site == 0xff


def many_c_lines(n, pad):
    """An SDP body of n "c=IN IP4 1.1.1.1" lines and one a= line of pad bytes (with CRLF)."""
    return b"v=0\r\n" + b"c=IN IP4 1.1.1.1\r\n" * n + b"a=" + b"x" * (pad - 4) + b"\r\n"


@pytest.mark.parametrize("grown,expected", [(65535, "OK"), (65536, "ERR_TOO_LONG")])
def test_body_growth_up_to_65535(grown, expected):
    """sip_types.h: offsets are 16 bit, SIP_MAX_MSG_LEN 65535; a rewrite whose body would grow
    past 65535 bytes is ERR_TOO_LONG, one that reaches 65535 exactly is planned (Content-Length
    65535)."""
    n = 2500  # each 1.1.1.1 -> 255.255.255.255 grows the body by 8
    body = many_c_lines(n, grown - 5 - 26 * n)
    assert len(body) + 8 * n == grown
    p = sipcore.parse(invite(body=body), max_sites=n + 16)
    assert (p.result, p.sites_result) == ("OK", "OK")
    r, plan, edits, _ = plan_raw(p, [("1.1.1.1", 0, "255.255.255.255", 0)], max_edits=n + 1)
    assert r == expected
    if r == "OK":
        assert plan.body_delta == 8 * n
        clen = [e for e in edits[:plan.n_edits] if e.site == 0xff]
        assert [e.text[:e.new_len] for e in clen] == [b"65535"]


def test_site_at_the_very_end_of_the_message():
    """RFC 4566 section 5: parsers SHOULD be tolerant of line ends; an SDP body whose last line
    has no CRLF ends the datagram with a c= address, and an edit reaching the last byte of the
    message is applied."""
    body = sdp(b"t=0 0", b"m=audio 3000 RTP/AVP 0") + b"c=IN IP4 10.0.0.1"
    data = invite(body=body)
    assert data.endswith(b"10.0.0.1")
    out, plan = rewrite(data, [("10.0.0.1", 0, "203.0.113.100", 0)])
    assert out == data.replace(b"Content-Length: %d" % len(body),
                               b"Content-Length: %d" % (len(body) + 5)) \
        .replace(b"c=IN IP4 10.0.0.1", b"c=IN IP4 203.0.113.100")


def adjacent_info(data, spans):
    """A sip_info_t of address-only IPv4 sites over the given (offset, text) spans of data:
    sip_rewrite_plan takes any sites that are disjoint and in buffer order (sip_rewrite.c)."""
    sites = (sipcore.Site * len(spans))()
    for i, (off, text) in enumerate(spans):
        assert data[off:off + len(text)] == text
        sites[i] = sipcore.Site(kind=10, host_type=1, media=0xff, flags=2,
                                host=sipcore.Span(off, len(text)), port=sipcore.Span(off, 0),
                                ip4=sipcore.ip2int(text.decode()), n_ports=1)
    return sites


def plan_with_sites(data, spans, xlates):
    p = parsed(data)
    sites = adjacent_info(data, spans)
    p.info.sites, p.info.n_sites, p.info.max_sites = sites, len(spans), len(spans)
    p.sites = sites
    return p, sipcore.rewrite(p, xlates)


def test_adjacent_sites_are_disjoint():
    """sip_rewrite.c: sites must be disjoint and in buffer order; two sites that touch (one
    ends where the next begins) are disjoint: both are rewritten, by the planner and by the
    applier (sip_rewrite.h: edits in buffer order)."""
    data = invite([b"X-Pair: 10.0.0.110.0.0.2"])
    off = data.index(b"10.0.0.1")
    _, rw = plan_with_sites(data, [(off, b"10.0.0.1"), (off + 8, b"10.0.0.2")],
                            [("10.0.0.1", 0, "1.1.1.1", 0), ("10.0.0.2", 0, "2.2.2.2", 0)])
    assert rw.written() == data.replace(b"10.0.0.110.0.0.2", b"1.1.1.12.2.2.2")
    # overlapping sites are refused, with nothing planned
    _, rw = plan_with_sites(data, [(off, b"10.0.0.1"), (off + 7, b"110.0.0.2")],
                            [("10.0.0.1", 0, "1.1.1.1", 0), ("110.0.0.2", 0, "2.2.2.2", 0)])
    assert rw.result == "ERR_INVALID_ARG"


def test_edit_of_the_first_body_byte_changes_the_body():
    """sip_rewrite.c: an edit in the body changes the body size and Content-Length with it;
    the body starts at its first byte."""
    body = b"10.0.0.1 x"
    data = b"\r\n".join([
        b"MESSAGE sip:b@198.51.100.2 SIP/2.0", b"Via: SIP/2.0/UDP 192.168.1.1:2000;branch=z9hG4bK1",
        b"From: <sip:a@192.168.1.1>;tag=1", b"To: <sip:b@198.51.100.2>", b"Call-ID: x1",
        b"CSeq: 1 MESSAGE", b"Content-Type: text/plain", b"Content-Length: 10", b"", body])
    off = data.index(b"\r\n\r\n") + 4
    p, rw = plan_with_sites(data, [(off, b"10.0.0.1")], [("10.0.0.1", 0, "203.0.113.100", 0)])
    assert p.msg.body_off == off and rw.plan.body_delta == 5
    assert rw.written() == data.replace(b"Content-Length: 10", b"Content-Length: 15") \
        .replace(b"\r\n\r\n10.0.0.1", b"\r\n\r\n203.0.113.100")


sipcore.lib.sip_rewrite_apply.argtypes = [
    C.c_char_p, C.c_uint32, C.POINTER(sipcore.Plan), C.c_void_p, C.c_uint32,
    C.POINTER(C.c_uint32)]


def apply_edits(data, edits, cap):
    """sip_rewrite_apply of a hand-made plan [(off, old_len, text)] into a cap-byte buffer
    (None: no buffer) followed by 16 guard bytes, all prefilled with 0xA5. Returns (result,
    out_len, the bytes written: the whole buffer)."""
    arr = (sipcore.Edit * max(len(edits), 1))()
    delta = 0
    for i, (off, old_len, text) in enumerate(edits):
        arr[i] = sipcore.Edit(off, old_len, len(text), i, text[:24])
        delta += len(text) - old_len
    plan = sipcore.Plan(arr, len(arr), len(edits), delta, 0)
    out = None if cap is None else C.create_string_buffer(cap + 16)
    if out is not None:
        C.memset(out, 0xA5, cap + 16)
    out_len = C.c_uint32(0xFFFFFFFF)
    r = sipcore.lib.sip_rewrite_apply(data, len(data), C.byref(plan), out, cap or 0,
                                      C.byref(out_len))
    return sipcore.result_name(r), out_len.value, None if out is None else out.raw


@pytest.mark.parametrize("text_len,expected", [(24, "OK"), (25, "ERR_INVALID_ARG")])
def test_apply_edit_text_up_to_24(text_len, expected):
    """sip_rewrite.h: an edit carries at most SIP_EDIT_MAX_TEXT (24) bytes; a first edit
    claiming more is refused before a byte is written (sip_rewrite.c)."""
    data = b"0123456789"
    r, n, raw = apply_edits(data, [(2, 1, b"y" * text_len), (5, 1, b"z")], 64)
    assert r == expected
    if r == "OK":
        assert (n, raw[:n]) == (33, b"01" + b"y" * 24 + b"34z6789")
        assert raw[n:] == b"\xa5" * (len(raw) - n)
    else:
        assert raw == b"\xa5" * len(raw)


def test_apply_adjacent_edits_and_edit_at_the_end():
    """sip_rewrite.h: edits are disjoint and in buffer order; touching edits, and one ending at
    the last byte of the message, are applied."""
    r, n, raw = apply_edits(b"abcdefgh", [(0, 2, b"X"), (2, 2, b"YY"), (6, 2, b"ZZZ")], 16)
    assert (r, raw[:n]) == ("OK", b"XYYefZZZ")


def test_apply_empty_result():
    """sip_rewrite.h: *out_len gets len + delta; a message of 0 bytes (or a plan deleting all
    of one) is 0 bytes, which fit a capacity of 0 and need no buffer."""
    assert apply_edits(b"", [], None)[:2] == ("OK", 0)
    assert apply_edits(b"", [], 0)[:2] == ("OK", 0)
    assert apply_edits(b"abc", [(0, 3, b"")], None)[:2] == ("OK", 0)


def test_translation_text_formatted_once_per_plan():
    """The planner formats a translation's address (and port) once per plan and reuses the
    text (sip_rewrite.c sip_xtext) for each site naming it: with and without the port
    (host:port sites, address-only ones), for the first eight translations and past them
    (formatted each time), every site gets its own translation's text, also where two
    translations take turns (j, k, k, j, k: one kept entry written while another is kept)."""
    xl = [("10.0.0.%d" % i, 2000 + i, "203.0.113.%d" % (100 + i), 3000 + i) for i in range(10)]
    for k, j in ((0, 1), (1, 0), (7, 6), (6, 7), (8, 0), (0, 8), (9, 7), (7, 9), (8, 9)):
        a, port, b, bport = xl[k][0].encode(), xl[k][1], xl[j][0].encode(), xl[j][1]
        data = build(b"INVITE sip:b@198.51.100.2 SIP/2.0", [
            b"Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK1" % (b, bport),
            b"From: <sip:a@%s:%d>;tag=1" % (a, port),
            b"To: <sip:b@198.51.100.2>",
            b"Call-ID: x1@%s" % a,
            b"CSeq: 1 INVITE",
            b"Contact: <sip:a@%s:%d>, <sip:a@%s:%d>" % (b, bport, a, port)])
        out = sipcore.rewrite(parsed(data), xl).written()
        pk, pj = b"%s:%d" % (xl[k][2].encode(), xl[k][3]), b"%s:%d" % (xl[j][2].encode(), xl[j][3])
        assert out.count(pk) == 2 and out.count(pj) == 2, (k, j, out)
        assert b"Call-ID: x1@%s\r\n" % xl[k][2].encode() in out, (k, j, out)  # address alone
        assert a not in out and b not in out, (k, j, out)
