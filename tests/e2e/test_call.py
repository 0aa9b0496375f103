# SPDX-License-Identifier: Apache-2.0
"""Tier 2: real calls through VPP. sipp caller A inside (192.168.1.1:2000, RTP 6000), sipp
callee B outside (198.51.100.2:5062, RTP 7000), directly or through a kamailio proxy
(198.51.100.1:5060); G.711 RTP from sipp's own pcap."""

import os
import re
import tempfile
import time

import pytest

from conftest import HERE, Topo

A_SIP, A_RTP, B_SIP, B_RTP = 2000, 6000, 5062, 7000
KAMAILIO_CFG = os.path.join(HERE, "..", "data", "kamailio.cfg.in")


def scenario(name, media=True):
    xml = open(os.path.join(HERE, "scenarios", name)).read()
    if not media:
        xml, n = re.subn(r"<nop>\s*<action><exec play_pcap_audio=[^>]*/></action>\s*</nop>", "",
                         xml)
        assert n == 1, "media block not found in " + name
    f = tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False)
    f.write(xml)
    f.close()
    return f.name


def capture(t, ns, iface, bpf, path):
    p = t.popen_in(ns, "tcpdump", "-i", iface, "-U", "-n", "-s", "0", "-w", path, bpf)
    time.sleep(1.0)
    return p


def packets(path):
    from scapy.all import rdpcap
    return list(rdpcap(path)) if os.path.exists(path) and os.path.getsize(path) > 24 else []


def udp_to(pkts, dst, dport):
    from scapy.all import IP, UDP
    return [p for p in pkts if IP in p and UDP in p and p[IP].dst == dst and p[UDP].dport == dport]


def run_call(t, tmp, uac_media=True, uas_media=True, via_proxy=False, mid_call=None,
             ready=None):
    """One call; returns (uac exit code, inside pcap packets, outside pcap packets, mid-call)."""
    cap_in = capture(t, t.ns_in, t.if_in, "udp", f"{tmp}/inside.pcap")
    cap_out = capture(t, t.ns_out, t.if_out, "udp", f"{tmp}/outside.pcap")
    if via_proxy:
        with open(f"{tmp}/kamailio.cfg", "w") as f:
            f.write(open(KAMAILIO_CFG).read().replace("@CALLEE@", f"{t.B}:{B_SIP}"))
        t.popen_in(t.ns_out, "kamailio", "-f", f"{tmp}/kamailio.cfg", "-P", f"{tmp}/kam.pid",
                   "-Y", tmp, "-w", tmp, "-DD", "-E", log=f"{tmp}/kamailio.log")
    uas = t.popen_in(t.ns_out, "sipp", "-sf", scenario("uas.xml", uas_media), "-i", t.B, "-p",
                     str(B_SIP), "-mi", t.B, "-mp", str(B_RTP), "-m", "1", "-nostdin",
                     "-timeout", "30s", "-trace_err", "-trace_msg", cwd=tmp, log=f"{tmp}/uas.log")
    time.sleep(1.0)
    target = f"{t.PROXY}:5060" if via_proxy else f"{t.B}:{B_SIP}"
    uac = t.popen_in(t.ns_in, "sipp", "-sf", scenario("uac.xml", uac_media), target, "-s", "bob",
                     "-i", t.A, "-p", str(A_SIP), "-mi", t.A, "-mp", str(A_RTP), "-m", "1",
                     "-nostdin", "-timeout", "30s", "-trace_err", "-trace_msg", cwd=tmp,
                     log=f"{tmp}/uac.log")
    seen = None
    if mid_call:
        # a snapshot once the call is established (and before its 6 s are over)
        deadline = time.time() + 5
        while True:
            time.sleep(0.5)
            seen = mid_call()
            if ready is None or ready(seen) or time.time() > deadline:
                break
    rc = uac.wait(40)
    uas.wait(10)
    time.sleep(1.5)
    for p in (cap_in, cap_out):
        p.terminate()
        p.wait(5)
    return rc, packets(f"{tmp}/inside.pcap"), packets(f"{tmp}/outside.pcap"), seen


def assert_seed_entries(t, lines):
    ins = sorted(l for l in lines if "[" in l)
    outs = sorted(l for l in lines if "[" not in l)
    apps = lambda ls: sorted(re.search(r"Appro: (\S+)\)", l).group(1) for l in ls)
    assert apps(ins) == ["sip", "sip-rtcp", "sip-rtp"], lines
    assert any(f"[{t.A}:{A_SIP}]" in l for l in ins)
    assert any(f"[{t.A}:{A_RTP}]" in l and "sip-rtp" in l for l in ins)
    assert any(f"[{t.A}:{A_RTP + 1}]" in l and "sip-rtcp" in l for l in ins)
    assert apps(outs) == ["sip", "sip-rtcp", "sip-rtp"], lines
    assert any(f"ANY -> {t.B}:{B_RTP}," in l for l in outs)
    assert any(f"ANY -> {t.B}:{B_RTP + 1}," in l for l in outs)
    for l in lines:
        assert re.search(r"Left-Time: \d\d:\d\d:\d\d, VPN: public -> public$", l), l


def assert_no_inside_address_outside(outside):
    from scapy.all import IP, Raw
    for p in outside:
        assert p[IP].src != Topo.A and p[IP].dst != Topo.A
        if Raw in p:
            data = bytes(p[Raw])
            for line in data.split(b"\r\n"):
                if not line.lower().startswith((b"call-id:", b"i:")):
                    assert b"192.168.1.1" not in line, data


@pytest.mark.parametrize("via_proxy", [False, True], ids=["direct", "kamailio"])
def test_seed_call(topo, via_proxy, tmp_path):
    t = topo
    rc, inside, outside, mid = run_call(t, str(tmp_path), via_proxy=via_proxy,
                                        mid_call=t.server_map, ready=lambda m: len(m) == 6)
    assert rc == 0, "the call did not complete"
    rtp_to_a = udp_to(inside, t.A, A_RTP)
    rtp_to_b = udp_to(outside, t.B, B_RTP)
    assert len(rtp_to_a) > 50 and len(rtp_to_b) > 50, (len(rtp_to_a), len(rtp_to_b))
    assert_seed_entries(t, mid)
    assert_no_inside_address_outside(outside)
    assert t.server_map() == [] and t.static_mappings() == []


def test_only_outside_party_sends_media(topo, tmp_path):
    t = topo
    rc, inside, outside, _ = run_call(t, str(tmp_path), uac_media=False)
    assert rc == 0
    assert len(udp_to(inside, t.A, A_RTP)) > 50
    assert udp_to(outside, t.B, B_RTP) == []


def test_without_alg_no_media_reaches_inside(topo_no_alg, tmp_path):
    """The same call with the ALG off: the callee sends its RTP to the private address
    in the SDP, which the outside cannot reach. The ALG is what makes the call work."""
    t = topo_no_alg
    rc, inside, outside, _ = run_call(t, str(tmp_path))
    assert udp_to(inside, t.A, A_RTP) == []
    # and the inside address leaked into the signaling
    from scapy.all import Raw
    assert any(b"192.168.1.1" in bytes(p[Raw]) for p in outside if Raw in p)
