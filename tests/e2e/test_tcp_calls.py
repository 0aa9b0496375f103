# SPDX-License-Identifier: Apache-2.0
"""Tier 2: SIP over TCP and large SIP messages through VPP, 0 and 2 workers: sipp (-t t1)
calls direct and through Kamailio listening on TCP, media both ways and from the outside
first; a 4 KB INVITE over TCP (many segments) and over UDP (IP fragments, reassembled and
fragmented again). Nothing that leaves VPP on the outside names the inside network."""

import os
import re

import pytest

from test_call import HERE, assert_media, run_call


def tcp_payloads(pkts):
    # the TCP payload whatever scapy dissects it as (port 2000 looks like Skinny to it)
    from scapy.all import IP, TCP
    return [bytes(p[TCP].payload) for p in pkts if IP in p and TCP in p and len(p[TCP].payload)]


def assert_tcp_sip_clean(outside, min_msgs=5):
    """SIP went over TCP outside, and none of it names the inside network."""
    data = b"".join(tcp_payloads(outside))
    assert len(re.findall(rb"^(?:[A-Z]+ sip:|SIP/2\.0 \d\d\d)", data, re.M)) >= min_msgs, data[:500]
    assert b"192.168.1." not in data, data


@pytest.mark.parametrize("via_proxy", [False, True], ids=["direct", "kamailio"])
def test_tcp_call(topo02, via_proxy, tmp_path):
    t = topo02
    c = run_call(t, str(tmp_path), via_proxy=via_proxy, transport="tcp")
    assert (c.uac_rc, c.uas_rc) == (0, 0), open(f"{tmp_path}/uac.log").read()[-1500:]
    assert_media(t, c)
    assert_tcp_sip_clean(c.outside)
    assert t.vpp.counters()["tcp_conn"] >= 1


def test_tcp_silent_caller(topo02, tmp_path):
    """The caller sends no media: B's RTP, first from the outside, reaches A."""
    t = topo02
    c = run_call(t, str(tmp_path), uac_media=False, transport="tcp")
    assert (c.uac_rc, c.uas_rc) == (0, 0)
    assert_media(t, c, a=False)


def big_uac(tmp):
    """uac.xml with 3.5 KB of extra SDP attributes: a 4 KB INVITE."""
    xml = open(os.path.join(HERE, "scenarios", "uac.xml")).read()
    extra = "".join(f"      a=x-pad{i}:{'p' * 60}\n" for i in range(55))
    xml = xml.replace("      a=rtpmap:8 PCMA/8000\n    ]]>", "      a=rtpmap:8 PCMA/8000\n" + extra +
                      "    ]]>", 1)
    assert "x-pad54" in xml
    path = os.path.join(tmp, "uac_big.xml")
    with open(path, "w") as f:
        f.write(xml)
    return path


def test_tcp_4k_invite(topo02, tmp_path):
    """A 4 KB INVITE over TCP crosses VPP in several segments, framed and rewritten whole."""
    t = topo02
    c = run_call(t, str(tmp_path), uac=big_uac(str(tmp_path)), transport="tcp")
    assert (c.uac_rc, c.uas_rc) == (0, 0), open(f"{tmp_path}/uac.log").read()[-1500:]
    assert_media(t, c)
    assert_tcp_sip_clean(c.outside)
    assert t.vpp.counters()["tcp_partial"] >= 1


def test_udp_4k_invite(topo02, tmp_path):
    """The same 4 KB INVITE over UDP: it leaves A in IP fragments, VPP reassembles it, the
    ALG rewrites it whole, VPP fragments it again to the outside MTU."""
    from test_call import sip_payloads
    from scapy.all import IP, defragment
    t = topo02
    c = run_call(t, str(tmp_path), uac=big_uac(str(tmp_path)))
    assert (c.uac_rc, c.uas_rc) == (0, 0), open(f"{tmp_path}/uac.log").read()[-1500:]
    assert_media(t, c)
    frags = [p[IP] for p in c.outside if IP in p and (p[IP].flags.MF or p[IP].frag)]
    assert frags, "the INVITE did not leave in fragments"
    whole = [bytes(p[IP].payload.payload) for p in defragment(frags) if not p[IP].flags.MF]
    assert any(w.startswith(b"INVITE ") for w in whole)
    assert all(b"192.168.1." not in w for w in whole)
    assert all(b"192.168.1." not in d for d in sip_payloads(c.outside))
