# SPDX-License-Identifier: Apache-2.0
"""`sipalgctl check`: every broken fixture exits 1 and names each bad YAML path; the
examples pass. Each fixture lists its expected errors as `# expect: <regex>` lines."""

import glob
import os
import re

import pytest

from sipalgctl import cli

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
FIXTURES = sorted(glob.glob(os.path.join(HERE, "fixtures", "*.yaml")))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "mgmt", "examples", "*.yaml")))


def expectations(path):
    return [l[len("# expect: "):].rstrip("\n") for l in open(path) if l.startswith("# expect: ")]


@pytest.mark.parametrize("path", FIXTURES, ids=os.path.basename)
def test_broken_fixture(path, capsys):
    exp = expectations(path)
    assert exp, "fixture without expectations"
    assert cli.main(["check", path]) == 1
    err = capsys.readouterr().err.splitlines()
    for e in exp:
        assert any(re.fullmatch(re.escape(path) + ": " + e + ".*", line) for line in err), \
            f"{e!r} not in {err}"
    # every reported problem is expected: nothing spurious
    assert len(err) == len(exp), err


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_examples_are_valid(path, capsys):
    assert cli.main(["check", path]) == 0
    assert "ok" in capsys.readouterr().out


def test_missing_file(capsys):
    assert cli.main(["check", "/nonexistent/x.yaml"]) == 1
    assert "No such file" in capsys.readouterr().err


def test_defaults():
    from sipalgctl import config
    cfg = config.load(EXAMPLES[0])
    assert cfg.sip_alg.udp_ports == [5060]
    assert (cfg.sip_alg.signaling, cfg.sip_alg.media) == (120, 60)
    assert cfg.alg_interfaces() == ["inside", "outside"]
    assert cfg.interfaces["inside"].vpp_ifname == "host-sipalg-in"
    assert cfg.sip_alg.media_other_hosts is False


def test_media_other_hosts_on():
    from sipalgctl import config
    assert config.load(os.path.join(HERE, "configs", "full.yaml")).sip_alg.media_other_hosts


def test_check_summary(capsys):
    assert cli.main(["check", EXAMPLES[0]]) == 0
    assert capsys.readouterr().out == (
        f"{EXAMPLES[0]}: ok (2 interfaces, 1 NAT addresses, 0 static mappings, SIP ALG on "
        f"inside, outside; media-other-hosts off)\n")
