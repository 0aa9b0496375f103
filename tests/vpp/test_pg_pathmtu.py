# SPDX-License-Identifier: Apache-2.0
"""Tier 1: path MTU with the product's defaults (issue 22 item 2). The packet-generator
interfaces keep VPP's own MTU (9000 bytes), as an af_packet interface does on a 1500-byte
veth: nothing here sets one. A SIP datagram rebuilt from fragments leaves in fragments no
larger than the largest fragment that arrived (Linux's rule), whether the ALG rewrote it or
passed it untouched, held it for its pinholes or not; a datagram that arrived whole and grew
past 1500 bytes leaves in 1500-byte fragments; one that stays within its size leaves whole."""

import pytest

import sipmsgs as S
from scapy.all import Ether, IP, UDP, Raw, fragment
from test_pg import big_invite, checksums_ok, entries, media_port, wait_for, whole_of


def frags_of(t, iface, pkt, fragsize):
    """pkt (built by t.udp) in IP fragments of fragsize data bytes, on iface's wire."""
    src_mac = t.A_MAC if iface == "pg0" else t.ROUTER_MAC
    return [Ether(dst=t.mac[iface], src=src_mac) / f for f in fragment(pkt[IP], fragsize=fragsize)]


def test_no_mtu_set_here(pgnat):
    """The premise: the outside interface has VPP's default MTU, far above 1500."""
    out = pgnat.vpp.cli("show interface pg1")
    hw = pgnat.vpp.cli("show hardware-interfaces pg1")
    assert "9000" in out + hw, out + hw


@pytest.mark.parametrize("fragsize,size", [(1480, 4000), (560, 1600)])
def test_fragmented_invite_leaves_in_its_arrival_sizes(pgnat, fragsize, size):
    """An INVITE with SDP in three fragments of fragsize+20 bytes (VPP's full reassembly
    drops a datagram of five by default: `set ip4-full-reassembly`): reassembled,
    rewritten, held for its pinholes and sent on by the main thread, in fragments no larger
    than those it came in; reassembled, they are the rewritten message, checksum valid."""
    t = pgnat
    inv = big_invite(size)
    pkt = t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)
    frags = frags_of(t, "pg0", pkt, fragsize)
    largest = max(len(f[IP]) for f in frags)
    n_min = -(-(len(pkt[IP]) - 20) // fragsize)
    got = t.send("pg0", frags, "pg1", n_min)
    assert len(got) >= n_min
    assert all(len(g[IP]) <= largest for g in got), [len(g[IP]) for g in got]
    w = whole_of(got)
    out = bytes(w[UDP].payload)
    assert b"192.168.1." not in out and out.startswith(b"INVITE sip:bob@")
    assert len(out) == w[UDP].len - 8
    sent = w[UDP].chksum
    del w[UDP].chksum
    assert IP(bytes(w))[UDP].chksum == sent, "UDP checksum of the whole datagram"
    c = t.counters()
    assert (c["fragmented"], c["held"]) == (1, 1)
    assert {e[2] for e in entries(t)} == {"sip", "sip-rtp", "sip-rtcp"}


def test_fragments_larger_than_a_buffer(pgnat):
    """Fragments of about 3 KB (a jumbo path; VPP's buffers hold 2 KB): a 6.5 KB INVITE in
    three, the last small. Each fragment the ALG makes is a chain of its own where it needs
    one and a single buffer where it does not; they leave in the arrival sizes, make the
    rewritten message, and every buffer is back in the pool afterwards."""
    t = pgnat
    inv = big_invite(6500)
    pkt = t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)
    frags = frags_of(t, "pg0", pkt, 2976)
    assert [len(f[IP]) > 2048 for f in frags] == [True, True, False]
    got = t.send("pg0", frags, "pg1", 3)
    assert len(got) == 3 and all(len(g[IP]) <= 2996 for g in got), [len(g[IP]) for g in got]
    w = whole_of(got)
    out = bytes(w[UDP].payload)
    assert b"192.168.1." not in out and out.startswith(b"INVITE sip:bob@")
    assert len(out) == w[UDP].len - 8 and checksums_ok(w)
    assert t.counters()["fragmented"] == 1
    assert t.buffers_used() == 0


def test_fragmented_answer_from_outside(pgnat):
    """The same the other way: a 2.5 KB 200 OK with SDP in 996-byte fragments from the
    proxy reaches A in fragments of at most that size, mapped back to A's addresses."""
    t = pgnat
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, S.invite())],
                 "pg1", 1)
    pub_port = p[UDP].sport
    pad = [f"a=x-pad{i}:{'p' * 58}" for i in range(25)]
    ok = S.response(200, "OK", "INVITE", 1, S.PUB, pub_port, rport=pub_port, received=S.PUB,
                    body=S.sdp(S.B, S.B_RTP, pad))
    assert 2000 < len(ok) < 2900  # three fragments
    frags = frags_of(t, "pg1", t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, ok), 976)
    largest = max(len(f[IP]) for f in frags)
    got = t.send("pg1", frags, "pg0", len(frags))
    assert all(len(g[IP]) <= largest for g in got)
    w = whole_of(got)
    assert (w.dst, w[UDP].dport) == (S.A, S.A_PORT)
    assert bytes(w[UDP].payload).startswith(b"SIP/2.0 200 OK")
    assert b"Via: SIP/2.0/UDP 192.168.1.1:2000" in bytes(w[UDP].payload)
    assert t.counters()["fragmented"] == 1


def test_untouched_datagram_fragmented_too(pgnat):
    """A fragmented datagram on the SIP port the ALG passes without a rewrite (not SIP:
    malformed, passed in the default lenient mode) leaves in its arrival sizes too."""
    t = pgnat
    junk = b"\x00\x01garbage" + bytes(3000)
    pkt = t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, junk)
    frags = frags_of(t, "pg0", pkt, 1200)
    got = t.send("pg0", frags, "pg1", len(frags))
    assert len(got) == len(frags)
    assert all(len(g[IP]) <= 1220 for g in got)
    assert bytes(whole_of(got)[UDP].payload) == junk
    c = t.counters()
    assert c["fragmented"] == 1 and c["parse_error"] == 1


def test_whole_datagram_grown_past_1500_is_fragmented(pgnat):
    """An INVITE that arrived whole at 1,498 bytes and grows past 1,500 in the rewrite
    leaves in fragments of at most 1,500 bytes although the egress MTU is 9,000."""
    t = pgnat
    inv = big_invite(1400)
    pad = 1498 - 28 - len(inv) - len("X-Pad: \r\n")
    inv = inv.replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\nX-Pad: " + b"x" * pad + b"\r\n")
    pkt = t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)
    assert len(pkt[IP]) == 1498
    got = t.send("pg0", [pkt], "pg1", 2)
    assert len(got) == 2 and all(len(g[IP]) <= 1500 for g in got)
    assert len(whole_of(got)) > 1500
    assert t.counters()["fragmented"] == 1


def test_small_growth_stays_whole(pgnat):
    """The seed INVITE grows by a few bytes: it leaves whole, nothing counted."""
    t = pgnat
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, S.invite())],
                 "pg1", 1)
    assert not (p[IP].flags.MF or p[IP].frag)
    assert t.counters().get("fragmented", 0) == 0


def test_media_after_fragmented_invite(pgnat):
    """The call the fragmented INVITE set up works: media from outside first reaches A."""
    t = pgnat
    pkt = t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, big_invite(4000))
    got = t.send("pg0", frags_of(t, "pg0", pkt, 1480), "pg1", 3)
    rtp = media_port(bytes(whole_of(got)[UDP].payload))
    assert wait_for(lambda: len(t.server_map()) == 3)
    [m] = t.send("pg1", [t.udp("pg1", S.B, S.B_RTP, S.PUB, rtp, b"\x80\x00" + bytes(170))],
                 "pg0", 1)
    assert (m[IP].dst, m[UDP].dport) == (S.A, S.A_RTP)
