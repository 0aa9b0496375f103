# SPDX-License-Identifier: Apache-2.0
"""Tier 1 with the firewall on: VPP's ACL plugin as a deny-by-default security policy around
NAT44-ED and the ALG (pg1 outside: output ACL permit+reflect any, input ACL deny any).

What passes the policy: return traffic of flows that left (the ACL's reflect sessions) and
packets to a live server-map entry (sip-alg-pre's gate sends them past the input ACL).
What does not: everything else from outside, including the public ports of a call that
ended. Plus the hostile cases of issue 9, item 7: outside requests that may not create
state, forged registrar answers, caps on the server map, forbidden inside ports."""

import re

import pytest

import sipmsgs as S
import vpp_harness as h
from scapy.all import IP, UDP, Raw
from test_pg import entries, left_times, media_port, send_invite, wait_for

RTP = b"\x80\x00" + bytes(170)


def firewall(t):
    """The firewall of mgmt/examples/firewall.yaml by CLI: returns (reflect, deny) indices."""
    v = t.vpp
    idx = []
    for rule in ("permit+reflect tag fw-reflect", "deny tag fw-inbound"):
        out = v.cli(f"set acl-plugin acl {rule}")
        idx.append(int(re.search(r"ACL index:\s*(\d+)", out).group(1)))
    v.cli_ok(f"set acl-plugin interface pg1 output acl {idx[0]}")
    v.cli_ok(f"set acl-plugin interface pg1 input acl {idx[1]}")
    return idx


@pytest.fixture
def fw(pgnat02):
    firewall(pgnat02)
    return pgnat02


def acl_drops(t):
    """Packets the input ACL denied (acl-plugin-in-ip4-fa's counters, all threads)."""
    n = 0
    for line in t.vpp.cli("show errors").splitlines():
        m = re.match(r"\s*(\d+)\s+acl-plugin-in-ip4-fa\s+ACL deny packets", line)
        if m:
            n += int(m.group(1))
    return n


def nat_sessions(t):
    out = t.vpp.cli("show nat44 sessions")
    return len(re.findall(r"^\s+i2o ", out, re.M))


def answered_call(t):
    """INVITE out, 200 OK with B's SDP in (through the reflect session), ACK out; returns
    (public signaling port, public RTP port)."""
    _, p = send_invite(t)
    pub_port, rtp = p[UDP].sport, media_port(bytes(p[Raw]))
    ok = S.response(200, "OK", "INVITE", 1, S.PUB, pub_port, body=S.sdp(S.B, S.B_RTP))
    [q] = t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, ok)], "pg0", 1)
    assert (q[IP].dst, q[UDP].dport) == (S.A, S.A_PORT)
    ack = S.request("ACK", S.A, S.A_PORT, 1)
    t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, ack)], "pg1", 1)
    return pub_port, rtp


def hang_up(t, pub_port):
    """A's BYE out, the 200 OK in: the call's entries are gone."""
    bye = S.request("BYE", S.A, S.A_PORT, 2)
    t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, bye)], "pg1", 1)
    ok_bye = S.response(200, "OK", "BYE", 2, S.PUB, pub_port)
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, ok_bye)], "pg0", 1)
    assert wait_for(lambda: t.server_map() == [])


def test_features_order(fw):
    """The outside's features (`show interface features`, what every packet takes): the
    gate before the ACL, NAT after both, sip-alg-post not there. The path of the packets
    sip-alg-pre marks (`show sip-alg config`, made again when the ACL came after the ALG):
    the same, then sip-alg-post after NAT."""
    out = fw.vpp.cli("show interface features pg1")
    arc = out[out.index("ip4-unicast:"):].split(":", 1)[1]
    arc = arc[:re.search(r"^\S", arc, re.M).start()] if re.search(r"^\S", arc, re.M) else arc
    order = [n for n in re.findall(r"^\s+(?:\[\s*\d+\]\s+)?([a-z0-9-]+)", arc, re.M)]
    i = {n: order.index(n) for n in order}
    nat = "nat-pre-out2in" if "nat-pre-out2in" in i else "nat44-out2in-worker-handoff"
    assert i["sip-alg-pre"] < i["acl-plugin-in-ip4-fa"] < i[nat], order
    assert "sip-alg-post" not in i, order
    cfg = fw.vpp.cli("show sip-alg config")
    assert "gate before the input ACL" in cfg
    m = re.search(r"^interface pg1 .*\n  SIP packets: (.+)$", cfg, re.M)
    assert m, cfg
    sip = m.group(1).split()
    assert sip[0] == "sip-alg-pre" and sip.index("acl-plugin-in-ip4-fa") < sip.index(nat) < \
        sip.index("sip-alg-post"), sip
    assert order[order.index("sip-alg-pre"):order.index(nat) + 1] == sip[:sip.index(nat) + 1], \
        (order, sip)


def test_silent_caller_gets_media_through_the_policy(fw):
    """The seed's silent caller: B's RTP and RTCP arrive first, from an address A never sent
    to, and reach A through the deny-by-default policy; A's answer goes back out."""
    t = fw
    _, rtp = answered_call(t)
    t.vpp.cli_ok("trace add pg-input 10")
    media = [t.udp("pg1", S.B, S.B_RTP, S.PUB, rtp, RTP),
             t.udp("pg1", S.B, S.B_RTP + 1, S.PUB, rtp + 1, b"\x80\xc8" + bytes(26))]
    got = t.send("pg1", media, "pg0", 2)
    assert sorted((g[IP].dst, g[UDP].dport) for g in got) == [(S.A, S.A_RTP), (S.A, S.A_RTP + 1)]
    [o] = t.send("pg0", [t.udp("pg0", S.A, S.A_RTP, S.B, S.B_RTP, RTP)], "pg1", 1)
    assert (o[IP].src, o[UDP].sport) == (S.PUB, rtp)
    c = t.counters()
    assert c["gate_pass"] >= 3  # 200 OK to the signaling entry, RTP, RTCP
    assert c["gate_miss"] == 0
    sess = t.vpp.cli("show sip-alg sessions")
    assert re.search(rf"sip-rtp VPN: public --> public {S.B}:{S.B_RTP} --> {S.PUB}:{rtp}"
                     rf"\[{S.A}:{S.A_RTP}\] thread \d+ packets 1 bytes \d+", sess), sess
    assert re.search(r"policy verdicts: gate_pass \d+, gate_miss 0", sess), sess
    # the same through the binary API
    from sipalgctl import vpp as V
    with V.Client(f"{t.vpp.dir}/api.sock", t.vpp.prefix,
                  plugin_path=h.PLUGIN_DIR) as c:
        rows = c.dump("sip_alg_sessions_get", cursor=0xffffffff)
        smap = c.dump("sip_alg_server_map_get", cursor=0xffffffff)
    rtp_rows = [r for r in rows if r.public_port == rtp]
    assert len(rtp_rows) == 1 and rtp_rows[0].packets == 1
    r = rtp_rows[0]
    assert (str(r.remote_address), r.remote_port, str(r.inside_address), r.inside_port) == \
        (S.B, S.B_RTP, S.A, S.A_RTP)
    assert [e.gate_packets for e in smap if e.public_port == rtp + 1] == [1]
    tr = t.vpp.cli("show trace")
    assert re.search(r"gate: server-map entry \d+, past acl-plugin-in-ip4-fa to "
                     r"(nat-pre-out2in|nat44-out2in-worker-handoff)", tr), tr
    assert "acl-plugin-in-ip4-fa" not in re.sub(r"past acl-plugin-in-ip4-fa", "", tr)


def test_miss_meets_the_policy(fw):
    """To the public address, no live entry: the ACL drops it, nothing reaches the inside,
    no NAT session appears; a port in the media range is counted as a miss."""
    t = fw
    _, rtp = answered_call(t)
    before_sessions, before_drops = nat_sessions(t), acl_drops(t)
    probes = [t.udp("pg1", S.B, S.B_RTP, S.PUB, rtp + 2, RTP),  # media range, no entry
              t.udp("pg1", S.B, S.B_RTP, S.PUB, 12345, RTP),  # anywhere else
              t.udp("pg1", S.B, S.B_RTP, S.PUB, S.A_RTP, RTP)]  # the inside port itself
    assert t.send("pg1", probes, "pg0", 0) == []
    assert acl_drops(t) - before_drops == 3
    assert nat_sessions(t) == before_sessions
    assert t.counters()["gate_miss"] == 1


def test_media_range_ends_meet_the_gate(fw):
    """Both ends of the media range are the gate's: a packet to its first and to its last
    port, with no entry there, is a miss (counted, traced) that the ACL drops; the ports just
    outside it are not the gate's (dropped by the ACL, no verdict)."""
    t = fw
    t.vpp.cli_ok("set sip-alg media-ports 40000-40011")
    t.vpp.cli_ok("trace add pg-input 10")
    drops = acl_drops(t)
    probes = [t.udp("pg1", S.B, S.B_RTP, S.PUB, port, RTP) for port in (40000, 40011)]
    assert t.send("pg1", probes, "pg0", 0) == []
    assert t.counters()["gate_miss"] == 2
    tr = t.vpp.cli("show trace")
    assert tr.count("gate: no live server-map entry") == 2, tr
    outside = [t.udp("pg1", S.B, S.B_RTP, S.PUB, port, RTP) for port in (39999, 40012)]
    assert t.send("pg1", outside, "pg0", 0) == []
    assert t.counters()["gate_miss"] == 2
    assert acl_drops(t) - drops == 4


def test_closed_after_bye(fw):
    """After BYE the call's public ports meet the policy again: dropped, no session."""
    t = fw
    pub_port, rtp = answered_call(t)
    hang_up(t, pub_port)
    drops = acl_drops(t)
    late = [t.udp("pg1", S.B, S.B_RTP, S.PUB, rtp, RTP),
            t.udp("pg1", S.B, S.B_RTP + 1, S.PUB, rtp + 1, RTP),
            t.udp("pg1", S.B, S.B_SIP, S.PUB, pub_port, b"OPTIONS sip:x SIP/2.0\r\n\r\n")]
    assert t.send("pg1", late, "pg0", 0) == []
    assert acl_drops(t) - drops == 3
    assert t.counters()["gate_miss"] == 2  # the two media ports


def test_second_outside_host_closed_after_bye(fw):
    """Media from the answerer and from another outside host both pass the open pinhole,
    each with a NAT44-ED session of its own. Stock NAT44-ED's mapping delete removes only the
    first of them, so the other host's session outlives the call (docs/security.md); the
    gate still closes: after the BYE both hosts meet the policy, and the ACL drops both."""
    t = fw
    pub_port, rtp = answered_call(t)
    b2 = "198.51.100.7"
    for src in (S.B, b2):
        [p] = t.send("pg1", [t.udp("pg1", src, S.B_RTP, S.PUB, rtp, RTP)], "pg0", 1)
        assert (p[IP].dst, p[UDP].dport) == (S.A, S.A_RTP)
    hang_up(t, pub_port)
    drops = acl_drops(t)
    late = [t.udp("pg1", src, S.B_RTP, S.PUB, rtp, RTP) for src in (S.B, b2)]
    assert t.send("pg1", late, "pg0", 0) == []
    assert acl_drops(t) - drops == 2


def test_after_aging_dropped(fw):
    """An entry that aged out (media of an unanswered call) no longer passes."""
    t = fw
    t.vpp.cli_ok("set sip-alg timeouts media 2 signaling 2")
    _, p = send_invite(t)
    rtp = media_port(bytes(p[Raw]))
    [g] = t.send("pg1", [t.udp("pg1", S.B, S.B_RTP, S.PUB, rtp, RTP)], "pg0", 1)
    assert g[UDP].dport == S.A_RTP
    assert wait_for(lambda: t.server_map() == [], timeout=6)
    assert t.send("pg1", [t.udp("pg1", S.B, S.B_RTP, S.PUB, rtp, RTP)], "pg0", 0) == []


def inbound_invite(pub_port, call_id="in-1@198.51.100.1", cseq=1, body=None):
    return S.message(f"INVITE sip:alice@{S.PUB}:{pub_port} SIP/2.0", [
        f"Via: SIP/2.0/UDP {S.PROXY}:{S.PROXY_PORT};branch=z9hG4bK-in{cseq}",
        "Max-Forwards: 69",
        f"From: <sip:bob@{S.PROXY}>;tag=b9",
        f"To: <sip:alice@{S.PROXY}>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} INVITE",
        f"Contact: <sip:bob@{S.B}:{S.B_SIP}>",
    ], S.sdp(S.B, S.B_RTP) if body is None else body)


def inbound_ok(call_id="in-1@198.51.100.1"):
    """A's 200 OK with its SDP to the inbound INVITE."""
    return S.message("SIP/2.0 200 OK", [
        f"Via: SIP/2.0/UDP {S.PROXY}:{S.PROXY_PORT};branch=z9hG4bK-in1",
        f"From: <sip:bob@{S.PROXY}>;tag=b9",
        f"To: <sip:alice@{S.PROXY}>;tag=a9",
        f"Call-ID: {call_id}",
        "CSeq: 1 INVITE",
        f"Contact: <sip:alice@{S.A}:{S.A_PORT}>",
    ], S.sdp(S.A, S.A_RTP))


def register(t, expires=300):
    [r] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, S.register())],
                 "pg1", 1)
    pub_port = r[UDP].sport
    ok = S.register_ok(S.PUB, pub_port, expires=expires)
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, ok)], "pg0", 1)
    assert wait_for(lambda: any("sip" in l for l in t.server_map()))
    return pub_port


def test_inbound_call_to_registered_phone(fw):
    """A registered phone receives an INVITE from a new address through the policy (its
    binding entry), answers, and the media of the call flows both ways."""
    t = fw
    pub_port = register(t)
    # the INVITE comes from the proxy's address but a flow the reflect session never saw
    inv = inbound_invite(pub_port)
    [i] = t.send("pg1", [t.udp("pg1", S.PROXY, 5080, S.PUB, pub_port, inv)], "pg0", 1)
    assert (i[IP].dst, i[UDP].dport) == (S.A, S.A_PORT)
    assert f"sip:alice@{S.A}:{S.A_PORT}".encode() in bytes(i[Raw])
    [o] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, 5080, inbound_ok())], "pg1", 1)
    rtp = media_port(bytes(o[Raw]))
    assert b"192.168.1.1" not in bytes(o[Raw])
    [m] = t.send("pg1", [t.udp("pg1", S.B, S.B_RTP, S.PUB, rtp, RTP)], "pg0", 1)
    assert (m[IP].dst, m[UDP].dport) == (S.A, S.A_RTP)
    [b] = t.send("pg0", [t.udp("pg0", S.A, S.A_RTP, S.B, S.B_RTP, RTP)], "pg1", 1)
    assert (b[IP].src, b[UDP].sport) == (S.PUB, rtp)
    assert "in-1@198.51.100.1" in t.vpp.cli("show sip-alg calls")


def test_outside_invites_to_a_call_create_nothing(fw):
    """INVITEs from outside with fresh Call-IDs to a caller's signaling entry (no REGISTER
    binding) pass as the entry allows but make no call record and no entry."""
    t = fw
    pub_port, _ = answered_call(t)
    n_entries = len(t.server_map())
    # the measured attack: 5,000 INVITEs with fresh Call-IDs and SDP from one host
    flood = [t.udp("pg1", "198.51.100.66", 5060, S.PUB, pub_port,
                   inbound_invite(pub_port, call_id=f"flood-{k}@x", cseq=k))
             for k in range(5000)]
    t.send("pg1", flood, "pg0", 5000, timeout=30)
    c = t.counters()
    assert c["calls_created"] == 1 and c["inbound_refused"] == 5000
    assert len(t.server_map()) == n_entries


def test_inbound_calls_bounded_per_source(fw):
    """Through a binding, one outside address makes at most max-inbound-per-source records
    (per worker); the rest are counted."""
    t = fw
    t.vpp.cli_ok("set sip-alg security max-inbound-per-source 5")
    pub_port = register(t)
    flood = [t.udp("pg1", "198.51.100.66", 5060, S.PUB, pub_port,
                   inbound_invite(pub_port, call_id=f"flood-{k}@x", cseq=k, body=b""))
             for k in range(40)]
    t.send("pg1", flood, "pg0", 40, timeout=10)
    c = t.counters()
    assert c["inbound_refused"] == 35
    assert c["calls_created"] == 1 + 5  # the REGISTER's record and five calls


def test_inbound_calls_bounded(fw):
    """Through a binding, at most max-inbound-calls records of inbound calls (per worker),
    from any number of sources; the rest are counted."""
    t = fw
    t.vpp.cli_ok("set sip-alg security max-inbound-calls 3")
    pub_port = register(t)
    flood = [t.udp("pg1", f"198.51.100.{100 + k}", 5060, S.PUB, pub_port,
                   inbound_invite(pub_port, call_id=f"in-{k}@x", cseq=k, body=b""))
             for k in range(10)]
    t.send("pg1", flood, "pg0", 10, timeout=10)
    c = t.counters()
    assert c["inbound_refused"] == 7
    assert c["calls_created"] == 1 + 3  # the REGISTER's record and three calls


def test_forged_register_answer_ignored(fw):
    """A 200 OK to the REGISTER from another address than the registrar's (through the
    binding's entry) neither re-points nor stretches the binding."""
    t = fw
    pub_port = register(t, expires=300)
    forged = S.register_ok(S.PUB, pub_port, expires=4294967295)
    t.send("pg1", [t.udp("pg1", "198.51.100.66", 5060, S.PUB, pub_port, forged)], "pg0", 1)
    assert t.counters()["peer_mismatch"] == 1
    assert left_times(t)["sip"] <= 300


def test_binding_time_capped(fw):
    """The registrar's Expires is cut to max-binding-time."""
    t = fw
    t.vpp.cli_ok("set sip-alg security max-binding-time 100")
    register(t, expires=4294967295)
    assert 90 <= left_times(t)["sip"] <= 100


def test_entries_per_call_capped(fw):
    """An outside answer with many media lines adds entries only up to the call's cap."""
    t = fw
    t.vpp.cli_ok("set sip-alg security max-entries-per-call 6")
    _, p = send_invite(t)
    pub_port = p[UDP].sport
    many = S.sdp(S.B, S.B_RTP, [f"m=audio {5000 + 2 * k} RTP/AVP 0" for k in range(5)])
    ok = S.response(200, "OK", "INVITE", 1, S.PUB, pub_port, body=many)
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, ok)], "pg0", 1)
    assert wait_for(lambda: t.counters()["smap_full"] > 0)
    # six of the call's own, plus the phone's signaling entry, which every call of the
    # phone shares and none counts
    assert len(t.server_map()) == 7


def test_inside_media_port_outside_allowed_range(fw):
    """An inside SDP naming a port outside inside-media-ports opens nothing (counted), and a
    packet to where it would have been is dropped by the policy."""
    t = fw
    t.vpp.cli_ok("set sip-alg security inside-media-ports 10000-20000")
    t.vpp.cli_ok("trace add pg-input 10")
    _, p = send_invite(t)  # A's SDP offers port 3000
    assert {e[2] for e in entries(t)} == {"sip"}
    assert "refused: media_forbidden x1" in t.vpp.cli("show trace")
    c = t.counters()
    assert c["media_forbidden"] == 1
    assert b"m=audio 3000 " in bytes(p[Raw])  # left as it was: no public port behind it


def test_inside_media_ports_include_their_ends(fw):
    """inside-media-ports lo-hi takes both its ends: offers at lo (RTCP lo+1) and at hi-1
    (RTCP hi) are opened; at lo-1, and at hi (RTCP hi+1), nothing opens (counted)."""
    t = fw
    t.vpp.cli_ok("set sip-alg security inside-media-ports 10000-20001")
    for i, port in enumerate((10000, 20000, 9999, 20001)):
        inv = S.invite(rtp=port).replace(b"call-1@", b"call-r%d@" % i)
        [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)], "pg1", 1)
        assert (media_port(bytes(p[Raw])) == port) == (i >= 2), (port, bytes(p[Raw]))
    inside = {e[1] for e in entries(t) if e[2] != "sip"}
    assert inside == {f"{S.A}:{p}" for p in (10000, 10001, 20000, 20001)}, inside
    assert t.counters()["media_forbidden"] == 2


def test_scan_after_call_finds_nothing(fw):
    """After a call, UDP from outside to the ports the call used and to random ports reaches
    nothing inside and creates no NAT session."""
    import random
    t = fw
    pub_port, rtp = answered_call(t)
    hang_up(t, pub_port)
    sessions = nat_sessions(t)
    rnd = random.Random(9)
    ports = [pub_port, rtp, rtp + 1, S.A_PORT, S.A_RTP, 5060] + \
        [rnd.randrange(1, 65536) for _ in range(194)]
    scan = [t.udp("pg1", "198.51.100.99", 40000 + k, S.PUB, port, b"x")
            for k, port in enumerate(ports)]
    assert t.send("pg1", scan, "pg0", 0) == []
    assert nat_sessions(t) == sessions
    assert t.vpp.cli("show sip-alg sessions").strip().endswith(
        f"gate_miss {t.counters()['gate_miss']}")


def test_without_acl_no_gate_verdicts(pgnat):
    """No ACL on the interface: the gate stays out of the way (no verdicts counted)."""
    t = pgnat
    _, p = send_invite(t)
    rtp = media_port(bytes(p[Raw]))
    [g] = t.send("pg1", [t.udp("pg1", S.B, S.B_RTP, S.PUB, rtp, RTP)], "pg0", 1)
    assert g[UDP].dport == S.A_RTP
    c = t.counters()
    assert c["gate_pass"] == 0 and c["gate_miss"] == 0


def test_sip_looking_data_elsewhere_never_parsed(fw):
    """An INVITE with SDP inside a TCP stream (HTTP to port 80, and TCP to 5070: not a SIP
    TCP port; 5060 is one by default) or in UDP between non-SIP ports: passed untouched,
    nothing parsed, no entry."""
    from scapy.all import Ether, TCP
    t = fw
    inv = S.invite()
    tcp = lambda dport, flags, data=b"": (
        Ether(dst=t.mac["pg0"], src=t.A_MAC) / IP(src=S.A, dst=S.PROXY) /
        TCP(sport=40123, dport=dport, flags=flags, seq=1, ack=1) / Raw(data))
    # the connections first (NAT44-ED makes TCP sessions on a SYN)
    assert len(t.send("pg0", [tcp(80, "S"), tcp(5070, "S")], "pg1", 2)) == 2
    pkts = [tcp(80, "PA", inv), tcp(5070, "PA", inv),
            t.udp("pg0", S.A, 40124, S.PROXY, 8080, inv)]
    got = t.send("pg0", pkts, "pg1", 3)
    assert len(got) == 3
    assert all(bytes(g[Raw]) == inv for g in got)
    assert t.counters()["sip"] == 0
    assert t.server_map() == []
