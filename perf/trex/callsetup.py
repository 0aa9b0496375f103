# SPDX-License-Identifier: Apache-2.0
"""Set up and tear down the calls of the SIP call mix (sip_calls.py) through VPP with TRex,
checking each step on the wire (TRex captures) and in the ALG (server map, counters):

  INVITE+SDP from the inside   leaves from 203.0.113.10, no inside address left in it
  200 OK+SDP from outside      to the public signaling port: reaches A at 5060
  ACK from the inside
  RTP outside -> inside        to the public RTP port of the call's pinhole: reaches A_i:rtp_i
  RTP inside -> outside        leaves from that public port
  BYE / 200 OK                 the call's entries leave the server map

Every step returns counts that run.py records and tests/perf asserts."""

import re
import time

from trex.stl.api import IP, UDP, Ether

import sip_calls as S

ENTRY = re.compile(r"ANY -> (\S+?):(\d+)(?:\[(\S+?):(\d+)\])?, Protocol: udp\(Appro: (\S+)\)")


def pinholes(tb):
    """{(inside address, inside port, app): public port} of the NAT pinholes in the server map."""
    out = {}
    for line in tb.vpp.server_map():
        m = ENTRY.search(line)
        if m and m.group(3):
            out[(m.group(3), int(m.group(4)), m.group(5))] = int(m.group(2))
    return out


def push(tb, port, pkts, capture_port, expect, timeout=10.0):
    """Send pkts from `port` (spaced 200 us); the UDP packets captured on `capture_port`
    (scapy) once `expect` arrived or after timeout seconds."""
    c = tb.client
    cap = c.start_capture(rx_ports=[capture_port], limit=expect + 256)["id"]
    try:
        c.push_packets(pkts, ports=[port], ipg_usec=200)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if c.get_capture_status()[cap]["count"] >= expect:
                break
            time.sleep(0.1)
        time.sleep(0.2)  # anything extra that would arrive
    finally:
        got = []
        c.stop_capture(cap, output=got)
    pkts = [Ether(g["binary"]) for g in got]
    return [p for p in pkts if UDP in p]


def setup(tb, n, progress=print):
    """Set up n calls (the ALG must be on); returns (calls with their public ports, record)."""
    calls = S.plan(n)
    tb.neighbors(S.callers(n))
    before = tb.vpp.counters()
    rec = {"calls": n}

    got = push(tb, 0, [S.to_proxy(c, S.invite(c)) for c in calls], 1, n)
    rec["invites_out"] = sum(1 for p in got if p[UDP].dport == S.PROXY_PORT)
    rec["invites_translated"] = sum(
        1 for p in got if p[IP].src == S.PUB and b"INVITE" in bytes(p[UDP].payload)
        and b"192.168.1." not in bytes(p[UDP].payload))
    want = {(c["a"], S.SIP_PORT, "sip") for c in calls} | \
        {(c["a"], c["a_rtp"], "sip-rtp") for c in calls}
    deadline = time.monotonic() + 10
    while not want <= set(ph := pinholes(tb)) and time.monotonic() < deadline:
        time.sleep(0.2)
    missing = want - set(ph)
    rec["pinholes_missing"] = len(missing)
    if missing:
        raise RuntimeError(f"{len(missing)} pinholes missing after {n} INVITEs, e.g. "
                           f"{sorted(missing)[:3]}; server map has {len(ph)} NAT entries; "
                           f"{rec}; counters {delta(before, tb.vpp.counters())}")
    for c in calls:
        c["pub_sig"] = ph[(c["a"], S.SIP_PORT, "sip")]
        c["pub_rtp"] = ph[(c["a"], c["a_rtp"], "sip-rtp")]

    got = push(tb, 1, [S.from_proxy(c["pub_sig"], S.ok(c, c["pub_sig"])) for c in calls], 0, n)
    by_id = {c["call_id"].encode(): c for c in calls}
    rec["ok_reached_caller"] = sum(
        1 for p in got for cid, c in by_id.items()
        if cid in bytes(p[UDP].payload) and (p[IP].dst, p[UDP].dport) == (c["a"], S.SIP_PORT))
    got = push(tb, 0, [S.to_proxy(c, S.request(c, "ACK", 1)) for c in calls], 1, n)
    rec["acks_out"] = sum(1 for p in got if p[IP].src == S.PUB)

    rtp = S.rtp(218)
    got = push(tb, 1, [S.udp(c["b"], c["b_rtp"], S.PUB, c["pub_rtp"], rtp) for c in calls], 0, n)
    rec["rtp_out2in_reached_caller"] = len(
        {(p[IP].dst, p[UDP].dport) for p in got} & {(c["a"], c["a_rtp"]) for c in calls})
    got = push(tb, 0, [S.udp(c["a"], c["a_rtp"], c["b"], c["b_rtp"], rtp) for c in calls], 1, n)
    rec["rtp_in2out_from_pinhole"] = len(
        {(p[IP].src, p[UDP].sport) for p in got} & {(S.PUB, c["pub_rtp"]) for c in calls})
    rec["counters"] = delta(before, tb.vpp.counters())
    rec["server_map_entries"] = len(tb.vpp.server_map())
    progress(f"  {n} calls set up: {rec['invites_translated']} INVITEs translated, "
             f"{rec['ok_reached_caller']} 200 OKs mapped back, outside RTP reached "
             f"{rec['rtp_out2in_reached_caller']} callers through their pinholes, inside RTP left "
             f"from {rec['rtp_in2out_from_pinhole']} pinhole ports; "
             f"{rec['server_map_entries']} server-map entries")
    return calls, rec


def teardown(tb, calls, progress=print):
    """BYE from each caller and the callee's 200 OK; the calls' entries must go."""
    n = len(calls)
    before = tb.vpp.counters()
    got = push(tb, 0, [S.to_proxy(c, S.request(c, "BYE", 2)) for c in calls], 1, n)
    rec = {"byes_out": sum(1 for p in got if p[IP].src == S.PUB)}
    got = push(tb, 1, [S.from_proxy(c["pub_sig"], S.ok(c, c["pub_sig"], "BYE", 2,
                                                        f"z9hG4bK-{c['i']}-2"))
                       for c in calls], 0, n)
    rec["bye_ok_reached_caller"] = sum(1 for p in got if p[UDP].dport == S.SIP_PORT)
    mine = {(c["a"], c["a_rtp"], "sip-rtp") for c in calls}
    deadline = time.monotonic() + 10
    while mine & set(pinholes(tb)) and time.monotonic() < deadline:
        time.sleep(0.2)
    rec["rtp_pinholes_left"] = len(mine & set(pinholes(tb)))
    rec["counters"] = delta(before, tb.vpp.counters())
    progress(f"  {n} calls torn down: {rec['counters'].get('calls_closed', 0)} closed, "
             f"{rec['counters'].get('pinhole_removed', 0)} pinholes removed, "
             f"{rec['rtp_pinholes_left']} RTP pinholes left")
    return rec


def delta(before, after):
    """The counters that moved."""
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
