# SPDX-License-Identifier: Apache-2.0
"""Tier 1: validation verdicts (issue 13 item 1) in a real VPP, 0 and 2 workers.

Each verdict beside the happy case it must leave alone: strict and lenient modes, an action
per malformed class, methods blocked from outside, per-source INVITE/REGISTER token
buckets, and limits per inside host. Every verdict has its counter, and the counters that
must not move are asserted too."""

import time

import pytest

import sipmsgs as S
from scapy.all import IP, UDP, TCP, Raw
from test_pg import entries, send_invite, wait_for
from test_pg_tcp import Conn, payload


def invite(call, a=S.A, a_port=S.A_PORT, rtp=S.A_RTP, body=None):
    """An INVITE of inside host a with its own Call-ID."""
    h = S.dialog(a, a_port, 1, "INVITE")
    h[4] = f"Call-ID: {call}@{a}"
    return S.message(f"INVITE sip:bob@{S.PROXY} SIP/2.0", h,
                     S.sdp(a, rtp) if body is None else body)


def from_a(t, data, a=S.A, expect=1, timeout=2.0):
    """data from inside host a to the proxy; the datagrams that leave on pg1."""
    return t.send("pg0", [t.udp("pg0", a, S.A_PORT, S.PROXY, S.PROXY_PORT, data)], "pg1",
                  expect, timeout=timeout)


def dropped(t, data, a=S.A):
    """data from inside leaves nothing on pg1."""
    return from_a(t, data, a=a, timeout=1.0) == []


def count(t, *names):
    c = t.counters()
    return tuple(c[n] for n in names)


BARE_LF = invite("lf").replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\n")
NO_MAX_FORWARDS = invite("nomf").replace(b"Max-Forwards: 70\r\n", b"")
BAD_VIA = invite("via").replace(b"Via: SIP/2.0/UDP 192.168.1.1:2000;branch=z9hG4bK-1;rport",
                                b"Via: SIP/2.0/UDP ;branch=z9hG4bK-1")
BAD_SDP = invite("sdp", body=S.sdp(S.A, S.A_RTP).replace(b"c=IN IP4", b"c=XX IP4"))
BAD_START = b"INVITE sip:bob@198.51.100.1 SIP/3.0\r\nVia: SIP/2.0/UDP 192.168.1.1:2000\r\n\r\n"


def test_lenient_mode_counts_leniency_strict_drops_it(pgnat02):
    """A bare LF passes rewritten in lenient mode (the default), counted as lenient; in
    strict mode it is a parse-class error, dropped, and the proper message still passes."""
    t = pgnat02
    [p] = from_a(t, BARE_LF)
    assert b"192.168.1.1" not in bytes(p[Raw])
    assert count(t, "lenient", "rewritten", "parse_error", "malformed_drop") == (1, 1, 0, 0)
    # a request without Max-Forwards is fine when lenient
    [p] = from_a(t, NO_MAX_FORWARDS)
    assert count(t, "header_error", "rewritten") == (0, 2)

    t.vpp.cli_ok("set sip-alg validation strict")
    assert "validation strict parse drop header drop sdp drop too-many drop" in \
        t.vpp.cli("show sip-alg config")
    assert dropped(t, BARE_LF.replace(b"call-lf", b"call-lf2"))
    assert dropped(t, NO_MAX_FORWARDS.replace(b"call-nomf", b"call-nomf2"))
    assert count(t, "parse_error", "header_error", "malformed_drop", "lenient") == (1, 1, 2, 1)
    # error-drop counts the verdict under sip-alg-post
    assert "malformed messages dropped" in t.vpp.cli("show errors")
    # a well-formed INVITE still passes, rewritten, with its pinholes
    [p] = from_a(t, invite("good"))
    assert b"192.168.1.1" not in bytes(p[Raw])
    assert count(t, "rewritten", "calls_created") == (3, 3)


def test_each_class_has_its_action(pgnat02):
    """Lenient with sdp drop: a bad SDP is dropped, a bad Via passes untouched. Strict with
    header pass: a bad Via passes untouched, a bad start line is dropped."""
    t = pgnat02
    t.vpp.cli_ok("set sip-alg validation lenient sdp drop")
    assert dropped(t, BAD_SDP)
    [p] = from_a(t, BAD_VIA)
    assert bytes(p[Raw]) == BAD_VIA  # untouched
    [p] = from_a(t, BAD_START)
    assert bytes(p[Raw]) == BAD_START
    assert count(t, "sdp_error", "header_error", "parse_error", "malformed_drop") == (1, 1, 1, 1)

    t.vpp.cli_ok("set sip-alg validation strict header pass")
    [p] = from_a(t, BAD_VIA)
    assert bytes(p[Raw]) == BAD_VIA
    assert dropped(t, BAD_START)
    assert dropped(t, BAD_SDP)
    assert count(t, "sdp_error", "header_error", "parse_error", "malformed_drop") == (2, 2, 2, 3)
    # nothing of a malformed message became state
    assert count(t, "calls_created", "pinhole_added") == (0, 0)


def test_truncated_datagram_follows_the_parse_class(pgnat02):
    t = pgnat02
    inv = invite("trunc")
    pkt = t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)
    pkt[UDP].len = len(inv) + 8 + 40  # longer than the packet
    got = t.send("pg0", [pkt], "pg1", 1, timeout=1.0)
    assert len(got) == 1 and count(t, "truncated", "malformed_drop") == (1, 0)
    t.vpp.cli_ok("set sip-alg validation parse drop")
    assert t.send("pg0", [pkt], "pg1", 1, timeout=1.0) == []
    assert count(t, "truncated", "malformed_drop") == (2, 1)


def outside_request(method, pub_port, call="call-1"):
    h = [f"Via: SIP/2.0/UDP {S.PROXY}:{S.PROXY_PORT};branch=z9hG4bK-o{method}",
         "Max-Forwards: 70", f"From: <sip:bob@{S.PROXY}>;tag=b1",
         f"To: <sip:alice@{S.PUB}:{pub_port}>", f"Call-ID: {call}-{method}@{S.PROXY}",
         f"CSeq: 1 {method}"]
    return S.message(f"{method} sip:alice@{S.PUB}:{pub_port} SIP/2.0", h)


def test_blocked_methods_from_outside_only(pgnat02):
    """block MESSAGE,OTHER: a MESSAGE from outside is dropped, one from inside passes
    rewritten; an unknown method from outside is dropped; OPTIONS (not listed) passes."""
    t = pgnat02
    t.vpp.cli_ok("set sip-alg validation block MESSAGE,OTHER")
    assert "block MESSAGE,OTHER" in t.vpp.cli("show sip-alg config")
    _, p = send_invite(t)  # A's NAT session to the proxy
    pub_port = p[UDP].sport

    def outside(method):
        req = outside_request(method, pub_port)
        return t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, req)],
                      "pg0", 1, timeout=1.0)

    assert outside("MESSAGE") == []
    assert outside("FOO") == []
    [o] = outside("OPTIONS")
    assert (o[IP].dst, o[UDP].dport) == (S.A, S.A_PORT)
    msg = S.request("MESSAGE", S.A, S.A_PORT, 5)
    [p] = from_a(t, msg)
    assert b"192.168.1.1" not in bytes(p[Raw])
    assert count(t, "method_blocked", "parse_error") == (2, 0)
    # back to none: the MESSAGE from outside goes through
    t.vpp.cli_ok("set sip-alg validation block none")
    assert len(outside("MESSAGE")) == 1
    assert count(t, "method_blocked") == (2,)


def test_invite_rate_per_source(pgnat02):
    """invite-rate 1 burst 3: of six INVITEs from A in one burst three pass, the rest are
    dropped (rate_limited); another inside host has its own bucket; A's in-dialog BYE is
    not rate-limited; a second later A has a token again."""
    t = pgnat02
    t.vpp.cli_ok("set sip-alg validation invite-rate 1 burst 3")
    assert "rate-limits invite 1/s burst 3" in t.vpp.cli("show sip-alg config")
    burst = [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, invite(f"r{i}"))
             for i in range(6)]
    got = t.send("pg0", burst, "pg1", 6, timeout=1.5)
    assert len(got) == 3
    assert count(t, "rate_limited", "calls_created") == (3, 3)
    other = [t.udp("pg0", S.A2, S.A_PORT, S.PROXY, S.PROXY_PORT, invite(f"o{i}", a=S.A2))
             for i in range(3)]
    assert len(t.send("pg0", other, "pg1", 3, timeout=1.5)) == 3
    bye = S.request("BYE", S.A, S.A_PORT, 2).replace(b"call-1@", b"r0@")
    assert len(from_a(t, bye)) == 1
    assert count(t, "rate_limited") == (3,)
    time.sleep(1.2)
    assert len(from_a(t, invite("later"))) == 1
    assert count(t, "rate_limited") == (3,)


def test_register_rate_per_source(pgnat02):
    t = pgnat02
    t.vpp.cli_ok("set sip-alg validation register-rate 1 burst 2")
    regs = [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, S.register(cseq=i))
            for i in range(1, 5)]
    assert len(t.send("pg0", regs, "pg1", 4, timeout=1.5)) == 2
    assert count(t, "rate_limited") == (2,)
    # INVITEs are not limited by the REGISTER bucket
    assert len(from_a(t, invite("inv"))) == 1


def test_rate_limited_invite_from_outside(pgnat02):
    """The bucket of an outside sender: INVITEs to a registered phone beyond the burst are
    dropped before they make call records."""
    t = pgnat02
    [r] = from_a(t, S.register())
    pub_port = r[UDP].sport
    ok = S.register_ok(S.PUB, pub_port, expires=300)
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, ok)], "pg0", 1)
    assert wait_for(lambda: len(entries(t)) == 1)
    t.vpp.cli_ok("set sip-alg validation invite-rate 1 burst 2")
    invs = []
    for i in range(5):
        h = S.dialog(S.B, S.B_SIP, 1, "INVITE")
        h[0] = f"Via: SIP/2.0/UDP {S.B}:{S.B_SIP};branch=z9hG4bK-in{i}"
        h[2] = f"From: <sip:bob@{S.B}>;tag=bi{i}"
        h[3] = f"To: <sip:alice@{S.PUB}:{pub_port}>"
        h[4] = f"Call-ID: in{i}@{S.B}"
        h[6] = f"Contact: <sip:bob@{S.B}:{S.B_SIP}>"
        req = S.message(f"INVITE sip:alice@{S.PUB}:{pub_port} SIP/2.0", h, S.sdp(S.B, S.B_RTP))
        invs.append(t.udp("pg1", S.B, S.B_SIP, S.PUB, pub_port, req))
    got = t.send("pg1", invs, "pg0", 5, timeout=1.5)
    assert len(got) == 2
    assert count(t, "rate_limited") == (3,)
    assert t.counters()["calls_created"] == 1 + 2  # the binding and two inbound calls


def test_calls_per_host(pgnat02):
    """max-calls-per-host 2: A's third call passes without a record (host_calls_full),
    A2 still gets one, and A gets one again when a call has ended."""
    t = pgnat02
    t.vpp.cli_ok("set sip-alg security max-calls-per-host 2")
    assert "max-calls-per-host 2" in t.vpp.cli("show sip-alg config")
    outs = [from_a(t, invite(f"h{i}"))[0] for i in range(3)]
    assert count(t, "calls_created", "host_calls_full") == (2, 1)
    # the third went out with its signaling translated but no media pinhole
    assert b"m=audio 3000 " in bytes(outs[2][Raw])
    from_a(t, invite("a2", a=S.A2), a=S.A2)
    assert count(t, "calls_created", "host_calls_full") == (3, 1)
    busy = S.response(486, "Busy Here", "INVITE", 1, S.PUB, outs[0][UDP].sport)
    busy = busy.replace(b"call-1@", b"h0@")
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, outs[0][UDP].sport, busy)],
           "pg0", 1)
    assert wait_for(lambda: t.counters()["calls_closed"] == 1)
    [p] = from_a(t, invite("h3"))
    assert b"m=audio 3000 " not in bytes(p[Raw])
    assert count(t, "calls_created", "host_calls_full") == (4, 1)


def test_entries_per_host(pgnat02):
    """max-entries-per-host 3: A's first call takes 3 (signaling, RTP, RTCP); its second
    call's RTP entry is refused (host_smap_full; no RTCP entry is tried on a pair whose RTP
    failed), A2's call is not touched."""
    t = pgnat02
    t.vpp.cli_ok("set sip-alg security max-entries-per-host 3")
    from_a(t, invite("e1"))
    assert wait_for(lambda: len(entries(t)) == 3)
    from_a(t, invite("e2", rtp=3010))
    assert wait_for(lambda: t.counters()["host_smap_full"] == 1)
    from_a(t, invite("e3", a=S.A2), a=S.A2)
    assert wait_for(lambda: len(entries(t)) == 6), (entries(t), t.counters())
    inside = [e[1] for e in entries(t) if e[1]]
    assert sum(1 for i in inside if i.startswith(S.A + ":")) == 3
    assert sum(1 for i in inside if i.startswith(S.A2 + ":")) == 3
    assert count(t, "smap_full", "pinhole_failed") == (0, 0)


def test_tcp_blocked_message_is_cut_out_of_the_stream(pgnat02):
    """Over TCP a dropped message leaves the stream: the proxy's MESSAGE (blocked) never
    reaches A, the segment goes on as a bare ACK, and the next message arrives with its
    sequence number moved back by the MESSAGE's length."""
    t = pgnat02
    t.vpp.cli_ok("set sip-alg ports udp 5060 tcp 5060")
    t.vpp.cli_ok("set sip-alg validation block MESSAGE")
    c = Conn(t)
    msg = outside_request("MESSAGE", c.pub_port)
    opts = outside_request("OPTIONS", c.pub_port)
    [i1] = c.from_p(msg)
    assert payload(i1) == b"" and i1[TCP].seq == 500001
    [i2] = c.from_p(opts)
    out = payload(i2)
    assert out.startswith(b"OPTIONS sip:alice@192.168.1.1:40500 ") and i2[TCP].seq == 500001
    # A's acknowledgement of the OPTIONS maps back to the proxy's own numbers
    [o] = t.send("pg0", [c.a("A", ack=500001 + len(out))], "pg1", 1)
    assert o[TCP].ack == 500001 + len(msg) + len(opts)  # the proxy's bytes, MESSAGE and all
    assert count(t, "method_blocked") == (1,)


@pytest.mark.parametrize("cmd, err", [
    ("set sip-alg validation block MESSAGE,FOO", "unknown method 'FOO'"),
    ("set sip-alg validation invite-rate 5 burst 0", "validation"),
    ("set sip-alg validation sdp maybe", "sdp: want pass or drop"),
])
def test_cli_names_the_bad_input(pgnat02, cmd, err):
    t = pgnat02
    before = t.vpp.cli("show sip-alg config")
    out = t.vpp.cli(cmd)
    assert err in out
    assert t.vpp.cli("show sip-alg config") == before  # nothing changed
