# SPDX-License-Identifier: Apache-2.0
"""The firewall section as ACL plugin rules, and the planner's ACL operations against a fake
VPP (test_plan.fake_acl: it refuses what VPP refuses, such as deleting a bound ACL):
create, replace in place, remove, ACLs of others kept after sipalgctl's, apply twice = empty
plan, and the same through P.apply with a client that answers like VPP."""

import ipaddress
import os
from types import SimpleNamespace

import pytest

from sipalgctl import acl as A, cli, config, plan as P

from test_plan import (FULL, SEED, VALIDATION_DEFAULTS, AclRefused, changed, fake_acl, fake_apply,
                       fresh)

HERE = os.path.dirname(os.path.abspath(__file__))
FIREWALL = os.path.join(HERE, "..", "..", "mgmt", "examples", "firewall.yaml")
IN, OUT = "host-sipalg-in", "host-sipalg-out"  # firewall.yaml's interfaces, indices 1 and 2


def net(s):
    return ipaddress.IPv4Network(s)


def rule(action, **fields):
    """A firewall rule of the configuration, its fields as they are (not read from YAML)."""
    return config.FwRuleModel.model_construct(action=action, **fields)


# --- rule encoding --------------------------------------------------------------------------

@pytest.mark.parametrize("rule, acl, cli_text", [
    (rule("deny", proto=6, dport=(25, 25)),
     A.AclRule(0, proto=6, dport=(25, 25)),
     "deny src 0.0.0.0/0 dst 0.0.0.0/0 proto 6 dport 25"),
    (rule("permit", src=net("198.51.100.0/24"), dst=net("203.0.113.11/32"), proto=17,
                   sport=(1024, 65535), dport=(5060, 5061)),
     A.AclRule(1, "198.51.100.0/24", "203.0.113.11/32", 17, (1024, 65535), (5060, 5061)),
     "permit src 198.51.100.0/24 dst 203.0.113.11/32 proto 17 sport 1024-65535 dport "
     "5060-5061"),
    # ICMP: type and code ranges in the port fields, any = 0-255
    (rule("permit", proto=1),
     A.AclRule(1, proto=1, sport=(0, 255), dport=(0, 255)),
     "permit src 0.0.0.0/0 dst 0.0.0.0/0 proto 1 sport 0-255 dport 0-255"),
    (rule("permit", proto=1, icmp_type=(8, 8)),
     A.AclRule(1, proto=1, sport=(8, 8), dport=(0, 255)),
     "permit src 0.0.0.0/0 dst 0.0.0.0/0 proto 1 sport 8 dport 0-255"),
    # any protocol, or one without ports: every port
    (rule("permit+reflect"),
     A.AclRule(2), "permit+reflect src 0.0.0.0/0 dst 0.0.0.0/0"),
    (rule("deny", proto=47, src=net("192.168.1.128/25")),
     A.AclRule(0, "192.168.1.128/25", proto=47),
     "deny src 192.168.1.128/25 dst 0.0.0.0/0 proto 47"),
    # udp without ports: every port
    (rule("deny", proto=17), A.AclRule(0, proto=17),
     "deny src 0.0.0.0/0 dst 0.0.0.0/0 proto 17"),
])
def test_encode(rule, acl, cli_text):
    assert A.encode(rule) == acl
    assert acl.cli() == cli_text


def test_rule_api_fields():
    r = A.AclRule(2, "198.51.100.0/24", "203.0.113.10/32", 17, (1, 2), (3, 4))
    assert r.api() == {"is_permit": 2, "src_prefix": "198.51.100.0/24",
                       "dst_prefix": "203.0.113.10/32", "proto": 17,
                       "srcport_or_icmptype_first": 1, "srcport_or_icmptype_last": 2,
                       "dstport_or_icmpcode_first": 3, "dstport_or_icmpcode_last": 4,
                       "tcp_flags_mask": 0, "tcp_flags_value": 0}
    details = SimpleNamespace(is_permit=2, src_prefix=net("198.51.100.0/24"),
                              dst_prefix=net("203.0.113.10/32"), proto=17,
                              srcport_or_icmptype_first=1, srcport_or_icmptype_last=2,
                              dstport_or_icmpcode_first=3, dstport_or_icmpcode_last=4,
                              tcp_flags_mask=0, tcp_flags_value=0)
    assert A.AclRule.from_api(details) == r


def test_policy_rules_end_with_the_default():
    fw = config.load(FULL).firewall
    rules = A.policy_rules(fw.inbound)
    assert len(rules) == len(fw.inbound.rules) + 1
    assert rules[-1] == A.AclRule(0)  # deny any -> any
    assert A.policy_rules(fw.outbound)[-1] == A.AclRule(2)
    assert A.wanted(fw)[A.REFLECT][0] == (A.AclRule(2),)
    fw = changed(fw, {"enabled": False})
    assert A.wanted(fw) == {}


# --- planning -------------------------------------------------------------------------------

def applied(path=FIREWALL):
    cfg = config.load(path)
    return cfg, fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))


def test_firewall_on_fresh_vpp():
    """ACLs first (created, so bound by tag until VPP gives their index), then bound: before
    the interfaces get addresses and come up."""
    cfg = config.load(FIREWALL)
    ops = P.plan(cfg, fresh(cfg))
    assert [o.cli() for o in ops][:6] == [
        "set acl-plugin acl permit src 0.0.0.0/0 dst 0.0.0.0/0 tag sipalgctl:outbound",
        "set acl-plugin acl deny src 0.0.0.0/0 dst 0.0.0.0/0 tag sipalgctl:inbound",
        "set acl-plugin acl permit+reflect src 0.0.0.0/0 dst 0.0.0.0/0 tag sipalgctl:reflect",
        f"set acl-plugin interface {IN} input acl <sipalgctl:outbound>",
        f"set acl-plugin interface {OUT} input acl <sipalgctl:inbound>; "
        f"set acl-plugin interface {OUT} output acl <sipalgctl:reflect>",
        f"set interface ip address {IN} 192.168.1.254/24",
    ]
    assert ops[0].comment() == "rules 0: firewall.outbound.default permit"
    assert ops[3].call() == ("acl_interface_set_acl_list", {
        "sw_if_index": 1, "count": 1, "n_input": 1, "acls": ["sipalgctl:outbound"]})
    st = fake_apply(fresh(cfg), ops)
    assert {i: a.tag for i, a in st.acls.items()} == dict(enumerate(A.TAGS))
    assert st.acl_bindings == {1: ((0,), ()), 2: ((1,), (2,))}


@pytest.mark.parametrize("path", [FIREWALL, FULL], ids=["firewall", "full"])
def test_apply_twice_plans_nothing(path):
    cfg, st = applied(path)
    assert P.plan(cfg, st) == []


def test_full_rules_in_order():
    cfg = config.load(FULL)
    ops = [o for o in P.plan(cfg, fresh(cfg)) if isinstance(o, P.AclAddReplace)]
    assert [o.cli() for o in ops] == [
        "set acl-plugin acl deny src 0.0.0.0/0 dst 0.0.0.0/0 proto 6 dport 25, "
        "deny src 192.168.1.128/25 dst 198.51.100.0/24 proto 47, "
        "permit+reflect src 0.0.0.0/0 dst 0.0.0.0/0 tag sipalgctl:outbound",
        "set acl-plugin acl permit src 0.0.0.0/0 dst 203.0.113.10/32 proto 1 sport 8 dport 0-255, "
        "permit src 198.51.100.0/24 dst 203.0.113.11/32 proto 17 sport 1024-65535 dport 5060, "
        "permit+reflect src 0.0.0.0/0 dst 203.0.113.11/32 proto 6 dport 443, "
        "deny src 0.0.0.0/0 dst 0.0.0.0/0 proto 1 sport 5 dport 0-3, "
        "deny src 0.0.0.0/0 dst 0.0.0.0/0 tag sipalgctl:inbound",
        "set acl-plugin acl permit+reflect src 0.0.0.0/0 dst 0.0.0.0/0 tag sipalgctl:reflect",
    ]
    assert ops[1].comment() == (
        "rules 0: firewall.inbound.rules[0] (ping-nat); 1: firewall.inbound.rules[1] "
        "(sip-server); 2: firewall.inbound.rules[2]; 3: firewall.inbound.rules[3]; "
        "4: firewall.inbound.default deny")


def test_changed_rules_replace_the_acl_in_place():
    cfg, st = applied()
    cfg = changed(cfg, {"firewall.inbound.rules": [
        rule("permit", dst=net("203.0.113.10/32"), proto=1, icmp_type=(8, 8), tag="ping-nat")]})
    ops = P.plan(cfg, st)
    assert [o.cli() for o in ops] == [
        "set acl-plugin acl index 1 permit src 0.0.0.0/0 dst 203.0.113.10/32 proto 1 sport 8 "
        "dport 0-255, deny src 0.0.0.0/0 dst 0.0.0.0/0 tag sipalgctl:inbound"]
    assert ops[0].call()[1]["acl_index"] == 1
    after = fake_apply(st, ops)
    assert after.acl_bindings == st.acl_bindings  # replaced where it is bound
    assert P.plan(cfg, after) == []


def test_firewall_off_unbinds_then_deletes():
    cfg, st = applied()
    cfg = changed(cfg, {"firewall.enabled": False})
    ops = P.plan(cfg, st)
    assert [o.cli() for o in ops] == [
        f"set acl-plugin interface {IN} input acl 0 del",
        f"set acl-plugin interface {OUT} input acl 1 del; "
        f"set acl-plugin interface {OUT} output acl 2 del",
        "delete acl-plugin acl index 0",
        "delete acl-plugin acl index 1",
        "delete acl-plugin acl index 2",
    ]
    after = fake_apply(st, ops)
    assert after.acls == {} and after.acl_bindings == {}
    assert P.plan(cfg, after) == []
    # and the other way round: deleting first is what VPP refuses
    with pytest.raises(AclRefused, match="still bound"):
        fake_apply(st, ops[2:])


def test_no_firewall_section_removes_sipalgctl_acls():
    _, st = applied()
    seed = config.load(SEED)
    assert [type(o).__name__ for o in P.plan(seed, st)] == ["AclInterface"] * 2 + ["AclDel"] * 3


def foreign(st, index=7, tag="operator-blocklist"):
    st.acls[index] = P.Acl(tag, (A.AclRule(0, "198.51.100.66/32"), A.AclRule(1)))
    return index


def test_foreign_acls_stay_after_sipalgctl_acls():
    """ACLs of others bound before the firewall came: ours go first, theirs stay after ours in
    their order, in both directions; turning the firewall off leaves exactly theirs."""
    cfg = config.load(FIREWALL)
    st = fresh(cfg)
    a, b = foreign(st, 0), foreign(st, 1, "cli")
    st.acl_bindings = {2: ((a, b), (b,))}
    ops = P.plan(cfg, st)
    binds = [o for o in ops if isinstance(o, P.AclInterface)]
    assert [o.cli() for o in binds] == [
        f"set acl-plugin interface {IN} input acl <sipalgctl:outbound>",
        f"set acl-plugin interface {OUT} input acl 0 del; "
        f"set acl-plugin interface {OUT} input acl 1 del; "
        f"set acl-plugin interface {OUT} input acl <sipalgctl:inbound>; "
        f"set acl-plugin interface {OUT} input acl 0; set acl-plugin interface {OUT} input acl 1; "
        f"set acl-plugin interface {OUT} output acl 1 del; "
        f"set acl-plugin interface {OUT} output acl <sipalgctl:reflect>; "
        f"set acl-plugin interface {OUT} output acl 1",
    ]
    on = fake_apply(st, ops)
    inbound, reflect = (i for i, x in on.acls.items() if x.tag in (A.INBOUND, A.REFLECT))
    assert on.acl_bindings[2] == ((inbound, a, b), (reflect, b))
    assert P.plan(cfg, on) == []
    cfg = changed(cfg, {"firewall.enabled": False})
    off = fake_apply(on, P.plan(cfg, on))
    assert off.acl_bindings == {2: ((a, b), (b,))}
    assert set(off.acls) == {a, b}
    assert P.plan(cfg, off) == []


def test_foreign_acl_added_later_is_kept():
    """An operator binds an ACL of their own after apply: apply leaves it where it is."""
    cfg, st = applied()
    f = foreign(st)
    ins, outs = st.acl_bindings[2]
    st.acl_bindings[2] = (ins + (f,), outs)
    assert P.plan(cfg, st) == []


def test_foreign_acl_in_front_is_moved_behind():
    cfg, st = applied()
    f = foreign(st)
    ins, outs = st.acl_bindings[2]
    st.acl_bindings[2] = ((f,) + ins, outs)
    ops = P.plan(cfg, st)
    assert [o.cli() for o in ops] == [
        f"set acl-plugin interface {OUT} input acl {f} del; "
        f"set acl-plugin interface {OUT} input acl {f}"]
    assert fake_apply(st, ops).acl_bindings[2] == (ins + (f,), outs)


def test_stray_sipalgctl_acls_are_removed_everywhere():
    """ACLs tagged sipalgctl: that the config does not ask for (a second copy, an old name),
    bound on an interface the config does not name: unbound there, then deleted; the lowest
    index of a wanted tag is the one kept."""
    cfg, st = applied()
    st.sw_if_index["loop9"] = 9
    st.acls[5] = P.Acl(A.INBOUND, (A.AclRule(1),))
    st.acls[6] = P.Acl("sipalgctl:old", (A.AclRule(0),))
    f = foreign(st)
    st.acl_bindings[9] = ((6, f, 5), ())
    ops = P.plan(cfg, st)
    assert [o.cli() for o in ops] == [
        "set acl-plugin interface loop9 input acl 6 del; "
        "set acl-plugin interface loop9 input acl 5 del",
        "delete acl-plugin acl index 5",
        "delete acl-plugin acl index 6",
    ]
    after = fake_apply(st, ops)
    assert after.acl_bindings[9] == ((f,), ())
    assert P.plan(cfg, after) == []


def test_acl_removed_by_hand_is_created_again():
    cfg, st = applied()
    ins, outs = st.acl_bindings[2]
    st.acl_bindings[2] = ((), outs)
    del st.acls[ins[0]]
    ops = P.plan(cfg, st)
    assert [o.cli() for o in ops] == [
        "set acl-plugin acl deny src 0.0.0.0/0 dst 0.0.0.0/0 tag sipalgctl:inbound",
        f"set acl-plugin interface {OUT} input acl <sipalgctl:inbound>"]
    assert P.plan(cfg, fake_apply(st, ops)) == []


def test_role_change_moves_the_acls():
    cfg, st = applied()
    cfg = changed(cfg, {"interfaces.inside.role": "none", "sip_alg.interfaces": ["outside"]})
    ops = [o for o in P.plan(cfg, st) if type(o).__name__.startswith("Acl")]
    assert [o.cli() for o in ops] == [f"set acl-plugin interface {IN} input acl 0 del"]


def test_without_the_acl_plugin():
    """A VPP started without acl_plugin.so: an error naming the fix when the firewall is on,
    nothing to do when it is off."""
    cfg = config.load(FIREWALL)
    st = fresh(cfg)
    st.acl_plugin = False
    with pytest.raises(P.MissingPlugin, match=r"firewall: the running VPP has no ACL plugin "
                                              r"\(acl_plugin.so not loaded\)"):
        P.plan(cfg, st)
    cfg = changed(cfg, {"firewall.enabled": False})
    assert not [o for o in P.plan(cfg, st) if type(o).__name__.startswith("Acl")]


# --- apply: the created ACLs' indices reach the bindings --------------------------------------

class FakeVpp:
    """A client that answers the ACL messages as VPP would (test_plan.fake_acl) and records
    every call; the other messages succeed."""

    def __init__(self, st):
        self.st, self.calls = st, []

    def call(self, msg, **args):
        self.calls.append((msg, args))
        if msg.startswith("acl_"):
            return fake_acl(self.st, msg, args)
        return SimpleNamespace(retval=0)


def test_apply_resolves_created_acls():
    cfg = config.load(FIREWALL)
    st = fresh(cfg)
    foreign(st, 0)  # so that VPP's indices are not the plan's order
    vpp = FakeVpp(st)
    shown = []
    P.apply(vpp, P.plan(cfg, st), progress=lambda n, t, o: shown.append(o.cli()))
    binds = [a for m, a in vpp.calls if m == "acl_interface_set_acl_list"]
    assert binds == [{"sw_if_index": 1, "count": 1, "n_input": 1, "acls": [1]},
                     {"sw_if_index": 2, "count": 2, "n_input": 1, "acls": [2, 3]}]
    # progress shows what was sent: real indices
    assert f"set acl-plugin interface {IN} input acl 1" in shown
    assert not [o for o in P.plan(cfg, vpp.st) if type(o).__name__.startswith("Acl")]


def test_plan_prints_rule_comments(monkeypatch, capsys):
    """`sipalgctl plan` shows which YAML rule each ACL rule is (text and --json)."""
    cfg = config.load(FULL)

    class Client:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(cli, "client", lambda args, cfg=None, plugin=None: Client())
    monkeypatch.setattr(P, "read_state", lambda c: fresh(cfg))
    assert cli.main(["plan", FULL]) == 0
    out = capsys.readouterr().out.splitlines()
    i = out.index(next(l for l in out if l.endswith("tag sipalgctl:inbound")))
    assert out[i + 1] == ("  # rules 0: firewall.inbound.rules[0] (ping-nat); "
                          "1: firewall.inbound.rules[1] (sip-server); "
                          "2: firewall.inbound.rules[2]; 3: firewall.inbound.rules[3]; "
                          "4: firewall.inbound.default deny")
    import json
    assert cli.main(["--json", "plan", FULL]) == 0
    ops = json.loads(capsys.readouterr().out)
    acl = next(o for o in ops if o["api"] == "acl_add_replace" and
               o["args"]["tag"] == A.INBOUND)
    assert acl["comment"].startswith("rules 0: firewall.inbound.rules[0] (ping-nat)")
    assert acl["args"]["count"] == 5


def test_missing_acl_plugin_exits_2(monkeypatch, capsys):
    cfg = config.load(FIREWALL)
    st = fresh(cfg)
    st.acl_plugin = False

    class Client:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(cli, "client", lambda args, cfg=None, plugin=None: Client())
    monkeypatch.setattr(P, "read_state", lambda c: st)
    assert cli.main(["apply", FIREWALL]) == 2
    assert capsys.readouterr().err.startswith(
        "sipalgctl: firewall: the running VPP has no ACL plugin (acl_plugin.so not loaded); "
        "start it with the startup.conf `sipalgctl render` writes")


# --- reading the ACLs ----------------------------------------------------------------------

def test_read_state_reads_acls():
    rule = SimpleNamespace(is_permit=2, src_prefix=net("0.0.0.0/0"), dst_prefix=net("0.0.0.0/0"),
                           proto=0, srcport_or_icmptype_first=0, srcport_or_icmptype_last=65535,
                           dstport_or_icmpcode_first=0, dstport_or_icmpcode_last=65535,
                           tcp_flags_mask=0, tcp_flags_value=0)

    class Client:
        def has(self, msg):
            return msg.startswith("acl_")

        def dump(self, msg, **kw):
            if msg == "acl_dump":
                assert kw == {"acl_index": 0xFFFFFFFF}
                return [SimpleNamespace(acl_index=3, tag="sipalgctl:reflect", count=1, r=[rule])]
            if msg == "acl_interface_list_dump":
                assert kw == {"sw_if_index": 0xFFFFFFFF}
                return [SimpleNamespace(sw_if_index=0, count=0, n_input=0, acls=[]),
                        SimpleNamespace(sw_if_index=2, count=3, n_input=1, acls=[7, 3, 8])]
            return []

        def call(self, msg, **kw):
            if msg == "nat44_show_running_config":
                return SimpleNamespace(sessions=0)
            return SimpleNamespace(n_udp_ports=1, udp_ports=[5060] + [0] * 7, n_tcp_ports=0,
                                   tcp_ports=[0] * 8, signaling=120,
                                   media=60, call=7200, max_calls=10000, media_port_lo=40000,
                                   media_port_hi=59999, media_other_hosts=False,
                                   max_inbound_calls=1000, max_inbound_per_source=20,
                                   max_binding_time=3600, max_entries=65536,
                                   max_entries_per_call=24, inside_port_lo=1024,
                                   inside_port_hi=65535, tcp_reassembly=16384,
                                   media_inactivity=120, max_duration=43200,
                                   one_way_media=5, max_calls_per_host=0, max_entries_per_host=0,
                                   n_servers=0, server_address=["0.0.0.0"] * 16,
                                   server_port=[0] * 16, n_media_addresses=0,
                                   media_addresses=["0.0.0.0"] * 16, max_held=512,
                                   **VALIDATION_DEFAULTS)  # get_config's and get_limits' 

    st = P.read_state(Client())
    assert st.acl_plugin
    assert st.acls == {3: P.Acl("sipalgctl:reflect", (A.AclRule(2),))}
    assert st.acl_bindings == {2: ((7,), (3, 8))}
