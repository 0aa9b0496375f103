# SPDX-License-Identifier: Apache-2.0
"""Tier 1: a call whose phone's signaling moves only after the call began, 0 workers.

Two inside phones, A to the proxy and X to another one, both from port 41000: NAT44-ED
keeps 41000 for both (its sessions differ by their remote end). Both INVITEs come in one
frame, so the ALG's node sees neither pinhole yet and both get a call record; the main
thread then makes A's signaling pinhole on 41000, and X's clashes with it: X's signaling
must move to a port of its own and X's INVITE is dropped once (sig_moved). When that move
cannot be made at once, X's retransmission still finds NAT's session on 41000, the move is
made then (with no call record in sight), and the next retransmission leaves by the new
port: the entry of that port must be the call's, and go with it.

This is the 10,000-call benchmark's rare case (perf/call_bench.py): the move's pool pair
was a phone's signaling port (pinhole_failed 1), and that phone's moved entry outlived its
call by the signaling timeout (120 s). The order needs both INVITEs in one dispatch before
the main thread runs, which only 0 workers make certain.
"""

import re

import pytest

import sipmsgs as S
from pgnat import pgnat_fixture
from scapy.all import IP, UDP
from test_pg import wait_for

PROXY2 = "198.51.100.5"  # X's proxy, routed out of pg1 like the first
X = "192.168.1.50"
PORT = 41000


@pytest.fixture
def pgnat0(vpp_prefix, request):
    yield from pgnat_fixture(vpp_prefix, request, 0)


def cid(msg, host):
    """msg with a Call-ID of host's own."""
    return msg.replace(b"call-1@", b"c-%s@" % host.encode())


def invite_no_sdp(host, port):
    """host's INVITE without an offer: it needs only its phone's signaling pinhole."""
    return cid(S.message(f"INVITE sip:bob@{S.PROXY} SIP/2.0", S.dialog(host, port, 1, "INVITE")),
               host)


def entries_of(t, host, port):
    """The server map's entries whose inside end is host:port."""
    return [e for e in t.server_map() if f"[{host}:{port}]" in e]


def clash_then_call(t):
    """A's and X's INVITEs in one frame: A's leaves by 41000, X's is dropped while its
    signaling moves. Returns X's INVITE (for its retransmissions)."""
    x_inv = t.udp("pg0", X, PORT, PROXY2, S.PROXY_PORT, invite_no_sdp(X, PORT))
    out = t.send("pg0", [t.udp("pg0", S.A, PORT, S.PROXY, S.PROXY_PORT,
                               invite_no_sdp(S.A, PORT)), x_inv], "pg1", 1)
    assert [(p[IP].dst, p[UDP].sport) for p in out] == [(S.PROXY, PORT)]
    assert t.counters()["sig_moved"] == 1
    return x_inv


def resend_until_out(t, x_inv, rounds=3):
    """X's retransmissions (as a phone sends them) until one leaves: its public port."""
    for _ in range(rounds):
        out = t.send("pg0", [x_inv], "pg1", 1, timeout=1.0)
        if out:
            return out[0][UDP].sport
    raise AssertionError(f"X's INVITE never left in {rounds} retransmissions")


def answer_and_end(t, pub):
    """X's call answered by its proxy, ACKed, ended by X's BYE and its 200."""
    ok = cid(S.response(200, "OK", "INVITE", 1, S.PUB, pub), X)
    assert len(t.send("pg1", [t.udp("pg1", PROXY2, S.PROXY_PORT, S.PUB, pub, ok)], "pg0",
                      1)) == 1
    for m in (S.request("ACK", X, PORT, 1), S.request("BYE", X, PORT, 2)):
        assert len(t.send("pg0", [t.udp("pg0", X, PORT, PROXY2, S.PROXY_PORT, cid(m, X))],
                          "pg1", 1)) == 1
    bye_ok = cid(S.response(200, "OK", "BYE", 2, S.PUB, pub), X)
    assert len(t.send("pg1", [t.udp("pg1", PROXY2, S.PROXY_PORT, S.PUB, pub, bye_ok)],
                      "pg0", 1)) == 1


def moved_to(t):
    """The port X's signaling moved to, from the log."""
    m = re.findall(rf"signaling of {re.escape(X)}:{PORT} moved from [\d.]+:{PORT} to "
                   r"[\d.]+:(\d+)", t.vpp.cli("show logging"))
    assert len(m) == 1, m
    return int(m[0])


def test_move_onto_a_signaling_port_is_passed_over(pgnat0):
    """The pool's first five pairs each hold a phone's signaling port (phones from 40000,
    40002, ... 40008 keep their ports), the sixth is free. The pool passes over four
    clashing pairs and hands out the fifth unchecked: X's move must pass over it too (its
    pinhole would be refused, pinhole_failed, and the move made on the retransmission
    without the call), and X's entry goes with X's call."""
    t = pgnat0
    v = t.vpp
    v.cli_ok("set sip-alg media-ports 40000-40011")
    phones = [(f"192.168.1.{60 + k}", 40000 + 2 * k) for k in range(5)]
    out = t.send("pg0", [t.udp("pg0", h, p, S.PROXY, S.PROXY_PORT, invite_no_sdp(h, p))
                         for h, p in phones], "pg1", len(phones))
    assert sorted(p[UDP].sport for p in out) == [p for _, p in phones]
    x_inv = clash_then_call(t)
    pub = resend_until_out(t, x_inv)
    assert pub == moved_to(t) == 40010
    assert [f"{S.PUB}:{pub}[" in e for e in entries_of(t, X, PORT)] == [True]
    answer_and_end(t, pub)
    assert wait_for(lambda: not entries_of(t, X, PORT)), entries_of(t, X, PORT)
    assert not [m for m in t.static_mappings() if f"local {X}:{PORT} " in m]
    c = t.counters()
    assert c["pinhole_failed"] == 0, [l for l in v.cli("show logging").splitlines()
                                      if "refused" in l]
    assert c["calls_closed"] == 1
    # the move passed over the one pair the pool handed out unchecked (40008, a phone's);
    # X's first INVITE was dropped before the ALG read it: its retransmission by 40010 is
    # the call's first INVITE, with no record to ask again for
    assert (c["move_skipped"], c["sig_reasked"]) == (1, 0), c
    assert len(t.server_map()) == len(phones) + 1  # the phones' and A's signaling entries


def test_move_after_the_pool_ran_dry(pgnat0):
    """Both media pairs are taken by two ringing calls when X's signaling must move
    (no_media_port); one call ends, X's retransmission moves it then (no call record on
    that path), and the next leaves by the new port: the entry there is X's call's, and
    goes with X's call (not 120 s later, by the signaling timeout)."""
    t = pgnat0
    v = t.vpp
    v.cli_ok("set sip-alg media-ports 40000-40003")
    callers = [("192.168.1.70", 5060), ("192.168.1.71", 5060)]
    out = t.send("pg0", [t.udp("pg0", h, p, S.PROXY, S.PROXY_PORT,
                               cid(S.invite(a=h, a_port=p, rtp=3000), h))
                         for h, p in callers], "pg1", 2)
    assert len(out) == 2
    assert "2 pairs shared by all threads, 2 in use" in v.cli("show sip-alg config")
    x_inv = clash_then_call(t)
    assert t.counters()["no_media_port"] == 1
    # the first caller hangs up before an answer: its pair goes back
    h, p = callers[0]
    cancel = cid(S.request("CANCEL", h, p, 1, to_tag=None), h)
    assert len(t.send("pg0", [t.udp("pg0", h, p, S.PROXY, S.PROXY_PORT, cancel)], "pg1", 1)) == 1
    assert wait_for(lambda: "2 pairs shared by all threads, 1 in use" in
                    v.cli("show sip-alg config"))
    pub = resend_until_out(t, x_inv)
    assert pub == moved_to(t) != PORT
    assert [f"{S.PUB}:{pub}[" in e for e in entries_of(t, X, PORT)] == [True]
    answer_and_end(t, pub)
    assert wait_for(lambda: not entries_of(t, X, PORT)), entries_of(t, X, PORT)
    assert not [m for m in t.static_mappings() if f"local {X}:{PORT} " in m]
    c = t.counters()
    assert c["calls_closed"] == 1
    # X's call has its record (from the retransmission that made the move); the next one,
    # by the new port, asked for its signaling pinhole again: that entry is the call's
    assert (c["sig_reasked"], c["move_skipped"]) == (1, 0), c
