# SPDX-License-Identifier: Apache-2.0
"""Every operation the planner can produce packs into a real binary-API message, using the
API JSON of the installed VPP and of the plugin (built, or installed into VPP), and the
plugin's replies that sipalgctl reads decode with the fields it reads, so a field renamed in
either fails here, not in front of an operator."""

import os

import pytest

import vpp_harness as h

from sipalgctl import acl as A, config, plan as P, vpp as V

from test_plan import FULL, TENANTS, changed, drop_tenant_b, fake_apply, fresh, rename_a, tenants


@pytest.fixture(scope="module")
def messages():
    prefix = V.find_prefix(what=V.API_JSON)
    if not prefix:
        why = h.find_vpp()[1] or str(V.not_installed(what=V.API_JSON))
        if os.environ.get("SIPALG_REQUIRE_VPP") == "1":  # .ci/run found VPP: no skipping
            pytest.fail(f"SIPALG_REQUIRE_VPP=1 but no VPP API JSON: {why}")
        # the VPP tiers' reason when VPP is missing altogether (one reason in the summary)
        pytest.skip(why)
    try:  # the plugin sipalgctl would use with this VPP (the checkout's build first)
        plugin_json = V.find_plugin(prefix=prefix).require_api_json()
    except V.PluginNotFound as e:
        pytest.fail(f"VPP is installed but the plugin is not: {e}")
    from vpp_papi import VPPApiClient
    c = VPPApiClient(apifiles=V.api_files(prefix, plugin_json), testmode=True)
    return c.messages


def all_ops():
    cfg = config.load(FULL)
    adds = P.plan(cfg, fresh(cfg))
    st = fake_apply(fresh(cfg), adds)
    empty = config.load(FULL)
    empty = changed(empty, {
        "nat44.static_mappings": [], "nat44.pool": [empty.nat44.pool[0]], "routes": [],
        "sip_alg.enabled": False, "sip_alg.media.other_hosts": False,
        **{f"interfaces.{n}.address": config.ipaddress.IPv4Interface("192.0.2.200/32")
           for n, i in empty.interfaces.items() if i.role == "none"}})
    # an ACL replaced in place, then the firewall off (unbound, deleted)
    in_place = changed(config.load(FULL), {"firewall.inbound.default": "permit"})
    replaced = P.plan(in_place, st)
    empty = changed(empty, {"firewall.enabled": False})
    # the ACLs a fresh plan creates, as apply would know them: indices from VPP's replies
    created = {tag: n for n, tag in enumerate(A.TAGS)}
    # tenants: tables made, interfaces put in them, tenant addresses, a route and a static
    # mapping in a table; then renamed (made again) and gone
    tcfg = config.load(TENANTS)
    tcfg = changed(tcfg, {
        "routes": tcfg.routes + [config.RouteModel(
            prefix=config.ipaddress.IPv4Network("10.1.0.0/16"),
            via=config.ipaddress.IPv4Address("192.168.1.9"), interface="inside-a",
            vrf="tenant-a")],
        "nat44.static_mappings": tcfg.nat44.static_mappings + [config.StaticMappingModel(
            protocol="udp", local="192.168.1.5:5060", external="203.0.113.11:5060",
            vrf="tenant-b")]})
    t_adds = P.plan(tcfg, fresh(tcfg))
    t_st = fake_apply(fresh(tcfg), t_adds)
    renamed = tenants(rename_a)
    gone = tenants(drop_tenant_b)
    gone = changed(gone, {
        "vrfs": {}, "nat44.pool": [e.model_copy(update={"vrf": None}) for e in gone.nat44.pool],
        "interfaces": {n: i for n, i in gone.interfaces.items() if n != "inside-b"},
        "interfaces.inside-a.vrf": None, "routes": gone.routes[:1]})
    tenant_ops = t_adds + P.plan(renamed, t_st) + P.plan(gone, t_st)
    return [o.resolve(created) for o in adds] + replaced + P.plan(empty, st) + tenant_ops


OPS = all_ops()


def test_every_op_kind_is_covered():
    kinds = {type(o).__name__ for o in OPS}
    assert kinds == {c.__name__ for c in P.Op.__subclasses__()}


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.cli())
def test_op_packs(messages, op):
    name, args = op.call()
    assert name in messages, f"{name} not in the API"
    msg = messages[name]
    data = msg.pack(dict(args, _vl_msg_id=1, client_index=0, context=0))
    assert len(data) > 0
    # and back: the fields we set survive the round trip
    back, size = msg.unpack(data)
    assert size == len(data)
    same(back, args)


def same(back, args, path=""):
    """The fields of args (and of the mappings in it: vpp_papi packs a nested type from the
    keys it knows and ignores others, so a misspelt one would be lost) as they came back."""
    for k, v in args.items():
        assert hasattr(back, k), f"{path}{k} is no field of the message"
        if isinstance(v, (int, bool)):
            assert getattr(back, k) == v, path + k
        elif isinstance(v, str):
            assert str(getattr(back, k)) == v, path + k
        elif isinstance(v, dict):
            same(getattr(back, k), v, f"{path}{k}.")
        elif isinstance(v, list) and all(isinstance(x, int) for x in v):
            assert list(getattr(back, k)) == v, path + k


def test_acl_rules_pack(messages):
    """Every rule field of full.yaml's ACLs survives packing, as acl_dump would give it back."""
    ops = [o for o in OPS if isinstance(o, P.AclAddReplace)]
    assert ops
    msg = messages["acl_add_replace"]
    for op in ops:
        _, args = op.call()
        back, _ = msg.unpack(msg.pack(dict(args, _vl_msg_id=1, client_index=0, context=0)))
        assert back.tag == op.tag
        assert tuple(A.AclRule.from_api(r) for r in back.r) == op.rules


class Replying:
    """A client whose replies are the plugin's own messages, packed and unpacked."""

    def __init__(self, api, name, /, **fields):
        msg = api[name]
        self.reply, _ = msg.unpack(msg.pack(dict(fields, _vl_msg_id=1, context=0)))
        # max_held is sip_alg_get_limits' (API 0.12.0)
        msg = api["sip_alg_get_limits_reply"]
        self.limits, _ = msg.unpack(msg.pack(dict(
            _vl_msg_id=1, context=0, max_calls=10000, max_held=512, media_port_lo=40000,
            media_port_hi=59999, tcp_reassembly=16384)))

    def call(self, msg, **kw):
        if msg == "nat44_show_running_config":
            return type("R", (), {"sessions": 0})()
        if msg == "sip_alg_get_limits":
            return self.limits
        assert msg == "sip_alg_get_config"
        return self.reply

    def dump(self, msg, **kw):
        return [self.reply] if msg == "sip_alg_calls_get" else []

    def pages(self, msg, **kw):
        yield self.dump(msg, **kw)

    def has(self, msg):
        return False


# sip_alg_get_config_reply's server and media address arrays are fixed-length: packing wants
# all 16
NO_SERVERS = {"n_servers": 0, "server_address": ["0.0.0.0"] * 16, "server_port": [0] * 16}
NO_MEDIA = {"n_media_addresses": 0, "media_addresses": ["0.0.0.0"] * 16}


def fresh_with(cfg, alg):
    st = fresh(cfg)
    st.alg = alg
    return st


def test_get_config_reply_has_what_read_state_reads(messages):
    """read_state reads every field it compares (the call timers included) from the plugin's
    sip_alg_get_config_reply as vpp_papi decodes it."""
    c = Replying(messages, "sip_alg_get_config_reply", n_udp_ports=1, udp_ports=[5060] + [0] * 7,
                 tcp_ports=[0] * 8, media_inactivity=120, max_duration=43200, max_calls=10000,
                 **NO_SERVERS, **NO_MEDIA)
    st = P.read_state(c)
    assert (st.alg["media_inactivity"], st.alg["max_duration"], st.alg["udp"]) == \
        (120, 43200, (5060,))
    assert st.alg["servers"] == () and st.alg["media_addresses"] == ()


def test_get_config_reply_media_addresses(messages):
    """The media addresses as the plugin's reply carries them (a full-length array,
    n_media_addresses of it used, in order): read_state gets full.yaml's, which plans
    nothing; show config the YAML's list."""
    from sipalgctl import show
    cfg = config.load(FULL)
    op = [o for o in OPS if isinstance(o, P.AlgMedia) and o.addresses][0]  # full.yaml's
    _, args = op.call()
    assert messages["sip_alg_set_media"].pack(dict(args, _vl_msg_id=1, context=0,
                                                   client_index=0))
    c = Replying(messages, "sip_alg_get_config_reply", n_udp_ports=1, udp_ports=[5060] + [0] * 7,
                 tcp_ports=[0] * 8, max_calls=10000, **NO_SERVERS,
                 n_media_addresses=args["n_addresses"], media_addresses=args["addresses"])
    st = P.read_state(c)
    assert st.alg["media_addresses"] == ("203.0.113.21", "203.0.113.20")
    assert show.config(c)["media"] == {"addresses": ["203.0.113.21", "203.0.113.20"],
                                       "other_hosts": False}
    assert [o.addresses for o in P.plan(cfg, fresh_with(cfg, st.alg))
            if isinstance(o, P.AlgMedia)] == [("203.0.113.21", "203.0.113.20")]  # other_hosts


def test_get_config_reply_servers(messages):
    """The published servers as the plugin's reply carries them (full-length arrays, n_servers
    of them used): read_state gets full.yaml's, which plans nothing; show config the YAML's
    "inside-address:port"."""
    from sipalgctl import show
    cfg = config.load(FULL)
    (op,) = [o for o in OPS if isinstance(o, P.AlgServers) and o.servers]
    _, args = op.call()
    c = Replying(messages, "sip_alg_get_config_reply", n_udp_ports=1, udp_ports=[5060] + [0] * 7,
                 tcp_ports=[0] * 8, max_calls=10000, n_servers=args["n_servers"],
                 server_address=args["address"], server_port=args["port"], **NO_MEDIA)
    st = P.read_state(c)
    assert st.alg["servers"] == (("192.168.1.5", 5060),)
    assert [tuple(map(str, s)) for s in cfg.sip_alg.servers] == [("192.168.1.5", "5060")]
    assert [f"{a}:{p}" for a, p in st.alg["servers"]] == show.config(c)["servers"]
    assert not [o for o in P.plan(cfg, fresh_with(cfg, st.alg)) if isinstance(o, P.AlgServers)]


def test_calls_details_have_what_show_reads(messages):
    from sipalgctl import show
    unused = dict(public_address="0.0.0.0", public_port=0, inside_address="0.0.0.0",
                  inside_port=0, packets_in2out=0, packets_out2in=0, idle_in2out=0,
                  idle_out2in=0, one_way=False)
    # the media streams (API 0.10.0): a fixed array of 8, n_streams of it used
    streams = [dict(unused, public_address="203.0.113.10", public_port=40000,
                    inside_address="192.168.1.1", inside_port=3000, packets_in2out=2 ** 40,
                    packets_out2in=0, idle_in2out=1, idle_out2in=0xFFFFFFFF, one_way=True),
               dict(unused, public_address="203.0.113.10", public_port=40002,
                    inside_address="192.168.1.1", inside_port=3002, packets_in2out=7,
                    packets_out2in=9, idle_in2out=0, idle_out2in=3)] + [unused] * 6
    c = Replying(messages, "sip_alg_calls_details", thread=1, call_id="abc", state="confirmed",
                 inside_address="192.168.1.1", inside_port=5060, public_address="203.0.113.10",
                 public_port=5060, peer_address="198.51.100.1", peer_port=5060, messages=6,
                 n_media=2, age=30, idle=5, media_idle=0xFFFFFFFF, left_time=115, epoch=1,
                 n_streams=2, streams=streams)
    row, = show.calls(c)
    assert {k: row[k] for k in ("call_id", "state", "inside", "idle", "media_idle",
                                "left_time", "epoch")} == {
        "call_id": "abc", "state": "confirmed", "inside": "192.168.1.1:5060", "idle": 5,
        "media_idle": None, "left_time": 115, "epoch": 1}
    assert row["streams"] == [
        {"public": "203.0.113.10:40000", "inside": "192.168.1.1:3000",
         "packets_in2out": 2 ** 40, "packets_out2in": 0, "idle_in2out": 1,
         "idle_out2in": None, "one_way": "in2out"},
        {"public": "203.0.113.10:40002", "inside": "192.168.1.1:3002", "packets_in2out": 7,
         "packets_out2in": 9, "idle_in2out": 0, "idle_out2in": 3, "one_way": None}]


def test_get_config_reply_validation_and_host_limits(messages):
    """full.yaml's validation and host limits, as the plugin's reply carries them: read_state
    gets the fields the plan compares, show config the YAML's values."""
    from sipalgctl import show
    cfg = config.load(FULL)
    fields = P.validation_fields(cfg.sip_alg.validation)
    assert fields["strict"] and fields["block_methods"] and fields["register_burst"] == 5
    c = Replying(messages, "sip_alg_get_config_reply", n_udp_ports=1, udp_ports=[5060] + [0] * 7,
                 tcp_ports=[0] * 8, max_calls=10000, max_calls_per_host=50,
                 max_entries_per_host=400, **NO_SERVERS, **NO_MEDIA, **fields)
    st = P.read_state(c)
    assert {k: st.alg[k] for k in P.VALIDATION} == fields
    assert (st.alg["max_calls_per_host"], st.alg["max_entries_per_host"]) == (50, 400)
    v = show.config(c)["validation"]
    assert v == {"mode": "strict",
                 "actions": {"parse": "drop", "header": "drop", "sdp": "pass", "too_many": "drop"},
                 "block_methods": ["OPTIONS", "MESSAGE", "OTHER"],
                 "rate_limits": {"invite": {"rate": 20, "burst": 40},
                                 "register": {"rate": 5, "burst": 5}}}
