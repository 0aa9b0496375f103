# SPDX-License-Identifier: Apache-2.0
"""Start a private VPP with the sip_alg plugin in a temporary directory and talk to its CLI.

VPP is found through VPP_PREFIX, then /usr, /usr/local, /opt/vpp; the plugin in
build/plugin (built by `make plugin`). `find_vpp()` says why a tier must be skipped.
"""

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PLUGIN_DIR = os.path.join(ROOT, "build", "plugin", "lib", "vpp_plugins")
PREFIXES = [p for p in (os.environ.get("VPP_PREFIX"), "/usr", "/usr/local", "/opt/vpp") if p]


def find_vpp():
    """(prefix, None) or (None, reason)."""
    for p in PREFIXES:
        vpp = os.path.join(p, "bin", "vpp")
        if os.access(vpp, os.X_OK) and glob.glob(os.path.join(p, "lib*", "**", "vpp_plugins",
                                                              "nat_plugin.so"), recursive=True):
            return p, None
    return None, "VPP not found (VPP_PREFIX, /usr, /usr/local, /opt/vpp): build it from FDio/vpp"


def find_plugin():
    so = os.path.join(PLUGIN_DIR, "sip_alg_plugin.so")
    return so if os.path.exists(so) else None


STARTUP = """
unix {{ nodaemon cli-listen {d}/cli.sock runtime-dir {d} log {d}/vpp.log full-coredump }}
socksvr {{ socket-name {d}/api.sock }}
statseg {{ socket-name {d}/stats.sock size 32m page-size 4k }}
api-segment {{ prefix {prefix} }}
memory {{ main-heap-size 512M main-heap-page-size 4k }}
buffers {{ buffers-per-numa 8192 page-size 4k }}
physmem {{ max-size 128m }}
cpu {{ main-core 0 {workers} }}
plugins {{
  plugin default {{ disable }}
  plugin nat_plugin.so {{ enable }}
  plugin af_packet_plugin.so {{ enable }}
  plugin ping_plugin.so {{ enable }}
  plugin sip_alg_plugin.so {{ enable }}
  add-path {plugin_dir}
}}
"""


class VPPError(RuntimeError):
    pass


class VPP:
    """One VPP process. Use as a context manager."""

    def __init__(self, prefix, workers=0, tmpdir=None):
        self.prefix = prefix
        self.workers = workers
        self.dir = tmpdir or tempfile.mkdtemp(prefix="sipalg-vpp-")
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        conf = os.path.join(self.dir, "startup.conf")
        with open(conf, "w") as f:
            f.write(STARTUP.format(
                d=self.dir, prefix="sipalg%d" % os.getpid() + os.path.basename(self.dir)[-6:],
                workers=("workers %d" % self.workers) if self.workers else "",
                plugin_dir=PLUGIN_DIR))
        self.log = open(os.path.join(self.dir, "stdout.log"), "w")
        self.proc = subprocess.Popen([os.path.join(self.prefix, "bin", "vpp"), "-c", conf],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        sock = os.path.join(self.dir, "cli.sock")
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise VPPError("VPP exited: " + open(self.log.name).read()[-2000:])
            if os.path.exists(sock):
                try:
                    if "sip_alg" in self.cli("show plugins"):
                        return
                except VPPError:
                    pass
            time.sleep(0.2)
        self.stop()
        raise VPPError("VPP did not come up in 20 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cli(self, cmd):
        r = subprocess.run([os.path.join(self.prefix, "bin", "vppctl"), "-s",
                            os.path.join(self.dir, "cli.sock"), cmd],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise VPPError(f"{cmd}: {r.stderr.strip()}")
        return r.stdout

    def cli_ok(self, cmd):
        """A configuration command: any output is an error message."""
        out = self.cli(cmd).strip()
        if out:
            raise VPPError(f"{cmd}: {out}")
        return out

    def server_map(self):
        """`show sip-alg server-map`, one entry per line."""
        return [l for l in self.cli("show sip-alg server-map").splitlines() if l.strip()]

    def static_mappings(self):
        """`show nat44 static mappings`, one mapping per line."""
        return [l.strip() for l in self.cli("show nat44 static mappings").splitlines()
                if "local" in l]

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
