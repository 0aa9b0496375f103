# SPDX-License-Identifier: Apache-2.0
"""Many calls expiring at once (perf/call_bench.py --end expire: 2,000 calls up, then the
call timeout cut to 1 s, so one aging pass finds them all expired). The aging pass deletes
what it found in slices of about a millisecond of barrier each, as the workers' requests
are served, so the workers are never held for the whole of it: with stock NAT44-ED each
static mapping delete walks NAT's session pool (tens of microseconds here, most of a
millisecond at 100,000 calls), and one pass deleting everything held the barrier for
the sum (here 6,000 deletes)."""

import os
import re
import sys

import pytest

import vpp_harness as h

sys.path.insert(0, os.path.join(h.ROOT, "perf"))
import call_bench  # noqa: E402

CALLS = 2000
# the longest barrier hold of an aging slice (from taken to released): the budget (1 ms)
# plus the delete that crosses it, or the scan, with room for a busy VM; one pass deleting
# all 2,000 calls held it tens of times longer with stock NAT44-ED
SLICE_MAX_US = 20_000


@pytest.fixture(scope="module", params=(0, 2), ids=("0w", "2w"))
def expired(vpp_prefix, request):
    why = h.workers_unavailable(request.param)
    if why:
        pytest.skip(why)
    return call_bench.run(vpp_prefix, CALLS, workers=request.param, end="expire")


def aging(main_thread):
    """(passes, slices, us at most, waiting) from `show sip-alg main-thread`."""
    m = re.search(r"aging passes (\d+), in (\d+) slices .*?([\d.]+) us at most\); (\d+) "
                  r"expired waiting", main_thread)
    assert m, main_thread
    return int(m.group(1)), int(m.group(2)), float(m.group(3)), int(m.group(4))


def test_expired_calls_all_deleted(expired):
    """Every call ends by its timer, every entry with it, none left behind (what the expiry
    counted: each call's media and signaling entries expired, its phone's signaling entry
    removed with the last call that held it; no call made, no other drop)."""
    c = expired["counters"]
    assert c.pop("calls_closed") == CALLS
    assert expired["entries_left"] == 0
    assert c.pop("pinhole_expired") + c.pop("pinhole_removed", 0) == expired["entries_up"]
    assert c == {}, c


def test_aging_deletes_in_slices(expired):
    """The pass that found them deleted them over many slices, none holding the barrier
    longer than the budget and the delete that crossed it."""
    passes, slices, slice_max, waiting = aging(expired["main_thread"])
    assert waiting == 0
    assert slices > passes + 1, expired["main_thread"]
    assert slice_max < SLICE_MAX_US, expired["main_thread"]


def test_request_batches_within_budget(expired):
    """The workers' requests (2,000 calls' pinholes and their closes) were served in batches
    under the same budget: many batches, some cut at the budget, none holding the barrier
    (from taken to released) longer than an aging slice may. Served in one batch, the
    pinholes of a burst of calls held it for the sum of their NAT44-ED static mappings."""
    m = re.search(r"request batches (\d+) \(one barrier each, held for\), requests (\d+): "
                  r"\d+ us \([\d.]+ us a batch, (\d+) us at most\)", expired["main_thread"])
    assert m, expired["main_thread"]
    batches, requests, batch_max = (int(g) for g in m.groups())
    assert requests >= CALLS, expired["main_thread"]
    assert batches > 1, expired["main_thread"]
    assert batch_max < SLICE_MAX_US, expired["main_thread"]
