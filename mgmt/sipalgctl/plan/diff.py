# SPDX-License-Identifier: Apache-2.0
"""plan(): the operations that take a running VPP (State) to a configuration, in the order
their dependencies need (pure).

Tables: VPP moves an interface to another table only without IPv4 addresses, keeps a table
while anything holds it (an interface, a NAT44-ED address or static mapping of its) and never
renames one. So a table is made before anything is put in it and deleted after everything
is out of it; an interface that changes tables loses its addresses first and gets them back
in the new one; and a table the YAML names otherwise than VPP does is emptied, deleted and
made again under its name (_replace_tables).
"""

import copy

from .. import acl as A
from .ops import (AclAddReplace, AclDel, AclInterface, AlgInterface, AlgLimits, AlgMedia,
                  AlgPorts, AlgSecurity, AlgServers, AlgTimeouts, AlgValidation, InterfaceAddress,
                  InterfaceTable, IpTable, NatAddress, NatEnable, NatInterface,
                  NatStaticMapping, RouteOp, SetInterfaceState, output_feature,
                  validation_fields)
from .state import (LIMITS, MEDIA, NAT_IS_INSIDE, NAT_IS_OUTSIDE, NO_VRF, SECURITY, TIMEOUTS,
                    VALIDATION, MissingPlugin, PlanError)


def plan(cfg, st):
    """Operations that take VPP from st to cfg, in dependency order (pure)."""
    idx = {}
    for name, i in cfg.interfaces.items():
        if i.vpp_ifname not in st.sw_if_index:
            raise PlanError(f"interfaces.{name}: VPP has no interface {i.vpp_ifname} "
                            f"(is VPP running with the startup.conf `sipalgctl render` wrote?)")
        idx[name] = st.sw_if_index[i.vpp_ifname]
    managed = set(idx.values())
    ifname = {v: cfg.interfaces[k].vpp_ifname for k, v in idx.items()}
    for name, i in cfg.interfaces.items():
        # NAT44-ED refuses inside/outside on such an interface, and the ALG refuses it
        if i.role != "none" and st.nat_enabled and idx[name] in st.nat_output:
            raise PlanError(f"interfaces.{name}: {output_feature(i.vpp_ifname)}")
    replaced, st = _replace_tables(cfg, st, idx)
    adds = []
    # removals, undone in reverse order of their dependencies
    del_alg, del_sm, del_nat_if, del_pool, del_routes, del_addr = [], [], [], [], [], []

    # IPv4 tables: those of the YAML, made under their names; one the YAML no longer names
    # that a configured interface is in, deleted once nothing of sipalgctl's is in it (after
    # everything else is removed), unless an interface of others is
    want_tables = {v.table: n for n, v in cfg.vrfs.items()}
    table_adds = [IpTable(table_id=t, name=n, is_add=True)
                  for t, n in sorted(want_tables.items()) if t not in st.tables]
    ours = {st.if_table.get(x, 0) for x in managed}
    others = {t for x, t in st.if_table.items() if x not in managed}
    table_dels = [IpTable(table_id=t, name=st.tables[t], is_add=False, why="no longer in vrfs")
                  for t in sorted(ours - set(want_tables) - others) if t and t in st.tables]

    # interfaces: table, addresses and admin state; one that changes tables loses its
    # addresses first (VPP refuses the change otherwise) and gets them in the new table
    if_tables = []
    for name, i in cfg.interfaces.items():
        x = idx[name]
        want = {str(i.address)}
        have = st.addresses.get(x, set())
        table = cfg.table(i.vrf)
        moved = st.if_table.get(x, 0) != table
        at = {"ifname": i.vpp_ifname, "sw_if_index": x}
        if moved:
            if_tables.append(InterfaceTable(**at, table_id=table))
        for a in sorted(have if moved else have - want):
            del_addr.append(InterfaceAddress(**at, prefix=a, is_add=False))
        for a in sorted(want if moved else want - have):
            adds.append(InterfaceAddress(**at, prefix=a, is_add=True))
        if not st.up.get(x):
            adds.append(SetInterfaceState(**at, up=True))

    # routes through the managed interfaces, in any table
    want_routes = {(str(r.prefix), str(r.via), idx[r.interface], cfg.table(r.vrf))
                   for r in cfg.routes}
    have_routes = {r for r in st.routes if r[2] in managed}
    del_routes += [RouteOp.of(r, ifname[r[2]], False) for r in sorted(have_routes - want_routes)]
    route_adds = [RouteOp.of(r, ifname[r[2]], True) for r in sorted(want_routes - have_routes)]

    # NAT44-ED
    nat_adds = []
    if not st.nat_enabled:
        nat_adds.append(NatEnable(sessions=cfg.nat44.sessions))
    want_pool = {(str(e.address), NO_VRF if e.vrf is None else cfg.table(e.vrf))
                 for e in cfg.nat44.pool}
    have_pool = st.nat_pool if st.nat_enabled else set()
    for a, v in sorted(have_pool - want_pool):
        del_pool.append(NatAddress(address=a, is_add=False, vrf=v))
    nat_adds += [NatAddress(address=a, is_add=True, vrf=v)
                 for a, v in sorted(want_pool - have_pool)]
    role_flag = {"inside": NAT_IS_INSIDE, "outside": NAT_IS_OUTSIDE}
    for name, i in cfg.interfaces.items():
        x = idx[name]
        have = st.nat_interfaces.get(x, 0) if st.nat_enabled else 0
        want = role_flag.get(i.role, 0)
        for role, flag in role_flag.items():
            at = {"ifname": i.vpp_ifname, "sw_if_index": x, "role": role}
            if have & flag and not want & flag:
                del_nat_if.append(NatInterface(**at, is_add=False))
            if want & flag and not have & flag:
                nat_adds.append(NatInterface(**at, is_add=True))
    want_sm = {(m.protocol, str(m.local[0]), m.local[1], str(m.external[0]), m.external[1],
                cfg.table(m.vrf)) for m in cfg.nat44.static_mappings}
    have_sm = st.static_mappings if st.nat_enabled else set()
    for m in sorted(have_sm - want_sm):
        del_sm.append(NatStaticMapping.of(m, False))
    nat_adds += [NatStaticMapping.of(m, True) for m in sorted(want_sm - have_sm)]

    # SIP ALG
    alg_ops = plan_alg(cfg.sip_alg, st.alg or {})
    want_alg = {idx[n] for n in cfg.alg_interfaces()}
    for x in sorted((st.alg_interfaces & managed) - want_alg):
        del_alg.append(AlgInterface(ifname=ifname[x], sw_if_index=x, enable=False))
    alg_ops += [AlgInterface(ifname=ifname[x], sw_if_index=x, enable=True)
                for x in sorted(want_alg - st.alg_interfaces)]

    dels = del_alg + del_sm + del_nat_if + del_pool + del_routes + del_addr
    # a table is made before an interface is put in it, deleted after they are taken out
    tables = table_adds + if_tables + table_dels
    # the firewall before anything that brings traffic: an interface comes up filtered
    return (replaced + dels + tables + plan_firewall(cfg, st, idx) + adds + route_adds +
            nat_adds + alg_ops)


def plan_alg(s, cur):
    """The set messages of the SIP ALG's settings whose values differ from the running ones,
    in the plugin's order: s, the configuration's sip_alg; cur, State.alg (sip_alg_get_config's
    names). Each section (timeouts, limits, media, security) is one message, sent whole when
    any of its values differs; every value is read by name (TIMEOUTS, LIMITS, ...)."""
    ops = []
    ports = s.ports
    if (cur.get("udp"), cur.get("tcp")) != (tuple(ports.udp), tuple(ports.tcp)):
        ops.append(AlgPorts(udp=tuple(ports.udp), tcp=tuple(ports.tcp)))
    servers = tuple((str(a), p) for a, p in s.servers)
    if sorted(cur.get("servers", ())) != sorted(servers):  # the order means nothing
        ops.append(AlgServers(servers=servers))
    for op, section, names in ((AlgTimeouts, s.timeouts, TIMEOUTS),
                               (AlgLimits, s.limits, LIMITS), (AlgMedia, s.media, MEDIA),
                               (AlgSecurity, s.security, SECURITY)):
        if _differs(cur, section, names):
            ops.append(op.of(section))
    want = validation_fields(s.validation)
    if {k: cur.get(k) for k in VALIDATION} != want:
        ops.append(AlgValidation(**want))
    return ops


def _value(v):
    """A section's value as State.alg has it: lists as tuples, addresses as strings."""
    if isinstance(v, (list, tuple)):
        return tuple(_value(x) for x in v)
    return v if isinstance(v, (bool, int, str)) or v is None else str(v)


def _differs(cur, section, names):
    """Whether the running values (State.alg's keys of names) are not the section's (its
    fields, names' values); in order (media addresses: each is a slot of the pool)."""
    return any(cur.get(k) != _value(getattr(section, f)) for k, f in names.items())


def _replace_tables(cfg, st, idx):
    """Tables of the YAML that VPP has under another name (a vrfs entry renamed, a table made
    by hand or by NAT44-ED without a name), which VPP cannot rename: the operations that
    take everything out of each (routes, NAT44-ED's addresses and static mappings of it, the
    configured interfaces' addresses, the interfaces) and delete it, and the state as it is
    after them, in which plan() makes the table again and puts everything back. PlanError
    when an interface that is not configured is in it, or the ALG's pinholes (which hold it:
    calls or registrations in progress)."""
    managed = set(idx.values())
    names = {x: n for n, x in st.sw_if_index.items()}
    ops, out = [], st
    for name, t in sorted(((n, v.table) for n, v in cfg.vrfs.items()), key=lambda v: v[1]):
        have = st.tables.get(t)
        if have is None or have == name:
            continue
        why = f"vrfs.{name}: VPP has table {t} as {have!r} and cannot rename a table"
        others = sorted(names.get(x, f"sw_if_index {x}") for x, tt in st.if_table.items()
                        if tt == t and x not in managed)
        if others:
            raise PlanError(f"{why}; {', '.join(others)}, not in the configuration, "
                            f"{'is' if len(others) == 1 else 'are'} in it, so sipalgctl cannot "
                            f"make it again: move {'it' if len(others) == 1 else 'them'} out "
                            f"(set interface ip table <interface> 0), or name the table "
                            f"{have!r} here")
        if t in st.alg_tables:
            raise PlanError(f"{why}, and the SIP ALG's pinholes (calls or registrations in "
                            f"progress) hold it, so sipalgctl cannot make it again now: apply "
                            f"once they have ended (sipalgctl show server-map), or name the "
                            f"table {have!r} here")
        if out is st:
            out = copy.deepcopy(st)
        for r in sorted(r for r in out.routes if r[3] == t):
            ops.append(RouteOp.of(r, names.get(r[2], f"sw_if_index {r[2]}"), False))
            out.routes.discard(r)
        if out.nat_enabled:
            for a, v in sorted(a for a in out.nat_pool if a[1] == t):
                ops.append(NatAddress(address=a, is_add=False, vrf=v))
                out.nat_pool.discard((a, v))
            for m in sorted(m for m in out.static_mappings if m[5] == t):
                ops.append(NatStaticMapping.of(m, False))
                out.static_mappings.discard(m)
        for x in sorted(x for x, tt in out.if_table.items() if tt == t):
            at = {"ifname": names[x], "sw_if_index": x}
            ops += [InterfaceAddress(**at, prefix=a, is_add=False)
                    for a in sorted(out.addresses[x])]
            out.addresses[x] = set()
            ops.append(InterfaceTable(**at, table_id=0))
            out.if_table[x] = 0
        ops.append(IpTable(table_id=t, name=have, is_add=False,
                           why=f"VPP cannot rename it: made again as {name}"))
        del out.tables[t]
    return ops, out


def plan_firewall(cfg, st, idx):
    """ACLs to create or replace, interface ACL lists to set, ACLs to delete, in that order
    (an ACL exists before it is bound, and is unbound before it is deleted). idx: the
    config's interface names -> sw_if_index."""
    want = A.wanted(cfg.firewall)
    if want and not st.acl_plugin:
        raise MissingPlugin(
            "firewall: the running VPP has no ACL plugin (acl_plugin.so not loaded); start it "
            "with the startup.conf `sipalgctl render` writes for this configuration "
            "(sipalgctl down, then sipalgctl up)")
    ours = {i: a for i, a in st.acls.items() if a.tag.startswith(A.TAG_PREFIX)}
    keep = {}  # tag -> the index that stays (the lowest, should VPP have several)
    for i in sorted(ours):
        if ours[i].tag in want:
            keep.setdefault(ours[i].tag, i)
    ops = []
    for tag, (rules, about) in want.items():
        if tag not in keep:
            ops.append(AclAddReplace(tag=tag, rules=rules, index=None, about=about))
        elif ours[keep[tag]].rules != rules:
            ops.append(AclAddReplace(tag=tag, rules=rules, index=keep[tag], about=about))
    ref = {tag: keep.get(tag, tag) for tag in want}
    mine = {}
    for name, i in cfg.interfaces.items():
        ins, outs = A.bindings(cfg.firewall, i.role)
        if ins or outs:
            mine[idx[name]] = (tuple(ref[t] for t in ins), tuple(ref[t] for t in outs))
    names = {x: n for n, x in st.sw_if_index.items()}
    for x in sorted(set(st.acl_bindings) | set(mine)):
        have = st.acl_bindings.get(x, ((), ()))
        first = mine.get(x, ((), ()))
        new = tuple(f + tuple(a for a in h if a not in ours) for f, h in zip(first, have))
        if new != have:
            ops.append(AclInterface(ifname=names.get(x, f"sw_if_index {x}"), sw_if_index=x,
                                    have=have, want=new))
    ops += [AclDel(index=i, tag=ours[i].tag) for i in sorted(ours) if i not in keep.values()]
    return ops
