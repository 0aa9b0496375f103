# SPDX-License-Identifier: Apache-2.0
"""The ALG's state per call, read from VPP's own accounting as perf/call_bench.py reads it
(`show sip-alg memory`: the allocated size of every structure that grows with calls, by
structure): at most 512 bytes a call with 2,000 calls up, with 0 and 2 workers (a thread
that sees no packet of an entry holds nothing for it)."""

import os
import re
import sys

import pytest

import vpp_harness as h

sys.path.insert(0, os.path.join(h.ROOT, "perf"))
import call_bench  # noqa: E402

CALLS = 2000
MAX_BYTES_PER_CALL = 512


@pytest.fixture(scope="module", params=(0, 2), ids=("0w", "2w"))
def calls(vpp_prefix, request):
    """perf/call_bench.py with 2,000 calls: set up, counted with all of them up, torn down."""
    why = h.workers_unavailable(request.param)
    if why:
        pytest.skip(why)
    return call_bench.run(vpp_prefix, CALLS, workers=request.param)


def structures(memory):
    """{structure: (bytes, elements)} from `show sip-alg memory`'s rows."""
    rows = re.findall(r"^\s{2}(\S.*?)\s{2,}(\d+)\s+(\d+)\s+[\d.]+$", memory, re.M)
    return {name: (int(b), int(n)) for name, b, n in rows}


def total(memory):
    return int(re.search(r"total (\d+) bytes", memory).group(1))


def test_state_per_call_at_most_512_bytes(calls):
    """Every call up when counted; the ALG's state grown by them, and all it holds, at most
    512 bytes a call."""
    c = calls["counters"]
    assert c["calls_created"] == c["calls_closed"] == CALLS
    grown, held = calls["alg_per_call"], total(calls["alg_memory"]) / CALLS
    assert grown <= MAX_BYTES_PER_CALL and held <= MAX_BYTES_PER_CALL, calls["alg_memory"]


def test_accounting_counts_what_the_calls_hold(calls):
    """The rows add up to the total and count what is up: a record, a Call-ID key and an
    index slot per call, the server map's entries, and each entry in the server-map index by
    its public end (and the signaling and media entries by their inside ends)."""
    mem = calls["alg_memory"]
    rows = structures(mem)
    assert sum(b for b, _ in rows.values()) == total(mem), mem
    for name in ("call records (pools)", "Call-ID keys", "Call-ID index (slots)"):
        assert rows[name][1] == CALLS, (name, mem)
    assert rows["server-map entries (pool)"][1] == calls["entries_up"], mem
    # each call's signaling, RTP and RTCP entries: 3 public ends, 3 inside ends
    assert rows["server-map index (slots)"][1] >= calls["entries_up"] + 3 * CALLS - 100, mem
    assert rows["call records (pools)"][0] >= CALLS * 136, mem
