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
    # RFC 3261 7.1: SIP-Version is "SIP/" then the version; anything else is no start line
    ("version SIP/2", req(start=b"OPTIONS sip:b@x.example SIP/2"), "d", "ERR_VERSION"),
    ("version SIP/", req(start=b"OPTIONS sip:b@x.example SIP/"), "d", "ERR_START_LINE"),
    ("version not SIP", req(start=b"OPTIONS sip:b@x.example XIP/2.0"), "d", "ERR_START_LINE"),
    # RFC 3986 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    ("scheme with + - . and digits", req(start=b"OPTIONS x-a+b.c9:foo SIP/2.0"), "d", "OK"),
    ("scheme starting with a digit", req(start=b"OPTIONS 1ab:foo SIP/2.0"), "d",
     "ERR_REQUEST_URI"),
    ("scheme with _", req(start=b"OPTIONS a_b:foo SIP/2.0"), "d", "ERR_REQUEST_URI"),
    ("scheme with nothing after it", req(start=b"OPTIONS tel: SIP/2.0"), "d", "ERR_REQUEST_URI"),
    ("one byte after the scheme", req(start=b"OPTIONS tel:1 SIP/2.0"), "d", "OK"),
    # RFC 3261 19.1.1: no headers component ('?') in a SIP or SIPS Request-URI; any other
    # absoluteURI may have a query (25.1: hier-part [ "?" query ])
    ("sips with headers", req(start=b"OPTIONS sips:b@example.com?subject=x SIP/2.0"), "d",
     "ERR_REQUEST_URI"),
    ("SIPS with headers", req(start=b"OPTIONS SIPS:b@example.com?subject=x SIP/2.0"), "d",
     "ERR_REQUEST_URI"),
    ("sips", req(start=b"OPTIONS sips:b@example.com SIP/2.0"), "d", "OK"),
    ("ftp URI with a query", req(start=b"OPTIONS ftp://example.com/f?x=1 SIP/2.0"), "d", "OK"),
    ("http URI with a query", req(start=b"OPTIONS http://example.com/a?b=1 SIP/2.0"), "d", "OK"),
    ("sip URI with a one-byte host", req(start=b"OPTIONS sip:x SIP/2.0"), "d", "OK"),
    ("sip URI with user and a one-byte host", req(start=b"OPTIONS sip:b@x SIP/2.0"), "d", "OK"),
    ("sip URI with an empty host", req(start=b"OPTIONS sip:b@ SIP/2.0"), "d", "ERR_REQUEST_URI"),
    ("sip URI with '?' first in the host", req(start=b"OPTIONS sip:b@?x SIP/2.0"), "d",
     "ERR_REQUEST_URI"),
    # RFC 3261 7.2: Status-Code is 3DIGIT, then SP Reason-Phrase
    ("status 2 digits, no reason", req(start=b"SIP/2.0 20"), "d", "ERR_STATUS"),
    ("status not digits, no reason", req(start=b"SIP/2.0 abc"), "d", "ERR_STATUS"),
    # header values are checked wherever the header sits (RFC 3261 7.3.1: order is free)
    ("bad cseq as the first header", req(base=[b"CSeq: x OPTIONS"] + BASE[:4]), "d", "ERR_CSEQ"),
    ("bad expires as the first header", req(base=[b"Expires: x"] + BASE), "d", "ERR_EXPIRES"),
    # RFC 3261 8.1.1.5: the CSeq method matches the request's, case-sensitively (7.1)
    ("cseq method of the same length", req(start=b"INVITE sip:b@198.51.100.2 SIP/2.0",
                                           base=BASE[:4] + [b"CSeq: 1 NOTIFY"]), "d",
     "ERR_CSEQ_METHOD"),
    ("cseq method in lower case", req(base=BASE[:4] + [b"CSeq: 1 options"]), "d",
     "ERR_CSEQ_METHOD"),
    # the Date check is of the ending only: SP "GMT" after at least one byte (sip_msg.c)
    ("date 1 GMT", req(b"Date: 1 GMT"), "d", "OK"),
    ("date GMT alone", req(b"Date: GMT"), "d", "ERR_DATE"),
    # RFC 3261 25.1: callid = word [ "@" word ], word of visible characters (no DEL)
    ("call-id with DEL", req(base=BASE[:3] + [b"Call-ID: a\x7fb", BASE[4]]), "d",
     "ERR_CALL_ID"),
    ("call-id with ~", req(base=BASE[:3] + [b"Call-ID: a~b", BASE[4]]), "d", "OK"),
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


def test_names_of_ids_out_of_range():
    """Every name function answers an id past its table with its placeholder (sip_msg.c,
    sip_call.c), the last real id with its own name."""
    n = next(i for i in range(64) if sipcore.result_name(i) == "UNKNOWN")
    assert sipcore.result_name(n - 1) == "ERR_INVALID_ARG"
    assert sipcore.lib.sip_result_string(n - 1) == b"invalid argument"
    for i in range(n, n + 4):
        assert sipcore.lib.sip_result_string(i) == b"unknown result", i
        assert sipcore.result_name(i) == "UNKNOWN", i
    assert sipcore.lib.sip_hdr_name(sipcore.N_HDR_IDS - 1) == b"allow-events"
    for i in range(sipcore.N_HDR_IDS, sipcore.N_HDR_IDS + 4):
        assert sipcore.lib.sip_hdr_name(i) == b"?", i
    other = sipcore.METHODS["OTHER"]
    assert sipcore.lib.sip_method_name(other) == b"OTHER"
    assert sipcore.lib.sip_method_name(other + 1) == b"?"
    assert sipcore.lib.sip_call_state_name(len(sipcore.STATES)) == b"?"


HDR_NAMES = {sipcore.lib.sip_hdr_name(i).decode(): i for i in range(1, sipcore.N_HDR_IDS)}


@pytest.mark.parametrize("name", sorted(HDR_NAMES))
def test_header_lookup_every_long_name(name):
    """Every known header's long name, in any case, is that header (RFC 3261 7.3.1: names
    are case-insensitive); the same name with any other first byte, one byte more or one
    less (unless that is a compact form) is no known header."""
    b = name.encode()
    for form in (b, b.upper(), b.title(), b.swapcase()):
        assert sipcore.lib.sip_hdr_lookup(form, len(form)) == HDR_NAMES[name], form
    for c in range(256):
        if bytes([c]).lower() == b[:1]:
            continue
        other = bytes([c]) + b[1:]
        assert sipcore.lib.sip_hdr_lookup(other, len(other)) == 0, other
    for other in (b + b"s", b[:-1] if len(b) > 2 else b"", b"x-" + b):
        assert sipcore.lib.sip_hdr_lookup(other, len(other)) == 0, other


def test_header_compact_flag():
    """hdr.compact tells a compact name (RFC 3261 7.3.3) from a long one."""
    data = req(b"m: <sip:a@192.0.2.1>", b"Subject: x", b"s: y", b"X: z",
               base=[b"v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1"] + BASE[1:])
    p = sipcore.parse(data, sites=False)
    assert p.result == "OK"
    got = [(h.name.len, h.compact) for h in p.hdrs[:p.msg.n_hdrs]]
    assert got == [(1, 1), (4, 0), (2, 0), (7, 0), (4, 0), (1, 1), (7, 0), (1, 1), (1, 1),
                   (14, 0)]


@pytest.mark.parametrize("lines,value", [
    ([b"Subject:", b" second"], b"second"),           # empty first line: the value starts
    ([b"Subject: a", b" b"], b"a\r\n b"),             # a one-byte first line
    ([b"Subject: first", b" \t "], b"first"),           # an all-blank continuation
    ([b"Subject: first", b" \t ", b"\tthird"], b"first\r\n \t \r\n\tthird"),
])
def test_continuation_value_span(lines, value):
    """A header value runs from its first non-blank byte to its last, continuation lines
    included (sip_msg.h sip_hdr_t.value; RFC 3261 7.3.1: folding is LWS)."""
    p = sipcore.parse(req(*lines), sites=False)
    assert p.result == "OK"
    assert [h[2] for h in p.headers() if h[1] == "subject"] == [value]


LINE_MAX = 8192  # SIP_MAX_LINE_LEN: bytes of a line before its LF, the CR included


def _long_line(n):
    """A header line of n bytes before its LF (its CR included)."""
    head = b"X-Long: "
    return head + b"a" * (n - len(head) - 1) + b"\r"


@pytest.mark.parametrize("n,expected", [(LINE_MAX, "OK"), (LINE_MAX + 1, "ERR_LINE_TOO_LONG")])
@pytest.mark.parametrize("at_end", [False, True])
def test_line_length_limit(n, expected, at_end):
    """A line of SIP_MAX_LINE_LEN bytes is taken, one byte more refused, in the middle of a
    datagram and as its last line (a datagram may end after a header line: sip_msg.h)."""
    start = b"OPTIONS sip:b@198.51.100.2 SIP/2.0\r\n" + b"\r\n".join(BASE) + b"\r\n"
    if at_end:
        data = start + _long_line(n) + b"\n"
    else:
        data = start + _long_line(n) + b"\nContent-Length: 0\r\n\r\n"
    assert sipcore.parse(data, sites=False).result == expected


def test_stream_line_of_the_limit_still_arriving():
    """On a stream, SIP_MAX_LINE_LEN bytes of a line without its LF yet are an incomplete
    message, not a line too long: the LF may be next."""
    start = b"OPTIONS sip:b@198.51.100.2 SIP/2.0\r\n" + b"\r\n".join(BASE) + b"\r\n"
    part = start + _long_line(LINE_MAX)
    assert sipcore.parse(part, sipcore.STREAM, sites=False).result == "INCOMPLETE"
    assert sipcore.parse(part, sipcore.DATAGRAM, sites=False).result == "ERR_TRUNCATED"
    whole = part + b"\nContent-Length: 0\r\n\r\n"
    assert sipcore.parse(whole, sipcore.STREAM, sites=False).result == "OK"
    assert sipcore.parse(part + b"x", sipcore.STREAM, sites=False).result == "ERR_LINE_TOO_LONG"


MSG_MAX = 65535  # SIP_MAX_MSG_LEN


def _of_length(total):
    """A request of exactly total bytes (its body fills it)."""
    n = total - len(req(body=b""))
    while len(req(body=b"x" * n)) > total:
        n -= 1
    data = req(body=b"x" * n)
    assert len(data) == total
    return data


def test_message_of_the_maximum_length():
    """A message of SIP_MAX_MSG_LEN bytes parses as a datagram and on a stream; on a stream
    its last byte missing is an incomplete message, a Content-Length one byte more a message
    too long (sip_msg.c: the first message must fit in 64 KiB)."""
    data = _of_length(MSG_MAX)
    for mode in (sipcore.DATAGRAM, sipcore.STREAM):
        p = sipcore.parse(data, mode, sites=False)
        assert (p.result, p.msg.msg_len) == ("OK", MSG_MAX), mode
    assert sipcore.parse(data[:-1], sipcore.STREAM, sites=False).result == "INCOMPLETE"
    body = len(data) - data.index(b"\r\n\r\n") - 4
    over = data.replace(b"Content-Length: %d" % body, b"Content-Length: %d" % (body + 1))
    assert sipcore.parse(over[:-1], sipcore.STREAM, sites=False).result == "ERR_TOO_LONG"


TOKEN = sorted(set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"))


@pytest.mark.parametrize("name", sorted(HDR_NAMES))
def test_header_names_in_a_message(name):
    """The parser's header ids (a name with 16 bytes after it is compared as two words,
    sip_msg.c sip_hdr_is16; one at the end of a datagram byte by byte): every long name in
    any case is its header, in the middle of a message and as its last line (a datagram
    may end without the blank line); the name with any one byte replaced by another token
    byte (not the same letter in the other case) is no known header."""
    b = name.encode()
    value = {"cseq": b"1 OPTIONS", "content-length": b"0",
             "date": b"Sat, 13 Nov 2010 23:29:00 GMT"}.get(name, b"1")
    # the message's own header of that name left out (single-valued headers)
    base = [l for l in BASE if not l.lower().startswith(b + b":")]

    def ids(n, base=BASE, clen=True):
        out = []
        line = n + b": " + value
        for data in (req(line, base=base, clen=clen),
                     req(base=base, clen=clen)[:-2] + line + b"\r\n"):
            p = sipcore.parse(data, sites=False)
            assert p.result == "OK", (n, p.result)
            out.append([h[1] for h in p.headers() if h[0].encode() == n])
        return out

    for form in (b, b.upper(), b.title(), b.swapcase()):
        assert ids(form, base, name != "content-length") == [[name], [name]], form
    for i in range(len(b)):
        for c in TOKEN:
            if bytes([c]).lower() == b[i:i + 1]:
                continue
            other = b[:i] + bytes([c]) + b[i + 1:]
            if other.lower() in {n.encode() for n in HDR_NAMES}:
                continue
            got = ids(other)
            assert all(g in ([], ["other"]) for g in got) and got != [[], []], (other, got)
