# SPDX-License-Identifier: Apache-2.0
"""sipalgctl as a service, without systemd running: the units shipped in the package
(sipalgctl/systemd/) pass `systemd-analyze verify` in a scratch root with a stand-in
vpp.service; their sipalgctl command lines are ones sipalgctl's parser takes; `apply` on a
directory applies every *.yaml in it, refusing two for the same VPP and an invalid one
before touching VPP; `apply --wait` waits for VPP's socket and interfaces, gives up naming
what is missing, and fails at once on what waiting cannot mend. tests/e2e/test_service_vpp.py
runs the unit's ExecStart against a real VPP."""

import os
import shlex
import shutil
import subprocess
import types

import pytest

from sipalgctl import cli, plan as P, vpp as V

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
UNITS = os.path.join(ROOT, "mgmt", "sipalgctl", "systemd")
UNIT = os.path.join(UNITS, "sipalgctl.service")
DROPIN = os.path.join(UNITS, "vpp.service.d", "sipalgctl.conf")
SEED = os.path.join(ROOT, "mgmt", "examples", "seed.yaml")


def unit(path):
    """The unit file's sections, keys repeated (ExecStart= twice) kept in order."""
    out = {}
    section = None
    for line in open(path):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            out[section] = []
        else:
            k, v = line.split("=", 1)
            out[section].append((k, v))
    return out


def values(u, section, key):
    return [v for k, v in u[section] if k == key]


def test_unit_dependencies():
    u = unit(UNIT)
    assert values(u, "Unit", "BindsTo") == ["vpp.service"]
    assert values(u, "Unit", "After") == ["vpp.service"]
    assert values(u, "Unit", "PartOf") == ["vpp.service"]
    assert values(u, "Unit", "ConditionPathExistsGlob") == ["/etc/sipalgctl/*.yaml"]
    assert values(u, "Service", "Type") == ["oneshot"]
    assert values(u, "Service", "RemainAfterExit") == ["yes"]
    assert values(u, "Install", "WantedBy") == ["vpp.service"]
    [start] = values(u, "Service", "ExecStart")
    assert start == "sipalgctl apply --wait 120 /etc/sipalgctl"
    assert values(u, "Service", "ExecReload") == [start]
    # the unit gives VPP and apply longer than apply waits
    assert int(values(u, "Service", "TimeoutStartSec")[0]) > 120
    d = unit(DROPIN)
    assert values(d, "Service", "ExecStart") == ["", "/usr/bin/vpp -c /run/sipalg/startup.conf"]
    assert values(d, "Service", "ExecStartPre") == [
        "sipalgctl render /etc/sipalgctl/sipalg.yaml --out /run/sipalg"]


@pytest.mark.parametrize("line", [
    ("sipalgctl.service", "ExecStart"), ("sipalgctl.service", "ExecReload"),
    ("vpp.service.d/sipalgctl.conf", "ExecStartPre")])
def test_unit_command_lines_parse(line):
    """Each sipalgctl command line of the units is one sipalgctl's parser takes as meant."""
    [cmd] = values(unit(os.path.join(UNITS, line[0])), "Service", line[1])
    argv = shlex.split(cmd)
    assert argv[0] == "sipalgctl"
    args = cli.parser().parse_args(argv[1:])
    if args.cmd == "apply":
        assert (args.fn, args.wait, args.config) == (cli.cmd_apply, 120, "/etc/sipalgctl")
    else:
        assert (args.fn, args.out) == (cli.cmd_render, "/run/sipalg")


def scratch_root(tmp_path):
    """A root for `systemd-analyze verify --root`: systemd's own targets and slices, a
    stand-in vpp.service, and executables where the units look for them."""
    root = tmp_path / "root"
    lib = root / "lib" / "systemd" / "system"
    lib.mkdir(parents=True)
    for d in ("/lib/systemd/system", "/usr/lib/systemd/system"):
        if os.path.isdir(d):
            for f in os.listdir(d):
                src = os.path.join(d, f)
                if f.endswith((".target", ".slice")) and os.path.exists(src) and \
                        not (lib / f).exists():
                    shutil.copy(src, lib / f)
    (lib / "vpp.service").write_text(
        "[Unit]\nDescription=vector packet processing engine\n\n[Service]\nType=simple\n"
        "ExecStart=/usr/bin/vpp -c /etc/vpp/startup.conf\nRestart=always\n\n"
        "[Install]\nWantedBy=multi-user.target\n")
    for exe in ("usr/bin/vpp", "usr/local/bin/sipalgctl"):
        (root / exe).parent.mkdir(parents=True, exist_ok=True)
        (root / exe).write_text("#!/bin/sh\n")
        (root / exe).chmod(0o755)
    etc = root / "etc" / "systemd" / "system"
    (etc / "vpp.service.d").mkdir(parents=True)
    return root, etc


def verify(root, unit_name):
    return subprocess.run(["systemd-analyze", "verify", f"--root={root}",
                           f"/etc/systemd/system/{unit_name}"], capture_output=True, text=True,
                          timeout=60)


def test_systemd_analyze_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not installed (Debian: systemd)")
    root, etc = scratch_root(tmp_path)
    shutil.copy(UNIT, etc / "sipalgctl.service")
    shutil.copy(DROPIN, etc / "vpp.service.d" / "sipalgctl.conf")
    shutil.copy(root / "lib" / "systemd" / "system" / "vpp.service", etc / "vpp.service")
    for name in ("sipalgctl.service", "vpp.service"):
        r = verify(root, name)
        assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), name
    # and it can fail: a misspelt key, a command that is not there
    bad = etc / "sipalgctl.service"
    bad.write_text(open(UNIT).read().replace("RemainAfterExit=", "RemainAfterExt="))
    r = verify(root, "sipalgctl.service")
    assert "Unknown key 'RemainAfterExt'" in r.stderr, r.stderr
    (root / "usr" / "local" / "bin" / "sipalgctl").unlink()
    shutil.copy(UNIT, etc / "sipalgctl.service")
    r = verify(root, "sipalgctl.service")
    assert r.returncode != 0 and "Command sipalgctl is not executable" in r.stderr, r.stderr


# --- apply on a directory, apply --wait --------------------------------------------------------

def write(path, text):
    path.write_text(text)
    return str(path)


def seed(runtime_dir):
    return open(SEED).read().replace("runtime_dir: /run/sipalg", f"runtime_dir: {runtime_dir}")


@pytest.fixture
def applied(monkeypatch):
    """cli.do_apply recorded, not run (no operations sent): [(config path, config)]."""
    calls = []

    def do_apply(args, cfg, plugin=None):
        calls.append((args.config, cfg))
        return []
    monkeypatch.setattr(cli, "do_apply", do_apply)
    return calls


def test_apply_directory(tmp_path, capsys, applied):
    d = tmp_path / "etc"
    d.mkdir()
    b = write(d / "b.yaml", seed("/run/b"))
    a = write(d / "a.yaml", seed("/run/a"))
    write(d / "notes.txt", "not a configuration")
    assert cli.main(["apply", str(d)]) == 0
    assert [p for p, _ in applied] == [a, b]
    assert [c.vpp.api_socket for _, c in applied] == ["/run/a/api.sock", "/run/b/api.sock"]
    assert capsys.readouterr().out == f"== {a}\n== {b}\n"


def test_apply_directory_refuses_before_applying(tmp_path, capsys, applied):
    d = tmp_path / "etc"
    d.mkdir()
    assert cli.main(["apply", str(d)]) == 1
    assert capsys.readouterr().err == f"{d}: no *.yaml in it\n"
    a = write(d / "a.yaml", seed("/run/a"))
    b = write(d / "b.yaml", seed("/run/a"))
    assert cli.main(["apply", str(d)]) == 1
    assert capsys.readouterr().err == (
        f"{b}: vpp.runtime_dir: the same VPP (API socket /run/a/api.sock) as {a}: each would "
        f"undo what the other applies\n")
    write(d / "b.yaml", seed("/run/b").replace("role: outside", "role: sideways"))
    assert cli.main(["apply", str(d)]) == 1
    assert capsys.readouterr().err.startswith(f"{b}: interfaces.outside.role: must be one of ")
    assert applied == []


class Vpp:
    """A VPP coming up: its socket answers from the `answers`-th connection on, and has the
    seed's interfaces from the `interfaces`-th read of its state on."""

    def __init__(self, answers, interfaces):
        self.answers, self.interfaces, self.connects, self.reads = answers, interfaces, 0, 0

    def client(self, args, cfg=None):
        self.connects += 1
        if self.connects < self.answers:
            raise V.not_running("/run/sipalg/api.sock", "no API socket there after 5 s")
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def state(self, c):
        self.reads += 1
        st = P.State()
        if self.reads >= self.interfaces:
            st.sw_if_index = {"host-sipalg-in": 1, "host-sipalg-out": 2}
        return st


@pytest.fixture
def clock(monkeypatch):
    """time as cli sees it: sleep advances it."""
    now = types.SimpleNamespace(t=0.0)
    monkeypatch.setattr(cli.time, "monotonic", lambda: now.t)
    monkeypatch.setattr(cli.time, "sleep", lambda s: setattr(now, "t", now.t + s))
    return now


def test_apply_wait(monkeypatch, capsys, applied, clock):
    vpp = Vpp(answers=3, interfaces=2)
    monkeypatch.setattr(cli, "client", vpp.client)
    monkeypatch.setattr(P, "read_state", vpp.state)
    assert cli.main(["apply", "--wait", "30", SEED]) == 0
    assert (vpp.connects, vpp.reads, clock.t) == (4, 2, 3.0)
    assert [p for p, _ in applied] == [SEED]


@pytest.mark.parametrize("answers,interfaces,why", [
    (100, 1, "cannot reach VPP at /run/sipalg/api.sock: no API socket there after 5 s; is it "
             "running? start it with `sipalgctl up <config.yaml>`"),
    (1, 100, f"VPP has no interface host-sipalg-in, host-sipalg-out (does it run the "
             f"startup.conf and bootstrap.cli `sipalgctl render` wrote for {SEED}?)")])
def test_apply_wait_gives_up(monkeypatch, capsys, applied, clock, answers, interfaces, why):
    vpp = Vpp(answers, interfaces)
    monkeypatch.setattr(cli, "client", vpp.client)
    monkeypatch.setattr(P, "read_state", vpp.state)
    assert cli.main(["apply", "--wait", "10", SEED]) == 2
    assert capsys.readouterr().err == f"sipalgctl: waited 10 s for VPP: {why}\n"
    assert clock.t == 10 and applied == []


def test_apply_wait_fails_at_once_when_waiting_cannot_help(monkeypatch, capsys, applied, clock,
                                                           tmp_path):
    """VPP not installed where it is looked for: no waiting."""
    monkeypatch.setenv("VPP_PREFIX", str(tmp_path))
    assert cli.main(["apply", "--wait", "60", SEED]) == 2
    assert capsys.readouterr().err.startswith("sipalgctl: VPP is not installed: ")
    assert clock.t == 0 and applied == []
