# SPDX-License-Identifier: Apache-2.0
"""`sipalgctl check`: every broken fixture exits 1 and names each bad YAML path; the
examples pass. Each fixture lists its expected errors as `# expect: <regex>` lines."""

import glob
import os
import re

import pytest
import yaml

from sipalgctl import cli

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
FIXTURES = sorted(glob.glob(os.path.join(HERE, "fixtures", "*.yaml")))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "mgmt", "examples", "*.yaml")))
SEED = os.path.join(ROOT, "mgmt", "examples", "seed.yaml")


def expectations(path):
    return [l[len("# expect: "):].rstrip("\n") for l in open(path) if l.startswith("# expect: ")]


@pytest.mark.parametrize("path", FIXTURES, ids=os.path.basename)
def test_broken_fixture(path, capsys):
    exp = expectations(path)
    assert exp, "fixture without expectations"
    assert cli.main(["check", path]) == 1
    err = capsys.readouterr().err.splitlines()
    for e in exp:
        assert any(re.fullmatch(re.escape(path) + ": " + e + ".*", line) for line in err), \
            f"{e!r} not in {err}"
    # every reported problem is expected: nothing spurious
    assert len(err) == len(exp), err
    # and each names where it is in the file
    for line in err:
        assert re.fullmatch(re.escape(path) + r": (line \d+, column \d+: .*|"
                            r".* \(line \d+, column \d+\))", line), line


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_examples_are_valid(path, capsys):
    assert cli.main(["check", path]) == 0
    assert "ok" in capsys.readouterr().out


def test_missing_file(capsys):
    assert cli.main(["check", "/nonexistent/x.yaml"]) == 1
    assert "No such file" in capsys.readouterr().err


def test_defaults():
    from sipalgctl import config
    cfg = config.load(SEED)
    assert cfg.sip_alg.ports.udp == [5060]
    assert (cfg.sip_alg.timeouts.signaling, cfg.sip_alg.timeouts.media) == (120, 60)
    assert cfg.alg_interfaces() == ["inside", "outside"]
    assert cfg.interfaces["inside"].vpp_ifname == "host-sipalg-in"
    assert cfg.sip_alg.media.other_hosts is False
    assert cfg.sip_alg.limits.max_held == 512


def test_media_other_hosts_on():
    from sipalgctl import config
    assert config.load(os.path.join(HERE, "configs", "full.yaml")).sip_alg.media.other_hosts


@pytest.mark.parametrize("old", [True, False])
def test_media_other_hosts_deprecated_alias(old):
    """The former top-level sip_alg.media_other_hosts is taken as media.other_hosts, with a
    warning; the model has one place for it."""
    cfg = _with(SEED, "sip_alg", "media_other_hosts", old)
    assert cfg.sip_alg.media.other_hosts is old and cfg.sip_alg.media_other_hosts is None
    new = _with(SEED, "sip_alg", "media", {"other_hosts": old})
    assert cfg.sip_alg.media == new.sip_alg.media and not new.warnings
    assert ("sip_alg.media_other_hosts", "deprecated: write media.other_hosts under "
            "sip_alg.media (taken as that)") in cfg.warnings


def test_media_other_hosts_alias_and_new_spelling_refused():
    from sipalgctl import config
    data = yaml.safe_load(open(SEED))
    data["sip_alg"]["media_other_hosts"] = True
    data["sip_alg"]["media"] = {"other_hosts": True}
    with pytest.raises(config.ConfigError) as e:
        config.parse(data)
    assert e.value.problems == [("sip_alg.media_other_hosts",
                                 "the former spelling of sip_alg.media.other_hosts, which is "
                                 "given too: keep only media.other_hosts")]
    data["sip_alg"]["media"] = {"addresses": ["203.0.113.20"]}  # without other_hosts: fine
    assert config.parse(data).sip_alg.media.other_hosts is True


def test_check_summary(capsys):
    assert cli.main(["check", SEED]) == 0
    assert capsys.readouterr().out == (
        f"{SEED}: ok (2 interfaces, 1 NAT addresses, 0 static mappings, SIP ALG on "
        f"inside, outside; SIP over TCP on 5060 (reassembly 16384 bytes); media-other-hosts "
        f"off; SIP servers none; "
        f"firewall off)\n")


def test_check_summary_tcp(capsys):
    """The TCP ports and the reassembly limit, when SIP over TCP is on; off with the ALG."""
    path = os.path.join(HERE, "configs", "full.yaml")
    assert cli.main(["check", path]) == 0
    assert "; SIP over TCP on 5060 (reassembly 32768 bytes); media-other-hosts on; " in \
        capsys.readouterr().out
    from sipalgctl import config
    alg = config.load(path).sip_alg.model_copy(update={"enabled": False})
    assert cli.tcp_summary(alg) == "SIP over TCP off"


def test_check_summary_firewall(capsys):
    path = os.path.join(ROOT, "mgmt", "examples", "firewall.yaml")
    assert cli.main(["check", path]) == 0
    assert capsys.readouterr().out.endswith(
        "; firewall on: outbound permit + 0 rules, inbound deny + 0 rules)\n")


def test_firewall_defaults():
    """No section: off. A section: on, outbound permit, inbound deny, no rules, VPP's own
    session limit; rule fields default to any."""
    from sipalgctl import config
    base = config.load(SEED)
    assert base.firewall.enabled is False
    data = yaml.safe_load(open(SEED))
    data["firewall"] = {"inbound": {"rules": [{"action": "permit"}]}}
    fw = config.parse(data).firewall
    assert fw.enabled and fw.sessions is None
    assert (fw.outbound.default, fw.outbound.rules) == ("permit", [])
    assert fw.inbound.default == "deny"
    assert fw.inbound.rules == [config.FwRuleModel(action="permit")]
    r = fw.inbound.rules[0]
    assert (str(r.src), str(r.dst), r.proto, r.sport, r.dport, r.tag) == \
        ("0.0.0.0/0", "0.0.0.0/0", 0, None, None, None)
    data["firewall"] = {"enabled": False, "inbound": {"default": "permit"}}
    assert config.parse(data).firewall.enabled is False


def test_firewall_rule_fields():
    from sipalgctl import config
    fw = config.load(os.path.join(HERE, "configs", "full.yaml")).firewall
    assert fw.sessions == 200000 and fw.outbound.default == "permit+reflect"
    r = fw.inbound.rules
    assert r[0] == config.FwRuleModel.model_construct(
        action="permit", dst=config.ipaddress.IPv4Network("203.0.113.10/32"), proto=1,
        icmp_type=(8, 8), tag="ping-nat")
    assert (r[1].proto, r[1].sport, r[1].dport) == (17, (1024, 65535), (5060, 5060))
    assert str(r[1].src) == "198.51.100.0/24"
    assert (r[3].icmp_type, r[3].icmp_code) == ((5, 5), (0, 3))
    assert fw.outbound.rules[1].proto == 47


def _with(path, section, key, value):
    """The example at path with data[section][key] = value, parsed."""
    from sipalgctl import config
    data = yaml.safe_load(open(path))
    data.setdefault(section, {})[key] = value
    return config.parse(data)


def test_security_defaults():
    """No sip_alg.security, or an empty one: the plugin's defaults."""
    from sipalgctl import config
    want = config.SecurityModel(max_inbound_calls=1000, max_inbound_per_source=20,
                                max_binding_time=3600, max_entries=65536,
                                max_entries_per_call=24, inside_media_ports="1024-65535")
    assert config.load(SEED).sip_alg.security == want
    assert _with(SEED, "sip_alg", "security", {}).sip_alg.security == want


def test_security_defaults_are_the_plugins():
    """config.SecurityModel's defaults are the SIP_ALG_* values the plugin starts with."""
    from sipalgctl import config
    h = open(os.path.join(ROOT, "vpp-plugin", "sip_alg", "sip_alg.h")).read()
    macro = dict(re.findall(r"#define\s+(SIP_ALG_\w+)\s+(\d+)", h))
    d = config.SecurityModel()
    assert (d.max_inbound_calls, d.max_inbound_per_source, d.max_binding_time, d.max_entries,
            d.max_entries_per_call, d.inside_media_ports) == tuple(int(macro[m]) for m in (
                "SIP_ALG_DEFAULT_MAX_INBOUND", "SIP_ALG_DEFAULT_MAX_INBOUND_SRC",
                "SIP_ALG_DEFAULT_MAX_BINDING", "SIP_ALG_DEFAULT_MAX_ENTRIES",
                "SIP_ALG_DEFAULT_MAX_PER_CALL")) + (
        (int(macro["SIP_ALG_INSIDE_PORT_LO"]), int(macro["SIP_ALG_INSIDE_PORT_HI"])),)


def test_security_keys():
    """Keys given are taken, the rest stay at the defaults (full.yaml leaves max_entries)."""
    from sipalgctl import config
    sec = config.load(os.path.join(HERE, "configs", "full.yaml")).sip_alg.security
    assert sec == config.SecurityModel(max_inbound_calls=200, max_inbound_per_source=5,
                                       max_binding_time=1800, max_entries=65536,
                                       max_entries_per_call=12, inside_media_ports="10000-20000",
                                       max_calls_per_host=50, max_entries_per_host=400)
    # the extremes the plugin accepts
    sec = _with(SEED, "sip_alg", "security", {
        "max_inbound_calls": 1, "max_inbound_per_source": 4294967295, "max_binding_time": 1,
        "max_entries": 1, "max_entries_per_call": 4,
        "inside_media_ports": "65535-65535"}).sip_alg.security
    assert (sec.max_inbound_calls, sec.max_inbound_per_source, sec.max_entries_per_call,
            sec.inside_media_ports) == (1, 4294967295, 4, (65535, 65535))


@pytest.mark.parametrize("value,msg", [
    ("1024-65535", None),
    ("2000-2000", None),
    ("1023-2000", "must satisfy 1024 <= lo <= hi <= 65535, got '1023-2000'"),
    ("3000-2000", "must satisfy 1024 <= lo <= hi <= 65535, got '3000-2000'"),
    ("1024-65536", "must satisfy 1024 <= lo <= hi <= 65535, got '1024-65536'"),
    ("2000", "must be 'lo-hi', got '2000'"),
    (2000, "must be 'lo-hi', got 2000"),
    ("a-b", "must be 'lo-hi', got 'a-b'"),
    ("1024-2000-3000", "must be 'lo-hi', got '1024-2000-3000'"),
])
def test_security_inside_media_ports(value, msg):
    from sipalgctl import config
    if msg is None:
        lo, hi = (int(x) for x in value.split("-"))
        sec = _with(SEED, "sip_alg", "security", {"inside_media_ports": value}).sip_alg.security
        assert sec.inside_media_ports == (lo, hi)
        return
    with pytest.raises(config.ConfigError) as e:
        _with(SEED, "sip_alg", "security", {"inside_media_ports": value})
    assert e.value.problems == [("sip_alg.security.inside_media_ports", msg)]


def test_use_pthreads():
    """vpp.use_pthreads: a bool, false by default (render: test_render.py)."""
    from sipalgctl import config
    assert config.load(SEED).vpp.use_pthreads is False
    assert _with(SEED, "vpp", "use_pthreads", True).vpp.use_pthreads is True
    assert _with(SEED, "vpp", "use_pthreads", False).vpp.use_pthreads is False
    for bad in ("yes", 1, None):
        with pytest.raises(config.ConfigError) as e:
            _with(SEED, "vpp", "use_pthreads", bad)
        assert e.value.problems == [("vpp.use_pthreads", f"must be true or false, got {bad!r}")]


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_examples_document_the_security_defaults(path):
    """The commented-out sip_alg.security block of each example, uncommented (its `#   #`
    lines stay comments), is valid and says the defaults."""
    from sipalgctl import config
    lines = open(path).read().splitlines()
    start = lines.index("  # security:")
    end = next(n for n in range(start, len(lines) + 1)
               if n == len(lines) or not lines[n].startswith("  #"))
    block = ["  " + l[4:] for l in lines[start:end] if not l.startswith("  #   #")]
    data = yaml.safe_load("\n".join(lines[:start] + block + lines[end:]))
    assert set(data["sip_alg"]["security"]) == set(config.SECURITY_MIN) | {
        "inside_media_ports", "max_calls_per_host", "max_entries_per_host"}
    assert config.parse(data).sip_alg.security == config.SecurityModel()


def test_tcp_defaults():
    """No sip_alg.ports.tcp: SIP over TCP on 5060 inspected (SIP_ALG_DEFAULT_TCP_PORT);
    tcp_reassembly the plugin's default (SIP_ALG_DEFAULT_TCP_REASSEMBLY), its bounds what
    sip_alg_set_tcp accepts; `tcp: []` turns SIP over TCP off."""
    from sipalgctl import config
    data = yaml.safe_load(open(SEED))
    del data["sip_alg"]["ports"]["tcp"]
    s = config.parse(data).sip_alg
    assert (s.ports.tcp, s.limits.tcp_reassembly) == ([5060], config.LimitsModel().tcp_reassembly)
    assert config.PortsModel().tcp == [5060]
    assert _with(SEED, "sip_alg", "ports", {"udp": [5060], "tcp": []}).sip_alg.ports.tcp == []
    h = open(os.path.join(ROOT, "vpp-plugin", "sip_alg", "sip_alg.h")).read()
    assert re.search(r"#define\s+SIP_ALG_DEFAULT_TCP_REASSEMBLY\s+(\d+)", h).group(1) == \
        str(s.limits.tcp_reassembly) == "16384"
    types = open(os.path.join(ROOT, "vpp-plugin", "sip_alg", "core", "sip_types.h")).read()
    assert (config.TCP_REASSEMBLY_MIN, config.TCP_REASSEMBLY_MAX) == (1024, int(
        re.search(r"#define\s+SIP_MAX_MSG_LEN\s+(\d+)", types).group(1)))


def test_tcp_from_full():
    from sipalgctl import config
    s = config.load(os.path.join(HERE, "configs", "full.yaml")).sip_alg
    assert (s.ports.udp, s.ports.tcp, s.limits.tcp_reassembly) == ([5060, 5080], [5060], 32768)


@pytest.mark.parametrize("tcp", [[], [5060], [5060, 5061], list(range(5060, 5068)), [1, 65535]])
def test_tcp_ports_accepted(tcp):
    s = _with(SEED, "sip_alg", "ports", {"udp": [5060], "tcp": tcp}).sip_alg
    assert (s.ports.udp, s.ports.tcp) == ([5060], tcp)


@pytest.mark.parametrize("value,msg", [
    (1024, None), (65535, None), (16384, None),
    (1023, "must be between 1024 and 65535, got 1023"),
    (65536, "must be between 1024 and 65535, got 65536"),
    (0, "must be between 1024 and 65535, got 0"),
    ("2048", "must be an integer, got '2048'"),
    (True, "must be an integer, got True"),
])
def test_tcp_reassembly(value, msg):
    from sipalgctl import config
    if msg is None:
        lim = {"max_calls": 10000, "tcp_reassembly": value}
        assert _with(SEED, "sip_alg", "limits", lim).sip_alg.limits.tcp_reassembly == value
        return
    with pytest.raises(config.ConfigError) as e:
        _with(SEED, "sip_alg", "limits", {"tcp_reassembly": value})
    assert e.value.problems == [("sip_alg.limits.tcp_reassembly", msg)]


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_examples_document_tcp(path):
    """Each example names SIP over TCP on 5060, which is also the default: without the line
    the example means the same; the commented-out tcp_reassembly line, uncommented, is valid
    and says the default."""
    from sipalgctl import config
    text = open(path).read()
    assert text.count("\n    tcp: [5060]\n") == 1
    assert config.parse(yaml.safe_load(text)).sip_alg.ports.tcp == [5060]
    without = config.parse(yaml.safe_load(text.replace("\n    tcp: [5060]\n", "\n"))).sip_alg
    assert without.ports.tcp == [5060]
    line = "    # tcp_reassembly: 16384"
    assert text.count(line + "\n") == 1, line
    text = text.replace(line, line.replace("# ", "", 1))
    s = config.parse(yaml.safe_load(text)).sip_alg
    assert (s.ports.tcp, s.limits.tcp_reassembly) == ([5060], config.LimitsModel().tcp_reassembly)


def test_call_timer_defaults():
    """No media_inactivity or max_duration: the plugin's defaults (Juniper SRX's SIP ALG's
    inactive-media-timeout and maximum-call-duration, 120 s and 720 min)."""
    from sipalgctl import config
    s = config.load(SEED).sip_alg.timeouts
    assert (s.media_inactivity, s.max_duration) == (120, 43200)
    s = _with(SEED, "sip_alg", "timeouts", {"signaling": 30}).sip_alg.timeouts
    assert (s.signaling, s.media, s.call, s.media_inactivity, s.max_duration) == \
        (30, 60, 7200, 120, 43200)


def test_call_timer_defaults_are_the_plugins():
    """config.TimeoutsModel's call timers are the SIP_ALG_DEFAULT_* values the plugin starts
    with."""
    from sipalgctl import config
    h = open(os.path.join(ROOT, "vpp-plugin", "sip_alg", "sip_alg.h")).read()
    macro = dict(re.findall(r"#define\s+(SIP_ALG_\w+)\s+(\d+)", h))
    d = config.TimeoutsModel()
    assert (d.media_inactivity, d.max_duration) == (
        int(macro["SIP_ALG_DEFAULT_MEDIA_INACTIVITY"]), int(macro["SIP_ALG_DEFAULT_MAX_DURATION"]))


def test_call_timers_from_full():
    from sipalgctl import config
    s = config.load(os.path.join(HERE, "configs", "full.yaml")).sip_alg.timeouts
    assert (s.signaling, s.media, s.call, s.media_inactivity, s.max_duration,
            s.one_way_media) == (300, 30, 3600, 300, 0, 10)


def test_one_way_media_default_is_the_plugins():
    """No one_way_media: 5 s, the SIP_ALG_DEFAULT_ONE_WAY_MEDIA the plugin starts with."""
    from sipalgctl import config
    h = open(os.path.join(ROOT, "vpp-plugin", "sip_alg", "sip_alg.h")).read()
    macro = dict(re.findall(r"#define\s+(SIP_ALG_\w+)\s+(\d+)", h))
    assert config.TimeoutsModel().one_way_media == \
        int(macro["SIP_ALG_DEFAULT_ONE_WAY_MEDIA"]) == 5
    s = _with(SEED, "sip_alg", "timeouts", {"signaling": 30}).sip_alg
    assert s.timeouts.one_way_media == 5


@pytest.mark.parametrize("key,value,msg", [
    # 0 turns either off; otherwise the bounds, both ends included
    ("media_inactivity", 0, None), ("media_inactivity", 1, None),
    ("media_inactivity", 120, None), ("media_inactivity", 86400, None),
    ("max_duration", 0, None), ("max_duration", 1, None), ("max_duration", 43200, None),
    ("max_duration", 604800, None),
    ("one_way_media", 0, None), ("one_way_media", 1, None), ("one_way_media", 5, None),
    ("one_way_media", 3600, None),
    ("one_way_media", 3601, "must be 0 (off) or between 1 and 3600, got 3601"),
    ("one_way_media", -5, "must be 0 (off) or between 1 and 3600, got -5"),
    ("one_way_media", "5s", "must be an integer, got '5s'"),
    ("one_way_media", True, "must be an integer, got True"),
    ("one_way_media", 2.5, "must be an integer, got 2.5"),
    ("media_inactivity", 86401, "must be 0 (off) or between 1 and 86400, got 86401"),
    ("media_inactivity", -1, "must be 0 (off) or between 1 and 86400, got -1"),
    ("media_inactivity", 4294967295,
     "must be 0 (off) or between 1 and 86400, got 4294967295"),
    ("max_duration", 604801, "must be 0 (off) or between 1 and 604800, got 604801"),
    ("max_duration", -43200, "must be 0 (off) or between 1 and 604800, got -43200"),
    ("max_duration", 2 ** 32, "must be 0 (off) or between 1 and 604800, got 4294967296"),
    # not integers: YAML strings, booleans (0/1 in Python), floats, null, lists
    ("media_inactivity", "120", "must be an integer, got '120'"),
    ("media_inactivity", "off", "must be an integer, got 'off'"),
    ("media_inactivity", False, "must be an integer, got False"),
    ("max_duration", True, "must be an integer, got True"),
    ("max_duration", 43200.0, "must be an integer, got 43200.0"),
    ("max_duration", None, "must be an integer, got None"),
    ("max_duration", [60], "must be an integer, got [60]"),
    ("max_duration", "12h", "must be an integer, got '12h'"),
])
def test_call_timers(key, value, msg):
    from sipalgctl import config
    if msg is None:
        s = _with(SEED, "sip_alg", "timeouts", {key: value}).sip_alg.timeouts
        assert getattr(s, key) == value
        return
    with pytest.raises(config.ConfigError) as e:
        _with(SEED, "sip_alg", "timeouts", {key: value})
    assert e.value.problems == [(f"sip_alg.timeouts.{key}", msg)]


def test_call_timer_unknown_key():
    """A misspelt timer is refused, the allowed keys listed."""
    from sipalgctl import config
    with pytest.raises(config.ConfigError) as e:
        _with(SEED, "sip_alg", "timeouts", {"media_inactive": 60})
    assert e.value.problems == [(
        "sip_alg.timeouts.media_inactive",
        "unknown key (allowed: call, max_duration, media, media_inactivity, one_way_media, "
        "signaling)")]


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_examples_document_the_call_timers(path):
    """Each example says the call timers' defaults."""
    from sipalgctl import config
    data = yaml.safe_load(open(path))
    t = data["sip_alg"]["timeouts"]
    assert (t["media_inactivity"], t["max_duration"], t["one_way_media"]) == (120, 43200, 5)
    d = config.TimeoutsModel()
    assert (d.media_inactivity, d.max_duration, d.one_way_media) == (120, 43200, 5)


# --- values VPP would store differently: `apply` would never settle ------------------------

@pytest.mark.parametrize("value,msg", [
    ("40000-59999", None), ("40000-59998", None), ("1024-1027", None), ("65532-65535", None),
    ("40001-59999", "first port 40001 is odd: the range starts on an even port (RTP even, "
                    "RTCP the odd one above); write 40000-59999 or 40002-59999"),
    ("1025-2000", "first port 1025 is odd: the range starts on an even port (RTP even, RTCP "
                  "the odd one above); write 1024-2000 or 1026-2000"),
])
def test_media_ports_first_port_even(value, msg):
    """sip_alg_set_limits refuses an odd first port (RTP on the even port, RTCP on the odd one
    above): `check` says so first, naming the ranges that would do."""
    from sipalgctl import config
    if msg is None:
        s = _with(SEED, "sip_alg", "limits", {"media_ports": value}).sip_alg.limits
        assert "-".join(map(str, s.media_ports)) == value
        return
    with pytest.raises(config.ConfigError) as e:
        _with(SEED, "sip_alg", "limits", {"media_ports": value})
    assert e.value.problems == [("sip_alg.limits.media_ports", msg)]


@pytest.mark.parametrize("route,path,msg", [
    ({"prefix": "192.168.1.0/24", "via": "192.168.1.1", "interface": "inside"},
     "routes[0].prefix", "192.168.1.0/24 is the network of interfaces.inside: VPP's connected "
     "route for it outranks a static one, which would never show as configured"),
    ({"prefix": "203.0.113.1/32", "via": "203.0.113.2", "interface": "outside"},
     "routes[0].prefix", "203.0.113.1/32 is the address of interfaces.outside: VPP's connected "
     "route for it outranks a static one, which would never show as configured"),
    ({"prefix": "203.0.113.9/32", "via": "203.0.113.9", "interface": "outside"},
     "routes[0].prefix", "203.0.113.9/32 via 203.0.113.9 is a route to its own next hop: VPP "
     "reports it as an attached host, never as this static route"),
    ({"prefix": "203.0.113.9/32", "via": "203.0.113.2", "interface": "outside"}, None, None),
    ({"prefix": "192.168.0.0/16", "via": "192.168.1.1", "interface": "inside"}, None, None),
    ({"prefix": "0.0.0.0/0", "via": "203.0.113.254", "interface": "outside"}, None, None),
])
def test_routes_vpp_would_not_report(route, path, msg):
    """plan.read_state takes a route as configured only when VPP reports it with its next hop
    (one path, not a /32 through itself); a route VPP reports otherwise is refused."""
    from sipalgctl import config
    data = yaml.safe_load(open(SEED))
    data["routes"] = [route]
    if msg is None:
        assert config.parse(data).routes[0].interface == route["interface"]
        return
    with pytest.raises(config.ConfigError) as e:
        config.parse(data)
    assert e.value.problems == [(path, msg)]


def test_pydantic_model():
    """The schema is a pydantic model: its JSON schema carries the constraints, and its
    errors come back as YAML paths, every one at once."""
    from sipalgctl import config
    s = config.ConfigModel.model_json_schema()
    limits = s["$defs"]["LimitsModel"]["properties"]["max_calls"]
    assert (limits["minimum"], limits["maximum"]) == (1, 1 << 24)
    assert s["$defs"]["SecurityModel"]["additionalProperties"] is False
    data = yaml.safe_load(open(SEED))
    data["sip_alg"]["ports"] = {"udp": [5060, 5060, "x"]}
    data["vpp"] = {"workers": -1}
    data["interfaces"]["inside"]["role"] = "lan"
    with pytest.raises(config.ConfigError) as e:
        config.parse(data)
    assert sorted(e.value.problems) == sorted([
        ("sip_alg.ports.udp[1]", "port 5060 listed twice"),
        ("sip_alg.ports.udp[2]", "must be an integer, got 'x'"),
        ("vpp.workers", "must be between 0 and 64, got -1"),
        ("interfaces.inside.role", "must be one of inside, outside, none, got 'lan'")])


# --- limits per inside host, validation ------------------------------------------------------

def test_host_limits_defaults():
    """No key: 0 (off), the plugin's own (no macro: sip_alg_main starts zeroed;
    test_sipalgctl's test_validation_and_host_limits reads them from a fresh VPP)."""
    from sipalgctl import config
    sec = config.load(SEED).sip_alg.security
    assert (sec.max_calls_per_host, sec.max_entries_per_host) == (0, 0)
    sec = config.load(os.path.join(HERE, "configs", "full.yaml")).sip_alg.security
    assert (sec.max_calls_per_host, sec.max_entries_per_host) == (50, 400)


@pytest.mark.parametrize("key", ["max_calls_per_host", "max_entries_per_host"])
@pytest.mark.parametrize("value,msg", [
    (0, None), (1, None), (4294967295, None),
    (-1, "must be between 0 and 4294967295, got -1"),
    (4294967296, "must be between 0 and 4294967295, got 4294967296"),
    ("10", "must be an integer, got '10'"),
    (True, "must be an integer, got True"),
    (2.5, "must be an integer, got 2.5"),
    (None, "must be an integer, got None"),
])
def test_host_limits(key, value, msg):
    from sipalgctl import config
    if msg is None:
        assert getattr(_with(SEED, "sip_alg", "security", {key: value}).sip_alg.security,
                       key) == value
        return
    with pytest.raises(config.ConfigError) as e:
        _with(SEED, "sip_alg", "security", {key: value})
    assert e.value.problems == [(f"sip_alg.security.{key}", msg)]


def _validation(v):
    return _with(SEED, "sip_alg", "validation", v).sip_alg.validation


def test_validation_defaults():
    """No section, an empty one, or empty subsections: the plugin's defaults (lenient, every
    class passes, nothing blocked, no rate limit)."""
    from sipalgctl import config
    want = config.ValidationModel(mode="lenient", actions={"parse": "pass", "header": "pass",
                                                           "sdp": "pass", "too_many": "pass"},
                                  block_methods=[],
                                  rate_limits={"invite": config.RateModel(rate=0, burst=0),
                                               "register": config.RateModel(rate=0, burst=0)})
    assert config.ValidationModel() == want
    assert config.load(SEED).sip_alg.validation == want
    assert _validation({}) == want
    assert _validation(None) == want
    assert _validation({"actions": {}, "block_methods": [], "rate_limits": {}}) == want
    assert _validation({"rate_limits": None}) == want


def test_validation_from_full():
    from sipalgctl import config
    v = config.load(os.path.join(HERE, "configs", "full.yaml")).sip_alg.validation
    assert v == config.ValidationModel(
        mode="strict", actions={"parse": "drop", "header": "drop", "sdp": "pass",
                                "too_many": "drop"},
        block_methods=["OPTIONS", "MESSAGE", "OTHER"],
        rate_limits={"invite": config.RateModel(rate=20, burst=40),
                     "register": config.RateModel(rate=5, burst=5)})


@pytest.mark.parametrize("mode,actions,want", [
    ("lenient", {}, ("pass", "pass", "pass", "pass")),
    ("strict", {}, ("drop", "drop", "drop", "drop")),
    ("strict", {"sdp": "pass"}, ("drop", "drop", "pass", "drop")),
    ("lenient", {"parse": "drop", "too_many": "drop"}, ("drop", "pass", "pass", "drop")),
    ("lenient", {"parse": "pass", "header": "pass", "sdp": "pass", "too_many": "pass"},
     ("pass", "pass", "pass", "pass")),
    ("strict", {"parse": "pass", "header": "pass", "sdp": "pass", "too_many": "pass"},
     ("pass", "pass", "pass", "pass")),
    (None, {"header": "drop"}, ("pass", "drop", "pass", "pass")),
])
def test_validation_mode_gives_the_default_actions(mode, actions, want):
    """Each class not named takes the mode's action (strict: drop, lenient: pass); a class
    named keeps its own whatever the mode; no mode: lenient."""
    v = _validation(dict({"actions": actions}, **({"mode": mode} if mode else {})))
    assert v.mode == (mode or "lenient")
    assert tuple(getattr(v.actions, c) for c in ("parse", "header", "sdp", "too_many")) == want


def test_validation_block_methods():
    """Any case; kept in the plugin's order (sip_method_t), whatever the YAML's; every name
    of the plugin's list, OTHER included."""
    from sipalgctl import defaults as D
    assert _validation({"block_methods": ["other", "Message", "OPTIONS"]}).block_methods == \
        ("OPTIONS", "MESSAGE", "OTHER")
    assert _validation({"block_methods": [m.lower() for m in reversed(D.SIP_METHODS)]}) \
        .block_methods == D.SIP_METHODS
    assert _validation({"block_methods": []}).block_methods == ()


@pytest.mark.parametrize("rates,want", [
    ({"invite": {"rate": 20}}, ((20, 20), (0, 0))),  # burst: the rate
    ({"invite": {"rate": 20, "burst": 40}, "register": {"rate": 5}}, ((20, 40), (5, 5))),
    ({"register": {"rate": 1, "burst": 1}}, ((0, 0), (1, 1))),
    ({"invite": {"rate": 100, "burst": 1}}, ((100, 1), (0, 0))),  # a burst below the rate
    ({"invite": {"rate": 0}}, ((0, 0), (0, 0))),  # 0: off
    ({"invite": {"rate": 0, "burst": 8}}, ((0, 8), (0, 0))),  # off; kept as written
    ({"invite": {"rate": 0, "burst": 0}}, ((0, 0), (0, 0))),  # as get_config says "off"
    ({"invite": {"rate": 4294967295, "burst": 4294967295}, "register": {"rate": 0}},
     ((4294967295, 4294967295), (0, 0))),
])
def test_validation_rate_limits(rates, want):
    v = _validation({"rate_limits": rates})
    assert tuple((v.rate_limits[m].rate, v.rate_limits[m].burst)
                 for m in ("invite", "register")) == want


METHODS = ("INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, PRACK, UPDATE, INFO, SUBSCRIBE, NOTIFY, "
           "MESSAGE, REFER, PUBLISH, OTHER; OTHER: any other method")


@pytest.mark.parametrize("validation,problems", [
    ([], [("sip_alg.validation", "must be a mapping, got list")]),
    ("strict", [("sip_alg.validation", "must be a mapping, got str")]),
    ({"strict": True}, [("sip_alg.validation.strict", "unknown key (allowed: actions, "
                                                      "block_methods, mode, rate_limits)")]),
    ({"mode": "STRICT"}, [("sip_alg.validation.mode",
                           "must be one of strict, lenient, got 'STRICT'")]),
    ({"mode": "paranoid"}, [("sip_alg.validation.mode",
                             "must be one of strict, lenient, got 'paranoid'")]),
    ({"mode": True}, [("sip_alg.validation.mode", "must be a non-empty string, got True")]),
    ({"mode": None}, [("sip_alg.validation.mode", "must be a non-empty string, got None")]),
    ({"actions": ["sdp"]}, [("sip_alg.validation.actions", "must be a mapping, got list")]),
    ({"actions": {"sdp": "reject"}}, [("sip_alg.validation.actions.sdp",
                                       "must be one of pass, drop, got 'reject'")]),
    ({"actions": {"parse": "DROP"}}, [("sip_alg.validation.actions.parse",
                                       "must be one of pass, drop, got 'DROP'")]),
    ({"actions": {"header": False}}, [("sip_alg.validation.actions.header",
                                       "must be a non-empty string, got False")]),
    ({"actions": {"too_many": None}}, [("sip_alg.validation.actions.too_many",
                                        "must be a non-empty string, got None")]),
    ({"actions": {"too-many": "drop"}}, [("sip_alg.validation.actions.too-many",
                                          "unknown key (allowed: header, parse, sdp, "
                                          "too_many)")]),
    ({"block_methods": "MESSAGE"}, [("sip_alg.validation.block_methods",
                                     "must be a list of SIP methods")]),
    ({"block_methods": None}, [("sip_alg.validation.block_methods",
                                "must be a list of SIP methods")]),
    ({"block_methods": ["MESSAGE", "FOO"]}, [("sip_alg.validation.block_methods[1]",
                                              f"unknown method 'FOO' (one of {METHODS})")]),
    ({"block_methods": ["none"]}, [("sip_alg.validation.block_methods[0]",
                                    f"unknown method 'none' (one of {METHODS})")]),
    ({"block_methods": ["INVITE "]}, [("sip_alg.validation.block_methods[0]",
                                       f"unknown method 'INVITE ' (one of {METHODS})")]),
    ({"block_methods": [12]}, [("sip_alg.validation.block_methods[0]",
                                "must be a SIP method name, got 12")]),
    ({"block_methods": [""]}, [("sip_alg.validation.block_methods[0]",
                                "must be a SIP method name, got ''")]),
    ({"block_methods": ["message", "MESSAGE"]}, [("sip_alg.validation.block_methods[1]",
                                                  "MESSAGE listed twice")]),
    ({"rate_limits": [20]}, [("sip_alg.validation.rate_limits", "must be a mapping, got list")]),
    ({"rate_limits": {"options": {"rate": 1}}}, [("sip_alg.validation.rate_limits.options",
                                                  "unknown key (allowed: invite, register)")]),
    ({"rate_limits": {"INVITE": {"rate": 1}}}, [("sip_alg.validation.rate_limits.INVITE",
                                                 "unknown key (allowed: invite, register)")]),
    ({"rate_limits": {"invite": 20}}, [("sip_alg.validation.rate_limits.invite",
                                        "must be a mapping, got int")]),
    ({"rate_limits": {"invite": {}}}, [("sip_alg.validation.rate_limits.invite.rate",
                                        "required")]),
    ({"rate_limits": {"invite": {"burst": 5}}}, [("sip_alg.validation.rate_limits.invite.rate",
                                                  "required")]),
    ({"rate_limits": {"invite": {"rate": -1}}}, [("sip_alg.validation.rate_limits.invite.rate",
                                                  "must be between 0 and 4294967295, got -1")]),
    ({"rate_limits": {"register": {"rate": 2 ** 32}}}, [
        ("sip_alg.validation.rate_limits.register.rate",
         "must be between 0 and 4294967295, got 4294967296")]),
    ({"rate_limits": {"invite": {"rate": "20/s"}}}, [
        ("sip_alg.validation.rate_limits.invite.rate", "must be an integer, got '20/s'")]),
    ({"rate_limits": {"invite": {"rate": 0.5}}}, [
        ("sip_alg.validation.rate_limits.invite.rate", "must be an integer, got 0.5")]),
    ({"rate_limits": {"invite": {"rate": True}}}, [
        ("sip_alg.validation.rate_limits.invite.rate", "must be an integer, got True")]),
    ({"rate_limits": {"invite": {"rate": 20, "burst": 0}}}, [
        ("sip_alg.validation.rate_limits.invite.burst",
         "must be between 1 and 4294967295 when rate is not 0, got 0")]),
    ({"rate_limits": {"invite": {"rate": 20, "burst": -1}}}, [
        ("sip_alg.validation.rate_limits.invite.burst",
         "must be between 0 and 4294967295, got -1")]),
    ({"rate_limits": {"invite": {"rate": 1, "burst": 2 ** 32}}}, [
        ("sip_alg.validation.rate_limits.invite.burst",
         "must be between 0 and 4294967295, got 4294967296")]),
    ({"rate_limits": {"register": {"rate": 20, "burst": "40"}}}, [
        ("sip_alg.validation.rate_limits.register.burst", "must be an integer, got '40'")]),
    ({"rate_limits": {"invite": {"rate": 20, "brust": 40}}}, [
        ("sip_alg.validation.rate_limits.invite.brust", "unknown key (allowed: burst, rate)")]),
])
def test_validation_bad(validation, problems):
    """Every bad value is refused with its YAML path and the value."""
    from sipalgctl import config
    with pytest.raises(config.ConfigError) as e:
        _validation(validation)
    assert e.value.problems == problems


def test_validation_every_problem_at_once():
    from sipalgctl import config
    with pytest.raises(config.ConfigError) as e:
        _validation({"mode": "x", "actions": {"sdp": "keep"}, "block_methods": ["FOO", 1],
                     "rate_limits": {"invite": {"rate": -1, "burst": 0}, "register": {},
                                     "options": {}}})
    assert sorted(e.value.problems) == sorted([
        ("sip_alg.validation.mode", "must be one of strict, lenient, got 'x'"),
        ("sip_alg.validation.actions.sdp", "must be one of pass, drop, got 'keep'"),
        ("sip_alg.validation.block_methods[0]", f"unknown method 'FOO' (one of {METHODS})"),
        ("sip_alg.validation.block_methods[1]", "must be a SIP method name, got 1"),
        ("sip_alg.validation.rate_limits.invite.rate",
         "must be between 0 and 4294967295, got -1"),
        ("sip_alg.validation.rate_limits.register.rate", "required"),
        ("sip_alg.validation.rate_limits.options", "unknown key (allowed: invite, register)")])


@pytest.mark.parametrize("methods,warned", [
    (["MESSAGE", "SUBSCRIBE", "OTHER", "OPTIONS", "REGISTER"], []),
    (["invite"], ["INVITE"]),
    (["MESSAGE", "bye", "Cancel", "ACK", "INVITE"], ["INVITE", "ACK", "BYE", "CANCEL"]),
])
def test_validation_blocking_call_methods_warns(methods, warned, tmp_path, capsys):
    """Blocking a method every call needs is valid (an outbound-only site may mean it) but
    warned about, on stderr, by every command that reads the file; check still exits 0."""
    data = yaml.safe_load(open(SEED))
    data["sip_alg"]["validation"] = {"block_methods": methods}
    path = tmp_path / "v.yaml"
    path.write_text(yaml.safe_dump(data))
    from sipalgctl import config
    cfg = config.load(str(path))
    assert [p for p, _ in cfg.warnings] == ["sip_alg.validation.block_methods"] * len(warned)
    assert [m.split(" ")[0] for _, m in cfg.warnings] == warned
    assert cli.main(["check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert ": ok (" in out
    lines = err.splitlines()
    assert len(lines) == len(warned)
    for line, m in zip(lines, warned):
        assert line.startswith(f"{path}: sip_alg.validation.block_methods: warning: {m} "
                               f"blocked from outside: ")
    if "INVITE" in warned:
        assert "every inbound call is refused" in err


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_examples_document_the_validation_defaults(path):
    """The commented-out sip_alg.validation block of each example, uncommented (its `#   #`
    lines stay comments), is valid, has every key and says the defaults."""
    from sipalgctl import config
    lines = open(path).read().splitlines()
    start = lines.index("  # validation:")
    end = next(n for n in range(start, len(lines) + 1)
               if n == len(lines) or not lines[n].startswith("  #"))
    block = ["  " + l[4:] for l in lines[start:end] if not l.startswith("  #   #")]
    data = yaml.safe_load("\n".join(lines[:start] + block + lines[end:]))
    v = data["sip_alg"]["validation"]
    assert set(v) == set(config.ValidationModel.model_fields)
    assert set(v["actions"]) == set(config.ActionsModel.model_fields)
    assert set(v["rate_limits"]) == {"invite", "register"}
    assert config.parse(data).sip_alg.validation == config.ValidationModel()


# --- published SIP servers ---------------------------------------------------------------------

PBX = os.path.join(ROOT, "mgmt", "examples", "pbx-inside.yaml")


def _servers(cfg):
    return [f"{a}:{p}" for a, p in cfg.sip_alg.servers]


def _mappings(*maps, ports=None, servers=None):
    """The seed with these static mappings (protocol, local, external port), sip_alg.ports
    and sip_alg.servers when given, parsed."""
    from sipalgctl import config
    data = yaml.safe_load(open(SEED))
    data["nat44"]["static_mappings"] = [
        {"protocol": p, "local": local, "external": f"203.0.113.10:{ext}"}
        for p, local, ext in maps]
    if ports is not None:
        data["sip_alg"]["ports"] = ports
    if servers is not None:
        data["sip_alg"]["servers"] = servers
    return config.parse(data)


def test_servers_derived_from_the_static_mappings():
    """No sip_alg.servers: each static mapping whose local port is a SIP port of its protocol
    publishes its local endpoint, once, in the mappings' order; other mappings publish
    nothing."""
    cfg = _mappings(("tcp", "192.168.1.7:5061", 5061), ("udp", "192.168.1.5:5060", 5060),
                    ("tcp", "192.168.1.5:5060", 5060), ("udp", "192.168.1.6:443", 443),
                    ("udp", "192.168.1.8:5061", 5070), ("tcp", "192.168.1.9:5080", 5080),
                    ("udp", "192.168.1.9:5080", 5082),
                    ports={"udp": [5060, 5080], "tcp": [5060, 5061]})
    # 5061 is a TCP SIP port only, 5080 a UDP one only
    assert _servers(cfg) == ["192.168.1.7:5061", "192.168.1.5:5060", "192.168.1.9:5080"]
    assert not cfg.sip_alg.servers_explicit
    # the external endpoint does not matter, the local one does
    cfg = _mappings(("udp", "192.168.1.5:5060", 5099))
    assert _servers(cfg) == ["192.168.1.5:5060"]


def test_servers_derived_not_from_other_protocols_ports():
    """A udp mapping counts against ports.udp and a tcp mapping against ports.tcp: SIP over
    TCP off, a TCP mapping of 5060 publishes nothing."""
    assert _servers(_mappings(("tcp", "192.168.1.5:5060", 5060),
                              ports={"udp": [5060], "tcp": []})) == []
    cfg = _mappings(("tcp", "192.168.1.5:5060", 5060), ports={"udp": [5060], "tcp": [5060]})
    assert _servers(cfg) == ["192.168.1.5:5060"]


def test_servers_none_without_mappings():
    from sipalgctl import config
    s = config.load(SEED).sip_alg
    assert (s.servers, s.servers_explicit) == ([], False)


def test_servers_of_the_pbx_example():
    """pbx-inside.yaml gives no sip_alg.servers: its two static mappings of 192.168.1.5:5060
    (UDP and TCP, both SIP ports) publish the PBX once."""
    from sipalgctl import config
    cfg = config.load(PBX)
    assert "servers" not in yaml.safe_load(open(PBX))["sip_alg"]
    assert _servers(cfg) == ["192.168.1.5:5060"] and not cfg.sip_alg.servers_explicit
    assert cfg.warnings == []


@pytest.mark.parametrize("servers", [[], ["192.168.1.9:5060"],
                                     ["192.168.1.9:5060", "192.168.1.5:5060"]])
def test_servers_explicit_taken_as_they_are(servers):
    """sip_alg.servers given: that list, in its order, whatever the static mappings publish;
    [] is none."""
    cfg = _mappings(("udp", "192.168.1.5:5060", 5060), servers=servers)
    assert _servers(cfg) == servers and cfg.sip_alg.servers_explicit


def test_servers_explicit_on_tcp_port():
    cfg = _mappings(ports={"udp": [5060], "tcp": [5061]},
                    servers=["192.168.1.5:5061", "192.168.1.5:5060"])
    assert _servers(cfg) == ["192.168.1.5:5061", "192.168.1.5:5060"]


def test_servers_sixteen():
    cfg = _mappings(servers=[f"192.168.1.{n}:5060" for n in range(1, 17)])
    assert len(cfg.sip_alg.servers) == 16
    cfg = _mappings(*[("udp", f"192.168.1.{n}:5060", 5100 + n) for n in range(1, 17)])
    assert len(cfg.sip_alg.servers) == 16


@pytest.mark.parametrize("value,problems", [
    ("192.168.1.5:5060", [("sip_alg.servers", "must be a list of inside-address:port entries")]),
    (None, [("sip_alg.servers", "must be a list of inside-address:port entries")]),
    ({"a": 1}, [("sip_alg.servers", "must be a list of inside-address:port entries")]),
    (["192.168.1.5:5060:1"], [("sip_alg.servers[0]",
                               "must be address:port, got '192.168.1.5:5060:1'")]),
    (["224.0.0.1:5060"], [("sip_alg.servers[0]",
                           "must be an inside host's address:port, got '224.0.0.1:5060'")]),
    (["255.255.255.255:5060"], [("sip_alg.servers[0]", "must be an inside host's "
                                 "address:port, got '255.255.255.255:5060'")]),
    (["192.168.1.5:5060", "192.168.1.5:5060", "192.168.1.5:5060"],
     [("sip_alg.servers[1]", "192.168.1.5:5060 listed twice"),
      ("sip_alg.servers[2]", "192.168.1.5:5060 listed twice")]),
    (["192.168.1.5:5062"], [("sip_alg.servers[0]",
                             "192.168.1.5:5062: port 5062 is not one of the ALG's SIP ports "
                             "(sip_alg.ports: udp 5060, tcp 5060): add it there, or the ALG "
                             "does not inspect the server's SIP")]),
])
def test_servers_bad(value, problems):
    from sipalgctl import config
    with pytest.raises(config.ConfigError) as e:
        _with(SEED, "sip_alg", "servers", value)
    assert e.value.problems == problems


def test_servers_unmapped_warns(tmp_path, capsys):
    """An explicit server that no static mapping publishes is valid (the operator may map it
    later) but warned about: nothing reaches it from outside, and the ALG makes no signaling
    pinhole for it."""
    cfg = _mappings(("udp", "192.168.1.5:5060", 5060),
                    servers=["192.168.1.5:5060", "192.168.1.6:5060"])
    assert cfg.warnings == [("sip_alg.servers[1]",
                             "192.168.1.6:5060 is the local endpoint of no nat44.static_mappings "
                             "entry: nothing publishes it, and the ALG makes no signaling "
                             "pinhole for a server")]
    data = yaml.safe_load(open(SEED))
    data["sip_alg"]["servers"] = ["192.168.1.6:5060"]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    assert cli.main(["check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == f"{path}: sip_alg.servers[0]: warning: 192.168.1.6:5060 is the local " \
                  f"endpoint of no nat44.static_mappings entry: nothing publishes it, and the " \
                  f"ALG makes no signaling pinhole for a server\n"
    assert "; SIP servers 192.168.1.6:5060 (sip_alg.servers); " in out


def test_check_summary_servers(capsys):
    assert cli.main(["check", PBX]) == 0
    assert "; SIP servers 192.168.1.5:5060 (from nat44.static_mappings); " in \
        capsys.readouterr().out


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_examples_document_servers(path):
    """Each example documents sip_alg.servers as a commented-out key whose value,
    uncommented, is valid and taken as it is; without it the servers are the ones its
    static mappings publish."""
    from sipalgctl import config
    text = open(path).read()
    line = "  # servers: [192.168.1.5:5060]"
    assert text.count(line + "\n") == 1
    prose = " ".join(l.strip().lstrip("# ") for l in text.splitlines())
    assert "entry whose local port is one of the SIP ports of its protocol (a udp mapping's in " \
           "ports.udp, a tcp mapping's in ports.tcp) publishes a SIP server" in prose
    cfg = config.parse(yaml.safe_load(text.replace(line, line.replace("# ", "", 1))))
    assert _servers(cfg) == ["192.168.1.5:5060"] and cfg.sip_alg.servers_explicit


# --- VRF tables and tenants ---------------------------------------------------------------------

TENANTS = os.path.join(ROOT, "mgmt", "examples", "tenants.yaml")


def test_tenants_example():
    """tenants.yaml: two tables, an inside interface in each with the same network, the
    outside in the default table, an address of each tenant's in the pool."""
    from sipalgctl import config
    cfg = config.load(TENANTS)
    assert {n: v.table for n, v in cfg.vrfs.items()} == {"tenant-a": 10, "tenant-b": 20}
    assert {n: (i.vrf, str(i.address)) for n, i in cfg.interfaces.items()} == {
        "inside-a": ("tenant-a", "192.168.1.254/24"), "inside-b": ("tenant-b", "192.168.1.254/24"),
        "outside": (None, "203.0.113.1/24")}
    assert [str(e.address) for e in cfg.nat44.pool] == ["203.0.113.10", "203.0.113.11"]
    assert {str(e.address): e.vrf for e in cfg.nat44.pool if e.vrf is not None} == {
        "203.0.113.10": "tenant-a", "203.0.113.11": "tenant-b"}
    assert [cfg.table(i.vrf) for i in cfg.interfaces.values()] == [10, 20, 0]
    assert cfg.routes[0].vrf is None and cfg.warnings == []
    assert cfg.alg_interfaces() == ["inside-a", "inside-b", "outside"]


def test_tenants_example_static_mapping_comment():
    """The commented-out static mapping of tenants.yaml, uncommented, is valid: in tenant-b's
    table."""
    from sipalgctl import config
    text = open(TENANTS).read()
    block = ('  # static_mappings:\n'
             '  #   - {protocol: udp, local: "192.168.1.5:5060", external: "203.0.113.11:5060",\n'
             '  #      vrf: tenant-b}\n')
    assert text.count(block) == 1
    cfg = config.parse(yaml.safe_load(text.replace(block, block.replace("  # ", "  "))))
    (m,) = cfg.nat44.static_mappings
    assert (m.vrf, cfg.table(m.vrf), str(m.external[0])) == ("tenant-b", 20, "203.0.113.11")


def _tenants(**changes):
    """tenants.yaml with changes applied to its data (functions of the data), parsed."""
    from sipalgctl import config
    data = yaml.safe_load(open(TENANTS))
    for f in changes.values():
        f(data)
    return config.parse(data)


def test_no_vrfs_is_the_default_table():
    from sipalgctl import config
    cfg = config.load(SEED)
    assert cfg.vrfs == {} and all(i.vrf is None for i in cfg.interfaces.values())
    assert all(e.vrf is None for e in cfg.nat44.pool) and cfg.table(None) == 0


def test_empty_vrfs_section():
    """`vrfs:` with nothing under it: no tables."""
    from sipalgctl import config
    data = yaml.safe_load(open(SEED))
    data["vrfs"] = None
    assert config.parse(data).vrfs == {}


def test_route_in_its_interfaces_table_unless_it_says():
    """A route without vrf is in its interface's table; with one, in that table."""
    def routes(d):
        d["routes"] = [{"prefix": "10.1.0.0/16", "via": "192.168.1.9", "interface": "inside-a"},
                       {"prefix": "10.2.0.0/16", "via": "192.168.1.9", "interface": "inside-b",
                        "vrf": "tenant-a"},
                       {"prefix": "0.0.0.0/0", "via": "203.0.113.2", "interface": "outside"}]
    cfg = _tenants(r=routes)
    assert [(r.vrf, cfg.table(r.vrf)) for r in cfg.routes] == \
        [("tenant-a", 10), ("tenant-a", 10), (None, 0)]


@pytest.mark.parametrize("route,msg", [
    # the network of inside-a, in tenant-a's table: its connected route outranks it
    ({"prefix": "192.168.1.0/24", "via": "192.168.1.9", "interface": "inside-a"},
     "192.168.1.0/24 is the network of interfaces.inside-a"),
    ({"prefix": "192.168.1.254/32", "via": "192.168.1.9", "interface": "inside-b"},
     "192.168.1.254/32 is the address of interfaces.inside-b"),
    # in the default table, where no interface has that network: fine
    ({"prefix": "192.168.1.0/24", "via": "203.0.113.2", "interface": "outside"}, None),
    # a route of tenant-b's table through the outside interface
    ({"prefix": "192.168.1.0/24", "via": "203.0.113.2", "interface": "outside",
      "vrf": "tenant-b"}, "192.168.1.0/24 is the network of interfaces.inside-b"),
])
def test_routes_vpp_would_not_report_per_table(route, msg):
    """A route to an interface's own network is refused in that interface's table only."""
    from sipalgctl import config

    def routes(d):
        d["routes"] = [route]
    if msg is None:
        _tenants(r=routes)
        return
    with pytest.raises(config.ConfigError) as e:
        _tenants(r=routes)
    assert [(p, m.split(":")[0]) for p, m in e.value.problems] == [("routes[0].prefix", msg)]


def test_shared_pool_address_serves_every_table():
    """An address without vrf is NAT44-ED's for any table without one of its own: the
    tenants may share it (no error, no warning)."""
    def pool(d):
        d["nat44"]["pool"] = ["203.0.113.10"]
    cfg = _tenants(p=pool)
    assert all(e.vrf is None for e in cfg.nat44.pool) and cfg.warnings == []

    def pool_b(d):
        d["nat44"]["pool"] = ["203.0.113.10", {"address": "203.0.113.11", "vrf": "tenant-b"}]
    cfg = _tenants(p=pool_b)
    assert {str(e.address): e.vrf for e in cfg.nat44.pool if e.vrf is not None} == {
        "203.0.113.11": "tenant-b"}


def test_vrf_warnings(tmp_path, capsys):
    """A table nothing is in, and a tenant address no inside interface uses: valid, warned."""
    def extra(d):
        d["vrfs"]["spare"] = {"table": 30}
        d["vrfs"]["outer"] = {"table": 40}
        d["interfaces"]["outside"]["vrf"] = "outer"
        d["nat44"]["pool"].append({"address": "203.0.113.12", "vrf": "outer"})
    cfg = _tenants(x=extra)
    assert cfg.warnings == [
        ("vrfs.spare", "no interface, route, nat44.pool address or static mapping is in it: an "
                       "empty table"),
        ("nat44.pool[2].vrf", "no inside interface is in vrf outer: NAT44-ED translates "
                              "nothing to 203.0.113.12")]
    # the outside in a table of its own is fine; its route follows it
    assert cfg.table(cfg.interfaces["outside"].vrf) == 40 and cfg.routes[0].vrf == "outer"
    data = yaml.safe_load(open(TENANTS))
    extra(data)
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data))
    assert cli.main(["check", str(path)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [f"{path}: vrfs.spare: warning: no interface, route, nat44.pool address or "
                   f"static mapping is in it: an empty table",
                   f"{path}: nat44.pool[2].vrf: warning: no inside interface is in vrf outer: "
                   f"NAT44-ED translates nothing to 203.0.113.12"]


@pytest.mark.parametrize("name,ok", [("t" * 63, True), ("t" * 64, False), ("a_b-9", True),
                                     ("tenänt", False), ("Public", True)])
def test_vrf_names(name, ok):
    """VPP's table names: letters, digits, '-' and '_' (ASCII), at most 63 characters;
    'public' is the default table's."""
    from sipalgctl import config
    data = yaml.safe_load(open(SEED))
    data["vrfs"] = {name: {"table": 7}}
    data["interfaces"]["inside"]["vrf"] = name
    if ok:
        assert {n: v.table for n, v in config.parse(data).vrfs.items()} == {name: 7}
        return
    with pytest.raises(config.ConfigError) as e:
        config.parse(data)
    assert [p for p, _ in e.value.problems] == [f"vrfs.{name}"]


@pytest.mark.parametrize("table", [1, 10, 4294967294])
def test_vrf_tables(table):
    from sipalgctl import config
    data = yaml.safe_load(open(SEED))
    data["vrfs"] = {"t": {"table": table}}
    data["interfaces"]["inside"]["vrf"] = "t"
    assert config.parse(data).table("t") == table


def test_check_summary_vrfs(capsys):
    assert cli.main(["check", TENANTS]) == 0
    assert capsys.readouterr().out.startswith(
        f"{TENANTS}: ok (3 interfaces, VRFs tenant-a (table 10), tenant-b (table 20), 2 NAT "
        f"addresses, 0 static mappings, SIP ALG on inside-a, inside-b, outside; ")


def test_vrf_without_route_out_warns():
    """An inside interface's table without a route through an outside interface (and no
    outside interface in it): valid, warned once per table. NAT44-ED routes the inside's
    packets of flows the outside started through a static mapping in that table."""
    def no_routes_out(d):
        d["routes"] = d["routes"][:1]
        d["interfaces"]["inside-c"] = dict(d["interfaces"]["inside-a"], host_if="sipalg-in-c",
                                           address="192.168.3.254/24")
    cfg = _tenants(r=no_routes_out)
    assert [(p, m[:59]) for p, m in cfg.warnings] == [
        ("interfaces.inside-a.vrf", "vrf tenant-a has no route through an outside interface: "
                                    "NAT"),
        ("interfaces.inside-b.vrf", "vrf tenant-b has no route through an outside interface: "
                                    "NAT")]
    assert cfg.warnings[0][1].endswith("add its routes out (routes[] with vrf: tenant-a and an "
                                       "outside interface)")

    def outside_in_b(d):
        no_routes_out(d)
        d["interfaces"]["outside"]["vrf"] = "tenant-b"
        d["routes"][0]["vrf"] = "tenant-a"  # the default table has no inside interface
    cfg = _tenants(r=outside_in_b)
    assert cfg.warnings == []


# --- media public addresses ----------------------------------------------------------------

MEDIA = ["203.0.113.20", "203.0.113.21"]


def test_media_addresses_default_and_taken_in_order():
    """No sip_alg.media (or no addresses): none, the signaling's address; a list is taken in
    its order (each is a slot of the plugin's pool)."""
    from sipalgctl import config
    assert config.load(SEED).sip_alg.media.addresses == []
    assert _with(SEED, "sip_alg", "media", {}).sip_alg.media.addresses == []
    got = _with(SEED, "sip_alg", "media", {"addresses": MEDIA[::-1]}).sip_alg.media.addresses
    assert [str(a) for a in got] == MEDIA[::-1]
    sixteen = [f"198.51.100.{n}" for n in range(1, 17)]
    assert len(_with(SEED, "sip_alg", "media", {"addresses": sixteen}).sip_alg.media.addresses) \
        == 16


@pytest.mark.parametrize("value,problems", [
    ("203.0.113.20", [("sip_alg.media.addresses", "must be a list of IPv4 addresses")]),
    (["203.0.113.300"], [("sip_alg.media.addresses[0]",
                          "must be an IPv4 address, got '203.0.113.300'")]),
    ([5], [("sip_alg.media.addresses[0]", "must be an IPv4 address, got 5")]),
    (["203.0.113.20", "0.0.0.0"], [("sip_alg.media.addresses[1]",
                                    "0.0.0.0 is not a host's address (0.0.0.0/8): media "
                                    "pinholes need public unicast addresses")]),
    (["127.0.0.1"], [("sip_alg.media.addresses[0]", "127.0.0.1 is a loopback address: media "
                      "pinholes need public unicast addresses")]),
    (["224.0.0.5"], [("sip_alg.media.addresses[0]", "224.0.0.5 is a multicast address: media "
                      "pinholes need public unicast addresses")]),
    (["255.255.255.255"], [("sip_alg.media.addresses[0]", "255.255.255.255 is the broadcast "
                            "address: media pinholes need public unicast addresses")]),
    (["240.0.0.1"], [("sip_alg.media.addresses[0]", "240.0.0.1 is a reserved address "
                      "(240.0.0.0/4): media pinholes need public unicast addresses")]),
    (["203.0.113.20", "203.0.113.21", "203.0.113.20"],
     [("sip_alg.media.addresses[2]", "203.0.113.20 listed twice")]),
    ([f"198.51.100.{n}" for n in range(1, 18)],
     [("sip_alg.media.addresses", "at most 16 addresses, got 17")]),
    (["203.0.113.1"], [("sip_alg.media.addresses[0]", "203.0.113.1 is the address of "
                        "interfaces.outside: media pinholes need addresses of their own")]),
])
def test_media_addresses_bad(value, problems):
    """Each bad address refused by its place in the list and named, as the plugin refuses
    it (sip_alg_set_media_addresses), every problem at once."""
    from sipalgctl import config
    with pytest.raises(config.ConfigError) as e:
        _with(SEED, "sip_alg", "media", {"addresses": value})
    assert e.value.problems == problems


def test_media_addresses_static_mapping_in_the_range():
    """A static mapping whose external port is in the media range on a media address would
    be a pinhole's port: refused, as on a pool address; outside the range it is fine."""
    from sipalgctl import config
    data = yaml.safe_load(open(SEED))
    data["sip_alg"]["media"] = {"addresses": MEDIA}
    data["nat44"]["static_mappings"] = [
        {"protocol": "udp", "local": "192.168.1.5:4000", "external": "203.0.113.21:40010"},
        {"protocol": "udp", "local": "192.168.1.5:5060", "external": "203.0.113.21:5060"}]
    with pytest.raises(config.ConfigError) as e:
        config.parse(data)
    assert e.value.problems == [(
        "nat44.static_mappings[0].external", "port 40010 is inside "
        "sip_alg.limits.media_ports 40000-59999 on a sip_alg.media address")]
    data["nat44"]["static_mappings"].pop(0)
    assert config.parse(data).nat44.static_mappings[0].external[1] == 5060
