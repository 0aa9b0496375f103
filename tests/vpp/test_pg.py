# SPDX-License-Identifier: Apache-2.0
"""Tier 1: the plugin in a real VPP, packet-generator interfaces, scapy packets in and out.

Asserts payload bytes, lengths, checksums, the server map, NAT static mappings and the
counters, including the ones that must not move."""

import os
import re
import time

import sipmsgs as S
from scapy.all import IP, UDP, Raw

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

ENTRY = re.compile(r"Type: ASPF, ANY -> (\S+?)(?:\[(\S+)\])?, Protocol: (?:udp|tcp)\(Appro: (\S+)\), "
                   r"Left-Time: (\d\d):(\d\d):(\d\d), VPN: public -> public$")


def entries(t):
    out = set()
    for line in t.server_map():
        m = ENTRY.match(line)
        assert m, line
        out.add((m.group(1), m.group(2), m.group(3)))
    return out


def left_times(t):
    return {ENTRY.match(l).group(3): int(ENTRY.match(l).group(5)) * 60 +
            int(ENTRY.match(l).group(6)) for l in t.server_map()}


def checksums_ok(p):
    ip = IP(bytes(p[IP]))
    got_ip, got_udp = ip.chksum, ip[UDP].chksum
    del ip.chksum
    del ip[UDP].chksum
    again = IP(bytes(ip))
    return got_ip == again.chksum and got_udp == again[UDP].chksum


def whole_of(got):
    """The datagram the captured fragments make (scapy's defragment mishandles fragments
    out of order): one IP id, contiguous offsets, the last without MF."""
    ips = sorted((IP(bytes(g[IP])) for g in got), key=lambda p: p.frag)
    assert len({(p.id, p.src, p.dst) for p in ips}) == 1, "fragments of several datagrams"
    data = b""
    for p in ips:
        assert p.frag * 8 == len(data), "a gap or an overlap between fragments"
        assert bool(p.flags.MF) == (p is not ips[-1]), "MF on every fragment but the last"
        data += bytes(p.payload)[:p.len - p.ihl * 4]
    f = ips[0]
    return IP(bytes(IP(src=f.src, dst=f.dst, id=f.id, ttl=f.ttl, proto=f.proto) / Raw(data)))


def wait_for(cond, timeout=3.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def send_invite(t):
    inv = S.invite()
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)], "pg1", 1)
    return inv, p


def media_port(payload):
    return int(re.search(rb"m=audio (\d+) ", payload).group(1))


def test_invite_rewritten_exactly(pgnat):
    t = pgnat
    inv, p = send_invite(t)
    pub_port = p[UDP].sport
    assert (p[IP].src, p[IP].dst, p[UDP].dport) == (S.PUB, S.PROXY, S.PROXY_PORT)
    payload = bytes(p[Raw])
    rtp = media_port(payload)
    assert rtp % 2 == 0 and 40000 <= rtp <= 59999
    expected = S.invite(a=S.PUB, a_port=pub_port, rtp=rtp)
    assert payload == expected
    assert b"192.168.1.1" not in payload
    assert p[IP].len == 28 + len(payload) and p[UDP].len == 8 + len(payload)
    assert checksums_ok(p)
    assert entries(t) == {
        (f"{S.PUB}:{pub_port}", f"{S.A}:{S.A_PORT}", "sip"),
        (f"{S.PUB}:{rtp}", f"{S.A}:{S.A_RTP}", "sip-rtp"),
        (f"{S.PUB}:{rtp + 1}", f"{S.A}:{S.A_RTP + 1}", "sip-rtcp"),
    }
    lt = left_times(t)
    assert 100 <= lt["sip"] <= 120 and 40 <= lt["sip-rtp"] <= 60
    assert sorted(t.static_mappings()) == sorted([
        f"UDP local {S.A}:{S.A_PORT} external {S.PUB}:{pub_port} vrf 0",
        f"UDP local {S.A}:{S.A_RTP} external {S.PUB}:{rtp} vrf 0",
        f"UDP local {S.A}:{S.A_RTP + 1} external {S.PUB}:{rtp + 1} vrf 0",
    ])
    c = t.counters()
    assert (c["sip"], c["rewritten"], c["held"], c["pinhole_added"], c["calls_created"]) == \
        (1, 1, 1, 3, 1)
    for k in ("parse_error", "header_error", "sdp_error", "no_space", "pinhole_failed",
              "not_translated", "truncated", "chained"):
        assert c[k] == 0, k


def test_retransmitted_invite_reuses_pinholes(pgnat):
    t = pgnat
    _, p1 = send_invite(t)
    _, p2 = send_invite(t)
    assert bytes(p1[Raw]) == bytes(p2[Raw])
    c = t.counters()
    assert (c["sip"], c["held"], c["pinhole_added"]) == (2, 1, 3)
    assert len(t.server_map()) == 3


def test_answer_mapped_back_and_peer_entries(pgnat):
    t = pgnat
    _, p = send_invite(t)
    pub_port = p[UDP].sport
    ok = S.response(200, "OK", "INVITE", 1, S.PUB, pub_port, rport=pub_port, received=S.PUB,
                    body=S.sdp(S.B, S.B_RTP))
    [q] = t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, ok)], "pg0", 1)
    assert (q[IP].dst, q[UDP].dport) == (S.A, S.A_PORT)
    expected = S.response(200, "OK", "INVITE", 1, S.A, S.A_PORT, rport=S.A_PORT, received=S.A,
                          body=S.sdp(S.B, S.B_RTP))
    assert bytes(q[Raw]) == expected
    assert checksums_ok(q)
    assert wait_for(lambda: len(t.server_map()) == 6)
    e = entries(t)
    assert {(f"{S.B}:{S.B_SIP}", None, "sip"), (f"{S.B}:{S.B_RTP}", None, "sip-rtp"),
            (f"{S.B}:{S.B_RTP + 1}", None, "sip-rtcp")} <= e
    # peer entries are records, not NAT mappings
    assert len(t.static_mappings()) == 3


def test_media_from_outside_first_reaches_inside(pgnat):
    t = pgnat
    _, p = send_invite(t)
    rtp = media_port(bytes(p[Raw]))
    media = [t.udp("pg1", S.B, S.B_RTP, S.PUB, rtp, b"\x80\x00" + bytes(170)),
             t.udp("pg1", S.B, S.B_RTP + 1, S.PUB, rtp + 1, b"\x80\xc8" + bytes(26))]
    got = t.send("pg1", media, "pg0", 2)
    assert [(g[IP].dst, g[UDP].dport) for g in got] == [(S.A, S.A_RTP), (S.A, S.A_RTP + 1)]
    # and back: the inside party's RTP leaves from the pinhole's public port
    [o] = t.send("pg0", [t.udp("pg0", S.A, S.A_RTP, S.B, S.B_RTP, bytes(172))], "pg1", 1)
    assert (o[IP].src, o[UDP].sport) == (S.PUB, rtp)
    assert t.counters()["sip"] == 1  # media never touches the ALG's SIP path


def test_bye_clears_the_call(pgnat):
    t = pgnat
    _, p = send_invite(t)
    pub_port = p[UDP].sport
    ok = S.response(200, "OK", "INVITE", 1, S.PUB, pub_port, body=S.sdp(S.B, S.B_RTP))
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, ok)], "pg0", 1)
    bye = S.request("BYE", S.A, S.A_PORT, 2)
    [b] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, bye)], "pg1", 1)
    assert b"192.168.1.1" not in bytes(b[Raw])
    ok_bye = S.response(200, "OK", "BYE", 2, S.PUB, pub_port)
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, ok_bye)], "pg0", 1)
    assert wait_for(lambda: t.server_map() == [] and t.static_mappings() == [])
    c = t.counters()
    assert c["pinhole_removed"] == 6 and c["calls_closed"] == 1
    assert t.vpp.cli("show sip-alg calls").strip() == ""


def test_failure_response_clears_the_call(pgnat):
    t = pgnat
    _, p = send_invite(t)
    busy = S.response(486, "Busy Here", "INVITE", 1, S.PUB, p[UDP].sport)
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, p[UDP].sport, busy)], "pg0", 1)
    # at once: the record and the phone's signaling entry it holds go with the answer, not
    # by aging (a record left closed would go 2 s after its last message)
    assert wait_for(lambda: t.server_map() == [] and t.static_mappings() == [] and
                    t.vpp.cli("show sip-alg calls").strip() == "", timeout=1.0)
    assert t.counters()["calls_closed"] == 1


def test_non_sip_packets_pass_untouched(pgnat):
    t = pgnat
    payload = b"INVITE sip:x@192.168.1.1 SIP/2.0\r\n\r\n"  # SIP-looking, but not on a SIP port
    [p] = t.send("pg0", [t.udp("pg0", S.A, 1234, S.PROXY, 9999, payload)], "pg1", 1)
    assert bytes(p[Raw]) == payload and p[IP].src == S.PUB
    c = t.counters()  # every counter of the plugin, each of them still 0
    assert c and all(v == 0 for v in c.values()), c


def test_malformed_sip_passes_untouched_and_is_counted(pgnat):
    t = pgnat
    bad = b"INVITE sip:bob@198.51.100.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.1:2000\r\n" \
          b"Content-Length: 99\r\n\r\nshort"
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, bad)], "pg1", 1)
    assert bytes(p[Raw]) == bad and checksums_ok(p)
    c = t.counters()
    assert (c["sip"], c["parse_error"], c["rewritten"], c["pinhole_added"]) == (1, 1, 0, 0)


def test_keepalive_counted_not_parsed(pgnat):
    t = pgnat
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, b"\r\n\r\n")],
                 "pg1", 1)
    assert bytes(p[Raw]) == b"\r\n\r\n"
    c = t.counters()
    assert (c["keepalive"], c["parse_error"]) == (1, 0)


def test_trace_shows_alg_decision(pgnat):
    t = pgnat
    t.vpp.cli_ok("trace add pg-input 10")
    send_invite(t)
    tr = t.vpp.cli("show trace")
    assert "sip-alg-pre: SIP port, pre-NAT tuple saved" in tr
    assert re.search(r"sip-alg-post: in2out INVITE len \d+ delta -?\d+ pinholes 3 held", tr)


def vectors(t, node):
    """Packets node handled since `clear runtime`, all threads (`show runtime`)."""
    return sum(int(m.group(1)) for m in re.finditer(
        rf"^{re.escape(node)}\s+\S+\s+\d+\s+(\d+)\s", t.vpp.cli("show runtime"), re.M))


def test_only_sip_goes_through_sip_alg_post(pgnat):
    """Packets that are not SIP cross sip-alg-pre and NAT44-ED and never sip-alg-post
    (`show runtime`, all threads); the INVITE of the same phone, marked by sip-alg-pre,
    reaches it (test_pg_firewall.py checks where it sits)."""
    t = pgnat
    t.vpp.cli_ok("clear runtime")
    other = [t.udp("pg0", S.A, 1234 + i, S.PROXY, 9999, b"x" * 64) for i in range(20)]
    assert len(t.send("pg0", other, "pg1", 20)) == 20
    assert vectors(t, "sip-alg-pre") == 20 and vectors(t, "nat44-ed-in2out") == 20
    assert vectors(t, "sip-alg-post") == 0
    send_invite(t)
    assert vectors(t, "sip-alg-pre") == 21 and vectors(t, "sip-alg-post") == 1
    assert t.counters()["no_post"] == 0


def big_invite(size):
    """The seed INVITE with SDP attributes padding it to about size bytes."""
    inv = S.invite()
    n = max(0, (size - len(inv)) // 70)
    return S.message(f"INVITE sip:bob@{S.PROXY} SIP/2.0", S.dialog(S.A, S.A_PORT, 1, "INVITE"),
                     S.sdp(S.A, S.A_RTP, [f"a=x-pad{i}:{'p' * 58}" for i in range(n)]))


def test_growth_past_the_buffer_goes_to_a_chain(pgnat):
    """A message that fills its buffer and grows past it is written back as a chain of
    buffers: rewritten whole, lengths and checksums right, pinholes as usual."""
    t = pgnat
    contacts = ", ".join(f"<sip:a{i}@{S.A}:{S.A_PORT}>" for i in range(40))
    headers = S.dialog(S.A, S.A_PORT, 1, "INVITE") + [f"Contact: {contacts}"]
    body = S.sdp(S.A, S.A_RTP)
    inv = S.message(f"INVITE sip:bob@{S.PROXY} SIP/2.0", headers, body)
    pad = 2048 - 14 - 28 - len(inv) - 12 - len("X-Pad: \r\n")
    assert pad > 0
    headers.insert(1, "X-Pad: " + "x" * pad)
    inv = S.message(f"INVITE sip:bob@{S.PROXY} SIP/2.0", headers, body)
    # it arrived whole at about 2 KB and grows past that: it leaves in two fragments of at
    # most its arrival size (test_pg_pathmtu.py), which make the rewritten datagram
    got = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)], "pg1", 2)
    assert len(got) == 2 and all(len(g[IP]) <= 28 + len(inv) for g in got)
    p = whole_of(got)
    out = bytes(p[UDP].payload)
    pub = p[UDP].sport
    sub = lambda h: h.replace(f"{S.A}:{S.A_PORT}", f"{S.PUB}:{pub}").replace(S.A, S.PUB)
    assert out == S.message(f"INVITE sip:bob@{S.PROXY} SIP/2.0", [sub(h) for h in headers],
                            S.sdp(S.PUB, media_port(out)))
    assert len(out) > len(inv) and p[IP].len == 28 + len(out) and checksums_ok(p)
    c = t.counters()
    assert (c["no_space"], c["rewritten"], c["pinhole_added"], c["fragmented"]) == (0, 1, 3, 1)
    assert t.buffers_used() == 0  # the old chain freed, each new buffer sent and freed once


def test_fragmented_sip_reassembled_and_rewritten(pgnat):
    """A SIP datagram in fragments: VPP's full reassembly makes it whole, the ALG rewrites
    it like any other, and it leaves in fragments no larger than those it came in.
    sip-alg-pre counts the fragments in the plugin's counters, which are sip-alg-post's
    (the stats segment's /err/sip-alg-post/, what sipalgctl stats reads): sip-alg-pre has
    none of its own."""
    from scapy.all import fragment, Ether
    t = pgnat
    inv = S.invite()
    pkt = t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)
    frags = fragment(pkt[IP], fragsize=200)
    assert len(frags) >= 2
    pkts = [Ether(dst=t.mac["pg0"], src=t.A_MAC) / f for f in frags]
    got = t.send("pg0", pkts, "pg1", len(frags))
    assert len(got) >= len(frags) and all(len(g[IP]) <= 220 for g in got)
    p = whole_of(got)
    out = bytes(p[UDP].payload)
    assert out == S.invite(a=S.PUB, a_port=p[UDP].sport, rtp=media_port(out))
    assert checksums_ok(p)
    c = t.counters()
    assert (c["fragment"], c["sip"], c["rewritten"]) == (0, 1, 1)
    # only the fragments went to reassembly, not the interface's every packet
    assert c["reassembly"] == len(frags)
    from vpp_papi.vpp_stats import VPPStats
    stats = VPPStats(socketname=os.path.join(t.vpp.dir, "stats.sock"))
    stats.connect()
    try:
        assert stats.ls(["^/err/sip-alg-pre/"]) == []
        assert sum(stats["/err/sip-alg-post/reassembly"]) == len(frags)
    finally:
        stats.disconnect()
    feats = t.vpp.cli("show interface features pg0")
    assert "sip-alg-pre" in feats and "ip4-full-reassembly-feature" not in feats, feats


def test_4k_datagram_fragmented_again(pgnat):
    """A 4 KB INVITE arrives in fragments, is reassembled and rewritten, and leaves in
    fragments that fit the outside MTU; reassembled, they are the rewritten message."""
    from scapy.all import fragment, defragment, Ether
    t = pgnat
    t.vpp.cli_ok("set interface mtu packet 1500 pg1")
    inv = big_invite(4000)
    assert len(inv) > 3900
    pkt = t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)
    frags = [Ether(dst=t.mac["pg0"], src=t.A_MAC) / f for f in fragment(pkt[IP], fragsize=1480)]
    got = t.send("pg0", frags, "pg1", 3)
    assert len(got) == 3 and all(len(g[IP]) <= 1500 for g in got)
    [whole] = defragment([g[IP] for g in got])
    out = bytes(whole[UDP].payload)
    assert b"192.168.1." not in out and out.startswith(b"INVITE sip:bob@")
    assert len(out) == len(inv) + (len(S.PUB) - len(S.A)) * out.count(S.PUB.encode()) + \
        len(str(media_port(out))) - len(str(S.A_RTP)) + \
        (len(str(whole[UDP].sport)) - len(str(S.A_PORT))) * out.count(b"%s:%d" % (S.PUB.encode(), whole[UDP].sport))
    assert {e[2] for e in entries(t)} == {"sip", "sip-rtp", "sip-rtcp"}
    assert t.buffers_used() == 0


def test_growth_past_mtu_with_df_cleared(pgnat):
    """A 1,470-byte INVITE with DF set that the rewrite makes larger than the outside MTU:
    DF is cleared (counted) and VPP fragments it instead of dropping it."""
    from scapy.all import defragment
    t = pgnat
    t.vpp.cli_ok("set interface mtu packet 1500 pg1")
    inv = big_invite(1400)
    pad = 1500 - 28 - len(inv) - 4 - len("X-Pad: \r\n")
    inv = inv.replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\nX-Pad: " + b"x" * pad + b"\r\n")
    assert 1465 <= 28 + len(inv) <= 1500
    pkt = t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)
    pkt[IP].flags = "DF"
    got = t.send("pg0", [pkt], "pg1", 2)
    assert len(got) == 2
    [whole] = defragment([g[IP] for g in got])
    assert b"192.168.1." not in bytes(whole[UDP].payload)
    assert t.counters()["df_cleared"] == 1


def test_register_binding_outlives_calls(pgnat):
    """A 200 OK to REGISTER opens the contact's signaling pinhole for the binding's expiry;
    a call from the same contact shares it, and the call's end leaves it in place."""
    t = pgnat
    [r] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, S.register())],
                 "pg1", 1)
    pub_port = r[UDP].sport
    assert b"Contact: <sip:alice@203.0.113.10:%d>;expires=600" % pub_port in bytes(r[Raw])
    ok = S.register_ok(S.PUB, pub_port, expires=300)
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, ok)], "pg0", 1)
    sig = (f"{S.PUB}:{pub_port}", f"{S.A}:{S.A_PORT}", "sip")
    assert wait_for(lambda: entries(t) == {sig})
    assert 280 <= left_times(t)["sip"] <= 300  # the registrar's expiry, not 120 s
    # an inbound request from a new remote reaches the registered contact
    opts = S.request("OPTIONS", S.PUB, pub_port, 7).replace(b"OPTIONS sip:bob@", b"OPTIONS sip:x@")
    [i] = t.send("pg1", [t.udp("pg1", S.B, S.B_SIP, S.PUB, pub_port, opts)], "pg0", 1)
    assert (i[IP].dst, i[UDP].dport) == (S.A, S.A_PORT)
    # a call from the same contact, then its end
    send_invite(t)
    busy = S.response(486, "Busy Here", "INVITE", 1, S.PUB, pub_port)
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, busy)], "pg0", 1)
    assert wait_for(lambda: entries(t) == {sig})
    assert t.static_mappings() == [f"UDP local {S.A}:{S.A_PORT} external {S.PUB}:{pub_port} vrf 0"]


def test_fuzz_corpus_through_vpp(pgnat):
    """Every message of the fuzz corpus (RFC 4475, captures, fuzzer finds) as a SIP datagram
    from the inside: VPP keeps forwarding, every one is counted once as SIP, and no
    message is lost (held ones included)."""
    import glob
    t = pgnat
    files = sorted(glob.glob(os.path.join(ROOT, "tests", "fuzz", "corpus", "*")) +
                   glob.glob(os.path.join(ROOT, "tests", "fuzz", "found", "*")))
    datas = [open(f, "rb").read() for f in files]
    datas = [d for d in datas if 0 < len(d) <= 1400]  # one buffer, under the MTU
    assert len(datas) > 500
    sent = 0
    for i in range(0, len(datas), 100):
        batch = [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, d) for d in datas[i:i + 100]]
        got = t.send("pg0", batch, "pg1", len(batch), timeout=10)
        assert len(got) == len(batch)
        assert all(checksums_ok(p) for p in got)
        sent += len(batch)
    c = t.counters()
    assert c["sip"] == sent
    # each message has exactly one outcome
    outcomes = ("rewritten", "unchanged", "keepalive", "parse_error", "header_error",
                "sdp_error", "too_many", "no_space")
    assert sum(c[k] for k in outcomes) == sent, c
    assert c["parse_error"] > 0 and c["rewritten"] > 0
    assert "sip_alg" in t.vpp.cli("show plugins")  # still alive and answering


def test_max_calls_counted_and_message_still_translated(pgnat):
    t = pgnat
    t.vpp.cli_ok("set sip-alg max-calls 1")
    send_invite(t)
    second = S.invite().replace(b"call-1@", b"call-2@")
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, second)], "pg1", 1)
    payload = bytes(p[Raw])
    assert b"Via: SIP/2.0/UDP 203.0.113.10:" in payload  # signaling still translated
    assert b"m=audio 3000 " in payload  # no call record: no media pinhole, port untouched
    c = t.counters()
    assert (c["max_calls"], c["calls_created"], c["rewritten"]) == (1, 1, 2)


def test_sip_ports_follow_the_configuration(pgnat):
    """Only the configured SIP ports (and signaling endpoints of the server map) are looked
    at: after moving SIP to 5070, an INVITE to 5060 passes untouched, one to 5070 is
    rewritten; moving back works the same way."""
    t = pgnat
    t.vpp.cli_ok("set sip-alg ports udp 5070")
    inv = S.invite()
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, 5060, inv)], "pg1", 1)
    assert bytes(p[Raw]) == inv and t.counters()["sip"] == 0
    [q] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, 5070, inv)], "pg1", 1)
    assert b"192.168.1.1" not in bytes(q[Raw])
    c = t.counters()
    assert (c["sip"], c["rewritten"]) == (1, 1)
    t.vpp.cli_ok("set sip-alg ports udp 5060")
    other = inv.replace(b"call-1@", b"call-9@").replace(b"m=audio 3000", b"m=audio 3100")
    [r] = t.send("pg0", [t.udp("pg0", S.A2, 2002, S.PROXY, 5070, other)], "pg1", 1)
    assert bytes(r[Raw]) == other and t.counters()["sip"] == 1


def test_media_on_a_privileged_port_is_not_opened(pgnat):
    """An inside party's SDP offering media on a port below 1024 (its SNMP, its SSH, or an
    a=rtcp pointing at one): no pinhole opens to it, the SDP passes with the port as it was,
    the refusal is counted; the call's signaling is translated as usual."""
    t = pgnat
    for i, sdp in enumerate((S.sdp(S.A, 161), S.sdp(S.A, 3000, extra=["a=rtcp:23"]))):
        inv = S.message(f"INVITE sip:bob@{S.PROXY} SIP/2.0",
                        S.dialog(S.A, S.A_PORT, 1, "INVITE"), sdp).replace(
                            b"call-1@", b"call-p%d@" % i)
        [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)], "pg1", 1)
        payload = bytes(p[Raw])
        assert b"192.168.1.1" not in payload  # signaling and c= translated
        assert media_port(payload) == (161, 3000)[i]
        assert b"a=rtcp:23" in payload or i == 0
    assert {x[2] for x in entries(t)} == {"sip"}
    assert len(t.static_mappings()) == 1
    c = t.counters()
    assert (c["media_privileged"], c["rewritten"], c["no_media_port"]) == (2, 2, 0)


def test_media_port_bound_is_1024(pgnat):
    """The bound of the privileged ports, both sides: an offer on 1023 opens nothing and
    keeps its port (counted), one on 1024 (RTCP 1025) gets a public pair."""
    t = pgnat
    ports = []
    for i, port in enumerate((1023, 1024)):
        inv = S.invite(rtp=port).replace(b"call-1@", b"call-b%d@" % i)
        [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)], "pg1", 1)
        ports.append(media_port(bytes(p[Raw])))
    assert ports[0] == 1023 and ports[1] != 1024
    assert {x[1] for x in entries(t) if x[2] != "sip"} == {f"{S.A}:1024", f"{S.A}:1025"}
    c = t.counters()
    assert (c["media_privileged"], c["rewritten"], c["no_media_port"]) == (1, 2, 0)
