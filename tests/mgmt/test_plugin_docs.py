# SPDX-License-Identifier: Apache-2.0
"""vpp-plugin/sip_alg/FEATURE.yaml and sip_alg.rst, the plugin's pages in VPP's own formats:
FEATURE.yaml passes the schema of VPP's src/scripts/fts.py (written out here: its jsonschema
is not a dependency of this project), and every `set sip-alg` and `show sip-alg` command the
.rst shows is one the plugin registers. Neither file is a build input."""

import os
import re

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
PLUGIN = os.path.join(ROOT, "vpp-plugin", "sip_alg")

# VPP's src/scripts/fts.py schema
KEYS = {"name", "description", "maintainer", "state", "features", "missing", "properties"}
STATES = {"production", "experimental", "development"}
PROPERTIES = {"API", "CLI", "STATS", "MULTITHREAD"}


def _features_problems(v, where):
    if not isinstance(v, list) or not v:
        return [f"{where}: a non-empty list"]
    out = []
    for i, x in enumerate(v):
        if isinstance(x, dict):
            for k, sub in x.items():
                out += _features_problems(sub, f"{where}[{i}].{k}")
        elif not isinstance(x, str):
            out.append(f"{where}[{i}]: a string or a mapping to a list")
    return out


def feature_problems(doc):
    """What VPP's FEATURE.yaml schema would refuse in doc."""
    out = [f"unknown key {k}" for k in set(doc) - KEYS]
    for k in ("name", "description"):
        if not isinstance(doc.get(k), str):
            out.append(f"{k}: a string")
    m = doc.get("maintainer")
    if not (isinstance(m, str) or (isinstance(m, list) and m and
                                   all(isinstance(x, str) for x in m))):
        out.append("maintainer: a string or a list of strings")
    if doc.get("state") not in STATES:
        out.append(f"state: one of {sorted(STATES)}")
    props = doc.get("properties", [])
    if not isinstance(props, list) or set(props) - PROPERTIES:
        out.append(f"properties: a list of {sorted(PROPERTIES)}")
    for k in ("features", "missing"):
        if k in doc:
            out += _features_problems(doc[k], k)
    return out


def test_feature_yaml_passes_vpps_schema():
    text = open(os.path.join(PLUGIN, "FEATURE.yaml")).read()
    assert text.startswith("---\n")
    doc = yaml.safe_load(text)
    assert feature_problems(doc) == []
    assert doc["properties"] == ["API", "CLI", "STATS", "MULTITHREAD"]


def test_the_schema_check_refuses_what_vpp_refuses():
    assert feature_problems({"name": "x", "description": "y", "maintainer": "m",
                             "state": "beta", "properties": ["GUI"], "features": [],
                             "owner": "z"}) == [
        "unknown key owner", "state: one of ['development', 'experimental', 'production']",
        "properties: a list of ['API', 'CLI', 'MULTITHREAD', 'STATS']",
        "features: a non-empty list"]


def test_rst_commands_are_the_plugins():
    cli = open(os.path.join(PLUGIN, "sip_alg_cli.c")).read()
    paths = set(re.findall(r'\.path = "([^"]+)"', cli))
    rst = open(os.path.join(PLUGIN, "sip_alg.rst")).read()
    title = rst.split("\n\n")[1].splitlines()
    assert len(title) == 2 and set(title[1]) == {"="} and len(title[1]) == len(title[0])
    used = re.findall(r"^\s+((?:set|show) sip-alg [a-z-]+)", rst, re.M)
    assert len(used) > 15
    unknown = [c for c in used if c not in paths]
    assert not unknown, f"sip_alg.rst shows commands the plugin does not have: {unknown}"


def test_neither_file_is_a_build_input():
    for f in ("CMakeLists.txt",):
        text = open(os.path.join(PLUGIN, f)).read()
        assert "FEATURE.yaml" not in text and "sip_alg.rst" not in text
