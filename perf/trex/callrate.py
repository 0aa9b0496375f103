# SPDX-License-Identifier: Apache-2.0
"""Trials of whole SIP calls per second (run.py's `calls` profile; the streams:
sip_call_rate.py).

The load of a trial is calls per second; a trial of d seconds at r calls/s sends n = r x d
calls, five messages each. publish() publishes the PBX (TRex port 0's 192.168.1.5:5060)
with a NAT44-ED static mapping on 203.0.113.10:5060 and names it a published server for the
ALG (`set sip-alg servers`: its signaling is the operator's mapping, the ALG makes no
signaling pinhole for it); configure() shortens the ALG's timeouts to TIMEOUT s so that what
a failed trial leaves ages out before the next one (a call of the profile lasts 4 gaps, 80 ms
by default).

The generator does not wait for answers: a message leaves TRex a gap after the one before it
whether or not that one got through. When VPP falls behind, its queue on the inside link
(three of the five messages) grows faster than on the outside one, and once the two differ
by more than a gap the 200 OK to a BYE reaches the ALG before its BYE: the ALG (rightly)
takes it for no answer to a BYE it has seen, and the call is left `terminating` until its
timeout. Such a trial fails as it should (VPP did not keep up), but a gap shorter than VPP's
normal jitter (main-thread batches, a shared CPU) fails trials VPP did keep up with: 5 ms
did on the 2-vCPU VM, 20 ms (the default) did not. Before each trial the ALG's state must be empty (no call record, no server-map
entry, no static mapping but the PBX's), waited for.

A trial passes when every message of every kind arrived (TRex flow stats, one group per
kind) and, with the ALG on, the ALG created a record for each of the n calls and closed
each (calls_created == calls_closed == n), counted no pinhole_failed, no_media_port or
max_calls, and within `settle` seconds of the last message no call record, server-map entry
or pinhole static mapping was left. For MLRsearch a call the ALG failed (the largest of:
calls not created, created and not closed, those counters, 1 when state was left) counts as
its five messages lost, on top of the messages lost on the wire: the loss count is
min(sent, lost + 5 x failed), and as in measure.py a trial TRex could not send in time
counts what it did not send as lost too.
"""

import os
import re
import statistics
import time

from trex.stl.api import STLProfile

import measure as M
import sip_call_rate as S
import testbed as T

HERE = os.path.dirname(os.path.abspath(__file__))
PROFILE = os.path.join(HERE, "sip_call_rate.py")
TIMEOUT = 3  # s: the ALG's signaling, media and call timeouts during the profile
FAILS = ("pinhole_failed", "no_media_port", "max_calls")

MAIN_THREAD = (
    ("batches", r"request batches (\d+)"), ("requests", r"requests (\d+):"),
    ("batch_us", r"requests \d+: (\d+) us"), ("batches_cut", r"(\d+) batches cut"),
    ("nat_add", r"mappings added (\d+)"), ("nat_add_us", r"mappings added \d+: (\d+) us"),
    ("nat_del", r"mappings deleted (\d+)"), ("nat_del_us", r"mappings deleted \d+: (\d+) us"),
    ("ages", r"aging passes (\d+)"), ("age_slices", r"aging passes \d+, in (\d+) slices"),
    ("age_us", r"aging passes \d+, in \d+ slices [^:]*: (\d+) us"))


def main_thread(tb):
    """`show sip-alg main-thread` as {name: number} (MAIN_THREAD), totals since VPP began."""
    text = tb.vpp.cli("show sip-alg main-thread")
    out = {}
    for k, rx in MAIN_THREAD:
        m = re.search(rx, text)
        if not m:
            raise T.TestbedError(f"show sip-alg main-thread: no '{rx}' in:\n{text}")
        out[k] = int(m.group(1))
    return out


def state(tb):
    """(call records, server-map entries) from `show sip-alg memory`."""
    text = tb.vpp.cli("show sip-alg memory")
    c = re.search(r"call records (\d+)", text)
    e = re.search(r"server map (\d+) entries", text)
    if not (c and e):
        raise T.TestbedError(f"show sip-alg memory: no call or entry count in:\n{text}")
    return int(c.group(1)), int(e.group(1))


def pinhole_mappings(tb):
    """NAT44-ED static mappings other than the PBX's."""
    pbx = re.compile(rf"\b{re.escape(S.PBX)}[: ]+(port )?{S.SIP_PORT}\b")
    return sum(1 for line in tb.vpp.static_mappings() if not pbx.search(line))


def publish(tb):
    """The PBX published by a static mapping and named a server for the ALG. Done before any
    other traffic: NAT44-ED keeps an inside source port when it is free, so a phone of
    another profile sending from 5060 may hold 203.0.113.10:5060 in a dynamic session, and
    the PBX's first message towards the same proxy then finds its public 5-tuple taken (VPP
    blackholes it)."""
    tb.neighbors([S.PBX])
    tb.vpp.cli_ok(f"nat44 add static mapping udp local {S.PBX} {S.SIP_PORT} external {S.PUB} "
                  f"{S.SIP_PORT}")
    tb.vpp.cli_ok(f"set sip-alg servers {S.PBX}:{S.SIP_PORT}")


def configure(tb):
    """Short ALG timeouts for the profile; returns them as they were (for restore())."""
    m = re.search(r"timeouts signaling (\d+) media (\d+) call (\d+)",
                  tb.vpp.cli("show sip-alg config"))
    if not m:
        raise T.TestbedError("show sip-alg config: no timeouts line")
    tb.vpp.cli_ok(f"set sip-alg timeouts signaling {TIMEOUT} media {TIMEOUT} call {TIMEOUT}")
    return m.groups()


def restore(tb, timeouts):
    sig, media, call = timeouts
    tb.vpp.cli_ok(f"set sip-alg timeouts signaling {sig} media {media} call {call}")


class CallTrials(M.Trials):
    """MLRsearch's measurer of the calls profile: load in calls/s (see the module's text)."""

    def __init__(self, tb, gap_ms=20.0, settle=2.0, progress=print):
        super().__init__(tb, "calls", None, sorted(S.PG.values()), progress=progress)
        self.gap_ms, self.settle = gap_ms, settle
        self.tag = 0

    def _streams(self, rate, n):
        self.tag = self.tag % 9999 + 1  # every trial's Call-IDs its own
        return {p: STLProfile.load_py(PROFILE, port_id=p, rate=rate, calls=n, gap_ms=self.gap_ms,
                                      tag=self.tag).get_streams() for p in (0, 1)}

    def wait_clear(self, limit=None):
        """Wait until no call record, entry or pinhole mapping is left (what a failed trial
        left ages out in TIMEOUT s and the next aging pass); returns the seconds waited, or
        None when state is still there after `limit`."""
        limit = limit if limit is not None else 4 * TIMEOUT + 8
        t0 = time.monotonic()
        while True:
            if state(self.tb) == (0, 0) and pinhole_mappings(self.tb) == 0:
                return round(time.monotonic() - t0, 2)
            if time.monotonic() - t0 > limit:
                return None
            time.sleep(0.25)

    def run(self, duration, load, runtime=False):
        """One trial of load calls/s for duration s; returns its record (dict)."""
        tb, c = self.tb, self.tb.client
        n = max(1, round(load * duration))
        if n > S.MAX_CALLS:
            raise ValueError(f"{load:.0f} calls/s for {duration} s is {n} calls, more than the "
                             f"Call-ID counter's {S.MAX_CALLS}")
        waited = self.wait_clear()
        by_port = self._streams(load, n)
        c.stop(ports=[0, 1])
        c.remove_all_streams(ports=[0, 1])
        for p, s in by_port.items():
            c.add_streams(s, ports=[p])
        c.clear_stats()
        before, mt0 = tb.vpp.counters(), main_thread(tb)
        if runtime:
            tb.vpp.cli_ok("clear runtime")
        span = duration + 4 * self.gap_ms / 1e3  # the last call's last message
        t0 = time.monotonic()
        c.start(ports=[0, 1], force=True, synchronized=True)
        c.wait_on_traffic(ports=[0, 1], timeout=int(span * 3 + 30))
        sent_for = time.monotonic() - t0
        tx, rx, port_tx = self._counts([0, 1])
        rt = runtime_nodes(tb) if runtime else None
        groups = self._groups()
        # the calls close on the main thread after their last message: give it `settle` s
        t1 = time.monotonic()
        while time.monotonic() - t1 < self.settle and state(tb) != (0, 0):
            time.sleep(0.1)
        calls_left, entries_left = state(tb)
        maps_left = pinhole_mappings(tb)
        left_states = call_states(tb) if 0 < calls_left <= 20000 else None
        d = delta(before, tb.vpp.counters())
        mt = {k: v - mt0[k] for k, v in main_thread(tb).items()}

        tx_drop = max(tx - port_tx, 0)
        over = max(sent_for - span, 0.0)
        self.overhead = over if self.overhead is None else min(self.overhead, over)
        took = max(sent_for - self.overhead, span)
        short = took > span * 1.05 + 0.05 or tx_drop > 0.001 * tx
        # what it should have sent: n calls, or at the load for the time it took (bursts:
        # a TRex short of the rate sends every message, later)
        intended = round(5 * load * (took - 4 * self.gap_ms / 1e3)) if short else 5 * n
        failed = 0
        if tb.alg_on:
            created, closed = d.get("calls_created", 0), d.get("calls_closed", 0)
            failed = max([n - created, created - closed] + [d.get(k, 0) for k in FAILS]
                         + [int(bool(calls_left or entries_left or maps_left))])
        lost = min(tx, tx - rx + 5 * failed)  # on the wire, and the ALG's failed calls
        unsent = max(intended - tx, 0) if short else 0
        overall = max(intended, tx) if short else tx
        rec = {"label": self.label, "alg": tb.alg_on, "duration": duration, "load": load,
               "calls": n, "intended": intended, "tx": tx, "rx": rx,
               "forwarded": tx - lost, "groups": groups, "sent_for": round(took, 3),
               "generator_tx_drop": tx_drop, "generator_short": short,
               "alg_failed_calls": failed, "calls_left": calls_left,
               "entries_left": entries_left, "pinhole_mappings_left": maps_left,
               "calls_left_by_state": left_states,
               "waited_for_clear": waited, "counters": d, "main_thread": mt,
               "loss_ratio": (lost + unsent) / overall if overall else 0.0}
        rec["passed"] = rec["loss_ratio"] == 0
        if rt is not None:
            rec["runtime"] = rt
        self.trials.append(rec)
        lost_kinds = ", ".join(f"{k} {g['tx'] - g['rx']}" for k, g in groups.items()
                               if g["tx"] != g["rx"])
        self.progress(
            f"  [calls ALG {'on ' if tb.alg_on else 'off'}] trial {len(self.trials):2d}: "
            f"{duration:4.1f} s at {load:9.0f} calls/s ({n} calls): "
            f"{'pass' if rec['passed'] else 'FAIL'}, loss {100 * rec['loss_ratio']:.3f}% "
            f"(messages sent {tx}, received {rx}"
            + (f"; lost: {lost_kinds}" if lost_kinds else "")
            + (f"; ALG created {d.get('calls_created', 0)} closed {d.get('calls_closed', 0)}"
               + "".join(f", {k} {d[k]}" for k in FAILS + ("held",) if d.get(k))
               + (f", left: {calls_left} calls {entries_left} entries {maps_left} mappings"
                  if calls_left or entries_left or maps_left else "")
               + (f" (calls by state: {left_states})" if left_states else "")
               if tb.alg_on else "")
            + (f"; TRex short of the load: took {took:.2f} s, {tx_drop} not put on the ring"
               if short else "")
            + (f"; waited {waited} s for the state of the trial before" if waited else "")
            + ")")
        return rec

    def _groups(self):
        fs = self.tb.client.get_stats()["flow_stats"]
        return {k: {"tx": fs.get(pg, {}).get("tx_pkts", {}).get("total", 0),
                    "rx": fs.get(pg, {}).get("rx_pkts", {}).get("total", 0)}
                for k, pg in S.PG.items()}

    def measure(self, intended_duration, intended_load):
        r = self.run(intended_duration, intended_load)
        kw = {}
        if r["generator_short"]:
            kw["intended_count"] = max(r["intended"], r["tx"])
        return M.MeasurementResult(intended_duration=intended_duration,
                                   intended_load=intended_load, offered_count=r["tx"],
                                   forwarding_count=r["forwarded"],
                                   offered_duration=r["sent_for"], **kw)


def runtime_nodes(tb):
    """Clocks per packet (vector) of the path's nodes (testbed.NODES) from `show runtime`
    (the main thread's share of the ALG: `show sip-alg main-thread`, main_thread())."""
    return tb.runtime()


def call_states(tb):
    """{state: call records} from `show sip-alg calls`."""
    out = {}
    for m in re.finditer(r"^Thread: \d+, .*?State: (\w+)", tb.vpp.cli("show sip-alg calls"),
                         re.M):
        out[m.group(1)] = out.get(m.group(1), 0) + 1
    return out


def delta(before, after):
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def fixed_load(trials, load, duration, rounds, progress=print):
    """ALG on and off alternately at `load` calls/s, runtime cleared before each trial:
    sip-alg-post's and NAT44-ED's clocks per packet, the main thread's work per call
    (`show sip-alg main-thread`), medians over the rounds."""
    tb = trials.tb
    runs = {True: [], False: []}
    for r in range(rounds):
        for on in (True, False) if r % 2 == 0 else (False, True):
            tb.alg(on)
            rec = trials.run(duration, load, runtime=True)
            rt = rec["runtime"]
            nodes = {k: v["clocks"] for k, v in rt.items() if v["vectors"] and k != "memif-input"}
            mt, n = rec["main_thread"], rec["calls"]
            runs[on].append({
                "passed": rec["passed"], "calls": n, "nodes": nodes,
                "vectors": {k: v["vectors"] for k, v in rt.items()},
                "path": sum(nodes.values()),
                "main_thread": mt,
                "main_thread_us_per_call": (mt["batch_us"] + mt["age_us"]) / n,
                "nat_add_us_each": mt["nat_add_us"] / mt["nat_add"] if mt["nat_add"] else None,
                "nat_del_us_each": mt["nat_del_us"] / mt["nat_del"] if mt["nat_del"] else None})
    out = {"load": load, "duration": duration, "rounds": rounds}

    def med(xs):
        xs = [x for x in xs if x is not None]
        return statistics.median(xs) if xs else None

    for on, name in ((True, "alg_on"), (False, "alg_off")):
        rs = runs[on]
        names = sorted({k for x in rs for k in x["nodes"]})
        out[name] = {"nodes": {k: med(x["nodes"].get(k) for x in rs) for k in names},
                     "path": med(x["path"] for x in rs),
                     "passed": sum(x["passed"] for x in rs),
                     "runs": rs}
        if on:
            for k in ("main_thread_us_per_call", "nat_add_us_each", "nat_del_us_each"):
                out[name][k] = med(x[k] for x in rs)
    on, off = out["alg_on"], out["alg_off"]
    post = on["nodes"].get("sip-alg-post")
    out["path_ratio_on_off"] = on["path"] / off["path"] if on["path"] and off["path"] else None
    progress(f"  [calls] at {load:.0f} calls/s, medians of {rounds}: sip-alg-post "
             f"{post or 0:.0f} clk/message, path {on['path'] or 0:.0f} on / {off['path'] or 0:.0f} "
             f"off clk/message; main thread {on['main_thread_us_per_call'] or 0:.1f} us per call "
             f"(static mapping add {on['nat_add_us_each'] or 0:.1f} us, delete "
             f"{on['nat_del_us_each'] or 0:.1f} us); trials passed: {on['passed']}/{rounds} on, "
             f"{off['passed']}/{rounds} off")
    return out
