# SPDX-License-Identifier: Apache-2.0
"""TRex STL profile: whole SIP calls per second through NAT44-ED and the SIP ALG.

Stateless TRex cannot learn the public port NAT44-ED gives a phone, so the inside party is a
PBX behind the operator's static mapping (192.168.1.5:5060 <-> 203.0.113.10:5060, run.py's
`calls` profile makes it and names it a published server, `set sip-alg servers`): the
outside's answers can be sent to the known public port. Each call is five messages, each
message kind a stream of its own, all at the same rate (calls/s), single bursts of the same
length started together, each offset from the INVITE by a fixed time (isg):

  kind     port  offset   what
  invite   0     0        INVITE with SDP, PBX -> proxy 198.51.100.1:5060
  ok       1     1 gap    200 OK with SDP, proxy -> 203.0.113.10:5060 (the static mapping)
  ack      0     2 gaps   ACK, PBX -> proxy
  bye      0     3 gaps   BYE, PBX -> proxy
  bye_ok   1     4 gaps   200 OK to the BYE, proxy -> 203.0.113.10:5060

The k-th packet of every stream belongs to call k: a 7-digit counter the field engine keeps
as ASCII text (one byte var per digit, each stepping the next when it wraps; the same
program on every stream, so the counters go in step) is written into the Call-ID, the Via
branch and the From tag; the PBX's SDP has RTP on 2dddd and RTCP on 3dddd (a=rtcp), the
callee's RTP on 4dddd, dddd the counter's last four digits: a port comes back every 10,000
calls, after the call that had it ended at any rate below 10,000 / (4 gaps) calls/s.
The Call-IDs also carry the trial's tag (--tag), so no trial repeats one of an earlier trial
(the ALG drops a late copy of an INVITE of a call it closed in the last 32 s).

Tunables (STLProfile.load_py(path, port_id=N, rate=..., ...), or `-t` in trex-console):
  --rate N      calls per second (every stream's pps)
  --calls N     calls in the trial (every stream's burst length; below 10,000,000)
  --gap-ms X    the offset between a call's messages (default 20 ms)
  --tag N       the trial's tag in the Call-IDs (0-9999)
Flow-stats groups: PG (one per message kind). Frames carry UDP checksum 0 (valid in IPv4),
so the field engine's text writes stay valid; every frame has a write in its last 64 bytes
(see udp_flows.py's ONE_SEGMENT: TRex's memif driver otherwise merges frames).
"""

import argparse
import os
import sys

# the SIP message builders the packet-generator tiers use (plain Python, no scapy)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "vpp"))
from sipmsgs import message  # noqa: E402

from trex.stl.api import (IP, UDP, Ether, STLFlowStats, STLPktBuilder, STLStream,  # noqa: E402
                          STLTXSingleBurst, STLVM)

PBX, SIP_PORT = "192.168.1.5", 5060  # the inside party, published by a static mapping
PUB = "203.0.113.10"
PROXY, PROXY_PORT = "198.51.100.1", 5060
CALLEE = "198.51.100.2"
DIGITS = 7  # counter digits: calls per trial below 10**DIGITS
MAX_CALLS = 10 ** DIGITS - 1
HDR = 14 + 20 + 8  # Ethernet, IPv4, UDP
# message kind -> (TRex port, offset in gaps, flow-stats group)
KINDS = {"invite": (0, 0, 20), "ok": (1, 1, 21), "ack": (0, 2, 22), "bye": (0, 3, 23),
         "bye_ok": (1, 4, 24)}
PG = {k: v[2] for k, v in KINDS.items()}
FE_MAX_OFFSET = 512  # TRex's field engine writes no further into a frame
N = "\x01" * DIGITS  # where the counter goes (all its digits)
M = "\x02" * 4       # where its last four digits go (media ports)


def sdp(addr, port, rtcp=None):
    """A short SDP (the field engine writes nowhere past FE_MAX_OFFSET): one audio stream,
    PCMU by its static payload type, RTCP on `rtcp` when given (a=rtcp)."""
    lines = ["v=0", f"o=- 1 1 IN IP4 {addr}", "s=-", f"c=IN IP4 {addr}", "t=0 0",
             f"m=audio {port} RTP/AVP 0"] + ([f"a=rtcp:{rtcp}"] if rtcp else [])
    return "".join(l + "\r\n" for l in lines).encode()


def messages(tag):
    """{kind: (payload bytes with the counter's places as \\x01/\\x02 runs, src, sport, dst,
    dport)} of one call of trial `tag`."""
    cid = f"Call-ID: r{tag:04d}-{N}@pbx"
    frm = f"From: <sip:pbx@{PBX}:{SIP_PORT}>;tag=p{N}"
    to = f"To: <sip:bob@{PROXY}>"
    inside = f"{PBX}:{SIP_PORT}"

    def via_in(suffix):
        return f"Via: SIP/2.0/UDP {inside};branch=z9hG4bK-{tag:04d}-{N}{suffix};rport"

    def via_pub(suffix):  # as the proxy got it: the ALG wrote the public address
        return (f"Via: SIP/2.0/UDP {PUB}:{SIP_PORT};branch=z9hG4bK-{tag:04d}-{N}{suffix}"
                f";rport={SIP_PORT};received={PUB}")

    contact_in = f"Contact: <sip:pbx@{inside}>"
    contact_out = f"Contact: <sip:bob@{CALLEE}:{SIP_PORT}>"
    frm_pub = frm.replace(inside, f"{PUB}:{SIP_PORT}")
    to_b = to + ";tag=b1"
    out, back = (PBX, SIP_PORT, PROXY, PROXY_PORT), (PROXY, PROXY_PORT, PUB, SIP_PORT)
    # messages without a body end with the Call-ID (a write in the last 64 bytes)
    return {
        "invite": (message(f"INVITE sip:bob@{PROXY} SIP/2.0",
                           [via_in("i"), "Max-Forwards: 70", frm, to, cid, "CSeq: 1 INVITE",
                            contact_in],
                           sdp(PBX, f"2{M}", f"3{M}")), *out),
        "ok": (message("SIP/2.0 200 OK",
                       [via_pub("i"), frm_pub, to_b, cid, "CSeq: 1 INVITE", contact_out],
                       sdp(CALLEE, f"4{M}")), *back),
        "ack": (message(f"ACK sip:bob@{CALLEE}:{SIP_PORT} SIP/2.0",
                        [via_in("a"), "Max-Forwards: 70", frm, to_b, "CSeq: 1 ACK",
                         contact_in, cid]), *out),
        "bye": (message(f"BYE sip:bob@{CALLEE}:{SIP_PORT} SIP/2.0",
                        [via_in("b"), "Max-Forwards: 70", frm, to_b, "CSeq: 2 BYE",
                         contact_in, cid]), *out),
        "bye_ok": (message("SIP/2.0 200 OK",
                           [via_pub("b"), frm_pub, to_b, "CSeq: 2 BYE", contact_out, cid]),
                   *back),
    }


def counter_vm():
    """The 7-digit ASCII counter: d0 (the last digit) steps every packet, each digit steps
    the next when it wraps."""
    vm = STLVM()
    for k in range(DIGITS):
        vm.var(name=f"d{k}", min_value=0x30, max_value=0x39, size=1, op="inc",
               next_var=f"d{k + 1}" if k < DIGITS - 1 else None)
    return vm


def frame(payload, src, sport, dst, dport):
    """The frame (scapy) with the counter's places as '0' digits, and its field engine."""
    text = payload.decode("latin-1")
    vm = counter_vm()
    last = 0
    for mark, n in ((N[0], DIGITS), (M[0], 4)):
        i = text.find(mark)
        while i >= 0:
            end = HDR + i + n - 1  # the frame offset of the number's last digit
            for k in range(n):
                vm.write(fv_name=f"d{k}", pkt_offset=end - k)
            last = max(last, end)
            i = text.find(mark, i + n)
    payload = text.replace(N[0], "0").replace(M[0], "0").encode("latin-1")
    pkt = Ether() / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport, chksum=0) / payload
    if last >= FE_MAX_OFFSET:
        raise ValueError(f"a field-engine write at offset {last} of a {len(pkt)} B frame: "
                         f"TRex writes below {FE_MAX_OFFSET} only")
    if len(pkt) + 4 - last > 64:
        raise ValueError(f"no field-engine write in the last 64 bytes of a {len(pkt)} B frame "
                         f"(last at {last}): TRex's memif driver would split it")
    return pkt, vm


class SipCallRate:
    def get_streams(self, port_id=0, direction=0, tunables=(), **kwargs):
        p = argparse.ArgumentParser(prog="sip_call_rate.py")
        p.add_argument("--rate", type=float, required=True)
        p.add_argument("--calls", type=int, required=True)
        p.add_argument("--gap-ms", "--gap_ms", type=float, default=20.0)
        p.add_argument("--tag", type=int, default=0)
        args = p.parse_args(tunables)
        if not 1 <= args.calls <= MAX_CALLS:
            p.error(f"--calls {args.calls}: 1-{MAX_CALLS} (the Call-ID counter's digits)")
        if not 0 <= args.tag <= 9999:
            p.error(f"--tag {args.tag}: 0-9999")
        if args.rate <= 0 or args.gap_ms <= 0:
            p.error("--rate and --gap-ms must be positive")
        streams = []
        for kind, (payload, *addr) in messages(args.tag).items():
            port, gaps, pg = KINDS[kind]
            if port != port_id:
                continue
            pkt, vm = frame(payload, *addr)
            streams.append(STLStream(
                name=kind, packet=STLPktBuilder(pkt=pkt, vm=vm),
                mode=STLTXSingleBurst(pps=args.rate, total_pkts=args.calls),
                isg=gaps * args.gap_ms * 1000.0, flow_stats=STLFlowStats(pg_id=pg)))
        return streams


def register():
    return SipCallRate()
