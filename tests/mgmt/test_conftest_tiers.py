# SPDX-License-Identifier: Apache-2.0
"""tests/conftest.py's rule, run on a throwaway tree: with SIPALG_REQUIRE_VPP=1 a skipped or
xfailed test in a VPP tier fails the run (exit code 1), and build/tiers.txt says so."""

import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CONFTEST = os.path.join(HERE, "..", "conftest.py")

BODY = '''
import pytest

def test_runs():
    pass

def test_skips():
    pytest.skip("no VPP here")

@pytest.mark.xfail(reason="known broken")
def test_xfails():
    assert False

def test_xfails_imperatively():
    pytest.xfail("known broken")
'''


XFAIL_ONLY = '''
import pytest

@pytest.mark.xfail(reason="known broken")
def test_xfails():
    assert False
'''


def run(tmp_path, tier, require, body=BODY):
    root = tmp_path / "proj"
    (root / "tests" / tier).mkdir(parents=True)
    shutil.copy(CONFTEST, root / "tests" / "conftest.py")
    (root / "tests" / tier / "test_x.py").write_text(body)
    env = dict(os.environ)
    env.pop("SIPALG_REQUIRE_VPP", None)
    if require:
        env["SIPALG_REQUIRE_VPP"] = "1"
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                       cwd=root, env=env, capture_output=True, text=True, timeout=120)
    tiers = (root / "build" / "tiers.txt").read_text()
    return r, tiers


@pytest.mark.parametrize("tier", ["vpp", "e2e"])
def test_required_vpp_tier_fails_on_skip_and_xfail(tmp_path, tier):
    r, tiers = run(tmp_path, tier, require=True)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "3 failed, 1 passed" in r.stdout, r.stdout
    assert "xfailed" not in r.stdout.splitlines()[-1]
    assert f"{tier} ran" in tiers


def test_required_vpp_tier_fails_on_xfail_alone(tmp_path):
    # pytest counts toward the exit code only failures without wasxfail
    r, _ = run(tmp_path, "vpp", require=True, body=XFAIL_ONLY)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 failed" in r.stdout, r.stdout


def test_unrequired_vpp_tier_skips(tmp_path):
    r, tiers = run(tmp_path, "vpp", require=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed, 1 skipped, 2 xfailed" in r.stdout, r.stdout
    assert "vpp partly ran" in tiers


def test_other_tiers_keep_their_skips(tmp_path):
    r, _ = run(tmp_path, "mgmt", require=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed, 1 skipped, 2 xfailed" in r.stdout, r.stdout
