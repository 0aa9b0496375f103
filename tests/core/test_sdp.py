# SPDX-License-Identifier: Apache-2.0
"""SDP decoding at its edges (RFC 4566 / RFC 8866, RFC 3605 a=rtcp, RFC 5761 a=rtcp-mux):
line types, c= scope, port counts, site capacity and the media limit, table-driven."""

import ctypes as C

import pytest

import sipcore


def invite(body):
    lines = [b"INVITE sip:b@198.51.100.2 SIP/2.0",
             b"Via: SIP/2.0/UDP 192.168.1.1:2000;branch=z9hG4bK1",
             b"From: <sip:a@192.168.1.1:2000>;tag=1", b"To: <sip:b@198.51.100.2>",
             b"Call-ID: x1", b"CSeq: 1 INVITE", b"Content-Type: application/sdp",
             b"Content-Length: %d" % len(body)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def sdp(*lines):
    return b"".join(l + b"\r\n" for l in (b"v=0", b"o=- 1 1 IN IP4 192.168.1.1", b"s=-") + lines)


def analyzed(body):
    p = sipcore.parse(invite(body))
    assert p.result == "OK"
    return p


def media_of(body):
    p = analyzed(body)
    assert p.sites_result == "OK"
    return [(m["type"], m["ip"], m["port"], m["n_ports"], m["rtcp_port"], m["rtcp_ip"])
            for m in p.media()]


A = "192.168.1.1"
OK_CASES = [
    # RFC 3605 section 2.1: port = 1*DIGIT, so a one-digit RTCP port is a port
    ("a=rtcp one-digit port", sdp(b"c=IN IP4 192.168.1.1", b"m=audio 3000 RTP/AVP 0", b"a=rtcp:9"),
     [("audio", A, 3000, 1, 9, A)]),
    # RFC 3605 section 2.1: without an address, RTCP goes to the media's connection address
    ("a=rtcp without address: media address",
     sdp(b"c=IN IP4 192.168.1.1", b"m=audio 3000 RTP/AVP 0", b"c=IN IP4 192.168.1.5",
         b"a=rtcp:4005"),
     [("audio", "192.168.1.5", 3000, 1, 4005, "192.168.1.5")]),
    # RFC 4566 section 5.14: <port>/<number of ports>; /1 is one port
    ("m= port count 1", sdp(b"c=IN IP4 192.168.1.1", b"m=audio 3000/1 RTP/AVP 0"),
     [("audio", A, 3000, 1, 3001, A)]),
    # the highest two RTP/RTCP pairs: 65532/65533 and 65534/65535 all fit in 16 bits
    ("m= port count up to 65535", sdp(b"c=IN IP4 192.168.1.1", b"m=video 65532/2 RTP/AVP 96"),
     [("video", A, 65532, 2, 65533, A)]),
    ("m= one pair at the top", sdp(b"c=IN IP4 192.168.1.1", b"m=audio 65534/1 RTP/AVP 0"),
     [("audio", A, 65534, 1, 65535, A)]),
    # RFC 4566 section 5.7: a media-level c= applies to that media only
    ("media c= does not leak to the next media (no session c=)",
     sdp(b"m=audio 3000 RTP/AVP 0", b"c=IN IP4 192.168.1.5", b"m=video 3002 RTP/AVP 96"),
     [("audio", "192.168.1.5", 3000, 1, 3001, "192.168.1.5"),
      ("video", None, 3002, 1, 3003, None)]),
    ("media c= does not replace the session c=",
     sdp(b"c=IN IP4 192.168.1.1", b"m=audio 3000 RTP/AVP 0", b"c=IN IP4 192.168.1.5",
         b"m=video 3002 RTP/AVP 96"),
     [("audio", "192.168.1.5", 3000, 1, 3001, "192.168.1.5"), ("video", A, 3002, 1, 3003, A)]),
    # RFC 4566 section 5.11: z= (time zones) is a valid line type, the last letter
    ("z= line", sdp(b"c=IN IP4 192.168.1.1", b"t=0 0", b"z=2882844526 -1h 2898848070 0",
                    b"m=audio 3000 RTP/AVP 0"),
     [("audio", A, 3000, 1, 3001, A)]),
]


@pytest.mark.parametrize("name,body,expected", OK_CASES, ids=[c[0] for c in OK_CASES])
def test_sdp_decoded(name, body, expected):
    assert media_of(body) == expected


BAD_CASES = [
    # RFC 4566 section 5.14: a port count is the number of ports, at least one
    ("m= port count 0", sdp(b"m=audio 3000/0 RTP/AVP 0")),
    ("m= port count past 65535", sdp(b"m=audio 65532/3 RTP/AVP 0")),
    ("m= one pair past 65535", sdp(b"m=audio 65535/1 RTP/AVP 0")),
    # the same without a count: its RTCP port would wrap to 0 (and be opened as such)
    ("m= port 65535, RTCP past 65535", sdp(b"m=audio 65535 RTP/AVP 0")),
    # RFC 4566 section 9: every line type is one lower-case letter; '{' follows 'z'
    ("line type after z", sdp(b"{=x")),
    ("line type before a", sdp(b"`=x")),
    # RFC 4566 section 5.7: c=<nettype> <addrtype> <connection-address>, nothing else
    ("c= with a fourth field", sdp(b"c=IN IP4 192.168.1.1 extra")),
    ("c= with an empty address", sdp(b"c=IN IP4 ")),
    # RFC 4566 section 5.2: o= fields are separated by single spaces; none is empty
    ("o= with an empty sess-id", b"v=0\r\no=-  1 IN IP4 192.168.1.1\r\ns=-\r\n"),
]


@pytest.mark.parametrize("name,body", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_sdp_refused(name, body):
    assert analyzed(body).sites_result == "ERR_SDP"


def test_media_site_index_and_port_count():
    """Media-level sites name their media (sip_sites.h: "media index for SDP media sites,
    0xff otherwise"), session-level ones none; every site is one port except an m= with
    /<number of ports> (RFC 4566 section 5.14)."""
    p = analyzed(sdp(b"c=IN IP4 192.168.1.1", b"m=audio 3000 RTP/AVP 0", b"c=IN IP4 192.168.1.5",
                     b"a=rtcp:3001 IN IP4 192.168.1.6", b"m=video 3002/2 RTP/AVP 96",
                     b"c=IN IP4 192.168.1.7"))
    got = [(s["kind"], s["host"] or s["port"], s["media"], s["n_ports"]) for s in p.site_list()
           if s["kind"].startswith("sdp")]
    assert got == [("sdp-o", A, None, 1), ("sdp-c-session", A, None, 1),
                   ("sdp-m", "3000", 0, 1), ("sdp-c-media", "192.168.1.5", 0, 1),
                   ("sdp-rtcp", "3001", 0, 1), ("sdp-rtcp-addr", "192.168.1.6", 0, 1),
                   ("sdp-m", "3002", 1, 2), ("sdp-c-media", "192.168.1.7", 1, 1)]
    hdr = [s["n_ports"] for s in p.site_list() if not s["kind"].startswith("sdp")]
    assert hdr and set(hdr) == {1}


FILL = 0xA5


def find_guarded(data, max_sites, guard=4):
    """sip_sites_find with max_sites sites handed over and `guard` more behind them, and the
    sip_info_t followed by 64 guard bytes; all prefilled with FILL. Returns (result, info,
    sites, guards intact)."""
    p = sipcore.parse(data, sites=False)
    assert p.result == "OK"
    sites = (sipcore.Site * (max_sites + guard))()
    C.memset(sites, FILL, C.sizeof(sites))
    raw = C.create_string_buffer(C.sizeof(sipcore.Info) + 64)
    C.memset(raw, FILL, C.sizeof(raw))
    info = sipcore.Info.from_buffer(raw)
    r = sipcore.lib.sip_sites_find(p.buf, C.byref(p.msg), C.byref(info), sites, max_sites)
    sz = C.sizeof(sipcore.Site)
    past = bytes(sites)[max_sites * sz:]
    intact = past == bytes([FILL]) * len(past) and \
        raw.raw[C.sizeof(sipcore.Info):] == bytes([FILL]) * 64
    return sipcore.result_name(r), info, sites, intact


# the last site of each body: a media c=, an m= port, an a=rtcp port, an a=rtcp address
LAST_SITE = [
    ("c= last", sdp(b"m=audio 3000 RTP/AVP 0", b"c=IN IP4 192.168.1.5")),
    ("m= last", sdp(b"c=IN IP4 192.168.1.1", b"m=audio 3000 RTP/AVP 0")),
    ("a=rtcp last", sdp(b"c=IN IP4 192.168.1.1", b"m=audio 3000 RTP/AVP 0", b"a=rtcp:3001")),
    ("a=rtcp address last",
     sdp(b"c=IN IP4 192.168.1.1", b"m=audio 3000 RTP/AVP 0", b"a=rtcp:3001 IN IP4 192.168.1.6")),
]


@pytest.mark.parametrize("name,body", LAST_SITE, ids=[c[0] for c in LAST_SITE])
def test_site_capacity_exact(name, body):
    """sip_sites.h: sites go into the caller's array of max_sites; one site too many is
    ERR_TOO_MANY_SITES with nothing written past the array, exactly enough is OK."""
    data = invite(body)
    n = sipcore.parse(data).info.n_sites
    r, info, _, intact = find_guarded(data, n)
    assert (r, info.n_sites, intact) == ("OK", n, True)
    for cap in range(n):
        r, info, _, intact = find_guarded(data, cap)
        assert (r, intact) == ("ERR_TOO_MANY_SITES", True), cap
        assert info.n_sites <= cap


def test_eight_media_decoded_nine_refused():
    """sip_types.h: SIP_SDP_MAX_MEDIA (8) media descriptions are tracked: eight decode, each
    with its own port and address, and nothing is written past the sip_info_t; a ninth is
    ERR_SDP_TOO_MANY_MEDIA."""
    lines = [b"c=IN IP4 192.168.1.1"]
    for i in range(8):
        lines += [b"m=audio %d RTP/AVP 0" % (3000 + 2 * i), b"c=IN IP4 192.168.2.%d" % (i + 1)]
    r, info, _, intact = find_guarded(invite(sdp(*lines)), 64)
    assert (r, info.sdp.n_media, intact) == ("OK", 8, True)
    got = [(m.port, m.rtcp_port, sipcore.int2ip(m.ip4), sipcore.int2ip(m.rtcp_ip4))
           for m in info.sdp.media]
    assert got == [(3000 + 2 * i, 3001 + 2 * i, "192.168.2.%d" % (i + 1),
                    "192.168.2.%d" % (i + 1)) for i in range(8)]
    r, info, _, intact = find_guarded(invite(sdp(*lines, b"m=audio 4000 RTP/AVP 0")), 64)
    assert (r, intact) == ("ERR_SDP_TOO_MANY_MEDIA", True)


sipcore.lib.sip_sdp_parse.restype = C.c_int
sipcore.lib.sip_sdp_parse.argtypes = [C.c_char_p, C.c_char_p, C.c_uint32, C.POINTER(sipcore.Info)]


@pytest.mark.parametrize("before", [b"\r", b"\n", b"x"])
def test_sdp_parse_reads_only_its_body(before):
    """sip_sdp_parse decodes [body, body + len) (sip_sites.h); the byte before the body is
    not part of it, so a body starting with a blank line (tolerated, sip_sdp.c) decodes the
    same whatever precedes it."""
    body = b"\nv=0\r\nm=audio 3000 RTP/AVP 0\r\nc=IN IP4 192.168.1.5\r\n"
    buf = C.create_string_buffer(before + body, len(before + body))
    sites = (sipcore.Site * 8)()
    info = sipcore.Info(sites=sites, max_sites=8)
    r = sipcore.lib.sip_sdp_parse(buf, C.cast(C.addressof(buf) + 1, C.c_char_p), len(body),
                                  C.byref(info))
    m = info.sdp.media[0]
    assert (sipcore.result_name(r), info.sdp.n_media, m.port, sipcore.int2ip(m.ip4)) == \
        ("OK", 1, 3000, "192.168.1.5")


@pytest.mark.parametrize("lines,first", [
    ([b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0"], None),
    ([b"a=candidate:1 1 UDP 1 192.168.1.1 3000 typ host", b"t=0 0",
      b"m=audio 3000 RTP/AVP 0", b"a=candidate:2 1 UDP 1 203.0.113.9 4000 typ srflx"], 0),
    ([b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0", b"a=candidatex",
      b"a=candidate:", b"a=candidate:3 1 UDP 1 203.0.113.9 4000 typ srflx"], 4),
    ([b"c=IN IP4 192.168.1.1", b"t=0 0", b"m=audio 3000 RTP/AVP 0", b"a=candidat"], None),
])
def test_candidate_offset(lines, first):
    """sdp.candidate_off is the offset of the first line that starts with "a=candidate:"
    (session or media level, even one with nothing after the colon), 0 without one: the
    plugin reads ICE candidates from there (sip_alg_ice_srflx)."""
    body = sdp(*lines)
    p = analyzed(body)
    assert p.sites_result == "OK"
    base = p.msg.body_off + len(sdp())
    want = 0 if first is None else base + sum(len(l) + 2 for l in lines[:first])
    assert p.info.sdp.candidate_off == want
    if first is not None:
        assert p.data[want:want + 12] == b"a=candidate:"


def test_summary_without_connection_or_origin_is_zero():
    """Without a session c= the session address is 0 (and so is a media's address without
    its own c=), without an o= line the origin address is 0; every message starts from that
    (sip_sdp_clear), not from the last one's figures."""
    for body in (sdp(b"c=IN IP4 192.168.1.9", b"t=0 0", b"m=audio 3000 RTP/AVP 0"),
                 b"v=0\r\ns=-\r\nt=0 0\r\nm=audio 3000 RTP/AVP 0\r\n"):
        p = analyzed(body)
        assert p.sites_result == "OK"
    sdp_ = p.info.sdp
    assert (sdp_.session_addr_type, sdp_.session_ip4, sdp_.origin_ip4) == (0, 0, 0)
    assert (sdp_.media[0].addr_type, sdp_.media[0].ip4, sdp_.media[0].rtcp_ip4) == (0, 0, 0)
    # the same Info decoding again after a body with both: cleared, not kept
    info = p.info

    def decode(body):
        data = invite(body)
        buf = C.create_string_buffer(data, len(data))
        r = sipcore.lib.sip_sdp_parse(buf, C.cast(C.addressof(buf) + len(data) - len(body),
                                                  C.c_char_p), len(body), C.byref(info))
        assert r == 0
        return info.sdp

    full = decode(sdp(b"c=IN IP4 192.168.1.9", b"t=0 0", b"m=audio 3000 RTP/AVP 0",
                      b"a=candidate:1 1 UDP 1 192.168.1.9 3000 typ host"))
    assert full.session_ip4 and full.origin_ip4 and full.candidate_off
    bare = decode(b"v=0\r\ns=-\r\nt=0 0\r\nm=audio 3000 RTP/AVP 0\r\n")
    assert (bare.session_addr_type, bare.session_ip4, bare.origin_ip4, bare.candidate_off,
            bare.n_media) == (0, 0, 0, 0, 1)
