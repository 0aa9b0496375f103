# SPDX-License-Identifier: Apache-2.0
"""Table-driven tests of the SIP message parser: framing, header index, errors."""

import pytest

import sipcore

BASE = [
    b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1",
    b"From: <sip:a@192.0.2.1>;tag=1",
    b"To: <sip:b@198.51.100.2>",
    b"Call-ID: c1@192.0.2.1",
    b"CSeq: 1 OPTIONS",
]


def req(*extra, start=b"OPTIONS sip:b@198.51.100.2 SIP/2.0", body=b"", clen=True, eol=b"\r\n",
        base=BASE):
    lines = [start] + list(base) + list(extra)
    if clen:
        lines.append(b"Content-Length: %d" % len(body))
    return eol.join(lines) + eol + eol + body


CASES = [
    # name, message, mode, expected result
    ("minimal", req(), "d", "OK"),
    ("bare LF lines", req(eol=b"\n"), "d", "OK"),
    ("leading CRLFs", b"\r\n\r\n" + req(), "d", "OK"),
    ("no content-length on UDP", req(clen=False, body=b"xyz"), "d", "OK"),
    ("no content-length on TCP", req(clen=False), "s", "ERR_CONTENT_LENGTH"),
    ("lowercase version", req(start=b"OPTIONS sip:b@198.51.100.2 sip/2.0"), "d", "OK"),
    ("version 3.0", req(start=b"OPTIONS sip:b@198.51.100.2 SIP/3.0"), "d", "ERR_VERSION"),
    ("version 2.00", req(start=b"OPTIONS sip:b@198.51.100.2 SIP/2.00"), "d", "ERR_VERSION"),
    ("empty start line token", req(start=b" OPTIONS sip:b@x SIP/2.0"), "d", "ERR_START_LINE"),
    ("method with bad char", req(start=b"OPT@ONS sip:b@x SIP/2.0"), "d", "ERR_METHOD"),
    ("two tokens only", req(start=b"OPTIONS SIP/2.0"), "d", "ERR_START_LINE"),
    ("request-uri without scheme", req(start=b"OPTIONS b@x SIP/2.0"), "d", "ERR_REQUEST_URI"),
    ("status 2 digits", req(start=b"SIP/2.0 20 OK"), "d", "ERR_STATUS"),
    ("status 099", req(start=b"SIP/2.0 099 Hm"), "d", "ERR_STATUS"),
    ("status 700", req(start=b"SIP/2.0 700 Hm"), "d", "ERR_STATUS"),
    ("status without SP", req(start=b"SIP/2.0 200"), "d", "ERR_START_LINE"),
    ("header without colon", req(b"Foo bar"), "d", "ERR_HEADER"),
    ("header with empty name", req(b": bar"), "d", "ERR_HEADER"),
    ("continuation first", req(start=b"OPTIONS sip:b@x SIP/2.0\r\n folded"), "d",
     "ERR_HEADER"),
    ("missing Call-ID", req(base=[l for l in BASE if not l.startswith(b"Call-ID")]), "d",
     "ERR_MISSING_HEADER"),
    ("missing Via", req(base=BASE[1:]), "d", "ERR_MISSING_HEADER"),
    ("duplicate CSeq", req(b"CSeq: 2 OPTIONS"), "d", "ERR_DUP_HEADER"),
    ("duplicate To via compact form", req(b"t: <sip:c@x>"), "d", "ERR_DUP_HEADER"),
    ("cseq 2**31", req(base=BASE[:4] + [b"CSeq: 2147483648 OPTIONS"]), "d", "ERR_CSEQ"),
    ("cseq 2**31-1", req(base=BASE[:4] + [b"CSeq: 2147483647 OPTIONS"]), "d", "OK"),
    ("cseq without method", req(base=BASE[:4] + [b"CSeq: 1"]), "d", "ERR_CSEQ"),
    ("cseq method mismatch", req(base=BASE[:4] + [b"CSeq: 1 INVITE"]), "d", "ERR_CSEQ_METHOD"),
    ("content-length with sign", req(b"l: +0", clen=False), "d", "ERR_CONTENT_LENGTH"),
    ("content-length 65536", req(b"l: 65536", clen=False), "d", "ERR_CONTENT_LENGTH"),
    ("content-length > body", req(b"l: 10", clen=False, body=b"abc"), "d",
     "ERR_BODY_TRUNCATED"),
    ("content-length > body on TCP", req(b"l: 10", clen=False, body=b"abc"), "s", "INCOMPLETE"),
    ("max-forwards 256", req(b"Max-Forwards: 256"), "d", "ERR_MAX_FORWARDS"),
    ("expires 2**32", req(b"Expires: 4294967296"), "d", "ERR_EXPIRES"),
    ("date not GMT", req(b"Date: Sat, 13 Nov 2010 23:29:00 PST"), "d", "ERR_DATE"),
    ("call-id with space", req(base=BASE[:3] + [b"Call-ID: a b", BASE[4]]), "d",
     "ERR_CALL_ID"),
    ("headers never end (UDP)", b"OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP x", "d",
     "ERR_TRUNCATED"),
    ("headers never end (TCP)", b"OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP x", "s",
     "INCOMPLETE"),
    ("line too long", req(b"X-Long: " + b"a" * 9000), "d", "ERR_LINE_TOO_LONG"),
    ("empty datagram", b"", "d", "ERR_TRUNCATED"),
    ("empty stream", b"", "s", "INCOMPLETE"),
]


@pytest.mark.parametrize("name,data,mode,expected", CASES, ids=[c[0] for c in CASES])
def test_parse_result(name, data, mode, expected):
    p = sipcore.parse(data, sipcore.STREAM if mode == "s" else sipcore.DATAGRAM, sites=False)
    assert p.result == expected


def test_too_many_headers():
    data = req(*[b"X-H%d: v" % i for i in range(10)])
    assert sipcore.parse(data, max_hdrs=16, sites=False).result == "OK"
    assert sipcore.parse(data, max_hdrs=15, sites=False).result == "ERR_TOO_MANY_HEADERS"


def test_datagram_too_long():
    data = req(body=b"x" * 1000)
    assert sipcore.parse(data + b"x" * (65536 - len(data)), sites=False).result == "ERR_TOO_LONG"


COMPACT = [(b"v", "via"), (b"f", "from"), (b"t", "to"), (b"i", "call-id"), (b"m", "contact"),
           (b"l", "content-length"), (b"c", "content-type"), (b"s", "subject"),
           (b"k", "supported"), (b"e", "content-encoding"), (b"o", "event"),
           (b"r", "refer-to"), (b"u", "allow-events"), (b"x", "other")]


@pytest.mark.parametrize("letter,name", COMPACT)
def test_compact_forms(letter, name):
    assert sipcore.lib.sip_hdr_lookup(letter, 1) == [
        sipcore.lib.sip_hdr_name(i).decode() for i in range(20)].index(name)
    assert sipcore.lib.sip_hdr_lookup(letter.upper(), 1) == sipcore.lib.sip_hdr_lookup(letter, 1)


@pytest.mark.parametrize("name", [b"Call-ID", b"call-id", b"CALL-ID", b"cAlL-iD"])
def test_header_names_case_insensitive(name):
    assert sipcore.lib.sip_hdr_name(sipcore.lib.sip_hdr_lookup(name, len(name))) == b"call-id"


def test_folded_and_repeated_headers():
    data = req(b"Contact: <sip:a@192.0.2.1:5070>,", b"  <sip:a@192.0.2.9>",
               b"Route: <sip:p1@198.51.100.7;lr>", b"Route: <sip:p2@198.51.100.8;lr>",
               b"Subject: first", b"\tsecond")
    p = sipcore.parse(data)
    assert (p.result, p.sites_result) == ("OK", "OK")
    hdrs = {h[1]: h[2] for h in p.headers()}
    assert hdrs["subject"] == b"first\r\n\tsecond"
    assert hdrs["contact"] == b"<sip:a@192.0.2.1:5070>,\r\n  <sip:a@192.0.2.9>"
    sites = [(s["kind"], s["host"], s["value"]) for s in p.site_list()]
    assert ("contact", "192.0.2.1", 5070) in sites and ("contact", "192.0.2.9", 5060) in sites
    assert [s for s in sites if s[0] == "route"] == [("route", "198.51.100.7", 5060),
                                                      ("route", "198.51.100.8", 5060)]


def test_header_index_first():
    p = sipcore.parse(req(b"Via: SIP/2.0/TCP 192.0.2.5;branch=z9hG4bK2"), sites=False)
    ids = [sipcore.lib.sip_hdr_name(i).decode() for i in range(20)]
    first_via = p.msg.first[ids.index("via")]
    assert p.text(p.hdrs[first_via].value).startswith(b"SIP/2.0/UDP 192.0.2.1")
    assert p.msg.first[ids.index("expires")] == 0xFFFF


def test_response_fields():
    data = req(start=b"SIP/2.0 486 Busy Here", base=BASE[:4] + [b"CSeq: 7 INVITE"])
    p = sipcore.parse(data, sites=False)
    assert p.result == "OK" and p.msg.is_request == 0
    assert (p.msg.status, p.text(p.msg.reason)) == (486, b"Busy Here")
    assert (p.msg.cseq, p.msg.cseq_method) == (7, sipcore.METHODS["INVITE"])


def test_keepalive_datagram_and_stream():
    for mode in (sipcore.DATAGRAM, sipcore.STREAM):
        p = sipcore.parse(b"\r\n\r\n", mode)
        assert p.result == "OK" and p.msg.n_hdrs == 0 and p.msg.msg_len == 4


def test_stream_two_messages_in_one_segment():
    a = req(body=b"hello")
    b = req(start=b"OPTIONS sip:c@198.51.100.3 SIP/2.0")
    seg = a + b
    p1 = sipcore.parse(seg, sipcore.STREAM)
    assert p1.result == "OK" and p1.msg.msg_len == len(a)
    p2 = sipcore.parse(seg[p1.msg.msg_len:], sipcore.STREAM)
    assert p2.result == "OK" and p2.msg.msg_len == len(b)
    assert p2.text(p2.msg.ruri) == b"sip:c@198.51.100.3"


def test_stream_message_spanning_segments():
    a = req(body=b"0123456789")
    for cut in range(1, len(a)):
        assert sipcore.parse(a[:cut], sipcore.STREAM, sites=False).result == "INCOMPLETE", cut
    assert sipcore.parse(a, sipcore.STREAM, sites=False).result == "OK"


def test_datagram_trailing_bytes_ignored_and_flagged():
    p = sipcore.parse(req(body=b"ab") + b"junk", sites=False)
    assert p.result == "OK" and p.msg.body_len == 2 and p.msg.lenient & 8


def test_leniency_flags():
    assert sipcore.parse(req(eol=b"\n"), sites=False).msg.lenient & 1
    assert sipcore.parse(b"\r\n" + req(), sites=False).msg.lenient & 2
    assert sipcore.parse(req(clen=False), sites=False).msg.lenient & 4
    assert sipcore.parse(req(), sites=False).msg.lenient == 0


@pytest.mark.parametrize("method", sorted(m for m in sipcore.METHODS if m not in ("", "OTHER")))
def test_method_lookup(method):
    assert sipcore.lib.sip_method_lookup(method.encode(), len(method)) == sipcore.METHODS[method]
    # methods are case-sensitive
    assert sipcore.lib.sip_method_lookup(method.lower().encode(), len(method)) == \
        sipcore.METHODS["OTHER"]
