# SPDX-License-Identifier: Apache-2.0
"""`make wheel`: sipalgctl's wheel, built from a copy of mgmt/ and templates/ with this
interpreter's setuptools, holds the package, its templates and the console script, and
leaves the checkout's mgmt/ as it was."""

import os
import re
import subprocess
import sys
import zipfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def test_make_wheel(tmp_path):
    mgmt = os.path.join(ROOT, "mgmt")
    before = sorted(os.listdir(mgmt))
    r = subprocess.run(["make", "-C", ROOT, "-s", "wheel", f"PY={sys.executable}",
                        f"BUILD={tmp_path}"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    version = re.search(r'^version = "(.+)"$', open(os.path.join(mgmt, "pyproject.toml")).read(),
                        re.M).group(1)
    assert os.listdir(tmp_path / "dist") == [f"sipalgctl-{version}-py3-none-any.whl"]
    whl = zipfile.ZipFile(tmp_path / "dist" / f"sipalgctl-{version}-py3-none-any.whl")
    names = set(whl.namelist())
    templates = {f"sipalgctl/templates/{os.path.basename(f)}"
                 for f in os.listdir(os.path.join(ROOT, "templates")) if f.endswith(".j2")}
    assert templates and templates <= names, sorted(names)
    assert {"sipalgctl/cli.py", "sipalgctl/config.py"} <= names
    entry = whl.read(f"sipalgctl-{version}.dist-info/entry_points.txt").decode()
    assert "sipalgctl = sipalgctl.cli:main" in entry
    assert sorted(os.listdir(mgmt)) == before, "make wheel wrote into mgmt/"
