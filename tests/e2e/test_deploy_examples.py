# SPDX-License-Identifier: Apache-2.0
"""Tier 2: the deployment examples, mgmt/examples/pbx-inside.yaml and hairpin.yaml, brought
up by `sipalgctl up` on the test's own veths (each example as it is, but for its interfaces'
host_if and vpp.runtime_dir), a call with media both ways, `sipalgctl down`:

- pbx-inside.yaml: B outside calls the PBX (a sipp user agent at 192.168.1.5:5060) through
  the outside Kamailio proxy, which relays to the PBX's public address 203.0.113.10:5060.
  The example gives no sip_alg.servers: its static mappings of 192.168.1.5:5060 publish the
  PBX as the ALG's SIP server, so B's INVITE starts a call and B's media, which comes
  first, reaches the PBX through the pinhole of the PBX's answer;
- hairpin.yaml: the two inside phones register with the outside registrar and call each
  other through it (deploy.hairpin_call), their media hairpinning through NAT44-ED.

test_deploy_pbx.py and test_deploy_hairpin.py test the two deployments in depth, with 0 and
2 workers."""

import json

from capture import assert_flow, call_bye, floor, rtp_seqs
from deploy import (PBX, PBX_WAIT, PHONE3, TALK, Captures, ExampleTopo, Ua, call,
                    check_hairpin, check_hairpin_media, entry, find, hairpin_call, proxy, rtp,
                    sdp, sip_messages, tail)
from test_call import B_SIP
from topo import ctl

def test_pbx_inside_example(e2e_prefix, tmp_path):
    tmp = str(tmp_path)
    with ExampleTopo(e2e_prefix, tmp, "pbx-inside.yaml", (PBX,)) as t:
        assert sorted(t.static_mappings()) == sorted(
            f"{p} local {PBX}:5060 external {t.PUB}:5060 vrf 0" for p in ("UDP", "TCP"))
        text = t.vpp.cli("show sip-alg config")
        assert "tcp 5060" in text and f"servers {PBX}:5060\n" in text, text
        shown = json.loads(ctl("--json", "show", "config", t.cfg).stdout)
        assert shown["servers"] == [f"{PBX}:5060"]
        proxy(t, tmp, f"{t.PUB}:5060")
        caps = Captures(t, tmp)
        n0 = t.vpp.counters()
        uac_rc, uas_rc, smap = call(t, tmp, "in", Ua(t.ns_out, t.B, B_SIP, 7000),
                                    Ua(t.ns_in, PBX, 5060, 6000), f"{t.PROXY}:5060", "pbx",
                                    uas="pbx_uas.xml", mid=t.server_map,
                                    ready=lambda m: entry(m, f"{PBX}:6000", "sip-rtp"))
        n1 = t.vpp.counters()
        inside, outside = caps.stop()
        assert (uac_rc, uas_rc) == (0, 0), tail(tmp, "in-uac") + tail(tmp, "in-uas")
        assert {k: n1[k] - n0[k] for k in ("calls_created", "inbound_refused",
                                           "pinhole_failed")} == \
            {"calls_created": 1, "inbound_refused": 0, "pinhole_failed": 0}
        msgs_in = sip_messages(inside, (5060, B_SIP))
        assert find(msgs_in, b"INVITE sip:pbx@", src=t.PROXY, dst=PBX)
        msgs_out = sip_messages(outside, (5060, B_SIP))
        answer = [m for m in find(msgs_out, b"SIP/2.0 200", src=t.PUB, dst=t.PROXY)
                  if b" INVITE\r\n" in m]
        assert answer and sdp(answer[0])[:2] == (t.PUB, t.PUB), answer
        pub_port = sdp(answer[0])[2]
        assert entry(smap, f"{PBX}:6000", "sip-rtp") == pub_port, smap
        assert entry(smap, f"{PBX}:5060", "sip") is None, smap  # the static mapping is it
        for _, _, m in msgs_out:
            assert b"192.168.1." not in m, m
        # media both ways, B's first: it reached the PBX before the PBX sent any
        bye = call_bye(inside, outside)
        to_pbx = rtp(inside, src=(t.B, 7000), dst=(PBX, 6000))
        from_pbx = rtp(inside, src=(PBX, 6000), dst=(t.B, 7000))
        b_sent = rtp(outside, src=(t.B, 7000), dst=(t.PUB, pub_port))
        assert from_pbx and b_sent and b_sent[0].time < from_pbx[0].time
        assert_flow("RTP B->PBX", rtp_seqs(b_sent, before=bye), rtp_seqs(to_pbx), floor(TALK))
        assert_flow("RTP PBX->B", rtp_seqs(from_pbx, before=bye),
                    rtp_seqs(outside, src=(t.PUB, pub_port), dst=(t.B, 7000)),
                    floor(TALK - PBX_WAIT))
        first_pbx = float(from_pbx[0].time)
        assert_flow("outside-first RTP B->PBX", rtp_seqs(b_sent, before=first_pbx),
                    rtp_seqs(to_pbx, before=first_pbx), floor(PBX_WAIT))
        t.down()


def test_hairpin_example(e2e_prefix, tmp_path):
    tmp = str(tmp_path)
    with ExampleTopo(e2e_prefix, tmp, "hairpin.yaml", (PHONE3,)) as t:
        hp = hairpin_call(t, tmp)
        check_hairpin(t, hp, tmp)
        t.down()
        check_hairpin_media(t, hp)
