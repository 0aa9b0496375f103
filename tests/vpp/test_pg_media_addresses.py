# SPDX-License-Identifier: Apache-2.0
"""Tier 1: media on several public addresses (`set sip-alg media-addresses`), packet
generator, 0 and 2 workers.

Each media address has the whole media port range; calls spread over them (each thread
takes the next address for its next call, the one after while one is used up), a call's
streams all on one address, which a re-offer keeps. The SDP's connection addresses (c=,
a=rtcp) carry the media address, Via, Contact and o= the signaling one; the pinholes are
NAT44-ED static mappings on the media address, and media crosses them both ways. The
ports go back to their own address's pool; the list cannot change while ports are in use.
Media addresses are in pg1's network here (203.0.113.20-22): NAT44-ED answers ARP for one
while a static mapping uses it."""

import re

import pytest

import sipmsgs as S
from scapy.all import ARP, Ether, IP, UDP, Raw
from test_pg import entries, wait_for

MEDIA = ["203.0.113.20", "203.0.113.21", "203.0.113.22"]
RTP = b"\x80\x00" + bytes(170)


def hosts(n):
    return [f"192.168.1.{10 + i}" for i in range(n)]


class Call:
    """A call of an inside phone (host:port) through the proxy; Call-ID `c<i>@host`."""

    def __init__(self, t, i, host=S.A, port=S.A_PORT):
        self.t, self.i, self.host, self.port = t, i, host, port
        self.sig = None  # its public signaling port
        if host not in (S.A, S.A2):  # media reaches it: VPP needs its MAC
            t.vpp.cli_ok(f"ip neighbor pg0 {host} {t.A_MAC}")

    def _id(self, msg):
        return msg.replace(b"call-1@", b"c%d@" % self.i)

    def a_sends(self, msg, count=1):
        got = self.t.send("pg0", [self.t.udp("pg0", self.host, self.port, S.PROXY,
                                              S.PROXY_PORT, self._id(msg))], "pg1", count)
        if got and self.sig is None:
            self.sig = got[0][UDP].sport
        return got

    def b_sends(self, msg, count=1):
        return self.t.send("pg1", [self.t.udp("pg1", S.PROXY, S.PROXY_PORT, S.PUB, self.sig,
                                              self._id(msg))], "pg0", count)

    def offer(self, rtps, cseq=1, to_tag=None):
        """An INVITE (to_tag: a re-INVITE) with an audio stream per inside RTP port of rtps
        (RTCP one above, an a=rtcp line naming the address); returns the SDP that left."""
        lines = ["v=0", f"o=- 1 {cseq} IN IP4 {self.host}", "s=-", f"c=IN IP4 {self.host}",
                 "t=0 0"]
        for r in rtps:
            lines += [f"m=audio {r} RTP/AVP 0", f"a=rtcp:{r + 1} IN IP4 {self.host}"]
        body = "".join(l + "\r\n" for l in lines).encode()
        ruri = f"sip:bob@{S.PROXY}" if not to_tag else f"sip:bob@{S.B}:{S.B_SIP}"
        msg = S.message(f"INVITE {ruri} SIP/2.0",
                        S.dialog(self.host, self.port, cseq, "INVITE", to_tag=to_tag,
                                 branch=f"z9hG4bK-{self.i}-{cseq}"), body)
        [p] = self.a_sends(msg)
        return bytes(p[Raw])

    def answer(self, cseq=1):
        self.b_sends(S.response(200, "OK", "INVITE", cseq, S.PUB, self.sig,
                                body=S.sdp(S.B, S.B_RTP)))
        self.a_sends(S.request("ACK", self.host, self.port, cseq))

    def bye(self, cseq):
        self.a_sends(S.request("BYE", self.host, self.port, cseq))
        self.b_sends(S.response(200, "OK", "BYE", cseq, S.PUB, self.sig))


def sdp_of(msg):
    """(c= addresses, m= ports, a=rtcp (port, address)s, o= address, Via, Contact) of a SIP
    message that left VPP."""
    head, _, body = msg.partition(b"\r\n\r\n")
    return (re.findall(rb"^c=IN IP4 (\S+)\r$", body, re.M),
            [int(p) for p in re.findall(rb"^m=audio (\d+) ", body, re.M)],
            [(int(p), a) for p, a in re.findall(rb"^a=rtcp:(\d+) IN IP4 (\S+)\r$", body,
                                                  re.M)],
            re.search(rb"^o=- \d+ \d+ IN IP4 (\S+)\r$", body, re.M).group(1),
            re.search(rb"^Via: SIP/2.0/UDP (\S+?);", head, re.M).group(1),
            re.search(rb"^Contact: <sip:[^@]+@(\S+?)>", head, re.M).group(1))


def media_addr(t, msg, call):
    """The one media address of an offer that left VPP, after checking what it says: every
    c= and a=rtcp address that address, RTCP one port above RTP, o=, Via and Contact the
    signaling's public address and port."""
    conns, ports, rtcps, origin, via, contact = sdp_of(msg)
    assert len(set(conns)) == 1, conns
    addr = conns[0].decode()
    assert [a for _, a in rtcps] == [conns[0]] * len(ports)
    assert [p for p, _ in rtcps] == [p + 1 for p in ports]
    sig = f"{S.PUB}:{call.sig}".encode()
    assert (origin, via, contact) == (S.PUB.encode(), sig, sig), (origin, via, contact)
    return addr, ports


def use(t):
    """{media address: pairs in use} from `show sip-alg config`."""
    line = next(l for l in t.vpp.cli("show sip-alg config").splitlines()
                if l.startswith("media-addresses"))
    return {a: int(n) for a, n in re.findall(r"(\d+\.\d+\.\d+\.\d+) \((\d+) in use\)", line)}


def api_get(t):
    from sipalgctl import vpp as V
    import vpp_harness as h
    with V.Client(f"{t.vpp.dir}/api.sock", t.vpp.prefix, plugin_path=h.PLUGIN_DIR) as c:
        return c.call("sip_alg_get_media_addresses")


def api_set(t, addrs):
    from sipalgctl import vpp as V
    import vpp_harness as h
    with V.Client(f"{t.vpp.dir}/api.sock", t.vpp.prefix, plugin_path=h.PLUGIN_DIR) as c:
        try:
            c.call("sip_alg_set_media_addresses", n_addresses=len(addrs),
                   addresses=list(addrs) + ["0.0.0.0"] * (16 - len(addrs)))
        except V.ApiError as e:
            return e.retval
        return 0


def media_through(t, call, addr, pub, rtp, n=2):
    """B's RTP to addr:pub reaches call's phone at rtp, and the phone's RTP to B leaves
    from addr:pub: the pinhole on the media address, both ways."""
    pkts = [t.udp("pg1", S.B, S.B_RTP, addr, pub, RTP)] * n
    got = t.send("pg1", pkts, "pg0", n, timeout=3)
    inbound = [(g[IP].dst, g[UDP].dport) for g in got] == [(call.host, rtp)] * n
    pkts = [t.udp("pg0", call.host, rtp, S.B, S.B_RTP, RTP)] * n
    got = t.send("pg0", pkts, "pg1", n, timeout=3)
    outbound = [(g[IP].src, g[UDP].sport) for g in got] == [(addr, pub)] * n
    return inbound and outbound


def arp_answered(t, addr):
    """Does VPP answer the router's ARP request for addr on pg1 (outside)?"""
    req = (Ether(dst="ff:ff:ff:ff:ff:ff", src=t.ROUTER_MAC) /
           ARP(op=1, hwsrc=t.ROUTER_MAC, psrc="203.0.113.2", pdst=addr))
    got = t.send("pg1", [req], "pg1", 1, timeout=1.5)
    return any(ARP in g and g[ARP].op == 2 and g[ARP].psrc == addr and
               g[ARP].hwsrc == t.mac["pg1"] for g in got)


def set_media(t, addrs):
    t.vpp.cli_ok("set sip-alg media-addresses " + " ".join(addrs))


def test_calls_spread_sdp_and_media_on_the_address(pgnat02):
    """Three media addresses, six calls of six phones: every call's c= and a=rtcp carry one
    media address (Via, Contact, o= the NAT's), the calls spread over all three, the server
    map's and NAT44-ED's mappings are on the media address, media crosses each call's
    pinhole both ways, and NAT44-ED answers ARP for an address while it has a mapping."""
    t = pgnat02
    assert not arp_answered(t, MEDIA[0])  # no mapping on it yet
    set_media(t, MEDIA)
    cfg = t.vpp.cli("show sip-alg config")
    assert "pairs per media address shared by all threads, 0 in use" in cfg, cfg
    assert "media-addresses 203.0.113.20 (0 in use) 203.0.113.21 (0 in use) " \
           "203.0.113.22 (0 in use)" in cfg, cfg
    calls, got = [], []
    for i, h in enumerate(hosts(6)):
        c = Call(t, i, host=h)
        addr, [pub] = media_addr(t, c.offer([S.A_RTP]), c)
        c.answer()
        calls.append(c)
        got.append((addr, pub))
    n = {a: sum(1 for x, _ in got if x == a) for a in MEDIA}
    assert sum(n.values()) == 6 and min(n.values()) >= 1, got
    # one address after another per thread: even on one thread, within one of each other
    # with two workers (each thread starts at another address)
    assert max(n.values()) - min(n.values()) <= (0 if t.workers == 0 else 2), got
    assert use(t) == n
    for c, (addr, pub) in zip(calls, got):
        es = entries(t)
        assert (f"{addr}:{pub}", f"{c.host}:{S.A_RTP}", "sip-rtp") in es, es
        assert (f"{addr}:{pub + 1}", f"{c.host}:{S.A_RTP + 1}", "sip-rtcp") in es, es
        assert (f"{S.PUB}:{c.sig}", f"{c.host}:{S.A_PORT}", "sip") in es, es
        assert any(f"local {c.host}:{S.A_RTP} external {addr}:{pub} " in m
                   for m in t.static_mappings()), t.static_mappings()
        assert media_through(t, c, addr, pub, S.A_RTP)
    assert arp_answered(t, MEDIA[0])


def test_bye_gives_the_pair_back_to_its_address(pgnat02):
    """Two addresses, two calls of one phone (one thread): one on each; each call's BYE
    gives its pair back to its own address's pool (the other's count stays), the pinhole on
    it goes, and the thread's next call is on the first address again."""
    t = pgnat02
    set_media(t, MEDIA[:2])
    a, b = Call(t, 1), Call(t, 2)
    addr_a, [pub_a] = media_addr(t, a.offer([S.A_RTP]), a)
    a.answer()
    addr_b, [pub_b] = media_addr(t, b.offer([S.A_RTP + 10]), b)
    b.answer()
    assert {addr_a, addr_b} == set(MEDIA[:2])
    assert use(t) == {addr_a: 1, addr_b: 1}
    g = api_get(t)
    assert (g.n_addresses, [str(x) for x in g.addresses[:2]], list(g.in_use[:2])) == \
        (2, MEDIA[:2], [1, 1])
    assert g.pairs == 10000 and g.in_use_signaling == 0
    a.bye(2)
    assert wait_for(lambda: use(t) == {addr_a: 0, addr_b: 1}), use(t)
    assert not any(f"{addr_a}:" in e[0] for e in entries(t)), entries(t)
    assert not any(f"external {addr_a}:" in m for m in t.static_mappings())
    assert media_through(t, b, addr_b, pub_b, S.A_RTP + 10)
    # the thread's turn is addr_a's again: a pair of addr_a's pool, which has one free
    # pair less than before the BYE gave it back
    c = Call(t, 3)
    addr_c, [pub_c] = media_addr(t, c.offer([S.A_RTP + 20]), c)
    assert addr_c == addr_a and use(t) == {addr_a: 1, addr_b: 1}
    c.answer()
    assert media_through(t, c, addr_c, pub_c, S.A_RTP + 20)
    # the other address's call ends: its own pool gives the pair back, the first keeps c's
    b.bye(2)
    assert wait_for(lambda: use(t) == {addr_a: 1, addr_b: 0}), use(t)
    c.bye(2)
    assert wait_for(lambda: use(t) == {addr_a: 0, addr_b: 0}), use(t)
    assert api_get(t).in_use[:2] == [0, 0]


def test_reoffer_keeps_the_address(pgnat02):
    """A re-INVITE that moves the stream and adds a second one: both new pairs on the
    call's address, though the thread's next call would take the other one."""
    t = pgnat02
    set_media(t, MEDIA[:2])
    c = Call(t, 1)
    addr, [pub] = media_addr(t, c.offer([S.A_RTP]), c)
    c.answer()
    addr2, ports = media_addr(t, c.offer([S.A_RTP + 2, S.A_RTP + 4], cseq=2, to_tag="b1"), c)
    assert addr2 == addr and len(ports) == 2 and pub not in ports, (addr, addr2, ports)
    c.answer(2)
    assert wait_for(lambda: use(t) == {addr: 2, next(a for a in MEDIA[:2] if a != addr): 0})
    assert media_through(t, c, addr, ports[1], S.A_RTP + 4)
    # the next call (same phone, same thread) goes to the other address
    d = Call(t, 2)
    other, _ = media_addr(t, d.offer([S.A_RTP + 30]), d)
    assert other != addr


def test_a_full_address_falls_to_the_next(pgnat02):
    """Two addresses of two pairs each (media-ports 40000-40003): a call with two streams
    uses up its address; the phone's next calls (one thread) all go to the other address,
    also when the thread's turn is the full one, until it is full too: then an offer
    passes with its own port (no_media_port). The full address's BYE frees it again."""
    t = pgnat02
    t.vpp.cli_ok("set sip-alg media-ports 40000-40003")
    set_media(t, MEDIA[:2])
    c1 = Call(t, 1)
    full, ports = media_addr(t, c1.offer([S.A_RTP, S.A_RTP + 2]), c1)
    c1.answer()
    other = next(a for a in MEDIA[:2] if a != full)
    assert sorted(ports) == [40000, 40002] and use(t) == {full: 2, other: 0}
    c2, c3 = Call(t, 2), Call(t, 3)
    assert media_addr(t, c2.offer([S.A_RTP + 10]), c2)[0] == other
    # the thread's turn is `full` now: used up, the next one
    assert media_addr(t, c3.offer([S.A_RTP + 20]), c3)[0] == other
    assert use(t) == {full: 2, other: 2} and t.counters()["no_media_port"] == 0
    c4 = Call(t, 4)
    conns, ports4, _, _, _, _ = sdp_of(c4.offer([S.A_RTP + 30]))
    assert ports4 == [S.A_RTP + 30] and conns == [S.PUB.encode()]  # untouched port
    assert t.counters()["no_media_port"] == 1
    c1.answer()
    c1.bye(2)
    assert wait_for(lambda: use(t) == {full: 0, other: 2})
    c5 = Call(t, 5)
    assert media_addr(t, c5.offer([S.A_RTP + 40]), c5)[0] == full


def test_list_refused_while_in_use_and_bad_input_named(pgnat02):
    """The list is checked in one place, the plugin: 0.0.0.0, multicast, broadcast, a
    duplicate and a 17th address are refused, each error naming it, over the CLI and the API
    (retval); a new list is refused while a call holds media ports (the same list is not a
    change); after the BYE it is taken, and `none` brings back the signaling's address."""
    t = pgnat02
    bad = {"0.0.0.0": "not a host's address", "224.0.0.5": "a multicast address",
           "255.255.255.255": "the broadcast address", "127.0.0.1": "a loopback address"}
    for a, why in bad.items():
        out = t.vpp.cli(f"set sip-alg media-addresses 203.0.113.20 {a}")
        assert f"media-addresses: {a}: {why}" in out, out
    out = t.vpp.cli("set sip-alg media-addresses 203.0.113.20 203.0.113.21 203.0.113.20")
    assert "media-addresses: 203.0.113.20: listed twice" in out, out
    many = [f"203.0.113.{30 + i}" for i in range(17)]
    out = t.vpp.cli("set sip-alg media-addresses " + " ".join(many))
    assert "media-addresses: 17 addresses, at most 16" in out, out
    assert api_set(t, ["203.0.113.20", "224.0.0.5"]) == -7  # VNET_API_ERROR_INVALID_VALUE
    assert api_get(t).n_addresses == 0
    assert "media-addresses none (the signaling's public address)" in \
        t.vpp.cli("show sip-alg config")
    assert api_set(t, MEDIA[:2]) == 0
    c = Call(t, 1)
    addr, [pub] = media_addr(t, c.offer([S.A_RTP]), c)
    c.answer()
    out = t.vpp.cli("set sip-alg media-addresses 203.0.113.23")
    assert "media-addresses: 1 media port pairs in use, close the calls first" in out, out
    assert api_set(t, ["203.0.113.23"]) == -155  # VNET_API_ERROR_RSRC_IN_USE
    assert api_set(t, MEDIA[:2]) == 0  # the same list: nothing changes
    set_media(t, MEDIA[:2])
    out = t.vpp.cli("set sip-alg media-ports 40000-40999")
    assert "media ports in use" in out, out
    assert media_through(t, c, addr, pub, S.A_RTP)
    c.bye(2)
    assert wait_for(lambda: use(t) == {MEDIA[0]: 0, MEDIA[1]: 0})
    t.vpp.cli_ok("set sip-alg media-addresses none")
    d = Call(t, 2)
    conns, [pub_d], _, _, _, _ = sdp_of(d.offer([S.A_RTP]))
    assert conns == [S.PUB.encode()] and 40000 <= pub_d <= 59999
    d.answer()
    assert media_through(t, d, S.PUB, pub_d, S.A_RTP)
