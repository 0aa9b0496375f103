# SPDX-License-Identifier: Apache-2.0
"""Tier 2 with the product's defaults (issue 22): nothing set by hand that the case tests.
VPP's af_packet interfaces keep VPP's 9000-byte MTU on the 1500-byte veths, and no
`set sip-alg ports` is given (SIP on UDP 5060 and TCP 5060, TLS on 5061 passed and counted);
with the firewall, `sipalgctl up` on mgmt/examples/firewall.yaml with its ports as they are.
0 and 2 workers, with and without the firewall:

- a call over TCP from A inside through Kamailio outside (TCP 5060), RTP both ways;
- a 4 KB INVITE over UDP through Kamailio (UDP 5060): it leaves A in IP fragments, and
  leaves VPP in fragments no larger than the veth's 1500 bytes although VPP's MTU is 9000;
- a TLS-like TCP connection to 5061: its bytes, inside addresses among them, cross the NAT
  unchanged, and the connection is counted (tls).

Nothing that leaves VPP on the outside names the inside network; RTP is counted each way
from the captures (at least 90% of what one side sent reaches the other)."""

import os
import re
import sys

import pytest

import vpp_harness as h
from capture import Capture, finish, wait_listening
from test_call import assert_media, run_call
from test_firewall_calls import FwTopo
from test_tcp_calls import assert_tcp_sip_clean, big_uac
from topo import topo_fixture

INSIDE_NET = b"192.168.1."
VARIANTS = [(0, False), (2, False), (0, True), (2, True)]


@pytest.fixture(params=VARIANTS, ids=[f"{w}w" + ("-fw" if fw else "") for w, fw in VARIANTS])
def dtopo(e2e_prefix, request, tmp_path):
    """The topology with the product's defaults; "-fw": brought up by sipalgctl with the
    firewall example."""
    workers, fw = request.param
    if not fw:
        yield from topo_fixture(e2e_prefix, request, workers=workers)
        return
    why = h.workers_unavailable(workers)
    if why:
        pytest.skip(why)
    with FwTopo(e2e_prefix, workers, str(tmp_path)) as t:
        yield t
        t.failed = h.failed_test(request)


def assert_defaults(t):
    """What the case runs with: the plugin's default ports, VPP's default MTU."""
    cfg = t.vcli("show sip-alg config")
    assert re.search(r"^ports udp 5060$", cfg, re.M), cfg
    assert re.search(r"^ports tcp 5060 \(", cfg, re.M), cfg
    assert re.search(r"^ports tls 5061 \(", cfg, re.M), cfg
    for i in (t.if_in_vpp, t.if_out_vpp):
        out = t.vcli(f"show interface host-{i}")
        assert re.search(r"\s9000/\d+/\d+/\d+\s", out), out  # MTU L3/IP4/IP6/MPLS
    if isinstance(t, FwTopo):
        assert "sipalgctl:inbound" in t.vcli("show acl-plugin acl")


def assert_media_both_ways(t, c):
    """RTP both ways: of what each side sent before the BYE (at least FLOOR of what its
    scenario plays), at least SHARE reached the other side (test_call.assert_media)."""
    return assert_media(t, c)


def assert_nothing_inside_outside(outside):
    """No packet on the outside veth names 192.168.1.x: not its IP header, not a byte of it."""
    from scapy.all import IP
    assert outside
    for p in outside:
        assert not p[IP].src.startswith("192.168.1.") and not p[IP].dst.startswith("192.168.1."), \
            p.summary()
        assert INSIDE_NET not in bytes(p[IP]), bytes(p[IP])


def fail_info(t, tmp):
    """What to read when a case fails."""
    out = ""
    for name in ("uac.log", "uas.log", "kamailio.log"):
        p = os.path.join(tmp, name)
        if os.path.exists(p):
            out += f"--- {name}\n" + open(p, errors="replace").read()[-1500:]
    for cmd in ("show sip-alg counters", "show errors", "show sip-alg server-map"):
        try:
            out += f"--- {cmd}\n" + t.vcli(cmd)
        except h.VPPError as e:
            out += f"--- {cmd}: {e}\n"
    return out


def test_tcp_call_through_proxy(dtopo, tmp_path):
    """(a) SIP over TCP to Kamailio's TCP 5060, inspected without `set sip-alg ports`: the
    call sets up, RTP flows both ways, nothing outside names the inside network."""
    t = dtopo
    tmp = str(tmp_path)
    assert_defaults(t)
    c = run_call(t, tmp, via_proxy=True, transport="tcp")
    assert (c.uac_rc, c.uas_rc) == (0, 0), fail_info(t, tmp)
    assert_media_both_ways(t, c)
    assert_nothing_inside_outside(c.outside)
    assert_tcp_sip_clean(c.outside)
    n = t.counters()
    assert n["tcp_conn"] >= 1 and n["sip"] >= 5, n
    assert n["tls"] == 0, n


def test_udp_4k_invite_fragmented(dtopo, tmp_path):
    """(b) A 4 KB INVITE over UDP through Kamailio: A's kernel sends it in IP fragments, VPP
    reassembles it and the ALG rewrites it; with VPP's MTU left at 9000 it still leaves in
    fragments that fit the 1500-byte veth. The call sets up and media flows both ways."""
    from scapy.all import IP, UDP, defragment
    t = dtopo
    tmp = str(tmp_path)
    assert_defaults(t)
    c = run_call(t, tmp, via_proxy=True, uac=big_uac(tmp))
    assert (c.uac_rc, c.uas_rc) == (0, 0), fail_info(t, tmp)
    frags_in = [p[IP] for p in c.inside if IP in p and (p[IP].flags.MF or p[IP].frag)]
    assert frags_in, "the INVITE did not leave A in fragments"
    assert_media_both_ways(t, c)
    sizes = [p[IP].len for p in c.outside if IP in p]
    print(f"outside: {len(sizes)} IP packets, largest {max(sizes)} bytes")
    assert max(sizes) <= 1500, sorted(sizes)[-5:]
    frags = [p[IP] for p in c.outside if IP in p and (p[IP].flags.MF or p[IP].frag)]
    assert frags, "the INVITE did not leave VPP in fragments"
    whole = [bytes(p[UDP].payload) for p in defragment(frags) if UDP in p and not p[IP].flags.MF]
    invites = [w for w in whole if w.startswith(b"INVITE ")]
    assert invites and all(len(w) > 3500 for w in invites), [len(w) for w in whole]
    assert all(INSIDE_NET not in w for w in whole)
    assert_nothing_inside_outside(c.outside)
    n = t.counters()
    assert n["fragmented"] >= 1, n


TLS_SERVER = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5061))
s.listen(1)
s.settimeout(20)
c, peer = s.accept()
c.settimeout(10)
got = b""
while True:
    d = c.recv(65536)
    if not d:
        break
    got += d
open(sys.argv[2], "wb").write(got)
c.sendall(open(sys.argv[3], "rb").read())
c.close()
print(peer[0], peer[1])
"""

TLS_CLIENT = r"""
import socket, sys
c = socket.create_connection((sys.argv[1], 5061), timeout=10)
c.sendall(open(sys.argv[2], "rb").read())
c.shutdown(socket.SHUT_WR)
got = b""
while True:
    d = c.recv(65536)
    if not d:
        break
    got += d
open(sys.argv[3], "wb").write(got)
"""


def tls_like(direction):
    """A TLS record header followed by what would be rewritten as SIP: Via, Contact and SDP
    naming the inside address."""
    sip = (f"INVITE sip:bob@198.51.100.2:5061;transport=tls SIP/2.0\r\n"
           f"Via: SIP/2.0/TLS 192.168.1.1:5061;branch=z9hG4bK-{direction}\r\n"
           f"Contact: <sip:alice@192.168.1.1:5061;transport=tls>\r\n"
           f"Content-Type: application/sdp\r\nContent-Length: 40\r\n\r\n"
           f"c=IN IP4 192.168.1.1\r\nm=audio 6000 RTP/AVP 0\r\n").encode()
    return b"\x16\x03\x01" + len(sip).to_bytes(2, "big") + sip + bytes(range(256))


def test_tls_passes_untouched(dtopo, tmp_path):
    """(c) A TCP connection from A to B's port 5061 through the NAT: the bytes each way, the
    inside address among them, arrive unchanged; the connection is counted once (tls) and
    nothing is parsed as SIP."""
    from scapy.all import IP, TCP
    t = dtopo
    tmp = str(tmp_path)
    assert_defaults(t)
    up, down = tls_like("up"), tls_like("down")
    paths = {k: os.path.join(tmp, k) for k in ("up", "down", "srv_got", "cli_got")}
    for k, v in (("up", up), ("down", down)):
        with open(paths[k], "wb") as f:
            f.write(v)
    for name, src in (("tls_server.py", TLS_SERVER), ("tls_client.py", TLS_CLIENT)):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(src)
    cap_out = Capture(t, t.ns_out, t.if_out, f"{tmp}/outside.pcap", "tcp port 5061")
    before = t.counters()
    srv = t.popen_in(t.ns_out, sys.executable, os.path.join(tmp, "tls_server.py"), t.B,
                     paths["srv_got"], paths["down"], log=f"{tmp}/server.log")
    wait_listening(t, t.ns_out, srv, [("tcp", t.B, 5061)], "the TLS-like server",
                   f"{tmp}/server.log")
    cli = t.popen_in(t.ns_in, sys.executable, os.path.join(tmp, "tls_client.py"), t.B,
                     paths["up"], paths["cli_got"], log=f"{tmp}/client.log")
    rc = (cli.wait(20), srv.wait(20))
    [outside] = finish([cap_out])  # it must have run all along
    logs = open(f"{tmp}/server.log").read() + open(f"{tmp}/client.log").read()
    assert rc == (0, 0), logs
    assert open(paths["srv_got"], "rb").read() == up
    assert open(paths["cli_got"], "rb").read() == down
    # the server saw the NAT address: the connection crossed NAT44-ED
    assert logs.split()[0] == t.PUB, logs
    seen = {(p[IP].src, p[IP].dst) for p in outside if IP in p}
    assert seen == {(t.PUB, t.B), (t.B, t.PUB)}, seen
    data_up = b"".join(bytes(p[TCP].payload) for p in outside if p[IP].src == t.PUB)
    assert up in data_up, data_up[:200]  # on the wire outside too, 192.168.1.1 and all
    n = t.counters()
    d = {k: n[k] - before.get(k, 0) for k in n}
    print(f"\nTLS: {len(up)} bytes up, {len(down)} down, {len(outside)} packets outside")
    assert d["tls"] == 1, d
    assert (d["sip"], d["tcp_conn"]) == (0, 0), d
