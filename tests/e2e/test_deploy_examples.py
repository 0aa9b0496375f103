# SPDX-License-Identifier: Apache-2.0
"""Tier 2: the deployment examples, mgmt/examples/pbx-inside.yaml and hairpin.yaml, brought
up by `sipalgctl up` on the test's own veths (each example as it is, but for its interfaces'
host_if and vpp.runtime_dir), a call with media both ways, `sipalgctl down`:

- pbx-inside.yaml: B outside calls the PBX (a sipp user agent at 192.168.1.5:5060) through
  the outside Kamailio proxy, which relays to the PBX's public address 203.0.113.10:5060;
- hairpin.yaml: the two inside phones register with the outside registrar and call each
  other through it (deploy.hairpin_call).

test_deploy_pbx.py and test_deploy_hairpin.py test the two deployments in depth, with 0 and
2 workers."""

import os

import pytest
import yaml

import vpp_harness as h
from deploy import (HAIRPIN_DEFECT, PBX, PHONE3, Captures, Defect, Ua, add_inside_host, call,
                    check_hairpin, find, hairpin_call, hairpin_defects, proxy, rtp, sdp,
                    sip_messages, tail)
from test_call import B_SIP
from topo import Topo, ctl

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "mgmt",
                        "examples")


class ExampleTopo(Topo):
    """topo.py's namespaces and veths; VPP from `sipalgctl up` on the example, its
    interfaces' host_if and its runtime_dir made the test's. hosts: more inside addresses."""

    def __init__(self, prefix, tmp, example, hosts=()):
        super().__init__(prefix, start_vpp=False)
        os.rmdir(self.vpp.dir)  # that VPP is never started: sipalgctl's is
        self.run = os.path.join(tmp, "run")
        self.vpp = h.VPP(prefix, tmpdir=self.run)  # only for its cli(): run/cli.sock
        self.example = os.path.join(EXAMPLES, example)
        self.cfg = os.path.join(tmp, example)
        self.hosts = hosts
        self.upped = False

    def _setup(self):
        super()._setup()
        with open(self.example) as f:
            cfg = yaml.safe_load(f)
        cfg["vpp"]["runtime_dir"] = self.run
        cfg["interfaces"]["inside"]["host_if"] = self.if_in_vpp
        cfg["interfaces"]["outside"]["host_if"] = self.if_out_vpp
        with open(self.cfg, "w") as f:
            yaml.safe_dump(cfg, f)
        assert ": ok (" in ctl("check", self.cfg).stdout
        self.upped = True
        up = ctl("up", self.cfg)
        assert "up: VPP running" in up.stdout, up.stdout
        assert ctl("plan", self.cfg).stdout.strip() == "nothing to do"
        self.wait_reachable()
        for a in self.hosts:
            add_inside_host(self, a)

    def down(self):
        """`sipalgctl down`: VPP stopped, its pid file gone."""
        self.upped = False
        down = ctl("down", self.cfg, check=False)
        assert down.returncode == 0 and "stopped" in down.stdout, down.stdout + down.stderr
        assert not os.path.exists(os.path.join(self.run, "vpp.pid"))

    def __exit__(self, *exc):
        if self.upped:
            ctl("down", self.cfg, check=False)
        super().__exit__(*exc)


def test_pbx_inside_example(e2e_prefix, tmp_path):
    tmp = str(tmp_path)
    with ExampleTopo(e2e_prefix, tmp, "pbx-inside.yaml", (PBX,)) as t:
        assert sorted(t.static_mappings()) == sorted(
            f"{p} local {PBX}:5060 external {t.PUB}:5060 vrf 0" for p in ("UDP", "TCP"))
        assert "tcp 5060" in t.vpp.cli("show sip-alg config")
        proxy(t, tmp, f"{t.PUB}:5060")
        caps = Captures(t, tmp)
        uac_rc, uas_rc, _ = call(t, tmp, "in", Ua(t.ns_out, t.B, B_SIP, 7000),
                                 Ua(t.ns_in, PBX, 5060, 6000), f"{t.PROXY}:5060", "pbx")
        inside, outside = caps.stop()
        assert (uac_rc, uas_rc) == (0, 0), tail(tmp, "in-uac") + tail(tmp, "in-uas")
        msgs_in = sip_messages(inside, (5060, B_SIP))
        assert find(msgs_in, b"INVITE sip:pbx@", src=t.PROXY, dst=PBX)
        msgs_out = sip_messages(outside, (5060, B_SIP))
        answer = [m for m in find(msgs_out, b"SIP/2.0 200", src=t.PUB, dst=t.PROXY)
                  if b" INVITE\r\n" in m]
        assert answer and sdp(answer[0])[:2] == (t.PUB, t.PUB), answer
        for _, _, m in msgs_out:
            assert b"192.168.1." not in m, m
        assert len(rtp(inside, src=(t.B, 7000), dst=(PBX, 6000))) > 50
        assert len(rtp(outside, src=(t.PUB, sdp(answer[0])[2]), dst=(t.B, 7000))) > 50
        t.down()


@pytest.mark.xfail(strict=True, raises=Defect, reason=HAIRPIN_DEFECT)
def test_hairpin_example(e2e_prefix, tmp_path):
    tmp = str(tmp_path)
    with ExampleTopo(e2e_prefix, tmp, "hairpin.yaml", (PHONE3,)) as t:
        hp = hairpin_call(t, tmp)
        check_hairpin(t, hp, tmp)
        t.down()
        hairpin_defects(t, hp)
