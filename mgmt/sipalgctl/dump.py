# SPDX-License-Identifier: Apache-2.0
"""`sipalgctl dump`: the running configuration (plan.read_state) as sipalgctl's YAML.

What is dumped is what `plan` compares, so that `check` accepts the YAML and `plan` against
it finds nothing to do: every interface with an IPv4 address (its type from its VPP name:
host-<x> af_packet, tap<N> tap when the taps are tap0, tap1, ... in order, else existing),
its table, role (NAT44-ED inside or outside) and address; the IPv4 tables they, the routes,
the pool and the static mappings are in (vrfs, under VPP's names); the routes through them;
NAT44-ED's sessions, pool and static mappings (not the ALG's pinholes); every setting of the
SIP ALG and the interfaces it is on; the firewall from the ACLs tagged sipalgctl:. The vpp
section is not VPP's to tell: it is the configuration's given to dump (else the defaults),
with the runtime directory of the API socket read.

What the YAML cannot say (an interface with two addresses, a route in the default table
through an interface of another, a static mapping of a whole address, an ACL rule with TCP
flags, ...) is left out or written as near as it goes, with a warning; dump() then plans
against its own result and names every operation that is left (warnings, not errors: the
YAML is valid, and `plan` shows the same)."""

import ipaddress
import re

import yaml

from . import acl as A
from . import config as C
from . import defaults as D
from . import plan as P

NAT_ROLES = {P.NAT_IS_INSIDE: "inside", P.NAT_IS_OUTSIDE: "outside"}


def read_extra(c):
    """What dump needs beyond plan.read_state: the taps' Linux-side names (sw_if_index ->
    name) and the ACL plugin's session limit (None without the ACL plugin)."""
    taps = {}
    if c.has("sw_interface_tap_v2_dump"):
        taps = {d.sw_if_index: d.host_if_name.rstrip("\x00")
                for d in c.dump("sw_interface_tap_v2_dump", sw_if_index=0xFFFFFFFF)}
    sessions = None
    if c.has("acl_plugin_get_conn_table_max_entries"):
        sessions = c.call("acl_plugin_get_conn_table_max_entries").conn_table_max_entries
    return {"taps": taps, "acl_sessions": sessions}


def _key(name, taken):
    """A YAML interface name from a VPP one: letters, digits, '-' and '_', once."""
    base = re.sub(r"[^A-Za-z0-9_-]", "-", name) or "if"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    taken.add(key)
    return key


def _valid_vrf_name(name):
    return (bool(name) and name.isascii() and name.replace("-", "").replace("_", "").isalnum()
            and name != D.DEFAULT_VPN and len(name) <= D.VRF_NAME_MAX)


def _range(r):
    a, b = r
    return a if a == b else f"{a}-{b}"


def _rule(r):
    """An AclRule as a firewall rule of the YAML, or (None, why) when it has no such rule."""
    if r.action not in A.ACTION_NAME:
        return None, f"action {r.action}"
    if r.tcp_flags_mask or r.tcp_flags_value:
        return None, "TCP flags"
    d = {"action": A.ACTION_NAME[r.action]}
    if r.src != A.ANY:
        d["src"] = r.src
    if r.dst != A.ANY:
        d["dst"] = r.dst
    if r.proto:
        d["proto"] = {v: k for k, v in C.PROTOCOLS.items()}.get(r.proto, r.proto)
    if r.proto in (A.TCP, A.UDP):
        for k, v in (("sport", r.sport), ("dport", r.dport)):
            if v != A.ALL_PORTS:
                d[k] = _range(v)
    elif r.proto == A.ICMP:
        for k, v in (("icmp_type", r.sport), ("icmp_code", r.dport)):
            if v != A.ALL_ICMP:
                d[k] = _range(v)
    try:  # the YAML's own reading of it must give the same rule back
        same = A.encode(C.FwRuleModel.model_validate(d)) == r
    except Exception as e:  # pydantic's errors, the YAML's bounds
        return None, str(e).splitlines()[0]
    return (d, None) if same else (None, f"ports or ICMP fields {r.sport}, {r.dport}")


def _policy(acl, what, default, warn):
    """A policy section from its ACL: the rules, the last one (any -> any) the default."""
    rules = list(acl.rules)
    last = rules[-1] if rules else None
    if last is not None and last.action in A.ACTION_NAME and \
            last == A.default_rule(A.ACTION_NAME[last.action]):
        rules.pop()
        default = A.ACTION_NAME[last.action]
    else:
        warn(f"firewall.{what}: the ACL tagged {acl.tag} does not end in a rule for any "
             f"traffic (the policy's default): dumped with default {default}")
    out = []
    for n, r in enumerate(rules):
        d, why = _rule(r)
        if d is None:
            warn(f"firewall.{what}: rule {n} of the ACL tagged {acl.tag} ({r.cli()}) cannot be "
                 f"written as a firewall rule ({why}): left out")
        else:
            out.append(Flow(d))
    return {"default": default, "rules": out}


def _vpp_section(cfg, socket, warn):
    """The vpp section: the configuration's settings that differ from the defaults, the
    runtime directory the one of socket (VPP's API socket is <runtime_dir>/api.sock)."""
    have, default = cfg.vpp if cfg else C.VppModel(), C.VppModel()
    out = {k: v for k, v in have.model_dump().items() if v != getattr(default, k)}
    if socket and socket != have.api_socket:
        d, base = socket.rsplit("/", 1) if "/" in socket else ("", socket)
        if base == "api.sock" and d.startswith("/"):
            out["runtime_dir"] = d
        else:
            warn(f"vpp.runtime_dir: the API socket {socket} is not <runtime_dir>/api.sock: "
                 f"plan and apply on this YAML need --socket {socket}")
    return out


def dump(st, extra=None, cfg=None, socket=None):
    """(the YAML's data, [warnings]) of the running configuration st (plan.State); extra:
    read_extra()'s; cfg: the configuration given to dump (for its vpp section); socket: the
    API socket st was read from."""
    extra = extra or {}
    taps, warnings = extra.get("taps", {}), []
    warn = warnings.append
    names = {x: n for n, x in st.sw_if_index.items()}
    nat = st.nat_enabled

    # interfaces: every one with an IPv4 address, in VPP's order (taps by their ids)
    chosen = [x for x in sorted(names) if st.addresses.get(x)]
    tap_ids = {x: int(names[x][3:]) for x in chosen if re.fullmatch(r"tap\d+", names[x])}
    as_taps = sorted(tap_ids.values()) == list(range(len(tap_ids))) and set(tap_ids) <= set(taps)
    if as_taps:  # the YAML numbers its taps in its order: put them in that order
        slots = [n for n, x in enumerate(chosen) if x in tap_ids]
        for n, x in zip(slots, sorted(tap_ids, key=tap_ids.get)):
            chosen[n] = x
    for x in sorted(set(st.nat_interfaces if nat else ()) | st.alg_interfaces
                    | {r[2] for r in st.routes} | set(st.acl_bindings)):
        if x in names and x not in chosen and names[x] != "local0":
            warn(f"{names[x]} has no IPv4 address (every interface of the YAML has one): "
                 f"left out, with its NAT44-ED role, SIP ALG, routes and ACLs")
    tables = {}  # table id -> its vrfs name

    def vrf(t, where):
        """The vrfs name of table t (None: the default table)."""
        if t in (0, None):
            return None
        if t not in tables:
            name = st.tables.get(t)
            if not _valid_vrf_name(name):
                new = f"vrf{t}"
                if name is None:
                    warn(f"vrfs: {where} is in table {t}, which VPP does not have: dumped as "
                         f"{new!r}")
                else:
                    warn(f"vrfs: VPP names table {t} {name!r}, which is not a vrfs name "
                         f"(letters, digits, '-' and '_', at most {D.VRF_NAME_MAX}, not "
                         f"{D.DEFAULT_VPN!r}): dumped as {new!r}, and VPP cannot rename a "
                         f"table: apply would make it again under that name")
                name = new
            tables[t] = name
        return tables[t]

    keys, interfaces, key_of = set(), {}, {}
    for x in chosen:
        vname = names[x]
        addrs = sorted(st.addresses[x], key=lambda a: ipaddress.ip_interface(a))
        tap = x in tap_ids and as_taps
        key = _key(vname[5:] if vname.startswith("host-") else taps[x] if tap else vname, keys)
        key_of[x] = key
        if len(addrs) > 1:
            warn(f"interfaces.{key}: {vname} has {len(addrs)} IPv4 addresses "
                 f"({', '.join(addrs)}), the YAML one: dumped {addrs[0]}, apply would delete "
                 f"the others")
        i = {}
        if vname.startswith("host-") and len(vname) - 5 <= 15:
            i.update(type="af_packet", host_if=vname[5:])
        elif tap:
            i.update(type="tap", host_if=taps[x])
        else:
            i.update(type="existing", vpp_name=vname)
        flags = st.nat_interfaces.get(x, 0) if nat else 0
        roles = [r for f, r in NAT_ROLES.items() if flags & f]
        if len(roles) > 1:
            warn(f"interfaces.{key}: {vname} is NAT44-ED inside and outside at once, the YAML "
                 f"gives one role: dumped as inside, apply would take outside off")
        if nat and x in st.nat_output:
            warn(f"interfaces.{key}: {P.output_feature(vname)}")
        i["role"] = roles[0] if roles else "none"
        i["address"] = addrs[0]
        v = vrf(st.if_table.get(x, 0), f"interfaces.{key}")
        if v:
            i["vrf"] = v
        if not st.up.get(x):
            warn(f"interfaces.{key}: {vname} is down: apply brings every interface of the "
                 f"YAML up")
        interfaces[key] = i

    routes = []
    for prefix, via, x, t in sorted(st.routes):
        if x not in key_of:
            continue
        itf = interfaces[key_of[x]]
        r = Flow(prefix=prefix, via=via, interface=key_of[x])
        own = st.if_table.get(x, 0)
        if t != own:
            if t == 0:
                warn(f"routes: {prefix} via {via} {names[x]} is in the default table, its "
                     f"interface in table {own}: the YAML has no name for the default table "
                     f"(a route is in its interface's unless it names a vrf): left out")
                continue
            r["vrf"] = vrf(t, f"the route {prefix} via {via}")
        if ipaddress.IPv4Address(via) not in ipaddress.IPv4Interface(itf["address"]).network:
            warn(f"routes: {prefix} via {via} {names[x]}: {via} is not on {itf['address']} "
                 f"(the YAML's routes go through a next hop on their interface): left out")
            continue
        routes.append(r)

    pool, mappings = [], []
    for a, v in sorted(st.nat_pool if nat else (), key=lambda e: ipaddress.IPv4Address(e[0])):
        if v in (P.NO_VRF,):
            pool.append(a)
        elif v == 0:
            warn(f"nat44.pool: {a} serves the default table only (tenant-vrf 0), which the "
                 f"YAML cannot say: dumped without vrf (any table)")
            pool.append(a)
        else:
            pool.append(Flow(address=a, vrf=vrf(v, f"nat44.pool {a}")))
    for proto, local, lport, ext, eport, t in sorted(st.static_mappings if nat else ()):
        if proto not in ("udp", "tcp") or not lport or not eport:
            warn(f"nat44.static_mappings: {proto} {local}:{lport} -> {ext}:{eport}: the YAML's "
                 f"static mappings are of a UDP or TCP port: left out")
            continue
        m = Flow(protocol=proto, local=f"{local}:{lport}", external=f"{ext}:{eport}")
        if t:
            m["vrf"] = vrf(t, f"the static mapping of {local}:{lport}")
        mappings.append(m)
    nat44 = {"sessions": st.nat_sessions if nat else D.NAT_SESSIONS, "pool": pool}
    if mappings:
        nat44["static_mappings"] = mappings

    data = {}
    vpp = _vpp_section(cfg, socket, warn)
    if vpp:
        data["vpp"] = vpp
    if tables:
        data["vrfs"] = {name: {"table": t} for t, name in sorted(tables.items())}
    data["interfaces"] = interfaces
    if routes:
        data["routes"] = routes
    data["nat44"] = nat44
    data["sip_alg"] = _sip_alg(st, key_of, interfaces, mappings, warn)
    fw = _firewall(st, extra.get("acl_sessions"), warn)
    if fw:
        data["firewall"] = fw
    return data, warnings


def _yaml_value(v):
    """A State.alg value as the YAML writes it: (lo, hi) port ranges as "lo-hi", lists."""
    if isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, int) for x in v):
        return "%d-%d" % v
    return list(v) if isinstance(v, tuple) else v


def _sections(g):
    """The ALG's settings sections (timeouts, limits, media, security) from State.alg, each
    field under the YAML's name (plan.TIMEOUTS, ...); media's addresses only when there are
    some, limits' max_held only when read (sip_alg_get_limits)."""
    out = {}
    for name, names in (("timeouts", P.TIMEOUTS), ("limits", P.LIMITS), ("media", P.MEDIA),
                        ("security", P.SECURITY)):
        out[name] = {f: _yaml_value(g[k]) for k, f in names.items() if k in g}
    if not out["media"].get("addresses"):
        out["media"].pop("addresses", None)
    return out


def _sip_alg(st, key_of, interfaces, mappings, warn):
    g = st.alg or {}
    on = [x for x in sorted(st.alg_interfaces) if x in key_of]
    for x in list(on):
        if interfaces[key_of[x]]["role"] == "none":
            warn(f"sip_alg.interfaces: the SIP ALG is on {key_of[x]}, which is no NAT44-ED "
                 f"interface (the YAML's are): left out, apply would take the ALG off it")
            on.remove(x)
    s = {"enabled": bool(on)}
    nat_ifs = [k for k, i in interfaces.items() if i["role"] != "none"]
    if on and sorted(key_of[x] for x in on) != sorted(nat_ifs):
        s["interfaces"] = [key_of[x] for x in on]
    s["ports"] = {"udp": list(g["udp"]), "tcp": list(g["tcp"])}
    s.update(_sections(g))
    s["validation"] = {
        "mode": "strict" if g["strict"] else "lenient",
        "actions": Flow((c, "drop" if g[f"drop_{c}"] else "pass") for c in D.VALIDATION_CLASSES),
        "block_methods": list(P.mask_methods(g["block_methods"])),
        "rate_limits": {m: Flow(rate=g[f"{m}_rate"], burst=g[f"{m}_burst"])
                        for m in D.RATE_LIMITED}}
    servers = sorted(g["servers"])
    published = C.published_servers(
        [C.StaticMappingModel.model_validate(m) for m in mappings], g["udp"], g["tcp"])
    if sorted((str(a), p) for a, p in published) != servers:
        s["servers"] = [f"{a}:{p}" for a, p in g["servers"]]
    return s


def _firewall(st, sessions, warn):
    """The firewall section from the ACLs tagged sipalgctl: (None when there are none)."""
    ours = {}
    for i in sorted(st.acls):
        if st.acls[i].tag.startswith(A.TAG_PREFIX):
            ours.setdefault(st.acls[i].tag, []).append(i)
    if not ours:
        return None
    for tag, idx in ours.items():
        if tag not in A.TAGS:
            warn(f"firewall: ACL {idx[0]} is tagged {tag}, which sipalgctl does not make: "
                 f"apply would delete it")
        elif len(idx) > 1:
            warn(f"firewall: ACLs {', '.join(map(str, idx))} are all tagged {tag}: dumped "
                 f"from {idx[0]}, apply would delete the others")
    fw = {"enabled": True}
    if sessions:
        fw["sessions"] = sessions
    for what, tag, default in (("outbound", A.OUTBOUND, D.FW_OUTBOUND),
                               ("inbound", A.INBOUND, D.FW_INBOUND)):
        if tag in ours:
            fw[what] = _policy(st.acls[ours[tag][0]], what, default, warn)
        else:
            warn(f"firewall.{what}: no ACL tagged {tag}: dumped as the default policy "
                 f"({default}), apply would make it")
            fw[what] = {"default": default, "rules": []}
    reflect = ours.get(A.REFLECT)
    if not reflect or st.acls[reflect[0]].rules != (A.default_rule("permit+reflect"),):
        warn(f"firewall: the ACL tagged {A.REFLECT} is missing or has other rules than one "
             f"permit+reflect for any traffic: apply would make it so")
    return fw


class Flow(dict):
    """A mapping written on one line ({action: deny, proto: tcp})."""


class _Dumper(yaml.SafeDumper):
    """Block style; lists of plain values ([5060]) and Flow mappings on one line."""

    def represent_sequence(self, tag, sequence, flow_style=None):
        return super().represent_sequence(tag, sequence, bool(sequence) and all(
            not isinstance(v, (dict, list)) for v in sequence))


_Dumper.add_representer(Flow, lambda d, m: d.represent_mapping(
    "tag:yaml.org,2002:map", m, flow_style=True))


def to_yaml(data, header=()):
    """The YAML text: each line of header as a comment, then data."""
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     width=1 << 16)
    return "".join(f"# {h}\n" if h else "#\n" for h in header) + text


def check(text):
    """The dumped YAML as `check` reads it: a Config, or ConfigError."""
    return C.parse(yaml.safe_load(text))
