# SPDX-License-Identifier: Apache-2.0
"""sipalgctl installed the way an operator installs it, not imported from the checkout: a
wheel built from mgmt/ (directly, and through an sdist), installed into a fresh venv and run
from outside the repository, renders the golden files from the templates packaged into it,
with the plugin found in VPP's own plugin directory (where `make install-plugin` puts it: a
fake VPP prefix here), and says where it looked when the plugin is nowhere (exit 2);
SIPALGCTL_TEMPLATES still overrides the templates; an editable install reads the checkout's
templates/, so edits show up, and finds the plugin in the checkout's build/plugin.

Builds run on a copy of mgmt/ and templates/ (an in-tree build leaves build/ and *.egg-info in
mgmt/), through the PEP 517 hooks of setuptools.build_meta, as `pip wheel` and `pip install`
call them: with this interpreter's setuptools when it can build wheels by itself (setuptools
and wheel from tests/requirements.txt: then nothing is downloaded), else in one venv per test
module with setuptools from the package index (one download, rather than one isolated build
environment per build). Installs are pip's, --no-deps --no-index: a .pth file points the
fresh venvs at this interpreter's PyYAML and Jinja2."""

import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SEED = os.path.join(ROOT, "mgmt", "examples", "seed.yaml")
GOLDEN = os.path.join(HERE, "golden", "seed")
FILES = ("startup.conf", "bootstrap.cli")
# the plugin directory is the one line that depends on where sipalgctl runs from
ADD_PATH = re.compile(r"^(\s*add-path ).*$", re.M)
MULTIARCH = "x86_64-linux-gnu"


def run(*cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} -> {r.returncode}\n{r.stdout}{r.stderr}"
    return r


def local_build_ok():
    """True if this interpreter's setuptools can build wheels and editable wheels (PEP 660,
    setuptools >= 64) without downloading anything (setuptools >= 70.1 has bdist_wheel built
    in; older ones need the wheel package)."""
    try:
        import setuptools
    except ImportError:
        return False
    version = tuple(int(x) for x in re.findall(r"\d+", setuptools.__version__)[:2])
    if version >= (70, 1):
        return True
    try:
        import wheel  # noqa: F401
        return version >= (64, 0)
    except ImportError:
        return False


@pytest.fixture(scope="module")
def build_python(tmp_path_factory):
    """An interpreter whose setuptools builds wheels and editable wheels."""
    if local_build_ok():
        return sys.executable
    path = str(tmp_path_factory.mktemp("build-venv"))
    run(sys.executable, "-m", "venv", "--without-pip", path)
    py = os.path.join(path, "bin", "python")
    run(sys.executable, "-m", "pip", "--python", py, "install", "-q", "setuptools>=70.1")
    return py


def purelib(py):
    return run(py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip()


def checkout_copy(dst):
    """mgmt/ and templates/ side by side, as in the repository, without build artefacts; and
    vpp-plugin/sip_alg/sip_alg.api, by which sipalgctl knows it runs from a checkout."""
    skip = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__")
    shutil.copytree(os.path.join(ROOT, "mgmt"), os.path.join(dst, "mgmt"), ignore=skip)
    shutil.copytree(os.path.join(ROOT, "templates"), os.path.join(dst, "templates"))
    os.makedirs(os.path.join(dst, "vpp-plugin", "sip_alg"))
    shutil.copy(os.path.join(ROOT, "vpp-plugin", "sip_alg", "sip_alg.api"),
                os.path.join(dst, "vpp-plugin", "sip_alg"))
    return os.path.join(dst, "mgmt")


def fake_vpp(path, plugin=True):
    """A VPP prefix as far as finding it goes (API definitions, a plugin directory), with the
    plugin installed the way `cmake --install build/plugin --prefix` installs it; the path of
    VPP's plugin directory."""
    api = os.path.join(path, "share", "vpp", "api")
    os.makedirs(os.path.join(api, "core"))
    open(os.path.join(api, "core", "memclnt.api.json"), "w").write("{}")
    plugins = os.path.join(path, "lib", MULTIARCH, "vpp_plugins")
    os.makedirs(plugins)
    open(os.path.join(plugins, "nat_plugin.so"), "w").close()
    if plugin:
        open(os.path.join(plugins, "sip_alg_plugin.so"), "w").write("installed")
        os.makedirs(os.path.join(api, "plugins"))
        open(os.path.join(api, "plugins", "sip_alg.api.json"), "w").write("{}")
    return plugins


def fresh_venv(path):
    """A venv without pip or sipalgctl; PyYAML and Jinja2 (and MarkupSafe) come from this
    interpreter through a .pth file, after the venv's own site-packages."""
    import jinja2
    import markupsafe
    import yaml
    run(sys.executable, "-m", "venv", "--without-pip", path)
    py = os.path.join(path, "bin", "python")
    dirs = {os.path.dirname(os.path.dirname(m.__file__)) for m in (yaml, jinja2, markupsafe)}
    with open(os.path.join(purelib(py), "sipalg_test_deps.pth"), "w") as f:
        f.write("".join(d + "\n" for d in sorted(dirs)))
    return py


def pip_install(py, path):
    run(sys.executable, "-m", "pip", "--python", py, "install", "-q", "--no-deps", "--no-index",
        path)


def build(build_py, hook, src, out):
    """Run the build backend's hook (build_wheel, build_sdist, build_editable) in src; the
    path of what it wrote to out."""
    os.makedirs(out, exist_ok=True)
    r = run(build_py, "-c", "import sys; from setuptools import build_meta as b; "
            f"print(b.{hook}(sys.argv[1]))", out, cwd=src)
    return os.path.join(out, r.stdout.split()[-1])


def build_wheel(build_py, src, out, via_sdist):
    if via_sdist:
        sdist = build(build_py, "build_sdist", src, out)
        unpacked = os.path.join(out, "unpacked")
        shutil.unpack_archive(sdist, unpacked)
        (src,) = [os.path.join(unpacked, d) for d in os.listdir(unpacked)]
    return build(build_py, "build_wheel", src, out)


def venv_env(py, **extra):
    """The environment for running py's venv: nothing of this interpreter's path."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SIPALGCTL_TEMPLATES", "SIPALGCTL_PLUGIN_PATH", "PYTHONPATH", "PYTHONHOME",
                        "VIRTUAL_ENV")}
    env["PATH"] = os.path.dirname(py) + os.pathsep + os.environ.get("PATH", "")
    return dict(env, **extra)


def sipalgctl(py):
    return os.path.join(os.path.dirname(py), "sipalgctl")


def render(py, cwd, **env):
    """`sipalgctl render seed.yaml --out` with the venv's console script, outside the repo."""
    out = os.path.join(cwd, "out")
    r = run(sipalgctl(py), "render", SEED, "--out", out, cwd=cwd, env=venv_env(py, **env))
    assert r.stderr == ""
    return {name: open(os.path.join(out, name)).read() for name in FILES}


def assert_golden(files, plugin_dir):
    """The golden files, with the plugin directory sipalgctl found on the add-path line."""
    for name in FILES:
        golden = ADD_PATH.sub(r"\1" + plugin_dir, open(os.path.join(GOLDEN, name)).read())
        assert files[name] == golden, f"seed/{name} differs from its golden file"
    assert f"  add-path {plugin_dir}\n" in files["startup.conf"]


def imported_from(py, cwd):
    return run(py, "-c", "import sipalgctl.render as r; print(r.__file__); print(r.TEMPLATES)",
               cwd=cwd, env=venv_env(py)).stdout.split()


@pytest.mark.parametrize("via_sdist", [False, True], ids=["wheel", "sdist-wheel"])
def test_wheel_renders_golden(build_python, tmp_path, via_sdist):
    src = checkout_copy(str(tmp_path / "src"))
    whl = build_wheel(build_python, src, str(tmp_path / "dist"), via_sdist)
    # the copy is gone before the wheel runs: nothing may be read from a checkout
    shutil.rmtree(str(tmp_path / "src"))
    py = fresh_venv(str(tmp_path / "venv"))
    pip_install(py, whl)
    work = tmp_path / "elsewhere"
    work.mkdir()
    module, templates = imported_from(py, str(work))
    assert module.startswith(str(tmp_path / "venv")), module
    assert templates == os.path.join(os.path.dirname(module), "templates")
    vpp = str(tmp_path / "vpp")
    plugins = fake_vpp(vpp)
    # the plugin in VPP's own plugin directory: adding that directory again changes nothing
    assert_golden(render(py, str(work), VPP_PREFIX=vpp), plugins)

    # the plugin nowhere: no checkout to look in, only VPP's plugin directories; startup.conf
    # names VPP's, where the plugin will be installed, with a warning
    novpp = str(tmp_path / "novpp")
    novpp_plugins = fake_vpp(novpp, plugin=False)
    r = subprocess.run([sipalgctl(py), "render", SEED], capture_output=True, text=True,
                       cwd=str(work), env=venv_env(py, VPP_PREFIX=novpp))
    assert r.returncode == 0 and f"  add-path {novpp_plugins}\n" in r.stdout
    assert r.stderr == (
        f"sipalgctl: warning: sip_alg plugin not found: no sip_alg_plugin.so in "
        f"{novpp}/lib*/vpp_plugins, {novpp}/lib*/*/vpp_plugins (VPP's plugin directories); "
        f"startup.conf names {novpp_plugins}, VPP's plugin directory in {novpp}, where `make "
        f"install-plugin` and the plugin's package put it\n")

    # the systemd units are in the wheel
    units = run(py, "-c", "import importlib.resources as r; d = r.files('sipalgctl') / "
                "'systemd'; print(d / 'sipalgctl.service'); print(d / 'vpp.service.d' / "
                "'sipalgctl.conf')", cwd=str(work), env=venv_env(py)).stdout.split()
    for unit in units:
        assert unit.startswith(str(tmp_path / "venv")) and os.path.isfile(unit), unit
    assert "ExecStart=sipalgctl apply --wait" in open(units[0]).read()

    # SIPALGCTL_TEMPLATES overrides the packaged templates
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "startup.conf.j2").write_text("runtime {{ runtime_dir }}\n")
    (mine / "bootstrap.cli.j2").write_text("show version\n")
    r = run(sipalgctl(py), "render", SEED, cwd=str(work),
            env=venv_env(py, SIPALGCTL_TEMPLATES=str(mine), VPP_PREFIX=vpp))
    assert r.stdout == "# ---- startup.conf\nruntime /run/sipalg\n# ---- bootstrap.cli\nshow version\n"


def test_editable_reads_checkout_templates(build_python, tmp_path):
    src = checkout_copy(str(tmp_path / "src"))
    py = fresh_venv(str(tmp_path / "venv"))
    pip_install(py, build(build_python, "build_editable", src, str(tmp_path / "dist")))
    work = tmp_path / "elsewhere"
    work.mkdir()
    module, templates = imported_from(py, str(work))
    assert module == os.path.join(src, "sipalgctl", "render.py")
    assert templates == str(tmp_path / "src" / "templates")
    # the plugin where `make plugin VPP_PREFIX=<vpp>` builds it in the checkout (a VPP
    # outside the standard prefixes: build/plugin-<prefix, / as ->); VPP without it
    vpp = str(tmp_path / "vpp")
    built = tmp_path / "src" / "build" / ("plugin" + vpp.replace("/", "-")) / "lib" / "vpp_plugins"
    built.mkdir(parents=True)
    (built / "sip_alg_plugin.so").write_text("built")
    fake_vpp(vpp, plugin=False)
    assert_golden(render(py, str(work), VPP_PREFIX=vpp), str(built))
    # an edit in the checkout's templates/ shows up without reinstalling
    with open(os.path.join(templates, "bootstrap.cli.j2"), "a") as f:
        f.write("show version\n")
    assert render(py, str(work), VPP_PREFIX=vpp)["bootstrap.cli"].endswith("\nshow version\n")
