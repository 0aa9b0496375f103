# SPDX-License-Identifier: Apache-2.0
"""RFC 4475 torture messages: every valid one parses, every invalid one gets its own error.

Expected results follow the RFC's classification (section 3.1.1 valid, 3.1.2 invalid,
3.3 semantics, 3.4 backward compatibility). Messages that are syntactically valid but
semantically odd (unknown schemes, Require: unknown extension, broadcast Via) must parse:
an ALG forwards them.
"""

import hashlib

import pytest

import rfc4475
import sipcore

MSGS = rfc4475.load()

EXPECTED = {
    # 3.1.1 valid messages
    "wsinv.dat": "OK",
    "intmeth.dat": "OK",
    "esc01.dat": "OK",
    "escnull.dat": "OK",
    "esc02.dat": "OK",
    "lwsdisp.dat": "OK",
    "longreq.dat": "OK",
    "dblreq.dat": "OK",
    "semiuri.dat": "OK",
    "transports.dat": "OK",
    "mpart01.dat": "OK",
    "unreason.dat": "OK",
    "noreason.dat": "OK",
    # 3.1.2 invalid messages
    "badinv01.dat": "ERR_VIA",  # extraneous header field separators
    "clerr.dat": "ERR_BODY_TRUNCATED",  # Content-Length larger than the message
    "ncl.dat": "ERR_CONTENT_LENGTH",  # negative Content-Length
    "scalar02.dat": "ERR_CSEQ",  # request scalar fields with overlarge values
    "scalarlg.dat": "ERR_CSEQ",  # response scalar fields with overlarge values
    "quotbal.dat": "ERR_NAME_ADDR",  # unterminated quoted string in display name
    "ltgtruri.dat": "ERR_REQUEST_URI",  # <> enclosing the Request-URI
    "lwsruri.dat": "ERR_START_LINE",  # embedded LWS in the Request-URI
    "lwsstart.dat": "ERR_START_LINE",  # multiple SP separating Request-Line elements
    "trws.dat": "ERR_START_LINE",  # SP at the end of the Request-Line
    "escruri.dat": "ERR_REQUEST_URI",  # escaped headers in a SIP Request-URI
    "baddate.dat": "ERR_DATE",  # invalid time zone in Date
    "regbadct.dat": "ERR_CONTACT",  # name-addr URI with '?' not enclosed in <>
    "badaspec.dat": "ERR_NAME_ADDR",  # spaces within addr-spec
    "baddn.dat": "ERR_NAME_ADDR",  # non-token characters in display name
    "badvers.dat": "ERR_VERSION",  # unknown protocol version
    "mismatch01.dat": "ERR_CSEQ_METHOD",  # start line and CSeq method mismatch
    "mismatch02.dat": "ERR_CSEQ_METHOD",  # unknown method with CSeq method mismatch
    "bigcode.dat": "ERR_STATUS",  # overlarge response code
    # 3.2 transaction layer semantics
    "badbranch.dat": "OK",
    # 3.3 application layer semantics
    "insuf.dat": "ERR_MISSING_HEADER",
    "unkscm.dat": "OK",
    "novelsc.dat": "OK",
    "unksm2.dat": "OK",
    "bext01.dat": "OK",
    "invut.dat": "OK",
    "regaut01.dat": "OK",
    "multi01.dat": "ERR_DUP_HEADER",
    "mcl01.dat": "ERR_DUP_HEADER",
    "bcast.dat": "OK",
    "zeromf.dat": "OK",
    "cparam01.dat": "OK",
    "cparam02.dat": "OK",
    "regescrt.dat": "OK",
    "sdp01.dat": "OK",
    # 3.4 backward compatibility
    "inv2543.dat": "OK",
}

# SHA-256 of each file of the RFC 4475 Appendix B tarball.
SHA256 = {
    "badaspec.dat": "f8f6e2f4247287b0be6adb5ac222a6db4759395e44d27d2ddb9b39393e94867e",
    "badbranch.dat": "cb049c727f16b5ec49e822f9e8b7d0ee20ca2d20ffb50baecd0b411a5e64fa7d",
    "baddate.dat": "1208a6e3e0c8a8c33a06a1f3733d158413cb72e58c379d094c4ecea11e9d4c28",
    "baddn.dat": "9d9428e8017092f194ec11077ba6865c251308cdfd7fd9db6a993b28e5748951",
    "badinv01.dat": "9ee2b88f2e0b5a9eeb9bf729b6177f0a0c7d0b5e6c84be593e0480d7962f3ab8",
    "badvers.dat": "037d702d19e934bfeebbd2609050d7d54928d590cf90c78f3914522771dd8e03",
    "bcast.dat": "073637c63597199179cf5fc91b980b2d530c066a0048ea3b908772def57b4c36",
    "bext01.dat": "57181987c02c4f5752b7aa8c2847311f6184216ce7621e40303015949e70761c",
    "bigcode.dat": "f79450070975da54c3525c9a5cbe75bae3c9d8cb92eba609772c26f66f225c2e",
    "clerr.dat": "d9da629086a38df433438fb0fb19a8730f34516f049a5520dd0cac3285485290",
    "cparam01.dat": "dfa6b5cdb289adc694b9b7e103ebfa7a2167335c46e5dc9de67055021910ae1c",
    "cparam02.dat": "e93574215bd1d804bb46cc15ca6176b567def7ea1b15f72ab2c2dcf598af465a",
    "dblreq.dat": "a6be48426565c2a705389c4ce2ea17e57b891cb13f80490a2cb9392c797b46ef",
    "esc01.dat": "be3a316d4ce5f69cad474646191e390dd4b50fc8371e44b5197fe1237781973e",
    "esc02.dat": "9a9c59449f00327b02071feafc8e5c2a261c98c818044167894cc17809a12199",
    "escnull.dat": "263fe2ecd12a5ccbb6c67b3174e9211d11da9b600e7d69666a86d2ee42873e90",
    "escruri.dat": "c3cf30af13a9d107829cc105effd79355f1139c6ecc683a048b4c27951f8f416",
    "insuf.dat": "1e3efd9f3b238c6351ba12bc7eb46d843f2761b5d4a6b82b63bffdf07f2c5aee",
    "intmeth.dat": "b957a8292c1c0a9851fe94705b90f94320738f43aacde64998e401f742ef688d",
    "inv2543.dat": "76fac8afe22dee49ea696b511621946694897ac7030fc5d07f57c8b487ce0521",
    "invut.dat": "9b39e824947df46f90f824cd308fb3c118f548d94637f581101e355b381a0d92",
    "longreq.dat": "185739292bc676760e5b1cca77c87705aa570240171c506ad76f8c35af0ecdaa",
    "ltgtruri.dat": "bcacb2dc17610e8cc8f9b8b0e3d6ee65ab473f93787a03bbd33579e1cea473df",
    "lwsdisp.dat": "d1b36b6316c12824f6f04bf6b1fd1f021cade9b74871693b9c3474cd9fa7f4e6",
    "lwsruri.dat": "3e22ceeca585ad23cc180208e2dad94e0a5aa4bb877a61cac443aa927f758b9e",
    "lwsstart.dat": "f884e5626c6c5b1210cfc4a3540b8a28bd52939cff092f3f0c5c971e032adb0e",
    "mcl01.dat": "887191619bf003b7e87399200b5cf4c3b5397344dbf70288ad5e23bd157b7fe4",
    "mismatch01.dat": "a2c285636e451e75420da0cc62ee55ca3e398827008418befbfb078726bf0793",
    "mismatch02.dat": "01b287f9a9c492f7f57405c36c8a2af0e2393896ed2d25fb92b502f2a6722bc4",
    "mpart01.dat": "92147c8e24997bac59629e1b163767697d0d6d499af87f89e325d69968bec3ba",
    "multi01.dat": "d156ab12105b4bfd8a6498de6f7195087058162b8cda1606169855b722411791",
    "ncl.dat": "7ea6538edc1f054fdb6cd1c821040460cffca3cb682fa2e8e2a502d92170b4c2",
    "noreason.dat": "07e11e470a69fffa3674de805e5165d1351a9439a91045ee70c9570ea24ab4fe",
    "novelsc.dat": "9a50a7343fcf685e77c4d0f477138a28f32a41c75aa566d200f3df210b01e648",
    "quotbal.dat": "e61978a2ea359fc666f0336fe4dbc623447532280e3273ea98119b3d3f788c84",
    "regaut01.dat": "885ba0488872cfc04a3c7622854b8381955a5ee890745d6010834e3731a73faa",
    "regbadct.dat": "575d27530275814c1c98be164808fac89a0e2b4fc899dadcd97e6ba499437bda",
    "regescrt.dat": "dab4087c133348b06fd7b3c4c7ef15094f8754e265e4e8c2137bb3ecda2ef477",
    "scalar02.dat": "53158177326568e9964bce5dcfac27a2bf8a90953bbc03f6c5e2775864a97e4b",
    "scalarlg.dat": "0957eca31737e3592eb1418bb41e9f5219278a78ff420111620d7fb60175b551",
    "sdp01.dat": "497c5f1ced6c7b579b48075e2dca919ce9b819a735964128a6e744a3a0b9e57f",
    "semiuri.dat": "87bbaed6b4b354dbd3c5c7a20e66686303c63e43a0aa19b89de1ac75231611a2",
    "transports.dat": "33b4553a3b9418121b099ff07882535151edd6a1e81898c63a916aad2cbf90bc",
    "trws.dat": "64ae20694026e28c10746b57386b7fd1276de02b6f8d42d418070e87d6f4499f",
    "unkscm.dat": "81be1a6a566c7ab52fe1c58c4a75440dfd697ad04c5e09fa71340de7da7b8bbb",
    "unksm2.dat": "f6914409ced613ef5eb56e264d2f096dac26ab9e397d6a638934d2027f1f6acb",
    "unreason.dat": "4f939d6ebf4817eea70f011d3209e83732872ffc20ffd304b244084dc392f4d7",
    "wsinv.dat": "d6f6cdee99cd0a1f8e3d9a0fdd67c877700e19ab86d8186dada06f61260e3e61",
    "zeromf.dat": "50954ef47acca4f9f5263ded06246d06dee4e2ee508a8d284191795d7fddf365",
}


def test_all_49_messages_present():
    assert sorted(MSGS) == sorted(EXPECTED) == sorted(SHA256)
    assert len(MSGS) == 49


@pytest.mark.parametrize("name", sorted(MSGS))
def test_byte_exact(name):
    assert hashlib.sha256(MSGS[name]).hexdigest() == SHA256[name]


@pytest.mark.parametrize("name", sorted(MSGS))
def test_result(name):
    result, _ = sipcore.analyze(MSGS[name])
    assert result == EXPECTED[name]


# Where each invalid message's error is reported: right after the first occurrence of the
# given bytes (b"": the start line). The core points at the start line for start-line errors
# and a missing header, at the start of the header line for a duplicate, at the header value
# for a bad value, at the method of a CSeq that does not match.
ERR_AFTER = {
    "badinv01.dat": b"\r\nVia: ",
    "clerr.dat": b"\r\nContent-Length: ",
    "ncl.dat": b"\r\nContent-Length: ",
    "scalar02.dat": b"\r\nCSeq: ",
    "scalarlg.dat": b"\r\nCSeq: ",
    "quotbal.dat": b"\r\nTo: ",
    "ltgtruri.dat": b"",
    "lwsruri.dat": b"",
    "lwsstart.dat": b"",
    "trws.dat": b"",
    "escruri.dat": b"",
    "baddate.dat": b"\r\nDate: ",
    "regbadct.dat": b"\r\nContact: ",
    "badaspec.dat": b"\r\nTo: ",
    "baddn.dat": b"\r\nFrom:    ",
    "badvers.dat": b"",
    "mismatch01.dat": b"\r\nCSeq: 8 ",
    "mismatch02.dat": b"\r\nCSeq: 8 ",
    "bigcode.dat": b"",
    "insuf.dat": b"",
    "multi01.dat": b"\r\nCall-ID: multi01.98asdh@192.0.2.1\r\n",  # the second CSeq
    "mcl01.dat": b"\r\nMax-Forwards: 60\r\n",  # the second Content-Length
}


def expected_err_off(data, name):
    after = ERR_AFTER[name]
    return data.index(after) + len(after) if after else 0


def err_off(p):
    """The error offset of whichever stage failed (parser, else site finder)."""
    if p.result != "OK":
        return p.msg.err_off
    assert p.sites_result != "OK"
    return p.info.err_off


def test_error_offsets_cover_every_invalid_message():
    assert sorted(ERR_AFTER) == sorted(n for n, r in EXPECTED.items() if r != "OK")


@pytest.mark.parametrize("shift", [0, 2, 6], ids=["as-is", "crlf", "3crlf"])
@pytest.mark.parametrize("name", sorted(ERR_AFTER))
def test_error_offset_exact(name, shift):
    # Leading CRLFs (RFC 3261 7.5, accepted) move every offset: an offset the core left unset
    # (0) then differs from every expected one, the start line's included.
    data = b"\r\n" * (shift // 2) + MSGS[name]
    result, p = sipcore.analyze(data)
    assert result == EXPECTED[name]
    assert p.msg.start_off == shift
    assert err_off(p) == expected_err_off(MSGS[name], name) + shift


def test_wsinv_details():
    p = sipcore.parse(MSGS["wsinv.dat"])
    hdrs = p.headers()
    ids = [h[1] for h in hdrs]
    # "Via" and compact "v" are both indexed as via; the "v" line holds two comma values
    assert ids.count("via") == 2
    assert "subject" in ids and "contact" in ids  # compact "s" and "m"
    assert p.msg.cseq == 9 and p.msg.method == sipcore.METHODS["INVITE"]
    # folded CSeq value keeps its continuation inside the span
    cseq = [h for h in hdrs if h[1] == "cseq"][0][2]
    assert cseq == b"0009\r\n  INVITE"
    # the first Via is folded across three lines; its sent-by is still found
    vias = [s for s in p.site_list() if s["kind"] == "via"]
    assert [v["host"] for v in vias] == ["192.0.2.2", "spindle.example.com", "192.168.255.111"]
    assert [v["host_type"] for v in vias] == ["ip4", "name", "ip4"]
    # no port written: the port flag is clear and the value is the default, not a 0 span
    assert vias[0]["port"] == "" and not vias[0]["has_port"] and vias[0]["value"] == 5060
    assert p.media()[0]["port"] == 49217


def test_intmeth_unknown_method():
    p = sipcore.parse(MSGS["intmeth.dat"])
    assert p.result == "OK" and p.sites_result == "OK"
    assert p.msg.method == sipcore.METHODS["OTHER"]
    assert p.text(p.msg.method_tok) == b"!interesting-Method0123456789_*+`.%indeed'~"


_CL0 = b"\r\nContent-Length: 0\r\n\r\n"
DBLREQ_END = MSGS["dblreq.dat"].index(_CL0) + len(_CL0)  # end of the first request


def test_dblreq_second_request_ignored():
    data = MSGS["dblreq.dat"]
    p = sipcore.parse(data)
    assert p.result == "OK"
    # the REGISTER ends at its blank line (Content-Length: 0); the INVITE is ignored
    assert data[DBLREQ_END:].startswith(b"\r\nINVITE ")
    assert (p.msg.body_off, p.msg.body_len, p.msg.msg_len) == (DBLREQ_END, 0, DBLREQ_END)
    assert p.msg.lenient & 8  # SIP_LENIENT_TRAILING
    assert p.text(p.msg.method_tok) == b"REGISTER"


def test_mpart01_multipart_not_rewritten():
    p = sipcore.parse(MSGS["mpart01.dat"])
    assert sipcore.BODY_KINDS[p.info.body_kind] == "multipart"
    assert p.info.sdp.n_media == 0


def test_noreason_empty_reason_phrase():
    p = sipcore.parse(MSGS["noreason.dat"])
    assert MSGS["noreason.dat"].startswith(b"SIP/2.0 100 \r\n")
    assert p.msg.status == 100
    assert (p.msg.reason.off, p.msg.reason.len) == (len(b"SIP/2.0 100 "), 0)


def test_baddn_lenient_missing_blank_line_is_counted():
    # the RFC's file ends after "l: 0" with no empty line; accepted, flagged, then
    # rejected for its display name
    p = sipcore.parse(MSGS["baddn.dat"])
    assert p.result == "OK" and p.msg.lenient & 16
    assert p.sites_result == "ERR_NAME_ADDR"


@pytest.mark.parametrize("name", sorted(n for n, r in EXPECTED.items() if r == "OK"))
def test_valid_messages_in_stream_mode(name):
    data = MSGS[name]
    p = sipcore.parse(data, sipcore.DATAGRAM, sites=False)
    assert p.result == "OK"
    # every valid message but dblreq is the whole file
    assert p.msg.msg_len == (DBLREQ_END if name == "dblreq.dat" else len(data))
    if p.msg.content_length < 0:
        # no Content-Length: a stream cannot frame it
        assert sipcore.parse(data, sipcore.STREAM).result == "ERR_CONTENT_LENGTH"
        return
    s = sipcore.parse(data, sipcore.STREAM)
    assert s.result == "OK"
    assert s.msg.msg_len == p.msg.msg_len
    for k in range(0, p.msg.msg_len, 13):
        assert sipcore.parse(data[:k], sipcore.STREAM, sites=False).result == "INCOMPLETE"
