# SPDX-License-Identifier: Apache-2.0
"""`sipalgctl dump` and `plan --exec-file` against the fake VPP of test_plan (a state that
each configuration was applied to): the dump is YAML that check accepts and against which
plan finds nothing to do, for every example and full.yaml; what the YAML cannot say is
warned about and shows in the plan against the dump; the exec file is VPP CLI, one command a
line, ACLs bound by the indices VPP will give them (checked by a line that fails otherwise),
and refused when an operation has no CLI equivalent. tests/e2e/test_service_vpp.py runs both
against a real VPP."""

import glob
import os
import types

import pytest
import yaml

from sipalgctl import acl as A, cli, config, dump as D, plan as P

from test_plan import FULL, TENANTS, changed, fake_apply, fresh

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = sorted(glob.glob(os.path.join(HERE, "..", "..", "mgmt", "examples", "*.yaml")))
CONFIGS = EXAMPLES + [FULL]


def applied(path):
    """(config, the fake VPP's state once it is applied, the taps' Linux names)."""
    cfg = config.load(path)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    taps = {st.sw_if_index[i.vpp_ifname]: i.host_if for i in cfg.interfaces.values()
            if i.type == "tap"}
    return cfg, st, taps


def round_trip(st, taps=None, cfg=None, sessions=None):
    """(the dumped YAML as check reads it, its text, the warnings)."""
    data, warnings = D.dump(st, {"taps": taps or {}, "acl_sessions": sessions}, cfg)
    text = D.to_yaml(data, ["header"])
    return D.check(text), text, warnings


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_dump_round_trip(path):
    cfg, st, taps = applied(path)
    dumped, text, warnings = round_trip(st, taps, cfg, cfg.firewall.sessions)
    assert warnings == []
    assert P.plan(dumped, st) == []
    assert text.startswith("# header\n")
    # the same configuration, as far as VPP is concerned (names of interfaces aside)
    assert [(i.type, i.role, i.address, i.vrf, i.vpp_ifname) for i in dumped.interfaces.values()] \
        == [(i.type, i.role, i.address, i.vrf, i.vpp_ifname) for i in cfg.interfaces.values()]
    assert dumped.sip_alg == cfg.sip_alg or (
        dumped.sip_alg.servers == cfg.sip_alg.servers and not cfg.sip_alg.servers_explicit)
    assert dumped.firewall.enabled == cfg.firewall.enabled
    assert dumped.vpp == cfg.vpp and dumped.vrfs == cfg.vrfs


def test_dump_full_reads_as_written():
    """full.yaml's settings come back under the YAML's own keys and values."""
    cfg, st, taps = applied(FULL)
    data, _ = D.dump(st, {"taps": taps, "acl_sessions": 200000}, cfg)
    assert data["interfaces"]["sipalg-lan"] == {"type": "tap", "host_if": "sipalg-lan",
                                                "role": "inside", "address": "192.168.1.254/24"}
    assert data["interfaces"]["loop0"] == {"type": "existing", "vpp_name": "loop0",
                                           "role": "none", "address": "192.0.2.1/24"}
    assert data["nat44"]["pool"] == ["203.0.113.10", "203.0.113.11"]
    a = data["sip_alg"]
    assert "interfaces" not in a  # on every NAT interface, as full.yaml's list says
    assert a["limits"] == {"max_calls": 2000, "max_held": 512, "media_ports": "30000-39999",
                           "tcp_reassembly": 32768}
    assert a["media"] == {"addresses": ["203.0.113.21", "203.0.113.20"],  # in order
                          "other_hosts": True}
    assert "media_other_hosts" not in a  # the former spelling
    assert a["validation"]["block_methods"] == ["OPTIONS", "MESSAGE", "OTHER"]
    assert "servers" not in a  # the static mapping of 192.168.1.5:5060 publishes it
    fw = data["firewall"]
    assert fw["sessions"] == 200000 and fw["outbound"]["default"] == "permit+reflect"
    assert fw["inbound"]["rules"][1] == {"action": "permit", "src": "198.51.100.0/24",
                                         "dst": "203.0.113.11/32", "proto": "udp",
                                         "sport": "1024-65535", "dport": 5060}
    text = D.to_yaml(data)
    assert "  - {action: permit, dst: 203.0.113.10/32, proto: icmp, icmp_type: 8}\n" in text
    assert "    udp: [5060, 5080]\n" in text


def test_dump_explicit_servers_and_alg_on_some_interfaces():
    cfg, st, taps = applied(FULL)
    st.alg["servers"] = (("192.168.1.9", 5080),)
    st.alg_interfaces.discard(st.sw_if_index["tap0"])
    dumped, text, warnings = round_trip(st, taps, cfg)
    assert warnings == [] and P.plan(dumped, st) == []
    assert "  servers: ['192.168.1.9:5080']\n" in text and "  interfaces: [sipalg-wan]\n" in text


def test_dump_vpp_section_from_the_socket():
    """Without a configuration, the runtime directory is the API socket's."""
    _, st, taps = applied(FULL)
    data, warnings = D.dump(st, {"taps": taps}, None, "/run/vpp-x/api.sock")
    assert data["vpp"] == {"runtime_dir": "/run/vpp-x"} and warnings == []
    data, warnings = D.dump(st, {"taps": taps}, None, "/tmp/other.sock")
    assert "vpp" not in data
    assert warnings == ["vpp.runtime_dir: the API socket /tmp/other.sock is not "
                        "<runtime_dir>/api.sock: plan and apply on this YAML need --socket "
                        "/tmp/other.sock"]


def test_dump_taps_not_numbered_from_0_are_existing():
    """A tap the YAML's numbering cannot make (tap1 without tap0) is an existing interface."""
    cfg, st, taps = applied(FULL)
    x = st.sw_if_index.pop("tap0")
    st.sw_if_index["tap1"] = x
    dumped, _, warnings = round_trip(st, {x: "sipalg-lan"}, cfg)
    assert warnings == [] and P.plan(dumped, st) == []
    assert dumped.interfaces["tap1"].type == "existing"


def test_dump_says_what_the_yaml_cannot():
    """Each is warned about, and plan against the dump shows what apply would change."""
    cfg, st, taps = applied(FULL)
    lan, wan = st.sw_if_index["tap0"], st.sw_if_index["host-sipalg-wan"]
    st.addresses[lan].add("192.168.2.254/24")
    st.up[wan] = False
    st.static_mappings.add(("0", "192.168.1.7", 0, "203.0.113.12", 0, 0))
    out = [i for i, a in st.acls.items() if a.tag == A.OUTBOUND][0]
    st.acls[out] = P.Acl(A.OUTBOUND, (A.AclRule(2, proto=6, tcp_flags_mask=2,
                                                tcp_flags_value=2),) + st.acls[out].rules)
    st.acls[99] = P.Acl("sipalgctl:old", (A.default_rule("deny"),))
    dumped, _, warnings = round_trip(st, taps, cfg)
    assert warnings == [
        "interfaces.sipalg-lan: tap0 has 2 IPv4 addresses (192.168.1.254/24, "
        "192.168.2.254/24), the YAML one: dumped 192.168.1.254/24, apply would delete the "
        "others",
        "interfaces.sipalg-wan: host-sipalg-wan is down: apply brings every interface of the "
        "YAML up",
        "nat44.static_mappings: 0 192.168.1.7:0 -> 203.0.113.12:0: the YAML's static mappings "
        "are of a UDP or TCP port: left out",
        "firewall: ACL 99 is tagged sipalgctl:old, which sipalgctl does not make: apply would "
        "delete it",
        "firewall.outbound: rule 0 of the ACL tagged sipalgctl:outbound (permit+reflect src "
        "0.0.0.0/0 dst 0.0.0.0/0 proto 6 tcpflags 2 mask 2) cannot be written as a firewall "
        "rule (TCP flags): left out"]
    assert [o.cli() for o in P.plan(dumped, st)] == [
        "nat44 add static mapping 0 local 192.168.1.7 0 external 203.0.113.12 0 del",
        "set interface ip address del tap0 192.168.2.254/24",
        f"set acl-plugin acl index {out} deny src 0.0.0.0/0 dst 0.0.0.0/0 proto 6 dport 25, "
        "deny src 192.168.1.128/25 dst 198.51.100.0/24 proto 47, permit+reflect src 0.0.0.0/0 "
        "dst 0.0.0.0/0 tag sipalgctl:outbound",
        "delete acl-plugin acl index 99",
        "set interface state host-sipalg-wan up"]


def test_dump_tables_vpp_names_otherwise():
    """A table whose VPP name is no vrfs name (made by hand or by NAT44-ED) is dumped under a
    name of its own, with a warning: VPP cannot rename it, apply would make it again."""
    cfg, st, _ = applied(TENANTS)
    st.tables[10] = "ipv4-VRF:10"
    dumped, text, warnings = round_trip(st, cfg=cfg)
    assert warnings == [
        "vrfs: VPP names table 10 'ipv4-VRF:10', which is not a vrfs name (letters, digits, "
        "'-' and '_', at most 63, not 'public'): dumped as 'vrf10', and VPP cannot rename a "
        "table: apply would make it again under that name"]
    assert {n: v.table for n, v in dumped.vrfs.items()} == {"vrf10": 10, "tenant-b": 20}
    ops = [o.cli() for o in P.plan(dumped, st)]
    assert "ip table del 10" in ops and "ip table add 10 name vrf10" in ops


def test_dump_route_in_the_default_table_through_a_tenant_interface():
    cfg, st, _ = applied(TENANTS)
    a = st.sw_if_index["host-sipalg-in-a"]
    st.routes.add(("10.0.0.0/8", "192.168.1.1", a, 0))
    dumped, _, warnings = round_trip(st, cfg=cfg)
    assert warnings == [
        "routes: 10.0.0.0/8 via 192.168.1.1 host-sipalg-in-a is in the default table, its "
        "interface in table 10: the YAML has no name for the default table (a route is in its "
        "interface's unless it names a vrf): left out"]
    assert [o.cli() for o in P.plan(dumped, st)] == [
        "ip route del 10.0.0.0/8 via 192.168.1.1 host-sipalg-in-a"]


class FakeClient:
    def __init__(self, *a, **kw):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


@pytest.fixture
def fake_vpp(monkeypatch):
    """cli's client and state reading on a fake state (set .st)."""
    vpp = types.SimpleNamespace(st=None)
    monkeypatch.setattr(cli, "client", lambda args, cfg=None: FakeClient())
    monkeypatch.setattr(P, "read_state", lambda c: vpp.st)
    monkeypatch.setattr(D, "read_extra", lambda c: {"taps": {}, "acl_sessions": None})
    return vpp


def test_cli_dump_output_file(fake_vpp, tmp_path, capsys):
    cfg, fake_vpp.st, _ = applied(EXAMPLES[0])
    out = tmp_path / "dump.yaml"
    assert cli.main(["dump", EXAMPLES[0], "-o", str(out)]) == 0
    assert capsys.readouterr() == ("", "")
    assert out.read_text().startswith(
        "# The running configuration of the VPP at /run/sipalg/api.sock, written by "
        "`sipalgctl dump`.\n")
    assert cli.main(["check", str(out)]) == 0
    assert cli.main(["dump", EXAMPLES[0]]) == 0
    assert capsys.readouterr().out.endswith(out.read_text())


def test_cli_dump_not_a_configuration(fake_vpp, tmp_path, capsys):
    """NAT44-ED off (no pool): nothing written, exit 1, the reason given."""
    cfg, st, _ = applied(EXAMPLES[0])
    st.nat_enabled = False
    fake_vpp.st = st
    out = tmp_path / "dump.yaml"
    assert cli.main(["dump", "-o", str(out)]) == 1
    assert not out.exists()
    assert capsys.readouterr().err == (
        "sipalgctl: dump: nat44.pool: must be a list of at least one IPv4 address (or "
        "{address, vrf} mapping)\n"
        "sipalgctl: dump: the running configuration cannot be written as sipalgctl's YAML "
        "(above); nothing written\n")


# --- plan --exec-file ---------------------------------------------------------------------------

def test_exec_script_firewall_on_fresh_vpp():
    """Each ACL the plan creates: made, deleted by the index the file binds it by (which
    fails unless VPP gave it that index), made again (VPP gives it the index just freed)."""
    cfg = config.load(os.path.join(HERE, "..", "..", "mgmt", "examples", "firewall.yaml"))
    st = fresh(cfg)
    lines = P.exec_script(P.plan(cfg, st), st)
    cmds = [l for l in lines if not l.startswith("#")]
    outbound = "set acl-plugin acl permit src 0.0.0.0/0 dst 0.0.0.0/0 tag sipalgctl:outbound"
    inbound = "set acl-plugin acl deny src 0.0.0.0/0 dst 0.0.0.0/0 tag sipalgctl:inbound"
    reflect = "set acl-plugin acl permit+reflect src 0.0.0.0/0 dst 0.0.0.0/0 tag sipalgctl:reflect"
    assert cmds[:12] == [
        outbound, "delete acl-plugin acl index 0", outbound,
        inbound, "delete acl-plugin acl index 1", inbound,
        reflect, "delete acl-plugin acl index 2", reflect,
        "set acl-plugin interface host-sipalg-in input acl 0",
        "set acl-plugin interface host-sipalg-out input acl 1",
        "set acl-plugin interface host-sipalg-out output acl 2"]
    assert lines[:3] == [
        "# rules 0: firewall.outbound.default permit",
        "# VPP picks a new ACL's index itself; the lines below bind this one as ACL 0: made, "
        "deleted by that index, which fails and stops the file unless VPP gave it 0, and made "
        "again, VPP giving it the index it has just freed", outbound]
    assert all(";" not in c and "<" not in c for c in cmds)
    assert "ip route add 198.51.100.0/24 via 203.0.113.2 host-sipalg-out" in cmds
    assert lines[lines.index("ip route add 198.51.100.0/24 via 203.0.113.2 host-sipalg-out")
                 - 1].startswith("# made on the CLI: `ip route del 198.51.100.0/24 via")


def test_exec_script_predicts_indices_past_existing_acls():
    """ACL indices 0 and 2 taken (an operator's): the new ones are expected at 1, 3, 4."""
    cfg = config.load(FULL)
    st = fresh(cfg)
    st.acl_plugin = True
    st.acls = {0: P.Acl("op", ()), 2: P.Acl("op", ())}
    cmds = [l for l in P.exec_script(P.plan(cfg, st), st) if "acl-plugin" in l]
    assert [c for c in cmds if c.startswith("delete")] == [
        "delete acl-plugin acl index 1", "delete acl-plugin acl index 3",
        "delete acl-plugin acl index 4"]
    assert cmds[9:] == ["set acl-plugin interface tap0 input acl 1",
                        "set acl-plugin interface host-sipalg-wan input acl 3",
                        "set acl-plugin interface host-sipalg-wan output acl 4"]


def test_exec_script_lines():
    """Static mappings name their table (the CLI's default is NAT44-ED's inside-vrf), the
    limits one command (the plugin lays the media ports out again only when they change, on
    the CLI as over the API), an interface's ACL list one command a line."""
    cfg = config.load(FULL)
    st = fresh(cfg)
    cmds = P.exec_script(P.plan(cfg, st), st)
    assert "nat44 add static mapping udp local 192.168.1.5 5060 external 203.0.113.11 5060 " \
           "vrf 0" in cmds
    assert "set sip-alg limits max-calls 2000 max-held 512 media-ports 30000-39999 " \
           "tcp-reassembly 32768" in cmds
    st = fake_apply(st, P.plan(cfg, st))
    cfg = changed(cfg, {"sip_alg.limits.max_calls": 500})
    assert P.exec_script(P.plan(cfg, st), st) == [
        "set sip-alg limits max-calls 500 max-held 512 media-ports 30000-39999 "
        "tcp-reassembly 32768"]
    assert P.exec_script([], st) == []


NOT_ON_CLI = ("VPP's CLI takes away only what its CLI made (the FIB keeps the CLI's and the "
              "API's tables and routes apart), and VPP cannot tell whether sipalgctl apply "
              "made it through the API")


def test_exec_script_refuses_what_the_cli_cannot_do():
    """Deleting a route or a table: VPP's CLI takes away only what the CLI made. Every such
    operation is named; nothing is returned."""
    cfg, st, _ = applied(TENANTS)
    fewer = config.load(TENANTS)
    fewer = changed(fewer, {"routes": fewer.routes[:1]})
    ops = P.plan(fewer, st)
    with pytest.raises(P.PlanError) as e:
        P.exec_script(ops, st)
    assert str(e.value) == (
        f"2 operations of the plan VPP's CLI cannot do: ip route del 198.51.100.0/24 table 10 "
        f"via 203.0.113.2 host-sipalg-out (deleting a route: {NOT_ON_CLI}); ip route del "
        f"198.51.100.0/24 table 20 via 203.0.113.2 host-sipalg-out (deleting a route: "
        f"{NOT_ON_CLI}); sipalgctl apply does them (no exec file written)")
    with pytest.raises(P.PlanError) as e:
        P.exec_script([P.IpTable(20, "tenant-b", True), P.IpTable(20, "tenant-b", False)], st)
    assert str(e.value) == (
        f"1 operation of the plan VPP's CLI cannot do: ip table del 20 (deleting table 20: "
        f"{NOT_ON_CLI}); sipalgctl apply does them (no exec file written)")


def test_cli_plan_exec_file(fake_vpp, tmp_path, capsys):
    path = [e for e in EXAMPLES if e.endswith("seed.yaml")][0]
    cfg = config.load(path)
    fake_vpp.st = fresh(cfg)
    f = tmp_path / "plan.cli"
    assert cli.main(["plan", path, "--exec-file", str(f)]) == 0
    out = capsys.readouterr().out
    text = f.read_text()
    assert text.startswith("# VPP CLI for `vppctl exec <this file, by its absolute path>`")
    cmds = [l for l in text.splitlines() if not l.startswith("#")]
    assert cmds == [l for l in out.splitlines() if not l.startswith(" ")]
    assert cli.main(["plan", path, "--exec-file", "-"]) == 0
    assert capsys.readouterr().out == text
    fake_vpp.st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    assert cli.main(["plan", path, "--exec-file", str(f)]) == 0
    assert f.read_text().endswith("shows anything left to do.\n# nothing to do\n")
    # refused: nothing written, exit 3
    smaller = tmp_path / "smaller.yaml"
    data = yaml.safe_load(open(path))
    data["routes"] = []
    smaller.write_text(yaml.safe_dump(data))
    f.unlink()
    assert cli.main(["plan", str(smaller), "--exec-file", str(f)]) == 3
    assert not f.exists()
    assert "1 operation of the plan VPP's CLI cannot do: ip route del" in capsys.readouterr().err
