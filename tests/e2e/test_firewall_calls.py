# SPDX-License-Identifier: Apache-2.0
"""Tier 2 with the firewall: `sipalgctl up` on mgmt/examples/firewall.yaml (deny-by-default
inbound policy in VPP's ACL plugin, NAT44-ED, the ALG) between the test's namespaces, with 0
and 2 VPP workers; real calls with sipp and Kamailio.

The policy lets in only return traffic of flows that left and what a live server-map entry
admits (the ALG's gate). So: a caller that never sends media still hears the callee, a call
through a proxy works, a phone registered with an outside registrar receives a call sent
from another socket of the registrar, and after the calls the public ports are closed."""

import os
import random
import re
import time

import pytest
import yaml

import vpp_harness as h
from capture import Capture, finish, kamailio, talk_seconds
from test_call import (A_RTP, A_SIP, B_RTP, B_SIP, HERE, Call, assert_media, run_call, scenario,
                       sipp_uas)
from topo import Topo, ctl

FIREWALL = os.path.join(HERE, "..", "..", "mgmt", "examples", "firewall.yaml")
REGISTRAR_CFG = os.path.join(HERE, "..", "data", "kamailio-registrar.cfg.in")


class FwTopo(Topo):
    """The e2e topology brought up by `sipalgctl up` on the firewall example, its SIP ports
    as they are (UDP 5060, TCP 5060). sipalgctl sets no MTU: the interfaces keep VPP's
    9000 bytes."""

    def __init__(self, prefix, workers, tmp):
        super().__init__(prefix, workers=workers, start_vpp=False)
        self.tmp = tmp
        self.run = os.path.join(tmp, "run")
        self.cfg = os.path.join(tmp, "firewall.yaml")
        self.cli_vpp = h.VPP(prefix, tmpdir=self.run)  # only for its cli(): run/cli.sock

    def _setup(self):
        super()._setup()
        cfg = yaml.safe_load(open(FIREWALL))
        cfg["vpp"] = {"runtime_dir": self.run, "buffers": 8192, "main_heap": "512M",
                      "workers": self.workers}
        cpu, online = h.cpu_stanza(self.workers)
        wrap = ()
        if online:  # more workers than CPUs: pthreads, CPUs shown online in a mount namespace
            cfg["vpp"].update(main_core=1, use_pthreads=True)
            path = os.path.join(self.tmp, "cpu-online")
            with open(path, "w") as f:
                f.write(online + "\n")
            wrap = ("unshare", "-m", "--propagation", "private", "sh", "-c",
                    'mount --bind "$0" /sys/devices/system/cpu/online && exec "$@"', path)
        cfg["interfaces"]["inside"]["host_if"] = self.if_in_vpp
        cfg["interfaces"]["outside"]["host_if"] = self.if_out_vpp
        # VPP's own outside address answers pings (the test waits for it); nothing else is let in
        cfg["firewall"]["inbound"]["rules"] = [
            {"action": "permit", "proto": "icmp", "dst": f"{self.GW_OUT}/32", "tag": "ping-vpp"}]
        with open(self.cfg, "w") as f:
            yaml.safe_dump(cfg, f)
        self.upped = True
        up = ctl("up", self.cfg, wrap=wrap)
        assert "up: VPP running" in up.stdout, up.stdout
        threads = self.cli_vpp.threads()
        assert len(threads) == 1 + self.workers, threads
        self.wait_reachable()

    def __exit__(self, *exc):
        if getattr(self, "upped", False):
            down = ctl("down", self.cfg, check=False)
            if exc[0] is None and not self.failed:
                assert down.returncode == 0, down.stderr
        super().__exit__(*exc)

    def vcli(self, cmd):
        return self.cli_vpp.cli(cmd)

    def server_map(self):
        return [l for l in self.vcli("show sip-alg server-map").splitlines() if l.strip()]

    def counters(self):
        return self.cli_vpp.counters()


@pytest.fixture(params=(0, 2), ids=("0w", "2w"))
def fw(e2e_prefix, request, tmp_path):
    why = h.workers_unavailable(request.param)
    if why:
        pytest.skip(why)
    with FwTopo(e2e_prefix, request.param, str(tmp_path)) as t:
        yield t
        t.failed = h.failed_test(request)


def test_firewall_is_deny_by_default(fw):
    """What the example brings up: sipalgctl's ACLs bound, the gate in front of the input
    ACL, and a packet from outside to the public address meets the policy."""
    t = fw
    assert "gate before the input ACL" in t.vcli("show sip-alg config")
    acls = t.vcli("show acl-plugin acl")
    assert "sipalgctl:inbound" in acls and "sipalgctl:reflect" in acls
    before = t.counters()["gate_miss"]
    for port in (40000, 40001, A_SIP, 5060):
        t.run_in(t.ns_out, "bash", "-c", f"echo probe > /dev/udp/{t.PUB}/{port}", check=False)
    time.sleep(0.5)
    assert t.counters()["gate_miss"] - before == 2  # the two ports of the media range
    assert re.search(r"ACL deny packets", t.vcli("show errors"))


@pytest.mark.parametrize("via_proxy", [False, True], ids=["direct", "kamailio"])
def test_call_through_the_firewall(fw, via_proxy, tmp_path):
    """The seed call, both sides sending media, directly and through Kamailio."""
    t = fw
    c = run_call(t, str(tmp_path), via_proxy=via_proxy)
    assert (c.uac_rc, c.uas_rc) == (0, 0)
    assert_media(t, c)


@pytest.mark.parametrize("via_proxy", [False, True], ids=["direct", "kamailio"])
def test_silent_caller_hears_the_callee(fw, via_proxy, tmp_path):
    """The caller sends no media: the callee's RTP enters through the gate only (no flow of
    the caller's left for the reflect ACL to answer)."""
    t = fw
    c = run_call(t, str(tmp_path), uac_media=False, via_proxy=via_proxy)
    assert (c.uac_rc, c.uas_rc) == (0, 0)
    sent, arrived = assert_media(t, c, a=False)["B->A"]
    # every one of them through the gate
    assert t.counters()["gate_pass"] >= arrived, (t.counters()["gate_pass"], arrived)


def test_inbound_call_to_registered_phone(fw, tmp_path):
    """A registers with the outside registrar, which later sends B's call from another
    socket (5080): the INVITE reaches A through its binding entry, and the call's media
    flows both ways."""
    t = fw
    tmp = str(tmp_path)
    kamailio(t, t.ns_out, tmp, open(REGISTRAR_CFG).read().replace("@PUB@",
                                                                t.PUB.replace(".", r"\.")))
    caps = [Capture(t, t.ns_in, t.if_in, f"{tmp}/inside.pcap"),
            Capture(t, t.ns_out, t.if_out, f"{tmp}/outside.pcap")]
    reg = t.popen_in(t.ns_in, "sipp", "-sf", scenario("register.xml"),
                     f"{t.PROXY}:5060", "-i", t.A, "-p", str(A_SIP), "-m", "1", "-nostdin",
                     "-timeout", "15s", "-trace_err", cwd=tmp, log=f"{tmp}/register.log")
    assert reg.wait(20) == 0, open(f"{tmp}/register.log").read()[-2000:]
    assert any("sip" in l and f"[{t.A}:{A_SIP}]" in l for l in t.server_map())
    # A answers on the port it registered; B calls alice through the registrar
    uas = sipp_uas(t, t.ns_in, tmp, ["-sf", scenario("uas.xml"), "-i", t.A, "-p", str(A_SIP),
                                     "-mi", t.A, "-mp", str(A_RTP), "-m", "1", "-nostdin",
                                     "-timeout", "30s", "-trace_err"], f"{tmp}/uas.log")
    uac_xml = scenario("uac.xml")
    uac = t.popen_in(t.ns_out, "sipp", "-sf", uac_xml, f"{t.PROXY}:5060", "-s",
                     "alice", "-i", t.B, "-p", str(B_SIP), "-mi", t.B, "-mp", str(B_RTP),
                     "-m", "1", "-nostdin", "-timeout", "30s", "-trace_err", cwd=tmp,
                     log=f"{tmp}/uac.log")
    uac_rc, uas_rc = uac.wait(40), uas.wait(10)
    inside, outside = finish(caps)
    assert (uac_rc, uas_rc) == (0, 0), open(f"{tmp}/uac.log").read()[-2000:]
    # the INVITE came from the registrar's other socket
    from scapy.all import IP, UDP
    assert any(p[IP].src == t.PROXY and p[UDP].sport == 5080 for p in outside if UDP in p)
    # media both ways (A's and B's ends are those of run_call's calls, B calling)
    assert_media(t, Call(uac_rc, uas_rc, inside, outside, None, talk_seconds(uac_xml)))


def test_scan_after_calls_finds_nothing(fw, tmp_path):
    """After a call, UDP from outside to the ports the call used and to random ports
    reaches nothing inside and creates no NAT session."""
    t = fw
    c = run_call(t, str(tmp_path))
    assert (c.uac_rc, c.uas_rc) == (0, 0)
    deadline = time.time() + 10
    while t.server_map() and time.time() < deadline:
        time.sleep(0.2)
    assert t.server_map() == []
    from scapy.all import IP, UDP
    used = sorted({p[UDP].sport for p in c.outside if UDP in p and p[IP].src == t.PUB})
    assert used, "no public ports seen"
    rnd = random.Random(7)
    ports = used + [rnd.randrange(1, 65536) for _ in range(100)]
    sessions = len(re.findall(r"^\s+i2o ", t.vcli("show nat44 sessions"), re.M))
    cap_in = Capture(t, t.ns_in, t.if_in, f"{tmp_path}/scan-inside.pcap", "udp or icmp")
    probe = ";".join(f"echo scan > /dev/udp/{t.PUB}/{p}" for p in ports)
    t.run_in(t.ns_out, "bash", "-c", probe, check=False)
    # then a ping from A to VPP, whose reply the capture must show: it ran, and saw what
    # came in, after the probes (finish() waits for the last packets in flight)
    t.run_in(t.ns_in, "ping", "-c1", "-W2", t.GW_IN)
    [inside] = finish([cap_in])
    from scapy.all import ICMP
    assert any(ICMP in p and p[ICMP].type == 0 and p[IP].src == t.GW_IN for p in inside), \
        "the capture inside did not see the ping's reply"
    assert [p.summary() for p in inside if UDP in p] == []
    assert len(re.findall(r"^\s+i2o ", t.vcli("show nat44 sessions"), re.M)) == sessions
