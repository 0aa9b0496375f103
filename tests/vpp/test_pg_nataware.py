# SPDX-License-Identifier: Apache-2.0
"""Tier 1: phones that do their own NAT traversal (issue 22 item 4), with the defaults.

A phone that learned its public mapping by STUN writes it in its SDP (c=IN IP4
203.0.113.10, m=audio <its public port>): the ALG leaves it as written and opens that
mapping, so media the outside sends first reaches the phone (NAT44-ED's session of the
mapping takes only the STUN server's packets). A public endpoint that is not the sender's
own mapping (another host's, another port, one never seen) is neither rewritten nor opened,
and counted. Keepalives on the signaling flow (CRLF, double CRLF, STUN) pass, counted as
keepalives, never as malformed SIP."""

import os
import re

import pytest

import sipmsgs as S
from scapy.all import IP, UDP, Raw
from test_pg import entries, wait_for

STUN_SERVER = "198.51.100.3"


def stun_request(txid=b"sipalgtest01"):
    """A STUN Binding request (RFC 8489): type 1, no attributes, the magic cookie."""
    return b"\x00\x01\x00\x00\x21\x12\xa4\x42" + txid


def stun_mapping(t, a, port):
    """a:port sends a Binding request to the STUN server; returns the public port NAT44-ED
    gave it (the port the server would report)."""
    [o] = t.send("pg0", [t.udp("pg0", a, port, STUN_SERVER, 3478, stun_request())], "pg1", 1)
    assert o[IP].src == S.PUB and bytes(o[Raw]) == stun_request()
    return o[UDP].sport


def invite_public(pub_port, a=S.A, a_port=S.A_PORT):
    """A's INVITE whose SDP names the public address and port (as STUN told it)."""
    return S.invite(a=a, a_port=a_port, rtp=pub_port, media_addr=S.PUB)


def rtp(t, iface, src, sport, dst, dport):
    return t.udp(iface, src, sport, dst, dport, b"\x80\x00" + bytes(170))


def test_own_mapping_left_and_opened(pgnat):
    """STUN-learned c=/m= are not rewritten; ANY -> public:port[192.168.1.1:3000] is opened
    (sip-rtp); B's RTP sent first reaches A at 3000; the call's end removes the entry and
    leaves the media pool as it was."""
    t = pgnat
    pub = stun_mapping(t, S.A, S.A_RTP)
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT,
                               invite_public(pub))], "pg1", 1)
    out = bytes(p[Raw])
    assert f"c=IN IP4 {S.PUB}\r\n".encode() in out
    assert f"m=audio {pub} RTP/AVP 0\r\n".encode() in out
    assert b"192.168.1.1" not in out
    assert (f"{S.PUB}:{pub}", f"{S.A}:{S.A_RTP}", "sip-rtp") in entries(t)
    c = t.counters()
    assert (c["media_own"], c["media_not_own"]) == (1, 0)
    # the silent caller: the outside sends first, from an address the STUN server is not
    [m] = t.send("pg1", [rtp(t, "pg1", S.B, S.B_RTP, S.PUB, pub)], "pg0", 1)
    assert (m[IP].dst, m[UDP].dport) == (S.A, S.A_RTP)
    # and A's answer leaves from its mapping
    [o] = t.send("pg0", [rtp(t, "pg0", S.A, S.A_RTP, S.B, S.B_RTP)], "pg1", 1)
    assert (o[IP].src, o[UDP].sport) == (S.PUB, pub)
    # the call ends: nothing of it is left, the pool untouched
    pub_sig = p[UDP].sport
    ok = S.response(200, "OK", "INVITE", 1, S.PUB, pub_sig, rport=pub_sig, received=S.PUB,
                    body=S.sdp(S.B, S.B_RTP))
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_sig, ok)], "pg0", 1)
    t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT,
                         S.request("BYE", S.A, S.A_PORT, 2))], "pg1", 1)
    bye_ok = S.response(200, "OK", "BYE", 2, S.PUB, pub_sig)
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_sig, bye_ok)], "pg0", 1)
    assert wait_for(lambda: not [e for e in entries(t) if e[2] != "sip"]), entries(t)
    assert "(10000 pairs shared by all threads, 0 in use)" in t.vpp.cli("show sip-alg config")


def test_retransmitted_offer_reuses_own_mapping(pgnat):
    """The INVITE again (a retransmission): the same entry, no second one."""
    t = pgnat
    pub = stun_mapping(t, S.A, S.A_RTP)
    inv = t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, invite_public(pub))
    t.send("pg0", [inv], "pg1", 1)
    t.send("pg0", [inv], "pg1", 1)
    assert [e for e in entries(t) if e[2] == "sip-rtp"] == [
        (f"{S.PUB}:{pub}", f"{S.A}:{S.A_RTP}", "sip-rtp")]
    assert t.counters()["media_own"] == 1


def test_other_hosts_mapping_not_opened(pgnat):
    """The hostile twin: A names the public mapping of A2's port 3000 (A2 did the STUN):
    nothing is opened for it, the SDP is left alone, media_not_own counts it, and B's RTP
    to that port does not reach A."""
    t = pgnat
    pub2 = stun_mapping(t, S.A2, S.A_RTP)
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT,
                               invite_public(pub2))], "pg1", 1)
    assert f"m=audio {pub2} ".encode() in bytes(p[Raw])
    assert not [e for e in entries(t) if e[2] in ("sip-rtp", "sip-rtcp")]
    c = t.counters()
    assert (c["media_own"], c["media_not_own"]) == (0, 1)
    got = t.send("pg1", [rtp(t, "pg1", S.B, S.B_RTP, S.PUB, pub2)], "pg0", 1, timeout=1.0)
    assert not [g for g in got if g[IP].dst == S.A]


@pytest.mark.parametrize("claim", ["other-port", "never-seen"])
def test_own_address_other_port_not_opened(pgnat, claim):
    """A's own public address with a port that is not its mapping: one of A's other ports'
    mapping named for the wrong port, or a port no STUN request of A's showed."""
    t = pgnat
    pub = stun_mapping(t, S.A, S.A_RTP)
    port = pub + 2 if claim == "other-port" else 45678
    t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT,
                         invite_public(port))], "pg1", 1)
    assert not [e for e in entries(t) if e[2] in ("sip-rtp", "sip-rtcp")]
    assert t.counters()["media_not_own"] == 1


@pytest.mark.parametrize("ka", [b"\r\n", b"\r\n\r\n", stun_request(b"keepalive012")],
                         ids=["crlf", "double-crlf", "stun"])
def test_keepalives_pass_not_malformed(pgnat, ka):
    """Keepalives on the phone's signaling flow (RFC 5626 CRLF, double CRLF, STUN on the
    SIP port) cross the NAT unchanged and count as keepalives, never as malformed SIP."""
    t = pgnat
    [o] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, ka)], "pg1", 1)
    assert bytes(o[Raw]) == ka and o[IP].src == S.PUB
    c = t.counters()
    assert c["keepalive"] == 1
    assert (c["parse_error"], c["header_error"], c["malformed_drop"], c["lenient"]) == (0, 0, 0, 0)


def register_public(t):
    """A registers; the registrar's 200 OK (expires 600) comes back. Returns A's public
    signaling port."""
    [r] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, S.register())],
                 "pg1", 1)
    pub_port = r[UDP].sport
    ok = S.register_ok(S.PUB, pub_port, expires=600)
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, ok)], "pg0", 1)
    assert wait_for(lambda: (f"{S.PUB}:{pub_port}", f"{S.A}:{S.A_PORT}", "sip") in entries(t))
    return pub_port


def inbound_invite(pub_port, cseq=1):
    """The proxy's INVITE for the registered A (its public contact), from outside."""
    return S.message(f"INVITE sip:alice@{S.PUB}:{pub_port} SIP/2.0", [
        f"Via: SIP/2.0/UDP {S.PROXY}:{S.PROXY_PORT};branch=z9hG4bK-in{cseq}",
        "Max-Forwards: 69",
        f"From: <sip:carol@{S.PROXY}>;tag=c1",
        f"To: <sip:alice@{S.PROXY}>",
        f"Call-ID: inbound-{cseq}@{S.PROXY}",
        f"CSeq: {cseq} INVITE",
        f"Contact: <sip:carol@{S.B}:{S.B_SIP}>",
    ], S.sdp(S.B, S.B_RTP))


def test_binding_outlives_nat_idle_timeout(pgnat):
    """A registered phone stays reachable as long as its registration (600 s here), not
    NAT44-ED's UDP idle timeout: with NAT's UDP timeout at 2 s (NAT's knob, so the test
    need not wait 300 s) and the phone silent for 4 s, its NAT session is gone, and the
    proxy's INVITE still reaches it through the binding's entry."""
    t = pgnat
    t.vpp.cli_ok("set nat timeout udp 2")
    pub_port = register_public(t)
    # NAT44-ED's session of the phone's flow times out (it is deleted when next looked up)
    assert wait_for(lambda: re.search(r"timeout in -\d", t.vpp.cli("show nat44 sessions")),
                    timeout=8.0), t.vpp.cli("show nat44 sessions")
    [i] = t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port,
                               inbound_invite(pub_port))], "pg0", 1)
    assert (i[IP].dst, i[UDP].dport) == (S.A, S.A_PORT)
    assert bytes(i[Raw]).startswith(f"INVITE sip:alice@{S.A}:{S.A_PORT} SIP/2.0".encode())
    sig = [e for e in left_entries(t) if e[0] == f"{S.PUB}:{pub_port}"]
    assert sig and sig[0][1] > 500  # the registration's time, not the signaling 120 s


def left_entries(t):
    """(public endpoint, Left-Time in s) of every server-map entry."""
    import re
    out = []
    for line in t.server_map():
        m = re.search(r"-> (\S+?)(?:\[|,).*Left-Time: (\d+):(\d+):(\d+)", line)
        if m:
            out.append((m.group(1), int(m.group(2)) * 3600 + int(m.group(3)) * 60 +
                        int(m.group(4))))
    return out


def test_public_contact_keeps_receiving(pgnat):
    """A phone that fixed its Contact itself (pjsip's rport/received-based rewrite: it
    re-registers with the public address the registrar saw) is left alone and keeps
    receiving: a REGISTER with Contact 203.0.113.10:<its port>, then an INVITE of its own
    with that Contact, then the callee's in-dialog BYE to it reaches the phone."""
    t = pgnat
    pub_port = register_public(t)
    reg = S.register(cseq=2).replace(f"Contact: <sip:alice@{S.A}:{S.A_PORT}>".encode(),
                                     f"Contact: <sip:alice@{S.PUB}:{pub_port}>".encode())
    [r] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, reg)], "pg1", 1)
    assert f"Contact: <sip:alice@{S.PUB}:{pub_port}>;expires=600".encode() in bytes(r[Raw])
    ok = S.register_ok(S.PUB, pub_port, cseq=2, expires=600)
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, ok)], "pg0", 1)
    inv = S.invite().replace(f"Contact: <sip:alice@{S.A}:{S.A_PORT}>".encode(),
                             f"Contact: <sip:alice@{S.PUB}:{pub_port}>".encode())
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)], "pg1", 1)
    assert f"Contact: <sip:alice@{S.PUB}:{pub_port}>".encode() in bytes(p[Raw])
    okk = S.response(200, "OK", "INVITE", 1, S.PUB, pub_port, rport=pub_port, received=S.PUB,
                     body=S.sdp(S.B, S.B_RTP))
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, pub_port, okk)], "pg0", 1)
    bye = S.request_from_b("BYE", S.PUB, pub_port, 1)
    [i] = t.send("pg1", [t.udp("pg1", S.B, S.B_SIP, S.PUB, pub_port, bye)], "pg0", 1)
    assert (i[IP].dst, i[UDP].dport) == (S.A, S.A_PORT)


def test_keepalives_leave_the_binding_as_it_is(pgnat):
    """A registered phone's keepalives cross its binding's mapping; the binding's entry
    keeps the registration's time (neither cut to the signaling timeout nor stretched)."""
    t = pgnat
    pub_port = register_public(t)
    before = dict(left_entries(t))[f"{S.PUB}:{pub_port}"]
    for ka in (b"\r\n\r\n", stun_request(b"keepalive013")):
        [o] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, ka)], "pg1", 1)
        assert (o[IP].src, o[UDP].sport) == (S.PUB, pub_port)
    after = dict(left_entries(t))[f"{S.PUB}:{pub_port}"]
    assert before - 3 <= after <= before
    assert t.counters()["keepalive"] == 2


def test_ice_candidates_left_srflx_default_opened(pgnat):
    """An ICE phone whose default candidate (c=/m=) is its srflx mapping: the SDP leaves
    as written, candidates included; the mapping is opened once (c=/m= and the srflx
    candidate are one), a srflx candidate of a port it never mapped is not (counted)."""
    t = pgnat
    pub = stun_mapping(t, S.A, S.A_RTP)
    cands = [f"a=candidate:1 1 UDP 2130706431 {S.A} {S.A_RTP} typ host",
             f"a=candidate:2 1 UDP 1694498815 {S.PUB} {pub} typ srflx raddr {S.A} rport {S.A_RTP}",
             f"a=candidate:3 1 UDP 1694498814 {S.PUB} 45999 typ srflx raddr {S.A} rport 3002"]
    inv = S.message(f"INVITE sip:bob@{S.PROXY} SIP/2.0", S.dialog(S.A, S.A_PORT, 1, "INVITE"),
                    S.sdp(S.PUB, pub, cands + ["a=ice-ufrag:abcd", "a=ice-pwd:" + "p" * 22]))
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)], "pg1", 1)
    out = bytes(p[Raw])
    for line in cands + [f"c=IN IP4 {S.PUB}", f"m=audio {pub} RTP/AVP 0"]:
        assert (line + "\r\n").encode() in out, line
    assert {e for e in entries(t) if e[2] == "sip-rtp"} == {
        (f"{S.PUB}:{pub}", f"{S.A}:{S.A_RTP}", "sip-rtp")}
    c = t.counters()
    assert (c["media_own"], c["media_not_own"], c["ice_host_left"]) == (1, 1, 1)
    [m] = t.send("pg1", [rtp(t, "pg1", S.B, S.B_RTP, S.PUB, pub)], "pg0", 1)
    assert (m[IP].dst, m[UDP].dport) == (S.A, S.A_RTP)


def test_ice_host_default_rewritten_candidates_left(pgnat):
    """An ICE phone whose default candidate is its inside address: c=/m= rewritten to a
    pinhole pair as always, the a=candidate lines left as written (the remote sees an ICE
    mismatch and uses c=/m=, RFC 8445 5.4); its srflx mapping of the same port is covered
    by that pair, not mapped a second time."""
    t = pgnat
    pub = stun_mapping(t, S.A, S.A_RTP)
    cands = [f"a=candidate:1 1 UDP 2130706431 {S.A} {S.A_RTP} typ host",
             f"a=candidate:2 1 UDP 1694498815 {S.PUB} {pub} typ srflx raddr {S.A} rport {S.A_RTP}"]
    inv = S.message(f"INVITE sip:bob@{S.PROXY} SIP/2.0", S.dialog(S.A, S.A_PORT, 1, "INVITE"),
                    S.sdp(S.A, S.A_RTP, cands))
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)], "pg1", 1)
    out = bytes(p[Raw])
    for line in cands:
        assert (line + "\r\n").encode() in out, line
    assert f"c=IN IP4 {S.PUB}\r\n".encode() in out
    rtp_entries = [e for e in entries(t) if e[2] == "sip-rtp"]
    assert len(rtp_entries) == 1 and rtp_entries[0][1] == f"{S.A}:{S.A_RTP}"
    c = t.counters()
    assert (c["pinhole_failed"], c["ice_host_left"]) == (0, 1)


def test_ice_host_candidates_counted_once_each(pgnat):
    """Host candidates naming the sender's own inside address are counted, one per line
    (RTP and RTCP components); a host candidate of another address (a second interface)
    and a relayed one are left without counting; all stay as written."""
    t = pgnat
    cands = [f"a=candidate:1 1 UDP 2130706431 {S.A} {S.A_RTP} typ host",
             f"a=candidate:1 2 UDP 2130706430 {S.A} {S.A_RTP + 1} typ host",
             f"a=candidate:4 1 UDP 2130706175 10.9.9.9 {S.A_RTP} typ host",
             f"a=candidate:5 1 UDP 16777215 {S.B} 50000 typ relay raddr {S.PUB} rport 4000"]
    inv = S.message(f"INVITE sip:bob@{S.PROXY} SIP/2.0", S.dialog(S.A, S.A_PORT, 1, "INVITE"),
                    S.sdp(S.A, S.A_RTP, cands))
    [p] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)], "pg1", 1)
    out = bytes(p[Raw])
    for line in cands:
        assert (line + "\r\n").encode() in out, line
    c = t.counters()
    assert (c["ice_host_left"], c["media_own"], c["media_not_own"]) == (2, 0, 0)
