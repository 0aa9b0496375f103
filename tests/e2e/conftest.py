# SPDX-License-Identifier: Apache-2.0
"""Tier 2: VPP between two network namespaces, real SIP user agents on both sides.

  ns inside: A 192.168.1.1 ── veth ── VPP host-<in> 192.168.1.254
                                      NAT44-ED, address 203.0.113.10, SIP ALG
  ns outside: 203.0.113.2 ── veth ── VPP host-<out> 203.0.113.1
              proxy 198.51.100.1 (kamailio), B 198.51.100.2 (sipp)

The namespaces and veth pairs are created by the test and deleted after it; VPP attaches
only to the veth ends the test made. Skipped with the reason without VPP, root or tools.
"""

import os
import shutil
import subprocess
import time

import pytest

import vpp_harness as h

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = ("ip", "ethtool", "sipp", "tcpdump", "kamailio")


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


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
        subprocess.run(["make", "-C", h.ROOT, "plugin"], check=True)
    return prefix


class Topo:
    A, GW_IN, PUB = "192.168.1.1", "192.168.1.254", "203.0.113.10"
    OUT_HOST, GW_OUT, PROXY, B = "203.0.113.2", "203.0.113.1", "198.51.100.1", "198.51.100.2"

    def __init__(self, prefix, alg=True, workers=0, start_vpp=True):
        tag = "%d" % (os.getpid() % 100000)
        self.ns_in, self.ns_out = f"sipalg-in-{tag}", f"sipalg-out-{tag}"
        self.if_in, self.if_in_vpp = f"sai{tag}", f"sav{tag}"
        self.if_out, self.if_out_vpp = f"sbi{tag}", f"sbv{tag}"
        self.alg = alg
        self.start_vpp = start_vpp
        self.vpp = h.VPP(prefix, workers=workers)
        self.procs = []

    def run_in(self, ns, *cmd, check=True):
        return sh("ip", "netns", "exec", ns, *cmd, check=check)

    def popen_in(self, ns, *cmd, log=None, **kw):
        """Start cmd in namespace ns; its output goes to the file log (or nowhere)."""
        out = open(log, "w") if log else subprocess.DEVNULL
        p = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=out,
                             stderr=subprocess.STDOUT, **kw)
        self.procs.append(p)
        return p

    def __enter__(self):
        try:
            self._setup()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _setup(self):
        for ns in (self.ns_in, self.ns_out):
            sh("ip", "netns", "add", ns)
            self.run_in(ns, "ip", "link", "set", "lo", "up")
        for a, b, ns in ((self.if_in, self.if_in_vpp, self.ns_in),
                         (self.if_out, self.if_out_vpp, self.ns_out)):
            sh("ip", "link", "add", a, "type", "veth", "peer", "name", b)
            sh("ip", "link", "set", a, "netns", ns)
            sh("ip", "link", "set", b, "up")
            self.run_in(ns, "ip", "link", "set", a, "up")
            # full checksums from the hosts' kernels (af_packet sees no partial ones)
            self.run_in(ns, "ethtool", "-K", a, "tx", "off")
        self.run_in(self.ns_in, "ip", "addr", "add", f"{self.A}/24", "dev", self.if_in)
        self.run_in(self.ns_in, "ip", "route", "add", "default", "via", self.GW_IN)
        self.run_in(self.ns_out, "ip", "addr", "add", f"{self.OUT_HOST}/24", "dev", self.if_out)
        for a in (self.PROXY, self.B):
            self.run_in(self.ns_out, "ip", "addr", "add", f"{a}/32", "dev", "lo")
        # the NAT address is reached through VPP's interface address (VPP does not answer
        # ARP for NAT pool addresses)
        self.run_in(self.ns_out, "ip", "route", "add", f"{self.PUB}/32", "via", self.GW_OUT)
        # the outside knows nothing of 192.168.1.0/24: only NAT can make calls work
        if self.start_vpp:  # else the test brings VPP up itself (sipalgctl up)
            self.configure_vpp()
            self.wait_reachable()

    def wait_reachable(self):
        """Until A reaches VPP (the first pings also resolve neighbours)."""
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.run_in(self.ns_in, "ping", "-c1", "-W1", self.GW_IN, check=False).returncode == 0:
                break
        self.run_in(self.ns_out, "ping", "-c1", "-W1", self.GW_OUT, check=False)

    def configure_vpp(self):
        v = self.vpp
        v.start()
        for c in [
            f"create host-interface name {self.if_in_vpp}",
            f"create host-interface name {self.if_out_vpp}",
            f"set int ip address host-{self.if_in_vpp} {self.GW_IN}/24",
            f"set int ip address host-{self.if_out_vpp} {self.GW_OUT}/24",
            f"set int state host-{self.if_in_vpp} up",
            f"set int state host-{self.if_out_vpp} up",
            f"ip route add 198.51.100.0/24 via {self.OUT_HOST} host-{self.if_out_vpp}",
            "nat44 plugin enable sessions 10000",
            f"nat44 add address {self.PUB}",
            f"set interface nat44 in host-{self.if_in_vpp} out host-{self.if_out_vpp}",
            "set sip-alg ports udp 5060,5062",
        ] + ([f"set sip-alg interface host-{self.if_in_vpp}",
              f"set sip-alg interface host-{self.if_out_vpp}"] if self.alg else []):
            out = v.cli(c).strip()
            if out and not out.startswith("host-"):
                raise h.VPPError(f"{c}: {out}")

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
        self.vpp.stop()
        for ns in (self.ns_in, self.ns_out):
            sh("ip", "netns", "del", ns, check=False)
        for i in (self.if_in_vpp, self.if_out_vpp):
            sh("ip", "link", "del", i, check=False)
        if not exc[0]:
            self.vpp.cleanup()

    def server_map(self):
        return self.vpp.server_map()

    def static_mappings(self):
        return self.vpp.static_mappings()


@pytest.fixture
def topo(e2e_prefix):
    with Topo(e2e_prefix) as t:
        yield t


@pytest.fixture
def topo_no_alg(e2e_prefix):
    with Topo(e2e_prefix, alg=False) as t:
        yield t
