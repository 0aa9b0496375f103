# SPDX-License-Identifier: Apache-2.0
"""Rewrite sites of the headers at their edges (RFC 3261 section 25.1 grammar): hosts
(IPv4, IPv6 references, names), ports, Via sent-protocol and received=, name-addr lists,
Contact: * and expires=, table-driven."""

import pytest

import sipcore

HDRS = {
    "Via": b"Via: SIP/2.0/UDP 192.168.1.1:2000;branch=z9hG4bK1",
    "From": b"From: <sip:a@192.168.1.1:2000>;tag=1",
    "To": b"To: <sip:b@198.51.100.2>",
    "Call-ID": b"Call-ID: x1",
    "CSeq": b"CSeq: 1 INVITE",
}


def request(*extra, method=b"INVITE", **replace):
    """A request with the base headers, any of them replaced (From=b"From: ..."), extra ones
    appended."""
    hdrs = dict(HDRS, **{k.replace("_", "-"): v for k, v in replace.items()})
    if method != b"INVITE":
        hdrs["CSeq"] = b"CSeq: 1 " + method
    lines = [method + b" sip:b@198.51.100.2 SIP/2.0"] + list(hdrs.values()) + list(extra)
    return b"\r\n".join(lines + [b"Content-Length: 0", b"", b""])


def analyzed(data):
    p = sipcore.parse(data)
    assert p.result == "OK"
    return p


def sites(p, kind):
    return [(s["host"], s["host_type"], s["port"], s["value"]) for s in p.site_list()
            if s["kind"] == kind]


def test_site_kind_names():
    """sip_sites.h: the kinds are request-uri .. sdp-rtcp-addr; any other number is "?"."""
    names = [sipcore.lib.sip_site_kind_name(k).decode() for k in range(19)]
    assert names[0] == "request-uri" and names[16] == "sdp-rtcp-addr"
    assert names[17:] == ["?", "?"]


# RFC 3261 section 25.1: host = hostname / IPv4address / IPv6reference,
# IPv6reference = "[" IPv6address "]"; hostport = host [ ":" port ]
CONTACT_OK = [
    ("ipv6 unspecified, shortest reference", b"<sip:a@[::]:5062>", ("[::]", "ip6", "5062", 5062)),
    ("ipv6 with embedded ipv4", b"<sip:a@[::ffff:192.0.2.1]>",
     ("[::ffff:192.0.2.1]", "ip6", "", 5060)),
    ("ipv4 port digits", b"<sip:a@192.168.1.1:5062;transport=udp>",
     ("192.168.1.1", "ip4", "5062", 5062)),
    ("hostname", b"<sip:a@pbx-1.example.com:5070>", ("pbx-1.example.com", "name", "5070", 5070)),
    # the user part cannot hold an unescaped '@' (RFC 3261 section 25.1 user): the host
    # follows the first one, whatever a header of the URI carries
    ("host after the first @", b"<sip:a@192.168.1.1:2000?Route=b@example.com>",
     ("192.168.1.1", "ip4", "2000", 2000)),
]


@pytest.mark.parametrize("name,value,expected", CONTACT_OK, ids=[c[0] for c in CONTACT_OK])
def test_contact_host(name, value, expected):
    p = analyzed(request(b"Contact: " + value))
    assert p.sites_result == "OK"
    assert sites(p, "contact") == [expected]


CONTACT_BAD = [
    ("empty host", b"<sip:a@>"),
    ("empty host with port", b"<sip:a@:5060>"),
    ("empty ipv6 reference", b"<sip:a@[]>"),
    ("ipv6 reference of one colon", b"<sip:a@[:]>"),
    ("ipv6 not hex first", b"<sip:a@[g::1]>"),
    ("ipv6 not hex last", b"<sip:a@[::1g]>"),
    ("hostname with !", b"<sip:a@ex!ample.com>"),
    ("no scheme, bare", b"192.168.1.1"),
]


@pytest.mark.parametrize("name,value", CONTACT_BAD, ids=[c[0] for c in CONTACT_BAD])
def test_contact_host_refused(name, value):
    assert analyzed(request(b"Contact: " + value)).sites_result == "ERR_CONTACT"


VIA_CASES = [
    # RFC 3261 section 20.42: received = IPv4address / IPv6address (no brackets)
    ("received bare ipv6", b";received=2001:db8::1", "OK", [("2001:db8::1", "ip6")]),
    ("received ipv4-embedded ipv6", b";received=::ffff:192.0.2.1", "OK",
     [("::ffff:192.0.2.1", "ip6")]),
    ("received ipv6 not hex", b";received=2001:db8::g", "ERR_VIA", None),
    # maddr = host: an IPv6 reference must be closed
    ("maddr unterminated reference", b";maddr=[::1", "ERR_VIA", None),
    ("maddr reference then more", b";maddr=[::1]x", "ERR_VIA", None),
    ("maddr ipv6 reference", b";maddr=[ff02::1]", "OK", [("[ff02::1]", "ip6")]),
]


@pytest.mark.parametrize("name,params,result,expected", VIA_CASES, ids=[c[0] for c in VIA_CASES])
def test_via_address_params(name, params, result, expected):
    p = analyzed(request(Via=b"Via: SIP/2.0/UDP 198.51.100.9:5062;branch=z9hG4bK1" + params))
    assert p.sites_result == result
    if expected is not None:
        assert [(s["host"], s["host_type"]) for s in p.site_list()
                if s["kind"] in ("via-received", "via-maddr")] == expected


@pytest.mark.parametrize("via", [b"SIP-2.0/UDP 198.51.100.9", b"SIP/2.0 UDP 198.51.100.9",
                                 b"SIP/2.0/UDP", b"SIP/2.0-UDP 198.51.100.9"])
def test_via_sent_protocol_refused(via):
    """RFC 3261 section 20.42: sent-protocol = protocol-name SLASH protocol-version SLASH
    transport, then LWS and sent-by."""
    assert analyzed(request(Via=b"Via: " + via)).sites_result == "ERR_VIA"


def test_contact_bare_addr_spec_list():
    """RFC 3261 section 20.10: Contact is a comma list of name-addr or addr-spec; bare
    addr-specs each give a site, with their parameters."""
    p = analyzed(request(b"Contact: sip:a@192.168.1.1:2000;expires=30, sip:b@192.168.1.2"))
    assert p.sites_result == "OK"
    assert sites(p, "contact") == [("192.168.1.1", "ip4", "2000", 2000),
                                   ("192.168.1.2", "ip4", "", 5060)]
    assert p.info.contact_expires == 30


@pytest.mark.parametrize("hdr", [b"From: <sip:a@192.168.1.1>;tag=1, <sip:c@192.168.1.3>",
                                 b"From: sip:a@192.168.1.1;tag=1, sip:c@192.168.1.3"])
def test_from_is_one_address(hdr):
    """RFC 3261 section 20.20: From = ( name-addr / addr-spec ) *( SEMI from-param ): one
    address, not a list."""
    assert analyzed(request(From=hdr)).sites_result == "ERR_NAME_ADDR"


def test_display_name_then_laquot():
    """RFC 3261 section 25.1: name-addr = [ display-name ] LAQUOT addr-spec RAQUOT; after a
    quoted display-name only LWS may come before '<'."""
    p = analyzed(request(From=b'From: "A" xsip:a@192.168.1.1>;tag=1'))
    assert p.sites_result == "ERR_NAME_ADDR"
    p = analyzed(request(From=b'From: "A" <sip:a@192.168.1.1>;tag=1'))
    assert p.sites_result == "OK" and sites(p, "from") == [("192.168.1.1", "ip4", "", 5060)]


def test_contact_star():
    """RFC 3261 section 10.2.2: "Contact: *" (with Expires: 0) removes all bindings; it is a
    Contact value only, no site, flagged in contact_star."""
    p = analyzed(request(b"Contact: *", b"Expires: 0", method=b"REGISTER"))
    assert (p.sites_result, bool(p.info.contact_star), sites(p, "contact")) == ("OK", True, [])
    p = analyzed(request(b"Contact: <sip:a@192.168.1.1>", method=b"REGISTER"))
    assert (p.sites_result, bool(p.info.contact_star)) == ("OK", False)
    for bad in (b"Contact: **", b"Contact: +"):
        assert analyzed(request(bad, method=b"REGISTER")).sites_result == "ERR_CONTACT"
    assert analyzed(request(To=b"To: *", method=b"REGISTER")).sites_result == "ERR_NAME_ADDR"


@pytest.mark.parametrize("params,expected", [(b";expires=0;expires=60", 0),
                                             (b";expires=60;expires=0", 60),
                                             (b"", -1)])
def test_contact_expires_first_one(params, expected):
    """RFC 3261 section 10.2.1.1: a Contact's expires parameter is its binding lifetime, 0 a
    removal (10.2.2); the first expires= of the first Contact is the one reported
    (sip_sites.c), a 0 included; -1 when there is none (sip_sites.h)."""
    p = analyzed(request(b"Contact: <sip:a@192.168.1.1>" + params + b", <sip:a@192.168.1.2>"
                         b";expires=90", method=b"REGISTER"))
    assert (p.sites_result, p.info.contact_expires) == ("OK", expected)


def test_via_without_sent_by_whatever_the_capacity():
    """RFC 3261 section 20.42: via-parm = sent-protocol LWS sent-by; a Via that ends after the
    transport is not a Via (ERR_VIA), also when no site is left to record one."""
    resp = b"\r\n".join([b"SIP/2.0 200 OK", b"Via: SIP/2.0/UDP", HDRS["From"], HDRS["To"],
                         HDRS["Call-ID"], HDRS["CSeq"], b"Content-Length: 0", b"", b""])
    for max_sites in (0, 1, 8):
        assert sipcore.parse(resp, max_sites=max_sites).sites_result == "ERR_VIA", max_sites


RPORT = [
    # RFC 3581 section 4: received and rport together are the source address and port
    ("rport with received", b"Via: SIP/2.0/UDP 192.168.1.1:2000;rport=4000;received=203.0.113.10",
     ("ip4", "203.0.113.10")),
    ("rport with received, sent-by a name",
     b"Via: SIP/2.0/UDP pc.example.com:2000;received=203.0.113.10;rport=4000",
     ("ip4", "203.0.113.10")),
    # without received= the port pairs with the sent-by host (sip_sites.c)
    ("rport alone", b"Via: SIP/2.0/UDP 192.168.1.1:2000;rport=4000", ("ip4", "192.168.1.1")),
    ("rport alone, sent-by a name", b"Via: SIP/2.0/UDP pc.example.com;rport=4000",
     ("name", None)),
]


@pytest.mark.parametrize("name,via,expected", RPORT, ids=[c[0] for c in RPORT])
def test_rport_address(name, via, expected):
    p = analyzed(request(Via=via))
    assert p.sites_result == "OK"
    assert [(s["host_type"], s["ip"], s["value"]) for s in p.site_list()
            if s["kind"] == "via-rport"] == [expected + (4000,)]


BODY_KINDS = [
    # RFC 3261 section 7.4 / 20.15: the body's type is its Content-Type; none, no body
    ("no body", None, b"", "none"),
    ("one byte, no type", None, b"x", "other"),
    ("sdp", b"application/sdp", b"v=0\r\n", "sdp"),
    ("sdp with parameter", b"Application/SDP ;charset=x", b"v=0\r\n", "sdp"),
    # RFC 2045 section 5.1: type "/" subtype; "multipart/" alone names no subtype
    ("multipart, shortest subtype", b"multipart/x;boundary=b", b"--b--\r\n", "multipart"),
    ("multipart/mixed", b"multipart/mixed;boundary=b", b"--b--\r\n", "multipart"),
    ("multipart without subtype", b"multipart/", b"--b--\r\n", "other"),
    ("another long type", b"application/pidf+xml", b"<x/>", "other"),
]


@pytest.mark.parametrize("name,ctype,body,expected", BODY_KINDS, ids=[c[0] for c in BODY_KINDS])
def test_body_kind(name, ctype, body, expected):
    extra = [b"Content-Type: " + ctype] if ctype else []
    data = request(*extra).replace(b"Content-Length: 0\r\n\r\n",
                                   b"Content-Length: %d\r\n\r\n" % len(body)) + body
    p = analyzed(data)
    assert (p.sites_result, sipcore.BODY_KINDS[p.info.body_kind]) == ("OK", expected)


def sdp_request(body):
    return request(b"Content-Type: application/sdp").replace(
        b"Content-Length: 0\r\n\r\n", b"Content-Length: %d\r\n\r\n" % len(body)) + body


def test_err_off_of_sdp():
    """sip_sites.h: err_off is the offset where an error was detected: the SDP line that is
    wrong, not the start of the body; 0 when there is none."""
    good = b"v=0\r\no=- 1 1 IN IP4 192.168.1.1\r\ns=-\r\nm=audio 3000 RTP/AVP 0\r\n"
    p = analyzed(sdp_request(good))
    assert (p.sites_result, p.info.err_off) == ("OK", 0)
    data = sdp_request(good.replace(b"3000", b"70000"))
    p = analyzed(data)
    assert (p.sites_result, p.info.err_off) == ("ERR_SDP", data.index(b"m=audio 70000"))


@pytest.mark.parametrize("last,expected", [
    (b"Contact: <sip:a@192.0.2.9:5070>", ("OK", [("192.0.2.9", "ip4", "5070", 5070)])),
    (b"Contact: <sip:a@192.0.2.9:5070>,\r\n <sip:a@192.0.2.8>",
     ("OK", [("192.0.2.9", "ip4", "5070", 5070), ("192.0.2.8", "ip4", "", 5060)])),
    (b"Contact: <sip:a@192.0.2.9 >", ("ERR_CONTACT", None)),
])
def test_sites_of_the_last_header_of_a_datagram(last, expected):
    """A datagram may end after its last header line, without the blank line (sip_msg.h
    SIP_LENIENT_NO_BLANK_LINE): that header's sites are found too, a folded one with its
    continuation, and its error is the site finder's (the one-pass sip_msg_read takes a
    header's sites when the next line is not its continuation, or at the end)."""
    data = b"\r\n".join([b"INVITE sip:b@198.51.100.2 SIP/2.0"] + list(HDRS.values()) + [last]) \
        + b"\r\n"
    p = analyzed(data)
    assert p.msg.lenient & 0x10  # SIP_LENIENT_NO_BLANK_LINE
    got = sites(p, "contact") if p.sites_result == "OK" else None
    assert (p.sites_result, got) == expected
