# SPDX-License-Identifier: Apache-2.0
"""Tier 2: calls in a row through VPP, NAT44-ED and the ALG over impaired links (issue 22).

The topology of topo.py (caller A inside 192.168.1.1:2000, RTP 6000; callee B outside
198.51.100.2:5060, RTP 7000), the ALG with the product's defaults (the test sets no ALG
knob), 0 and 2 workers. One sipp caller places the calls one after the other (-l 1), one
sipp callee answers them (scenarios/impair_uac.xml, impair_uas.xml: uac.xml and uas.xml as
phones play them over such links); each call: INVITE with SDP, 180, 200 with SDP, ACK, G.711
RTP both ways for 2.7 s, BYE 3.5 s after the ACK, 200. sipp retransmits over UDP by RFC
3261's timers (T1 500 ms). The links are impaired (impair.py):

  loss<N>   N % of the UDP packets dropped at each of four points: into VPP and out of it,
            inside and outside (nftables, numgen random)
  dup       50 % of the UDP packets that go to VPP sent twice, from both sides (nft dup)
  reorder   every frame of both links delayed 0-60 ms by a userspace relay on a hop (RTP is
            30 ms apart, 180 and 200 leave back to back: they overtake each other), 5 % of
            them 300-700 ms more (past T1: a retransmission and its original both arrive)
  late      0-20 ms, and 3 % of the frames 1-6 s more: a message (or its retransmission)
            may arrive after the call it belongs to has ended

For each call sipp reports established (the caller got the 200 to its INVITE, the callee
the ACK), the RTP each way that reached VPP before the BYE left (unique RTP sequence
numbers in the capture on the sending side, which sees what survived the loss into VPP) has
reached the other side's link for at least 90 % (capture on the receiving side, which sees
what VPP sent before the loss out of it), with the tcpdumps alive and dropping nothing; a
side that played a second or more before the BYE sent some. No SIP that left VPP outside
names the inside network. No call record outlives the 200 to its BYE by more than a few
seconds (`show sip-alg calls` once a second), and a few seconds after the last call's end
(far below the 60 s media and 120 s signaling ages) the ALG holds no call record of a call
that completed, no server-map entry and no NAT44-ED static mapping without a record, no
media port pair in use, and nothing aged out during the run (pinhole_expired 0). A call
that did not complete (every retransmission of a message lost) may leave its record and
entries: the ALG cannot know it is over.

CI runs loss10, dup and reorder with 5 calls each (IMPAIR_PROFILES, IMPAIR_CALLS);
`make impair` the whole matrix with more calls, a JSON report per run in IMPAIR_REPORT.
"""

import contextlib
import json
import os
import re
import shutil
import threading
import time

import pytest

from capture import Capture, settle, wait_listening
from impair import Nft, RelayTopo, SipLog, read_pcap, rtp_seq, sip_info
from test_call import A_RTP, A_SIP, B_RTP, B_SIP
from topo import HERE, Topo, topo_fixture

PROFILES = {
    "loss5": {"loss": 5},
    "loss10": {"loss": 10},
    "loss20": {"loss": 20},
    "dup": {"dup": 50},
    "reorder": {"jitter": 60, "late": 5, "late_ms": (300, 700)},
    "late": {"jitter": 20, "late": 3, "late_ms": (1000, 6000)},
}
RUN_PROFILES = os.environ.get("IMPAIR_PROFILES", "loss10,dup,reorder").split(",")
N_CALLS = int(os.environ.get("IMPAIR_CALLS", "5"))
REPORT_DIR = os.environ.get("IMPAIR_REPORT")
G711 = "/usr/share/sip-tester/g711a.pcap"
RTP_PACKETS = 90  # of G711: 2.7 s, 30 ms apart
RTP_INTERVAL = 0.03
# of what a side played before the BYE, at least this share reached VPP (the loss profiles
# drop at most 20% on the way in; half leaves room for sipp starting late on a busy machine)
MIN_PLAYED_SHARE = 0.5
MIN_RATIO = 0.90
CLEAN_WAIT = 5.0  # s after the last call's end
CUT = 0.2  # s: RTP sent this close to the BYE may legitimately meet closed pinholes


@pytest.fixture(params=[(w, p) for w in (0, 2) for p in RUN_PROFILES],
                ids=lambda wp: f"{wp[0]}w-{wp[1]}")
def imp(e2e_prefix, request):
    workers, profile = request.param
    if profile not in PROFILES:
        pytest.fail(f"unknown profile {profile!r} (IMPAIR_PROFILES): {sorted(PROFILES)}")
    spec = PROFILES[profile]
    if ("loss" in spec or "dup" in spec) and not shutil.which("nft"):
        pytest.skip("nft (nftables) not found: it makes the loss and the duplicates")
    cls, kw = Topo, {}
    if "jitter" in spec:
        cls = RelayTopo
        kw = {k: spec[k] for k in ("jitter", "late", "late_ms")}
        kw["seconds"] = 60 + N_CALLS * 60  # the relays' lifetime bound
    for t in topo_fixture(e2e_prefix, request, cls=cls, workers=workers, **kw):
        t.profile, t.spec = profile, spec
        yield t


def scenarios(tmp):
    """impair_uac.xml and impair_uas.xml (scenarios/) playing the first RTP_PACKETS packets
    of sipp's g711a.pcap (2.7 s); returns their paths in tmp."""
    from scapy.all import rdpcap, wrpcap
    pcap = os.path.join(tmp, "rtp.pcap")
    wrpcap(pcap, rdpcap(G711)[:RTP_PACKETS])
    out = []
    for name in ("impair_uac.xml", "impair_uas.xml"):
        xml, n = re.subn(re.escape(G711), pcap, open(os.path.join(HERE, "scenarios", name)).read())
        assert n == 1, f"{G711} not found once in {name}"
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(xml)
        out.append(path)
    return out


class Sampler(threading.Thread):
    """`show sip-alg calls` once a second while the calls run: when each record was seen
    in which state (for the report of what was left)."""

    def __init__(self, vpp, limit):
        super().__init__(daemon=True)
        self.vpp, self.limit = vpp, limit
        self.seen = {}  # Call-ID -> [(time, state)] when its state changed
        self.last = {}  # Call-ID -> when its record was last seen
        self.done = threading.Event()

    def run(self):
        end = time.time() + self.limit
        while not self.done.is_set() and time.time() < end:
            try:
                for cid, st in parse_calls(self.vpp.cli("show sip-alg calls")):
                    now = time.time()
                    hist = self.seen.setdefault(cid, [])
                    if not hist or hist[-1][1] != st:
                        hist.append((now, st))
                    self.last[cid] = now
            except Exception:  # VPP busy or gone: the test sees that itself
                pass
            self.done.wait(1.0)


def parse_calls(text):
    return re.findall(r"Call-ID: (\S+), State: (\S+),", text)


def state(t):
    calls = [l.strip() for l in t.vpp.cli("show sip-alg calls").splitlines() if l.strip()]
    m = re.search(r"media-ports \S+ \(\d+ pairs shared by all threads, (\d+) in use\)",
                  t.vpp.cli("show sip-alg config"))
    return {"server_map": t.server_map(), "static_mappings": t.static_mappings(),
            "calls": calls, "media_pairs_in_use": int(m.group(1)) if m else None}


def wait_clean(t, timeout):
    start = time.time()
    while True:
        s = state(t)
        empty = not (s["server_map"] or s["static_mappings"] or s["calls"] or
                     s["media_pairs_in_use"])
        if empty or time.time() - start > timeout:
            s["seconds"] = round(time.time() - start, 1)
            return s
        time.sleep(0.25)


def capture_point(t, side):
    """(namespace, interface) where a capture sees what VPP gets from side and sends to it:
    the host's veth end (nft drops into VPP before the capture and out of VPP after it), or
    with the relay the hop's end towards VPP."""
    if hasattr(t, "capture_point"):
        return t.capture_point({"inside": "in", "outside": "out"}[side])
    return (t.ns_in, t.if_in) if side == "inside" else (t.ns_out, t.if_out)


def run_calls(t, tmp, n):
    """n calls in a row over the impaired links; returns the raw material of the report."""
    uac_xml, uas_xml = scenarios(tmp)
    spec = t.spec
    run = {"profile": t.profile, "workers": t.workers, "calls": n, "spec": spec}
    nfts = {side: Nft(t, ns, dev, loss=spec.get("loss", 0), dup=spec.get("dup", 0))
            for side, ns, dev in (("inside", t.ns_in, t.if_in), ("outside", t.ns_out, t.if_out))}
    limit = 60 + n * 45  # the whole sequence at most (a call that times out takes ~35 s)
    with contextlib.ExitStack() as stack:
        for x in nfts.values():
            stack.enter_context(x)
        # each ready once tcpdump listens; whether it ran all along and dropped nothing is
        # in the report (capture_alive, capture_dropped)
        caps = {side: Capture(t, *capture_point(t, side), f"{tmp}/{side}.pcap")
                for side in ("inside", "outside")}
        sampler = Sampler(t.vpp, limit)
        sampler.start()
        # a phone ignores an INVITE or ACK that comes again (duplication, reordering):
        # sipp, by default, aborts the call on either
        common = ("-nostdin", "-trace_msg", "-trace_err", "-timeout", f"{limit}s",
                  "-default_behaviors", "all,-abortunexp")
        uas = t.popen_in(t.ns_out, "sipp", "-sf", uas_xml, "-i", t.B, "-p", str(B_SIP),
                         "-mi", t.B, "-mp", str(B_RTP), "-m", str(n + 100), *common,
                         "-message_file", f"{tmp}/uas_messages.log", cwd=tmp,
                         log=f"{tmp}/uas.out")
        wait_listening(t, t.ns_out, uas, [("udp", t.B, B_SIP)], "sipp (callee)",
                       f"{tmp}/uas.out")
        start = time.time()
        uac = t.popen_in(t.ns_in, "sipp", "-sf", uac_xml, f"{t.B}:{B_SIP}", "-s", "bob",
                         "-i", t.A, "-p", str(A_SIP), "-mi", t.A, "-mp", str(A_RTP),
                         "-m", str(n), "-l", "1", *common,
                         "-message_file", f"{tmp}/uac_messages.log", cwd=tmp,
                         log=f"{tmp}/uac.out")
        try:
            run["uac_rc"] = uac.wait(limit + 10)
        except Exception:
            run["uac_rc"] = None
        run["duration"] = round(time.time() - start, 1)
        # right after the last call's end
        run["after"] = wait_clean(t, CLEAN_WAIT)
        run["counters"] = {k: v for k, v in t.vpp.counters().items() if v}
        run["alg_config"] = t.vpp.cli("show sip-alg config")  # NAT's last refusal among it
        # VPP's drops and errors on every node (NAT44-ED's, the handoff queues', the ALG's):
        # where a packet that reached VPP and did not leave it went
        run["vpp_errors"] = t.vpp.cli("show errors")
        sampler.done.set()
        sampler.join(5)
        run["records_seen"] = sampler.seen
        run["records_last_seen"] = sampler.last
        run["nft"] = {side: x.counters() for side, x in nfts.items()}
        run["capture_alive"] = {side: c.proc.poll() is None for side, c in caps.items()}
        uas.terminate()
        uas.wait(5)
        settle(list(caps.values()))
        for c in caps.values():
            c.proc.terminate()
            c.proc.wait(5)
    run["capture_dropped"] = {}
    for side in caps:
        log = open(f"{tmp}/{side}.pcap.log").read()
        m = re.search(r"(\d+) packets? dropped by kernel", log)
        run["capture_dropped"][side] = int(m.group(1)) if m else None
    if hasattr(t, "stats"):
        run["relay"] = {side: t.stats(side) for side in ("in", "out")}
    return run


def analyse(t, tmp, run):
    """Per call: established, completed, RTP each way (sent into VPP, delivered by it)."""
    inside, outside = read_pcap(f"{tmp}/inside.pcap"), read_pcap(f"{tmp}/outside.pcap")
    uac, uas = SipLog(f"{tmp}/uac_messages.log"), SipLog(f"{tmp}/uas_messages.log")
    norm = lambda cid: cid.replace("@" + t.PUB, "@" + t.A)  # the ALG's Call-ID outside

    def sip_msgs(pkts, where):
        out = []
        for p in pkts:
            if p.sport in (A_SIP, B_SIP) or p.dport in (A_SIP, B_SIP):
                info = sip_info(p.payload)
                if info and info[1]:
                    m = re.search(rb"^m=audio (\d+) ", p.payload, re.M)
                    out.append((p.time, where(p), info[0], norm(info[1]), info[2],
                                int(m.group(1)) if m else None))
        return out

    sip_in = sip_msgs(inside, lambda p: "A>vpp" if p.src == t.A else "vpp>A")
    # SIP that left VPP outside naming the inside network (the ALG missed a rewrite)
    run["inside_address_outside"] = [
        f"{p.time:.3f} {sip_info(p.payload)[0] if sip_info(p.payload) else p.payload[:40]!r}"
        for p in outside if (p.sport in (A_SIP, B_SIP) or p.dport in (A_SIP, B_SIP)) and
        b"192.168.1." in p.payload]
    sip_out = sip_msgs(outside, lambda p: "B>vpp" if p.src == t.B else "vpp>B")
    cids = uac.call_ids()

    def windows(msgs):
        first = {}
        for m in msgs:
            first.setdefault(m[3], m[0])
        starts = sorted((tm, cid) for cid, tm in first.items() if cid in cids)
        win = {}
        for i, (tm, cid) in enumerate(starts):
            win[cid] = (tm, starts[i + 1][0] if i + 1 < len(starts) else float("inf"))
        byes = {}
        for m in msgs:
            if m[2].startswith("BYE "):
                byes.setdefault(m[3], m[0])
        return win, byes

    win_in, bye_in = windows(sip_in)
    win_out, bye_out = windows(sip_out)

    def seqs(pkts, match, win, bye, cid):
        lo, hi = win.get(cid, (0, -1))
        cut = min(hi, bye.get(cid, hi) - CUT) if bye is not None else hi
        return {rtp_seq(p.payload) for p in pkts
                if lo <= p.time < cut and match(p) and rtp_seq(p.payload) is not None}

    # outside, a call's media are those of the public port the ALG gave it (the SDP of its
    # INVITE as it left VPP): the callee may go on playing after a BYE, to the port of a
    # call that is over, while the next call runs
    pub = {}
    for m in sip_out:
        if m[1] == "vpp>B" and m[2].startswith("INVITE ") and m[5]:
            pub.setdefault(m[3], m[5])
    a_to_b_in = lambda p: p.src == t.A and p.sport == A_RTP and p.dst == t.B and p.dport == B_RTP
    b_to_a_in = lambda p: p.dst == t.A and p.dport == A_RTP and p.src == t.B and p.sport == B_RTP
    calls = []
    for k, cid in enumerate(cids):
        a_to_b_out = lambda p: (p.src == t.PUB and p.sport == pub.get(cid) and p.dst == t.B and
                                p.dport == B_RTP)
        b_to_a_out = lambda p: (p.src == t.B and p.sport == B_RTP and p.dst == t.PUB and
                                p.dport == pub.get(cid))
        out_cid = cid.replace("@" + t.A, "@" + t.PUB)
        ack_a, ack_b = uac.when(cid, "sent", "ACK "), uas.when(out_cid, "received", "ACK ")
        bye = uac.when(cid, "sent", "BYE ")
        c = {"n": k + 1, "call_id": cid, "public_rtp_port": pub.get(cid),
             "established": uac.has(cid, "received", "SIP/2.0 200", "INVITE") and
             ack_b is not None,
             "completed": uac.has(cid, "received", "SIP/2.0 200", "BYE"),
             "ended_at": uac.when(cid, "received", "SIP/2.0 200", "BYE"),
             # how long each side played its RTP before the caller hung up (B starts on
             # the ACK, which the loss may make it resend for)
             "talk_a": round(bye - ack_a, 2) if bye and ack_a else None,
             "talk_b": round(bye - ack_b, 2) if bye and ack_b else None}
        a_sent = seqs(inside, a_to_b_in, win_in, bye_in, cid)
        a_got = seqs(outside, a_to_b_out, win_out, None, cid)
        b_sent = seqs(outside, b_to_a_out, win_out, bye_out, cid)
        b_got = seqs(inside, b_to_a_in, win_in, None, cid)
        c["rtp_a_to_b"] = [len(a_sent), len(a_sent & a_got)]
        c["rtp_b_to_a"] = [len(b_sent), len(b_sent & b_got)]
        calls.append(c)
    run["per_call"] = calls
    # what the user agents sent and got (after the loss into their namespace)
    ua = []
    for log, who in ((uac, "uac"), (uas, "uas")):
        for tm, way, line, cid, cs in log.msgs:
            ua.append((tm, who + (" sent" if way == "sent" else " got "), line, norm(cid), cs,
                       None))
    run["sip"] = sorted(sip_in + sip_out + ua, key=lambda m: m[0])
    run["rtp_packets"] = {
        "a_to_b_into_vpp": sum(1 for p in inside if a_to_b_in(p)),
        "a_to_b_out_of_vpp": sum(1 for p in outside if p.src == t.PUB and p.dport == B_RTP),
        "b_to_a_into_vpp": sum(1 for p in outside if p.src == t.B and p.sport == B_RTP),
        "b_to_a_out_of_vpp": sum(1 for p in inside if b_to_a_in(p))}
    return run


def sequence(run, cid, t0):
    """The SIP of call cid, in time order, one line each: at the captures (A>vpp: into VPP
    inside, vpp>B: out of VPP outside, ...) and in the user agents' logs (uac sent, uas
    got, ...: the captures see a message before the loss into a namespace, the logs after
    it)."""
    return [f"  {tm - t0:8.3f} {where} {line} (CSeq {cs[0] if cs else '?'} "
            f"{cs[1] if cs else ''}){f' m={port}' if port else ''}"
            for tm, where, line, c, cs, port in run["sip"] if c == cid]


def call_of_port(run, port):
    """The calls whose SDP outside named public port port (the ALG's media port)."""
    return sorted({c for _, where, _, c, _, p in run["sip"] if where == "vpp>B" and p in
                   (port, port - 1)})


def diagnose(t, run, suspects=(), most=6):
    """What was left and the message sequences of the calls it belongs to and of the calls
    suspects (Call-IDs), most calls at most."""
    out = []
    after = run["after"]
    t0 = run["sip"][0][0] if run["sip"] else 0
    left = {cid for cid, _ in parse_calls("\n".join(after["calls"]))}
    out.extend(l for l in run.get("alg_config", "").splitlines() if "refus" in l)
    out.extend("vpp error: " + " ".join(l.split()) for l in run.get("vpp_errors", "").splitlines()
               if re.search(r"\b(error|warn)\b", l) and re.match(r"\s*\d", l))
    out.append(f"left {after['seconds']} s after the last call: {len(after['calls'])} call "
               f"records, {len(after['server_map'])} server-map entries, "
               f"{len(after['static_mappings'])} static mappings, "
               f"{after['media_pairs_in_use']} media pairs")
    for l in after["calls"] + after["server_map"] + after["static_mappings"]:
        m = re.search(r"ANY -> " + re.escape(t.PUB) + r":(\d+)[\[,]", l)
        owner = f"   <- SDP of {call_of_port(run, int(m.group(1)))}" if m else ""
        out.append("  " + l + owner)
        if m:
            left.update(call_of_port(run, int(m.group(1))))
    left.update(suspects)
    order = {c["call_id"]: c["n"] for c in run["per_call"]}
    for cid in sorted(left, key=lambda cid: order.get(cid, 0))[:most]:
        c = next((c for c in run["per_call"] if c["call_id"] == cid), None)
        last = run["records_last_seen"].get(cid)
        out.append(f"call {c['n'] if c else '?'} {cid}: records seen "
                   f"{[(round(tm - t0, 1), st) for tm, st in run['records_seen'].get(cid, [])]}"
                   f", last at {round(last - t0, 1) if last else None}")
        out.extend(sequence(run, cid, t0))
    return out


def report(run):
    calls = run["per_call"]
    est = [c for c in calls if c["established"]]

    def way(k):
        """RTP of established calls one way: sent, delivered, the lowest ratio of a call
        that sent any, how many sent none."""
        ratios = [c[k][1] / c[k][0] for c in est if c[k][0]]
        return (f"sent {sum(c[k][0] for c in est)} delivered {sum(c[k][1] for c in est)} "
                f"(min {min(ratios, default=0):.3f}, {len(est) - len(ratios)} calls none)")

    line = (f"{run['profile']} {run['workers']}w: {len(calls)}/{run['calls']} calls, "
            f"{len(est)} established, {sum(c['completed'] for c in calls)} completed, "
            f"{run['duration']} s; RTP A->B {way('rtp_a_to_b')}, B->A {way('rtp_b_to_a')}; left "
            f"{len(run['after']['calls'])} records, {len(run['after']['server_map'])} "
            f"entries, {len(run['after']['static_mappings'])} mappings, "
            f"{run['after']['media_pairs_in_use']} pairs after {run['after']['seconds']} s; "
            f"nft {run['nft']}; relay {run.get('relay')}; counters {run['counters']}")
    return line


def test_calls_over_impaired_links(imp, tmp_path):
    t, tmp = imp, str(tmp_path)
    run = analyse(t, tmp, run_calls(t, tmp, N_CALLS))
    summary = report(run)
    print("\n" + summary)
    problems, suspects = [], set()
    # the harness itself: the captures ran to the end and missed nothing, sipp ran its calls
    for side, alive in run["capture_alive"].items():
        if not alive:
            problems.append(f"the {side} capture died")
        if run["capture_dropped"][side] != 0:
            problems.append(f"the {side} capture dropped {run['capture_dropped'][side]}")
    calls = run["per_call"]
    if len(calls) != N_CALLS:
        problems.append(f"the caller placed {len(calls)} calls, not {N_CALLS}")
    est = [c for c in calls if c["established"]]
    if 2 * len(est) < N_CALLS:
        problems.append(f"only {len(est)} of {N_CALLS} calls established")
    # media both ways on every established call: what reached VPP left it, and a side
    # that played for a second or more before the BYE (A: 3.5 s; B: from the ACK it got)
    # got at least half of what it played in that time to VPP
    for c in est:
        for k, talk in (("rtp_a_to_b", c["talk_a"]), ("rtp_b_to_a", c["talk_b"])):
            sent, got = c[k]
            played = min(talk or 0, RTP_PACKETS * RTP_INTERVAL) / RTP_INTERVAL
            if got < MIN_RATIO * sent or (talk is not None and talk >= 1.0 and
                                          sent < MIN_PLAYED_SHARE * played):
                suspects.add(c["call_id"])
                problems.append(f"call {c['n']} {c['call_id']}: {k} {got} of {sent} "
                                f"RTP packets delivered ({talk} s of talk)")
    # right after the last call: nothing of the calls that ended
    after = run["after"]
    ended = {c["call_id"] for c in calls if c["completed"]}
    left = {cid for cid, _ in parse_calls("\n".join(after["calls"]))}
    if left & ended:
        problems.append(f"call records of completed calls left: {sorted(left & ended)}")
    if not after["calls"] and (after["server_map"] or after["static_mappings"] or
                               after["media_pairs_in_use"]):
        problems.append("entries without a call record left")
    # with records of calls that did not complete left: their media entries and mappings
    # may stay, those of the others may not (by public port: the SDP that named it)
    for l in after["server_map"] + after["static_mappings"] if after["calls"] else ():
        m = re.search(re.escape(t.PUB) + r":(\d+)", l)
        if m and f"{t.A}:{A_SIP}" not in l and not set(call_of_port(run, int(m.group(1)))) & left:
            problems.append(f"left without a record of its call: {l}")
    # ... and no record outlived the end of its call (also in the middle of a long run,
    # where what is left early could age out before the end)
    for c in calls:
        last = run["records_last_seen"].get(c["call_id"])
        if c["ended_at"] and last and last > c["ended_at"] + CLEAN_WAIT:
            suspects.add(c["call_id"])
            problems.append(f"call {c['n']} {c['call_id']}: its record was still there "
                            f"{last - c['ended_at']:.1f} s after the 200 to its BYE")
    if run["inside_address_outside"]:
        problems.append(f"SIP naming the inside network left VPP outside: "
                        f"{run['inside_address_outside'][:5]}")
    if run["counters"].get("pinhole_expired", 0):
        problems.append(f"{run['counters']['pinhole_expired']} entries aged out during the run")
    diagnosis = diagnose(t, run, suspects)
    if REPORT_DIR:
        os.makedirs(REPORT_DIR, exist_ok=True)
        with open(os.path.join(REPORT_DIR, f"{t.profile}-{t.workers}w.json"), "w") as f:
            json.dump({**run, "summary": summary, "problems": problems,
                       "diagnosis": diagnose(t, run, suspects, most=len(run["per_call"])),
                       "tmp": tmp, "vpp_dir": t.vpp.dir}, f, indent=1, default=str)
    assert not problems, "\n".join(problems + [summary] + diagnosis)
