# SPDX-License-Identifier: Apache-2.0
"""TRex STL profile: a SIP call mix with RTP through NAT44-ED and the SIP ALG.

Stateless TRex cannot learn NAT translations, so the calls are set up first (run.py does it
with the message builders below: INVITE with SDP from the inside, 200 OK with SDP from
outside to the translated signaling port, ACK) and the public ports the ALG gave each call's
media are read from VPP's `show sip-alg server-map`. This profile then streams, per call:
  port 0  RTP  A_i:rtp_i -> B_i:brtp_i           (leaves from the call's public RTP port)
  port 1  RTP  B_i:brtp_i -> 203.0.113.10:pub_i  (reaches A only through the ALG's pinhole)
and on port 0 a steady rate of new INVITEs with SDP from another inside host (--invite-host:
192.168.1.200 + N; run.py takes the next for each trial, so no trial repeats the calls of one
before it), whose Call-ID, Via branch and SDP media port the field engine rewrites as text
(four ASCII digits: 10,000 distinct calls). None is answered: their media entries age out.

Tunables (STLProfile.load_py(path, port_id=N, calls=FILE, ...), or `-t` in trex-console):
  --calls FILE      JSON list of the set-up calls (run.py writes it):
                    [{"a", "a_rtp", "b", "b_rtp", "pub_rtp"}, ...]
  --rtp-pps N       RTP packets per second per direction, spread over the calls
  --invite-pps N    new INVITEs per second (port 0; 0: none)
  --rtp-size N      RTP frame size in bytes with FCS (default 218: G.711, 20 ms)
  --invite-host N   the new INVITEs' host, 192.168.1.200 + N % 50
Flow-stats groups: PG_RTP_OUT (port 0 RTP), PG_RTP_IN (port 1 RTP), PG_INVITE.
Frames carry UDP checksum 0 (valid in IPv4), so the field engine's text writes stay valid.
"""

import argparse
import json
import os
import sys

# the SIP message builders the packet-generator tiers use (plain Python, no scapy)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "vpp"))
from sipmsgs import message, sdp  # noqa: E402

from trex.stl.api import (IP, UDP, Ether, STLFlowStats, STLPktBuilder, STLStream, STLTXCont,
                          STLVM)

PUB = "203.0.113.10"
PROXY, PROXY_PORT = "198.51.100.1", 5060
CALLEE = "198.51.100.2"
SIP_PORT = 5060
NEW_CALLERS = 50  # hosts of the steady new INVITEs: 192.168.1.200-249, one per trial in turn
PG_RTP_OUT, PG_RTP_IN, PG_INVITE = 10, 11, 12
HDR = 14 + 20 + 8  # Ethernet, IPv4, UDP


def caller(i):
    """Call i's inside party: 64 hosts (192.168.1.128-191), RTP ports 10000, 10002, ..."""
    return f"192.168.1.{128 + i % 64}", 10000 + 2 * (i // 64)


def callers(n):
    return sorted({caller(i)[0] for i in range(n)})


def new_caller(host):
    return f"192.168.1.{200 + host % NEW_CALLERS}"


def plan(n):
    """The calls: inside party, callee media, Call-ID."""
    out = []
    for i in range(n):
        a, a_rtp = caller(i)
        out.append({"i": i, "a": a, "a_rtp": a_rtp, "b": CALLEE, "b_rtp": 20000 + 2 * i,
                    "call_id": f"trex-{i}-4f2a"})
    return out


def _dialog(c, a, a_port, cseq, method, branch, via_extra="", to_tag=None):
    return [f"Via: SIP/2.0/UDP {a}:{a_port};branch={branch};rport{via_extra}",
            "Max-Forwards: 70",
            f"From: <sip:alice{c['i']}@{a}:{a_port}>;tag=a{c['i']}",
            f"To: <sip:bob@{PROXY}>" + (f";tag={to_tag}" if to_tag else ""),
            f"Call-ID: {c['call_id']}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:alice{c['i']}@{a}:{a_port}>"]


def invite(c):
    return message(f"INVITE sip:bob@{PROXY} SIP/2.0",
                   _dialog(c, c["a"], SIP_PORT, 1, "INVITE", f"z9hG4bK-{c['i']}i"),
                   sdp(c["a"], c["a_rtp"]))


def ok(c, pub_sig, method="INVITE", cseq=1, branch=None):
    """The callee's 200 OK as it reaches the NAT: to A's public signaling address."""
    h = _dialog(c, PUB, pub_sig, cseq, method, branch or f"z9hG4bK-{c['i']}i",
                via_extra=f"={pub_sig};received={PUB}", to_tag="b1")
    h[-1] = f"Contact: <sip:bob@{CALLEE}:{SIP_PORT}>"
    body = sdp(c["b"], c["b_rtp"]) if method == "INVITE" else b""
    return message("SIP/2.0 200 OK", h, body)


def request(c, method, cseq):
    return message(f"{method} sip:bob@{CALLEE}:{SIP_PORT} SIP/2.0",
                   _dialog(c, c["a"], SIP_PORT, cseq, method, f"z9hG4bK-{c['i']}-{cseq}",
                           to_tag="b1"))


def udp(src, sport, dst, dport, payload):
    return Ether() / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport, chksum=0) / payload


def to_proxy(c, payload):
    return udp(c["a"], SIP_PORT, PROXY, PROXY_PORT, payload)


def from_proxy(pub_sig, payload):
    return udp(PROXY, PROXY_PORT, PUB, pub_sig, payload)


def rtp(size):
    """An RTP header and payload making a frame of `size` bytes with FCS."""
    return b"\x80\x00\x00\x01" + bytes(max(size - 4 - HDR - 4, 0))


def new_invite_stream(pps, host=0):
    """INVITEs from new_caller(host) whose Call-ID and Via branch end in a four-digit number the
    field engine counts up from 0000 as ASCII text (one byte var per digit, each stepping the
    next when it wraps; 10,000 distinct calls) and whose SDP media port is 2ddd0, ddd its last
    three digits (RTP even, RTCP next, no two of 1,000 calls in a row sharing a port)."""
    a = new_caller(host)
    c = {"i": 9999, "a": a, "a_rtp": 20000, "call_id": f"trex-new{host}-0000-7c1d"}
    text = message(f"INVITE sip:bob@{PROXY} SIP/2.0",
                   _dialog(c, a, SIP_PORT, 1, "INVITE", f"z9hG4bK-new{host}-0000"),
                   sdp(a, 20000))
    pkt = to_proxy(c, text)
    # (offset of the number's last digit, digits written)
    spots = [(HDR + text.index(m) + len(m) + last, n)
             for m, last, n in ((f"trex-new{host}-".encode(), 3, 4),
                                (f"z9hG4bK-new{host}-".encode(), 3, 4), (b"m=audio 2", 2, 3))]
    vm = STLVM()
    for k in range(4):  # d0 is the last digit
        vm.var(name=f"d{k}", min_value=0x30, max_value=0x39, size=1, op="inc",
               next_var=f"d{k + 1}" if k < 3 else None)
    for end, n in spots:
        for k in range(n):
            vm.write(fv_name=f"d{k}", pkt_offset=end - k)
    return STLStream(packet=STLPktBuilder(pkt=pkt, vm=vm), mode=STLTXCont(pps=pps),
                     flow_stats=STLFlowStats(pg_id=PG_INVITE))


class SipCalls:
    def get_streams(self, port_id=0, direction=0, tunables=(), **kwargs):
        p = argparse.ArgumentParser(prog="sip_calls.py")
        p.add_argument("--calls", required=True)
        p.add_argument("--rtp-pps", "--rtp_pps", type=float, default=1000.0)
        p.add_argument("--invite-pps", "--invite_pps", type=float, default=0.0)
        p.add_argument("--rtp-size", "--rtp_size", type=int, default=218)
        p.add_argument("--invite-host", "--invite_host", type=int, default=0)
        args = p.parse_args(tunables)
        with open(args.calls) as f:
            calls = json.load(f)
        pps = args.rtp_pps / len(calls)
        streams = []
        for c in calls:
            if port_id == 0:
                pkt, pg = udp(c["a"], c["a_rtp"], c["b"], c["b_rtp"], rtp(args.rtp_size)), \
                    PG_RTP_OUT
            else:
                pkt, pg = udp(c["b"], c["b_rtp"], PUB, c["pub_rtp"], rtp(args.rtp_size)), \
                    PG_RTP_IN
            streams.append(STLStream(packet=STLPktBuilder(pkt=pkt), mode=STLTXCont(pps=pps),
                                     flow_stats=STLFlowStats(pg_id=pg)))
        if port_id == 0 and args.invite_pps > 0:
            streams.append(new_invite_stream(args.invite_pps, args.invite_host))
        return streams


def register():
    return SipCalls()
