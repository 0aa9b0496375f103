# SPDX-License-Identifier: Apache-2.0
"""Tier 1, threads: calls through VPP with 0, 2 and 4 workers.

NAT44-ED places every flow of an inside host, and every static mapping whose local address
is that host, on the worker chosen by a hash of the host's address. The ALG keeps its call
records on the worker that runs sip-alg-post for the call's signaling, requests pinholes from
the main thread (which owns the server map) and takes media ports from one pool shared by
all threads. These tests put signaling and media on different workers, send an in-dialog
request from an address the call has not seen, and check that everything ends on BYE."""

import json
import re
import subprocess
import sys

import sipmsgs as S
from scapy.all import IP, UDP, Raw
from test_pg import entries, media_port, send_invite, wait_for

A2_MAC = "02:00:00:00:01:02"


def nat_session_threads(t):
    """{(inside address, inside port): thread name} from `show nat44 sessions`."""
    out, thread = {}, None
    for line in t.vpp.cli("show nat44 sessions").splitlines():
        m = re.match(r"\s*-+\s*thread (\d+) (\S+):", line)
        if m:
            thread = m.group(2)
            continue
        m = re.match(r"\s*i2o (\d+\.\d+\.\d+\.\d+) proto udp port (\d+)", line, re.I)
        if m:
            out[(m.group(1), int(m.group(2)))] = thread
    return out


def call_threads(t):
    """{Call-ID: thread index} from `show sip-alg calls`."""
    return {m.group(2): int(m.group(1)) for m in
            re.finditer(r"Thread: (\d+), Call-ID: (\S+),", t.vpp.cli("show sip-alg calls"))}


def answer(t, pub_port, cseq=1):
    ok = S.response(200, "OK", "INVITE", cseq, S.PUB, pub_port, body=S.sdp(S.B, S.B_RTP))
    [q] = t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, ok)], "pg0", 1)
    return q


def hang_up(t, a, pub_port, call=b"call-1@"):
    """A's BYE to the proxy (from inside address a) and the 200 OK back."""
    bye = S.request("BYE", a, S.A_PORT, 2).replace(b"call-1@", call)
    t.send("pg0", [t.udp("pg0", a, S.A_PORT, S.PROXY, S.PROXY_PORT, bye)], "pg1", 1)
    ok_bye = S.response(200, "OK", "BYE", 2, S.PUB, pub_port).replace(b"call-1@", call)
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, ok_bye)], "pg0", 1)


def test_media_of_another_inside_host_refused_by_default(pgnat):
    """An inside party's SDP naming another inside host: without media-other-hosts no
    pinhole opens to it (a phone must not expose another host's ports), the address is
    left as it is and the refusal is counted."""
    t = pgnat
    t.vpp.cli_ok(f"ip neighbor pg0 {S.A2} {A2_MAC}")
    assert "media-other-hosts off" in t.vpp.cli("show sip-alg config")
    inv = S.invite(media_addr=S.A2)
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)], "pg1", 1)
    payload = bytes(p[Raw])
    assert b"c=IN IP4 192.168.1.2\r\n" in payload and media_port(payload) == S.A_RTP
    assert {x[2] for x in entries(t)} == {"sip"}
    c = t.counters()
    assert (c["media_refused"], c["rewritten"], c["no_media_port"]) == (1, 1, 0)
    # an outside address in the SDP is someone else's media, not a refusal
    inv2 = S.invite(media_addr=S.B).replace(b"call-1@", b"call-2@")
    t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv2)], "pg1", 1)
    assert t.counters()["media_refused"] == 1


def test_media_of_another_inside_host_on_another_worker(pgnat):
    """With media-other-hosts on, A's SDP offers media of another inside host (A2, a media
    server on the same LAN): its address is translated in o=/c=, its media gets public ports
    and pinholes, and NAT puts that media on A2's worker, another one than the call's
    signaling."""
    t = pgnat
    t.vpp.cli_ok(f"ip neighbor pg0 {S.A2} {A2_MAC}")
    t.vpp.cli_ok("set sip-alg media-other-hosts on")
    inv = S.invite(media_addr=S.A2)
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)], "pg1", 1)
    pub_port = p[UDP].sport
    rtp = media_port(bytes(p[Raw]))
    assert bytes(p[Raw]) == S.invite(a=S.PUB, a_port=pub_port, rtp=rtp)
    assert entries(t) == {
        (f"{S.PUB}:{pub_port}", f"{S.A}:{S.A_PORT}", "sip"),
        (f"{S.PUB}:{rtp}", f"{S.A2}:{S.A_RTP}", "sip-rtp"),
        (f"{S.PUB}:{rtp + 1}", f"{S.A2}:{S.A_RTP + 1}", "sip-rtcp"),
    }
    answer(t, pub_port)
    # outside first: B's RTP reaches the media host through the pinhole ...
    [m] = t.send("pg1", [t.udp("pg1", S.B, S.B_RTP, S.PUB, rtp, bytes(172))], "pg0", 1)
    assert (m[IP].dst, m[UDP].dport) == (S.A2, S.A_RTP)
    # ... and the media host's RTP leaves from the pinhole's public port
    [o] = t.send("pg0", [t.udp("pg0", S.A2, S.A_RTP, S.B, S.B_RTP, bytes(172))], "pg1", 1)
    assert (o[IP].src, o[UDP].sport) == (S.PUB, rtp)
    threads = nat_session_threads(t)
    sig, media = threads[(S.A, S.A_PORT)], threads[(S.A2, S.A_RTP)]
    if t.vpp.workers:
        assert sig.startswith("vpp_wk_") and media.startswith("vpp_wk_")
        assert sig != media, threads
    # BYE from A ends everything, the media host's pinholes on the other worker included
    hang_up(t, S.A, pub_port)
    assert wait_for(lambda: t.server_map() == [] and t.static_mappings() == [])
    c = t.counters()
    assert (c["calls_created"], c["calls_closed"], c["pinhole_removed"]) == (1, 1, 6)
    assert c["pinhole_expired"] == 0


def test_in_dialog_request_from_a_new_remote_ends_the_call(pgnat):
    """The proxy did not record-route: B sends its BYE straight to A's Contact, from an
    address and port the call has not used. It reaches A through the signaling pinhole, is
    handled on the worker that holds the call, and A's 200 OK ends the call at once (not by
    aging)."""
    t = pgnat
    _, p = send_invite(t)
    pub_port = p[UDP].sport
    rtp = media_port(bytes(p[Raw]))
    answer(t, pub_port)
    ack = S.request("ACK", S.A, S.A_PORT, 1)
    t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, ack)], "pg1", 1)
    [owner] = call_threads(t).values()
    if t.vpp.workers:
        assert owner >= 1, "the call is kept on a worker"

    bye = S.request_from_b("BYE", S.PUB, pub_port, 1)
    [q] = t.send("pg1", [t.udp("pg1", S.B, S.B_SIP, S.PUB, pub_port, bye)], "pg0", 1)
    assert (q[IP].src, q[IP].dst, q[UDP].dport) == (S.B, S.A, S.A_PORT)
    assert bytes(q[Raw]) == S.request_from_b("BYE", S.A, S.A_PORT, 1)
    ok = S.response_to_b(200, "OK", "BYE", 1, S.A, S.A_PORT)
    [r] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.B, S.B_SIP, ok)], "pg1", 1)
    assert (r[IP].src, r[UDP].sport, r[IP].dst) == (S.PUB, pub_port, S.B)
    assert bytes(r[Raw]) == S.response_to_b(200, "OK", "BYE", 1, S.PUB, pub_port)
    # within a few seconds, against 120 s of signaling timeout
    assert wait_for(lambda: t.server_map() == [] and t.static_mappings() == [], timeout=5)
    c = t.counters()
    assert (c["calls_closed"], c["pinhole_expired"]) == (1, 0)
    assert call_threads(t) == {}
    # every SIP message of the call (INVITE, 200, ACK, BYE, 200) ran on the owner's thread
    per_thread = t.thread_counters()
    sip = {th: n for (th, name), n in per_thread.items() if name == "SIP messages processed"}
    assert sum(sip.values()) == 5 == c["sip"], per_thread
    assert len([n for n in sip.values() if n]) == 1, sip
    # the media port pair went back to the pool
    assert rtp in range(40000, 60000, 2)
    assert re.search(r"\b0 in use\b", t.vpp.cli("show sip-alg config"))


def test_calls_on_different_workers_share_the_server_map_and_port_pool(pgnat):
    """Two callers whose signaling NAT puts on different workers: one server map with both
    calls' entries, distinct media ports from the shared pool, counters summed over threads
    (CLI and sipalgctl stats from the stats segment agree), and BYE clears each."""
    t = pgnat
    t.vpp.cli_ok(f"ip neighbor pg0 {S.A2} {A2_MAC}")
    _, p1 = send_invite(t)
    inv2 = S.invite(a=S.A2).replace(b"call-1@", b"call-2@")
    [p2] = t.send("pg0", [t.udp("pg0", S.A2, S.A_PORT, S.PROXY, S.PROXY_PORT, inv2)], "pg1", 1)
    rtp1, rtp2 = media_port(bytes(p1[Raw])), media_port(bytes(p2[Raw]))
    assert rtp1 != rtp2
    e = entries(t)
    assert len(e) == 6
    assert {x[1] for x in e} == {f"{S.A}:{S.A_PORT}", f"{S.A}:{S.A_RTP}", f"{S.A}:{S.A_RTP + 1}",
                                 f"{S.A2}:{S.A_PORT}", f"{S.A2}:{S.A_RTP}",
                                 f"{S.A2}:{S.A_RTP + 1}"}
    threads = call_threads(t)
    assert len(threads) == 2
    if t.vpp.workers:
        assert len(set(threads.values())) == 2, threads
    # counters: per thread in the stats segment, summed by the CLI and by sipalgctl
    c = t.counters()
    assert (c["sip"], c["calls_created"], c["pinhole_added"]) == (2, 2, 6)
    r = subprocess.run([sys.executable, "-m", "sipalgctl.cli", "--json", "stats",
                        "--stats-socket", f"{t.vpp.dir}/stats.sock"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout)
    for k in ("sip", "calls_created", "pinhole_added", "rewritten", "held"):
        assert stats[k] == c[k], (k, stats, c)
    # BYE of each caller, each on its own worker
    for a, p, cid in ((S.A, p1, b"call-1@"), (S.A2, p2, b"call-2@")):
        hang_up(t, a, p[UDP].sport, cid)
    assert wait_for(lambda: t.server_map() == [] and t.static_mappings() == [])
    assert t.counters()["calls_closed"] == 2


def test_one_host_can_use_the_whole_media_port_range(pgnat):
    """NAT44-ED puts all flows of one inside host (a PBX) on one worker; the media port pool
    is shared, so that worker can take every pair of the range, and no more: the next offer
    is counted as no_media_port and passes with its port untouched."""
    t = pgnat
    t.vpp.cli_ok("set sip-alg media-ports 40000-40019")  # 10 pairs
    pkts = [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT,
                  S.invite(rtp=3000 + 2 * i).replace(b"call-1@", b"call-%d@" % i))
            for i in range(11)]
    got = t.send("pg0", pkts, "pg1", 11, timeout=10)
    ports = sorted(media_port(bytes(g[Raw])) for g in got)
    # ten offers got the ten pairs; the last one kept its own port (3020): nothing left
    assert ports == [3020] + list(range(40000, 40020, 2)), ports
    c = t.counters()
    assert (c["no_media_port"], c["calls_created"]) == (1, 11)
    assert "10 pairs shared by all threads, 10 in use" in t.vpp.cli("show sip-alg config")
