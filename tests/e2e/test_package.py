# SPDX-License-Identifier: Apache-2.0
"""Tier 2: the Debian package of the plugin (`make deb`), installed with dpkg, places a call.

The package is built against the VPP this tier runs (`make deb VPP_PREFIX=<it>`), or taken
from SIPALG_DEB (a path: a package built earlier for that same VPP).

dpkg installs it for real, into a private root: `dpkg --root R` with R/var/lib/dpkg an empty
database, so its files land in R/<VPP prefix>/... and R/usr/share/doc/..., and neither the
system's dpkg database (nor its log) nor the VPP prefix changes. The package depends on `vpp`
and `vpp-plugin-core` of exactly the VPP version it was built for, and on libc6; none of
them is in that empty database, and the VPP of the vendor archive (/opt/vpp) is not a dpkg
package at all, so the call's install needs --force-depends (dpkg checks everything else:
the archive, its md5sums, the architecture). test_depends shows what the dependencies mean:
without the force, dpkg refuses the package naming the VPP version; with a database where
FD.io's packages of that version are installed, it takes it as it is.

VPP then runs with the installed plugin only: its plugin path is the directory the package
installed into (first) and VPP's own plugin directory, never this checkout's build/; the
test reads in /proc/<pid>/maps which sip_alg_plugin.so VPP mapped."""

import os
import re
import subprocess

import pytest

import vpp_harness as h
from sipalgctl import vpp as V
from test_call import (A_RTP, B_RTP, assert_no_inside_address_outside, assert_seed_entries,
                       run_call, udp_to)
from topo import Topo

PKG = "vpp-plugin-sip-alg"
PLUGIN = "sip_alg_plugin.so"


def run(*cmd, ok=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    if ok:
        assert r.returncode == 0, f"{' '.join(cmd)} -> {r.returncode}\n{r.stdout}{r.stderr}"
    return r


@pytest.fixture(scope="module")
def vpp_prefix():
    prefix, why = h.find_vpp()
    if not prefix:
        pytest.skip(why)
    return prefix


@pytest.fixture(scope="module")
def deb(vpp_prefix):
    """The package's path: SIPALG_DEB, else what `make deb` built for this VPP (the last line
    it prints)."""
    if os.environ.get("SIPALG_DEB"):
        path = os.environ["SIPALG_DEB"]
        assert os.path.isfile(path), f"SIPALG_DEB={path}: no such file"
        return path
    out = run("make", "-C", h.ROOT, "-s", "deb", f"VPP_PREFIX={vpp_prefix}").stdout
    path = out.strip().splitlines()[-1]
    assert path.endswith(".deb") and os.path.isfile(path), out
    return path


def vpp_version(prefix):
    """What VPP says it is (`vpp --version`: "vpp v<version> built by ...")."""
    out = run(os.path.join(prefix, "bin", "vpp"), "--version").stdout
    return re.match(r"vpp v(\S+) built by", out).group(1)


def own_plugin_dir(prefix):
    """VPP's own plugin directory: where its NAT plugin is."""
    [d] = [d for d in V.vpp_plugin_dirs(prefix) if os.path.isfile(os.path.join(d, "nat_plugin.so"))]
    return d


def field(deb, name):
    return run("dpkg-deb", "-f", deb, name).stdout.strip()


def dpkg_root(path, status=""):
    """A root for dpkg: an admin directory whose database holds status (empty: nothing
    installed)."""
    admin = os.path.join(path, "var", "lib", "dpkg")
    for d in ("updates", "info"):
        os.makedirs(os.path.join(admin, d))
    with open(os.path.join(admin, "status"), "w") as f:
        f.write(status)
    return path


def dpkg_install(root, deb, *force):
    return run("dpkg", f"--root={root}", f"--log={root}/dpkg.log", *force, "-i", deb, ok=False)


def test_control_and_files(deb, vpp_prefix):
    version = vpp_version(vpp_prefix)
    assert field(deb, "Package") == PKG
    assert field(deb, "Architecture") == run("dpkg", "--print-architecture").stdout.strip()
    # the project's version, and the VPP it was built for
    project = re.search(r'^version = "(.+)"$', open(os.path.join(h.ROOT, "mgmt", "pyproject.toml"))
                        .read(), re.M).group(1)
    assert field(deb, "Version") == f"{project}+vpp{version}"
    depends = [d.strip() for d in field(deb, "Depends").split(",")]
    assert depends[:2] == [f"vpp (= {version})", f"vpp-plugin-core (= {version})"], depends
    assert re.fullmatch(r"libc6 \(>= [0-9.]+\)", depends[2]) and len(depends) == 3, depends

    # the files, where VPP loads plugins from and sipalgctl finds API definitions; owned by
    # root, fixed modes, nothing else (no development headers)
    listing = run("dpkg-deb", "-c", deb).stdout.splitlines()
    files = {l.split()[-1].lstrip("."): (l.split()[0], l.split()[1]) for l in listing}
    plugin_dir = own_plugin_dir(vpp_prefix)
    doc = f"/usr/share/doc/{PKG}/"
    wanted = {f"{plugin_dir}/{PLUGIN}", f"{vpp_prefix}/share/vpp/api/plugins/sip_alg.api.json",
              doc + "copyright", doc + "changelog.Debian.gz", doc + "README"}
    regular = {p for p, (mode, _) in files.items() if mode.startswith("-")}
    assert wanted <= regular, sorted(regular)
    assert regular - wanted <= {doc + "changelog.gz"}, sorted(regular - wanted)
    for path, (mode, owner) in files.items():
        assert owner == "root/root", (path, owner)
        assert mode == ("-rw-r--r--" if path in regular else "drwxr-xr-x"), (path, mode)


def test_rebuild_gives_the_same_bytes(deb, vpp_prefix):
    if os.environ.get("SIPALG_DEB"):
        pytest.skip("SIPALG_DEB: the package was not built here")
    before = open(deb, "rb").read()
    # the plugin compiled again (same sources), the package's tree written again
    os.utime(os.path.join(h.ROOT, "vpp-plugin", "sip_alg", "sip_alg.c"))
    again = run("make", "-C", h.ROOT, "-s", "deb", f"VPP_PREFIX={vpp_prefix}").stdout
    assert again.strip().splitlines()[-1] == deb
    assert open(deb, "rb").read() == before, "make deb is not reproducible"


def test_depends(deb, vpp_prefix, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("dpkg installs as root")
    version = vpp_version(vpp_prefix)
    # nothing installed: refused (left unconfigured), the VPP version named
    root = dpkg_root(str(tmp_path / "empty"))
    r = dpkg_install(root, deb)
    assert r.returncode != 0
    assert f"depends on vpp (= {version})" in r.stderr, r.stderr
    assert f"depends on vpp-plugin-core (= {version})" in r.stderr, r.stderr

    def stub(name, ver):
        return (f"Package: {name}\nStatus: install ok installed\nVersion: {ver}\n"
                f"Architecture: {run('dpkg', '--print-architecture').stdout.strip()}\n"
                f"Maintainer: test\nDescription: stub\n\n")
    libc = run("dpkg-query", "-W", "-f=${Version}", "libc6").stdout
    # FD.io's packages of that version installed: taken without forcing anything
    root = dpkg_root(str(tmp_path / "fdio"), stub("libc6", libc) + stub("vpp", version) +
                     stub("vpp-plugin-core", version))
    r = dpkg_install(root, deb)
    assert r.returncode == 0, r.stderr
    # another VPP version: refused
    root = dpkg_root(str(tmp_path / "other"), stub("libc6", libc) + stub("vpp", "1.0-release") +
                     stub("vpp-plugin-core", "1.0-release"))
    r = dpkg_install(root, deb)
    assert r.returncode != 0 and "Version of vpp on system is 1.0-release" in r.stderr, r.stderr


def loaded_plugins(pid):
    """The sip_alg_plugin.so files process pid has mapped."""
    with open(f"/proc/{pid}/maps") as f:
        return {l.split()[-1] for l in f if l.rstrip().endswith("/" + PLUGIN)}


def test_installed_plugin_places_a_call(deb, e2e_prefix, tmp_path, monkeypatch):
    prefix = e2e_prefix
    root = dpkg_root(str(tmp_path / "root"))
    r = dpkg_install(root, deb, "--force-depends")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Package vpp is not installed" in r.stderr  # the dependency forced, nothing else

    # the files landed where the package says (dpkg's own list), and where VPP's own
    # plugins and API definitions are
    listed = run("dpkg", f"--root={root}", "-L", PKG).stdout.split()
    so = f"{own_plugin_dir(prefix)}/{PLUGIN}"
    json_ = f"{prefix}/share/vpp/api/plugins/sip_alg.api.json"
    for path in (so, json_, f"/usr/share/doc/{PKG}/copyright"):
        assert path in listed, listed
        assert os.path.isfile(root + path), root + path
    installed_dir = os.path.dirname(root + so)
    # sipalgctl finds the API definitions from the plugin's place in the prefix
    plugin = V.find_plugin(installed_dir)
    assert plugin.api_json == root + json_

    # VPP with the installed plugin only: `path` replaces VPP's plugin path (add-path would
    # search VPP's own directory first), the installed directory first
    startup = h.STARTUP.replace("add-path {plugin_dir}", "path {plugin_dir}")
    assert startup != h.STARTUP, "vpp_harness.STARTUP has no 'add-path {plugin_dir}' line"
    monkeypatch.setattr(h, "STARTUP", startup)
    monkeypatch.setattr(h, "PLUGIN_DIR", f"{installed_dir}:{own_plugin_dir(prefix)}")
    with Topo(prefix, workers=0) as t:
        assert loaded_plugins(t.vpp.proc.pid) == {root + so}
        assert f"Plugin path is: {installed_dir}:" in t.vcli("show plugins")
        c = run_call(t, str(tmp_path), mid_call=t.server_map, ready=lambda m: len(m) == 6)
        assert (c.uac_rc, c.uas_rc) == (0, 0), "the call did not complete"
        assert len(udp_to(c.inside, t.A, A_RTP)) > 50 and len(udp_to(c.outside, t.B, B_RTP)) > 50
        assert_seed_entries(t, c.mid)
        assert_no_inside_address_outside(c.outside)
        n = t.vpp.counters()
        assert (n["rewritten"] > 0, n["calls_created"], n["calls_closed"]) == (True, 1, 1), n
        # the binary API with the packaged API definitions
        with V.Client(os.path.join(t.vpp.dir, "api.sock"), prefix, plugin=plugin) as api:
            conf = api.call("sip_alg_get_config")
            assert sorted(conf.udp_ports[:conf.n_udp_ports]) == [5060]  # the default
