# SPDX-License-Identifier: Apache-2.0
"""Every operation the planner can produce packs into a real binary-API message, using the
API JSON of the installed VPP and of the plugin (built, or installed into VPP), so a field
renamed in either fails here, not in front of an operator."""

import pytest

import vpp_harness as h

from sipalgctl import acl as A, config, plan as P, vpp as V

from test_plan import FULL, fake_apply, fresh


@pytest.fixture(scope="module")
def messages():
    prefix = V.find_prefix(what=V.API_JSON)
    if not prefix:
        # the VPP tiers' reason when VPP is missing altogether (one reason in the summary)
        pytest.skip(h.find_vpp()[1] or str(V.not_installed(what=V.API_JSON)))
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
    empty.nat.static_mappings, empty.nat.pool, empty.routes = [], [empty.nat.pool[0]], []
    empty.sip_alg.enabled, empty.sip_alg.media_other_hosts = False, False
    for i in empty.interfaces.values():
        i.address = config.ipaddress.IPv4Interface("192.0.2.200/32") if i.role == "none" else \
            i.address
    # an ACL replaced in place, then the firewall off (unbound, deleted)
    changed = config.load(FULL)
    changed.firewall.inbound.default = "permit"
    replaced = P.plan(changed, st)
    empty.firewall.enabled = False
    # the ACLs a fresh plan creates, as apply would know them: indices from VPP's replies
    created = {tag: n for n, tag in enumerate(A.TAGS)}
    return [o.resolve(created) for o in adds] + replaced + P.plan(empty, st)


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
    for k, v in args.items():
        if isinstance(v, (int, bool)):
            assert getattr(back, k) == v, k
        elif isinstance(v, list) and all(isinstance(x, int) for x in v):
            assert list(getattr(back, k)) == v, k


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
