# SPDX-License-Identifier: Apache-2.0
"""Tier 1: deployments (issue 14), 0 and 2 workers.

- A SIP server inside (a PBX) published by the operator's NAT44-ED static mapping of 5060:
  with `set sip-alg servers` an INVITE from outside starts a call, the PBX's answer gets
  media pinholes and outside-first media reaches it; without it the INVITE passes without
  a record (inbound_refused), as before. The PBX's own calls out make no signaling pinhole
  of their own (the operator's mapping is one), so nothing is refused.
- NAT44-ED output-feature interfaces: the ALG refuses them with a clear error, and warns
  when NAT's output feature comes to an interface it is already on.
"""

import re

import pytest

import sipmsgs as S
from scapy.all import IP, UDP, Raw
from test_pg import media_port, wait_for

PBX, PBX_RTP = "192.168.1.5", 6000


def inbound_invite(cseq=1):
    """B calls the PBX's public address straight (no proxy)."""
    return S.message(f"INVITE sip:pbx@{S.PUB}:5060 SIP/2.0", [
        f"Via: SIP/2.0/UDP {S.B}:{S.B_SIP};branch=z9hG4bK-in{cseq};rport",
        "Max-Forwards: 70",
        f"From: <sip:bob@{S.B}>;tag=b1",
        f"To: <sip:pbx@{S.PUB}>",
        "Call-ID: in-1@b",
        f"CSeq: {cseq} INVITE",
        f"Contact: <sip:bob@{S.B}:{S.B_SIP}>",
    ], S.sdp(S.B, S.B_RTP))


def pbx_answer(invite_seen):
    """The PBX's 200 OK to the INVITE it received (its Via and Call-ID copied back)."""
    via = re.search(rb"Via: [^\r]+", invite_seen).group(0).decode()
    return S.message("SIP/2.0 200 OK", [
        via, f"From: <sip:bob@{S.B}>;tag=b1", f"To: <sip:pbx@{S.PUB}>;tag=p1",
        "Call-ID: in-1@b", "CSeq: 1 INVITE", f"Contact: <sip:pbx@{PBX}:5060>",
    ], S.sdp(PBX, PBX_RTP))


def publish(t, servers=True):
    v = t.vpp
    v.cli_ok(f"ip neighbor pg0 {PBX} {t.A_MAC}")
    v.cli_ok(f"nat44 add static mapping udp local {PBX} 5060 external {S.PUB} 5060")
    if servers:
        v.cli_ok(f"set sip-alg servers {PBX}:5060")


def test_servers_config_shown_and_checked(pgnat02):
    v = pgnat02.vpp
    assert "servers none" in v.cli("show sip-alg config")
    v.cli_ok(f"set sip-alg servers {PBX}:5060 192.168.1.6:5070")
    assert f"servers {PBX}:5060 192.168.1.6:5070" in v.cli("show sip-alg config")
    for bad in ("192.168.1.5", "192.168.1.5:0", "192.168.1.5:70000", "pbx:5060"):
        out = v.cli(f"set sip-alg servers {bad}")
        assert "expected <inside-address>:<port>" in out, (bad, out)
    many = " ".join(f"192.168.1.{10 + i}:5060" for i in range(17))
    assert "at most 16" in v.cli(f"set sip-alg servers {many}")
    # nothing lost on bad input
    assert f"servers {PBX}:5060 192.168.1.6:5070" in v.cli("show sip-alg config")
    v.cli_ok("set sip-alg servers none")
    assert "servers none" in v.cli("show sip-alg config")


# (a setting at its bound: taken; one past it: refused; what `show sip-alg config` shows)
BOUNDS = [
    ("media-ports 40000-40003", "media-ports 40000-40002", "media-ports 40000-40003 (2 pairs"),
    ("media-ports 1024-1027", "media-ports 1022-1027", "media-ports 1024-1027 (2 pairs"),
    ("tcp reassembly 1024", "tcp reassembly 1023", "(reassembly 1024 bytes"),
    ("tcp reassembly 65535", "tcp reassembly 65536", "(reassembly 65535 bytes"),
    ("security max-entries-per-call 4", "security max-entries-per-call 3",
     "max-entries-per-call 4 "),
    ("max-calls 16777216", "max-calls 16777217", "max-calls 16777216 per worker"),
    ("max-calls 1", "max-calls 0", "max-calls 1 per worker"),
    ("timeouts signaling 1 media 1 call 1", "timeouts media 0",
     "timeouts signaling 1 media 1 call 1 "),
]


@pytest.mark.parametrize("ok, bad, shown", BOUNDS, ids=[b[1] for b in BOUNDS])
def test_setters_refuse_values_out_of_bounds(pgnat02, ok, bad, shown):
    """Each setter at its bound: the last value it takes is taken, one past it is refused
    with an error naming the setting, and the setting keeps the value it had."""
    v = pgnat02.vpp
    v.cli_ok(f"set sip-alg {ok}")
    assert shown in v.cli("show sip-alg config")
    out = v.cli(f"set sip-alg {bad}")
    name = re.match(r"[a-z-]+(?: reassembly)?", bad).group(0)
    assert f"{name}: invalid value" in out, (bad, out)
    assert shown in v.cli("show sip-alg config")


def test_inbound_call_to_published_pbx(pgnat02):
    t = pgnat02
    publish(t)
    [p] = t.send("pg1", [t.udp("pg1", S.B, S.B_SIP, S.PUB, 5060, inbound_invite())], "pg0", 1)
    assert (p[IP].dst, p[UDP].dport) == (PBX, 5060)
    c = t.counters()
    assert c["calls_created"] == 1 and c["inbound_refused"] == 0
    # the PBX answers: its media gets a public pair, its address never leaves
    [a] = t.send("pg0", [t.udp("pg0", PBX, 5060, S.B, S.B_SIP, pbx_answer(bytes(p[Raw])))],
                 "pg1", 1)
    body = bytes(a[Raw])
    assert (a[IP].src, a[UDP].sport) == (S.PUB, 5060)
    assert PBX.encode() not in body
    rtp = media_port(body)
    assert rtp != PBX_RTP and 40000 <= rtp <= 59999
    assert b"Contact: <sip:pbx@%s:5060>" % S.PUB.encode() in body
    # outside-first media reaches the PBX, then the PBX's leaves by its pinhole
    got = t.send("pg1", [t.udp("pg1", S.B, S.B_RTP, S.PUB, rtp, b"\x80\x00" + bytes(170))],
                 "pg0", 1)
    assert [(g[IP].dst, g[UDP].dport) for g in got] == [(PBX, PBX_RTP)]
    [o] = t.send("pg0", [t.udp("pg0", PBX, PBX_RTP, S.B, S.B_RTP, bytes(172))], "pg1", 1)
    assert (o[IP].src, o[UDP].sport) == (S.PUB, rtp)
    c = t.counters()
    assert c["pinhole_failed"] == 0
    # no signaling pinhole of the ALG's own: the operator's mapping is the one
    assert not [e for e in t.server_map() if f"{PBX}:5060" in e]
    assert t.static_mappings().count(f"UDP local {PBX}:5060 external {S.PUB}:5060 vrf 0") == 1


def test_pbx_calls_out_without_refusal(pgnat02):
    t = pgnat02
    publish(t)
    inv = S.invite(a=PBX, a_port=5060, rtp=PBX_RTP)
    [p] = t.send("pg0", [t.udp("pg0", PBX, 5060, S.PROXY, S.PROXY_PORT, inv)], "pg1", 1)
    assert (p[IP].src, p[UDP].sport) == (S.PUB, 5060)
    assert wait_for(lambda: len(t.server_map()) == 2)  # RTP and RTCP, no signaling entry
    c = t.counters()
    assert c["pinhole_failed"] == 0 and c["calls_created"] == 1


def test_unpublished_inside_server_refused(pgnat02):
    """Without `servers` the operator's mapping still carries the INVITE in, but the ALG
    keeps no state for it (inbound_refused): no media pinholes from attacker bytes."""
    t = pgnat02
    publish(t, servers=False)
    [p] = t.send("pg1", [t.udp("pg1", S.B, S.B_SIP, S.PUB, 5060, inbound_invite())], "pg0", 1)
    assert (p[IP].dst, p[UDP].dport) == (PBX, 5060)
    c = t.counters()
    assert c["calls_created"] == 0 and c["inbound_refused"] == 1
    assert t.server_map() == []


@pytest.fixture
def pg_output_feature(vpp_prefix):
    """pg0 inside, pg1 NAT44-ED's output-feature interface (a single-arm style NAT)."""
    from pgnat import PgNat
    with PgNat(vpp_prefix, alg=False) as t:
        t.vpp.cli_ok("set interface nat44 in pg0 out pg1 del")
        t.vpp.cli_ok("set interface nat44 out pg1 output-feature")
        yield t


def test_output_feature_interface_refused(pg_output_feature):
    v = pg_output_feature.vpp
    out = v.cli("set sip-alg interface pg1")
    assert "NAT44-ED output feature on it" in out and "output-feature NAT" in out, out
    assert "sip-alg-pre" not in v.cli("show interface features pg1")
    # the reverse: NAT's output feature comes to an interface the ALG is on
    v.cli_ok("set interface nat44 out pg1 output-feature del")
    v.cli_ok("set sip-alg interface pg1")
    assert "sip-alg-pre" in v.cli("show interface features pg1")
    v.cli_ok("set interface nat44 out pg1 output-feature")
    assert wait_for(lambda: "the ALG does not work with output-feature NAT" in
                    v.cli("show logging"))
