# SPDX-License-Identifier: Apache-2.0
"""Tier 1 fixtures: the packet-generator topology of pgnat.py with 0, 2 and 4 workers.
Skipped with the reason when VPP is not installed."""

import subprocess

import pytest

import vpp_harness as h
from pgnat import pgnat_fixture


@pytest.fixture(scope="session")
def vpp_prefix():
    prefix, why = h.find_vpp()
    if not prefix:
        pytest.skip(why)
    if not h.find_plugin():
        # VPP is here, so the plugin must build: a failure is a test failure, not a skip
        subprocess.run(["make", "-C", h.ROOT, "plugin", f"VPP_PREFIX={prefix}"], check=True)
    return prefix


@pytest.fixture(params=h.WORKERS, ids=[f"{n}w" for n in h.WORKERS])
def pgnat(vpp_prefix, request):
    """The topology with 0, 2 and 4 workers."""
    yield from pgnat_fixture(vpp_prefix, request, request.param)


@pytest.fixture(params=(0, 2), ids=("0w", "2w"))
def pgnat02(vpp_prefix, request):
    """The topology with 0 and 2 workers: for the longer files, where 4 adds run time and
    no other thread layout."""
    yield from pgnat_fixture(vpp_prefix, request, request.param)
