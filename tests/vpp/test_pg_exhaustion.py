# SPDX-License-Identifier: Apache-2.0
"""Tier 1: exhaustion (issue 13 item 2), 0 and 2 workers. The messages held for their
pinholes, the media port pool, the call table and NAT44-ED's session table reach their
limits under a burst of new calls: an established call's media and plain UDP flows go on
untouched, every refusal is counted, and the ALG serves new calls again once the burst is
over."""

import re
import time

import pytest

import sipmsgs as S
import vpp_harness as h
from pgnat import PgNat, pgnat_fixture
from scapy.all import IP, UDP, Raw
from test_pg import media_port, wait_for


def invite(i, host=S.A, port=S.A_PORT, rtp=S.A_RTP):
    """Call i's INVITE from inside host:port."""
    return S.invite(a=host, a_port=port, rtp=rtp).replace(b"call-1@", b"c%d@" % i)


def establish(t):
    """A's call 1 answered by B: (A's public signaling port, its public RTP port)."""
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, invite(1))],
                 "pg1", 1)
    pub, rtp_pub = p[UDP].sport, media_port(bytes(p[Raw]))
    ok = S.response(200, "OK", "INVITE", 1, S.PUB, pub, body=S.sdp(S.B, S.B_RTP))
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub, ok.replace(b"call-1@",
                                                                                 b"c1@"))],
           "pg0", 1)
    return pub, rtp_pub


def media_and_plain_udp_pass(t, rtp_pub, n=20):
    """B's RTP to A's public port and an unrelated UDP flow of A both cross VPP."""
    rtp = [t.udp("pg1", S.B, S.B_RTP, S.PUB, rtp_pub, b"\x80\x00" + bytes(170))] * n
    got = t.send("pg1", rtp, "pg0", n, timeout=3)
    plain = [t.udp("pg0", S.A, 7000, "198.51.100.9", 7000, b"dns-ish")] * n
    out = t.send("pg0", plain, "pg1", n, timeout=3)
    return (len(got) == n and all((g[IP].dst, g[UDP].dport) == (S.A, S.A_RTP) for g in got)
            and len(out) == n)


def hosts(n):
    return [f"192.168.1.{10 + i}" for i in range(n)]


def test_held_messages_bounded_then_retransmissions_served(pgnat02):
    """max-held 16: of 150 INVITEs from 150 phones in one burst, those beyond what the
    main thread has not yet served are dropped (held_full), none is lost otherwise, and
    the established call's media and plain UDP pass meanwhile; the phones' retransmissions
    get every call its record and pinholes."""
    t = pgnat02
    _, rtp_pub = establish(t)
    assert wait_for(lambda: len(t.server_map()) >= 3)
    n0 = len(t.server_map())
    t.vpp.cli_ok("set sip-alg max-held 16")
    assert re.search(r"max-held 16 per thread \(0 held now\)", t.vpp.cli("show sip-alg config"))
    # each phone on its own port, which NAT44-ED keeps (many on one port: issue 14)
    burst = [t.udp("pg0", h, 2100 + i, S.PROXY, S.PROXY_PORT,
                   invite(100 + i, host=h, port=2100 + i))
             for i, h in enumerate(hosts(150))]
    out = t.send("pg0", burst, "pg1", 150, timeout=4)
    c = t.counters()
    assert c["held_full"] > 0
    # dropped for the phones to resend: beyond max-held, and (with workers, where NAT44-ED
    # gives the phones' sessions ports anywhere) a phone's NAT port that is another
    # endpoint's pinhole (its signaling moves, sig_moved) or a pair that clashed with one
    dropped = c["held_full"] + c["sig_moved"] + c["port_clash"]
    assert len(out) + dropped == 150
    if t.workers == 0:
        # one thread takes the whole burst before the main thread serves a request: exactly
        # max-held INVITEs wait for their pinholes (and leave), the others are dropped
        assert (len(out), c["held_full"], c["sig_moved"] + c["port_clash"]) == (16, 134, 0)
    assert media_and_plain_udp_pass(t, rtp_pub)
    # the phones retransmit (T1 doubling), a few times at most; each new call gets three
    # entries (signaling, RTP, RTCP), none refused
    for _ in range(30):
        if wait_for(lambda: "(0 held now)" in t.vpp.cli("show sip-alg config")) and \
                t.counters()["calls_created"] == 151 and len(t.server_map()) == n0 + 150 * 3:
            break
        t.send("pg0", burst, "pg1", 0)
    c = t.counters()
    assert c["calls_created"] == 151
    assert len(t.server_map()) == n0 + 150 * 3
    assert c["pinhole_failed"] == 0
    assert media_and_plain_udp_pass(t, rtp_pub)


def test_media_pool_exhausted_then_released(pgnat02):
    """Three pairs: the established call keeps its pair, two more calls take the rest, the
    next offer passes with its own port (no_media_port) while the media and plain UDP go
    on; when a call ends its pair serves the next call."""
    t = pgnat02
    t.vpp.cli_ok("set sip-alg media-ports 40000-40005")
    pub, rtp_pub = establish(t)
    outs = [t.send("pg0", [t.udp("pg0", h, S.A_PORT, S.PROXY, S.PROXY_PORT,
                                 invite(10 + i, host=h))], "pg1", 1)[0]
            for i, h in enumerate(hosts(3))]
    ports = [media_port(bytes(o[Raw])) for o in outs]
    assert ports[:2] != [S.A_RTP] * 2 and ports[2] == S.A_RTP  # the third kept its own
    assert t.counters()["no_media_port"] == 1
    assert media_and_plain_udp_pass(t, rtp_pub)
    # the first of the two ends (486): its pair goes back, the next offer gets it
    busy = S.response(486, "Busy Here", "INVITE", 1, S.PUB, outs[0][UDP].sport)
    busy = busy.replace(b"call-1@", b"c10@").replace(S.A.encode(), hosts(1)[0].encode())
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, outs[0][UDP].sport, busy)],
           "pg0", 1)
    assert wait_for(lambda: "3 pairs shared by all threads, 2 in use" in
                    t.vpp.cli("show sip-alg config"))
    [o] = t.send("pg0", [t.udp("pg0", "192.168.1.40", S.A_PORT, S.PROXY, S.PROXY_PORT,
                               invite(20, host="192.168.1.40"))], "pg1", 1)
    assert media_port(bytes(o[Raw])) == ports[0]
    assert t.counters()["no_media_port"] == 1


def test_call_table_full_then_served_again(pgnat02):
    """max-calls 3 (per worker): the calls beyond it pass without a record (max_calls)
    while the established call's media and plain UDP go on; once calls end, new ones get
    records again."""
    t = pgnat02
    t.vpp.cli_ok("set sip-alg max-calls 3")
    _, rtp_pub = establish(t)
    outs = [t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT,
                                 invite(30 + i, rtp=3100 + 2 * i))], "pg1", 1)[0]
            for i in range(4)]
    c = t.counters()
    assert (c["calls_created"], c["max_calls"]) == (3, 2)
    assert media_and_plain_udp_pass(t, rtp_pub)
    # the two calls that have records end; the call table has room again
    for i in range(2):
        busy = S.response(486, "Busy Here", "INVITE", 1, S.PUB, outs[i][UDP].sport)
        t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, outs[i][UDP].sport,
                             busy.replace(b"call-1@", b"c%d@" % (30 + i)))], "pg0", 1)
    assert wait_for(lambda: t.counters()["calls_closed"] == 2)
    [o] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT,
                               invite(40, rtp=3200))], "pg1", 1)
    assert media_port(bytes(o[Raw])) != 3200  # a record, a media pair
    assert t.counters()["calls_created"] == 4
    assert media_and_plain_udp_pass(t, rtp_pub)


@pytest.fixture(params=(0, 2), ids=("0w", "2w"))
def small_nat(vpp_prefix, request):
    """The topology with NAT44-ED's session table at 64 per thread."""
    why = h.workers_unavailable(request.param)
    if why:
        pytest.skip(why)
    with PgNat(vpp_prefix, workers=request.param, sessions=64) as t:
        yield t
        t.failed = h.failed_test(request)


def test_nat_session_table_full_then_served_again(small_nat):
    """NAT44-ED's session table full (64 a thread): INVITEs of phones it has no room for
    are dropped by NAT44-ED, before the ALG sees them (no state, no counter of ours
    moves), while the established call's media and its phone's flow go on; once the flood's
    sessions time out, new calls are served again."""
    t = small_nat
    t.vpp.cli_ok("set nat timeout udp 2")
    _, rtp_pub = establish(t)
    # the phone's plain UDP flow has its session before the flood (a new flow would find
    # no room: NAT44-ED's limit, not the ALG's)
    assert media_and_plain_udp_pass(t, rtp_pub)
    created = t.counters()["calls_created"]
    burst = [t.udp("pg0", f"192.168.2.{1 + i}", 5060, S.PROXY, S.PROXY_PORT,
                   invite(200 + i, host=f"192.168.2.{1 + i}", port=5060))
             for i in range(200)]
    out = t.send("pg0", burst, "pg1", 200, timeout=3)
    assert 0 < len(out) < 200
    c = t.counters()
    # a record for each INVITE that left, and for each the main thread dropped after its
    # record was made (its NAT port or media pair clashed: sig_moved, port_clash)
    assert created + len(out) <= c["calls_created"] <= \
        created + len(out) + c["sig_moved"] + c["port_clash"]
    assert "maximum sessions exceeded" in t.vpp.cli("show errors")
    assert media_and_plain_udp_pass(t, rtp_pub)
    # the load ends: the flood's sessions expire (2 s), a new phone is served
    time.sleep(4)
    [o] = t.send("pg0", [t.udp("pg0", "192.168.3.1", 5060, S.PROXY, S.PROXY_PORT,
                               invite(500, host="192.168.3.1", port=5060))], "pg1", 1)
    assert media_port(bytes(o[Raw])) != S.A_RTP
    assert media_and_plain_udp_pass(t, rtp_pub)


@pytest.fixture(params=(0,), ids=("0w",))
def pgnat0(vpp_prefix, request):
    """The topology without workers: one thread takes every media pair, so the order the
    pool hands them out in is known."""
    yield from pgnat_fixture(vpp_prefix, request, 0)


def test_media_pool_search_comes_round_below_its_cursor(pgnat0):
    """Four pairs, one thread, which looks for a free pair from where it took its last one:
    calls take pairs 0-3; the calls on 0 and 2 end; the next two calls take 0 and 2 (the
    cursor now past 2); the call on 1 ends. With pair 3 above the cursor taken, the next
    call gets pair 1, below it: the search comes round to the start of the range."""
    t = pgnat0
    t.vpp.cli_ok("set sip-alg media-ports 40000-40007")
    hs, outs = hosts(7), {}

    def call(i):
        [o] = t.send("pg0", [t.udp("pg0", hs[i], S.A_PORT, S.PROXY, S.PROXY_PORT,
                                   invite(50 + i, host=hs[i]))], "pg1", 1)
        outs[i] = o
        return media_port(bytes(o[Raw]))

    def end(i, in_use):
        busy = S.response(486, "Busy Here", "INVITE", 1, S.PUB, outs[i][UDP].sport)
        busy = busy.replace(b"call-1@", b"c%d@" % (50 + i))
        t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, outs[i][UDP].sport, busy)],
               "pg0", 1)
        assert wait_for(lambda: f"4 pairs shared by all threads, {in_use} in use" in
                        t.vpp.cli("show sip-alg config"))

    assert [call(i) for i in range(4)] == [40000, 40002, 40004, 40006]
    end(0, 3)
    end(2, 2)
    assert [call(4), call(5)] == [40000, 40004]
    end(1, 3)
    assert call(6) == 40002
    assert t.counters()["no_media_port"] == 0
