# SPDX-License-Identifier: Apache-2.0
"""Tier 1: tenants in VRFs (issue 14 item 3), 0 and 2 workers.

Two tenants on one firewall, each inside in its own IPv4 table with the same inside network
(192.168.1.0/24, phone 192.168.1.1:2000 in both), NAT44-ED addresses per tenant
(`tenant-vrf`), one outside in the default table:

  pg0 table 10 "tenant-a" --\\                    /-- 203.0.113.10 (tenant-vrf 10)
                             NAT44-ED + ALG -- pg1 (table 0, public)
  pg2 table 20 "tenant-b" --/                    \\-- 203.0.113.11 (tenant-vrf 20)

Both phones send the same INVITE (same Call-ID, same ports). The ALG keeps two call records,
makes each tenant's pinholes as static mappings in the tenant's VRF, shows the VPN column
from the real tables, and the media and answers of each call reach their own tenant only.
"""

import re

import pytest

import sipmsgs as S
from pgnat import PgNat, pgnat_fixture
from scapy.all import Ether, IP, UDP, Raw
from test_pg import media_port, wait_for

PUB_A, PUB_B = "203.0.113.10", "203.0.113.11"


class PgTenants(PgNat):
    """pg0 (tenant-a, table 10) and pg2 (tenant-b, table 20) inside, pg1 outside."""

    def __enter__(self):
        v = self.vpp
        v.start()
        for c in [
            "create packet-generator interface pg0",
            "create packet-generator interface pg1",
            "create packet-generator interface pg2",
            "ip table add 10 name tenant-a",
            "ip table add 20 name tenant-b",
            "set interface ip table pg0 10",
            "set interface ip table pg2 20",
            f"set int ip address pg0 {self.INSIDE_GW}/24",
            f"set int ip address pg2 {self.INSIDE_GW}/24",
            f"set int ip address pg1 {self.OUTSIDE_GW}/24",
            "set int state pg0 up",
            "set int state pg1 up",
            "set int state pg2 up",
            f"ip neighbor pg0 {S.A} {self.A_MAC}",
            f"ip neighbor pg2 {S.A} {self.A_MAC}",
            f"ip neighbor pg1 203.0.113.2 {self.ROUTER_MAC}",
            "ip route add 198.51.100.0/24 via 203.0.113.2 pg1",
            # each tenant's table its own route out (docs/user-guide.md: NAT44-ED sets no
            # outgoing table on a flow the outside started through a static mapping)
            "ip route add 198.51.100.0/24 table 10 via 203.0.113.2 pg1",
            "ip route add 198.51.100.0/24 table 20 via 203.0.113.2 pg1",
            f"nat44 plugin enable sessions {self.sessions}",
            f"nat44 add address {PUB_A} tenant-vrf 10",
            f"nat44 add address {PUB_B} tenant-vrf 20",
            "set interface nat44 in pg0 in pg2 out pg1",
            "set sip-alg interface pg0",
            "set sip-alg interface pg1",
            "set sip-alg interface pg2",
        ]:
            v.cli_ok(c)
        self.mac = {i: self._mac(i) for i in ("pg0", "pg1", "pg2")}
        return self

    def udp(self, iface, src, sport, dst, dport, payload):
        peer_mac = self.ROUTER_MAC if iface == "pg1" else self.A_MAC
        return (Ether(dst=self.mac[iface], src=peer_mac) / IP(src=src, dst=dst) /
                UDP(sport=sport, dport=dport) / Raw(payload))


@pytest.fixture(params=[0, 2], ids=["0w", "2w"])
def tenants(vpp_prefix, request):
    yield from pgnat_fixture(vpp_prefix, request, request.param, cls=PgTenants)


def test_overlapping_tenants_kept_apart(tenants):
    t = tenants
    inv = S.invite()  # the same bytes from both tenants' phone 192.168.1.1:2000
    [pa] = t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)], "pg1", 1)
    [pb] = t.send("pg2", [t.udp("pg2", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, inv)], "pg1", 1)
    assert (pa[IP].src, pb[IP].src) == (PUB_A, PUB_B)
    body_a, body_b = bytes(pa[Raw]), bytes(pb[Raw])
    assert S.A.encode() not in body_a and S.A.encode() not in body_b
    assert PUB_A.encode() in body_a and PUB_B.encode() in body_b
    rtp_a, rtp_b = media_port(body_a), media_port(body_b)
    c = t.counters()
    assert c["calls_created"] == 2 and c["pinhole_failed"] == 0
    # two records, one per VRF, with the VPN column from the tables
    calls = t.vpp.cli("show sip-alg calls")
    assert len(re.findall(r"Call-ID: call-1@192\.168\.1\.1,", calls)) == 2, calls
    assert "VPN: public -> tenant-a" in calls and "VPN: public -> tenant-b" in calls
    assert wait_for(lambda: len(t.server_map()) == 6)
    smap = "\n".join(t.server_map())
    for pub, rtp, name in ((PUB_A, rtp_a, "tenant-a"), (PUB_B, rtp_b, "tenant-b")):
        line = next(l for l in t.server_map() if f"ANY -> {pub}:{rtp}[" in l)
        assert f"[{S.A}:{S.A_RTP}]" in line and f"VPN: public -> {name}" in line, smap
    sm = t.static_mappings()
    assert f"UDP local {S.A}:{S.A_RTP} external {PUB_A}:{rtp_a} vrf 10" in sm, sm
    assert f"UDP local {S.A}:{S.A_RTP} external {PUB_B}:{rtp_b} vrf 20" in sm, sm
    # outside-first media reaches each tenant's phone, on its own interface only
    rtp = b"\x80\x00" + bytes(170)
    got = t.send("pg1", [t.udp("pg1", S.B, S.B_RTP, PUB_A, rtp_a, rtp)], "pg0", 1)
    assert [(g[IP].dst, g[UDP].dport) for g in got] == [(S.A, S.A_RTP)]
    got = t.send("pg1", [t.udp("pg1", S.B, S.B_RTP, PUB_B, rtp_b, rtp)], "pg2", 1)
    assert [(g[IP].dst, g[UDP].dport) for g in got] == [(S.A, S.A_RTP)]
    # and each phone's answering RTP leaves by its own tenant's pinhole
    for iface, pub, port in (("pg0", PUB_A, rtp_a), ("pg2", PUB_B, rtp_b)):
        [o] = t.send(iface, [t.udp(iface, S.A, S.A_RTP, S.B, S.B_RTP, rtp)], "pg1", 1)
        assert (o[IP].src, o[UDP].sport) == (pub, port)
    # each answer goes back to its own tenant, mapped back
    for pub, p, iface in ((PUB_A, pa, "pg0"), (PUB_B, pb, "pg2")):
        ok = S.response(200, "OK", "INVITE", 1, pub, p[UDP].sport, body=S.sdp(S.B, S.B_RTP))
        [q] = t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, pub, p[UDP].sport, ok)],
                     iface, 1)
        assert (q[IP].dst, q[UDP].dport) == (S.A, S.A_PORT)
        assert pub.encode() not in bytes(q[Raw])
    assert wait_for(lambda: len(t.server_map()) == 12)
    # BYE from tenant a ends a's call only
    bye = S.request("BYE", S.A, S.A_PORT, 2)
    t.send("pg0", [t.udp("pg0", S.A, S.A_PORT, S.PROXY, S.PROXY_PORT, bye)], "pg1", 1)
    byeok = S.response(200, "OK", "BYE", 2, PUB_A, pa[UDP].sport)
    t.send("pg1", [t.udp("pg1", S.PROXY, S.PROXY_PORT, PUB_A, pa[UDP].sport, byeok)], "pg0", 1)
    assert wait_for(lambda: len(t.server_map()) == 6)
    assert all(PUB_B in l or S.B in l for l in t.server_map())
    calls = t.vpp.cli("show sip-alg calls")
    assert "tenant-b" in calls and "tenant-a" not in calls
