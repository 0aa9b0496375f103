# SPDX-License-Identifier: Apache-2.0
"""Tier 2 fixtures: the topology of topo.py with 0, 2 and 4 VPP workers. Skipped with the
reason without VPP, root or tools."""

import os
import shutil
import subprocess

import pytest

import vpp_harness as h
from topo import TOOLS, remove_leftovers, topo_fixture


@pytest.fixture(scope="session")
def e2e_prefix():
    prefix, why = h.find_vpp()
    if not prefix:
        pytest.skip(why)
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        pytest.skip("missing tools: " + ", ".join(missing))
    if not h.find_plugin():
        subprocess.run(["make", "-C", h.ROOT, "plugin", f"VPP_PREFIX={prefix}"], check=True)
    remove_leftovers()
    return prefix


@pytest.fixture(params=h.WORKERS, ids=[f"{n}w" for n in h.WORKERS])
def topo(e2e_prefix, request):
    yield from topo_fixture(e2e_prefix, request, workers=request.param)


@pytest.fixture(params=(0, 2), ids=("0w", "2w"))
def topo02(e2e_prefix, request):
    """The topology with 0 and 2 workers: for the longer files, where 4 adds run time and
    no other thread layout."""
    yield from topo_fixture(e2e_prefix, request, workers=request.param)


@pytest.fixture
def topo_no_alg(e2e_prefix, request):
    yield from topo_fixture(e2e_prefix, request, alg=False)
