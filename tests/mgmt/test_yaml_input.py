# SPDX-License-Identifier: Apache-2.0
"""How sipalgctl reads its YAML: duplicate keys refused naming both lines, a size limit
checked before parsing, aliases (billion laughs) and deep nesting refused, the C loader
where PyYAML has it with the same results and errors as the pure-Python one, the line and
column of every error YAML can place; and --json before or after the command, on every
command that prints, check's included."""

import glob
import json
import os
import re
import threading
import time
import tracemalloc
from types import SimpleNamespace

import pytest
import yaml

from sipalgctl import cli, config, defaults as D, plan as P
from test_plan import fake_apply, fresh
from test_show import CallsClient, ConfigClient, FakeClient, FakeStats, stats  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SEED = os.path.join(ROOT, "mgmt", "examples", "seed.yaml")
SEED_TEXT = open(SEED).read()
FILES = sorted(glob.glob(os.path.join(ROOT, "mgmt", "examples", "*.yaml")) +
               glob.glob(os.path.join(HERE, "configs", "*.yaml")) +
               glob.glob(os.path.join(HERE, "fixtures", "*.yaml")))
MAX = getattr(D, "MAX_CONFIG_BYTES", 1 << 20)


@pytest.fixture(params=["c", "pure"])
def loader(request, monkeypatch):
    """Each test that takes it runs with the C loader (libyaml) and with the pure-Python one."""
    if request.param == "c":
        if not yaml.__with_libyaml__:
            pytest.skip("PyYAML here is built without libyaml: there is no C loader")
        cls = getattr(config, "CLoader", None) or yaml.CSafeLoader
    else:
        cls = getattr(config, "PureLoader", yaml.SafeLoader)
    monkeypatch.setattr(config, "Loader", cls, raising=False)
    return cls


def check(tmp_path, text, *extra, name="c.yaml"):
    """(exit code, stdout, stderr lines) of `sipalgctl check` on text."""
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    capsys = check.capsys
    rc = cli.main(["check", str(path), *extra])
    out, err = capsys.readouterr()
    return rc, out, [l[len(str(path)) + 2:] for l in err.splitlines()]


@pytest.fixture(autouse=True)
def _capsys(capsys):
    check.capsys = capsys


def line_of(text, needle, nth=1):
    """The line (from 1) of the nth line of text that starts with needle."""
    found = [n for n, l in enumerate(text.splitlines(), 1) if l.startswith(needle)]
    return found[nth - 1]


# --- duplicate keys ----------------------------------------------------------------------

def test_duplicate_key_at_the_top(tmp_path, loader):
    text = SEED_TEXT + "vpp:\n  workers: 1\n"
    rc, out, err = check(tmp_path, text)
    a, b = line_of(text, "vpp:"), line_of(text, "vpp:", 2)
    assert (rc, out) == (1, "")
    assert err == [f"vpp: duplicate key 'vpp': first on line {a}, again on line {b} "
                   f"(line {b}, column 1)"]


def test_duplicate_key_nested(tmp_path, loader):
    text = SEED_TEXT.replace("    role: outside\n", "    role: outside\n    role: inside\n")
    rc, _, err = check(tmp_path, text)
    a = line_of(text, "    role: outside")
    assert rc == 1
    assert err == [f"interfaces.outside.role: duplicate key 'role': first on line {a}, "
                   f"again on line {a + 1} (line {a + 1}, column 5)"]


def test_duplicate_key_in_a_list_of_mappings(tmp_path, loader):
    """In a block list (routes[0]) and in a flow list on one line (columns named too); every
    duplicate of the file at once, however the key is spelt ('via' and via are one key)."""
    text = SEED_TEXT.replace("    via: 203.0.113.2\n",
                             "    via: 203.0.113.2\n    'via': 203.0.113.3\n")
    text += "firewall:\n  inbound:\n    rules: [{action: permit}, {action: deny, action: deny}]\n"
    rc, _, err = check(tmp_path, text)
    a, r = line_of(text, "    via:"), line_of(text, "    rules:")
    assert rc == 1
    assert err == [
        f"routes[0].via: duplicate key 'via': first on line {a}, again on line {a + 1} "
        f"(line {a + 1}, column 5)",
        f"firewall.inbound.rules[1].action: duplicate key 'action': first on line {r}, "
        f"column 32, again on line {r}, column 46 (line {r}, column 46)"]


def test_the_same_key_in_two_mappings_is_no_duplicate(tmp_path, loader):
    rc, out, err = check(tmp_path, SEED_TEXT)
    assert (rc, err) == (0, []) and ": ok (" in out


# --- the size limit ------------------------------------------------------------------------

def test_size_limit_10_mb_refused_fast(tmp_path, loader):
    """10 MB of valid YAML: refused before it is read, in well under a second, without
    reading it into memory."""
    path = tmp_path / "big.yaml"
    with open(path, "w") as f:
        f.write(SEED_TEXT)
        f.write("# padding\n" * (10 * 1000 * 1000 // 10))
    size = path.stat().st_size
    tracemalloc.start()
    t = time.monotonic()
    rc = cli.main(["check", str(path)])
    elapsed = time.monotonic() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rc == 1
    assert check.capsys.readouterr().err == (
        f"{path}: (file): too large: {size} bytes, the limit is 1048576 bytes (1 MiB); "
        f"not read\n")
    assert elapsed < 2, elapsed
    assert peak < 1 << 20, peak


def test_size_limit_boundary(tmp_path, loader):
    """The limit itself is accepted (here: a file of comments only, so empty), a byte more
    is not."""
    assert MAX == 1 << 20
    at = "#" * (MAX - 1) + "\n"
    assert check(tmp_path, at)[2] == ["(top): empty file"]
    rc, _, err = check(tmp_path, at + "\n")
    assert rc == 1 and err == [f"(file): too large: {MAX + 1} bytes, the limit is {MAX} "
                               f"bytes (1 MiB); not read"]


def test_size_limit_on_a_pipe(tmp_path, loader):
    """A file whose size is not known before it is read (a pipe): at most the limit and a
    byte are read."""
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    written = []

    def writer():
        with open(fifo, "wb") as f:
            try:
                for _ in range(64):
                    f.write(b"# " + b"x" * 65533 + b"\n")
                    written.append(1)
            except BrokenPipeError:
                pass
    t = threading.Thread(target=writer)
    t.start()
    rc = cli.main(["check", str(fifo)])
    t.join(10)
    assert rc == 1
    assert check.capsys.readouterr().err == (
        f"{fifo}: (file): too large: more than {MAX} bytes, the limit is {MAX} bytes (1 MiB); "
        f"not read\n")
    assert len(written) < 64


# --- aliases, merge keys, nesting ----------------------------------------------------------

def billion_laughs():
    """a: 9 strings; b: 9 a's; ... i: 9 h's: 9^9 strings once expanded."""
    text = "lol_a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        text += f"lol_{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]\n"
    return text


def test_alias_bomb_refused(tmp_path, loader):
    text = SEED_TEXT + billion_laughs()
    t = time.monotonic()
    rc, out, err = check(tmp_path, text)
    assert time.monotonic() - t < 2
    line = line_of(text, "lol_b")
    assert (rc, out) == (1, "")
    assert err == [f"line {line}, column 12: not valid YAML: aliases are not accepted (*a, of "
                   f"the anchor on line {line - 1}): write the value out"]


def test_alias_refused_as_value_and_key(tmp_path, loader):
    text = SEED_TEXT.replace("  pool: [203.0.113.10]", "  pool: &p [203.0.113.10]") + \
        "extra: *p\n"
    assert check(tmp_path, text)[2] == [
        f"line {line_of(text, 'extra')}, column 8: not valid YAML: aliases are not accepted "
        f"(*p, of the anchor on line {line_of(text, '  pool:')}): write the value out"]
    text = "&k vpp: {workers: 1}\n*k : 2\n"
    assert check(tmp_path, text)[2] == [
        "line 2, column 1: not valid YAML: aliases are not accepted (*k, of the anchor on "
        "line 1): write the value out"]


def test_merge_key_refused(tmp_path, loader):
    text = SEED_TEXT.replace("    role: outside\n", "    role: outside\n    <<: {mtu: 1500}\n")
    a = line_of(text, "    <<")
    rc, _, err = check(tmp_path, text)
    assert rc == 1 and err == [
        f"interfaces.outside.<<: merge keys (<<) are not accepted: write the keys out "
        f"(line {a}, column 5)"]


@pytest.mark.parametrize("depth", [33, 3000])
def test_nesting_limit(tmp_path, loader, depth):
    """Deeper than D.MAX_CONFIG_DEPTH (32) is refused at the first node too deep, whether
    libyaml (its limit: 1000) or Python's recursion limit would have stopped first."""
    assert getattr(D, "MAX_CONFIG_DEPTH", 32) == 32
    rc, _, err = check(tmp_path, "vpp: " + "[" * (depth - 1) + "]" * (depth - 1) + "\n")
    assert rc == 1
    assert err == ["line 1, column 37: not valid YAML: nested more than 32 levels deep"]
    text = "a:\n" + "".join("  " * i + "- \n" for i in range(40))
    assert check(tmp_path, text)[2] == [
        "line 33, column 63: not valid YAML: nested more than 32 levels deep"]


# --- the C loader and the pure-Python one ------------------------------------------------

def test_the_c_loader_is_used(monkeypatch):
    """With libyaml, load() composes with CSafeLoader and never builds the pure-Python
    loader for a valid file."""
    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML here is built without libyaml: there is no C loader")
    assert config.CLoader is yaml.CSafeLoader and config.Loader is yaml.CSafeLoader
    built = []

    class Spy(config.PureLoader):
        def __init__(self, stream):
            built.append(1)
            super().__init__(stream)
    monkeypatch.setattr(config, "PureLoader", Spy)
    assert config.load(SEED).interfaces["inside"].vpp_ifname == "host-sipalg-in"
    assert built == []


def located(path, cls):
    """What read() makes of a file with one loader: (data, {yaml path: (key line, column,
    value line, column)}), or the problems it raised."""
    try:
        data, index = config.read(path, cls)
    except config.ConfigError as e:
        return e.located
    return data, {p: (k and (k.start_mark.line, k.start_mark.column),
                      (n.start_mark.line, n.start_mark.column)) for p, (k, n) in index.items()}


@pytest.fixture
def both():
    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML here is built without libyaml: there is no C loader")
    return config.CLoader, config.PureLoader


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_loaders_agree_on_every_file(path, both):
    c, pure = (located(path, cls) for cls in both)
    assert c == pure
    # read() refuses only the fixtures that are not valid YAML or have a key twice
    assert isinstance(c, tuple) or os.path.basename(path) in ("not_yaml.yaml",
                                                              "duplicate_key.yaml"), c


BROKEN = {
    "flow": "a: [1, 2\nb: 3\n",
    "mapping-here": "a: b: c\n",
    "tab": "a:\n\t- 1\n",
    "block": "- a\nb: 1\n",
    "quote": "a: 'x\n",
    "two-documents": "a: 1\n---\nb: 2\n",
    "undefined-alias": "a: *x\n",
    "duplicate-anchor": "a: &x 1\nb: &x 2\n",
    "python-tag": "a: !!python/object:os.system x\n",
    "binary": "a: !!binary zz\n",
    "control-character": "a: 1\nb: \x07\n",
    "version": "%YAML 2.0\n---\na: 1\n",
    "at": "a: @b\n",
    "indent": "key: value\n  bad: indent\n",
    "deep-flow": "a: " + "[" * 3000,
    "deep-block": "a:\n" + "".join("  " * i + "- \n" for i in range(40)),
    "bomb": billion_laughs(),
    "alias-key": "&k a: 1\n*k : 2\n",
    "duplicates": "a: 1\nb: {c: 1, c: 2}\na: 2\nnull: 1\n~: 2\n",
    "complex-key": "? [a]\n: 1\n",
    "unhashable-tag": "? !!set {a}\n: 1\n",
    "merge": "a: {<<: {b: 1}}\n",
    "not-utf8": b"a: caf\xe9\n",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_loaders_agree_on_every_error(tmp_path, both, name):
    path = tmp_path / "x.yaml"
    text = BROKEN[name]
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    c, pure = (located(str(path), cls) for cls in both)
    assert c == pure
    assert isinstance(c, list) and all(p.line for p in c), c


# --- lines and columns -------------------------------------------------------------------

def test_line_of_a_syntax_error(tmp_path, loader):
    rc, _, err = check(tmp_path, "vpp: {workers: [1, 2}\n")
    assert rc == 1
    assert err == ["line 1, column 21: not valid YAML: expected ',' or ']', but got '}' "
                   "(while parsing a flow sequence at line 1, column 16)"]


def test_line_of_a_character_error(tmp_path, loader):
    assert check(tmp_path, "a: 1\nb: caf\xe9 \x07\n")[2] == [
        "line 2, column 9: not valid YAML: unacceptable character #x0007: special characters "
        "are not allowed"]
    assert check(tmp_path, b"a: 1\nb: caf\xe9\n")[2] == [
        "line 2, column 7: not UTF-8 text: byte 0xe9 (invalid continuation byte)"]


def test_lines_of_validation_errors(tmp_path, loader):
    """A bad value: at the value; an unknown key: at the key; a missing key: at the mapping
    it is missing from (its key); a bad list item: at the item; a problem across sections
    (semantics): at the path it names."""
    text = (SEED_TEXT
            .replace("    address: 192.168.1.254/24", "    address: 192.168.1.254/33")
            .replace("    host_if: sipalg-out\n", "    host_if: sipalg-out\n    colour: red\n")
            .replace("    via: 203.0.113.2\n", "")
            .replace("  pool: [203.0.113.10]", "  pool: [203.0.113.10, 999.1.1.1]"))
    rc, _, err = check(tmp_path, text)
    assert rc == 1
    assert sorted(err) == sorted([
        f"interfaces.inside.address: must be an IPv4 address with prefix length (a.b.c.d/n), "
        f"got '192.168.1.254/33' (line {line_of(text, '    address: 192.168.1.254')}, "
        f"column 14)",
        f"interfaces.outside.colour: unknown key (allowed: address, host_if, role, type, vpp_name, "
        f"vrf) (line {line_of(text, '    colour')}, column 5)",
        f"routes[0].via: required (line {line_of(text, '  - prefix')}, column 5)",
        f"nat44.pool[1]: must be an IPv4 address, got '999.1.1.1' (line "
        f"{line_of(text, '  pool')}, column 24)"]), err
    text = SEED_TEXT + "  interfaces: [inside, lan]\n"  # in sip_alg, the last section
    assert check(tmp_path, text)[2] == [
        f"sip_alg.interfaces[1]: no interface named 'lan' (line "
        f"{line_of(text, '  interfaces: [inside')}, column 24)"]


def test_config_error_keeps_its_pairs(tmp_path, loader):
    """ConfigError.problems stays [(yaml path, message)] (line and column: .located)."""
    path = tmp_path / "c.yaml"
    path.write_text(SEED_TEXT.replace("    role: outside\n", "    role: outer\n"))
    with pytest.raises(config.ConfigError) as e:
        config.load(str(path))
    assert e.value.problems == [("interfaces.outside.role",
                                 "must be one of inside, outside, none, got 'outer'")]
    p = e.value.located[0]
    assert (p.line, p.column) == (line_of(path.read_text(), "    role: outer"), 11)


# --- --json --------------------------------------------------------------------------------

def test_check_json(tmp_path, loader):
    rc, out, err = check(tmp_path, SEED_TEXT, "--json")
    data = json.loads(out)
    assert (rc, err) == (0, [])
    path = str(tmp_path / "c.yaml")
    assert data == {"ok": True, "file": path, "errors": [], "warnings": [],
                    "summary": "2 interfaces, 1 NAT addresses, 0 static mappings, SIP ALG on "
                    "inside, outside; SIP over TCP on 5060 (reassembly 16384 bytes); "
                    "media-other-hosts off; SIP servers none; firewall off"}
    text = SEED_TEXT.replace("    role: outside\n", "    role: outside\n    role: outside\n")
    rc, out, err = check(tmp_path, text, "--json")
    line = line_of(text, "    role: outside", 2)
    assert (rc, err) == (1, [])
    assert json.loads(out) == {"ok": False, "file": path, "warnings": [], "summary": None,
                               "errors": [{"file": path, "path": "interfaces.outside.role",
                                           "line": line, "column": 5,
                                           "message": f"duplicate key 'role': first on line "
                                                      f"{line - 1}, again on line {line}"}]}
    rc, out, err = check(tmp_path, "vpp: [\n", "--json")
    assert json.loads(out)["errors"] == [{
        "file": path, "path": None, "line": 2, "column": 1, "message":
        "not valid YAML: expected the node content, but found '<stream end>' (while parsing a "
        "flow node at line 2, column 1)"}]
    assert cli.main(["check", "--json", str(tmp_path / "none.yaml")]) == 1
    assert json.loads(check.capsys.readouterr().out)["errors"] == [{
        "file": str(tmp_path / "none.yaml"), "path": None, "line": None, "column": None,
        "message": "No such file or directory"}]


def test_check_json_warnings(tmp_path, loader):
    """Warnings: in the JSON with their lines, not on stderr."""
    text = SEED_TEXT.replace("  interfaces: [inside, outside]", "") + \
        "  validation:\n    block_methods: [BYE]\n"
    rc, out, err = check(tmp_path, text, "--json")
    data = json.loads(out)
    assert (rc, err, data["ok"]) == (0, [], True)
    [w] = data["warnings"]
    assert (w["path"], w["line"], w["column"]) == (
        "sip_alg.validation.block_methods", line_of(text, "    block_methods"), 5)
    assert w["message"].startswith("BYE blocked from outside")


def ctx(fake):
    class Ctx:
        def __enter__(self):
            return fake

        def __exit__(self, *exc):
            pass
    return lambda args, cfg=None, plugin=None: Ctx()


@pytest.fixture
def down_cfg(tmp_path):
    path = tmp_path / "down.yaml"
    path.write_text(SEED_TEXT.replace("runtime_dir: /run/sipalg",
                                      f"runtime_dir: {tmp_path / 'run'}"))
    return str(path)


def setup_render(monkeypatch, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "sip_alg_plugin.so").write_text("")
    monkeypatch.setenv("SIPALGCTL_PLUGIN_PATH", str(plugins))


def setup_plan(monkeypatch, tmp_path):
    cfg = config.load(SEED)
    monkeypatch.setattr(cli, "client", ctx(None))
    monkeypatch.setattr(P, "read_state", lambda c: fresh(cfg))


def setup_apply(monkeypatch, tmp_path):
    """A fresh VPP the first time apply reads it, the seed applied the second."""
    cfg = config.load(SEED)
    st = fresh(cfg)
    done = fake_apply(st, P.plan(cfg, st))
    reads = []
    monkeypatch.setattr(cli, "client", ctx(SimpleNamespace(
        call=lambda msg, **kw: SimpleNamespace(retval=0))))
    monkeypatch.setattr(P, "read_state", lambda c: reads.append(1) or
                        (st if len(reads) % 2 else done))


def setup_fake(fake):
    return lambda monkeypatch, tmp_path: monkeypatch.setattr(cli, "client", ctx(fake))


def setup_stats(monkeypatch, tmp_path):
    monkeypatch.setattr(FakeStats, "counters", {"/err/sip-alg-post/sip": [3, 4]})


# command -> (argv, setup, a check of the JSON); {stats}, {down}, {out}: filled in below
COMMANDS = {
    "check": (["check", SEED], None, lambda d: d["ok"] is True),
    "render": (["render", SEED], setup_render,
               lambda d: sorted(d["files"]) == ["bootstrap.cli", "startup.conf"]),
    "render --out": (["render", SEED, "--out", "{out}"], setup_render,
                     lambda d: sorted(d["written"]) == ["bootstrap.cli", "startup.conf"]),
    "plan": (["plan", SEED], setup_plan, lambda d: len(d) > 3 and all(o["api"] for o in d)),
    "apply": (["apply", SEED], setup_apply, lambda d: len(d["applied"]) > 3),
    "show server-map": (["show", "server-map"], setup_fake(FakeClient()),
                        lambda d: d[0]["app"] == "sip"),
    "show session-table": (["show", "session-table", "--stats-socket", "{stats}"],
                           setup_fake(FakeClient()), lambda d: len(d["sessions"]) == 5),
    "show calls": (["show", "calls"], setup_fake(CallsClient()), lambda d: len(d) > 0),
    "show config": (["show", "config"], setup_fake(ConfigClient()),
                    lambda d: d["validation"]["mode"] == "strict"),
    "stats": (["stats", "--stats-socket", "{stats}"], setup_stats, lambda d: d == {"sip": 7}),
    "down": (["down", "{down}"], None, lambda d: d == {"stopped": None}),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_json_before_and_after_the_command(name, monkeypatch, tmp_path, stats, down_cfg):
    """Every command that prints and can run without VPP (up cannot): --json before the
    command and after it give the same JSON, and JSON it is."""
    argv, setup, ok = COMMANDS[name]
    argv = [a.format(stats=stats, down=down_cfg, out=tmp_path / "out") for a in argv]
    if setup:
        setup(monkeypatch, tmp_path)
    outs = []
    for args in (["--json"] + argv, argv + ["--json"]):
        assert cli.main(args) == 0, args
        outs.append(check.capsys.readouterr().out)
    assert outs[0] == outs[1]
    assert ok(json.loads(outs[0]))


def test_every_command_takes_json_after_it():
    """Each subcommand, up and those to come included, has --json of its own."""
    sub = next(a for a in cli.parser()._actions if a.dest == "cmd")
    assert {"check", "render", "plan", "apply", "up", "down", "show", "stats"} <= \
        set(sub.choices)
    for name, sp in sub.choices.items():
        assert any("--json" in a.option_strings for a in sp._actions), name
    args = cli.parser().parse_args(["show", "calls", "--json"])
    assert args.json is True
    assert cli.parser().parse_args(["--json", "show", "calls"]).json is True
    assert cli.parser().parse_args(["show", "calls"]).json is False


def test_text_without_json_is_unchanged(tmp_path, loader):
    rc, out, _ = check(tmp_path, SEED_TEXT)
    assert rc == 0 and out.startswith(str(tmp_path / "c.yaml") + ": ok (2 interfaces, ")
    assert re.fullmatch(r".*: ok \(.*firewall off\)\n", out)
