# SPDX-License-Identifier: Apache-2.0
"""Tier 2 topology: VPP between two network namespaces, real SIP user agents on both sides.

  ns inside: A 192.168.1.1 ── veth ── VPP host-<in> 192.168.1.254
                                      NAT44-ED, address 203.0.113.10, SIP ALG
  ns outside: 203.0.113.2 ── veth ── VPP host-<out> 203.0.113.1
              proxy 198.51.100.1 (kamailio), B 198.51.100.2 (sipp)

The namespaces and veth pairs are created by the test and deleted after it; VPP attaches
only to the veth ends the test made. Every topology runs with 0, 2 and 4 VPP workers.
Skipped with the reason without VPP, root or tools.

The topology sets no ALG knob and no MTU: the product's defaults as a fresh install has
them (SIP on UDP 5060 and TCP 5060, TLS on 5061 passed and counted; VPP's 9000-byte MTU on
af_packet over the veths' 1500 bytes, so a message rebuilt from fragments leaves by the
ALG's own path-MTU rule). B and the proxy both answer on 5060, at their own addresses.
"""

import itertools
import os
import re
import subprocess
import sys
import time

import pytest

import vpp_harness as h

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = ("ip", "ethtool", "sipp", "tcpdump", "kamailio")


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def ctl(*args, check=True, env=None, wrap=()):
    """Run sipalgctl (this checkout's, through the test's Python) with args; wrap: a command
    to run it under (e.g. unshare). A non-zero exit fails the test unless check is False."""
    r = subprocess.run([*wrap, sys.executable, "-m", "sipalgctl.cli", *args],
                       capture_output=True, text=True, timeout=120, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"sipalgctl {' '.join(args)} -> {r.returncode}\n{r.stdout}{r.stderr}")
    return r


NAME = re.compile(r"^sipalg-(?:hop)?(?:in|out)-(\d+)-\d+$")  # hop: impair.RelayTopo
_seq = itertools.count()


def remove_leftovers():
    """Namespaces and veths of earlier runs whose process is gone (a run that was killed
    before its teardown): they would collide with this run's or hold its addresses."""
    r = sh("ip", "netns", "list", check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = NAME.match(name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            sh("ip", "netns", "del", name, check=False)
    r = sh("ip", "-o", "link", "show", check=False)
    for m in re.finditer(r"^\d+: (s[ab]v\d+)_(\d+)@", r.stdout, re.M):
        if not os.path.exists(f"/proc/{m.group(2)}"):
            sh("ip", "link", "del", m.group(1) + "_" + m.group(2), check=False)


class Topo:
    A, GW_IN, PUB = "192.168.1.1", "192.168.1.254", "203.0.113.10"
    OUT_HOST, GW_OUT, PROXY, B = "203.0.113.2", "203.0.113.1", "198.51.100.1", "198.51.100.2"

    def __init__(self, prefix, alg=True, workers=0, start_vpp=True):
        # unique per topology: the pid (to find leftovers of dead runs) and a sequence number;
        # veth names fit IFNAMSIZ (15): s + a|b + i|v + up to 2 + _ + up to 7 digits
        pid, seq = os.getpid(), next(_seq) % 100
        self.ns_in, self.ns_out = f"sipalg-in-{pid}-{seq}", f"sipalg-out-{pid}-{seq}"
        self.if_in, self.if_in_vpp = f"sai{seq}_{pid}", f"sav{seq}_{pid}"
        self.if_out, self.if_out_vpp = f"sbi{seq}_{pid}", f"sbv{seq}_{pid}"
        self.workers = workers
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
            sh("ip", "netns", "del", ns, check=False)  # a leftover of this very name
            sh("ip", "netns", "add", ns)
            self.run_in(ns, "ip", "link", "set", "lo", "up")
        for a, b, ns in ((self.if_in, self.if_in_vpp, self.ns_in),
                         (self.if_out, self.if_out_vpp, self.ns_out)):
            self._link(a, b, ns)
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

    def _link(self, host, vpp_end, ns):
        """The veth between namespace ns (its end host) and VPP (vpp_end, in this
        namespace). A variant may put a hop between them (impair.RelayTopo)."""
        sh("ip", "link", "add", host, "type", "veth", "peer", "name", vpp_end)
        sh("ip", "link", "set", host, "netns", ns)
        sh("ip", "link", "set", vpp_end, "up")
        self.run_in(ns, "ip", "link", "set", host, "up")
        # full checksums from the hosts' kernels (af_packet sees no partial ones)
        self.run_in(ns, "ethtool", "-K", host, "tx", "off")

    def wait_reachable(self, timeout=15):
        """Until both namespaces reach VPP (the first pings also resolve neighbours)."""
        for ns, gw in ((self.ns_in, self.GW_IN), (self.ns_out, self.GW_OUT)):
            deadline = time.time() + timeout
            while self.run_in(ns, "ping", "-c1", "-W1", gw, check=False).returncode != 0:
                if time.time() > deadline:
                    raise AssertionError(f"{ns} cannot reach VPP at {gw} in {timeout} s")
                time.sleep(0.2)

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
        ] + ([f"set sip-alg interface host-{self.if_in_vpp}",
              f"set sip-alg interface host-{self.if_out_vpp}"] if self.alg else []):
            out = v.cli(c).strip()
            if out and not out.startswith("host-"):
                raise h.VPPError(f"{c}: {out}")

    failed = False  # set by the fixture from the test's outcome

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
        try:
            if self.vpp.proc is not None:
                h.finish(self.vpp, failed=exc[0] is not None or self.failed)
        finally:
            for ns in (self.ns_in, self.ns_out):
                sh("ip", "netns", "del", ns, check=False)
            for i in (self.if_in_vpp, self.if_out_vpp):
                sh("ip", "link", "del", i, check=False)

    def server_map(self):
        return self.vpp.server_map()

    def counters(self):
        return self.vpp.counters()

    def vcli(self, cmd):
        return self.vpp.cli(cmd)

    def static_mappings(self):
        return self.vpp.static_mappings()


def topo_fixture(prefix, request, cls=Topo, **kw):
    """A fixture's topology (cls: Topo or a variant; kw: its options, workers=N among them):
    skipped with the reason where that many workers cannot run; its logs kept when the
    test failed."""
    why = h.workers_unavailable(kw.get("workers", 0))
    if why:
        pytest.skip(why)
    with cls(prefix, **kw) as t:
        yield t
        t.failed = h.failed_test(request)
