# SPDX-License-Identifier: Apache-2.0
"""Where sipalgctl finds the plugin (sip_alg_plugin.so and its sip_alg.api.json), on fake
layouts of dummy files: vpp.plugin_path or SIPALGCTL_PLUGIN_PATH, the only place looked at
when set; else the checkout's build/plugin (`make plugin`); else VPP's own plugin directory
(`make install-plugin`), which is how an installed sipalgctl finds it. What render, up and
apply do with it: the add-path line, exit 2 naming the places looked at, and a copy in VPP's
own plugin directory that VPP would load instead of the one found."""

import os
import re
import shutil
import stat
import subprocess

import pytest

from sipalgctl import cli, vpp as V

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SEED = os.path.join(HERE, "..", "..", "mgmt", "examples", "seed.yaml")
MULTIARCH = os.path.join("lib", "x86_64-linux-gnu")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    # empty is unset for sipalgctl; setenv, so that make_vpp's VPP_PREFIX is undone too
    monkeypatch.setenv(V.PLUGIN_ENV, "")
    monkeypatch.setenv("VPP_PREFIX", "")
    monkeypatch.setattr(V, "PREFIXES", ())  # no VPP unless a test makes one
    monkeypatch.setattr(V.time, "sleep", lambda s: None)


def write(path, text=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """sipalgctl as a wheel installs it: no checkout around the package."""
    monkeypatch.setattr(V, "ROOT", str(tmp_path / "site-packages"))
    return None


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """sipalgctl run from a checkout (pip install -e mgmt), without a plugin built yet."""
    root = tmp_path / "repo"
    write(str(root / "vpp-plugin" / "sip_alg" / "sip_alg.api"))
    monkeypatch.setattr(V, "ROOT", str(root))
    return str(root)


def build(root, json=True, content="built", prefix=None):
    """What `make plugin` (VPP_PREFIX=prefix) leaves in build/plugin or build/plugin-<prefix>:
    the plugin directory."""
    d, j = V.checkout_plugin(root, prefix)
    write(os.path.join(d, V.PLUGIN_SO), content)
    if json:
        write(j, "{}")
    return d


def make_vpp(path, plugin=True, json=True, libdir=MULTIARCH, content="installed", binary=False):
    """A VPP prefix (API definitions, its plugin directory with another plugin), with
    sip_alg where `cmake --install build/plugin --prefix` puts it; VPP_PREFIX points at it.
    binary: a bin/vpp that leaves a mark when run (nothing here may start it)."""
    path = str(path)
    write(os.path.join(path, "share", "vpp", "api", "core", "memclnt.api.json"), "{}")
    plugins = os.path.join(path, libdir, "vpp_plugins")
    write(os.path.join(plugins, "nat_plugin.so"))
    if plugin:
        write(os.path.join(plugins, V.PLUGIN_SO), content)
    if json:
        write(V.vpp_plugin_json(path), "{}")
    if binary:
        vpp = write(os.path.join(path, "bin", "vpp"), f"#!/bin/sh\ntouch {path}/started\n")
        os.chmod(vpp, stat.S_IRWXU)
    os.environ["VPP_PREFIX"] = path  # undone by clean_env's monkeypatch.setenv
    return plugins


def sipalgctl(capsys, *args):
    rc = cli.main(list(args))
    o = capsys.readouterr()
    return rc, o.out, o.err


# --- find_plugin ----------------------------------------------------------------------------

def test_yaml_plugin_path_wins_over_env(tmp_path, monkeypatch, installed):
    mine = os.path.dirname(write(str(tmp_path / "mine" / V.PLUGIN_SO)))
    write(os.path.join(mine, V.PLUGIN_JSON), "{}")
    other = os.path.dirname(write(str(tmp_path / "other" / V.PLUGIN_SO)))
    monkeypatch.setenv(V.PLUGIN_ENV, other)
    p = V.find_plugin(mine)
    assert (p.dir, p.api_json, p.origin) == (mine, os.path.join(mine, V.PLUGIN_JSON),
                                             "vpp.plugin_path")
    p = V.find_plugin()
    assert (p.dir, p.api_json, p.origin) == (other, None, V.PLUGIN_ENV)


@pytest.mark.parametrize("layout", ["beside", "build-tree", "install-lib", "install-multiarch"])
def test_explicit_plugin_json_where_its_tree_keeps_it(tmp_path, installed, layout):
    t = str(tmp_path / "t")
    d, j = {
        "beside": (t, os.path.join(t, V.PLUGIN_JSON)),
        "build-tree": (os.path.join(t, "lib", "vpp_plugins"),
                       os.path.join(t, "sip_alg", V.PLUGIN_JSON)),
        "install-lib": (os.path.join(t, "lib", "vpp_plugins"), V.vpp_plugin_json(t)),
        "install-multiarch": (os.path.join(t, MULTIARCH, "vpp_plugins"), V.vpp_plugin_json(t)),
    }[layout]
    write(os.path.join(d, V.PLUGIN_SO))
    write(j, "{}")
    p = V.find_plugin(d)
    assert (p.dir, p.api_json) == (d, j)


def test_explicit_path_is_the_only_place_looked_at(tmp_path, checkout):
    build(checkout)
    make_vpp(tmp_path / "vpp")
    empty = str(tmp_path / "empty")
    with pytest.raises(V.PluginNotFound) as e:
        V.find_plugin(empty, str(tmp_path / "vpp"))
    assert str(e.value) == (f"sip_alg plugin not found: no sip_alg_plugin.so in {empty} "
                            f"(vpp.plugin_path); set vpp.plugin_path to the directory that has it")


def test_checkout_build(checkout):
    d = build(checkout)
    p = V.find_plugin()
    assert (p.dir, p.api_json, p.origin) == (
        d, os.path.join(checkout, "build", "plugin", "sip_alg", V.PLUGIN_JSON), "this checkout")
    assert d == os.path.join(checkout, "build", "plugin", "lib", "vpp_plugins")


def test_checkout_build_before_vpp(tmp_path, checkout):
    d = build(checkout, prefix=str(tmp_path / "vpp"))
    make_vpp(tmp_path / "vpp")
    assert V.find_plugin(prefix=str(tmp_path / "vpp")).dir == d


@pytest.mark.parametrize("prefix, build_dir", [
    (None, "plugin"), ("/opt/vpp", "plugin"), ("/opt/vpp/", "plugin"), ("/usr", "plugin"),
    ("/usr/local", "plugin"), ("/opt/vpp-26.06", "plugin-opt-vpp-26.06"),
    ("/opt/vpp-26.06/", "plugin-opt-vpp-26.06"), ("/srv/vpp", "plugin-srv-vpp")])
def test_checkout_build_per_vpp(prefix, build_dir):
    """One build directory per VPP: build/plugin for the standard prefixes, another for any
    other VPP, so that builds against two VPP versions coexist."""
    assert V.checkout_build("/repo", prefix) == os.path.join("/repo", "build", build_dir)
    assert V.checkout_plugin("/repo", prefix) == (
        os.path.join("/repo", "build", build_dir, "lib", "vpp_plugins"),
        os.path.join("/repo", "build", build_dir, "sip_alg", V.PLUGIN_JSON))


def test_build_for_another_vpp_is_not_used(tmp_path, checkout):
    """The build for the default VPP (build/plugin) is never loaded into another VPP: for that
    one the plugin is not found until it is built for it."""
    build(checkout)
    vpp = str(tmp_path / "vpp")
    make_vpp(vpp, plugin=False)
    with pytest.raises(V.PluginNotFound, match=r"no sip_alg_plugin.so in .*/build/plugin"
                       + vpp.replace("/", "-") + r"/lib/vpp_plugins \(this checkout\)"):
        V.find_plugin(prefix=vpp)
    d = build(checkout, prefix=vpp)
    assert V.find_plugin(prefix=vpp).dir == d
    assert V.find_plugin(prefix="/opt/vpp").dir == V.checkout_plugin(checkout)[0]


@pytest.mark.skipif(not shutil.which("make"), reason="make not installed")
@pytest.mark.parametrize("prefix", ["/opt/vpp", "/usr", "/opt/vpp-26.06", "/opt/vpp-26.06/",
                                    "/srv/x/vpp"])
def test_makefile_builds_where_sipalgctl_looks(prefix):
    """`make plugin VPP_PREFIX=...` builds into the directory checkout_build names."""
    r = subprocess.run(["make", "-nB", "-C", ROOT, "--no-print-directory", "plugin",
                        f"VPP_PREFIX={prefix}", "BUILD=build"],
                       capture_output=True, text=True, check=True)
    dirs = re.findall(r"^cmake -G Ninja -S vpp-plugin -B (\S+) ", r.stdout, re.M)
    assert [os.path.join(ROOT, d) for d in dirs] == [V.checkout_build(ROOT, prefix)], r.stdout


@pytest.mark.parametrize("libdir", ["lib", "lib64", MULTIARCH])
@pytest.mark.parametrize("where", ["installed", "checkout-without-build"])
def test_vpp_plugin_directory(tmp_path, request, where, libdir):
    request.getfixturevalue("installed" if where == "installed" else "checkout")
    vpp = str(tmp_path / "vpp")
    plugins = make_vpp(vpp, libdir=libdir)
    p = V.find_plugin(prefix=vpp)
    assert (p.dir, p.api_json, p.origin) == (
        plugins, os.path.join(vpp, "share", "vpp", "api", "plugins", "sip_alg.api.json"),
        f"VPP in {vpp}")


def test_not_found_checkout(tmp_path, checkout):
    vpp = str(tmp_path / "vpp")
    make_vpp(vpp, plugin=False)
    with pytest.raises(V.PluginNotFound) as e:
        V.find_plugin(prefix=vpp)
    build_dir = "plugin" + vpp.replace("/", "-")
    assert str(e.value) == (
        f"sip_alg plugin not found: no sip_alg_plugin.so in {checkout}/build/{build_dir}/lib/"
        f"vpp_plugins (this checkout) or {vpp}/lib*/vpp_plugins, {vpp}/lib*/*/vpp_plugins "
        f"(VPP's plugin directories); build it (make plugin) or install it into VPP "
        f"(make install-plugin), or set vpp.plugin_path (or SIPALGCTL_PLUGIN_PATH) to the "
        f"directory that has it")


def test_not_found_installed_without_vpp(installed):
    with pytest.raises(V.PluginNotFound) as e:
        V.find_plugin(prefix=None)
    assert str(e.value) == (
        "sip_alg plugin not found: no sip_alg_plugin.so in VPP's plugin directories (no VPP "
        "found); install it into VPP (make install-plugin, in a vpp-sipalg checkout), or set "
        "vpp.plugin_path (or SIPALGCTL_PLUGIN_PATH) to the directory that has it")


def test_api_json_missing(tmp_path, monkeypatch, checkout):
    build(checkout, json=False)
    with pytest.raises(V.PluginNotFound, match=r"no sip_alg.api.json at .*/build/plugin/sip_alg/"
                       r"sip_alg.api.json \(for .*, this checkout\); build the plugin again "
                       r"\(make plugin\)$"):
        V.find_plugin().require_api_json()
    vpp = str(tmp_path / "vpp")
    make_vpp(vpp, json=False)
    monkeypatch.setattr(V, "ROOT", str(tmp_path / "site-packages"))
    with pytest.raises(V.PluginNotFound, match=rf"no sip_alg.api.json at {vpp}/share/vpp/api/"
                       rf"plugins/sip_alg.api.json \(for .*, VPP in {vpp}\); install the plugin "
                       rf"again \(make install-plugin\)$"):
        V.find_plugin(prefix=vpp).require_api_json()


def test_shadowing(tmp_path, checkout):
    """VPP loads the copy in its own plugin directory before an add-path: a different one
    there shadows the plugin found; the same bytes, or the plugin itself, do not."""
    vpp = str(tmp_path / "vpp")
    build(checkout, content="new", prefix=vpp)
    plugins = make_vpp(vpp, content="old")
    plugin = V.find_plugin(prefix=vpp)
    assert V.shadowing(plugin, vpp) == os.path.join(plugins, V.PLUGIN_SO)
    assert V.shadowing(plugin, None) is None
    write(os.path.join(plugins, V.PLUGIN_SO), "new")  # make install-plugin
    assert V.shadowing(plugin, vpp) is None
    installed_copy = V.Plugin(plugins, None, f"VPP in {vpp}")
    assert V.shadowing(installed_copy, vpp) is None


def test_api_files_use_the_plugins_json(tmp_path):
    """A sip_alg.api.json installed with VPP is not mixed with the one of the plugin used."""
    vpp = str(tmp_path / "vpp")
    make_vpp(vpp)
    mine = write(str(tmp_path / "build" / V.PLUGIN_JSON), "{}")
    assert V.api_files(vpp, mine) == [
        os.path.join(vpp, "share", "vpp", "api", "core", "memclnt.api.json"), mine]


# --- the commands -----------------------------------------------------------------------------

def render(capsys, tmp_path, *args):
    out = str(tmp_path / "out")
    rc, o, err = sipalgctl(capsys, "render", *args, "--out", out)
    text = open(os.path.join(out, "startup.conf")).read() if rc == 0 else None
    return rc, text, err


def test_render_plugin_in_vpp(tmp_path, capsys, installed):
    """An installed sipalgctl, the plugin installed into VPP: add-path names VPP's own plugin
    directory, which VPP searches anyway (a plugin it has seen is not loaded twice)."""
    plugins = make_vpp(tmp_path / "vpp")
    rc, text, err = render(capsys, tmp_path, SEED)
    assert (rc, err) == (0, "")
    assert f"  plugin sip_alg_plugin.so {{ enable }}\n  add-path {plugins}\n}}\n" in text


def test_render_yaml_plugin_path(tmp_path, capsys, checkout):
    build(checkout)
    mine = os.path.dirname(write(str(tmp_path / "mine" / V.PLUGIN_SO)))
    cfg = write(str(tmp_path / "fw.yaml"),
                open(SEED).read().replace("vpp:\n", f"vpp:\n  plugin_path: {mine}\n", 1))
    rc, text, err = render(capsys, tmp_path, cfg)
    assert (rc, err) == (0, "")
    assert f"  add-path {mine}\n" in text


def test_render_not_found(tmp_path, capsys, installed):
    """No plugin anywhere, VPP installed: startup.conf names VPP's own plugin directory, where
    `make install-plugin` or the plugin's package will put it, with a warning naming where
    the plugin was looked for (render needs no built plugin: exit 0)."""
    vpp = str(tmp_path / "vpp")
    plugins = make_vpp(vpp, plugin=False)
    rc, text, err = render(capsys, tmp_path, SEED)
    assert rc == 0
    assert f"  plugin sip_alg_plugin.so {{ enable }}\n  add-path {plugins}\n}}\n" in text
    assert err == (f"sipalgctl: warning: sip_alg plugin not found: no sip_alg_plugin.so in "
                   f"{vpp}/lib*/vpp_plugins, {vpp}/lib*/*/vpp_plugins (VPP's plugin "
                   f"directories); startup.conf names {plugins}, VPP's plugin directory in "
                   f"{vpp}, where `make install-plugin` and the plugin's package put it\n")


def test_render_not_found_nothing_installed(tmp_path, capsys, checkout, monkeypatch):
    """Neither the plugin nor VPP (a management host): startup.conf names where FD.io's
    packages put VPP's plugins, /usr/lib/<multiarch>/vpp_plugins, or the same under the
    prefix VPP_PREFIX names."""
    monkeypatch.setattr(V, "multiarch", lambda: "x86_64-linux-gnu")
    rc, text, err = render(capsys, tmp_path, SEED)
    want = "/usr/lib/x86_64-linux-gnu/vpp_plugins"
    assert rc == 0 and f"  add-path {want}\n" in text
    assert err == (f"sipalgctl: warning: sip_alg plugin not found: no sip_alg_plugin.so in "
                   f"{checkout}/build/plugin/lib/vpp_plugins (this checkout) or VPP's plugin "
                   f"directories (no VPP found); startup.conf names {want}, VPP's plugin "
                   f"directory once VPP is installed in /usr (FD.io's packages)\n")
    monkeypatch.setenv("VPP_PREFIX", str(tmp_path / "vpp"))
    rc, text, err = render(capsys, tmp_path, SEED)
    want = f"{tmp_path}/vpp/lib/x86_64-linux-gnu/vpp_plugins"
    assert rc == 0 and f"  add-path {want}\n" in text
    assert err.endswith(f"; startup.conf names {want}, VPP's plugin directory once VPP is "
                        f"installed in {tmp_path}/vpp\n"), err


def test_render_plugin_path_not_there_yet(tmp_path, capsys, installed):
    """vpp.plugin_path names a directory without the plugin (yet): startup.conf names it,
    with a warning."""
    mine = str(tmp_path / "mine")
    cfg = write(str(tmp_path / "fw.yaml"),
                open(SEED).read().replace("vpp:\n", f"vpp:\n  plugin_path: {mine}\n", 1))
    rc, text, err = render(capsys, tmp_path, cfg)
    assert rc == 0 and f"  add-path {mine}\n" in text
    assert err == (f"sipalgctl: warning: sip_alg plugin not found: no sip_alg_plugin.so in "
                   f"{mine} (vpp.plugin_path); startup.conf names {mine}, which "
                   f"vpp.plugin_path names\n")


def test_render_shadowed_warns(tmp_path, capsys, checkout):
    vpp = str(tmp_path / "vpp")
    d = build(checkout, content="new", prefix=vpp)
    plugins = make_vpp(vpp, content="old")
    rc, text, err = render(capsys, tmp_path, SEED)
    assert rc == 0 and f"  add-path {d}\n" in text
    assert err == (f"sipalgctl: warning: VPP in {vpp} would load {plugins}/sip_alg_plugin.so, "
                   f"not {d}/sip_alg_plugin.so (this checkout): VPP searches its own plugin "
                   f"directory before add-path; install this plugin there (make install-plugin) "
                   f"or remove {plugins}/sip_alg_plugin.so\n")


@pytest.mark.parametrize("case", ["not-found", "no-api-json", "shadowed"])
def test_up_checks_the_plugin_before_starting_vpp(tmp_path, capsys, checkout, case):
    vpp = str(tmp_path / "vpp")
    if case == "not-found":
        make_vpp(vpp, plugin=False, binary=True)
        expect = "sip_alg plugin not found: no sip_alg_plugin.so in "
    elif case == "no-api-json":
        make_vpp(vpp, json=False, binary=True)
        expect = "sip_alg plugin API definitions not found: no sip_alg.api.json at "
    else:
        build(checkout, content="new", prefix=vpp)
        make_vpp(vpp, content="old", binary=True)
        expect = f"VPP in {vpp} would load "
    rc, out, err = sipalgctl(capsys, "up", SEED)
    assert rc == 2 and err.startswith("sipalgctl: " + expect), err
    assert not os.path.exists(os.path.join(vpp, "started"))


def test_apply_loads_the_plugins_json_from_vpp(tmp_path, capsys, installed):
    """An installed sipalgctl talks to the plugin with the API JSON installed beside VPP's
    own (dummy files here, which vpp_papi refuses: that is the error expected)."""
    import vpp_papi  # noqa: F401  a dependency of sipalgctl: its absence is a failure
    vpp = str(tmp_path / "vpp")
    make_vpp(vpp)
    sock = write(str(tmp_path / "api.sock"))
    rc, out, err = sipalgctl(capsys, "--socket", sock, "apply", SEED)
    assert rc == 2
    assert err.startswith(f"sipalgctl: VPP's API definitions under {vpp} or the plugin's "
                          f"({V.vpp_plugin_json(vpp)}) cannot be loaded: "), err


def test_apply_plugin_not_found(tmp_path, capsys, installed):
    """VPP is there and so is its socket, the plugin is nowhere: exit 2 saying so."""
    vpp = str(tmp_path / "vpp")
    make_vpp(vpp, plugin=False)
    sock = write(str(tmp_path / "api.sock"))
    import vpp_papi  # noqa: F401  a dependency of sipalgctl: its absence is a failure
    rc, out, err = sipalgctl(capsys, "--socket", sock, "apply", SEED)
    assert rc == 2
    assert err.startswith(f"sipalgctl: sip_alg plugin not found: no sip_alg_plugin.so in "
                          f"{vpp}/lib*/vpp_plugins, "), err
