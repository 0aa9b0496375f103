# SPDX-License-Identifier: Apache-2.0
"""Tier 1: SIP over TCP through NAT44-ED and the ALG, hand-built segment sequences.

A (192.168.1.1:40500) opens a TCP connection to the proxy (198.51.100.1:5060) across the
NAT; the tests send its segments and the proxy's and check what leaves VPP: rewritten bytes,
sequence and acknowledgement numbers shifted by what the rewrites added (SACK edges too),
messages split anywhere across segments, several in one segment, out of order, resent, a
reset mid-message, and a message that outgrows the receiver's MSS. Nothing sets the ALG's
ports: SIP over TCP on 5060 is inspected out of the box, SIP over TLS on 5061 passes."""

import re

import pytest

import sipmsgs as S
from scapy.all import Ether, IP, TCP, Raw
from test_pg import entries, media_port, wait_for

A_TCP = 40500
ISN_A, ISN_P = 1000, 500000


@pytest.fixture
def tcpnat(pgnat02):
    """The topology as it starts: SIP over TCP on 5060 is inspected by default (no knob)."""
    return pgnat02


def tcp_ok(p):
    ip = IP(bytes(p[IP]))
    got = ip[TCP].chksum
    del ip.chksum
    del ip[TCP].chksum
    return IP(bytes(ip))[TCP].chksum == got


class Conn:
    """A's connection to the proxy: builds both sides' segments with their own sequence
    numbers (what each endpoint believes), sends them, returns what VPP forwards."""

    def __init__(self, t, mss=1460, isn_a=ISN_A):
        self.t = t
        self.a_seq, self.p_seq = isn_a + 1, ISN_P + 1
        syn = self.a("S", seq=isn_a, ack=0, opts=[("MSS", 1460)])
        [o] = t.send("pg0", [syn], "pg1", 1)
        self.pub_port = o[TCP].sport
        synack = self.p("SA", seq=ISN_P, ack=isn_a + 1, opts=[("MSS", mss)])
        [i] = t.send("pg1", [synack], "pg0", 1)
        assert i[TCP].ack == isn_a + 1
        t.send("pg0", [self.a("A")], "pg1", 1)

    def a(self, flags, data=b"", seq=None, ack=None, opts=()):
        return (Ether(dst=self.t.mac["pg0"], src=self.t.A_MAC) / IP(src=S.A, dst=S.PROXY) /
                TCP(sport=A_TCP, dport=5060, flags=flags,
                    seq=self.a_seq if seq is None else seq,
                    ack=self.p_seq if ack is None else ack, options=list(opts)) / Raw(data))

    def p(self, flags, data=b"", seq=None, ack=None, opts=()):
        return (Ether(dst=self.t.mac["pg1"], src=self.t.ROUTER_MAC) /
                IP(src=S.PROXY, dst=S.PUB) /
                TCP(sport=5060, dport=self.pub_port, flags=flags,
                    seq=self.p_seq if seq is None else seq,
                    ack=self.a_seq if ack is None else ack, options=list(opts)) / Raw(data))

    def from_a(self, *datas, count=None, advance=True, seq=None):
        """A sends each data as one segment; returns the segments VPP forwards."""
        pkts, s = [], self.a_seq if seq is None else seq
        for d in datas:
            pkts.append(self.a("PA", d, seq=s))
            s += len(d)
        if advance:
            self.a_seq = s
        return self.t.send("pg0", pkts, "pg1", len(datas) if count is None else count)

    def from_p(self, *datas, count=None, ack=None):
        pkts, s = [], self.p_seq
        for d in datas:
            pkts.append(self.p("PA", d, seq=s, ack=ack))
            s += len(d)
        self.p_seq = s
        return self.t.send("pg1", pkts, "pg0", len(datas) if count is None else count)


def payload(p):
    return bytes(p[Raw]) if Raw in p else b""


def invite(conn, rtp=S.A_RTP):
    return S.invite(a_port=A_TCP, rtp=rtp)


def expected_invite(conn, out):
    rtp = media_port(out)
    return S.invite(a=S.PUB, a_port=conn.pub_port, rtp=rtp)


def test_invite_one_segment_and_seq_ack_shift(tcpnat):
    """An INVITE in one segment is rewritten like a datagram; the bytes it added shift A's
    later sequence numbers and the proxy's acknowledgements come back unshifted."""
    t = tcpnat
    c = Conn(t)
    inv = invite(c)
    [o] = c.from_a(inv)
    out = payload(o)
    assert out == expected_invite(c, out)
    assert b"192.168.1.1" not in out and tcp_ok(o)
    assert o[TCP].seq == ISN_A + 1
    delta = len(out) - len(inv)
    assert delta != 0
    # the proxy acknowledges what it received
    [i] = t.send("pg1", [c.p("A", ack=ISN_A + 1 + len(out))], "pg0", 1)
    assert i[TCP].ack == ISN_A + 1 + len(inv) and tcp_ok(i)
    # A's next segment (an ACK) leaves shifted by delta
    [o2] = t.send("pg0", [c.a("A")], "pg1", 1)
    assert o2[TCP].seq == c.a_seq + delta
    # pinholes as for UDP
    rtp = media_port(out)
    assert (f"{S.PUB}:{rtp}", f"{S.A}:{S.A_RTP}", "sip-rtp") in entries(t)
    assert t.counters()["tcp_conn"] == 1


def test_answer_rewritten_towards_inside(tcpnat):
    """The proxy's 200 OK with SDP comes back rewritten to A's address, its ACK field mapped
    into A's numbers."""
    t = tcpnat
    c = Conn(t)
    inv = invite(c)
    [o] = c.from_a(inv)
    ok = S.response(200, "OK", "INVITE", 1, S.PUB, c.pub_port, body=S.sdp(S.B, S.B_RTP))
    [i] = c.from_p(ok, ack=ISN_A + 1 + len(payload(o)))
    assert payload(i) == S.response(200, "OK", "INVITE", 1, S.A, A_TCP,
                                     body=S.sdp(S.B, S.B_RTP))
    assert i[TCP].ack == ISN_A + 1 + len(inv)
    assert i[TCP].seq == ISN_P + 1
    # the proxy's stream shifted by its own rewrite: A acks in its numbers, mapped back
    [a] = t.send("pg0", [c.a("A", ack=ISN_P + 1 + len(payload(i)))], "pg1", 1)
    assert a[TCP].ack == ISN_P + 1 + len(ok)
    assert tcp_ok(i) and tcp_ok(a)


def test_sack_edges_mapped(tcpnat):
    """SACK blocks of the proxy's ACKs are in the rewritten stream's numbers: mapped back."""
    t = tcpnat
    c = Conn(t)
    inv = invite(c)
    [o] = c.from_a(inv)
    n_out = len(payload(o))
    left, right = ISN_A + 1 + n_out + 100, ISN_A + 1 + n_out + 200
    dup = c.p("A", ack=ISN_A + 1 + n_out, opts=[("NOP", None), ("NOP", None),
                                                 ("SAck", (left, right))])
    [i] = t.send("pg1", [dup], "pg0", 1)
    sack = dict((k, v) for k, v in i[TCP].options)["SAck"]
    d = n_out - len(inv)
    assert sack == (left - d, right - d)
    assert tcp_ok(i)


@pytest.mark.parametrize("cut", [30, 200, -40], ids=["in-start-line", "in-headers", "in-body"])
def test_message_split_across_segments(tcpnat, cut):
    """An INVITE split anywhere: the first part leaves as an ACK without data, the whole
    rewritten message leaves with the second, from the first part's sequence number."""
    t = tcpnat
    c = Conn(t)
    inv = invite(c)
    first, second = inv[:cut], inv[cut:]
    [o1] = c.from_a(first)
    assert payload(o1) == b"" and o1[TCP].seq == ISN_A + 1
    [o2] = c.from_a(second)
    out = payload(o2)
    assert out == expected_invite(c, out) and o2[TCP].seq == ISN_A + 1 and tcp_ok(o2)
    assert t.counters()["tcp_partial"] == 1


def test_three_messages_in_one_segment(tcpnat):
    """Three requests in one segment: each rewritten, all in one segment in order."""
    t = tcpnat
    c = Conn(t)
    msgs = [S.request(m, S.A, A_TCP, k + 1) for k, m in enumerate(("OPTIONS", "INFO", "MESSAGE"))]
    [o] = c.from_a(b"".join(msgs))
    want = b"".join(S.request(m, S.PUB, c.pub_port, k + 1)
                    for k, m in enumerate(("OPTIONS", "INFO", "MESSAGE")))
    assert payload(o) == want and tcp_ok(o)
    assert t.counters()["sip"] == 3


def test_keepalive_crlf_passes(tcpnat):
    t = tcpnat
    c = Conn(t)
    [o] = c.from_a(b"\r\n\r\n")
    assert payload(o) == b"\r\n\r\n"
    [o] = c.from_a(invite(c))
    assert o[TCP].seq == ISN_A + 1 + 4


def test_out_of_order_dropped_then_in_order(tcpnat):
    """The second half before the first: dropped (the sender retransmits); then both in
    order give the whole rewritten message."""
    t = tcpnat
    c = Conn(t)
    inv = invite(c)
    first, second = inv[:100], inv[100:]
    assert c.from_a(second, count=0, advance=False, seq=ISN_A + 1 + 100) == []
    assert t.counters()["tcp_out_of_order"] == 1
    [o1] = c.from_a(first)
    [o2] = c.from_a(second)
    assert payload(o1) == b"" and payload(o2) == expected_invite(c, payload(o2))


def test_retransmission_gets_the_same_rewrite(tcpnat):
    """A resends its INVITE segment (the proxy never acknowledged it): the same rewritten
    bytes at the same sequence number, no new pinholes."""
    t = tcpnat
    c = Conn(t)
    inv = invite(c)
    [o] = c.from_a(inv)
    n_entries = len(t.server_map())
    [r] = c.from_a(inv, seq=ISN_A + 1, advance=False)
    assert payload(r) == payload(o) and r[TCP].seq == o[TCP].seq and tcp_ok(r)
    assert t.counters()["tcp_resent"] == 1
    assert wait_for(lambda: len(t.server_map()) == n_entries)


def test_retransmission_of_a_kept_part(tcpnat):
    """The first part of a split message sent again while the ALG still waits for the
    rest: still no data leaves."""
    t = tcpnat
    c = Conn(t)
    inv = invite(c)
    [o1] = c.from_a(inv[:100])
    [r] = c.from_a(inv[:100], seq=ISN_A + 1, advance=False)
    assert payload(r) == b""
    [o2] = c.from_a(inv[100:])
    assert payload(o2) == expected_invite(c, payload(o2))


def test_reset_mid_message(tcpnat):
    """A reset while part of a message is kept: the reset passes, the connection is
    forgotten shortly after, nothing of the message leaves."""
    t = tcpnat
    c = Conn(t)
    [o1] = c.from_a(invite(c)[:100])
    [r] = t.send("pg0", [c.a("R")], "pg1", 1)
    assert r[TCP].flags & 0x04
    assert wait_for(lambda: t.counters()["tcp_closed"] == 1, timeout=15)
    assert entries(t) == set()


def test_growth_past_mss_split(tcpnat):
    """The proxy announced MSS 536: an INVITE that grows past it leaves as two segments
    with consecutive sequence numbers whose bytes are the rewritten message."""
    t = tcpnat
    c = Conn(t, mss=536)
    inv = invite(c)
    pad = 536 - len(inv) - len("X-Pad: \r\n")
    inv = inv.replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\nX-Pad: " + b"x" * pad +
                      b"\r\n")
    assert len(inv) == 536
    got = c.from_a(inv, count=2)
    assert len(got) == 2
    got.sort(key=lambda p: p[TCP].seq)
    assert [len(payload(p)) for p in got][0] == 536
    assert got[1][TCP].seq == got[0][TCP].seq + 536
    out = payload(got[0]) + payload(got[1])
    rtp = media_port(out)
    assert b"192.168.1.1" not in out and len(out) > 536
    assert out.startswith(b"INVITE sip:bob@") and b"m=audio %d " % rtp in out
    assert all(tcp_ok(p) for p in got)
    assert t.counters()["tcp_split"] == 1


def test_non_sip_tcp_untouched(tcpnat):
    """TCP on other ports is not looked at; TCP on 5060 that is not SIP passes untouched
    and stops the connection's inspection (counted)."""
    t = tcpnat
    c = Conn(t)
    junk = b"\x00\x01binary junk that is not SIP\r\n\r\n"
    [o] = c.from_a(junk)
    assert payload(o) == junk
    assert t.counters()["tcp_overflow"] == 1


def test_transport_tcp_params(tcpnat):
    """Via SIP/2.0/TCP and a Contact with ;transport=tcp are rewritten like any other."""
    t = tcpnat
    c = Conn(t)
    tcpify = lambda m, a, p: m.replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP").replace(
        b"Contact: <sip:alice@%s:%d>" % (a.encode(), p),
        b"Contact: <sip:alice@%s:%d;transport=tcp>" % (a.encode(), p))
    inv = tcpify(invite(c), S.A, A_TCP)
    assert b";transport=tcp>" in inv and b"SIP/2.0/TCP" in inv
    [o] = c.from_a(inv)
    out = payload(o)
    assert out == tcpify(expected_invite(c, out), S.PUB, c.pub_port)


def test_new_connection_on_the_same_ports_starts_clean(tcpnat):
    """After a reset, a new connection between the same endpoints (a SYN) carries none of
    the old connection's offsets."""
    t = tcpnat
    c = Conn(t)
    [o] = c.from_a(invite(c))
    assert len(payload(o)) != len(invite(c))  # the old connection has an offset now
    t.send("pg0", [c.a("R")], "pg1", 1)
    c2 = Conn(t, isn_a=ISN_A + 100000)  # same ports, a later initial sequence number
    [o2] = t.send("pg0", [c2.a("A")], "pg1", 1)
    assert o2[TCP].seq == ISN_A + 100001


def test_tcp_signaling_entries_are_records(tcpnat):
    """Over TCP the connection carries in-dialog requests: the call's signaling entry is a
    record (Protocol: tcp), no NAT static mapping opens the port number to UDP."""
    t = tcpnat
    c = Conn(t)
    [o] = c.from_a(invite(c))
    rtp = media_port(payload(o))
    assert wait_for(lambda: len(t.server_map()) == 3)
    sig = [l for l in t.server_map() if "Appro: sip)" in l]
    assert len(sig) == 1 and sig[0].startswith(
        f"Type: ASPF, ANY -> {S.PUB}:{c.pub_port}[{S.A}:{A_TCP}], Protocol: tcp(Appro: sip)")
    assert sorted(t.static_mappings()) == sorted(
        f"UDP local {S.A}:{p} external {S.PUB}:{q} vrf 0"
        for p, q in ((S.A_RTP, rtp), (S.A_RTP + 1, rtp + 1)))


def test_inbound_call_over_a_registered_tcp_connection(tcpnat):
    """A phone registers over TCP; the registrar's INVITE comes back over the same
    connection, starts a call record through the binding, and the phone's answer gets
    its media pinholes."""
    t = tcpnat
    c = Conn(t)
    reg = S.register(a_port=A_TCP).replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP")
    [o] = c.from_a(reg)
    ok = S.register_ok(S.PUB, c.pub_port, expires=300).replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP")
    c.from_p(ok, ack=ISN_A + 1 + len(payload(o)))
    assert wait_for(lambda: any("tcp(Appro: sip)" in l for l in t.server_map()))
    inv = S.message(f"INVITE sip:alice@{S.PUB}:{c.pub_port};transport=tcp SIP/2.0", [
        f"Via: SIP/2.0/TCP {S.PROXY}:5060;branch=z9hG4bK-in1",
        "Max-Forwards: 69",
        f"From: <sip:bob@{S.PROXY}>;tag=b9",
        f"To: <sip:alice@{S.PROXY}>",
        "Call-ID: in-tcp-1@198.51.100.1",
        "CSeq: 1 INVITE",
        f"Contact: <sip:bob@{S.B}:{S.B_SIP};transport=tcp>",
    ], S.sdp(S.B, S.B_RTP))
    [i] = c.from_p(inv)
    assert f"INVITE sip:alice@{S.A}:{A_TCP};transport=tcp".encode() in payload(i)
    answer = S.message("SIP/2.0 200 OK", [
        f"Via: SIP/2.0/TCP {S.PROXY}:5060;branch=z9hG4bK-in1",
        f"From: <sip:bob@{S.PROXY}>;tag=b9",
        f"To: <sip:alice@{S.PROXY}>;tag=a9",
        "Call-ID: in-tcp-1@198.51.100.1",
        "CSeq: 1 INVITE",
        f"Contact: <sip:alice@{S.A}:{A_TCP};transport=tcp>",
    ], S.sdp(S.A, S.A_RTP))
    [a] = c.from_a(answer)
    rtp = media_port(payload(a))
    assert b"192.168.1." not in payload(a)
    assert (f"{S.PUB}:{rtp}", f"{S.A}:{S.A_RTP}", "sip-rtp") in entries(t)
    assert "in-tcp-1@198.51.100.1" in t.vpp.cli("show sip-alg calls")
    assert t.counters()["inbound_refused"] == 0


def test_defaults_inspect_tcp_5060(tcpnat):
    """A fresh VPP's ALG has UDP and TCP 5060 (get_config, show), as Linux, Juniper,
    Fortinet and Huawei inspect both by default."""
    t = tcpnat
    out = t.vpp.cli("show sip-alg config")
    assert re.search(r"^ports udp 5060$", out, re.M), out
    assert re.search(r"^ports tcp 5060 \(", out, re.M), out
    assert re.search(r"^ports tls 5061 \(encrypted: passed untouched", out, re.M), out


def test_tls_passes_untouched_and_counted(tcpnat):
    """SIP over TLS (TCP 5061) cannot be read: its segments cross the NAT byte for byte,
    each connection is counted once (tls) by its SYN, nothing else counted or created."""
    t = tcpnat
    mk = lambda flags, seq, data=b"": (
        Ether(dst=t.mac["pg0"], src=t.A_MAC) / IP(src=S.A, dst=S.PROXY) /
        TCP(sport=A_TCP, dport=5061, flags=flags, seq=seq, ack=0 if flags == "S" else 1) /
        Raw(data))
    [o] = t.send("pg0", [mk("S", 1000)], "pg1", 1)
    assert (o[IP].src, o[TCP].dport) == (S.PUB, 5061)
    rec = bytes([0x17, 3, 3, 0, 60]) + b"INVITE sip:bob@192.168.1.1 SIP/2.0\r\nVia: 192.168.1.1"
    [d] = t.send("pg0", [mk("PA", 1001, rec)], "pg1", 1)
    assert payload(d) == rec and tcp_ok(d)
    c = t.counters()
    assert (c["tls"], c["sip"], c["tcp_conn"]) == (1, 0, 0)
    assert t.server_map() == []
