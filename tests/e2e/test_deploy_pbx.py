# SPDX-License-Identifier: Apache-2.0
"""Tier 2, deployment (issue 14, item 1): a SIP server inside behind a NAT44-ED static
mapping. The PBX, a sipp user agent at 192.168.1.5:5060, is published as 203.0.113.10:5060
over UDP and TCP (`nat44 add static mapping udp|tcp local 192.168.1.5 5060 external
203.0.113.10 5060`; the ALG on UDP and TCP 5060) and is the ALG's published SIP server
(`set sip-alg servers 192.168.1.5:5060`), with 0 and 2 VPP workers. In one VPP:

- the PBX calls B outside (198.51.100.2:5060), as any inside phone does, but without a
  signaling pinhole of its own (the operator's static mapping is one: none refused);
- B calls the PBX's public address. The INVITE reaches the PBX through the static mapping
  and starts a call record (a published server admits an outside INVITE as a REGISTER
  binding does), the PBX's answer leaves without its inside address, with a public media
  port of the ALG's, and B's media comes first: the PBX starts its own 1 s after the ACK,
  so B's RTP can reach it only through the pinhole of the PBX's media (NAT44-ED has no
  session of the PBX's media port before the PBX sends).

Each call's media both ways is counted on the side that receives it."""

import time

import pytest

from capture import assert_flow, call_bye, floor, rtp_seqs
from deploy import (PBX, PBX_WAIT, TALK, Captures, Ua, add_inside_host, call, entry, find,
                    rtp, sdp, server_map_emptied, sip_messages, tail)
from test_call import B_SIP
from topo import Topo, topo_fixture

PBX_SIP = 5060
OUT_PBX_RTP, OUT_B_RTP = 6000, 7000  # the call from the PBX out
IN_PBX_RTP, IN_B_RTP = 6100, 7100  # the call from B to the PBX
SIP_PORTS = (PBX_SIP, B_SIP)

class PbxTopo(Topo):
    """topo.py's topology and VPP, plus the PBX inside, its static mappings and the ALG's
    published server."""

    def _setup(self):
        super()._setup()
        add_inside_host(self, PBX)
        for proto in ("udp", "tcp"):
            self.vpp.cli_ok(f"nat44 add static mapping {proto} local {PBX} {PBX_SIP} "
                            f"external {self.PUB} {PBX_SIP}")
        self.vpp.cli_ok(f"set sip-alg servers {PBX}:{PBX_SIP}")


@pytest.fixture(params=(0, 2), ids=("0w", "2w"))
def pbx(e2e_prefix, request):
    yield from topo_fixture(e2e_prefix, request, cls=PbxTopo, workers=request.param)


def published(t):
    """The operator's two static mappings, as `show nat44 static mappings` prints them."""
    return [f"{p} local {PBX}:{PBX_SIP} external {t.PUB}:{PBX_SIP} vrf 0"
            for p in ("UDP", "TCP")]


def delta(after, before):
    return {k: after[k] - before.get(k, 0) for k in after}


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_pbx_behind_static_mapping(pbx, transport, tmp_path):
    t, tmp, tcp = pbx, str(tmp_path), transport == "tcp"
    assert f"servers {PBX}:{PBX_SIP}\n" in t.vpp.cli("show sip-alg config")
    caps = Captures(t, tmp, "udp or tcp")
    pbx_ua = lambda rtp_port: Ua(t.ns_in, PBX, PBX_SIP, rtp_port)
    b_ua = lambda rtp_port: Ua(t.ns_out, t.B, B_SIP, rtp_port)
    n0 = t.vpp.counters()

    # 1. the PBX calls B
    out_rc = call(t, tmp, "out", pbx_ua(OUT_PBX_RTP), b_ua(OUT_B_RTP), f"{t.B}:{B_SIP}", "bob",
                  tcp=tcp, mid=t.server_map,
                  ready=lambda m: entry(m, f"{PBX}:{OUT_PBX_RTP}", "sip-rtp") is not None)
    smap_out = out_rc[2]
    n1 = t.vpp.counters()
    after_out = server_map_emptied(t)

    # 2. B calls the PBX's public address; the PBX's media starts 1 s after B's
    pbx_entry = f"{PBX}:{IN_PBX_RTP}"
    t_in = time.time()
    in_rc = call(t, tmp, "in", b_ua(IN_B_RTP), pbx_ua(IN_PBX_RTP), f"{t.PUB}:{PBX_SIP}", "pbx",
                 uas="pbx_uas.xml", tcp=tcp, mid=t.server_map,
                 ready=lambda m: entry(m, pbx_entry, "sip-rtp") is not None)
    smap_mid = in_rc[2]
    n2 = t.vpp.counters()
    inside, outside = caps.stop()

    assert out_rc[:2] == (0, 0), "the call from the PBX failed\n" + tail(tmp, "out-uac")
    assert in_rc[:2] == (0, 0), "the call to the PBX failed\n" + tail(tmp, "in-uac")

    # --- the call from the PBX out: as any inside phone's, no pinhole refused; the PBX's
    # media pinholes, no signaling pinhole (the operator's static mapping is one)
    out_n, in_n = delta(n1, n0), delta(n2, n1)
    assert out_n["pinhole_failed"] == 0, \
        [l for l in t.vpp.cli("show logging").splitlines() if "refused" in l]
    assert entry(smap_out, f"{PBX}:{OUT_PBX_RTP}", "sip-rtp") is not None, smap_out
    assert entry(smap_out, f"{PBX}:{PBX_SIP}", "sip") is None, smap_out
    # media both ways, each counted where it was sent (before the BYE) and where it arrived
    bye_out = call_bye(inside, outside)
    assert bye_out is not None and bye_out < t_in
    assert_flow("RTP B->PBX", rtp_seqs(outside, src=(t.B, OUT_B_RTP), before=bye_out),
                rtp_seqs(inside, src=(t.B, OUT_B_RTP), dst=(PBX, OUT_PBX_RTP)), floor(TALK))
    assert_flow("RTP PBX->B", rtp_seqs(inside, src=(PBX, OUT_PBX_RTP), before=bye_out),
                rtp_seqs(outside, dst=(t.B, OUT_B_RTP)), floor(TALK))
    assert after_out == [], after_out  # BYE removed the call's entries

    # --- the call to the PBX: a call record, no refusal
    assert (in_n["calls_created"], in_n["inbound_refused"], in_n["pinhole_failed"]) == \
        (1, 0, 0), in_n
    msgs_in, msgs_out = sip_messages(inside, SIP_PORTS), sip_messages(outside, SIP_PORTS)
    invites = find(msgs_in, b"INVITE sip:pbx@", src=t.B, dst=PBX)
    assert invites, "B's INVITE did not reach the PBX"
    assert sdp(invites[0]) == (t.B, t.B, IN_B_RTP)  # an outside party's SDP: untouched
    # the PBX's answer left VPP naming the public address only
    answers = find(msgs_out, b"SIP/2.0 200", src=t.PUB, dst=t.B)
    answers = [m for m in answers if b"CSeq: 1 INVITE" in m]
    assert answers, "no 200 OK to the INVITE with SDP outside"
    o, c, pub_port = sdp(answers[-1])
    assert (o, c) == (t.PUB, t.PUB), answers[-1]
    for src, dst, m in msgs_out:
        assert b"192.168.1." not in m, m
    from scapy.all import IP
    assert all(p[IP].src != PBX and p[IP].dst != PBX for p in outside if IP in p)
    # mid-call: the PBX's media pinholes (its answer's public port) and B's, no signaling
    # pinhole of the PBX
    assert entry(smap_mid, pbx_entry, "sip-rtp") == pub_port, smap_mid
    assert entry(smap_mid, f"{PBX}:{IN_PBX_RTP + 1}", "sip-rtcp") == pub_port + 1, smap_mid
    assert [l for l in smap_mid if f"ANY -> {t.B}:{IN_B_RTP}, " in l and "sip-rtp" in l], \
        smap_mid
    assert entry(smap_mid, f"{PBX}:{PBX_SIP}", "sip") is None, smap_mid
    # media both ways: the PBX's reached B from the port its answer names ...
    bye_in = call_bye(inside, outside, since=t_in)
    from_pbx = rtp(inside, src=(PBX, IN_PBX_RTP), dst=(t.B, IN_B_RTP))
    assert_flow("RTP PBX->B", rtp_seqs(inside, src=(PBX, IN_PBX_RTP), before=bye_in),
                rtp_seqs(outside, src=(t.PUB, pub_port), dst=(t.B, IN_B_RTP)),
                floor(TALK - PBX_WAIT))
    # ... and B's reached the PBX through the pinhole, from its first packet on, before the
    # PBX sent anything
    b_sent = rtp(outside, src=(t.B, IN_B_RTP), dst=(t.PUB, pub_port))
    to_pbx = rtp(inside, src=(t.B, IN_B_RTP), dst=(PBX, IN_PBX_RTP))
    assert from_pbx and b_sent and b_sent[0].time < from_pbx[0].time, \
        "B's media did not start first"
    assert_flow("RTP B->PBX", rtp_seqs(b_sent, before=bye_in), rtp_seqs(to_pbx), floor(TALK))
    first_pbx = float(from_pbx[0].time)
    assert_flow("outside-first RTP B->PBX (before the PBX's first)",
                rtp_seqs(b_sent, before=first_pbx), rtp_seqs(to_pbx, before=first_pbx),
                floor(PBX_WAIT))
    # the operator's mappings outlive every call; the ALG's entries do not
    assert sorted(t.static_mappings()) == sorted(published(t)), t.static_mappings()
    assert server_map_emptied(t) == []
