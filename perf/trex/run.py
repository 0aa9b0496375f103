#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""TRex throughput suite: the SIP ALG in VPP's NAT44-ED path, ALG on vs off.

Starts a private VPP (NAT44-ED + the plugin, two memif links) and a TRex server on the other
end of them (testbed.py), then for each profile:
  udp64, udp512  the non-SIP UDP baseline (udp_flows.py): 1,000 inside flows, 64/512 B frames
  sip            the SIP call mix (sip_calls.py): calls set up and checked first (callsetup.py),
                 then RTP both ways through their pinholes plus a steady rate of new INVITEs
  calls          whole SIP calls per second (callrate.py, sip_call_rate.py): INVITE+SDP, 200
                 OK+SDP, ACK, BYE, 200 OK from a PBX behind a static mapping; the load is
                 calls/s and a trial passes only when every message arrived and the ALG
                 created and closed every call and left nothing (not in the default list)
it searches the no-drop rate (NDR) and the partial-drop rate (PDR, 0.5% loss) with MLRsearch
(the CSIT method), ALG on and ALG off in the same VPP (`set sip-alg interface ... [disable]`),
printing every trial; then runs a fixed load with the ALG on and off alternately and records
VPP's clocks per packet per node (`show runtime`). Writes <out>/results.json and PNG plots.

The generator is the ceiling: TRex and VPP share this machine's 2 CPUs and TRex's memif receive
side saturates first (../shared/research/trex.md), so absolute rates say little about VPP;
the ALG on/off ratios from the same run, and VPP's clocks per packet, are what to read.

Usage: perf/trex/run.py [--quick] [--duration S] [--search-time S]
                        [--profiles udp64,udp512,sip,calls] [--vpp-cpu SHARE] [--out DIR]
       perf/trex/run.py --ci --json FILE    the short check tests/perf runs (no search of
                                            the SIP mix, fixed low loads, a 2-3 trial search,
                                            a few seconds of whole calls at a low rate)
Exit status: 0 done, 2 VPP, the plugin or TRex not found (the reason is printed).
"""

import argparse
import json
import os
import platform
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

import testbed as T  # noqa: E402  (puts tests/ on sys.path for the VPP harness)
import vpp_harness as h  # noqa: E402
from locate import find_trex  # noqa: E402

CEILING = ("The generator is the ceiling: TRex and VPP share 2 CPUs (VPP's main thread on CPU 0, "
           "TRex's data core on CPU 1, over memif), and TRex's receive side saturates before VPP "
           "does; absolute rates are the testbed's, read the ALG on/off ratios and VPP's "
           "clocks per packet")


def machine():
    """The CPU model and count, for results and plots."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} vCPUs"


def bottleneck(vpp_cpu):
    """What limits the rates of this run, in words."""
    if not vpp_cpu:
        return CEILING
    return (f"VPP is the bottleneck: its main thread on CPU 0 is capped at {vpp_cpu:.0%} of that "
            "CPU (the kernel's CFS bandwidth control, a few ms periods), TRex's data core on "
            "CPU 1 is not; a trial where TRex fell short of the offered load is marked so, and "
            "the share of VPP's periods that ran into the cap is recorded per search")


def searched(tb, search):
    """search() with the cap's throttling over it: {result..., "vpp_throttled": share of
    periods in which VPP used up its quota} (no key without a cap)."""
    if tb.cap is None:
        return search()
    a = tb.cap.stats()
    r = search()
    b = tb.cap.stats()
    periods = b["nr_periods"] - a["nr_periods"]
    r["vpp_throttled"] = round((b["nr_throttled"] - a["nr_throttled"]) / periods, 3) \
        if periods else None
    return r


def searches(tb, one, rounds):
    """The ALG on and off searched `rounds` times each, in the order on, off, off, on, ...
    (ABBA: a drift of the machine over the run weighs on both alike). one(on) searches once
    with the ALG already set. {"alg_on": ..., "alg_off": ...}: with one round the search's
    record; with more, the first round's record with the mean NDR and PDR and every round's
    in "rounds"."""
    recs = {True: [], False: []}
    for r in range(rounds):
        for on in ((True, False) if r % 2 == 0 else (False, True)):
            tb.alg(on)
            recs[on].append(one(on))
    out = {}
    for on, rs in recs.items():
        rec = rs[0]
        if rounds > 1:
            rec = dict(rec, rounds=[{k: x[k] for k in ("ndr", "pdr")} for x in rs])
            for k in ("ndr", "pdr"):
                vals = [x[k] for x in rs if x[k]]
                rec[k] = sum(vals) / len(vals) if vals else None
        out["alg_on" if on else "alg_off"] = rec
    return out


def log(msg=""):
    print(msg, flush=True)


def udp_streams(size, hosts, ports):
    from trex.stl.api import STLProfile

    path = os.path.join(HERE, "udp_flows.py")

    def streams(load, duration):
        prof = STLProfile.load_py(path, port_id=0, size=size, hosts=hosts, ports=ports, pps=load)
        return {0: prof.get_streams(), 1: []}
    return streams


def sip_streams(calls_file, invite_pps, rtp_size=218):
    from trex.stl.api import STLProfile

    path = os.path.join(HERE, "sip_calls.py")

    n = [0]  # trials so far: each sends its new INVITEs from the next host

    def streams(load, duration):  # load: RTP packets per second, both directions together
        out = {p: STLProfile.load_py(path, port_id=p, calls=calls_file, rtp_pps=load / 2,
                                     invite_pps=invite_pps if p == 0 else 0, rtp_size=rtp_size,
                                     invite_host=n[0]).get_streams()
               for p in (0, 1)}
        n[0] += 1
        return out
    return streams


def ratio(a, b):
    return round(a / b, 4) if a is not None and b else None


def sample_translated(tb, run):
    """Run `run()` while capturing up to 64 packets that reach TRex port 1: how many came from
    the NAT address."""
    from trex.stl.api import IP, UDP, Ether

    c = tb.client
    cap = c.start_capture(rx_ports=[1], limit=64)["id"]
    try:
        rec = run()
    finally:
        got = []
        c.stop_capture(cap, output=got)
    pkts = [Ether(g["binary"]) for g in got]
    udp = [p for p in pkts if UDP in p]
    return rec, {"captured": len(udp),
                 "from_nat_address": sum(1 for p in udp if p[IP].src == T.PUB),
                 "inside_source_left": sum(1 for p in udp if p[IP].src.startswith("192.168."))}


def profile_udp(tb, name, size, args, M):
    hosts, ports = args.hosts, args.ports
    trials = M.Trials(tb, name, udp_streams(size, hosts, ports), [1], progress=log)
    out = {"frame_bytes": size, "flows": hosts * ports, "direction": "inside -> outside"}
    log(f"\n== {name}: non-SIP UDP, {hosts * ports} flows ({hosts} inside hosts x {ports} source "
        f"ports), {size} B frames")
    tb.alg(True)
    trials.run(1.0, args.min_load)  # the NAT sessions, before anything is measured
    out["nat_sessions"] = tb.nat_sessions()
    out["search"] = searches(tb, lambda on: searched(tb, lambda: M.search(
        trials, args.min_load, args.max_load, args.duration, args.width, args.search_time,
        progress=log)), args.search_rounds)
    s = out["search"]
    out["ratios"] = {k: ratio(s["alg_on"][k], s["alg_off"][k]) for k in ("ndr", "pdr")}
    ndrs = [x["ndr"] for x in s.values() if x["ndr"]]
    out["fixed"] = M.fixed_load(tb, trials, 0.8 * min(ndrs) if ndrs else args.min_load,
                                args.duration, args.rounds, progress=log)
    out["trials"] = trials.trials
    return out


def profile_sip(tb, args, M, C):
    log(f"\n== sip: SIP call mix, {args.calls} calls with RTP both ways "
        f"({args.rtp_size} B frames) + {args.invite_pps:g} new INVITEs/s")
    tb.alg(True)
    calls, setup = C.setup(tb, args.calls, progress=log)
    out = {"setup": setup, "rtp_frame_bytes": args.rtp_size, "invite_pps": args.invite_pps,
           "load": "RTP packets per second, both directions together (INVITEs on top)"}
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=tb.vpp.dir, delete=False) as f:
        json.dump([{k: c[k] for k in ("a", "a_rtp", "b", "b_rtp", "pub_rtp")} for c in calls], f)
    from sip_calls import PG_INVITE, PG_RTP_IN, PG_RTP_OUT
    trials = M.Trials(tb, "sip", sip_streams(f.name, args.invite_pps, args.rtp_size),
                      [PG_RTP_OUT, PG_RTP_IN, PG_INVITE], extra_pps=args.invite_pps,
                      progress=log)
    trials.run(1.0, args.min_load)  # RTP's NAT sessions; the client's overhead at a low rate

    def one(on):
        before = tb.vpp.counters()
        rec = searched(tb, lambda: M.search(trials, args.min_load, args.max_load,
                                            args.duration, args.width, args.search_time,
                                            progress=log))
        rec["counters"] = C.delta(before, tb.vpp.counters())
        return rec

    out["search"] = searches(tb, one, args.search_rounds)
    s = out["search"]
    out["ratios"] = {k: ratio(s["alg_on"][k], s["alg_off"][k]) for k in ("ndr", "pdr")}
    ndrs = [x["ndr"] for x in s.values() if x["ndr"]]
    out["fixed"] = M.fixed_load(tb, trials, 0.8 * min(ndrs) if ndrs else args.min_load,
                                args.duration, args.rounds, progress=log)
    tb.alg(True)
    out["teardown"] = C.teardown(tb, calls, progress=log)
    out["trials"] = trials.trials
    return out


def profile_calls(tb, args, M, CR):
    """Whole calls per second (callrate.py, sip_call_rate.py): NDR/PDR in calls/s ALG on and
    off, then the ALG's and the main thread's cost at 80% of the NDR with the ALG on."""
    log(f"\n== calls: whole SIP calls (INVITE+SDP, 200 OK+SDP, ACK, BYE, 200 OK; "
        f"{args.call_gap_ms:g} ms apart) from a PBX behind a static mapping, in calls/s")
    timeouts = CR.configure(tb)
    trials = CR.CallTrials(tb, args.call_gap_ms, args.call_settle, progress=log)
    out = {"load": "calls per second (5 messages each)", "gap_ms": args.call_gap_ms,
           "alg_timeouts_s": CR.TIMEOUT, "pbx": f"{CR.S.PBX}:{CR.S.SIP_PORT}",
           "public": f"{CR.S.PUB}:{CR.S.SIP_PORT}"}
    tb.alg(True)
    out["warmup"] = trials.run(1.0, args.call_rate_min)  # the path; the client's overhead
    out["search"] = {}
    for on in (True, False):
        tb.alg(on)
        # NAT alone goes as far as the other profiles' packet rates: their --max-load / 5
        hi = args.call_rate_max if on else args.max_load / 5
        out["search"]["alg_on" if on else "alg_off"] = searched(tb, lambda: M.search(
            trials, args.call_rate_min, hi, args.duration, args.width, args.search_time,
            progress=log, unit=(1.0, "calls/s")))
    s = out["search"]
    out["ratios"] = {k: ratio(s["alg_on"][k], s["alg_off"][k]) for k in ("ndr", "pdr")}
    ndr = s["alg_on"]["ndr"]
    out["fixed"] = CR.fixed_load(trials, round(0.8 * ndr if ndr else args.call_rate_min),
                                 args.duration, args.rounds, progress=log)
    tb.alg(True)
    out["left_at_end"] = dict(zip(("calls", "entries"), CR.state(tb)))
    CR.restore(tb, timeouts)
    out["trials"] = trials.trials
    return out


def ci_calls(tb, args, CR):
    """The short check of the calls profile: ci_seconds at ci_call_rate calls/s, ALG on."""
    log(f"\n== calls: {args.ci_call_rate:g} whole calls/s for {args.ci_seconds} s, ALG on")
    timeouts = CR.configure(tb)
    tb.alg(True)
    trials = CR.CallTrials(tb, args.call_gap_ms, args.call_settle, progress=log)
    rec = trials.run(args.ci_seconds, args.ci_call_rate)
    CR.restore(tb, timeouts)
    return rec


def ci(tb, args, M, C):
    """The short check: fixed low loads ALG on and off, a 2-3 trial search, the call mix."""
    out = {}
    trials = M.Trials(tb, "udp64", udp_streams(64, args.hosts, args.ports), [1], progress=log)
    log(f"\n== udp64: {args.hosts * args.ports} flows, fixed {args.ci_load / 1e3:.0f} kpps, "
        f"{args.ci_seconds} s, ALG on and off")
    u = out["udp64"] = {"flows": args.hosts * args.ports}
    for on in (True, False):
        tb.alg(on)
        rec, sample = sample_translated(tb, lambda: trials.run(args.ci_seconds, args.ci_load))
        u["alg_on" if on else "alg_off"] = {**rec, "sample": sample}
    u["nat_sessions"] = tb.nat_sessions()
    tb.alg(True)
    u["search"] = M.search(trials, args.ci_load / 2, args.max_load, 1.0, 0.5, args.search_time,
                           progress=log)

    log(f"\n== sip: {args.calls} calls, RTP {args.ci_load / 1e3:.0f} kpps + "
        f"{args.invite_pps:g} INVITEs/s, {args.ci_seconds} s, ALG on and off")
    calls, setup = C.setup(tb, args.calls, progress=log)
    s = out["sip"] = {"setup": setup}
    path = os.path.join(tb.vpp.dir, "calls.json")
    with open(path, "w") as f:
        json.dump([{k: c[k] for k in ("a", "a_rtp", "b", "b_rtp", "pub_rtp")} for c in calls], f)
    from sip_calls import PG_INVITE, PG_RTP_IN, PG_RTP_OUT
    sip = M.Trials(tb, "sip", sip_streams(path, args.invite_pps), [PG_RTP_OUT, PG_RTP_IN, PG_INVITE],
                   extra_pps=args.invite_pps, progress=log)
    for on in (True, False):
        tb.alg(on)
        before = tb.vpp.counters()
        rec = sip.run(args.ci_seconds, args.ci_load)
        fs = tb.client.get_stats()["flow_stats"]
        rec["groups"] = {name: {"tx": fs[pg]["tx_pkts"]["total"], "rx": fs[pg]["rx_pkts"]["total"]}
                         for name, pg in (("rtp_out", PG_RTP_OUT), ("rtp_in", PG_RTP_IN),
                                          ("invite", PG_INVITE))}
        rec["counters"] = C.delta(before, tb.vpp.counters())
        s["alg_on" if on else "alg_off"] = rec
    tb.alg(True)
    s["teardown"] = C.teardown(tb, calls, progress=log)
    import callrate as CR
    out["calls"] = ci_calls(tb, args, CR)
    return out


def summary(res):
    lines = ["", "summary (NDR/PDR in kpps, calls in calls/s; ratio = ALG on / ALG off, same VPP, "
             "same run)"]
    for name, p in res["profiles"].items():
        if name == "calls":
            lines += summary_calls(p)
            continue
        s = p["search"]
        cells = []
        for k in ("ndr", "pdr"):
            cells.append(f"{k.upper()} on {kp(s['alg_on'][k])} off {kp(s['alg_off'][k])} "
                         f"ratio {p['ratios'][k] if p['ratios'][k] is not None else '-'}")
        lines.append(f"  {name:7s} " + "; ".join(cells))
        if "rounds" in s["alg_on"]:
            lines.append("          NDR by round (on, off, off, on, ...): on " +
                         " ".join(kp(x["ndr"]) for x in s["alg_on"]["rounds"]) + ", off " +
                         " ".join(kp(x["ndr"]) for x in s["alg_off"]["rounds"]))
        f = p["fixed"]
        alg = ", ".join(f"{n} {f['alg_on']['nodes'].get(n, 0):.1f}" for n in T.ALG_NODES)
        lines.append(f"          at {f['load'] / 1e3:.0f} kpps: ALG nodes {f['alg_on']['alg']:.1f} "
                     f"clk/pkt ({alg}), NAT nodes {f['alg_on']['nat']:.1f} on / "
                     f"{f['alg_off']['nat']:.1f} off, path {f['alg_on']['total']:.1f} / "
                     f"{f['alg_off']['total']:.1f} clk/pkt (ratio {f['path_ratio_on_off']:.3f})")
    lines.append("  " + res["generator_ceiling"] + ".")
    return "\n".join(lines)


def summary_calls(p):
    s, f = p["search"], p["fixed"]
    cells = [f"{k.upper()} on {cps(s['alg_on'][k])} off {cps(s['alg_off'][k])} ratio "
             f"{p['ratios'][k] if p['ratios'][k] is not None else '-'}" for k in ("ndr", "pdr")]
    on = f["alg_on"]
    return [f"  calls   (calls/s) " + "; ".join(cells),
            f"          at {f['load']:.0f} calls/s: sip-alg-post "
            f"{on['nodes'].get('sip-alg-post', 0):.0f} clk/message, path {on['path'] or 0:.0f} "
            f"on / {f['alg_off']['path'] or 0:.0f} off clk/message, main thread "
            f"{on['main_thread_us_per_call'] or 0:.1f} us per call"]


def cps(x):
    return "-" if x is None else f"{x:.0f}"


def where(res):
    """The machine and what limited the rates, for plot titles."""
    tb = res["testbed"]
    cap = tb.get("vpp_cpu_share")
    return (f"{tb.get('cpu', tb['machine'])}; "
            + (f"VPP capped at {cap:.0%} of a CPU (VPP-bound)" if cap
               else "the generator is the ceiling"))


def kp(pps):
    return "-" if pps is None else f"{pps / 1e3:.1f}"


def plots(res, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    if "calls" in res["profiles"]:
        files.append(plot_calls(res, res["profiles"]["calls"], out, plt))
    names = [n for n in res["profiles"] if n != "calls"]
    if not names:
        return files
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names):
        for on, colour in ((True, "tab:red"), (False, "tab:blue")):
            for short, marker in ((False, "o"), (True, "x")):
                t = [x for x in res["profiles"][name]["trials"]
                     if x["alg"] == on and x["generator_short"] == short]
                ax.scatter([x["load"] / 1e6 for x in t], [100 * x["loss_ratio"] for x in t],
                           s=14, color=colour, marker=marker,
                           label=f"ALG {'on' if on else 'off'}"
                           + (", TRex short of the load" if short else ""))
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_yscale("symlog", linthresh=0.01)
        ax.set_ylim(0, 100)
        ax.set_title(name)
        ax.set_xlabel("offered load (Mpps)")
        ax.set_ylabel("loss (%)")
        ax.legend(fontsize=7)
    fig.suptitle(f"TRex trials: loss vs offered load (dashed: PDR's 0.5%); {where(res)}",
                 fontsize=9)
    fig.tight_layout()
    files.append(os.path.join(out, "loss_vs_load.png"))
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4))
    width, xs = 0.2, range(len(names))
    for k, (goal, on) in enumerate([("ndr", True), ("ndr", False), ("pdr", True), ("pdr", False)]):
        vals = [(res["profiles"][n]["search"]["alg_on" if on else "alg_off"][goal] or 0) / 1e6
                for n in names]
        bars = ax.bar([x + (k - 1.5) * width for x in xs], vals, width,
                      label=f"{goal.upper()} ALG {'on' if on else 'off'}",
                      color=["tab:red", "tab:blue", "salmon", "lightsteelblue"][k])
        if on:
            for b, n in zip(bars, names):
                r = res["profiles"][n]["ratios"][goal]
                if r is not None:
                    ax.annotate(f"{r:.3f}", (b.get_x() + width, b.get_height()), ha="center",
                                va="bottom", fontsize=8)
    ax.set_xticks(list(xs), names)
    ax.set_ylabel("Mpps")
    ax.set_title("NDR / PDR, ALG on vs off (labels: on/off ratio); " + where(res), fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(os.path.join(out, "ndr_pdr.png"))
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4.5), squeeze=False)
    for ax, name in zip(axes[0], names):
        f = res["profiles"][name]["fixed"]
        nodes = [n for n in T.NODES if n != "memif-input" and
                 (n in f["alg_on"]["nodes"] or n in f["alg_off"]["nodes"])]
        ys = range(len(nodes))
        ax.barh([y + 0.2 for y in ys], [f["alg_on"]["nodes"].get(n, 0) for n in nodes], 0.4,
                color="tab:red", label="ALG on")
        ax.barh([y - 0.2 for y in ys], [f["alg_off"]["nodes"].get(n, 0) for n in nodes], 0.4,
                color="tab:blue", label="ALG off")
        ax.set_yticks(list(ys), nodes, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("clocks per packet")
        ax.set_title(f"{name} at {f['load'] / 1e3:.0f} kpps (medians of {f['rounds']})",
                     fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(os.path.join(out, "clocks.png"))
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)
    return files


def plot_calls(res, p, out, plt):
    """calls.png: loss vs offered calls/s per trial, and NDR/PDR in calls/s ALG on vs off."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for on, colour in ((True, "tab:red"), (False, "tab:blue")):
        for short, marker in ((False, "o"), (True, "x")):
            t = [x for x in p["trials"] if x["alg"] == on and x["generator_short"] == short]
            a.scatter([x["load"] for x in t], [100 * x["loss_ratio"] for x in t], s=14,
                      color=colour, marker=marker,
                      label=f"ALG {'on' if on else 'off'}"
                      + (", TRex short of the load" if short else ""))
    a.axhline(0.5, color="grey", lw=0.8, ls="--")
    a.set_xscale("log")
    a.set_yscale("symlog", linthresh=0.01)
    a.set_ylim(0, 100)
    a.set_xlabel("offered load (calls/s, 5 messages each)")
    a.set_ylabel("loss (%; a call the ALG failed counts as 5 messages)")
    a.set_title("calls: trials", fontsize=9)
    a.legend(fontsize=7)
    vals, labels, colours = [], [], []
    for goal in ("ndr", "pdr"):
        for on in (True, False):
            vals.append(p["search"]["alg_on" if on else "alg_off"][goal] or 0)
            labels.append(f"{goal.upper()}\nALG {'on' if on else 'off'}")
            colours.append("tab:red" if on else "tab:blue")
    bars = b.bar(range(4), vals, color=colours)
    for bar, v in zip(bars, vals):
        b.annotate(f"{v:,.0f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                   ha="center", va="bottom", fontsize=8)
    b.set_xticks(range(4), labels, fontsize=8)
    b.set_ylabel("calls/s")
    r = p["ratios"]
    b.set_title(f"NDR/PDR in whole calls/s (ratio on/off: NDR {r['ndr']}, PDR {r['pdr']})",
                fontsize=9)
    fig.suptitle(f"SIP calls through NAT44-ED and the ALG; {where(res)}", fontsize=9)
    fig.tight_layout()
    path = os.path.join(out, "calls.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 s trials, 20%% width, short searches")
    ap.add_argument("--duration", type=float, help="final trial duration, s (default 2; quick 1)")
    ap.add_argument("--search-time", type=float,
                    help="bound on each search, s (default 100; quick 30; ci 20)")
    ap.add_argument("--width", type=float, help="MLRsearch relative width (default 0.02; quick 0.2)")
    ap.add_argument("--rounds", type=int, help="fixed-load rounds ALG on/off (default 3; quick 1)")
    ap.add_argument("--search-rounds", type=int, default=1,
                    help="NDR/PDR searches ALG on and off, each this many times in the order "
                         "on, off, off, on, ... (the mean of each side; udp and sip profiles; "
                         "default 1)")
    ap.add_argument("--profiles", default="udp64,udp512,sip",
                    help="comma-separated: udp64, udp512, sip, calls (default: all but calls)")
    ap.add_argument("--min-load", type=float, default=10e3, help="pps")
    ap.add_argument("--max-load", type=float, default=3e6, help="pps")
    ap.add_argument("--hosts", type=int, default=100, help="inside hosts of the UDP baseline")
    ap.add_argument("--ports", type=int, default=10, help="source ports per host")
    ap.add_argument("--calls", type=int, help="calls of the SIP mix (default 64; ci 8)")
    ap.add_argument("--invite-pps", type=float, help="new INVITEs/s in the SIP mix (default 100; ci 20)")
    ap.add_argument("--rtp-size", type=int, default=218)
    ap.add_argument("--call-rate-min", type=float, default=100.0,
                    help="calls profile: the search's lowest load, calls/s")
    ap.add_argument("--call-rate-max", type=float, default=200000.0,
                    help="calls profile: the highest load searched with the ALG on, calls/s "
                         "(ALG off: --max-load / 5)")
    ap.add_argument("--call-gap-ms", type=float, default=20.0,
                    help="calls profile: ms between a call's messages")
    ap.add_argument("--call-settle", type=float, default=2.0,
                    help="calls profile: s the ALG has after a trial to close its calls")
    ap.add_argument("--ci-call-rate", type=float, default=200.0,
                    help="calls/s of the ci check's calls trial")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "trex"))
    ap.add_argument("--ci", action="store_true", help="the short check of tests/perf")
    ap.add_argument("--ci-load", type=float, default=20e3, help="pps of the ci check's trials")
    ap.add_argument("--ci-seconds", type=float, default=3.0)
    ap.add_argument("--json", help="results file (default <out>/results.json)")
    ap.add_argument("--vpp-cpu", type=float,
                    help="cap VPP at this share of one CPU (e.g. 0.4) so that VPP, not TRex, "
                         "limits the rate (make perf-trex-vpp-bound)")
    args = ap.parse_args()
    if args.search_rounds < 1:
        ap.error(f"--search-rounds {args.search_rounds}: at least 1")
    quick = args.quick or args.ci
    args.duration = args.duration or (1.0 if quick else 2.0)
    args.search_time = args.search_time or (20.0 if args.ci else 30.0 if quick else 100.0)
    args.width = args.width or (0.2 if quick else 0.02)
    args.rounds = args.rounds or (1 if quick else 3)
    args.calls = args.calls or (8 if args.ci else 16 if quick else 64)
    args.invite_pps = args.invite_pps if args.invite_pps is not None else \
        (20.0 if args.ci else 100.0)

    # a SIGTERM (a test's timeout, make interrupted) unwinds: TRex and VPP are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    prefix, why = h.find_vpp()
    if not prefix:
        log(why)
        return 2
    if not h.find_plugin():
        log("the plugin is not built: make plugin")
        return 2
    scripts, why = find_trex()
    if not scripts:
        log(why)
        return 2
    # TRex's client puts its own scapy and yaml first on sys.path: import it after the harness
    import lbr_trex_client  # noqa: F401
    import callsetup as C
    import measure as M

    log(f"VPP {prefix}, plugin {h.find_plugin()}, TRex {scripts}")
    log(bottleneck(args.vpp_cpu) + ".")
    t0 = time.monotonic()
    res = {"generator_ceiling": bottleneck(args.vpp_cpu),
           "testbed": {"vpp": prefix, "trex": scripts, "cpus": os.cpu_count(),
                       "machine": platform.machine(), "cpu": machine(), "vpp_workers": 0,
                       "memif_ring_slots": 16384, "vpp_cpu_share": args.vpp_cpu},
           "settings": {k: v for k, v in vars(args).items() if k not in ("out", "json")}}
    with T.Testbed(prefix, scripts, log=log, vpp_cpu=args.vpp_cpu) as tb:
        res["testbed"]["vpp_version"] = tb.vpp.cli("show version").strip()
        if args.ci or "calls" in args.profiles.split(","):
            import callrate as CR
            CR.publish(tb)  # before any traffic: see publish()
        if args.ci:
            res["ci"] = ci(tb, args, M, C)
        else:
            res["profiles"] = {}
            for name in args.profiles.split(","):
                if name in ("udp64", "udp512"):
                    res["profiles"][name] = profile_udp(tb, name, int(name[3:]), args, M)
                elif name == "sip":
                    res["profiles"][name] = profile_sip(tb, args, M, C)
                elif name == "calls":
                    import callrate as CR
                    res["profiles"][name] = profile_calls(tb, args, M, CR)
                else:
                    raise SystemExit(f"unknown profile {name}")
        res["vpp_errors"] = [l for l in tb.vpp.cli("show errors").splitlines()[1:] if l.strip()]
    res["seconds"] = round(time.monotonic() - t0, 1)
    os.makedirs(args.out, exist_ok=True)
    path = args.json or os.path.join(args.out, "results.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    if not args.ci:
        log(summary(res))
        for p in plots(res, args.out):
            log(f"wrote {p}")
    log(f"wrote {path} ({res['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
