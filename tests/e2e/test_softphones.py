# SPDX-License-Identifier: Apache-2.0
"""Tier 2 with real softphones (issue 22, item 6): baresip A inside (192.168.1.1:5060), baresip
B outside on a host of its own (198.51.100.2:5060), coturn as STUN server outside
(198.51.100.3:3478), Kamailio as registrar outside (198.51.100.1); G.711 (PCMU) with a sine
tone as each phone's microphone.

  plain       A calls B, no media NAT traversal on either phone
  stun        both phones learn their public address from the STUN server and put it in
              their SDP: A's SDP names A's own NAT mapping, not its private address
  stun-port-taken
              stun, with another inside phone (192.168.1.3) already holding NAT44-ED's
              public port of A's RTP port towards the STUN server: A's STUN-learned mapping
              is then another port than the one NAT44-ED gives A's RTP to B (it keeps the
              inside port where it can), so B sends its RTP to a public port that only the
              STUN server may use, unless the ALG opens A's STUN-learned mapping
  ice         ICE on both phones (host and server-reflexive candidates from the STUN server)
  registered  A registers with the outside registrar, stays idle (sends nothing), and B
              calls it through the registrar, which relays from another socket (5080)

Each case runs with 0 and 2 VPP workers, on the seed topology (topo.py) and behind the
deny-by-default firewall that `sipalgctl up` brings up from mgmt/examples/firewall.yaml (as
in test_firewall_calls.py). The test sets no ALG knob: the product's defaults.

RTP is counted per direction from the captures on both sides of VPP (the inside veth and the
outside veth): of what the sender's side shows it sent (its SSRC), at least 90 % must reach
the receiver's side, addressed to the receiver. A failure names the SDP each side saw, the
server map and the ALG's counters during the call, and VPP's `show errors`."""

import os
import re
import shutil
import time

import pytest

import vpp_harness as h
from softphone import (BARESIP_MODULE_PATH, BARESIP_MODULES, Baresip, Capture, PhoneHost,
                       describe_sdps, is_stun, read_pcap, rtp_streams, settle, sip_messages,
                       start_coturn, stun_binding, stun_mapped, wait_for)
from capture import kamailio
from deploy import add_inside_host
from test_firewall_calls import FwTopo
from topo import Topo

STUN = "198.51.100.3"
REGISTRAR_CFG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                             "kamailio-registrar.cfg.in")
MEDIA_S = 3.0  # seconds of media counted once both phones receive RTP (or gave up waiting)
RTP_WAIT_S = 5.0  # how long a phone may take to receive its first RTP (ICE checks first)
IDLE_S = 5.0  # how long the registered phone stays idle before it is called
MIN_SENT = 100  # RTP packets each phone must have sent (50 per second at 20 ms)
SHARE = 0.9  # of them, what must arrive
OTHER_PHONE, OTHER_RTP = "192.168.1.3", 10000  # stun-port-taken: the other inside phone


def softphones_missing():
    """Why the softphones cannot run here (Debian: baresip-core, coturn), or None."""
    missing = [x for x in ("baresip", "turnserver") if not shutil.which(x)]
    missing += [m for m in BARESIP_MODULES
                if not os.path.exists(os.path.join(BARESIP_MODULE_PATH, m + ".so"))]
    return "missing: " + ", ".join(missing) if missing else None


@pytest.fixture(params=[(0, False), (2, False), (0, True), (2, True)],
                ids=["0w", "2w", "0w-fw", "2w-fw"])
def net(e2e_prefix, request, tmp_path):
    """The topology (seed, or behind the firewall) with phone B's host and the STUN server's
    address outside."""
    workers, firewall = request.param
    why = h.workers_unavailable(workers) or softphones_missing()
    if why:
        pytest.skip(why)
    if firewall:
        fw_tmp = tmp_path / "fw"
        fw_tmp.mkdir()
        topo = FwTopo(e2e_prefix, workers, str(fw_tmp))
    else:
        topo = Topo(e2e_prefix, workers=workers)
    with topo as t, PhoneHost(t) as hb:
        t.ns_b = hb.ns
        t.firewall = firewall
        t.run_in(t.ns_out, "ip", "addr", "add", f"{STUN}/32", "dev", "lo")
        yield t
        t.failed = h.failed_test(request)


def vpp_of(t):
    """The VPP to ask: the topology's own, or the one `sipalgctl up` started."""
    return t.cli_vpp if isinstance(t, FwTopo) else t.vpp


def snapshot(t):
    """What VPP says during the call: the server map, the ALG's counters that moved, the
    error counters (without af_packet's block statistics), NAT44-ED's sessions."""
    v = vpp_of(t)
    counters = {k: n for k, n in v.counters().items() if n}
    errors = [l for l in v.cli("show errors").splitlines()
              if l.strip() and "af-packet-input" not in l]
    sessions = [l.strip() for l in v.cli("show nat44 sessions").splitlines()
                if re.match(r"\s+(i2o|o2i) ", l)]
    return {"server_map": t.server_map(), "counters": counters, "errors": errors,
            "sessions": sessions}


class Result:
    """A call's captures and what VPP showed during it."""

    def __init__(self, t, inside, outside, mid, a, b):
        self.t, self.inside, self.outside, self.mid, self.a, self.b = t, inside, outside, mid, a, b
        self.streams_in, self.streams_out = rtp_streams(inside), rtp_streams(outside)

    def count(self, sender):
        """(sent, received) RTP packets from sender ("A" or "B"): sent as the sender's side
        of VPP captured them, received as the other side captured them towards the
        receiver's address."""
        t = self.t
        if sender == "A":
            src_side, dst_side, src, dst = self.streams_in, self.streams_out, t.A, t.B
        else:
            src_side, dst_side, src, dst = self.streams_out, self.streams_in, t.B, t.A
        ssrcs = {s for s, pk in src_side.items() if any(p[0] == src for p in pk)}
        sent = sum(1 for s in ssrcs for p in src_side[s] if p[0] == src)
        got = sum(1 for s in ssrcs for p in dst_side.get(s, ()) if p[2] == dst)
        return sent, got

    def flows(self, streams):
        return {hex(s): sorted({f"{p[0]}:{p[1]} -> {p[2]}:{p[3]}" for p in pk})
                for s, pk in streams.items()}

    def report(self):
        m = self.mid
        return "\n".join([
            "SDP inside (A's side of VPP):", describe_sdps(self.inside),
            "SDP outside (B's side of VPP):", describe_sdps(self.outside),
            f"RTP flows inside: {self.flows(self.streams_in)}",
            f"RTP flows outside: {self.flows(self.streams_out)}",
            "server map during the call:", *("  " + l for l in m["server_map"]),
            f"ALG counters during the call (non-zero): {m['counters']}",
            "show errors during the call:", *m["errors"],
            "NAT44-ED sessions during the call:", *("  " + l for l in m["sessions"]),
            f"phone A's events: {self.a.types()}", f"phone B's events: {self.b.types()}"])

    def assert_media(self):
        counts = {d: self.count(d) for d in ("A", "B")}
        bad = [f"{d}->{'B' if d == 'A' else 'A'}: sent {s}, arrived {g}"
               for d, (s, g) in counts.items() if s < MIN_SENT or g < SHARE * s]
        assert not bad, "; ".join(bad) + "\n" + self.report()
        return counts


def phone_params(case):
    common = ["audio_codecs=PCMU"]
    if case.startswith("stun"):
        return common + ["medianat=stun", f"stunserver=stun:{STUN}:3478"]
    if case == "ice":
        return common + ["medianat=ice", f"stunserver=stun:{STUN}:3478"]
    return common


def start_registrar(t, tmp):
    """The registrar, once its sockets are bound (what arrives before its workers run waits
    in them): a REGISTER refused with an ICMP error would make the phone wait half a minute
    before its next."""
    kamailio(t, t.ns_out, tmp, open(REGISTRAR_CFG).read().replace("@PUB@",
                                                                t.PUB.replace(".", r"\.")))


def run_softphone_call(t, case, tmp):
    """The case's call between baresip A (inside) and B (outside); returns a Result."""
    cap_in = Capture(t, t.ns_in, t.if_in, f"{tmp}/inside.pcap")
    cap_out = Capture(t, t.ns_out, t.if_out, f"{tmp}/outside.pcap")
    if case.startswith("stun") or case == "ice":
        start_coturn(t, t.ns_out, STUN, tmp)
    a_rtp = (10000, 10999)
    if case == "stun-port-taken":
        # A's RTP on 10000 (RTCP 10001); another inside phone's flow from port 10000 to
        # the STUN server holds public port 10000 towards it
        a_rtp = (OTHER_RTP, OTHER_RTP + 1)
        add_inside_host(t, OTHER_PHONE)
        held = stun_binding(t.ns_in, STUN, src=(OTHER_PHONE, OTHER_RTP), timeout=2)
        assert held == (t.PUB, OTHER_RTP), held
    registered = case == "registered"
    if registered:
        start_registrar(t, tmp)
        a = Baresip(t, t.ns_in, "a", tmp, t.A, f"sip:alice@{t.PROXY}",
                    phone_params(case) + ["answermode=auto"])
        b = Baresip(t, t.ns_b, "b", tmp, t.B, f"sip:bob@{t.B}",
                    phone_params(case) + ["regint=0"], rtp=(20000, 20999), tone=880)
    else:
        a = Baresip(t, t.ns_in, "a", tmp, t.A, f"sip:alice@{t.A}",
                    phone_params(case) + ["regint=0"], rtp=a_rtp)
        b = Baresip(t, t.ns_b, "b", tmp, t.B, f"sip:bob@{t.B}",
                    phone_params(case) + ["regint=0", "answermode=auto"], rtp=(20000, 20999),
                    tone=880)
    try:
        b.start()
        a.start()
        if registered:
            wait_for("A registered", a.registered, 10, 0.2)
            idle_from = time.time()
            time.sleep(IDLE_S)  # the idle time is what this case is about
            idle_to = time.time()
            caller, callee, uri = b, a, f"sip:alice@{t.PROXY}"
        else:
            caller, callee, uri = a, b, f"sip:bob@{t.B}"
        dialed = time.time()
        r = caller.command("dial", uri)
        assert r["ok"], r
        for p in (caller, callee):
            est = p.wait_event("CALL_ESTABLISHED", 15, after=dialed)
            assert est, f"{p.name}: no call: {p.types()}\n{p.log_tail()}"
        for p in (caller, callee):
            p.wait_event("CALL_RTPESTAB", RTP_WAIT_S, after=dialed)  # not met: counted below
        time.sleep(MEDIA_S)  # the media being measured
        mid = snapshot(t)
        hung = time.time()
        assert caller.command("hangup")["ok"]
        for p in (caller, callee):
            assert p.wait_event("CALL_CLOSED", 10, after=hung), f"{p.name}: call not closed"
        settle([cap_in, cap_out])
    finally:
        for p in (a, b):
            if getattr(p, "proc", None) is not None:
                p.stop()
    cap_in.stop()
    cap_out.stop()
    res = Result(t, read_pcap(cap_in.path), read_pcap(cap_out.path), mid, a, b)
    if registered:
        res.idle = (idle_from, idle_to)
    return res


def media_lines(body):
    """(address, port) of an SDP body's first audio stream: its media-level c= line, or the
    session's."""
    session, media = body.split("m=audio ", 1)
    c = [l for l in media.splitlines() if l.startswith("c=")] or \
        [l for l in session.splitlines() if l.startswith("c=")]
    return c[0].split()[-1], int(media.split()[0])


def offer(dgrams):
    """The body of the first INVITE with SDP of a capture."""
    return next(m[3] for m in sip_messages(dgrams) if m[2].startswith("INVITE") and
                "m=audio" in m[3])


def check_case(t, case, res):
    """What makes the case the case, seen in the captures (before the media are counted)."""
    a_offer_in, a_offer_out = offer(res.inside), offer(res.outside)
    stun_to_a = [stun_mapped(d.payload) for d in res.inside if d.dst == t.A]
    if case in ("plain", "registered"):
        # no media NAT traversal: A names its private address, the ALG its public one
        assert not any(stun_to_a), stun_to_a
        sdp_a = a_offer_in if case == "plain" else \
            next(m[3] for m in sip_messages(res.inside) if m[0] == f"{t.A}:5060" and
                 "m=audio" in m[3])
        assert media_lines(sdp_a)[0] == t.A, sdp_a
    if case.startswith("stun"):
        # A's offer as A sent it names its public NAT mapping, learnt from the STUN server:
        # the XOR-MAPPED-ADDRESS of a Binding answer A received
        mapped = {m for m in stun_to_a if m}
        assert media_lines(a_offer_in) in mapped, (a_offer_in, mapped)
        assert media_lines(a_offer_in)[0] == t.PUB
    if case == "stun-port-taken":
        # ... which is not A's RTP port: that one was taken towards the STUN server
        assert media_lines(a_offer_in)[1] != OTHER_RTP, a_offer_in
    if case == "ice":
        # both do ICE; A offers a server-reflexive candidate at its NAT mapping, and the
        # connectivity checks ran between the phones across VPP
        assert "a=ice-ufrag" in a_offer_out, a_offer_out
        assert re.search(rf"a=candidate:\S+ 1 UDP \d+ {re.escape(t.PUB)} \d+ typ srflx",
                         a_offer_in), a_offer_in
        answer = next(m[3] for m in sip_messages(res.outside) if m[0] == f"{t.B}:5060" and
                      "m=audio" in m[3])
        assert "a=ice-ufrag" in answer, answer
        checks = [d for d in res.outside if is_stun(d.payload) and
                  {d.src, d.dst} == {t.PUB, t.B}]
        assert checks, "no ICE connectivity check between the phones"
    if case == "registered":
        # A sent nothing while idle; B's INVITE came from the registrar's other socket
        idle = [d for d in res.inside if d.src == t.A and res.idle[0] < d.time < res.idle[1]]
        assert not idle, idle
        invites = [m for m in sip_messages(res.outside) if m[2].startswith("INVITE")]
        assert any(m[0] == f"{t.PROXY}:5080" for m in invites), invites


@pytest.mark.parametrize("case", ["plain", "stun", "stun-port-taken", "ice", "registered"])
def test_softphone_call(net, case, tmp_path):
    t = net
    res = run_softphone_call(t, case, str(tmp_path))
    with open(tmp_path / "report.txt", "w") as f:  # kept by pytest: what the call looked like
        f.write(res.report() + "\n")
    check_case(t, case, res)
    counts = res.assert_media()
    print(f"\n{case} workers={t.workers} firewall={t.firewall}: "
          f"A->B sent {counts['A'][0]} arrived {counts['A'][1]}, "
          f"B->A sent {counts['B'][0]} arrived {counts['B'][1]}")
