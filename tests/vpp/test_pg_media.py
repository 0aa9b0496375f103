# SPDX-License-Identifier: Apache-2.0
"""Tier 1: one-way media made visible (issue 22 item 5), packet generator, 0 and 2 workers.

Per call and media stream (the inside party's RTP pinhole and the RTCP one of its pair) the
ALG counts packets inside -> outside (from the inside end) and outside -> inside (to the
public end) and when each last came; a stream of an established call with media one way only
for one-way-media seconds (default 5, 0: off) is flagged and counted once (media_one_way).
Seen in `show sip-alg calls` (a Stream line per stream) and the calls details of the API.
With 2 workers the packets of one direction arrive on both workers (pg streams pinned to
each), so the counts are the sum of the threads'."""

import os
import re
import time

import sipmsgs as S
import vpp_harness as h
from scapy.all import IP, UDP, wrpcap
from test_pg import wait_for
from test_pg_call_life import Call

RTP = b"\x80\x00" + bytes(170)
RTCP = b"\x80\xc8" + bytes(26)

STREAM = re.compile(r"^  Stream: (?P<pub>\S+)\[(?P<ins>\S+)\], Packets: in2out (?P<i2o>\d+) "
                    r"out2in (?P<o2i>\d+), Idle: in2out (?P<idle_i2o>\S+) out2in "
                    r"(?P<idle_o2i>\S+), One-Way: (?P<one_way>\S+)$", re.M)


def send_on(t, iface, pkts, out_iface, count, worker=0, timeout=5.0):
    """PgNat.send with the pg stream on a given worker (with workers; else the main
    thread): the packets enter VPP, and sip-alg-pre sees them, on that thread."""
    return t.send(iface, pkts, out_iface, count, timeout, worker=worker)


def b_media(t, pub, rtp=1, rtcp=0, worker=0):
    """B's RTP (and RTCP) to A's public ports: all reach A."""
    pkts = ([t.udp("pg1", S.B, S.B_RTP, S.PUB, pub, RTP)] * rtp +
            [t.udp("pg1", S.B, S.B_RTP + 1, S.PUB, pub + 1, RTCP)] * rtcp)
    got = send_on(t, "pg1", pkts, "pg0", len(pkts), worker)
    assert sorted((g[IP].dst, g[UDP].dport) for g in got) == \
        sorted([(S.A, S.A_RTP)] * rtp + [(S.A, S.A_RTP + 1)] * rtcp)


def a_media(t, pub, rtp=1, rtcp=0, worker=0):
    """A's RTP (and RTCP) to B: all leave by A's public ports."""
    pkts = ([t.udp("pg0", S.A, S.A_RTP, S.B, S.B_RTP, RTP)] * rtp +
            [t.udp("pg0", S.A, S.A_RTP + 1, S.B, S.B_RTP + 1, RTCP)] * rtcp)
    got = send_on(t, "pg0", pkts, "pg1", len(pkts), worker)
    assert sorted((g[IP].src, g[UDP].sport) for g in got) == \
        sorted([(S.PUB, pub)] * rtp + [(S.PUB, pub + 1)] * rtcp)


def streams(t):
    """The Stream lines of `show sip-alg calls`, as dicts."""
    calls = t.vpp.cli("show sip-alg calls")
    return [m.groupdict() for m in STREAM.finditer(calls)]


def one_way(t):
    """The one stream's One-Way column."""
    [s] = streams(t)
    return s["one_way"]


def api_streams(t):
    """[(call's n_streams, its streams)] of sip_alg_calls_get."""
    from sipalgctl import vpp as V
    with V.Client(f"{t.vpp.dir}/api.sock", t.vpp.prefix, plugin_path=h.PLUGIN_DIR) as c:
        return [(d.n_streams, d.streams[:d.n_streams])
                for d in c.dump("sip_alg_calls_get", cursor=0xffffffff)]


def test_media_both_ways_counted_per_direction(pgnat02):
    """RTP and RTCP both ways: each direction's packets (RTP and RTCP of the pair added,
    outside's spread over both workers when there are two), when each last came, no flag;
    the same in the API's calls details."""
    t = pgnat02
    assert "one-way-media 5 " in t.vpp.cli("show sip-alg config")
    c = Call(t)
    pub = c.establish()
    a_media(t, pub, rtp=3, rtcp=1, worker=0)
    b_media(t, pub, rtp=2, rtcp=1, worker=0)
    b_media(t, pub, rtp=2, worker=1)
    [s] = streams(t)
    assert s["pub"] == f"{S.PUB}:{pub}" and s["ins"] == f"{S.A}:{S.A_RTP}", s
    assert (int(s["i2o"]), int(s["o2i"])) == (4, 5), s
    assert re.match(r"00:00:0[0-2]$", s["idle_i2o"]) and re.match(r"00:00:0[0-2]$",
                                                                    s["idle_o2i"]), s
    assert s["one_way"] == "no"
    [(n, [d])] = api_streams(t)
    assert n == 1
    assert (str(d.public_address), d.public_port, str(d.inside_address), d.inside_port) == \
        (S.PUB, pub, S.A, S.A_RTP)
    assert (d.packets_in2out, d.packets_out2in) == (4, 5)
    assert d.idle_in2out <= 2 and d.idle_out2in <= 2 and not d.one_way
    assert t.counters()["media_one_way"] == 0
    # past the check's 5 s, media both ways is still not one-way
    time.sleep(4)
    a_media(t, pub)
    b_media(t, pub)
    assert wait_for(lambda: streams(t)[0]["i2o"] == "5" and streams(t)[0]["o2i"] == "6")
    assert one_way(t) == "no" and t.counters()["media_one_way"] == 0
    c.bye(2)
    assert wait_for(lambda: streams(t) == [])


def test_stream_before_any_media(pgnat02):
    """A stream without media yet: no packets, no last packet (- and ~0 in the API)."""
    t = pgnat02
    c = Call(t)
    pub = c.establish()
    [s] = streams(t)
    assert (s["pub"], s["i2o"], s["o2i"], s["idle_i2o"], s["idle_o2i"], s["one_way"]) == \
        (f"{S.PUB}:{pub}", "0", "0", "-", "-", "no"), s
    [(n, [d])] = api_streams(t)
    assert n == 1
    assert (d.packets_in2out, d.packets_out2in, d.idle_in2out, d.idle_out2in) == \
        (0, 0, 0xFFFFFFFF, 0xFFFFFFFF)


def test_one_way_media_knob(pgnat02):
    """one-way-media 2: the outside's early media while the call rings is not one-way; once
    answered, 2 s of B's media with none from A flags the stream (out2in), counted once
    however long it lasts; A's first packet clears the flag (the count stays); 0 turns the
    check off."""
    t = pgnat02
    t.vpp.cli_ok("set sip-alg timeouts one-way-media 2")
    assert "one-way-media 2 " in t.vpp.cli("show sip-alg config")
    c = Call(t)
    pub = c.invite()
    t0, sent = time.time(), 0
    while time.time() - t0 < 3:  # ringing: early media from B only
        b_media(t, pub, worker=1)
        sent += 1
        time.sleep(0.3)
    early = sent
    assert one_way(t) == "no" and t.counters()["media_one_way"] == 0
    answered = time.time()  # before the 200 leaves: VPP's clock starts when it passes
    c.answer(200, "OK", 1, sdp=S.B_RTP)
    c.ack(1)
    b_media(t, pub)
    sent += 1
    assert one_way(t) == "no"  # not 2 s yet since the answer
    while one_way(t) == "no" and time.time() - answered < 6:
        b_media(t, pub, worker=1)
        sent += 1
        time.sleep(0.3)
    flagged = time.time() - answered
    assert one_way(t) == "out2in" and 2 <= flagged <= 4.5, flagged
    assert wait_for(lambda: t.counters()["media_one_way"] == 1)
    [(n, [d])] = api_streams(t)
    assert n == 1
    # every packet B sent since the answer counted (early media may count too)
    assert d.one_way and d.packets_in2out == 0 and sent - early <= d.packets_out2in <= sent, \
        (sent, early, d.packets_out2in)
    for _ in range(5):  # still one-way: counted once
        b_media(t, pub)
        time.sleep(0.3)
    assert one_way(t) == "out2in" and t.counters()["media_one_way"] == 1
    a_media(t, pub, worker=1)
    assert one_way(t) == "no"
    [(n, [d])] = api_streams(t)
    assert n == 1
    assert not d.one_way and d.packets_in2out == 1
    time.sleep(1.2)  # an aging pass: nothing more counted
    assert t.counters()["media_one_way"] == 1
    t.vpp.cli_ok("set sip-alg timeouts one-way-media 0")
    assert "one-way-media 0 " in t.vpp.cli("show sip-alg config")
    assert one_way(t) == "off"


def test_one_way_media_default_5s(pgnat02):
    """The default check (5 s): A's RTP alone (B's never arrives: 'the ALG broke my audio')
    is not flagged at 3 s, is flagged in2out about 5-6 s after the answer, counted once."""
    t = pgnat02
    assert "one-way-media 5 " in t.vpp.cli("show sip-alg config")
    c = Call(t)
    pub = c.establish()
    answered = time.time()
    while time.time() - answered < 3:
        a_media(t, pub, worker=1)
        time.sleep(0.3)
    assert one_way(t) == "no" and t.counters()["media_one_way"] == 0
    while one_way(t) == "no" and time.time() - answered < 9:
        a_media(t, pub)
        time.sleep(0.3)
    flagged = time.time() - answered
    assert one_way(t) == "in2out" and 5 <= flagged <= 7, flagged
    assert wait_for(lambda: t.counters()["media_one_way"] == 1)
    calls = t.vpp.cli("show sip-alg calls")
    assert re.search(rf"Call-ID: call-1@{S.A}, State: confirmed.*\n  Stream: {S.PUB}:{pub}"
                     rf"\[{S.A}:{S.A_RTP}\], Packets: in2out \d+ out2in 0, Idle: in2out "
                     rf"00:00:0[0-4] out2in -, One-Way: in2out", calls), calls
