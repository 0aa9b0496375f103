# SPDX-License-Identifier: Apache-2.0
"""The TRex testbed: a private VPP (NAT44-ED + the SIP ALG) between two memif links and a
TRex server (stateless mode) on the other end of both, no NICs, no hugepages.

    TRex port 0  192.168.1.2  --memif1/0--  VPP 192.168.1.254 (NAT inside)
    TRex port 1  203.0.113.2  --memif1/1--  VPP 203.0.113.1   (NAT outside, pool 203.0.113.10)
    198.51.100.0/24 (the remote side: proxy, callees) is routed to TRex port 1

VPP is started like the test tiers' VPP (tests/vpp_harness.py finds it and the plugin, and
its VPP class does the CLI), with its own startup.conf: the memif plugin and 4k buffer pages.
TRex runs from its scripts/ directory with a generated config (memif clients on VPP's socket,
16k-slot rings, one data core, RPC ports picked free) and its own DPDK file prefix. Both are
stopped, process group and all, when the `with` block ends, also on failure.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))  # the test tiers' VPP harness

import vpp_harness as h  # noqa: E402

IN_IF, OUT_IF = "memif1/0", "memif1/1"
INSIDE_GW, OUTSIDE_GW = "192.168.1.254", "203.0.113.1"
TREX_IN, TREX_OUT = "192.168.1.2", "203.0.113.2"
TREX_MAC = ("02:00:00:00:00:01", "02:00:00:00:00:02")
PUB = "203.0.113.10"
REMOTE_NET = "198.51.100.0/24"

# the nodes whose clocks per packet are recorded (those on the path that are there)
NODES = ("memif-input", "ethernet-input", "ip4-input-no-checksum", "ip4-input",
         "ip4-sv-reassembly-feature", "ip4-full-reassembly-feature", "sip-alg-pre",
         "nat-pre-in2out", "nat44-ed-in2out", "nat-pre-out2in", "nat44-ed-out2in",
         "sip-alg-post", "ip4-lookup", "ip4-rewrite", "memif1/0-output", "memif1/0-tx",
         "memif1/1-output", "memif1/1-tx")
ALG_NODES = ("sip-alg-pre", "sip-alg-post", "ip4-full-reassembly-feature")
NAT_NODES = ("nat-pre-in2out", "nat44-ed-in2out", "nat-pre-out2in", "nat44-ed-out2in")

STARTUP = """
unix {{ nodaemon cli-listen {d}/cli.sock runtime-dir {d} log {d}/vpp.log }}
socksvr {{ socket-name {d}/api.sock }}
statseg {{ socket-name {d}/stats.sock size 32m page-size 4k }}
api-segment {{ prefix {prefix} }}
memory {{ main-heap-size 1G main-heap-page-size 4k }}
buffers {{ buffers-per-numa 32768 page-size 4k }}
physmem {{ max-size 256m }}
cpu {{ main-core {core} }}
plugins {{
  plugin default {{ disable }}
  plugin nat_plugin.so {{ enable }}
  plugin memif_plugin.so {{ enable }}
  plugin sip_alg_plugin.so {{ enable }}
  add-path {plugin_dir}
}}
"""

TREX_CFG = """- version: 2
  port_limit: 2
  interfaces: ["--vdev=net_memif0,role=client,id=0,socket={sock},socket-abstract=no,mac={mac0},rsize=14",
               "--vdev=net_memif1,role=client,id=1,socket={sock},socket-abstract=no,mac={mac1},rsize=14"]
  low_end: true
  low_end_core: {core}
  zmq_pub_port: {pub}
  zmq_rpc_port: {rpc}
  port_info:
    - {{ip: {ip0}, default_gw: {gw0}}}
    - {{ip: {ip1}, default_gw: {gw1}}}
"""


class TestbedError(RuntimeError):
    pass


class MemifVPP(h.VPP):
    """The harness's VPP with this testbed's startup.conf (memif, 4k buffer pages), 0 workers,
    its main thread on `core`."""

    def __init__(self, prefix, core=0):
        super().__init__(prefix, workers=0)
        self.core = core

    def start(self):
        conf = os.path.join(self.dir, "startup.conf")
        with open(conf, "w") as f:
            f.write(STARTUP.format(d=self.dir, core=self.core, plugin_dir=h.PLUGIN_DIR,
                                   prefix="sipalgtrex%d" % os.getpid()))
        self.log = open(os.path.join(self.dir, "stdout.log"), "w")
        self.proc = subprocess.Popen([os.path.join(self.prefix, "bin", "vpp"), "-c", conf],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        sock = os.path.join(self.dir, "cli.sock")
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise h.VPPError("VPP exited: " + self.log_tail())
            if os.path.exists(sock):
                try:
                    if "sip_alg" in self.cli("show plugins"):
                        return
                except (h.VPPError, subprocess.TimeoutExpired):
                    pass
            time.sleep(0.2)
        self.stop()
        raise h.VPPError("VPP did not come up in 20 s: " + self.log_tail())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TRexServer:
    """One `_t-rex-64 -i` process (stateless server) on VPP's memif socket."""

    def __init__(self, scripts, sock, workdir, core=1):
        self.scripts, self.sock, self.dir, self.core = scripts, sock, workdir, core
        self.prefix = "sipalg-trex-%d" % os.getpid()
        self.proc = None
        self.rpc = self.pub = None

    def start(self):
        self.pub = free_port()
        self.rpc = free_port()
        while self.rpc == self.pub:
            self.rpc = free_port()
        cfg = os.path.join(self.dir, "trex_cfg.yaml")
        with open(cfg, "w") as f:
            f.write(TREX_CFG.format(sock=self.sock, mac0=TREX_MAC[0], mac1=TREX_MAC[1],
                                    core=self.core, pub=self.pub, rpc=self.rpc,
                                    ip0=TREX_IN, gw0=INSIDE_GW, ip1=TREX_OUT, gw1=OUTSIDE_GW))
        self.log = open(os.path.join(self.dir, "trex.log"), "w")
        self.proc = subprocess.Popen(
            ["./_t-rex-64", "-i", "--software", "--no-scapy-server", "--no-key", "--iom", "0",
             "--cfg", cfg, "--prefix", self.prefix],
            cwd=self.scripts, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=3000):
        p = os.path.join(self.dir, "trex.log")
        return open(p, errors="replace").read()[-n:] if os.path.exists(p) else ""

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: TRex and its threads
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        shutil.rmtree(os.path.join("/var/run/dpdk", self.prefix), ignore_errors=True)


class CpuCap:
    """VPP's CPU time capped at `share` of one CPU with the kernel's CFS bandwidth control
    (cgroup v1 `cpu` controller, or v2 `cpu.max`): `share` of every `period_us`, so that VPP,
    not TRex, is what saturates. The period is short (a few ms) so a throttled VPP leaves
    at most a few thousand packets waiting in memif's 16k-slot rings. stats(): the kernel's
    nr_periods, nr_throttled and throttled time (ns) so far."""

    def __init__(self, pid, share, period_us=2500):
        if not 0 < share < 1:
            raise TestbedError(f"--vpp-cpu {share}: a share of one CPU, between 0 and 1")
        quota = int(share * period_us)
        if quota < 1000:  # the kernel's least quota
            period_us = int(round(1000 / share))
            quota = 1000
        self.share, self.period_us, self.quota_us = share, period_us, quota
        v1 = "/sys/fs/cgroup/cpu"
        self.v2 = not os.path.isdir(v1)
        root = "/sys/fs/cgroup" if self.v2 else v1
        self.root = root
        self.dir = os.path.join(root, f"sipalg-trex-{os.getpid()}")
        os.makedirs(self.dir, exist_ok=True)
        if self.v2:
            self._write("cpu.max", f"{quota} {period_us}")
        else:
            self._write("cpu.cfs_period_us", str(period_us))
            self._write("cpu.cfs_quota_us", str(quota))
        # every thread of VPP (cgroup.procs moves the whole process)
        self._write("cgroup.procs", str(pid))

    def _write(self, name, value):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(value)

    def stats(self):
        out = {}
        with open(os.path.join(self.dir, "cpu.stat")) as f:
            for line in f:
                k, v = line.split()
                out[k] = int(v)
        return out

    def remove(self):
        try:
            with open(os.path.join(self.dir, "cgroup.procs")) as f:
                pids = f.read().split()
            for p in pids:
                with open(os.path.join(self.root, "cgroup.procs"), "w") as f:
                    f.write(p)
        except OSError:
            pass
        try:
            os.rmdir(self.dir)
        except OSError:
            pass


class Testbed:
    """VPP + TRex + a connected STLClient (self.client) owning both ports.

    Use as a context manager; `alg(True|False)` turns the ALG on or off on both interfaces of
    the same VPP, so ALG-on and ALG-off trials share one VPP and one TRex."""

    def __init__(self, vpp_prefix, trex_scripts, sessions=200000, log=print, vpp_cpu=None):
        """vpp_cpu: cap VPP at this share of one CPU (CpuCap), None: no cap."""
        self.vpp = MemifVPP(vpp_prefix)
        self.vpp_cpu, self.cap = vpp_cpu, None
        self.trex = TRexServer(trex_scripts, os.path.join(self.vpp.dir, "memif.sock"),
                               self.vpp.dir)
        self.sessions = sessions
        self.client = None
        self.log = log
        self.alg_on = False
        self.keep = False  # keep VPP's directory (set on failure)

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.keep = True
            self.close()
            raise
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is not None:
            self.keep = True
        self.close()

    def _start(self):
        v = self.vpp
        v.start()
        for c in [
            f"create memif socket id 1 filename {self.trex.sock}",
            "create interface memif socket-id 1 id 0 master",
            "create interface memif socket-id 1 id 1 master",
            f"set int ip address {IN_IF} {INSIDE_GW}/24",
            f"set int ip address {OUT_IF} {OUTSIDE_GW}/24",
            f"set int state {IN_IF} up",
            f"set int state {OUT_IF} up",
            f"ip neighbor {IN_IF} {TREX_IN} {TREX_MAC[0]}",
            f"ip neighbor {OUT_IF} {TREX_OUT} {TREX_MAC[1]}",
            f"ip route add {REMOTE_NET} via {TREX_OUT} {OUT_IF}",
            f"nat44 plugin enable sessions {self.sessions}",
            f"nat44 add address {PUB}",
            f"set interface nat44 in {IN_IF} out {OUT_IF}",
            "set sip-alg ports udp 5060",
            "set sip-alg max-calls 50000",  # the SIP mix's new INVITEs are never answered
        ]:
            out = v.cli(c).strip()
            if out and not re.match(r"^memif\d+/\d+$", out):  # `create interface` names it
                raise TestbedError(f"{c}: {out}")
        self.alg(True)
        if self.vpp_cpu:
            self.cap = CpuCap(v.proc.pid, self.vpp_cpu)
            self.log(f"VPP capped at {self.cap.quota_us} us of CPU every {self.cap.period_us} us")
        self.log(f"VPP up in {v.dir}; starting TRex from {self.trex.scripts}")
        self.trex.start()
        self._connect()

    def _connect(self, timeout=30):
        # after the harness: the client puts its own scapy and yaml first on sys.path
        import lbr_trex_client  # noqa: F401
        from trex.stl.api import STLClient, TRexError

        deadline = time.time() + timeout
        while True:
            if not self.trex.alive():
                raise TestbedError("TRex exited:\n" + self.trex.log_tail())
            c = STLClient(server="127.0.0.1", sync_port=self.trex.rpc,
                          async_port=self.trex.pub, verbose_level="none")
            try:
                c.connect()
                break
            except TRexError:
                if time.time() > deadline:
                    raise TestbedError(f"TRex RPC not up in {timeout} s:\n"
                                       + self.trex.log_tail())
                time.sleep(1)
        self.client = c
        c.acquire(ports=[0, 1], force=True)
        c.reset(ports=[0, 1])
        why = None
        while True:  # memif connected both ways and VPP's MACs resolved
            links = [c.get_port_attr(p).get("link") for p in (0, 1)]
            memif = self.vpp.cli("show memif")
            if links == ["UP", "UP"] and memif.count("connected") >= 2 \
                    and "disconnected" not in memif:
                try:
                    c.set_service_mode(ports=[0, 1], enabled=True)
                    c.resolve(ports=[0, 1])
                    c.set_service_mode(ports=[0, 1], enabled=False)
                    break
                except TRexError as e:
                    why = e
            if time.time() > deadline:
                raise TestbedError(f"links {links} not up or not resolved in {timeout} s: "
                                   f"{why}\n{memif}\n"
                                   + self.trex.log_tail())
            time.sleep(1)
        self.log(f"TRex {c.get_server_version().get('version', '?')} connected, links up")

    def close(self):
        if self.cap is not None:
            self.cap.remove()
            self.cap = None
        if self.client is not None:
            try:
                self.client.stop(ports=[0, 1])
                self.client.disconnect()
            except Exception:  # the server may be gone already; it is stopped below
                pass
            self.client = None
        try:
            self.trex.stop()
        finally:
            try:
                self.vpp.assert_alive()
            except h.VPPError:
                self.keep = True
                raise
            finally:
                self.vpp.stop()
                if self.keep:
                    self.log(f"VPP and TRex directory kept: {self.vpp.dir}")
                else:
                    self.vpp.cleanup()

    # VPP side helpers

    def alg(self, on):
        if on == self.alg_on:
            return
        for i in (IN_IF, OUT_IF):
            self.vpp.cli_ok(f"set sip-alg interface {i}" + ("" if on else " disable"))
        self.alg_on = on

    def neighbors(self, addrs):
        """Static neighbours on the inside for the hosts TRex port 0 stands for (replies and
        media from outside go to them)."""
        path = os.path.join(self.vpp.dir, "neighbors.cli")
        with open(path, "w") as f:
            for a in addrs:
                f.write(f"ip neighbor {IN_IF} {a} {TREX_MAC[0]}\n")
        out = self.vpp.cli(f"exec {path}").strip()
        if out:
            raise TestbedError(f"neighbours: {out}")

    def runtime(self):
        """{node: {"vectors", "clocks" (per packet), "per_call" (vectors per call)}} of the
        NODES from `show runtime`."""
        out = {}
        for line in self.vpp.cli("show runtime").splitlines():
            f = line.split()
            if len(f) >= 7 and f[0] in NODES and re.match(r"^\d", f[2]):
                out[f[0]] = {"vectors": int(f[3]), "clocks": float(f[5]),
                             "per_call": float(f[6])}
        return out

    def nat_sessions(self):
        m = re.search(r"total sessions: (\d+)", self.vpp.cli("show nat44 summary"))
        return int(m.group(1)) if m else None
