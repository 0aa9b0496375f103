# SPDX-License-Identifier: Apache-2.0
"""The planner against a fake VPP state: exact operations for a fresh VPP, nothing to do
once applied (apply twice = empty plan), removals for items dropped from the YAML, and
deletions before additions in dependency order."""

import copy
import ipaddress
import os
from types import SimpleNamespace

import pytest
import yaml

from sipalgctl import acl as A, config, plan as P
from sipalgctl.vpp import ApiError

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = os.path.join(HERE, "..", "..", "mgmt", "examples", "seed.yaml")
FULL = os.path.join(HERE, "configs", "full.yaml")
TENANTS = os.path.join(HERE, "..", "..", "mgmt", "examples", "tenants.yaml")


# the plugin's security defaults, as get_config reports them (test_security_defaults_are_
# the_plugins checks config.SecurityModel against the plugin's source)
SECURITY_DEFAULTS = {"max_inbound_calls": 1000, "max_inbound_per_source": 20,
                     "max_binding_time": 3600, "max_entries": 65536, "max_entries_per_call": 24,
                     "inside_media_ports": (1024, 65535)}
# the plugin's call timers (SIP_ALG_DEFAULT_MEDIA_INACTIVITY, SIP_ALG_DEFAULT_MAX_DURATION;
# test_config's test_call_timer_defaults_are_the_plugins checks config.TimeoutsModel)
CALL_TIMER_DEFAULTS = {"media_inactivity": 120, "max_duration": 43200}
# the one-way media check (SIP_ALG_DEFAULT_ONE_WAY_MEDIA, API 0.10.0)
ONE_WAY_DEFAULTS = {"one_way_media": 5}
# the plugin's limits per inside host (off) and validation (lenient, every class passes, no
# method blocked, no rate), as get_config reports them from a fresh VPP (test_sipalgctl's
# test_validation_and_host_limits reads them from one)
HOST_LIMIT_DEFAULTS = {"max_calls_per_host": 0, "max_entries_per_host": 0}
VALIDATION_DEFAULTS = {"strict": False, "drop_parse": False, "drop_header": False,
                       "drop_sdp": False, "drop_too_many": False, "block_methods": 0,
                       "invite_rate": 0, "invite_burst": 0, "register_rate": 0,
                       "register_burst": 0}


def changed(m, values):
    """A copy of m (the configuration or one of its sections: frozen models) with values, {path:
    value} ("sip_alg.timeouts.call", "interfaces.inside.role"), put in at their paths."""
    for path, v in values.items():
        m = _put(m, path.split("."), v)
    return m


def _put(m, keys, v):
    if len(keys) > 1:
        v = _put(m[keys[0]] if isinstance(m, dict) else getattr(m, keys[0]), keys[1:], v)
    return {**m, keys[0]: v} if isinstance(m, dict) else m.model_copy(update={keys[0]: v})


def fresh(cfg):
    """A VPP just started with the rendered startup.conf: interfaces exist, nothing else."""
    st = P.State()
    st.tables = {0: "ipv4-VRF:0"}
    for n, (name, i) in enumerate(cfg.interfaces.items(), start=1):
        st.sw_if_index[i.vpp_ifname] = n
        st.addresses[n] = set()
        st.up[n] = False
        st.if_table[n] = 0
    st.alg = {"udp": (5060,), "tcp": (5060,), "signaling": 120, "media": 60, "call": 7200,
              "max_calls": 10000, "max_held": 512, "media_ports": (40000, 59999),
              "tcp_reassembly": 16384,
              "media_other_hosts": False, **SECURITY_DEFAULTS, **CALL_TIMER_DEFAULTS,
              **ONE_WAY_DEFAULTS, **HOST_LIMIT_DEFAULTS, **VALIDATION_DEFAULTS, "servers": (),
              "media_addresses": ()}
    st.acl_plugin = cfg.firewall.enabled  # loaded by the startup.conf rendered for cfg
    return st


class AclRefused(AssertionError):
    """What VPP refuses: deleting a bound ACL, binding or replacing one that does not exist."""


def fake_acl(st, msg, args):
    """The ACL plugin's messages on the fake state, from the API arguments; the reply."""
    if msg == "acl_add_replace":
        rules = tuple(A.AclRule(r["is_permit"], r["src_prefix"], r["dst_prefix"], r["proto"],
                                (r["srcport_or_icmptype_first"], r["srcport_or_icmptype_last"]),
                                (r["dstport_or_icmpcode_first"], r["dstport_or_icmpcode_last"]),
                                r["tcp_flags_mask"], r["tcp_flags_value"]) for r in args["r"])
        assert len(rules) == args["count"]
        i = args["acl_index"]
        if i == A.NO_ACL:  # VPP's pool: the lowest free index
            i = next(n for n in range(len(st.acls) + 1) if n not in st.acls)
        elif i not in st.acls:
            raise AclRefused(f"acl_add_replace of ACL {i}, which does not exist")
        st.acls[i] = P.Acl(args["tag"], rules)
        return SimpleNamespace(acl_index=i, retval=0)
    if msg == "acl_del":
        i = args["acl_index"]
        if any(i in ins + outs for ins, outs in st.acl_bindings.values()):
            raise AclRefused(f"acl_del of ACL {i}, still bound")
        if i not in st.acls:
            raise AclRefused(f"acl_del of ACL {i}, which does not exist")
        del st.acls[i]
        return SimpleNamespace(retval=0)
    assert msg == "acl_interface_set_acl_list", msg
    acls = args["acls"]
    assert len(acls) == args["count"]
    for a in acls:
        if not isinstance(a, int) or a not in st.acls:
            raise AclRefused(f"binding ACL {a!r}, which does not exist")
    n = args["n_input"]
    if acls:
        st.acl_bindings[args["sw_if_index"]] = (tuple(acls[:n]), tuple(acls[n:]))
    else:
        st.acl_bindings.pop(args["sw_if_index"], None)
    return SimpleNamespace(retval=0)


class VppRefused(AssertionError):
    """What VPP refuses with IPv4 tables: an interface moved with addresses on it, or into a
    table that does not exist; a route into one; an address overlapping another of its
    table."""


def table_held(st, t):
    """What keeps table t in VPP besides the API: an interface in it, NAT44-ED's addresses
    and static mappings of it (NAT locks the table)."""
    return (any(x == t for x in st.if_table.values()) or any(v == t for _, v in st.nat_pool)
            or any(m[5] == t for m in st.static_mappings))


def nat_table(st, t):
    """NAT44-ED makes a table it is given that does not exist, under VPP's default name."""
    if t not in (0, P.NO_VRF) and t not in st.tables:
        st.tables[t] = f"ipv4-VRF:{t}"


def fake_tables(st, op):
    """The IPv4 table operations on the fake state, refused as VPP refuses them."""
    if isinstance(op, P.IpTable):
        if op.is_add:
            st.tables.setdefault(op.table_id, op.name)  # an existing table keeps its name
        else:
            # the API's routes go; the table itself only when nothing else holds it
            st.routes = {r for r in st.routes if r[3] != op.table_id}
            if not table_held(st, op.table_id):
                st.tables.pop(op.table_id, None)
        return
    x = op.sw_if_index
    if op.table_id not in st.tables:
        raise VppRefused(f"{op.cli()}: no such table (retval {P.NO_SUCH_FIB})")
    if st.addresses.get(x):
        raise VppRefused(f"{op.cli()}: addresses still present (retval {P.ADDRESS_FOUND})")
    st.if_table[x] = op.table_id


def fake_apply(st, ops):
    """What VPP does with each message, on the fake state; ACL indices are resolved as
    P.apply does (from the replies of the operations that created them)."""
    st = copy.deepcopy(st)
    created = {}
    for op in ops:
        op = op.resolve(created)
        if isinstance(op, (P.AclAddReplace, P.AclDel, P.AclInterface)):
            op.done(fake_acl(st, *op.call()), created)
        elif isinstance(op, (P.IpTable, P.InterfaceTable)):
            fake_tables(st, op)
        elif isinstance(op, P.SetInterfaceState):
            st.up[op.sw_if_index] = op.up
        elif isinstance(op, P.InterfaceAddress):
            if op.is_add:
                t = st.if_table.get(op.sw_if_index, 0)
                net = ipaddress.ip_interface(op.prefix).network
                for x, addrs in st.addresses.items():
                    if st.if_table.get(x, 0) == t and any(
                            ipaddress.ip_interface(a).network.overlaps(net) for a in addrs):
                        raise VppRefused(f"{op.cli()}: overlaps an address of table {t}")
            (st.addresses[op.sw_if_index].add if op.is_add else
             st.addresses[op.sw_if_index].discard)(op.prefix)
        elif isinstance(op, P.RouteOp):
            if op.is_add and op.table_id not in st.tables:
                raise VppRefused(f"{op.cli()}: no such table")
            (st.routes.add if op.is_add else st.routes.discard)((op.prefix, op.via,
                                                                 op.sw_if_index, op.table_id))
        elif isinstance(op, P.NatEnable):
            st.nat_enabled, st.nat_sessions = True, op.sessions
        elif isinstance(op, P.NatAddress):
            if op.is_add:
                nat_table(st, op.vrf)
            (st.nat_pool.add if op.is_add else st.nat_pool.discard)((op.address, op.vrf))
        elif isinstance(op, P.NatInterface):
            flag = P.NAT_IS_INSIDE if op.role == "inside" else P.NAT_IS_OUTSIDE
            cur = st.nat_interfaces.get(op.sw_if_index, 0)
            st.nat_interfaces[op.sw_if_index] = cur | flag if op.is_add else cur & ~flag
        elif isinstance(op, P.NatStaticMapping):
            key = (op.protocol, op.local, op.local_port, op.external, op.external_port, op.vrf)
            if op.is_add:
                nat_table(st, op.vrf)
            (st.static_mappings.add if op.is_add else st.static_mappings.discard)(key)
        elif isinstance(op, P.AlgPorts):
            st.alg.update(udp=op.udp, tcp=op.tcp)
        elif isinstance(op, P.AlgServers):
            name, args = op.call()
            n = args["n_servers"]
            assert name == "sip_alg_set_servers" and n <= 16
            assert len(args["address"]) == len(args["port"]) == 16
            st.alg["servers"] = tuple(zip(args["address"][:n], args["port"][:n]))
        elif isinstance(op, P.AlgTimeouts):
            name, args = op.call()
            assert name == "sip_alg_set_timeouts_v2" and set(args) == set(P.TIMEOUTS)
            st.alg.update(args)
        elif isinstance(op, P.AlgLimits):
            name, args = op.call()
            assert name == "sip_alg_set_limits_v2"
            ports = (args["media_port_lo"], args["media_port_hi"])
            if st.alg.get("media_ports_in_use") and ports != st.alg["media_ports"]:
                raise ApiError(name, -155, args)  # VNET_API_ERROR_RSRC_IN_USE
            st.alg.update(max_calls=args["max_calls"], max_held=args["max_held"],
                          media_ports=ports, tcp_reassembly=args["tcp_reassembly"])
        elif isinstance(op, P.AlgMedia):
            name, args = op.call()
            n = args["n_addresses"]
            assert name == "sip_alg_set_media" and len(args["addresses"]) == 16
            if st.alg.get("media_ports_in_use") and \
                    tuple(args["addresses"][:n]) != st.alg["media_addresses"]:
                raise ApiError(name, -155, args)  # VNET_API_ERROR_RSRC_IN_USE
            st.alg.update(media_addresses=tuple(args["addresses"][:n]),
                          media_other_hosts=args["other_hosts"])
        elif isinstance(op, P.AlgSecurity):
            name, args = op.call()
            assert name == "sip_alg_set_security_v2"
            st.alg.update({k: args[k] for k in P.SECURITY if k != "inside_media_ports"},
                          inside_media_ports=(args["inside_port_lo"], args["inside_port_hi"]))
        elif isinstance(op, P.AlgValidation):
            name, args = op.call()
            assert name == "sip_alg_set_validation" and set(args) == set(VALIDATION_DEFAULTS)
            if any(args[f"{m}_rate"] and args[f"{m}_burst"] < 1 for m in ("invite", "register")):
                raise AssertionError("VNET_API_ERROR_INVALID_VALUE: a rate without a burst")
            st.alg.update(args)
        elif isinstance(op, P.AlgInterface):
            (st.alg_interfaces.add if op.enable else st.alg_interfaces.discard)(op.sw_if_index)
        else:
            raise AssertionError(f"unknown op {op}")
    return st


def test_seed_on_fresh_vpp():
    cfg = config.load(SEED)
    ops = P.plan(cfg, fresh(cfg))
    assert [o.cli() for o in ops] == [
        "set interface ip address host-sipalg-in 192.168.1.254/24",
        "set interface state host-sipalg-in up",
        "set interface ip address host-sipalg-out 203.0.113.1/24",
        "set interface state host-sipalg-out up",
        "ip route add 198.51.100.0/24 via 203.0.113.2 host-sipalg-out",
        "nat44 plugin enable sessions 10000",
        "nat44 add address 203.0.113.10",
        "set interface nat44 in host-sipalg-in",
        "set interface nat44 out host-sipalg-out",
        "set sip-alg interface host-sipalg-in",
        "set sip-alg interface host-sipalg-out",
    ]


@pytest.mark.parametrize("path", [SEED, FULL, TENANTS], ids=["seed", "full", "tenants"])
def test_apply_twice_plans_nothing(path):
    cfg = config.load(path)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    assert P.plan(cfg, st) == []


def test_removed_items_are_removed_in_dependency_order():
    cfg = config.load(FULL)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    smaller = config.load(FULL)
    smaller = changed(smaller, {
        "nat44.static_mappings": smaller.nat44.static_mappings[:1],
        "nat44.pool": smaller.nat44.pool[:1], "routes": smaller.routes[:1],
        "sip_alg.interfaces": ["lan"], "sip_alg.ports.udp": [5060], "sip_alg.ports.tcp": []})
    ops = P.plan(smaller, st)
    assert [o.cli() for o in ops] == [
        "set sip-alg interface host-sipalg-wan disable",
        "nat44 add static mapping tcp local 192.168.1.6 443 external 203.0.113.11 443 del",
        "nat44 add address 203.0.113.11 del",
        "ip route del 0.0.0.0/0 via 203.0.113.254 host-sipalg-wan",
        "set sip-alg ports udp 5060 tcp none",
    ]
    assert P.plan(smaller, fake_apply(st, ops)) == []


def test_changed_address_replaces_the_old_one():
    cfg = config.load(SEED)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    cfg = changed(cfg, {"interfaces.outside.address":
                        config.ipaddress.IPv4Interface("203.0.113.5/24")})
    assert [o.cli() for o in P.plan(cfg, st)] == [
        "set interface ip address del host-sipalg-out 203.0.113.1/24",
        "set interface ip address host-sipalg-out 203.0.113.5/24",
    ]


def test_foreign_state_on_unmanaged_interfaces_is_left_alone():
    cfg = config.load(SEED)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    st.sw_if_index["loop9"] = 9
    st.addresses[9] = {"10.9.9.9/32"}
    st.routes.add(("10.0.0.0/8", "10.9.9.1", 9, 0))
    st.if_table[9] = 0
    st.alg_interfaces.add(9)
    assert P.plan(cfg, st) == []


def test_missing_interface_is_a_plan_error():
    cfg = config.load(SEED)
    st = fresh(cfg)
    del st.sw_if_index["host-sipalg-out"]
    with pytest.raises(P.PlanError, match="interfaces.outside: VPP has no interface "
                                          "host-sipalg-out"):
        P.plan(cfg, st)


def test_alg_disabled_disables_interfaces():
    cfg = config.load(SEED)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    cfg = changed(cfg, {"sip_alg.enabled": False})
    assert [o.cli() for o in P.plan(cfg, st)] == [
        "set sip-alg interface host-sipalg-in disable",
        "set sip-alg interface host-sipalg-out disable"]


def test_full_on_fresh_vpp_sets_every_alg_setting():
    """One command per section, every field of it by name."""
    ops = P.plan(config.load(FULL), fresh(config.load(FULL)))
    assert [o.cli() for o in ops if o.cli().startswith("set sip-alg")] == [
        "set sip-alg ports udp 5060,5080 tcp 5060",
        "set sip-alg servers 192.168.1.5:5060",
        "set sip-alg timeouts signaling 300 media 30 call 3600 media-inactivity 300 "
        "max-duration 0 one-way-media 10",
        "set sip-alg limits max-calls 2000 max-held 512 media-ports 30000-39999 "
        "tcp-reassembly 32768",
        "set sip-alg media addresses 203.0.113.21 203.0.113.20 other-hosts on",
        "set sip-alg security max-inbound-calls 200 max-inbound-per-source 5 "
        "max-binding-time 1800 max-entries 65536 max-entries-per-call 12 "
        "inside-media-ports 10000-20000 max-calls-per-host 50 max-entries-per-host 400",
        "set sip-alg validation strict sdp pass block OPTIONS,MESSAGE,OTHER "
        "invite-rate 20 burst 40 register-rate 5",
        "set sip-alg interface tap0",
        "set sip-alg interface host-sipalg-wan",
    ]
    assert [o.call()[0] for o in ops if isinstance(
        o, (P.AlgTimeouts, P.AlgLimits, P.AlgMedia, P.AlgSecurity))] == [
        "sip_alg_set_timeouts_v2", "sip_alg_set_limits_v2", "sip_alg_set_media",
        "sip_alg_set_security_v2"]


@pytest.mark.parametrize("running", [False, True], ids=["running-off", "running-on"])
@pytest.mark.parametrize("want", [False, True], ids=["yaml-off", "yaml-on"])
def test_media_other_hosts(running, want):
    """The media section's one message when the running value differs, with the addresses
    as they are; none when it is the same."""
    cfg = config.load(SEED)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    st.alg["media_other_hosts"] = running
    cfg = changed(cfg, {"sip_alg.media.other_hosts": want})
    ops = P.plan(cfg, st)
    if running == want:
        assert ops == []
    else:
        assert ops == [P.AlgMedia(addresses=(), other_hosts=want)]
        assert ops[0].cli() == ("set sip-alg media addresses none other-hosts "
                                f"{'on' if want else 'off'}")
        assert ops[0].call() == ("sip_alg_set_media", {
            "other_hosts": want, "n_addresses": 0, "addresses": ["0.0.0.0"] * 16})
        assert P.plan(cfg, fake_apply(st, ops)) == []


def test_media_other_hosts_deprecated_spelling_plans_the_same():
    """The former sip_alg.media_other_hosts is media.other_hosts: the same plan."""
    data = yaml.safe_load(open(SEED))
    data["sip_alg"]["media_other_hosts"] = True
    old = config.parse(data)
    data["sip_alg"].pop("media_other_hosts")
    data["sip_alg"]["media"] = {"other_hosts": True}
    new = config.parse(data)
    assert P.plan(old, fresh(old)) == P.plan(new, fresh(new))
    assert P.AlgMedia(addresses=(), other_hosts=True) in P.plan(old, fresh(old))


class FakeClient:
    """Answers read_state's calls the way vpp_papi does, from a few fixed values."""

    def __init__(self, media_other_hosts, tcp=(5060,), tcp_reassembly=16384,
                 call_timers=(120, 43200), validation=None, host_limits=(0, 0),
                 servers=(), one_way_media=5, media_addresses=(), max_held=512):
        self.media_other_hosts = media_other_hosts
        self.max_held = max_held  # None: a plugin older than API 0.12.0 (no get_limits)
        self.tcp, self.tcp_reassembly = tuple(tcp), tcp_reassembly
        self.call_timers = call_timers  # None: a plugin older than API 0.6.0
        # validation: get_config's fields (VALIDATION_DEFAULTS' keys); host_limits None, and
        # no validation fields: a plugin older than API 0.7.0
        self.validation = dict(VALIDATION_DEFAULTS, **(validation or {}))
        self.host_limits = host_limits
        self.servers = servers  # None: a plugin older than API 0.8.0
        self.one_way_media = one_way_media  # None: a plugin older than API 0.10.0
        self.media_addresses = media_addresses  # None: a plugin older than API 0.11.0

    def has(self, msg):
        return False  # no ACL plugin

    def dump(self, msg, **kw):
        if msg == "sw_interface_dump":
            return [SimpleNamespace(interface_name="host-sipalg-in", sw_if_index=1, flags=1)]
        if msg == "ip_address_dump":
            return [SimpleNamespace(prefix="192.168.1.254/24")]
        assert not msg.startswith("acl_"), "ACL messages without the ACL plugin"
        return []

    def call(self, msg, **kw):
        if msg == "nat44_show_running_config":
            return SimpleNamespace(sessions=0)
        if msg == "sw_interface_get_table":
            return SimpleNamespace(retval=0, vrf_id=0)
        if msg == "sip_alg_get_limits":
            if self.max_held is None:
                raise AttributeError(msg)  # vpp_papi: no such message
            return SimpleNamespace(retval=0, max_calls=10000, max_held=self.max_held,
                                   media_port_lo=40000, media_port_hi=59999,
                                   tcp_reassembly=self.tcp_reassembly)
        assert msg == "sip_alg_get_config", msg
        # the reply's arrays are full length (8), only the first n_*_ports count
        timers = {} if self.call_timers is None else dict(
            media_inactivity=self.call_timers[0], max_duration=self.call_timers[1])
        if self.host_limits is not None:
            timers.update(self.validation, max_calls_per_host=self.host_limits[0],
                          max_entries_per_host=self.host_limits[1])
        if self.one_way_media is not None:
            timers["one_way_media"] = self.one_way_media
        if self.media_addresses is not None:  # a full-length array (16), as vpp_papi has it
            timers.update(n_media_addresses=len(self.media_addresses),
                          media_addresses=[ipaddress.IPv4Address(a)
                                           for a in self.media_addresses] +
                          [ipaddress.IPv4Address("0.0.0.0")] * (16 - len(self.media_addresses)))
        if self.servers is not None:  # full-length arrays (16), as vpp_papi decodes them
            pad = 16 - len(self.servers)
            timers.update(n_servers=len(self.servers),
                          server_address=[ipaddress.IPv4Address(a) for a, _ in self.servers]
                          + [ipaddress.IPv4Address("0.0.0.0")] * pad,
                          server_port=[p for _, p in self.servers] + [0] * pad)
        return SimpleNamespace(**timers, n_udp_ports=1, udp_ports=[5060] + [0] * 7,
                               n_tcp_ports=len(self.tcp),
                               tcp_ports=list(self.tcp) + [0] * (8 - len(self.tcp)),
                               signaling=120, media=60, call=7200, max_calls=10000,
                               media_port_lo=40000, media_port_hi=59999,
                               media_other_hosts=self.media_other_hosts,
                               max_inbound_calls=1000, max_inbound_per_source=20,
                               max_binding_time=3600, max_entries=65536,
                               max_entries_per_call=24, inside_port_lo=2000,
                               inside_port_hi=3000, tcp_reassembly=self.tcp_reassembly)


@pytest.mark.parametrize("value", [False, True])
def test_read_state_reads_media_other_hosts(value):
    st = P.read_state(FakeClient(value))
    assert st.alg == {"udp": (5060,), "tcp": (5060,), "signaling": 120, "media": 60, "call": 7200,
                      "max_calls": 10000, "max_held": 512, "media_ports": (40000, 59999),
                      "tcp_reassembly": 16384, "media_other_hosts": value,
                      **SECURITY_DEFAULTS, "inside_media_ports": (2000, 3000),
                      **CALL_TIMER_DEFAULTS, **ONE_WAY_DEFAULTS, **HOST_LIMIT_DEFAULTS,
                      **VALIDATION_DEFAULTS, "servers": (), "media_addresses": ()}
    assert st.sw_if_index == {"host-sipalg-in": 1} and st.addresses == {1: {"192.168.1.254/24"}}


# --- media public addresses (API 0.11.0) ----------------------------------------------------

MEDIA = ["203.0.113.20", "203.0.113.21", "203.0.113.22"]


@pytest.mark.parametrize("addrs", [(), ("203.0.113.20",), tuple(MEDIA)])
def test_read_state_reads_media_addresses(addrs):
    """get_config's n_media_addresses entries of media_addresses, in order."""
    assert P.read_state(FakeClient(False, media_addresses=addrs)).alg["media_addresses"] == addrs


def test_read_state_plugin_without_media_addresses():
    """A get_config reply of API 0.10.0: no media addresses, both fields named."""
    with pytest.raises(P.MissingPlugin) as e:
        P.read_state(FakeClient(False, media_addresses=None))
    assert str(e.value).startswith(
        "the running sip_alg plugin's sip_alg_get_config_reply has no n_media_addresses, "
        "media_addresses: it is older than this sipalgctl (sip_alg API 0.12.0 or later "
        "needed); ")


def test_read_state_reads_max_held():
    """max_held is not in get_config: sip_alg_get_limits' (API 0.12.0)."""
    assert P.read_state(FakeClient(False, max_held=16)).alg["max_held"] == 16


def test_media_addresses_planned_then_nothing():
    """sip_alg.media.addresses on a fresh VPP: the media section's message with the list in
    order (the array padded to 16), `set sip-alg media addresses a b c ...` on the CLI;
    applied, nothing to do; another order is another setting (each address is a slot of the
    pool); [] sets `none`."""
    cfg = changed(config.load(SEED), {"sip_alg.media": config.MediaModel(addresses=MEDIA)})
    ops = [o for o in P.plan(cfg, fresh(cfg)) if isinstance(o, P.AlgMedia)]
    assert [o.cli() for o in ops] == [
        "set sip-alg media addresses " + " ".join(MEDIA) + " other-hosts off"]
    assert ops[0].call() == ("sip_alg_set_media", {
        "other_hosts": False, "n_addresses": 3, "addresses": MEDIA + ["0.0.0.0"] * 13})
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    assert st.alg["media_addresses"] == tuple(MEDIA)
    assert P.plan(cfg, st) == []
    again = changed(cfg, {"sip_alg.media": config.MediaModel(addresses=MEDIA[::-1])})
    assert [o.cli() for o in P.plan(again, st)] == [
        "set sip-alg media addresses " + " ".join(MEDIA[::-1]) + " other-hosts off"]
    none = changed(cfg, {"sip_alg.media": config.MediaModel(addresses=[])})
    ops = P.plan(none, st)
    assert [o.cli() for o in ops] == ["set sip-alg media addresses none other-hosts off"]
    assert ops[0].call()[1]["n_addresses"] == 0
    assert P.plan(none, fake_apply(st, ops)) == []


def test_media_addresses_apply_is_idempotent_while_calls_hold_ports():
    """Applied again while calls hold media ports (the plugin refuses another list then):
    the same list plans nothing, so nothing is refused; a changed one fails with the reason
    and what to do."""
    cfg = changed(config.load(SEED), {"sip_alg.media": config.MediaModel(addresses=MEDIA)})
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    st.alg["media_ports_in_use"] = 7
    assert P.plan(cfg, st) == []
    other = changed(cfg, {"sip_alg.media": config.MediaModel(addresses=MEDIA[:2])})
    [op] = P.plan(other, st)
    c = ApiClient("sip_alg_set_media", -155)
    with pytest.raises(ApiError) as e:
        P.apply(c, [op])
    assert str(e.value) == (
        "sip_alg_set_media failed: retval -155: calls hold media ports: the media "
        "addresses change only while none does (wait for the calls to end, or restart VPP), "
        "then apply again")


def test_media_ports_refused_while_calls_hold_ports():
    """The limits' message changing the media range while calls hold media ports: the
    plugin's RSRC_IN_USE, said as what to do."""
    cfg = config.load(SEED)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    st.alg["media_ports_in_use"] = 1
    [op] = P.plan(changed(cfg, {"sip_alg.limits.media_ports": (30000, 39999)}), st)
    with pytest.raises(ApiError) as e:
        P.apply(ApiClient("sip_alg_set_limits_v2", -155), [op])
    assert str(e.value).startswith("sip_alg_set_limits_v2 failed: retval -155: calls hold "
                                   "media ports: the media port range changes only while")


def test_refusal_message_of_the_plugin_is_shown():
    """A section's set message refused (a value out of the plugin's bounds, should the
    model let one through): the plugin's error string, which names the field and value."""
    from sipalgctl import vpp

    class Api:
        def sip_alg_set_timeouts_v2(self, **kw):
            return SimpleNamespace(retval=-7, error="media 0: want 1..604800")

    c = vpp.Client.__new__(vpp.Client)
    c.vpp = SimpleNamespace(api=Api())
    with pytest.raises(ApiError) as e:
        c.call("sip_alg_set_timeouts_v2", media=0)
    assert str(e.value) == "sip_alg_set_timeouts_v2 failed: retval -7: media 0: want 1..604800"


SECURITY_CLI = ("set sip-alg security max-inbound-calls {} max-inbound-per-source {} "
                "max-binding-time {} max-entries {} max-entries-per-call {} "
                "inside-media-ports {}-{} max-calls-per-host {} max-entries-per-host {}")
SECURITY_ARGS = ("max_inbound_calls", "max_inbound_per_source", "max_binding_time",
                 "max_entries", "max_entries_per_call", "inside_port_lo", "inside_port_hi",
                 "max_calls_per_host", "max_entries_per_host")


def security(*values):
    """An AlgSecurity from its values in SECURITY_CLI's order."""
    v = dict(zip(SECURITY_ARGS, values))
    lo, hi = v.pop("inside_port_lo"), v.pop("inside_port_hi")
    return P.AlgSecurity(**v, inside_media_ports=(lo, hi))


def test_security_defaults_plan_nothing():
    """No sip_alg.security in the YAML: the plugin's defaults, which a fresh VPP has."""
    cfg = config.load(SEED)
    assert cfg.sip_alg.security == config.SecurityModel()
    assert not [o for o in P.plan(cfg, fresh(cfg)) if isinstance(o, P.AlgSecurity)]


@pytest.mark.parametrize("key,running", [
    ("max_inbound_calls", 999), ("max_inbound_per_source", 1), ("max_binding_time", 60),
    ("max_entries", 100), ("max_entries_per_call", 4), ("inside_media_ports", (1024, 1024)),
    ("inside_media_ports", (1025, 65535))])
def test_security_one_difference_sets_every_field(key, running):
    """Any running value that differs from the YAML: one operation with all the fields
    (what the YAML says, defaults for what it leaves out); after it, nothing to do."""
    cfg = config.load(SEED)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    st.alg[key] = running
    ops = P.plan(cfg, st)
    want = (1000, 20, 3600, 65536, 24, 1024, 65535, 0, 0)
    assert ops == [security(*want)]
    assert ops[0].cli() == SECURITY_CLI.format(*want)
    assert ops[0].call() == ("sip_alg_set_security_v2", dict(zip(SECURITY_ARGS, want)))
    assert P.plan(cfg, fake_apply(st, ops)) == []


def test_security_from_yaml():
    """Keys the YAML sets, the plugin's defaults for the rest; apply twice plans nothing."""
    import yaml
    data = yaml.safe_load(open(SEED))
    data["sip_alg"]["security"] = {"max_inbound_per_source": 3, "max_entries_per_call": 8,
                                   "inside_media_ports": "16384-32767"}
    cfg = config.parse(data)
    ops = [o for o in P.plan(cfg, fresh(cfg)) if o.cli().startswith("set sip-alg security")]
    assert ops == [security(1000, 3, 3600, 65536, 8, 16384, 32767, 0, 0)]
    assert ops[0].cli() == SECURITY_CLI.format(1000, 3, 3600, 65536, 8, 16384, 32767, 0, 0)
    assert ops[0].call()[1]["max_inbound_per_source"] == 3
    assert (ops[0].call()[1]["inside_port_lo"], ops[0].call()[1]["inside_port_hi"]) == \
        (16384, 32767)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    assert P.plan(cfg, st) == []
    # back to the defaults: the key removed from the YAML is set to the plugin's value
    ops = P.plan(config.load(SEED), st)
    assert ops == [security(1000, 20, 3600, 65536, 24, 1024, 65535, 0, 0)]


def test_security_before_the_interfaces():
    """On a fresh VPP the bounds are in place before the ALG sees traffic."""
    cfg = config.load(FULL)
    ops = P.plan(cfg, fresh(cfg))
    kinds = [type(o) for o in ops]
    assert kinds.index(P.AlgSecurity) < kinds.index(P.AlgInterface)


@pytest.mark.parametrize("running,want", [
    ((), (5060,)), ((5060,), ()), ((5060,), (5060, 5061)), ((5061, 5060), (5060, 5061)),
    ((), ()), ((5060,), (5060,))])
def test_tcp_ports(running, want):
    """One sip_alg_set_ports (UDP and TCP together) when the running TCP ports differ, none
    when they are the same; no TCP ports is `tcp none`."""
    cfg = config.load(SEED)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    st.alg["tcp"] = running
    cfg = changed(cfg, {"sip_alg.ports.tcp": list(want)})
    ops = P.plan(cfg, st)
    if running == want:
        assert ops == []
        return
    assert ops == [P.AlgPorts((5060,), want)]
    assert ops[0].cli() == "set sip-alg ports udp 5060 tcp " + \
        (",".join(str(p) for p in want) or "none")
    assert ops[0].call() == ("sip_alg_set_ports", {
        "n_udp_ports": 1, "udp_ports": [5060] + [0] * 7,
        "n_tcp_ports": len(want), "tcp_ports": list(want) + [0] * (8 - len(want))})
    assert P.plan(cfg, fake_apply(st, ops)) == []


def test_tcp_ports_eight():
    cfg = config.load(SEED)
    cfg = changed(cfg, {"sip_alg.ports.udp": [5060, 5080],
                        "sip_alg.ports.tcp": list(range(5060, 5068))})
    ops = [o for o in P.plan(cfg, fresh(cfg)) if isinstance(o, P.AlgPorts)]
    assert [o.cli() for o in ops] == [
        "set sip-alg ports udp 5060,5080 tcp 5060,5061,5062,5063,5064,5065,5066,5067"]
    assert ops[0].call()[1]["tcp_ports"] == list(range(5060, 5068))
    assert ops[0].call()[1]["n_tcp_ports"] == 8


LIMITS_CLI = "set sip-alg limits max-calls {} max-held {} media-ports {}-{} tcp-reassembly {}"


@pytest.mark.parametrize("key,running,want", [
    ("tcp_reassembly", 16384, 16384), ("tcp_reassembly", 16384, 1024),
    ("tcp_reassembly", 65535, 16384), ("tcp_reassembly", 4096, 65535),
    ("max_held", 512, 16), ("max_held", 16, 512), ("max_calls", 10000, 1 << 24),
    ("media_ports", (40000, 59999), (1024, 1027))])
def test_limits_one_difference_sets_every_field(key, running, want):
    """One sip_alg_set_limits_v2 with every limit when any running value differs, none when
    they are the same; after it, nothing to do."""
    cfg = config.load(SEED)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    st.alg[key] = running
    cfg = changed(cfg, {f"sip_alg.limits.{key}": want})
    ops = P.plan(cfg, st)
    if running == want:
        assert ops == []
        return
    v = {"max_calls": 10000, "max_held": 512, "media_ports": (40000, 59999),
         "tcp_reassembly": 16384, key: want}
    assert ops == [P.AlgLimits(**v)]
    assert ops[0].cli() == LIMITS_CLI.format(v["max_calls"], v["max_held"], *v["media_ports"],
                                             v["tcp_reassembly"])
    assert ops[0].call() == ("sip_alg_set_limits_v2", {
        "max_calls": v["max_calls"], "max_held": v["max_held"],
        "media_port_lo": v["media_ports"][0], "media_port_hi": v["media_ports"][1],
        "tcp_reassembly": v["tcp_reassembly"]})
    assert P.plan(cfg, fake_apply(st, ops)) == []


def test_tcp_defaults_plan_nothing():
    """The seed's SIP over TCP on 5060 at the default reassembly: what a fresh VPP has."""
    cfg = config.load(SEED)
    ops = P.plan(cfg, fresh(cfg))
    assert not [o for o in ops if isinstance(o, (P.AlgPorts, P.AlgLimits))]


def test_tcp_from_yaml_removed():
    """full.yaml's TCP settings, applied; then no TCP ports (`tcp: []`) and the
    reassembly key removed: SIP over TCP off, the default reassembly."""
    cfg = config.load(FULL)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    assert (st.alg["tcp"], st.alg["tcp_reassembly"]) == ((5060,), 32768)
    cfg = changed(cfg, {"sip_alg.ports.tcp": [],
                        "sip_alg.limits.tcp_reassembly": config.LimitsModel().tcp_reassembly})
    ops = P.plan(cfg, st)
    assert [o.cli() for o in ops] == ["set sip-alg ports udp 5060,5080 tcp none",
                                      LIMITS_CLI.format(2000, 512, 30000, 39999, 16384)]
    assert P.plan(cfg, fake_apply(st, ops)) == []


def test_tcp_before_the_interfaces():
    """On a fresh VPP, TCP ports and reassembly are set before the ALG sees traffic."""
    cfg = config.load(FULL)
    kinds = [type(o) for o in P.plan(cfg, fresh(cfg))]
    assert kinds.index(P.AlgPorts) < kinds.index(P.AlgInterface)
    assert kinds.index(P.AlgLimits) < kinds.index(P.AlgInterface)


@pytest.mark.parametrize("tcp,reassembly", [((), 16384), ((5060,), 4096),
                                            (tuple(range(5060, 5068)), 65535)])
def test_read_state_reads_tcp(tcp, reassembly):
    """The TCP ports (the first n_tcp_ports of the reply's array) and the reassembly limit,
    from sip_alg_get_config."""
    st = P.read_state(FakeClient(False, tcp, reassembly))
    assert (st.alg["udp"], st.alg["tcp"], st.alg["tcp_reassembly"]) == \
        ((5060,), tcp, reassembly)


TIMEOUTS_CLI = ("set sip-alg timeouts signaling {} media {} call {} media-inactivity {} "
                "max-duration {} one-way-media {}")
TIMEOUT_DEFAULTS = {"signaling": 120, "media": 60, "call": 7200, "media_inactivity": 120,
                    "max_duration": 43200, "one_way_media": 5}


def test_timeout_defaults_plan_nothing():
    """The seed says the plugin's defaults, which a fresh VPP has."""
    cfg = config.load(SEED)
    assert cfg.sip_alg.timeouts.one_way_media == 5
    assert not [o for o in P.plan(cfg, fresh(cfg)) if isinstance(o, P.AlgTimeouts)]


@pytest.mark.parametrize("key,running,want", [
    ("signaling", 120, 30), ("media", 60, 1), ("call", 7200, 604800),
    ("media_inactivity", 120, 300), ("media_inactivity", 120, 0), ("media_inactivity", 0, 120),
    ("max_duration", 43200, 3600), ("max_duration", 0, 43200), ("one_way_media", 5, 2),
    ("one_way_media", 5, 0), ("one_way_media", 0, 5), ("one_way_media", 3600, 1),
    ("max_duration", 43200, 43200)])
def test_timeouts_one_difference_sets_every_timer(key, running, want):
    """One sip_alg_set_timeouts_v2 with all six timers when any running value differs, none
    when they are the same; 0 (off) is a value like any other; after it, nothing to do."""
    cfg = config.load(SEED)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    st.alg[key] = running
    cfg = changed(cfg, {f"sip_alg.timeouts.{key}": want})
    ops = P.plan(cfg, st)
    if running == want:
        assert ops == []
        return
    v = dict(TIMEOUT_DEFAULTS, **{key: want})
    assert ops == [P.AlgTimeouts(**{("call_" if k == "call" else k): x for k, x in v.items()})]
    assert ops[0].cli() == TIMEOUTS_CLI.format(*v.values())
    assert ops[0].call() == ("sip_alg_set_timeouts_v2", v)
    assert P.plan(cfg, fake_apply(st, ops)) == []


def test_timeouts_from_yaml_removed():
    """full.yaml's timers, applied; the keys removed from the YAML: back to the plugin's
    defaults, in one message."""
    cfg = config.load(FULL)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    assert (st.alg["media_inactivity"], st.alg["max_duration"]) == (300, 0)
    cfg = changed(cfg, {"sip_alg.timeouts": config.TimeoutsModel()})
    ops = P.plan(cfg, st)
    assert [o.cli() for o in ops] == [TIMEOUTS_CLI.format(*TIMEOUT_DEFAULTS.values())]
    assert P.plan(cfg, fake_apply(st, ops)) == []


def test_timeouts_before_the_interfaces():
    """On a fresh VPP, the timers are set before the ALG sees traffic."""
    cfg = config.load(FULL)
    kinds = [type(o) for o in P.plan(cfg, fresh(cfg))]
    assert kinds.index(P.AlgTimeouts) < kinds.index(P.AlgInterface)


@pytest.mark.parametrize("value", [0, 5, 3600])
def test_read_state_reads_one_way_media(value):
    assert P.read_state(FakeClient(False, one_way_media=value)).alg["one_way_media"] == value


def test_read_state_plugin_without_one_way_media():
    """A get_config reply of API 0.9.0: no one_way_media, named."""
    with pytest.raises(P.MissingPlugin) as e:
        P.read_state(FakeClient(False, one_way_media=None))
    assert str(e.value).startswith(
        "the running sip_alg plugin's sip_alg_get_config_reply has no one_way_media: it is "
        "older than this sipalgctl (sip_alg API 0.12.0 or later needed); ")


@pytest.mark.parametrize("timers", [(120, 43200), (0, 0), (86400, 604800)])
def test_read_state_reads_call_timers(timers):
    st = P.read_state(FakeClient(False, call_timers=timers))
    assert (st.alg["media_inactivity"], st.alg["max_duration"]) == timers


def test_read_state_old_plugin():
    """A get_config reply without the call timers (a plugin built from sip_alg.api 0.5.0):
    MissingPlugin naming the reply and the fields, not an AttributeError."""
    with pytest.raises(P.MissingPlugin) as e:
        P.read_state(FakeClient(False, call_timers=None))
    assert str(e.value) == (
        "the running sip_alg plugin's sip_alg_get_config_reply has no media_inactivity, "
        "max_duration: it is older than this sipalgctl (sip_alg API 0.12.0 or later needed); "
        "build and install the plugin again (make plugin, or make install-plugin) and "
        "restart VPP")


def test_read_state_plugin_without_validation():
    """A get_config reply of API 0.6.0: no host limits, no validation; every missing field
    named."""
    with pytest.raises(P.MissingPlugin) as e:
        P.read_state(FakeClient(False, host_limits=None))
    assert str(e.value).startswith(
        "the running sip_alg plugin's sip_alg_get_config_reply has no max_calls_per_host, "
        "max_entries_per_host, strict, drop_parse, drop_header, drop_sdp, drop_too_many, "
        "block_methods, invite_rate, invite_burst, register_rate, register_burst: it is older "
        "than this sipalgctl (sip_alg API 0.12.0 or later needed); ")


def test_plan_old_plugin_exits_2(monkeypatch, capsys):
    """`sipalgctl plan` against that plugin: exit 2 (like a plugin not loaded), the message
    on stderr."""
    from sipalgctl import cli

    class Client(FakeClient):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(cli, "client",
                        lambda args, cfg=None, plugin=None: Client(False, call_timers=None))
    assert cli.main(["plan", SEED]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sipalgctl: the running sip_alg plugin's sip_alg_get_config_reply "
                          "has no media_inactivity, max_duration: ")


# --- limits per inside host, validation ------------------------------------------------------

def _parse(**sip_alg):
    """The seed with these sip_alg keys."""
    import yaml
    data = yaml.safe_load(open(SEED))
    data["sip_alg"].update(sip_alg)
    return config.parse(data)


def test_validation_and_host_limit_defaults_plan_nothing():
    """The seed leaves both out: the plugin's defaults, which a fresh VPP has."""
    cfg = config.load(SEED)
    assert not [o for o in P.plan(cfg, fresh(cfg))
                if isinstance(o, (P.AlgValidation, P.AlgSecurity))]


@pytest.mark.parametrize("running,want", [
    ((0, 0), (0, 0)), ((0, 0), (10, 0)), ((0, 0), (0, 100)), ((10, 100), (10, 100)),
    ((10, 100), (0, 0)), ((1, 4294967295), (4294967295, 1))])
def test_host_limits(running, want):
    """The host limits are the security section's: its one message, every field, when
    either differs; none when both are the same; after it, nothing to do."""
    cfg = config.load(SEED)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    st.alg.update(max_calls_per_host=running[0], max_entries_per_host=running[1])
    cfg = changed(cfg, {"sip_alg.security.max_calls_per_host": want[0],
                        "sip_alg.security.max_entries_per_host": want[1]})
    ops = P.plan(cfg, st)
    if running == want:
        assert ops == []
        return
    v = (1000, 20, 3600, 65536, 24, 1024, 65535, *want)
    assert ops == [security(*v)]
    assert ops[0].cli() == SECURITY_CLI.format(*v)
    assert ops[0].call() == ("sip_alg_set_security_v2", dict(zip(SECURITY_ARGS, v)))
    assert P.plan(cfg, fake_apply(st, ops)) == []


@pytest.mark.parametrize("host", [(0, 0), (5, 50)])
def test_security_change_keeps_the_host_limits(host):
    """A change of another security bound sends the host limits the YAML has with it (one
    message for the section); apply twice plans nothing."""
    cfg = config.load(SEED)
    cfg = changed(cfg, {"sip_alg.security.max_calls_per_host": host[0],
                        "sip_alg.security.max_entries_per_host": host[1]})
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    assert P.plan(cfg, st) == []
    cfg = changed(cfg, {"sip_alg.security.max_entries_per_call": 12})
    ops = P.plan(cfg, st)
    assert [type(o) for o in ops] == [P.AlgSecurity]
    assert ops[0].call()[1]["max_calls_per_host"] == host[0]
    st = fake_apply(st, ops)
    assert (st.alg["max_calls_per_host"], st.alg["max_entries_per_host"]) == host
    assert P.plan(cfg, st) == []


VALIDATION_CASES = [
    # (sip_alg.validation, get_config's fields it makes, plan's CLI text)
    ({}, {}, "set sip-alg validation lenient block none invite-rate 0 register-rate 0"),
    ({"mode": "strict"}, {"strict": True, "drop_parse": True, "drop_header": True,
                          "drop_sdp": True, "drop_too_many": True},
     "set sip-alg validation strict block none invite-rate 0 register-rate 0"),
    ({"mode": "strict", "actions": {"sdp": "pass", "header": "pass"}},
     {"strict": True, "drop_parse": True, "drop_too_many": True},
     "set sip-alg validation strict header pass sdp pass block none invite-rate 0 "
     "register-rate 0"),
    ({"actions": {"too_many": "drop"}}, {"drop_too_many": True},
     "set sip-alg validation lenient too-many drop block none invite-rate 0 register-rate 0"),
    ({"block_methods": ["message", "OTHER", "Subscribe"]},
     {"block_methods": 1 << 12 | 1 << 15 | 1 << 10},
     "set sip-alg validation lenient block SUBSCRIBE,MESSAGE,OTHER invite-rate 0 "
     "register-rate 0"),
    ({"block_methods": ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK",
                        "UPDATE", "INFO", "SUBSCRIBE", "NOTIFY", "MESSAGE", "REFER", "PUBLISH",
                        "OTHER"]},
     {"block_methods": 0xFFFE},
     "set sip-alg validation lenient block INVITE,ACK,BYE,CANCEL,OPTIONS,REGISTER,PRACK,"
     "UPDATE,INFO,SUBSCRIBE,NOTIFY,MESSAGE,REFER,PUBLISH,OTHER invite-rate 0 register-rate 0"),
    ({"rate_limits": {"invite": {"rate": 20}}}, {"invite_rate": 20, "invite_burst": 20},
     "set sip-alg validation lenient block none invite-rate 20 register-rate 0"),
    ({"rate_limits": {"invite": {"rate": 20, "burst": 40}, "register": {"rate": 2, "burst": 1}}},
     {"invite_rate": 20, "invite_burst": 40, "register_rate": 2, "register_burst": 1},
     "set sip-alg validation lenient block none invite-rate 20 burst 40 register-rate 2 "
     "burst 1"),
    ({"rate_limits": {"register": {"rate": 0, "burst": 8}}}, {"register_burst": 8},
     "set sip-alg validation lenient block none invite-rate 0 register-rate 0 burst 8"),
]


@pytest.mark.parametrize("yaml_v,fields,cli", VALIDATION_CASES,
                         ids=[c[2][24:] for c in VALIDATION_CASES])
def test_validation(yaml_v, fields, cli):
    """The fields sent are what get_config will report (the defaults' for what the YAML
    leaves out); the CLI text says the same to `set sip-alg validation` (the mode sets the
    classes it does not name, a burst is the rate unless given). Planned only when the
    running values differ; after it, nothing to do."""
    cfg = _parse(validation=yaml_v)
    want = dict(VALIDATION_DEFAULTS, **fields)
    assert P.validation_fields(cfg.sip_alg.validation) == want
    st = fake_apply(fresh(cfg), [o for o in P.plan(cfg, fresh(cfg))
                                 if not isinstance(o, P.AlgValidation)])
    ops = P.plan(cfg, st)
    if not fields:
        assert ops == []
        # from anything else back to the defaults: the whole set
        st.alg.update(strict=True, block_methods=1 << 5, invite_rate=3, invite_burst=3)
        ops = P.plan(cfg, st)
    assert ops == [P.AlgValidation(**want)]
    assert ops[0].cli() == cli
    assert ops[0].call() == ("sip_alg_set_validation", want)
    assert P.plan(cfg, fake_apply(st, ops)) == []


@pytest.mark.parametrize("key", list(VALIDATION_DEFAULTS))
def test_validation_one_difference_sets_every_field(key):
    """Any one running field that differs: one operation with all of them."""
    cfg = config.load(FULL)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    assert P.plan(cfg, st) == []
    st.alg[key] = (not st.alg[key]) if isinstance(st.alg[key], bool) else st.alg[key] + 1
    ops = P.plan(cfg, st)
    assert ops == [P.AlgValidation(**P.validation_fields(cfg.sip_alg.validation))]
    assert P.plan(cfg, fake_apply(st, ops)) == []


def test_validation_from_yaml_removed():
    """full.yaml's validation and host limits, applied; the sections removed from the YAML:
    back to the plugin's defaults."""
    cfg = config.load(FULL)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    assert (st.alg["strict"], st.alg["drop_sdp"], st.alg["block_methods"],
            st.alg["register_burst"], st.alg["max_entries_per_host"]) == \
        (True, False, 1 << 5 | 1 << 12 | 1 << 15, 5, 400)
    cfg = changed(cfg, {"sip_alg.validation": config.ValidationModel(),
                        "sip_alg.security.max_calls_per_host": 0,
                        "sip_alg.security.max_entries_per_host": 0})
    ops = P.plan(cfg, st)
    assert [o.cli() for o in ops] == [
        SECURITY_CLI.format(200, 5, 1800, 65536, 12, 10000, 20000, 0, 0),
        "set sip-alg validation lenient block none invite-rate 0 register-rate 0"]
    assert P.plan(cfg, fake_apply(st, ops)) == []


def test_validation_and_host_limits_before_the_interfaces():
    """On a fresh VPP, the verdicts and limits are in place before the ALG sees traffic."""
    cfg = config.load(FULL)
    kinds = [type(o) for o in P.plan(cfg, fresh(cfg))]
    assert kinds.index(P.AlgSecurity) < kinds.index(P.AlgInterface)
    assert kinds.index(P.AlgValidation) < kinds.index(P.AlgInterface)


@pytest.mark.parametrize("validation,host", [
    ({}, (0, 0)),
    ({"strict": 1, "drop_parse": 1, "drop_sdp": 0, "block_methods": 1 << 12,
      "invite_rate": 20, "invite_burst": 40}, (7, 70))])
def test_read_state_reads_validation_and_host_limits(validation, host):
    """From sip_alg_get_config: the flags as bools (vpp_papi may give ints), the rest as
    numbers."""
    st = P.read_state(FakeClient(False, validation=validation, host_limits=host))
    want = dict(VALIDATION_DEFAULTS, **validation)
    assert {k: st.alg[k] for k in VALIDATION_DEFAULTS} == want
    assert all(type(st.alg[k]) is bool for k in VALIDATION_DEFAULTS
               if k == "strict" or k.startswith("drop_"))
    assert (st.alg["max_calls_per_host"], st.alg["max_entries_per_host"]) == host


def test_validation_plans_against_read_state():
    """What read_state reads back after the validation was applied plans nothing: the two
    sides use the same names and types."""
    cfg = config.load(FULL)
    fields = P.validation_fields(cfg.sip_alg.validation)
    st = fresh(cfg)
    st.alg = P.read_state(FakeClient(False, validation=fields, host_limits=(50, 400))).alg
    kinds = [type(o) for o in P.plan(cfg, st)]
    assert P.AlgValidation not in kinds
    # FakeClient's security bounds are not FULL's; its host limits are
    assert [k for k in kinds if k is P.AlgSecurity] == [P.AlgSecurity]
    st.alg.update({k: getattr(cfg.sip_alg.security, k) for k in P.SECURITY})
    assert P.AlgSecurity not in [type(o) for o in P.plan(cfg, st)]


# --- published SIP servers -------------------------------------------------------------------

PBX = os.path.join(HERE, "..", "..", "mgmt", "examples", "pbx-inside.yaml")
SERVERS_CLI = "set sip-alg servers {}"


def test_servers_of_the_pbx_example_on_fresh_vpp():
    """pbx-inside.yaml's static mappings publish the PBX: one sip_alg_set_servers with it,
    before the ALG is on the interfaces; applied, nothing more to do."""
    cfg = config.load(PBX)
    ops = P.plan(cfg, fresh(cfg))
    (op,) = [o for o in ops if isinstance(o, P.AlgServers)]
    assert op.cli() == "set sip-alg servers 192.168.1.5:5060"
    assert op.call() == ("sip_alg_set_servers", {
        "n_servers": 1, "address": ["192.168.1.5"] + ["0.0.0.0"] * 15,
        "port": [5060] + [0] * 15})
    kinds = [type(o) for o in ops]
    assert P.AlgPorts not in kinds  # its ports are a fresh VPP's: UDP and TCP 5060
    assert kinds.index(P.AlgServers) < kinds.index(P.AlgInterface)
    assert P.plan(cfg, fake_apply(fresh(cfg), ops)) == []
    # ports to set too: before the servers (the plugin refuses a server on no SIP port)
    cfg = changed(cfg, {"sip_alg.ports.tcp": [5060, 5070]})
    kinds = [type(o) for o in P.plan(cfg, fresh(cfg))]
    assert kinds.index(P.AlgPorts) < kinds.index(P.AlgServers) < kinds.index(P.AlgInterface)


def test_no_servers_plans_nothing():
    """The seed publishes no server, which a fresh VPP has."""
    cfg = config.load(SEED)
    assert not [o for o in P.plan(cfg, fresh(cfg)) if isinstance(o, P.AlgServers)]


@pytest.mark.parametrize("running,want,cli", [
    ((), (("192.168.1.5", 5060),), "192.168.1.5:5060"),
    ((("192.168.1.5", 5060),), (), "none"),
    ((("192.168.1.5", 5060),), (("192.168.1.6", 5060),), "192.168.1.6:5060"),
    ((("192.168.1.5", 5060),), (("192.168.1.5", 5060), ("192.168.1.6", 5080)),
     "192.168.1.5:5060 192.168.1.6:5080"),
    ((("192.168.1.5", 5060), ("192.168.1.6", 5080)), (("192.168.1.5", 5060),),
     "192.168.1.5:5060"),
    # the order means nothing to the plugin
    ((("192.168.1.6", 5080), ("192.168.1.5", 5060)),
     (("192.168.1.5", 5060), ("192.168.1.6", 5080)), None),
    ((("192.168.1.5", 5060),), (("192.168.1.5", 5060),), None),
    # set twice by hand on VPP's CLI: the list is set again
    ((("192.168.1.5", 5060), ("192.168.1.5", 5060)), (("192.168.1.5", 5060),),
     "192.168.1.5:5060"),
])
def test_servers(running, want, cli):
    """One sip_alg_set_servers with the whole list when the running list differs (as a set),
    none when it is the same; after it, nothing to do."""
    cfg = config.load(SEED)
    cfg = changed(cfg, {"sip_alg.ports.udp": [5060, 5080]})
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    st.alg["servers"] = running
    cfg = changed(cfg, {"sip_alg.servers": [(ipaddress.IPv4Address(a), p) for a, p in want]})
    ops = P.plan(cfg, st)
    if cli is None:
        assert ops == []
        return
    assert ops == [P.AlgServers(want)]
    assert ops[0].cli() == SERVERS_CLI.format(cli)
    name, args = ops[0].call()
    assert (name, args["n_servers"]) == ("sip_alg_set_servers", len(want))
    assert list(zip(args["address"], args["port"]))[:len(want)] == list(want)
    assert P.plan(cfg, fake_apply(st, ops)) == []


def test_servers_from_yaml_removed():
    """full.yaml's static mapping of 192.168.1.5:5060 publishes it; with the mapping gone
    from the YAML, the mapping and the server go."""
    cfg = config.load(FULL)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    assert st.alg["servers"] == (("192.168.1.5", 5060),)
    data = yaml.safe_load(open(FULL))
    data["nat44"]["static_mappings"] = data["nat44"]["static_mappings"][1:]
    cfg = config.parse(data)
    ops = P.plan(cfg, st)
    assert [o.cli() for o in ops] == [
        "nat44 add static mapping udp local 192.168.1.5 5060 external 203.0.113.11 5060 del",
        "set sip-alg servers none"]
    assert P.plan(cfg, fake_apply(st, ops)) == []


def test_servers_explicit_empty_keeps_the_mapping():
    """`servers: []`: the static mapping stays, no server is published."""
    data = yaml.safe_load(open(FULL))
    data["sip_alg"]["servers"] = []
    cfg = config.parse(data)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    assert st.alg["servers"] == () and len(st.static_mappings) == 2
    assert P.plan(cfg, st) == []


@pytest.mark.parametrize("servers", [(), (("192.168.1.5", 5060),),
                                     tuple((f"10.0.0.{n}", 5060) for n in range(1, 17))])
def test_read_state_reads_servers(servers):
    """The first n_servers of get_config's full-length arrays, as (address text, port)."""
    st = P.read_state(FakeClient(False, servers=servers))
    assert st.alg["servers"] == servers


def test_read_state_plugin_without_servers():
    """A get_config reply of API 0.7.0: no servers; every missing field named."""
    with pytest.raises(P.MissingPlugin) as e:
        P.read_state(FakeClient(False, servers=None))
    assert str(e.value).startswith(
        "the running sip_alg plugin's sip_alg_get_config_reply has no n_servers, "
        "server_address, server_port: it is older than this sipalgctl (sip_alg API 0.12.0 or "
        "later needed); ")


# --- NAT44-ED's output feature -----------------------------------------------------------------

class ApiClient:
    """Answers apply's calls with retval 0, but retval for msg (and sw_if_index, if given)."""

    def __init__(self, msg, retval, sw_if_index=None):
        self.msg, self.retval, self.sw_if_index, self.sent = msg, retval, sw_if_index, []

    def call(self, msg, **kw):
        self.sent.append(msg)
        if msg == self.msg and self.sw_if_index in (None, kw.get("sw_if_index")):
            raise ApiError(msg, self.retval, kw)
        return SimpleNamespace(retval=0)


OUTPUT_FEATURE = (
    "sip_alg_interface_enable_disable failed: retval -126: interface host-sipalg-out has "
    "NAT44-ED's output feature on it (set interface nat44 out host-sipalg-out output-feature): "
    "the SIP ALG cannot work there, it works with NAT44-ED inside/outside interfaces only; "
    "take the output feature off (set interface nat44 out host-sipalg-out output-feature "
    "del), sipalgctl makes the interface a NAT44-ED inside or outside interface by its role")


def test_apply_alg_on_output_feature_interface():
    """VPP refuses the ALG on an interface with NAT44-ED's output feature
    (VNET_API_ERROR_UNSUPPORTED): apply stops there and says why."""
    ops = [P.AlgInterface("host-sipalg-in", 1, True), P.AlgInterface("host-sipalg-out", 2, True),
           P.AlgPorts((5060,))]
    c = ApiClient("sip_alg_interface_enable_disable", P.UNSUPPORTED, sw_if_index=2)
    with pytest.raises(ApiError) as e:
        P.apply(c, ops)
    assert str(e.value) == OUTPUT_FEATURE and e.value.retval == -126
    assert c.sent == ["sip_alg_interface_enable_disable"] * 2  # nothing after it


@pytest.mark.parametrize("op,retval", [
    (P.AlgInterface("host-sipalg-out", 2, True), -1),
    (P.AlgInterface("host-sipalg-out", 2, False), P.UNSUPPORTED),
    (P.AlgPorts((5060,)), P.UNSUPPORTED)])
def test_apply_other_failures_as_they_are(op, retval):
    """Other failures keep the call's arguments, as before."""
    msg, args = op.call()
    with pytest.raises(ApiError) as e:
        P.apply(ApiClient(msg, retval), [op])
    assert str(e.value) == f"{msg} failed: retval {retval} ({args})"


def test_cli_apply_output_feature_exits_3(monkeypatch, capsys):
    """`sipalgctl apply`: exit 3 at the interface VPP refuses, the reason on stderr."""
    from sipalgctl import cli

    class Client(FakeClient):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def dump(self, msg, **kw):
            if msg == "sw_interface_dump":
                return [SimpleNamespace(interface_name=n, sw_if_index=x, flags=1)
                        for n, x in (("host-sipalg-in", 1), ("host-sipalg-out", 2))]
            return super().dump(msg, **kw)

        def call(self, msg, **kw):
            if msg in ("nat44_show_running_config", "sip_alg_get_config",
                       "sip_alg_get_limits", "sw_interface_get_table"):
                return super().call(msg, **kw)
            if msg == "sip_alg_interface_enable_disable" and kw["sw_if_index"] == 2:
                raise ApiError(msg, P.UNSUPPORTED, kw)
            return SimpleNamespace(retval=0)

    monkeypatch.setattr(cli, "client", lambda args, cfg=None, plugin=None: Client(False))
    assert cli.main(["apply", SEED]) == 3
    out, err = capsys.readouterr()
    assert [l.split("] ", 1)[1] for l in out.splitlines()[-2:]] == [
        "set sip-alg interface host-sipalg-in", "set sip-alg interface host-sipalg-out"]
    assert err == "sipalgctl: apply failed: " + OUTPUT_FEATURE + "\n"


def test_plan_refuses_output_feature_interfaces():
    """NAT44-ED's output feature on an interface the YAML makes inside or outside (set by
    hand: the YAML cannot): NAT44-ED would refuse the role and the ALG the interface, so plan
    says so before anything is sent. On a role none interface it is left alone."""
    cfg = config.load(FULL)
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    wan = st.sw_if_index["host-sipalg-wan"]
    st.nat_output = {wan}
    with pytest.raises(P.PlanError) as e:
        P.plan(cfg, st)
    assert str(e.value) == (
        "interfaces.wan: interface host-sipalg-wan has NAT44-ED's output feature on it (set "
        "interface nat44 out host-sipalg-wan output-feature): the SIP ALG cannot work there, "
        "it works with NAT44-ED inside/outside interfaces only; take the output feature off "
        "(set interface nat44 out host-sipalg-wan output-feature del), sipalgctl makes the "
        "interface a NAT44-ED inside or outside interface by its role")
    st.nat_output = {st.sw_if_index["loop0"]}  # mgmt, role none
    assert P.plan(cfg, st) == []


def test_read_state_reads_output_feature_interfaces():
    class Client(FakeClient):
        def has(self, msg):
            return msg == "nat44_ed_output_interface_get"

        def dump(self, msg, **kw):
            if msg == "nat44_ed_output_interface_get":
                assert kw == {"cursor": 0}
                return [SimpleNamespace(sw_if_index=1)]
            return super().dump(msg, **kw)

        def call(self, msg, **kw):
            if msg == "nat44_show_running_config":
                return SimpleNamespace(sessions=100)
            return super().call(msg, **kw)

    assert P.read_state(Client(False)).nat_output == {1}
    assert P.read_state(FakeClient(False)).nat_output == set()


# --- VRF tables and tenants ----------------------------------------------------------------------

TENANTS_FRESH = [
    "ip table add 10 name tenant-a",
    "ip table add 20 name tenant-b",
    "set interface ip table host-sipalg-in-a 10",
    "set interface ip table host-sipalg-in-b 20",
    "set interface ip address host-sipalg-in-a 192.168.1.254/24",
    "set interface state host-sipalg-in-a up",
    "set interface ip address host-sipalg-in-b 192.168.1.254/24",
    "set interface state host-sipalg-in-b up",
    "set interface ip address host-sipalg-out 203.0.113.1/24",
    "set interface state host-sipalg-out up",
    "ip route add 198.51.100.0/24 via 203.0.113.2 host-sipalg-out",
    # the tenants' routes out, through the outside interface (in another table)
    "ip route add 198.51.100.0/24 table 10 via 203.0.113.2 host-sipalg-out",
    "ip route add 198.51.100.0/24 table 20 via 203.0.113.2 host-sipalg-out",
    "nat44 plugin enable sessions 10000",
    "nat44 add address 203.0.113.10 tenant-vrf 10",
    "nat44 add address 203.0.113.11 tenant-vrf 20",
    "set interface nat44 in host-sipalg-in-a",
    "set interface nat44 in host-sipalg-in-b",
    "set interface nat44 out host-sipalg-out",
    "set sip-alg interface host-sipalg-in-a",
    "set sip-alg interface host-sipalg-in-b",
    "set sip-alg interface host-sipalg-out",
]


def tenants(edit=None):
    """tenants.yaml, its data changed by edit(data) first, parsed."""
    data = yaml.safe_load(open(TENANTS))
    if edit:
        edit(data)
    return config.parse(data)


def applied(cfg):
    """A fresh VPP with cfg applied (fake_apply refuses what VPP refuses)."""
    st = fake_apply(fresh(cfg), P.plan(cfg, fresh(cfg)))
    assert P.plan(cfg, st) == []
    return st


def test_tenants_on_fresh_vpp():
    """The tables first, under their names; each interface put in its table before it gets
    its address; the tenants' NAT addresses after the tables (NAT44-ED would make a missing
    table itself, unnamed); applied, VPP has what the YAML says."""
    cfg = config.load(TENANTS)
    ops = P.plan(cfg, fresh(cfg))
    assert [o.cli() for o in ops] == TENANTS_FRESH
    st = fake_apply(fresh(cfg), ops)
    assert st.tables == {0: "ipv4-VRF:0", 10: "tenant-a", 20: "tenant-b"}
    assert st.if_table == {1: 10, 2: 20, 3: 0}
    assert st.nat_pool == {("203.0.113.10", 10), ("203.0.113.11", 20)}
    assert st.addresses == {1: {"192.168.1.254/24"}, 2: {"192.168.1.254/24"},
                            3: {"203.0.113.1/24"}}
    assert st.routes == {("198.51.100.0/24", "203.0.113.2", 3, t) for t in (0, 10, 20)}
    assert P.plan(cfg, st) == []


def test_table_ops():
    """What each table operation sends, and its CLI text."""
    assert P.IpTable(10, "tenant-a", True).call() == ("ip_table_add_del", {
        "is_add": True, "table": {"table_id": 10, "is_ip6": False, "name": "tenant-a"}})
    assert P.IpTable(10, "tenant-a", False).call() == ("ip_table_add_del", {
        "is_add": False, "table": {"table_id": 10, "is_ip6": False, "name": ""}})
    assert P.IpTable(10, "tenant-a", False).cli() == "ip table del 10"
    op = P.InterfaceTable("host-a", 3, 10)
    assert (op.cli(), op.call()) == ("set interface ip table host-a 10", (
        "sw_interface_set_table", {"sw_if_index": 3, "is_ipv6": False, "vrf_id": 10}))
    assert P.NatAddress("203.0.113.11", True, 20).call()[1]["vrf_id"] == 20
    assert P.NatAddress("203.0.113.11", True).call()[1]["vrf_id"] == 0xFFFFFFFF
    assert P.NatAddress("203.0.113.11", False, 20).cli() == \
        "nat44 add address 203.0.113.11 tenant-vrf 20 del"
    m = P.NatStaticMapping("udp", "192.168.1.5", 5060, "203.0.113.11", 5060, False, 20)
    assert m.cli() == ("nat44 add static mapping udp local 192.168.1.5 5060 external "
                       "203.0.113.11 5060 vrf 20 del")
    assert m.call()[1]["vrf_id"] == 20
    r = P.RouteOp("10.1.0.0/16", "192.168.1.9", "host-a", 3, True, 10)
    assert r.cli() == "ip route add 10.1.0.0/16 table 10 via 192.168.1.9 host-a"
    assert r.call()[1]["route"]["table_id"] == 10


@pytest.mark.parametrize("retval,why", [
    (P.NO_SUCH_FIB, "VPP has no IPv4 table 10"),
    (P.ADDRESS_FOUND, "host-a still has IPv4 addresses: VPP moves an interface to another "
                      "table only without them")])
def test_apply_interface_table_refused(retval, why):
    op = P.InterfaceTable("host-a", 3, 10)
    with pytest.raises(ApiError) as e:
        P.apply(ApiClient("sw_interface_set_table", retval), [op])
    assert str(e.value) == f"sw_interface_set_table failed: retval {retval}: {why}"


def drop_tenant_b(d):
    """tenant-b gone: its interface in the default table, its address for any table, its
    route out gone."""
    del d["vrfs"]["tenant-b"]
    del d["interfaces"]["inside-b"]["vrf"]
    d["nat44"]["pool"][1] = "203.0.113.11"
    d["routes"] = [r for r in d["routes"] if r.get("vrf") != "tenant-b"]


def test_vrf_removed():
    """A vrf dropped from the YAML: what is in its table comes out first (its NAT address,
    the interface's address, the interface), the table is deleted, and the interface gets
    its address back in the default table."""
    st = applied(config.load(TENANTS))
    cfg = tenants(drop_tenant_b)
    ops = P.plan(cfg, st)
    assert [o.cli() for o in ops] == [
        "nat44 add address 203.0.113.11 tenant-vrf 20 del",
        "ip route del 198.51.100.0/24 table 20 via 203.0.113.2 host-sipalg-out",
        "set interface ip address del host-sipalg-in-b 192.168.1.254/24",
        "set interface ip table host-sipalg-in-b 0",
        "ip table del 20",
        "set interface ip address host-sipalg-in-b 192.168.1.254/24",
        "nat44 add address 203.0.113.11",
    ]
    assert ops[4].comment() == "no longer in vrfs"
    st = fake_apply(st, ops)
    assert st.tables == {0: "ipv4-VRF:0", 10: "tenant-a"} and st.if_table[2] == 0
    assert P.plan(cfg, st) == []
    # and back
    ops = P.plan(config.load(TENANTS), st)
    assert [o.cli() for o in ops] == [
        "nat44 add address 203.0.113.11 del",
        "set interface ip address del host-sipalg-in-b 192.168.1.254/24",
        "ip table add 20 name tenant-b",
        "set interface ip table host-sipalg-in-b 20",
        "set interface ip address host-sipalg-in-b 192.168.1.254/24",
        "ip route add 198.51.100.0/24 table 20 via 203.0.113.2 host-sipalg-out",
        "nat44 add address 203.0.113.11 tenant-vrf 20",
    ]
    assert P.plan(config.load(TENANTS), fake_apply(st, ops)) == []


def rename_a(d):
    d["vrfs"]["customer-a"] = d["vrfs"].pop("tenant-a")
    d["interfaces"]["inside-a"]["vrf"] = "customer-a"
    d["nat44"]["pool"][0]["vrf"] = "customer-a"
    for r in d["routes"]:
        if r.get("vrf") == "tenant-a":
            r["vrf"] = "customer-a"


def test_vrf_renamed():
    """VPP cannot rename a table: everything in it comes out, the table is deleted and made
    again under the new name, and everything goes back."""
    st = applied(config.load(TENANTS))
    cfg = tenants(rename_a)
    ops = P.plan(cfg, st)
    assert [o.cli() for o in ops] == [
        "ip route del 198.51.100.0/24 table 10 via 203.0.113.2 host-sipalg-out",
        "nat44 add address 203.0.113.10 tenant-vrf 10 del",
        "set interface ip address del host-sipalg-in-a 192.168.1.254/24",
        "set interface ip table host-sipalg-in-a 0",
        "ip table del 10",
        "ip table add 10 name customer-a",
        "set interface ip table host-sipalg-in-a 10",
        "set interface ip address host-sipalg-in-a 192.168.1.254/24",
        "ip route add 198.51.100.0/24 table 10 via 203.0.113.2 host-sipalg-out",
        "nat44 add address 203.0.113.10 tenant-vrf 10",
    ]
    assert ops[4].comment() == "VPP cannot rename it: made again as customer-a"
    st = fake_apply(st, ops)
    assert st.tables[10] == "customer-a" and st.if_table[1] == 10
    assert P.plan(cfg, st) == []


def with_route_and_mapping(d):
    d["routes"].append({"prefix": "10.1.0.0/16", "via": "192.168.1.9", "interface": "inside-a"})
    d["nat44"]["static_mappings"] = [{"protocol": "udp", "local": "192.168.1.5:5060",
                                      "external": "203.0.113.10:5060", "vrf": "tenant-a"}]


def test_vrf_renamed_with_route_and_mapping():
    """A route and a static mapping in the renamed table come out before it is deleted and
    go back after it is made again."""
    cfg = tenants(with_route_and_mapping)
    st = applied(cfg)
    assert ("10.1.0.0/16", "192.168.1.9", 1, 10) in st.routes
    assert st.static_mappings == {("udp", "192.168.1.5", 5060, "203.0.113.10", 5060, 10)}

    def both(d):
        with_route_and_mapping(d)
        rename_a(d)
        d["nat44"]["static_mappings"][0]["vrf"] = "customer-a"
    cfg = tenants(both)
    ops = P.plan(cfg, st)
    assert [o.cli() for o in ops] == [
        "ip route del 10.1.0.0/16 table 10 via 192.168.1.9 host-sipalg-in-a",
        "ip route del 198.51.100.0/24 table 10 via 203.0.113.2 host-sipalg-out",
        "nat44 add address 203.0.113.10 tenant-vrf 10 del",
        "nat44 add static mapping udp local 192.168.1.5 5060 external 203.0.113.10 5060 vrf 10 "
        "del",
        "set interface ip address del host-sipalg-in-a 192.168.1.254/24",
        "set interface ip table host-sipalg-in-a 0",
        "ip table del 10",
        "ip table add 10 name customer-a",
        "set interface ip table host-sipalg-in-a 10",
        "set interface ip address host-sipalg-in-a 192.168.1.254/24",
        "ip route add 10.1.0.0/16 table 10 via 192.168.1.9 host-sipalg-in-a",
        "ip route add 198.51.100.0/24 table 10 via 203.0.113.2 host-sipalg-out",
        "nat44 add address 203.0.113.10 tenant-vrf 10",
        "nat44 add static mapping udp local 192.168.1.5 5060 external 203.0.113.10 5060 vrf 10",
    ]
    st = fake_apply(st, ops)
    assert st.tables[10] == "customer-a" and P.plan(cfg, st) == []


def test_table_made_unnamed_is_made_again():
    """Table 10 made before sipalgctl named it (by hand, or by NAT44-ED for a tenant address:
    VPP's own name): made again under the YAML's name."""
    cfg = config.load(TENANTS)
    st = fresh(cfg)
    st.nat_enabled, st.nat_sessions = True, 10000
    st.nat_pool = {("203.0.113.10", 10)}
    st.tables[10] = "ipv4-VRF:10"
    ops = P.plan(cfg, st)
    assert [o.cli() for o in ops][:3] == ["nat44 add address 203.0.113.10 tenant-vrf 10 del",
                                          "ip table del 10", "ip table add 10 name tenant-a"]
    st = fake_apply(st, ops)
    assert st.tables[10] == "tenant-a" and P.plan(cfg, st) == []


def test_rename_refused_with_an_interface_of_others():
    st = applied(config.load(TENANTS))
    st.sw_if_index["loop9"], st.addresses[9], st.if_table[9] = 9, set(), 10
    with pytest.raises(P.PlanError) as e:
        P.plan(tenants(rename_a), st)
    assert str(e.value) == (
        "vrfs.customer-a: VPP has table 10 as 'tenant-a' and cannot rename a table; loop9, not "
        "in the configuration, is in it, so sipalgctl cannot make it again: move it out (set "
        "interface ip table <interface> 0), or name the table 'tenant-a' here")


def test_rename_refused_with_the_algs_pinholes():
    st = applied(config.load(TENANTS))
    st.alg_tables = {10}
    with pytest.raises(P.PlanError) as e:
        P.plan(tenants(rename_a), st)
    assert str(e.value) == (
        "vrfs.customer-a: VPP has table 10 as 'tenant-a' and cannot rename a table, and the SIP "
        "ALG's pinholes (calls or registrations in progress) hold it, so sipalgctl cannot make "
        "it again now: apply once they have ended (sipalgctl show server-map), or name the "
        "table 'tenant-a' here")
    # the other table's pinholes do not matter
    st.alg_tables = {20}
    assert P.plan(tenants(rename_a), st)


def test_tables_of_others_are_left_alone():
    """Tables no configured interface is in stay, named by the YAML or not; one the YAML
    drops that an interface of others is also in: the configured interface leaves it, the
    table stays."""
    st = applied(config.load(TENANTS))
    st.tables.update({30: "theirs", 31: "ipv4-VRF:31"})
    st.sw_if_index["loop9"], st.addresses[9], st.if_table[9] = 9, {"10.9.9.9/24"}, 30
    st.routes.add(("10.0.0.0/8", "10.9.9.1", 9, 30))
    assert P.plan(config.load(TENANTS), st) == []
    st.if_table[9] = 20  # loop9 in tenant-b's table
    cfg = tenants(drop_tenant_b)
    ops = P.plan(cfg, st)
    assert "ip table del 20" not in [o.cli() for o in ops]
    assert "set interface ip table host-sipalg-in-b 0" in [o.cli() for o in ops]
    st = fake_apply(st, ops)
    assert P.plan(cfg, st) == [] and st.tables[20] == "tenant-b"


def test_interface_moves_to_a_new_table():
    """inside-a into a new table 30: its address off, the table made, the interface in,
    the old table (now empty of sipalgctl's) deleted, the address back, the tenant address
    moved along."""
    st = applied(config.load(TENANTS))

    def move(d):
        d["vrfs"] = {"tenant-c": {"table": 30}, "tenant-b": {"table": 20}}
        d["interfaces"]["inside-a"]["vrf"] = "tenant-c"
        d["nat44"]["pool"][0]["vrf"] = "tenant-c"
        d["routes"][1]["vrf"] = "tenant-c"
    cfg = tenants(move)
    ops = P.plan(cfg, st)
    assert [o.cli() for o in ops] == [
        "nat44 add address 203.0.113.10 tenant-vrf 10 del",
        "ip route del 198.51.100.0/24 table 10 via 203.0.113.2 host-sipalg-out",
        "set interface ip address del host-sipalg-in-a 192.168.1.254/24",
        "ip table add 30 name tenant-c",
        "set interface ip table host-sipalg-in-a 30",
        "ip table del 10",
        "set interface ip address host-sipalg-in-a 192.168.1.254/24",
        "ip route add 198.51.100.0/24 table 30 via 203.0.113.2 host-sipalg-out",
        "nat44 add address 203.0.113.10 tenant-vrf 30",
    ]
    st = fake_apply(st, ops)
    assert st.tables == {0: "ipv4-VRF:0", 20: "tenant-b", 30: "tenant-c"}
    assert P.plan(cfg, st) == []


def test_routes_and_mappings_in_tables():
    """A route and a static mapping in a table; moved to another table: deleted from the
    old one, added to the new one."""
    cfg = tenants(with_route_and_mapping)
    st = applied(cfg)

    def to_b(d):
        with_route_and_mapping(d)
        d["routes"][-1]["interface"] = "inside-b"
        d["nat44"]["static_mappings"][0].update(vrf="tenant-b", external="203.0.113.11:5060")
    cfg = tenants(to_b)
    ops = P.plan(cfg, st)
    assert [o.cli() for o in ops] == [
        "nat44 add static mapping udp local 192.168.1.5 5060 external 203.0.113.10 5060 vrf 10 "
        "del",
        "ip route del 10.1.0.0/16 table 10 via 192.168.1.9 host-sipalg-in-a",
        "ip route add 10.1.0.0/16 table 20 via 192.168.1.9 host-sipalg-in-b",
        "nat44 add static mapping udp local 192.168.1.5 5060 external 203.0.113.11 5060 vrf 20",
    ]
    assert P.plan(cfg, fake_apply(st, ops)) == []


def test_everything_of_the_tenants_removed():
    """No vrfs any more, the tenants' interfaces in the default table (inside-b on a network
    of its own): both tables go, each after its interface left it."""
    st = applied(config.load(TENANTS))

    def one(d):
        del d["vrfs"]
        d["routes"] = d["routes"][:1]
        for n in ("inside-a", "inside-b"):
            d["interfaces"][n].pop("vrf")
        d["interfaces"]["inside-b"]["address"] = "192.168.2.254/24"
        d["nat44"]["pool"] = ["203.0.113.10"]
    cfg = tenants(one)
    ops = P.plan(cfg, st)
    cli = [o.cli() for o in ops]
    for t, x in ((10, "host-sipalg-in-a"), (20, "host-sipalg-in-b")):
        assert cli.index(f"set interface ip table {x} 0") < cli.index(f"ip table del {t}")
    st = fake_apply(st, ops)
    assert st.tables == {0: "ipv4-VRF:0"} and P.plan(cfg, st) == []


class TablesClient(FakeClient):
    """read_state's view of a VPP with the tenants' tables, a route in each table, tenant
    NAT addresses, a static mapping of the operator's and pinholes of the ALG's in both
    tables (the same local and external endpoints in table 10 and 20: the one in 20 is the
    ALG's, the one in 10 the operator's)."""

    IFS = {"host-sipalg-in-a": (1, 10), "host-sipalg-in-b": (2, 20), "host-sipalg-out": (3, 0)}

    def has(self, msg):
        return False

    def dump(self, msg, **kw):
        ip4 = ipaddress.IPv4Address
        if msg == "sw_interface_dump":
            return [SimpleNamespace(interface_name=n, sw_if_index=x, flags=1)
                    for n, (x, _) in self.IFS.items()]
        if msg == "ip_table_dump":
            return [SimpleNamespace(table=SimpleNamespace(table_id=t, is_ip6=v6, name=n))
                    for t, v6, n in ((0, False, "ipv4-VRF:0"), (10, False, "tenant-a\x00"),
                                     (20, False, "tenant-b"), (0, True, "ipv6-VRF:0"))]
        if msg == "ip_route_dump":
            t = kw["table"]["table_id"]
            assert not kw["table"]["is_ip6"]
            via = {0: ("198.51.100.0/24", "203.0.113.2", 3),
                   10: ("10.1.0.0/16", "192.168.1.9", 1),
                   20: ("10.2.0.0/16", "192.168.1.9", 2)}[t]
            path = SimpleNamespace(nh=SimpleNamespace(address=SimpleNamespace(ip4=via[1])),
                                   sw_if_index=via[2], type=0)
            return [SimpleNamespace(route=SimpleNamespace(n_paths=1, prefix=via[0],
                                                          paths=[path]))]
        if msg == "nat44_address_dump":
            return [SimpleNamespace(ip_address=ip4("203.0.113.10"), vrf_id=10),
                    SimpleNamespace(ip_address=ip4("203.0.113.12"), vrf_id=P.NO_VRF)]
        if msg == "sip_alg_server_map_get":
            return [SimpleNamespace(inside_address=ip4("192.168.1.5"), inside_port=5060,
                                    public_address=ip4("203.0.113.11"), public_port=5060,
                                    nat_mapping=1, inside_vrf=20, outside_vrf=0)]
        if msg == "nat44_static_mapping_dump":
            return [SimpleNamespace(local_ip_address=ip4("192.168.1.5"), local_port=5060,
                                    external_ip_address=ip4("203.0.113.11"), external_port=5060,
                                    protocol=17, vrf_id=v) for v in (10, 20)]
        return super().dump(msg, **kw)

    def call(self, msg, **kw):
        if msg == "sw_interface_get_table":
            assert not kw["is_ipv6"]
            return SimpleNamespace(retval=0, vrf_id={x: t for x, t in self.IFS.values()}[
                kw["sw_if_index"]])
        if msg == "nat44_show_running_config":
            return SimpleNamespace(sessions=10000)
        return super().call(msg, **kw)


def test_read_state_reads_tables():
    """IPv4 tables by id with VPP's names (IPv6 ones left out), each interface's table, the
    static routes of every table, NAT44-ED's addresses with their tenant table, static
    mappings with theirs; the ALG's pinholes left out by table too."""
    st = P.read_state(TablesClient(False))
    assert st.tables == {0: "ipv4-VRF:0", 10: "tenant-a", 20: "tenant-b"}
    assert st.if_table == {1: 10, 2: 20, 3: 0}
    assert st.routes == {("198.51.100.0/24", "203.0.113.2", 3, 0),
                         ("10.1.0.0/16", "192.168.1.9", 1, 10),
                         ("10.2.0.0/16", "192.168.1.9", 2, 20)}
    assert st.nat_pool == {("203.0.113.10", 10), ("203.0.113.12", P.NO_VRF)}
    assert st.static_mappings == {("udp", "192.168.1.5", 5060, "203.0.113.11", 5060, 10)}
    assert st.alg_tables == {20}
