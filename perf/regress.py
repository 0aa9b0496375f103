#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The performance gate: ratios measured by the short packet-generator benchmarks
(tests/vpp/test_pg_throughput.py) against the committed baseline, perf/baseline.json.

Only ratios taken inside one run are compared, never clocks or rates on their own (those
move with the machine and its load):
  alg_share_<kind>        the ALG's nodes' clocks per packet over the rest of the path's, for
                          non-SIP UDP in2out, out2in and TCP in2out (ALG on, no firewall)
  invite_per_nat          sip-alg-post's clocks per INVITE with SDP over nat44-ed-in2out's
                          for the same packets
  alg_bytes_per_call      the ALG's state per call with 500 calls up (`show sip-alg memory`)
A metric regresses when it is worse (higher) than its baseline by more than its margin (the
file's "margin", per metric: the spread seen over repeated runs on a 2-CPU VM, with room).

  perf/regress.py check RESULTS.json     exit 1 and name each regression
  perf/regress.py update RESULTS.json    write into the baseline the metrics that improved
                                         (lower than the baseline by more than the margin);
                                         never a worse one
RESULTS.json is what test_pg_throughput.py writes (build/pg-throughput.json).
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BASELINE = os.path.join(HERE, "baseline.json")
KINDS = ("in2out", "out2in", "tcp")


def metrics(bench, call):
    """bench: {"nat+alg": pg_bench.measure(...)} (ALG on, no firewall); call:
    call_bench.run(...) or None. Returns {metric: value}."""
    on = bench["nat+alg"]
    out = {f"alg_share_{k}": on[k]["alg"] / (on[k]["total"] - on[k]["alg"]) for k in KINDS}
    sip = on["sip"]["nodes"]
    out["invite_per_nat"] = sip["sip-alg-post"] / sip["nat44-ed-in2out"]
    if call is not None:
        out["alg_bytes_per_call"] = call["alg_per_call"]
    return out


def load(path=BASELINE):
    with open(path) as f:
        return json.load(f)


def check(measured, base):
    """The regressions: [text], one per metric worse than its baseline beyond its margin."""
    bad = []
    for name, want in base["metrics"].items():
        if name not in measured:
            continue
        margin = base["margin"][name]
        if measured[name] > want * (1 + margin):
            bad.append(f"{name}: {measured[name]:.4g}, baseline {want:.4g} "
                       f"(+{100 * (measured[name] / want - 1):.0f}%, margin {100 * margin:.0f}%)")
    return bad


def update(measured, base):
    """The baseline with the metrics that improved beyond their margin; returns (new, names)."""
    new = dict(base, metrics=dict(base["metrics"]))
    changed = []
    for name, want in base["metrics"].items():
        if name in measured and measured[name] < want * (1 - base["margin"][name]):
            new["metrics"][name] = round(measured[name], 4)
            changed.append(name)
    return new, changed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=("check", "update"))
    ap.add_argument("results", help="build/pg-throughput.json")
    ap.add_argument("--baseline", default=BASELINE)
    a = ap.parse_args()
    measured = load(a.results)["metrics"]
    base = load(a.baseline)
    if a.action == "check":
        bad = check(measured, base)
        for b in bad:
            print("regression: " + b)
        print("ok: no ratio worse than its baseline beyond its margin" if not bad else
              f"{len(bad)} regression(s) against {a.baseline}")
        return 1 if bad else 0
    new, changed = update(measured, base)
    if changed:
        with open(a.baseline, "w") as f:
            json.dump(new, f, indent=1)
            f.write("\n")
    print(f"improved: {', '.join(changed)}" if changed else "nothing improved beyond its margin")
    return 0


if __name__ == "__main__":
    sys.exit(main())
