# SPDX-License-Identifier: Apache-2.0
"""Trials, the NDR/PDR search (MLRsearch, the CSIT method) and VPP's clocks per node.

A trial loads a profile's streams for an intended load, sends for a duration, and counts
packets by TRex flow-stats groups (sent on one port, received on the other: NAT-translated
packets that made it through VPP). When TRex cannot keep the intended rate it sends the same
packets over a longer time (memif's ring towards VPP full, or its core busy): a trial whose
sending took more than 5% (+50 ms) longer than intended (less the client's own overhead: the
least any trial of the run took beyond its duration; the first is at a low rate) counts the packets it should have sent in that time and did
not as lost (MLRsearch's unsent count); so does a trial in which TRex counted packets for its
streams that its memif driver could not put on the ring (flow-stats tx above the port's
opackets; `generator_tx_drop`). So the search stays below the generator's rate too, and such
trials are marked `generator_short`.
"""

import statistics
import time

from MLRsearch import AbstractMeasurer, Config, GoalResult, MeasurementResult, \
    MultipleLossRatioSearch, SearchGoal

import testbed as T

NDR, PDR = 0.0, 0.005  # the goals' loss ratios: no drop, partial drop (0.5%)


class Trials(AbstractMeasurer):
    """MLRsearch's measurer for one profile and one ALG setting.

    streams(load, duration) -> {port: [STLStream]}; pgs: the flow-stats groups counted; extra_pps: the
    fixed-rate part of the profile (sent in addition to the intended load)."""

    def __init__(self, tb, label, streams, pgs, extra_pps=0.0, progress=print):
        self.tb, self.label, self.streams, self.pgs = tb, label, streams, pgs
        self.extra_pps = extra_pps
        self.progress = progress
        self.trials = []  # every trial's record, in order
        self.overhead = None  # seconds a trial takes beyond its duration at a low rate

    def run(self, duration, load, runtime=False):
        """One trial; returns its record (dict)."""
        c, tb = self.tb.client, self.tb
        by_port = self.streams(load, duration)
        ports = sorted(by_port)
        c.stop(ports=[0, 1])
        c.remove_all_streams(ports=[0, 1])
        for p, s in by_port.items():
            if s:
                c.add_streams(s, ports=[p])
        ports = [p for p in ports if by_port[p]]
        c.clear_stats()
        if runtime:
            tb.vpp.cli_ok("clear runtime")
        t0 = time.monotonic()
        c.start(ports=ports, duration=duration, force=True)
        c.wait_on_traffic(ports=ports, timeout=int(duration * 3 + 30))
        sent_for = time.monotonic() - t0
        rt = tb.runtime() if runtime else None
        tx, rx, port_tx = self._counts(ports)
        # packets TRex counted for its streams but its driver could not put on the ring
        tx_drop = max(tx - port_tx, 0)
        # the least any trial took beyond its duration is the client's own share
        over = max(sent_for - duration, 0.0)
        self.overhead = over if self.overhead is None else min(self.overhead, over)
        took = max(sent_for - self.overhead, duration)
        short = took > duration * 1.05 + 0.05 or tx_drop > 0.001 * tx
        # what it should have sent: in the intended duration, or in the time it took
        intended = round((load + self.extra_pps) * (took if short else duration))
        rec = {"label": self.label, "alg": tb.alg_on, "duration": duration, "load": load,
               "intended": intended, "tx": tx, "rx": rx, "sent_for": round(took, 3),
               "generator_tx_drop": tx_drop,
               "generator_short": short, "loss_ratio": loss_ratio(intended, tx, rx, short)}
        if rt is not None:
            rec["runtime"] = rt
        self.trials.append(rec)
        self.progress(f"  [{self.label} ALG {'on ' if tb.alg_on else 'off'}] trial "
                      f"{len(self.trials):2d}: {duration:4.1f} s at {load / 1e3:9.1f} kpps: "
                      f"loss {100 * rec['loss_ratio']:7.3f}% (sent {tx}, received {rx}"
                      + (f"; TRex short of the load: took {took:.2f} s, {tx_drop} not put on "
                         "the ring)" if short else ")"))
        return rec

    def _counts(self, ports):
        """(tx, rx) summed over the groups, and the packets the sending ports put on their
        rings, once the receive counters stop moving."""
        prev = None
        for _ in range(20):
            time.sleep(0.25)
            st = self.tb.client.get_stats()
            fs = st["flow_stats"]
            cur = (sum(fs.get(pg, {}).get("tx_pkts", {}).get("total", 0) for pg in self.pgs),
                   sum(fs.get(pg, {}).get("rx_pkts", {}).get("total", 0) for pg in self.pgs),
                   sum(st[p]["opackets"] for p in ports))
            if cur == prev:
                break
            prev = cur
        return cur

    def measure(self, intended_duration, intended_load):
        r = self.run(intended_duration, intended_load)
        kw = {}
        if r["generator_short"]:  # unsent counts as loss
            kw["intended_count"] = max(r["intended"], r["tx"])
        return MeasurementResult(intended_duration=intended_duration,
                                 intended_load=intended_load, offered_count=r["tx"],
                                 forwarding_count=r["rx"], offered_duration=r["sent_for"], **kw)


def loss_ratio(intended, tx, rx, short):
    """MLRsearch's loss ratio of a trial (unsent counts as lost when the generator was short)."""
    sent = max(intended, tx) if short else tx
    return (sent - rx) / sent if sent else 0.0


def search(trials, min_load, max_load, duration, width, time_limit, progress=print,
           unit=(1e3, "kpps")):
    """NDR and PDR in one MLRsearch run: {"ndr": load or None, "pdr": ..., "trials": n,
    "seconds": s, "complete": bool}. Bounded by time_limit seconds; a search cut short reports
    the bounds it had (complete: false). unit: (scale, name) of the loads in the log lines."""
    goals = [SearchGoal(loss_ratio=lr, exceed_ratio=0.0, relative_width=width,
                        initial_trial_duration=min(1.0, duration), final_trial_duration=duration,
                        duration_sum=duration, preceding_targets=1, fail_fast=False)
             for lr in (NDR, PDR)]
    cfg = Config()
    cfg.goals = goals
    cfg.min_load, cfg.max_load = min_load, max_load
    cfg.search_duration_max = time_limit
    cfg.warmup_duration = min(1.0, duration)  # creates the NAT sessions; not counted
    mlr = MultipleLossRatioSearch(config=cfg)
    n0, t0 = len(trials.trials), time.monotonic()
    progress(f"  [{trials.label} ALG {'on' if trials.tb.alg_on else 'off'}] MLRsearch: NDR and "
             f"PDR ({100 * PDR:.1f}% loss), {min_load / unit[0]:.0f}-{max_load / unit[0]:.0f} "
             f"{unit[1]}, "
             f"{duration} s trials, width {100 * width:.0f}%, at most {time_limit:.0f} s")
    complete = True
    try:
        res = mlr.search(measurer=trials, debug=lambda m: None)
        found = {lr: res[g] for lr, g in zip((NDR, PDR), goals)}
    except RuntimeError as e:  # out of time: the bounds found so far
        progress(f"  search stopped: {e}")
        complete = False
        found = {}
        for lr, g in zip((NDR, PDR), goals):
            target = mlr.scaling.goal_to_final_target[g]
            found[lr] = GoalResult.from_bounds(mlr.database.get_relevant_bounds(target=target))
    out = {"trials": len(trials.trials) - n0, "seconds": round(time.monotonic() - t0, 1),
           "complete": complete}
    for name, lr in (("ndr", NDR), ("pdr", PDR)):
        r = found[lr]
        tput = r.conditional_throughput
        lo, hi = r.relevant_lower_bound, r.relevant_upper_bound
        out[name] = float(tput) if tput is not None else None
        out[name + "_lower_bound"] = float(lo) if lo is not None else None
        out[name + "_upper_bound"] = float(hi) if hi is not None else None
    progress(f"  [{trials.label} ALG {'on' if trials.tb.alg_on else 'off'}] NDR "
             f"{fmt(out['ndr'], unit)}, PDR {fmt(out['pdr'], unit)} ({out['trials']} trials, "
             f"{out['seconds']} s{'' if complete else ', cut short'})")
    return out


def fmt(load, unit=(1e3, "kpps")):
    return "none" if load is None else f"{load / unit[0]:.1f} {unit[1]}"


def path_clocks(rt):
    """Clocks per packet along the path from one trial's runtime: ALG nodes, NAT nodes, the
    rest (memif-input left out: an input node also counts its idle polls)."""
    nodes = {n: v["clocks"] for n, v in rt.items() if n != "memif-input" and v["vectors"]}
    alg = sum(nodes.get(n, 0.0) for n in T.ALG_NODES)
    nat = sum(nodes.get(n, 0.0) for n in T.NAT_NODES)
    total = sum(nodes.values())
    return {"nodes": nodes, "alg": alg, "nat": nat, "total": total, "rest": total - alg,
            "vectors_per_call": rt.get("ip4-input", {}).get("per_call", 0.0)}


def fixed_load(tb, trials_on_off, load, duration, rounds, progress=print):
    """ALG on and off alternately at one load, `rounds` times each, VPP's runtime cleared
    before each: medians of clocks per packet per node and of the path, and the trials."""
    runs = {True: [], False: []}
    for r in range(rounds):
        for on in (True, False) if r % 2 == 0 else (False, True):
            tb.alg(on)
            rec = trials_on_off.run(duration, load, runtime=True)
            runs[on].append({"loss_ratio": rec["loss_ratio"], "tx": rec["tx"], "rx": rec["rx"],
                             **path_clocks(rec["runtime"])})
    out = {"load": load, "duration": duration, "rounds": rounds}
    for on, name in ((True, "alg_on"), (False, "alg_off")):
        rs = runs[on]
        nodes = sorted({n for x in rs for n in x["nodes"]})
        out[name] = {"nodes": {n: statistics.median(x["nodes"].get(n, 0.0) for x in rs)
                               for n in nodes},
                     **{k: statistics.median(x[k] for x in rs)
                        for k in ("alg", "nat", "total", "rest", "loss_ratio",
                                  "vectors_per_call")},
                     "runs": rs}
    on, off = out["alg_on"], out["alg_off"]
    out["path_ratio_on_off"] = on["total"] / off["total"] if off["total"] else None
    out["alg_share_of_rest"] = on["alg"] / on["rest"] if on["rest"] else None
    progress(f"  [{trials_on_off.label}] at {load / 1e3:.0f} kpps, medians of {rounds}: ALG nodes "
             f"{on['alg']:.1f} clk/pkt ({100 * (out['alg_share_of_rest'] or 0):.1f}% of the rest "
             f"of the path), NAT nodes {on['nat']:.1f} on / {off['nat']:.1f} off, path "
             f"{on['total']:.1f} on / {off['total']:.1f} off (ratio {out['path_ratio_on_off']:.3f}); "
             f"vectors/call {on['vectors_per_call']:.1f} on / {off['vectors_per_call']:.1f} off")
    return out
