# SPDX-License-Identifier: Apache-2.0
"""Tier 1: an office behind one public address (issue 14 item 5), 0 and 2 workers.

1,000 phones, each its own inside address, all sending from port 5060 to one proxy. One
phone keeps 5060 on the public side; NAT44-ED gives the others dynamic ports, chosen without
looking at its static mappings, so some land on a port that a media pinhole of an earlier
call already holds. The phone's own signaling pinhole cannot be a static mapping there (one
per public port): that was the 27 refusals of 3,000 (pinhole_failed) the issue measured.
Now the ALG moves such a phone's signaling to a port of its own (a static mapping of
phone:5060), deletes NAT's session, and drops the message once (sig_moved); the phone's
retransmission leaves by the new port. Every call gets its three entries, none is refused,
and a request from anywhere outside reaches a moved phone by its new port.
"""

import os
import re
import sys

import sipmsgs as S
from scapy.all import IP, UDP, wrpcap
from test_pg import media_port, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "perf"))
from call_bench import cid, invites_out, read_pcap_udp  # noqa: E402

PHONES = 1000


def phone(i):
    """Inside address of phone i: 192.168.2.1 .. 192.168.5.250."""
    return f"192.168.{2 + i // 250}.{i % 250 + 1}"


def via_port(payload):
    return int(re.search(rb"Via: SIP/2.0/UDP [\d.]+:(\d+)", payload).group(1))


def test_thousand_phones_on_5060(pgnat02):
    t = pgnat02
    v = t.vpp
    # the phones' networks behind an inside router (A's MAC: pg0's only neighbour)
    v.cli_ok(f"ip route add 192.168.0.0/16 via {S.A} pg0")
    v.cli_ok("set sip-alg max-calls 2000")
    invites = {i: t.udp("pg0", phone(i), 5060, S.PROXY, S.PROXY_PORT,
                        cid(S.invite(a=phone(i), a_port=5060, rtp=3000), i))
               for i in range(PHONES)}
    _, pub, resent = invites_out(t, "office", invites, wrpcap)
    assert len(pub) == PHONES
    c = t.counters()
    assert c["pinhole_failed"] == 0, [l for l in v.cli("show logging").splitlines()
                                      if "refused" in l]
    assert c["calls_created"] == PHONES
    assert resent == c["sig_moved"] + c["port_clash"] + c["held_full"] > 0
    moved = re.findall(r"signaling of ([\d.]+):5060 moved from [\d.]+:(\d+) to [\d.]+:(\d+)",
                       v.cli("show logging"))
    assert len(moved) == len({host for host, _, _ in moved})  # each phone moved once at most
    # each call: its signaling, RTP and RTCP entry, the signaling one at the port its
    # INVITE left by
    assert wait_for(lambda: len(t.server_map()) == 3 * PHONES, timeout=10)
    smap = "\n".join(t.server_map())
    sig = {(m.group(2), int(m.group(1))) for m in re.finditer(
        rf"ANY -> {S.PUB}:(\d+)\[(192\.168\.\d+\.\d+):5060\]", smap)}
    assert sig == {(phone(i), pub[i]) for i in range(PHONES)}
    # the moved phones' mappings: phone:5060 to the new port, the port in Via and Contact
    index = {phone(k): k for k in range(PHONES)}
    for host, old, new in moved:
        assert pub[index[host]] == int(new) != int(old)
        assert f"UDP local {host}:5060 external {S.PUB}:{new} vrf 0" in t.static_mappings()
    if moved:
        host, port = moved[0][0], int(moved[0][2])
        # a request from another outside party (not the proxy NAT's session was with)
        opt = S.message(f"OPTIONS sip:alice@{S.PUB}:{port} SIP/2.0", [
            f"Via: SIP/2.0/UDP {S.B}:{S.B_SIP};branch=z9hG4bK-o1", "Max-Forwards: 70",
            f"From: <sip:bob@{S.B}>;tag=o1", f"To: <sip:alice@{S.PUB}>",
            "Call-ID: opt-1@b", "CSeq: 1 OPTIONS"])
        [p] = t.send("pg1", [t.udp("pg1", S.B, S.B_SIP, S.PUB, port, opt)], "pg0", 1)
        assert (p[IP].dst, p[UDP].dport) == (host, 5060)
    # outside-first media reaches the phones (a sample of them)
    out = {}
    cap = f"{v.dir}/office-0-out.pcap"
    for sport, payload in read_pcap_udp(cap):
        m = re.search(rb"Call-ID: call-(\d+)@", payload)
        if m:
            out[int(m.group(1))] = payload
            assert via_port(payload) == sport
    sample = sorted(out)[:: max(1, len(out) // 20)]
    rtp = [t.udp("pg1", S.B, S.B_RTP, S.PUB, media_port(out[i]), b"\x80\x00" + bytes(170))
           for i in sample]
    got = t.send("pg1", rtp, "pg0", len(rtp))
    assert sorted((g[IP].dst, g[UDP].dport) for g in got) == \
        sorted((phone(i), 3000) for i in sample)
