# SPDX-License-Identifier: Apache-2.0
"""sipalgctl operated as a service, against a real VPP on the test's veths:

- dump: mgmt/examples/seed.yaml and firewall.yaml brought up by `sipalgctl up`, then
  `sipalgctl dump` writes YAML (no warning) that `check` accepts and against which `plan`
  finds nothing to do; on a fresh VPP the dump plans exactly what the example plans;
- plan --exec-file: on a fresh VPP (started from the rendered startup.conf, nothing
  applied), the example's plan written as a file that `vppctl exec` runs; afterwards plan
  finds nothing to do, for the example and for its dump;
- the systemd unit: its ExecStart command line, exactly as mgmt/sipalgctl/systemd/
  sipalgctl.service writes it (`sipalgctl` found on PATH, as systemd finds it in /usr/bin),
  run the moment VPP is started as vpp.service starts it, with /etc/sipalgctl holding the
  configuration (an overlay over /etc in a mount namespace of its own: the machine's /etc is
  not touched): it waits for VPP, applies, applies again with nothing to do, and fails
  (exit 1, naming the file) on an invalid file, changing nothing."""

import os
import re
import shlex
import subprocess
import sys
import time

import pytest
import yaml

from deploy import EXAMPLES, ExampleTopo
from sipalgctl import config as C, runner
from topo import Topo, ctl

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT = os.path.join(HERE, "..", "..", "mgmt", "sipalgctl", "systemd", "sipalgctl.service")


class Example(ExampleTopo):
    """deploy.ExampleTopo without its pings (firewall.yaml's inbound policy drops the outside's;
    no traffic is needed here)."""

    def wait_reachable(self, timeout=15):
        pass


def nothing_to_do(cfg):
    r = ctl("plan", cfg)
    assert (r.stdout, r.stderr) == ("nothing to do\n", "")


def vppctl(prefix, run, *cmd):
    r = subprocess.run([os.path.join(prefix, "bin", "vppctl"), "-s", f"{run}/cli.sock", *cmd],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def wait_for_interfaces(cfg, timeout=20):
    """Until VPP has run bootstrap.cli: plan, which needs the interfaces, succeeds."""
    deadline = time.time() + timeout
    while True:
        r = ctl("plan", cfg, check=False)
        if r.returncode == 0:
            return r.stdout
        assert time.time() < deadline, r.stderr
        time.sleep(0.3)


@pytest.mark.parametrize("example", ["seed.yaml", "firewall.yaml"])
def test_dump_and_exec_file(e2e_prefix, tmp_path, example):
    tmp = str(tmp_path)
    with Example(e2e_prefix, tmp, example) as t:
        # `up` applied the example: the dump of it
        dump = os.path.join(tmp, "dump.yaml")
        r = ctl("dump", t.cfg, "-o", dump)
        assert (r.stdout, r.stderr) == ("", "")
        assert ": ok (" in ctl("check", dump).stdout
        nothing_to_do(dump)
        fw = yaml.safe_load(open(dump)).get("firewall")
        assert bool(fw) == (example == "firewall.yaml")

        # a fresh VPP from the same startup.conf, nothing applied
        t.down()
        runner.start(C.load(t.cfg), e2e_prefix, log=lambda s: None)
        t.upped = True  # ExampleTopo stops it
        plan = wait_for_interfaces(t.cfg)
        assert plan.startswith("set acl-plugin acl " if fw else "set interface ip address ")
        assert ctl("plan", dump).stdout == plan  # the dump is the example, as far as VPP goes

        # the plan as a file of VPP CLI commands, run by VPP
        cli = os.path.join(tmp, "plan.cli")
        r = ctl("plan", t.cfg, "--exec-file", cli)
        assert r.stdout == plan
        text = open(cli).read()
        cmds = [l for l in text.splitlines() if not l.startswith("#")]
        checks = [c for c in cmds if c.startswith("delete acl-plugin acl index")]
        assert len(cmds) - 2 * len(checks) == sum(
            len(l.split("; ")) for l in plan.splitlines() if not l.startswith("  #"))
        assert len(checks) == (3 if fw else 0) and not any(";" in c for c in cmds)
        # the commands' own output goes to VPP's log, an error would come back here
        assert vppctl(e2e_prefix, t.run, "exec", cli) == ""
        if fw:  # the ACLs where the file expected them: index 0, 1, 2
            acls = re.findall(r"^acl-index (\d+) count \d+ tag \{(.*)\}$",
                              vppctl(e2e_prefix, t.run, "show acl-plugin acl"), re.M)
            assert acls == [("0", "sipalgctl:outbound"), ("1", "sipalgctl:inbound"),
                            ("2", "sipalgctl:reflect")], acls
        nothing_to_do(t.cfg)
        nothing_to_do(dump)
        t.down()


def exec_file_after_others_acls(prefix, tmp, t, deleted):
    """A fresh VPP of t's config, with ACLs 0, 1, 2 of others made and those in deleted
    deleted in that order (VPP's free list); returns the plan written as an exec file."""
    t.down()
    runner.start(C.load(t.cfg), prefix, log=lambda s: None)
    t.upped = True
    wait_for_interfaces(t.cfg)
    for n in range(3):
        assert vppctl(prefix, t.run, f"set acl-plugin acl deny tag other{n}") == \
            f"ACL index:{n}\n"
    for n in deleted:
        vppctl(prefix, t.run, f"delete acl-plugin acl index {n}")
    cli = os.path.join(tmp, "plan.cli")
    ctl("plan", t.cfg, "--exec-file", cli)
    return cli


def test_exec_file_stops_at_an_acl_index_it_did_not_expect(e2e_prefix, tmp_path):
    """VPP gives a new ACL the index of the ACL deleted last: with ACLs 0 and 2 of others
    deleted in that order, the file's first ACL gets 2, not the 0 it expects. Deleting ACL 0
    fails, `vppctl exec` stops there (and says so), nothing is bound and ACL 1 is untouched;
    sipalgctl apply then finishes the job (the stray ACL tagged sipalgctl:outbound kept)."""
    tmp = str(tmp_path)
    with Example(e2e_prefix, tmp, "firewall.yaml") as t:
        cli = exec_file_after_others_acls(e2e_prefix, tmp, t, deleted=(0, 2))
        assert "delete acl-plugin acl index 0" in open(cli).read().splitlines()
        # (VPP's message names no line: the line's input was read to its end)
        assert vppctl(e2e_prefix, t.run, "exec", cli).startswith("exec: CLI line error:")
        acls = re.findall(r"^acl-index (\d+) count \d+ tag \{(.*)\}$",
                          vppctl(e2e_prefix, t.run, "show acl-plugin acl"), re.M)
        assert acls == [("1", "other1"), ("2", "sipalgctl:outbound")], acls
        assert "acl" not in vppctl(e2e_prefix, t.run, "show acl-plugin interface").replace(
            "acl-plugin", "")
        ctl("apply", t.cfg)
        nothing_to_do(t.cfg)
        t.down()


def test_exec_file_acl_index_from_the_free_list(e2e_prefix, tmp_path):
    """The same, ACL 0 of others deleted last: VPP gives the file's first ACL 0, as the file
    expects; the file runs through and plan finds nothing to do."""
    tmp = str(tmp_path)
    with Example(e2e_prefix, tmp, "firewall.yaml") as t:
        cli = exec_file_after_others_acls(e2e_prefix, tmp, t, deleted=(2, 0))
        assert vppctl(e2e_prefix, t.run, "exec", cli) == ""
        acls = re.findall(r"^acl-index (\d+) count \d+ tag \{(.*)\}$",
                          vppctl(e2e_prefix, t.run, "show acl-plugin acl"), re.M)
        assert acls == [("0", "sipalgctl:outbound"), ("1", "other1"), ("2", "sipalgctl:inbound"),
                        ("3", "sipalgctl:reflect")], acls
        nothing_to_do(t.cfg)
        t.down()


def test_unit_exec_start(e2e_prefix, tmp_path):
    [start] = [l.split("=", 1)[1] for l in open(UNIT) if l.startswith("ExecStart=")]
    argv = shlex.split(start)
    assert argv[0] == "sipalgctl" and argv[-1] == "/etc/sipalgctl"
    tmp = str(tmp_path)
    # sipalgctl on PATH: this checkout's, run by the test's Python
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "sipalgctl"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m sipalgctl.cli "$@"\n')
    shim.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    # /etc/sipalgctl in an overlay over /etc, in the unit's own mount namespace
    upper, work = tmp_path / "etc-upper", tmp_path / "etc-work"
    etc = upper / "sipalgctl"
    etc.mkdir(parents=True)
    work.mkdir()
    wrap = ["unshare", "-m", "--propagation", "private", "sh", "-c",
            f"mount -t overlay overlay -o lowerdir=/etc,upperdir={upper},workdir={work} /etc "
            f'&& exec "$@"', "sh"]

    def exec_start():
        return subprocess.run(wrap + argv, capture_output=True, text=True, env=env,
                              timeout=300)

    with Topo(e2e_prefix, start_vpp=False) as t:
        run = os.path.join(tmp, "run")
        data = yaml.safe_load(open(os.path.join(EXAMPLES, "seed.yaml")))
        data["vpp"]["runtime_dir"] = run
        data["interfaces"]["inside"]["host_if"] = t.if_in_vpp
        data["interfaces"]["outside"]["host_if"] = t.if_out_vpp
        cfg = str(etc / "seed.yaml")
        with open(cfg, "w") as f:
            yaml.safe_dump(data, f)
        ctl("render", cfg, "--out", run)
        # VPP as vpp.service starts it (Type=simple: started the moment it is forked)
        log = open(os.path.join(tmp, "vpp.out"), "w")
        vpp = subprocess.Popen([os.path.join(e2e_prefix, "bin", "vpp"), "-c",
                                os.path.join(run, "startup.conf")], stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
        with open(runner.pidfile(C.load(cfg)), "w") as f:  # for `sipalgctl down`
            f.write(f"{vpp.pid}\n")
        try:
            r = exec_start()
            assert r.returncode == 0, r.stdout + r.stderr
            lines = r.stdout.splitlines()
            assert lines[0].startswith("[1/") and lines[-1].endswith(
                f"set sip-alg interface host-{t.if_out_vpp}"), r.stdout
            assert r.stderr == ""
            nothing_to_do(cfg)
            # ExecReload, or VPP's next start: applying again changes nothing
            r = exec_start()
            assert (r.returncode, r.stdout, r.stderr) == (0, "nothing to do\n", "")
            t.wait_reachable()
            # an invalid file: the unit fails, naming it, and nothing is applied
            bad = etc / "z.yaml"
            bad.write_text(open(cfg).read().replace("role: outside", "role: sideways")
                           .replace(run, run + "-z"))
            r = exec_start()
            assert r.returncode == 1 and r.stdout == ""
            assert r.stderr.startswith("/etc/sipalgctl/z.yaml: interfaces.outside.role: "
                                       "must be one of inside, outside, none"), r.stderr
            nothing_to_do(cfg)
        finally:
            down = ctl("down", cfg, check=False)
            if vpp.poll() is None:
                vpp.kill()
        assert "stopped" in down.stdout, down.stdout + down.stderr
        assert not os.path.exists("/etc/sipalgctl")
