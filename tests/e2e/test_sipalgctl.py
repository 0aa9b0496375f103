# SPDX-License-Identifier: Apache-2.0
"""sipalgctl against a live VPP: `up` from YAML on the test's veths, a real sipp call,
`show server-map` / `session-table` / `calls` / `stats` during it, apply twice = nothing,
an item removed from the YAML is removed from VPP, the media policy switched on and off,
validation and the limits per inside host applied and read back (and a fresh VPP's values
of them, the defaults), `down` stops VPP. And on any machine: VPP not installed, or
installed and not running, is exit 2 with what to do."""

import json
import os
import re

import pytest
import yaml

import vpp_harness as h
from sipalgctl import vpp as V
from topo import Topo, ctl
from test_call import A_RTP, A_SIP, assert_media, assert_seed_entries, run_call


HERE = os.path.dirname(os.path.abspath(__file__))
SEED = os.path.join(HERE, "..", "..", "mgmt", "examples", "seed.yaml")


def write_config(t, path, runtime_dir, routes=True, static=True, media_other_hosts=None,
                 timeouts=None, sip_alg=None):
    cfg = {
        "vpp": {"runtime_dir": runtime_dir, "buffers": 8192, "main_heap": "512M"},
        "interfaces": {
            "inside": {"type": "af_packet", "host_if": t.if_in_vpp,
                       "address": f"{t.GW_IN}/24", "role": "inside"},
            "outside": {"type": "af_packet", "host_if": t.if_out_vpp,
                        "address": f"{t.GW_OUT}/24", "role": "outside"},
        },
        "routes": [{"prefix": "198.51.100.0/24", "via": t.OUT_HOST, "interface": "outside"}]
        if routes else [],
        "nat44": {"pool": [t.PUB], "static_mappings": [
            {"protocol": "udp", "local": "192.168.1.5:5070", "external": f"{t.PUB}:5070"}]
            if static else []},
        "sip_alg": {"ports": {"udp": [5060, 5062]}},
    }
    if media_other_hosts is not None:
        cfg["sip_alg"]["media"] = {"other_hosts": media_other_hosts}
    if timeouts is not None:
        cfg["sip_alg"]["timeouts"] = timeouts
    cfg["sip_alg"].update(sip_alg or {})
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    return path


def test_up_call_show_down(e2e_prefix, tmp_path):
    with Topo(e2e_prefix, start_vpp=False) as t:
        run = str(tmp_path / "run")
        cfg = write_config(t, str(tmp_path / "fw.yaml"), run)
        assert "ok" in ctl("check", cfg).stdout
        try:
            up = ctl("up", cfg)
            assert "up: VPP running" in up.stdout
            assert ctl("plan", cfg).stdout.strip() == "nothing to do"
            assert ctl("apply", cfg).stdout.strip() == "nothing to do"
            t.wait_reachable()

            def during_call():
                return {w: ctl("show", w, cfg).stdout for w in
                        ("calls", "server-map", "session-table")}

            c = run_call(
                t, str(tmp_path), mid_call=during_call,
                ready=lambda s: "confirmed" in s["calls"] and
                len([l for l in s["server-map"].splitlines() if l.strip()]) == 6)
            seen = c.mid
            assert (c.uac_rc, c.uas_rc) == (0, 0)
            assert_media(t, c)
            smap = [l for l in seen["server-map"].splitlines() if l.strip()]
            assert_seed_entries(t, smap)
            sessions = seen["session-table"].splitlines()
            assert any(l.startswith(f"sip VPN:public --> public {t.A}:{A_SIP}[{t.PUB}:")
                       for l in sessions), sessions
            assert any(l.startswith("sip-rtp VPN:public --> public") for l in sessions), sessions
            assert "confirmed" in seen["calls"]
            # the call's media stream under its row, not one-way (media flows both ways)
            assert re.search(rf"^  Stream: {t.PUB}:\d+\[{t.A}:{A_RTP}\], Packets: in2out \d+ "
                             r"out2in \d+, Idle: .*, One-Way: no$", seen["calls"], re.M), \
                seen["calls"]
            # after BYE: nothing left, and the counters say what happened
            assert json.loads(ctl("--json", "show", "server-map", cfg).stdout) == []
            stats = json.loads(ctl("--json", "stats", cfg).stdout)
            # INVITE, 180, 200, ACK, BYE, 200: every one rewritten
            assert stats["sip"] >= 6 and stats["rewritten"] >= 6 and stats["pinhole_added"] >= 6
            assert stats["parse_error"] == 0 and stats["media_one_way"] == 0

            # removing items from the YAML removes them from VPP
            smaller = write_config(t, str(tmp_path / "fw2.yaml"), run, routes=False,
                                   static=False)
            plan = ctl("plan", smaller).stdout.splitlines()
            assert plan == [
                f"nat44 add static mapping udp local 192.168.1.5 5070 external {t.PUB} 5070 del",
                f"ip route del 198.51.100.0/24 via {t.OUT_HOST} host-{t.if_out_vpp}"]
            ctl("apply", smaller)
            assert ctl("plan", smaller).stdout.strip() == "nothing to do"

            # the media section's other_hosts, read back from sip_alg_get_config: on, then
            # off again
            for on in (True, False):
                policy = write_config(t, str(tmp_path / f"fw-{on}.yaml"), run, routes=False,
                                      static=False, media_other_hosts=on)
                assert ctl("plan", policy).stdout.splitlines() == [
                    f"set sip-alg media addresses none other-hosts {'on' if on else 'off'}"]
                ctl("apply", policy)
                assert ctl("plan", policy).stdout.strip() == "nothing to do"

            # the call timers, read back from sip_alg_get_config: the timeouts' one command
            timers = write_config(t, str(tmp_path / "fw-timers.yaml"), run, routes=False,
                                  static=False, media_other_hosts=False,
                                  timeouts={"media_inactivity": 30, "max_duration": 0,
                                            "one_way_media": 2})
            assert ctl("plan", timers).stdout.splitlines() == [
                "set sip-alg timeouts signaling 120 media 60 call 7200 media-inactivity 30 "
                "max-duration 0 one-way-media 2"]
            ctl("apply", timers)
            assert ctl("plan", timers).stdout.strip() == "nothing to do"
        finally:
            down = ctl("down", cfg, check=False)
        assert down.returncode == 0 and "stopped" in down.stdout
        assert not os.path.exists(os.path.join(run, "vpp.pid"))


VALIDATION = {"mode": "strict", "actions": {"sdp": "pass"},
              "block_methods": ["message", "OPTIONS", "Other"],
              "rate_limits": {"invite": {"rate": 20, "burst": 40}, "register": {"rate": 5}}}
SECURITY_CLI = ("set sip-alg security max-inbound-calls 1000 max-inbound-per-source 20 "
                "max-binding-time 3600 max-entries 65536 max-entries-per-call {} "
                "inside-media-ports 1024-65535 max-calls-per-host {} max-entries-per-host {}")
VALIDATION_CLI = ("set sip-alg validation strict sdp pass block OPTIONS,MESSAGE,OTHER "
                  "invite-rate 20 burst 40 register-rate 5")
DEFAULT_VALIDATION_CLI = "set sip-alg validation lenient block none invite-rate 0 register-rate 0"


def test_validation_and_host_limits(e2e_prefix, tmp_path):
    """sip_alg.validation and the host limits of sip_alg.security: a fresh VPP has the
    defaults (which have no macro in the plugin to check them against); plan's CLI text,
    typed into VPP's CLI, does what apply's API calls do; applied, they read back through
    sip_alg_get_config, `show sip-alg config` and `sipalgctl show config`, and a second apply
    has nothing to do; a change of the other security bounds alone plans the security
    section again with the host limits as they are (sip_alg_set_security_v2 sets them all)."""
    from sipalgctl import config as C, defaults as D, plan as P
    with Topo(e2e_prefix, start_vpp=False) as t:
        run = str(tmp_path / "run")
        base = write_config(t, str(tmp_path / "base.yaml"), run)
        want = write_config(t, str(tmp_path / "val.yaml"), run, sip_alg={
            "validation": VALIDATION,
            "security": {"max_entries_per_call": 12, "max_calls_per_host": 50,
                         "max_entries_per_host": 400}})
        vpp = h.VPP(e2e_prefix, tmpdir=run)  # for its cli(): run/cli.sock

        def get_config():
            with V.Client(f"{run}/api.sock", e2e_prefix) as c:
                g = c.call("sip_alg_get_config")
            return {k: getattr(g, k) for k in P.VALIDATION + P.HOST_LIMITS}

        try:
            up = ctl("up", base)
            # the defaults are a fresh VPP's: up had neither to set
            assert "set sip-alg validation" not in up.stdout, up.stdout
            assert "max-calls-per-host" not in up.stdout, up.stdout
            defaults = dict(P.validation_fields(C.ValidationModel()),
                            max_calls_per_host=D.MAX_CALLS_PER_HOST,
                            max_entries_per_host=D.MAX_ENTRIES_PER_HOST)
            assert get_config() == defaults
            assert ("validation lenient parse pass header pass sdp pass too-many pass block "
                    "none") in vpp.cli("show sip-alg config")

            plan = ctl("plan", want).stdout.splitlines()
            assert plan == [SECURITY_CLI.format(12, 50, 400), VALIDATION_CLI]
            # the plan's CLI text, typed into VPP, is what apply would do
            for line in plan:
                vpp.cli_ok(line)
            assert ctl("plan", want).stdout.strip() == "nothing to do"
            # back to the defaults through the API
            assert ctl("plan", base).stdout.splitlines() == [
                SECURITY_CLI.format(24, 0, 0), DEFAULT_VALIDATION_CLI]
            ctl("apply", base)
            assert ctl("plan", base).stdout.strip() == "nothing to do"
            assert get_config() == defaults

            applied = ctl("apply", want).stdout.splitlines()
            assert [l.split("] ", 1)[1] for l in applied] == plan
            assert ctl("plan", want).stdout.strip() == "nothing to do"
            assert ctl("apply", want).stdout.strip() == "nothing to do"
            fields = dict(P.validation_fields(C.load(want).sip_alg.validation),
                          max_calls_per_host=50, max_entries_per_host=400)
            assert fields["block_methods"] == 1 << 5 | 1 << 12 | 1 << 15
            assert get_config() == fields
            text = vpp.cli("show sip-alg config")
            for line in ("host limits max-calls-per-host 50 (per worker) max-entries-per-host "
                         "400 (0: off)",
                         "validation strict parse drop header drop sdp pass too-many drop block "
                         "OPTIONS,MESSAGE,OTHER",
                         "rate-limits invite 20/s burst 40 register 5/s burst 5 (per source "
                         "and worker, 0: off)"):
                assert line in text, text
            shown = json.loads(ctl("--json", "show", "config", want).stdout)
            assert shown["validation"] == {
                "mode": "strict",
                "actions": {"parse": "drop", "header": "drop", "sdp": "pass",
                            "too_many": "drop"},
                "block_methods": ["OPTIONS", "MESSAGE", "OTHER"],
                "rate_limits": {"invite": {"rate": 20, "burst": 40},
                                "register": {"rate": 5, "burst": 5}}}
            assert (shown["security"]["max_calls_per_host"],
                    shown["security"]["max_entries_per_host"]) == (50, 400)
            assert yaml.safe_load(ctl("show", "config", want).stdout) == {"sip_alg": shown}

            # only max_entries_per_call back to its default: the section again, its host
            # limits as they are
            bounds = write_config(t, str(tmp_path / "bounds.yaml"), run, sip_alg={
                "validation": VALIDATION,
                "security": {"max_calls_per_host": 50, "max_entries_per_host": 400}})
            assert ctl("plan", bounds).stdout.splitlines() == [SECURITY_CLI.format(24, 50, 400)]
            ctl("apply", bounds)
            assert ctl("plan", bounds).stdout.strip() == "nothing to do"
            assert get_config() == fields
        finally:
            down = ctl("down", base, check=False)
        assert down.returncode == 0 and "stopped" in down.stdout


def test_apply_vpp_not_installed_exits_2(tmp_path):
    """No VPP where it is looked for: here an explicit VPP_PREFIX without VPP, which is the
    only place looked at then."""
    empty = tmp_path / "empty"
    empty.mkdir()
    r = ctl("--socket", str(tmp_path / "api.sock"), "apply", SEED, check=False,
            env=dict(os.environ, VPP_PREFIX=str(empty)))
    assert r.returncode == 2, r.stderr
    assert r.stderr == (f"sipalgctl: VPP is not installed: no API definitions "
                        f"(share/vpp/api/**/*.api.json) under {empty} (VPP_PREFIX); install "
                        f"VPP there or set VPP_PREFIX to where it is installed\n")


@pytest.mark.parametrize("vpp", ["fake", "installed"])
def test_apply_vpp_not_running_exits_2(tmp_path, vpp):
    """VPP installed, nothing at its API socket. "fake": a prefix with a minimal API
    definition, on any machine (the socket is looked at before the definitions are loaded);
    "installed": the VPP sipalgctl finds by itself."""
    env = dict(os.environ)
    if vpp == "fake":
        api = tmp_path / "fake" / "share" / "vpp" / "api" / "core"
        api.mkdir(parents=True)
        (api / "memclnt.api.json").write_text('{"types": [], "messages": [], "services": {}}')
        env["VPP_PREFIX"] = str(tmp_path / "fake")
    elif not V.find_prefix(what=V.API_JSON):
        # the VPP tiers' reason when VPP is missing altogether (one reason in the summary)
        pytest.skip(h.find_vpp()[1] or str(V.not_installed(what=V.API_JSON)))
    sock = str(tmp_path / "run" / "api.sock")
    r = ctl("--socket", sock, "apply", SEED, check=False, env=env)
    assert r.returncode == 2, r.stderr
    assert r.stderr == (f"sipalgctl: cannot reach VPP at {sock}: no API socket there after "
                        f"5 s; is it running? start it with `sipalgctl up <config.yaml>`\n")
