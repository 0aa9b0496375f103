# SPDX-License-Identifier: Apache-2.0
"""Where sipalgctl looks for VPP, and what it says (exit 2) when VPP is not installed there
or not running, on any machine: "not installed" is a VPP_PREFIX without VPP (an explicit
prefix is the only place looked at), "not running" a prefix with API definitions (minimal
fake ones: the socket is checked before they are loaded) and a socket that does not exist."""

import json
import os
import stat

import pytest

from sipalgctl import cli, vpp as V

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = os.path.join(HERE, "..", "..", "mgmt", "examples", "seed.yaml")
FAKE_API = {"types": [], "messages": [], "unions": [], "enums": [], "enumflags": [],
            "services": {}, "options": {}, "aliases": {}, "vl_api_version": "0x00000000"}


@pytest.fixture(autouse=True)
def no_wait(monkeypatch):
    """Client retries a missing socket for 5 s; nothing appears here."""
    monkeypatch.setattr(V.time, "sleep", lambda s: None)


@pytest.fixture
def empty(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    return str(d)


@pytest.fixture
def fake(tmp_path):
    """A prefix with API definitions only (no bin/vpp)."""
    d = tmp_path / "fake"
    (d / "share" / "vpp" / "api" / "core").mkdir(parents=True)
    (d / "share" / "vpp" / "api" / "core" / "memclnt.api.json").write_text(json.dumps(FAKE_API))
    return str(d)


def sipalgctl(capsys, *args):
    rc = cli.main(list(args))
    return rc, capsys.readouterr().err


def test_explicit_prefix_is_the_only_place_looked_at(monkeypatch):
    monkeypatch.delenv("VPP_PREFIX", raising=False)
    assert V.search() == (V.PREFIXES, None)
    monkeypatch.setenv("VPP_PREFIX", "/from/env")
    assert V.search() == (("/from/env",), "VPP_PREFIX")
    assert V.search("/from/yaml") == (("/from/yaml",), "vpp.prefix")


def test_find_prefix_api_json_or_binary(monkeypatch, fake, empty):
    monkeypatch.setenv("VPP_PREFIX", empty)
    assert V.find_prefix(what=V.API_JSON) is None and V.find_prefix(what=V.BINARY) is None
    monkeypatch.setenv("VPP_PREFIX", fake)
    assert V.find_prefix(what=V.API_JSON) == fake
    assert V.find_prefix(what=V.BINARY) is None
    os.makedirs(os.path.join(fake, "bin"))
    vpp = os.path.join(fake, "bin", "vpp")
    open(vpp, "w").close()
    assert V.find_prefix(what=V.BINARY) is None  # not executable
    os.chmod(vpp, stat.S_IRWXU)
    assert V.find_prefix(what=V.BINARY) == fake


@pytest.mark.parametrize("cmd", [["apply", SEED], ["plan", SEED], ["show", "calls", SEED]])
def test_not_installed(monkeypatch, capsys, empty, tmp_path, cmd):
    monkeypatch.setenv("VPP_PREFIX", empty)
    rc, err = sipalgctl(capsys, "--socket", str(tmp_path / "api.sock"), *cmd)
    assert rc == 2
    assert err == (f"sipalgctl: VPP is not installed: no API definitions "
                   f"(share/vpp/api/**/*.api.json) under {empty} (VPP_PREFIX); install VPP "
                   f"there or set VPP_PREFIX to where it is installed\n")


def test_not_installed_standard_prefixes(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("VPP_PREFIX", raising=False)
    monkeypatch.setattr(V, "PREFIXES", (str(tmp_path / "usr"), str(tmp_path / "opt")))
    rc, err = sipalgctl(capsys, "--socket", str(tmp_path / "api.sock"), "apply", SEED)
    assert rc == 2
    assert err == (f"sipalgctl: VPP is not installed: no API definitions "
                   f"(share/vpp/api/**/*.api.json) under {tmp_path}/usr, {tmp_path}/opt; "
                   f"install VPP, or set VPP_PREFIX (or vpp.prefix in the YAML) to where it is\n")


def test_not_installed_yaml_prefix_wins(monkeypatch, capsys, fake, empty, tmp_path):
    monkeypatch.setenv("VPP_PREFIX", fake)
    cfg = tmp_path / "fw.yaml"
    cfg.write_text(open(SEED).read().replace("vpp:\n", f"vpp:\n  prefix: {empty}\n", 1))
    rc, err = sipalgctl(capsys, "--socket", str(tmp_path / "api.sock"), "apply", str(cfg))
    assert rc == 2
    assert f"VPP is not installed: no API definitions (share/vpp/api/**/*.api.json) under " \
           f"{empty} (vpp.prefix); install VPP there or set vpp.prefix to" in err


def test_up_not_installed(monkeypatch, capsys, fake):
    monkeypatch.setenv("VPP_PREFIX", fake)  # API definitions, but nothing to start
    rc, err = sipalgctl(capsys, "up", SEED)
    assert rc == 2
    assert err == (f"sipalgctl: VPP is not installed: no executable (bin/vpp) under {fake} "
                   f"(VPP_PREFIX); install VPP there or set VPP_PREFIX to where it is "
                   f"installed\n")


@pytest.mark.parametrize("cmd", [["apply", SEED], ["plan", SEED], ["show", "server-map"]])
def test_not_running(monkeypatch, capsys, fake, tmp_path, cmd):
    import vpp_papi  # noqa: F401  a dependency of sipalgctl: its absence is a failure
    monkeypatch.setenv("VPP_PREFIX", fake)
    sock = str(tmp_path / "run" / "api.sock")
    rc, err = sipalgctl(capsys, "--socket", sock, *cmd)
    assert rc == 2
    assert err == (f"sipalgctl: cannot reach VPP at {sock}: no API socket there after 5 s; "
                   "is it running? start it with `sipalgctl up <config.yaml>`\n")


def test_stats_not_running(capsys, tmp_path):
    sock = str(tmp_path / "stats.sock")
    rc, err = sipalgctl(capsys, "stats", "--stats-socket", sock)
    assert rc == 2
    assert err == (f"sipalgctl: cannot reach VPP at {sock}: no stats socket there; "
                   "is it running? start it with `sipalgctl up <config.yaml>`\n")


def test_unloadable_api_definitions(monkeypatch, capsys, fake, tmp_path):
    """A socket is there, but the API definitions are not VPP's: no retrying, no
    "is it running?"."""
    import vpp_papi  # noqa: F401  a dependency of sipalgctl: its absence is a failure
    monkeypatch.setenv("VPP_PREFIX", fake)
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "sip_alg_plugin.so").write_text("")
    (plugin / "sip_alg.api.json").write_text(json.dumps(FAKE_API))
    monkeypatch.setenv("SIPALGCTL_PLUGIN_PATH", str(plugin))
    sock = tmp_path / "api.sock"
    sock.write_text("")
    rc, err = sipalgctl(capsys, "--socket", str(sock), "apply", SEED)
    assert rc == 2
    assert err.startswith(f"sipalgctl: VPP's API definitions under {fake} or the plugin's "
                          f"({plugin}/sip_alg.api.json) cannot be loaded: ")
    assert err.endswith("; reinstall VPP or the plugin\n")


class _Reply:
    def __init__(self, retval, cursor):
        self.retval, self.cursor = retval, cursor


def test_get_continues_after_eagain():
    """A cursor-based *_get that VPP cut short (EAGAIN: its main thread had other work)
    goes on from the returned cursor; every entry arrives once; another error is raised."""
    calls = []

    def server_map_get(cursor):
        calls.append(cursor)
        pages = {0xffffffff: (_Reply(V.Client.EAGAIN, 2), ["e0", "e1"]),
                 2: (_Reply(V.Client.EAGAIN, 4), ["e2", "e3"]),
                 4: (_Reply(0, 0xffffffff), ["e4"])}
        return pages[cursor]

    c = V.Client.__new__(V.Client)
    c.vpp = type("P", (), {"api": type("A", (), {"sip_alg_server_map_get":
                                                staticmethod(server_map_get)})})
    assert c.dump("sip_alg_server_map_get", cursor=0xffffffff) == ["e0", "e1", "e2", "e3", "e4"]
    assert calls == [0xffffffff, 2, 4]

    c.vpp.api.sip_alg_server_map_get = staticmethod(lambda cursor: (_Reply(-7, 0), []))
    with pytest.raises(V.ApiError):
        c.dump("sip_alg_server_map_get", cursor=0xffffffff)


def test_pages_arrive_one_at_a_time():
    """pages() is a generator: the first page is there before the second is asked for, each
    continuation from the cursor of the EAGAIN before it (twice here); stream() the same,
    a detail at a time."""
    calls = []
    pages = {0: (_Reply(V.Client.EAGAIN, 7), ["a", "b"]),
             7: (_Reply(V.Client.EAGAIN, 9), ["c"]),
             9: (_Reply(0, 0xffffffff), ["d", "e"])}

    def calls_get(cursor):
        calls.append(cursor)
        return pages[cursor]

    c = V.Client.__new__(V.Client)
    c.vpp = type("P", (), {"api": type("A", (), {"sip_alg_calls_get":
                                                staticmethod(calls_get)})})
    g = c.pages("sip_alg_calls_get", cursor=0)
    assert calls == []  # nothing asked before the first page is wanted
    assert next(g) == ["a", "b"] and calls == [0]
    assert next(g) == ["c"] and calls == [0, 7]
    assert next(g) == ["d", "e"] and calls == [0, 7, 9]
    with pytest.raises(StopIteration):
        next(g)
    calls.clear()
    s = c.stream("sip_alg_calls_get", cursor=0)
    assert next(s) == "a" and next(s) == "b" and calls == [0]
    assert list(s) == ["c", "d", "e"] and calls == [0, 7, 9]


@pytest.mark.parametrize("details", [[], ["x"]])
def test_pages_of_a_dump_and_a_stuck_get(details):
    """A *_dump (vpp_papi's list) is one page. An EAGAIN that gives back the cursor it was
    asked from would be asked again forever: ApiError."""
    c = V.Client.__new__(V.Client)
    c.vpp = type("P", (), {"api": type("A", (), {
        "nat44_user_dump": staticmethod(lambda: iter([1, 2])),
        "sip_alg_sessions_get": staticmethod(lambda cursor: (_Reply(V.Client.EAGAIN, cursor),
                                                             details))})})
    assert list(c.pages("nat44_user_dump")) == [[1, 2]]
    assert c.dump("nat44_user_dump") == [1, 2]
    with pytest.raises(V.ApiError, match="EAGAIN without progress"):
        c.dump("sip_alg_sessions_get", cursor=5)


def test_pages_error_after_eagain():
    """An error on a later page: the pages before it were given, the failed one is not."""
    c = V.Client.__new__(V.Client)
    pages = {0: (_Reply(V.Client.EAGAIN, 3), ["a"]), 3: (_Reply(-7, 0), ["junk"])}
    c.vpp = type("P", (), {"api": type("A", (), {
        "sip_alg_calls_get": staticmethod(lambda cursor: pages[cursor])})})
    g = c.pages("sip_alg_calls_get", cursor=0)
    assert next(g) == ["a"]
    with pytest.raises(V.ApiError) as e:
        next(g)
    assert e.value.retval == -7 and "'cursor': 3" in str(e.value)


class FakeApi:
    """A running VPP's messages as vpp_papi shows them: one attribute per message it offers
    (vpp_papi drops those the running VPP lacks or has with another CRC)."""


def fake_papi(monkeypatch, offers):
    """vpp_papi with a VPPApiClient that connects and offers the messages in offers."""
    import sys
    import types
    disconnected = []

    class VPPApiClient:
        def __init__(self, apifiles, server_address, use_socket):
            self.api = FakeApi()
            for m in offers:
                setattr(self.api, m, lambda **kw: None)

        def connect(self, name):
            pass

        def disconnect(self):
            disconnected.append(True)

    monkeypatch.setitem(sys.modules, "vpp_papi", types.SimpleNamespace(VPPApiClient=VPPApiClient))
    return disconnected


@pytest.fixture
def connectable(tmp_path, fake):
    """(socket that exists, the plugin with an API JSON of version 0.5.0)."""
    sock = tmp_path / "api.sock"
    sock.write_text("")
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "sip_alg.api.json").write_text(json.dumps(dict(FAKE_API,
                                                              options={"version": "0.5.0"})))
    return str(sock), V.Plugin(str(plugin), str(plugin / "sip_alg.api.json"), "test")


def test_plugin_without_call_timers(monkeypatch, fake, connectable):
    """A VPP whose plugin lacks sip_alg_set_timeouts_v2 (before API 0.12.0, whose set
    messages take a whole section): refused on connect, naming the message and the API
    version of the JSON used."""
    sock, plugin = connectable
    disconnected = fake_papi(monkeypatch, [m for m in V.REQUIRED
                                           if m != "sip_alg_set_timeouts_v2"])
    with pytest.raises(V.Unreachable) as e:
        with V.Client(sock, fake, plugin=plugin, retries=1):
            pass
    assert str(e.value) == (
        f"the running VPP does not offer sip_alg_set_timeouts_v2: sip_alg plugin not loaded, "
        f"or built from another sip_alg.api than {plugin.api_json} (API 0.5.0); this sipalgctl "
        f"needs the plugin's API 0.12.0 or later: build and install the plugin again (make "
        f"plugin, or make install-plugin) and restart VPP")
    assert disconnected == [True]


def test_plugin_without_validation(monkeypatch, fake, connectable):
    """A VPP whose plugin is from API 0.6.0 (no validation, no limits per host, and none of
    API 0.12.0's section messages): refused on connect, naming each missing message."""
    sock, plugin = connectable
    fake_papi(monkeypatch, [m for m in V.REQUIRED
                            if m not in ("sip_alg_set_validation", "sip_alg_set_security_v2")])
    with pytest.raises(V.Unreachable) as e:
        with V.Client(sock, fake, plugin=plugin, retries=1):
            pass
    assert str(e.value).startswith("the running VPP does not offer sip_alg_set_validation, "
                                   "sip_alg_set_security_v2: sip_alg plugin not loaded, ")
    assert "needs the plugin's API 0.12.0 or later" in str(e.value)


def test_plugin_without_servers(monkeypatch, fake, connectable):
    """A VPP whose plugin is from API 0.7.0 (no published SIP servers): refused on connect,
    naming the message."""
    sock, plugin = connectable
    fake_papi(monkeypatch, [m for m in V.REQUIRED if m != "sip_alg_set_servers"])
    with pytest.raises(V.Unreachable) as e:
        with V.Client(sock, fake, plugin=plugin, retries=1):
            pass
    assert str(e.value).startswith("the running VPP does not offer sip_alg_set_servers: sip_alg "
                                   "plugin not loaded, ")
    assert "needs the plugin's API 0.12.0 or later" in str(e.value)


def test_plugin_with_every_message(monkeypatch, fake, connectable):
    sock, plugin = connectable
    fake_papi(monkeypatch, V.REQUIRED)
    with V.Client(sock, fake, plugin=plugin, retries=1) as c:
        assert c.has("sip_alg_set_timeouts_v2") and c.has("sip_alg_get_config")


def test_required_has_every_plugin_request():
    """REQUIRED names every request of sip_alg.api that is not deprecated (the messages
    sipalgctl may send), so a plugin from before any of them is refused on connect; the
    deprecated ones (replaced by a section's message) are not sent."""
    import re
    api = open(os.path.join(HERE, "..", "..", "vpp-plugin", "sip_alg", "sip_alg.api")).read()
    defines = dict(re.findall(r"define\s+(sip_alg_\w+)\s*\{(.*?)\};", api, re.S))
    requests = {m for m, body in defines.items()
                if not m.endswith(("_reply", "_details")) and "option deprecated;" not in body}
    assert set(V.REQUIRED) == requests
    assert {"sip_alg_set_timeouts_v2", "sip_alg_set_limits_v2", "sip_alg_set_security_v2",
            "sip_alg_set_media", "sip_alg_get_limits"} <= set(V.REQUIRED)
    assert not {"sip_alg_set_call_timers", "sip_alg_set_host_limits"} & set(V.REQUIRED)


def test_api_needed_is_not_above_the_plugins_version():
    """The version sipalgctl names as needed is at most the plugin's (sip_alg.api's option
    version): this sipalgctl works with the plugin of its checkout."""
    import re
    api = open(os.path.join(HERE, "..", "..", "vpp-plugin", "sip_alg", "sip_alg.api")).read()
    have = re.search(r'option version = "([\d.]+)";', api).group(1)
    assert tuple(map(int, V.API_NEEDED.split("."))) <= tuple(map(int, have.split(".")))


def test_api_version(tmp_path):
    p = tmp_path / "x.api.json"
    p.write_text(json.dumps({"options": {"version": "0.6.0"}}))
    assert V.api_version(str(p)) == "0.6.0"
    p.write_text("not json")
    assert V.api_version(str(p)) is None
    assert V.api_version(str(tmp_path / "none.json")) is None
    p.write_text("[]")
    assert V.api_version(str(p)) is None
