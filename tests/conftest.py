# SPDX-License-Identifier: Apache-2.0
"""Test tiers: core/ (anywhere), mgmt/ (anywhere), vpp/ (packet generator, needs VPP),
e2e/ (network namespaces and real SIP user agents, needs VPP and root), perf/ (TRex over
memif against VPP: needs VPP and a TRex server, skipped with where it looked otherwise). Helpers shared by
the VPP tiers live beside this file (vpp_harness.py).

A VPP tier skips, with its reason, where VPP is not installed. Where it is, SIPALG_REQUIRE_VPP=1
(set by .ci/run) turns any skip in a VPP tier into a failure. At the end pytest prints one
line per tier saying whether it ran, and writes the same to build/tiers.txt for .ci/run (or to
the file SIPALG_TIERS_FILE names: make test-release, so that it leaves make ci's alone)."""

import os
from collections import defaultdict

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TIERS = ("core", "mgmt", "vpp", "e2e", "perf")
VPP_TIERS = ("vpp", "e2e")

_results = defaultdict(lambda: defaultdict(int))
_skips = defaultdict(set)


def tier_of(nodeid):
    parts = nodeid.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "tests" else parts[0]


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    tier = tier_of(item.nodeid)
    if rep.skipped and tier in VPP_TIERS and os.environ.get("SIPALG_REQUIRE_VPP") == "1":
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"VPP tier skipped although VPP is installed (SIPALG_REQUIRE_VPP=1): {reason}"
        # pytest counts a failure carrying wasxfail as xfailed, and exits 0
        if hasattr(rep, "wasxfail"):
            del rep.wasxfail
    # fixtures read these to keep a failed test's VPP directory
    setattr(item, "rep_" + rep.when, rep)
    if rep.when == "call" or (rep.when == "setup" and not rep.passed):
        _results[tier][rep.outcome] += 1
    elif rep.when == "teardown" and rep.failed:
        _results[tier]["error"] += 1
    if rep.skipped:
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        _skips[tier].add(reason.removeprefix("Skipped: "))


def _state(r):
    ran = r.get("passed", 0) + r.get("failed", 0) + r.get("error", 0)
    if not ran:
        return "skipped"
    return "partly ran" if r.get("skipped") else "ran"


def pytest_terminal_summary(terminalreporter):
    terminalreporter.section("tiers")
    parts, reasons = [], []
    for tier in TIERS:
        r = _results.get(tier)
        if not r:
            terminalreporter.write_line(f"tier {tier}: not collected")
            parts.append(f"{tier} not collected")
            continue
        counts = ", ".join(f"{n} {k}" for k, n in sorted(r.items()))
        line = f"tier {tier}: {_state(r)} ({counts})"
        if _skips.get(tier):
            line += "; skipped because: " + " | ".join(sorted(_skips[tier]))
            reasons += [x for x in sorted(_skips[tier]) if x not in reasons]
        terminalreporter.write_line(line)
        parts.append(f"{tier} {_state(r)}")
    summary = "tiers: " + ", ".join(parts)
    if reasons:
        summary += " (skips: " + " | ".join(reasons) + ")"
    path = os.environ.get("SIPALG_TIERS_FILE") or os.path.join(ROOT, "build", "tiers.txt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(summary + "\n")
