# SPDX-License-Identifier: Apache-2.0
"""Start a private VPP with the sip_alg plugin in a temporary directory and talk to its CLI.

VPP is found through VPP_PREFIX, then /usr, /usr/local, /opt/vpp; the plugin in the build
`make plugin` makes for that VPP (build/plugin, or build/plugin-<prefix> for a VPP outside
the standard prefixes: sipalgctl.vpp.checkout_build). `find_vpp()` says why a tier must be
skipped.

Workers: VPP pins its main thread and every worker to a CPU of its own and refuses more
workers than there are CPUs online. On a small machine, VPP with workers runs as pthreads in
a private mount namespace where /sys/devices/system/cpu/online is bind-mounted over by a
file that shows enough CPUs (`unshare -m`, root). The threads share the real CPUs: this is
for correctness (handoff, per-worker state), never for performance numbers.
"""

import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from sipalgctl import vpp as V

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
# SIPALG_PLUGIN_DIR: another build of the plugin (make stress-asan: with AddressSanitizer)
PLUGIN_DIR = (os.environ.get("SIPALG_PLUGIN_DIR") or
              V.checkout_plugin(ROOT, os.environ.get("VPP_PREFIX"))[0])
def find_vpp():
    """(prefix, None) or (None, reason). Looks where sipalgctl looks (VPP_PREFIX, when set,
    is the only place; else /usr, /usr/local, /opt/vpp)."""
    prefixes, setting = V.search()
    for p in prefixes:
        if V.has(p, V.BINARY) and glob.glob(os.path.join(p, "lib*", "**", "vpp_plugins",
                                                         "nat_plugin.so"), recursive=True):
            return p, None
    where = f"VPP_PREFIX={prefixes[0]}" if setting else ", ".join(prefixes)
    return None, (f"VPP is not installed: no bin/vpp with the nat plugin under {where}; "
                  "build it from FDio/vpp source and install it there, or set VPP_PREFIX")


def find_plugin():
    so = os.path.join(PLUGIN_DIR, "sip_alg_plugin.so")
    return so if os.path.exists(so) else None


def elf_undefined(path):
    """The undefined symbols of an ELF64 little-endian shared object's dynamic symbol table
    (the names it takes from other objects), read without binutils."""
    import struct
    with open(path, "rb") as f:
        elf = f.read()
    if elf[:6] != b"\x7fELF\x02\x01":
        raise ValueError(f"{path}: not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", elf, 0x3A)
    secs = [struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    out = set()
    for _, sh_type, _, _, off, size, link, _, _, entsize in secs:
        if sh_type != 11:  # SHT_DYNSYM
            continue
        stroff = secs[link][4]
        for o in range(off, off + size, entsize):
            name, _, _, shndx = struct.unpack_from("<IBBH", elf, o)
            if shndx == 0 and name:  # SHN_UNDEF
                out.add(elf[stroff + name:elf.index(b"\0", stroff + name)].decode())
    return out


# A VPP built with CMAKE_BUILD_TYPE=Debug (CLIB_DEBUG) checks that no buffer is allocated or
# freed twice; its buffer alloc and free are inline, so code takes part in the check only
# when compiled with CLIB_DEBUG too, and calls this function of libvlib then. A plugin
# compiled without it frees buffers the check never sees freed, and VPP's next allocation of
# one panics ("allocating known-allocated buffer").
BUFFER_CHECK = "vlib_buffer_validate_alloc_free"


def vpp_lib(prefix, name):
    """VPP's library name (libvnet.so) under prefix, or None."""
    found = sorted(glob.glob(os.path.join(prefix, "lib*", "**", name), recursive=True))
    return found[0] if found else None


def debug_build(so):
    """Whether the shared object so was compiled with CLIB_DEBUG (it calls BUFFER_CHECK)."""
    return BUFFER_CHECK in elf_undefined(so)


STARTUP = """
unix {{ nodaemon cli-listen {d}/cli.sock runtime-dir {d} log {d}/vpp.log full-coredump }}
socksvr {{ socket-name {d}/api.sock }}
statseg {{ socket-name {d}/stats.sock size 32m page-size 4k }}
api-segment {{ prefix {prefix} }}
memory {{ main-heap-size {main_heap} main-heap-page-size 4k }}
buffers {{ buffers-per-numa 8192 page-size {buffer_pages} }}
physmem {{ max-size 128m }}
cpu {{ {cpu} }}
plugins {{
  plugin default {{ disable }}
  plugin nat_plugin.so {{ enable }}
  plugin af_packet_plugin.so {{ enable }}
  plugin ping_plugin.so {{ enable }}
  plugin acl_plugin.so {{ enable }}
  plugin sip_alg_plugin.so {{ enable }}
  {nat_path}add-path {plugin_dir}
}}
"""


class VPPError(RuntimeError):
    pass


WORKERS = (0, 2, 4)  # the worker counts the VPP tiers run with

# every counter of sip_alg.api; `show sip-alg counters` must list each of them
COUNTERS = ("sip", "rewritten", "unchanged", "keepalive", "not_translated", "chained",
            "truncated", "fragment", "parse_error", "header_error", "sdp_error", "too_many",
            "no_space", "held", "pinhole_added", "pinhole_removed", "pinhole_expired",
            "pinhole_failed", "calls_created", "calls_closed", "max_calls", "no_media_port",
            "media_refused", "media_privileged")


def plugin_versions(show_plugins):
    """{plugin file: version} from `show plugins` (VPP cuts the version to 32 characters)."""
    return dict(re.findall(r"^\s*\d+\.\s+(\S+\.so)\s+(\S+)", show_plugins, re.M))


def workers_unavailable(n):
    """Why VPP cannot run with n workers here, or None."""
    if n == 0 or len(os.sched_getaffinity(0)) > n:
        return None
    if os.geteuid() != 0:
        return f"{n} workers on {len(os.sched_getaffinity(0))} CPUs need root (a private " \
               "mount namespace that shows more CPUs online)"
    if not shutil.which("unshare"):
        return "unshare (util-linux) not found"
    return None


def cpu_stanza(workers):
    """startup.conf's cpu section and the CPUs that must look online for it."""
    if not workers:
        return "main-core 0", None
    if len(os.sched_getaffinity(0)) > workers:
        return f"main-core 0 workers {workers}", None
    return f"main-core 1 workers {workers} use-pthreads", f"0-{workers + 1}"


class VPP:
    """One VPP process. Use as a context manager."""

    def __init__(self, prefix, workers=0, tmpdir=None, buffer_pages="4k", nat_plugin_dir=None,
                 main_heap="512M"):
        """buffer_pages: page size of the buffer memory ("4k": no hugepages needed; "2M" as
        in production, needs free hugepages). nat_plugin_dir: a directory with another
        nat_plugin.so (vpp-plugin/patches/build-nat-plugin.sh), loaded instead of VPP's.
        main_heap: the main heap's size (startup.conf's memory main-heap-size)."""
        self.main_heap = main_heap
        self.cli_timeout = 30  # s a CLI command may take (a benchmark may allow more)
        self.prefix = prefix
        self.nat_plugin_dir = nat_plugin_dir
        self.workers = workers
        self.buffer_pages = buffer_pages
        self.dir = tmpdir or tempfile.mkdtemp(prefix="sipalg-vpp-")
        self.proc = None
        self.died = None  # VPP's exit status when it ended before stop()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.check_plugin_build()
        conf = os.path.join(self.dir, "startup.conf")
        cpu, online = cpu_stanza(self.workers)
        with open(conf, "w") as f:
            f.write(STARTUP.format(
                d=self.dir, prefix="sipalg%d" % os.getpid() + os.path.basename(self.dir)[-6:],
                cpu=cpu, plugin_dir=PLUGIN_DIR, buffer_pages=self.buffer_pages,
                main_heap=self.main_heap,
                nat_path=self.nat_path()))
        cmd = [os.path.join(self.prefix, "bin", "vpp"), "-c", conf]
        if online:
            why = workers_unavailable(self.workers)
            if why:
                raise VPPError(why)
            path = os.path.join(self.dir, "cpu-online")
            with open(path, "w") as f:
                f.write(online + "\n")
            cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                   'mount --bind "$0" /sys/devices/system/cpu/online && exec "$@"', path] + cmd
        self.log = open(os.path.join(self.dir, "stdout.log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        sock = os.path.join(self.dir, "cli.sock")
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise VPPError("VPP exited: " + open(self.log.name).read()[-2000:])
            if os.path.exists(sock):
                try:
                    plugins = self.cli("show plugins")
                    if "sip_alg" in plugins:
                        self.check_plugin_version(plugins)
                        threads = self.threads()
                        if len(threads) != 1 + self.workers:
                            raise VPPError(f"VPP runs {threads}, not 1 + {self.workers} workers")
                        return
                except VPPError as e:
                    if "workers" in str(e) or "built against" in str(e):
                        self.stop()
                        raise
            time.sleep(0.2)
        self.stop()
        raise VPPError("VPP did not come up in 20 s")

    def nat_path(self):
        """The plugins section's path line putting nat_plugin_dir before VPP's own plugin
        directory (VPP loads the first plugin of a name it finds), or nothing."""
        if not self.nat_plugin_dir:
            return ""
        so = os.path.join(self.nat_plugin_dir, "nat_plugin.so")
        if not os.path.exists(so):
            raise VPPError(f"nat_plugin_dir {self.nat_plugin_dir}: no nat_plugin.so there")
        own = V.vpp_plugin_dirs(self.prefix)
        return f"path {os.path.abspath(self.nat_plugin_dir)}:{':'.join(own)}\n  "

    def loaded_nat_plugin(self):
        """The path of the nat_plugin.so this VPP has mapped."""
        with open(f"/proc/{self.proc.pid}/maps") as f:
            for line in f:
                if line.rstrip().endswith("/nat_plugin.so"):
                    return line.split()[-1]
        return None

    def check_plugin_version(self, show_plugins):
        """The sip_alg plugin loaded was built against this VPP: its version (VPP_BUILD_VER of
        the headers it was built with) is the one of VPP's own nat plugin. A plugin built
        against another VPP loads but may misbehave; VPPError names the build to make."""
        v = plugin_versions(show_plugins)
        if v.get("sip_alg_plugin.so") != v.get("nat_plugin.so"):
            raise VPPError(
                f"the sip_alg plugin in {PLUGIN_DIR} was built against VPP "
                f"{v.get('sip_alg_plugin.so')}, this VPP ({self.prefix}) is "
                f"{v.get('nat_plugin.so')}: build it for this VPP (make plugin "
                f"VPP_PREFIX={self.prefix})")

    def plugin_file(self):
        """The sip_alg_plugin.so this VPP loads: one installed in its own plugin directories
        (searched first), else PLUGIN_DIR's; None when there is none."""
        for d in V.vpp_plugin_dirs(self.prefix) + [PLUGIN_DIR]:
            so = os.path.join(d, "sip_alg_plugin.so")
            if os.path.exists(so):
                return so
        return None

    def check_plugin_build(self):
        """The plugin is compiled as this VPP is, with CLIB_DEBUG (a debug VPP: make
        plugin-asan) or without (make plugin), see BUFFER_CHECK; VPPError names the build."""
        so, vnet = self.plugin_file(), vpp_lib(self.prefix, "libvnet.so")
        if not so or not vnet:
            return  # no plugin: VPP comes up without it and start() says so; no VPP libs
        plugin_dbg, vpp_dbg = debug_build(so), debug_build(vnet)
        if plugin_dbg == vpp_dbg:
            return
        if vpp_dbg:
            fix = ("VPP's check of buffer allocations would miss the plugin's frees; build it "
                   f"as VPP's own plugins are (make plugin-asan VPP_ASAN_PREFIX={self.prefix}) "
                   "and set SIPALG_PLUGIN_DIR="
                   + os.path.join(ROOT, "build", "asan", "lib", "vpp_plugins"))
        else:
            fix = f"it is built for a debug VPP; build it for this one (make plugin " \
                  f"VPP_PREFIX={self.prefix})"
        raise VPPError(
            f"the sip_alg plugin {so} was compiled {'with' if plugin_dbg else 'without'} "
            f"CLIB_DEBUG and this VPP ({self.prefix}) {'is' if vpp_dbg else 'is not'} a debug "
            f"build: {fix}")

    def stop(self):
        """Stop VPP; remember in self.died how it ended if it was already gone."""
        if self.proc and self.proc.poll() is not None and self.died is None:
            self.died = self.proc.returncode
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_tail(self, n=3000):
        out = ""
        for name in ("stdout.log", "vpp.log"):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                out += f"--- {p}\n" + open(p, errors="replace").read()[-n:]
        return out

    def assert_alive(self):
        """VPP still runs (it did not crash during the test)."""
        if self.proc is None or self.proc.poll() is not None:
            rc = self.died if self.proc is None else self.proc.returncode
            raise VPPError(f"VPP is not running (exit status {rc}); logs kept in {self.dir}\n"
                           + self.log_tail())

    def cli(self, cmd):
        r = subprocess.run([os.path.join(self.prefix, "bin", "vppctl"), "-s",
                            os.path.join(self.dir, "cli.sock"), cmd],
                           capture_output=True, text=True, timeout=self.cli_timeout)
        if r.returncode != 0:
            raise VPPError(f"{cmd}: {r.stderr.strip()}")
        return r.stdout

    def cli_ok(self, cmd):
        """A configuration command: any output is an error message."""
        out = self.cli(cmd).strip()
        if out:
            raise VPPError(f"{cmd}: {out}")
        return out

    def counters(self):
        """`show sip-alg counters` (summed over threads) as {name: value}, every counter of
        the plugin's .api (COUNTERS) present."""
        out = {}
        for line in self.cli("show sip-alg counters").splitlines():
            f = line.split()
            if len(f) >= 2 and f[1].isdigit():
                out[f[0]] = int(f[1])
        missing = set(COUNTERS) - set(out)
        if missing:
            raise VPPError(f"show sip-alg counters lacks {sorted(missing)}")
        return out

    def server_map(self):
        """`show sip-alg server-map`, one entry per line."""
        return [l for l in self.cli("show sip-alg server-map").splitlines() if l.strip()]

    def static_mappings(self):
        """`show nat44 static mappings`, one mapping per line."""
        return [l.strip() for l in self.cli("show nat44 static mappings").splitlines()
                if "local" in l]

    def threads(self):
        """Thread names from `show threads` (vpp_main, vpp_wk_0, ...)."""
        out = re.sub(r"\x1b\[[0-9;]*m", "", self.cli("show threads"))  # colours
        return re.findall(r"^\s*\d+\s+(\S+)", out, re.M)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def failed_test(request):
    """True when the test of this fixture request failed or never reached its call
    (tests/conftest.py keeps the reports on the item)."""
    rep = getattr(request.node, "rep_call", None)
    return rep is None or rep.failed


def finish(vpp, failed):
    """Teardown shared by the tiers: VPP must have survived the test; its directory (config,
    logs, captures) is removed when the test passed and kept, with its path printed, when
    it failed."""
    try:
        vpp.assert_alive()
    finally:
        vpp.stop()
        if failed or vpp.died is not None:
            print(f"\nVPP directory kept: {vpp.dir}")
        else:
            vpp.cleanup()
