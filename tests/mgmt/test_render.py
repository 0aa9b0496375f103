# SPDX-License-Identifier: Apache-2.0
"""`sipalgctl render` against golden files (tests/mgmt/golden/<config>/).

To refresh after an intended template change:
  SIPALG_UPDATE_GOLDEN=1 pytest tests/mgmt/test_render.py  (then review the diff)"""

import glob
import os

import jinja2
import pytest

from sipalgctl import config, render

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CONFIGS = {"seed": os.path.join(ROOT, "mgmt", "examples", "seed.yaml"),
           "firewall": os.path.join(ROOT, "mgmt", "examples", "firewall.yaml"),
           "full": os.path.join(HERE, "configs", "full.yaml"),
           "tenants": os.path.join(ROOT, "mgmt", "examples", "tenants.yaml")}
PLUGIN_DIR = "/opt/vpp-sipalg/plugins"  # fixed, so golden files do not depend on the checkout


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_golden(name):
    files = render.render(config.load(CONFIGS[name]), plugin_dir=PLUGIN_DIR)
    assert sorted(files) == ["bootstrap.cli", "startup.conf"]
    for fname, text in files.items():
        path = os.path.join(HERE, "golden", name, fname)
        if os.environ.get("SIPALG_UPDATE_GOLDEN"):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "w").write(text)
        assert text == open(path).read(), f"{name}/{fname} differs from its golden file"


def test_strict_undefined(tmp_path):
    (tmp_path / "startup.conf.j2").write_text("{{ no_such_value }}\n")
    (tmp_path / "bootstrap.cli.j2").write_text("\n")
    with pytest.raises(jinja2.UndefinedError):
        render.render(config.load(CONFIGS["seed"]), templates=str(tmp_path), plugin_dir="/x")


def test_cli_render_writes_files(tmp_path, capsys):
    """full.yaml's vpp.plugin_path, here a directory with a plugin in it."""
    from sipalgctl import cli
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "sip_alg_plugin.so").write_text("")
    cfg = tmp_path / "full.yaml"
    cfg.write_text(open(CONFIGS["full"]).read().replace(PLUGIN_DIR, str(plugins)))
    out = tmp_path / "out"
    assert cli.main(["render", str(cfg), "--out", str(out)]) == 0
    text = (out / "startup.conf").read_text()
    assert "workers 2" in text and f"add-path {plugins}\n" in text
    assert (out / "bootstrap.cli").read_text().count("create ") == 2


def test_cli_render_plugin_path_without_plugin(capsys):
    """full.yaml's vpp.plugin_path as it is: no plugin there, and nowhere else looked at;
    startup.conf names it all the same, with a warning (render needs no built plugin)."""
    from sipalgctl import cli
    assert cli.main(["render", CONFIGS["full"]]) == 0
    out, err = capsys.readouterr()
    assert f"  add-path {PLUGIN_DIR}\n" in out
    assert err == (
        f"sipalgctl: warning: sip_alg plugin not found: no sip_alg_plugin.so in {PLUGIN_DIR} "
        f"(vpp.plugin_path); startup.conf names {PLUGIN_DIR}, which vpp.plugin_path names\n")


def test_acl_plugin_only_with_the_firewall():
    """acl_plugin.so and its session limit are in startup.conf when the firewall is on, and
    only then; the other plugins are the same either way."""
    def plugins(text):
        return [l.strip() for l in text.splitlines() if l.strip().startswith("plugin ")]
    seed = render.render(config.load(CONFIGS["seed"]), plugin_dir=PLUGIN_DIR)["startup.conf"]
    fw = render.render(config.load(CONFIGS["firewall"]), plugin_dir=PLUGIN_DIR)["startup.conf"]
    assert "acl" not in seed
    assert [p for p in plugins(fw) if "acl" not in p] == plugins(seed)
    assert "plugin acl_plugin.so { enable }" in plugins(fw)
    assert "acl-plugin {" not in fw  # no firewall.sessions: VPP's default
    full = render.render(config.load(CONFIGS["full"]), plugin_dir=PLUGIN_DIR)["startup.conf"]
    assert "acl-plugin { connection count max 200000 }\n" in full
    off = config.load(CONFIGS["full"])
    off = off.model_copy(update={"firewall": off.firewall.model_copy(update={"enabled": False})})
    text = render.render(off, plugin_dir=PLUGIN_DIR)["startup.conf"]
    assert "acl" not in text


EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "mgmt", "examples", "*.yaml")))


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_cli_renders_every_example(path, tmp_path, monkeypatch, capsys):
    """`sipalgctl render` on each example, with a plugin where SIPALGCTL_PLUGIN_PATH says."""
    from sipalgctl import cli
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "sip_alg_plugin.so").write_text("")
    monkeypatch.setenv("SIPALGCTL_PLUGIN_PATH", str(plugins))
    assert cli.main(["render", path, "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "startup.conf").read_text()
    assert f"add-path {plugins}\n" in text
    assert ("plugin acl_plugin.so { enable }" in text) == config.load(path).firewall.enabled


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_cli_renders_every_example_without_plugin(path, tmp_path, monkeypatch, capsys):
    """`sipalgctl render` on each example with no plugin anywhere (a management host: no
    build, VPP installed without the plugin): exit 0, a warning naming where the plugin was
    looked for, and startup.conf naming VPP's plugin directory, where it will be."""
    from sipalgctl import cli, vpp as V
    vpp = tmp_path / "vpp"
    plugins = vpp / "lib" / "x86_64-linux-gnu" / "vpp_plugins"
    plugins.mkdir(parents=True)
    (plugins / "nat_plugin.so").write_text("")
    api = vpp / "share" / "vpp" / "api" / "core"
    api.mkdir(parents=True)
    (api / "memclnt.api.json").write_text("{}")
    monkeypatch.setenv("SIPALGCTL_PLUGIN_PATH", "")
    monkeypatch.setenv("VPP_PREFIX", str(vpp))
    monkeypatch.setattr(V, "ROOT", str(tmp_path / "site-packages"))  # no checkout
    assert cli.main(["render", path, "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert err == (f"sipalgctl: warning: sip_alg plugin not found: no sip_alg_plugin.so in "
                   f"{vpp}/lib*/vpp_plugins, {vpp}/lib*/*/vpp_plugins (VPP's plugin "
                   f"directories); startup.conf names {plugins}, VPP's plugin directory in "
                   f"{vpp}, where `make install-plugin` and the plugin's package put it\n")
    text = (tmp_path / "out" / "startup.conf").read_text()
    assert f"  plugin sip_alg_plugin.so {{ enable }}\n  add-path {plugins}\n" in text


def _cpu(text):
    """The lines of startup.conf's cpu { } section."""
    lines = text.splitlines()
    start = lines.index("cpu {")
    return [l.strip() for l in lines[start + 1:lines.index("}", start)]]


@pytest.mark.parametrize("workers,use_pthreads,want", [
    (2, True, True), (2, False, False), (0, True, False), (0, False, False)])
def test_use_pthreads(workers, use_pthreads, want):
    """use-pthreads in the cpu section exactly when vpp.use_pthreads and there are workers
    (nothing to run as pthreads without them); nowhere else."""
    cfg = config.load(CONFIGS["seed"])
    cfg = cfg.model_copy(update={"vpp": cfg.vpp.model_copy(update={
        "workers": workers, "use_pthreads": use_pthreads})})
    text = render.render(cfg, plugin_dir=PLUGIN_DIR)["startup.conf"]
    cpu = _cpu(text)
    assert ("use-pthreads" in cpu) == want
    assert text.count("use-pthreads") == int(want)
    assert cpu[0] == "main-core 0"
    assert (f"workers {workers}" in cpu) == bool(workers)
