# SPDX-License-Identifier: Apache-2.0
"""Reconcile a Config with a running VPP: read state once, plan purely, apply in order.

Each operation renders as VPP CLI text (what `plan` prints) and as one binary-API call
(what `apply` sends). Applying a config twice plans nothing; an item removed from the YAML
is removed from VPP. sipalgctl owns, on the interfaces of the config: their IPv4 table,
addresses, admin state, routes through them (in any table), NAT44-ED (pool, interface roles,
static mappings except the ALG's own pinholes) and the SIP ALG settings; the IPv4 tables the
YAML names (vrfs) and those a configured interface is in (one the YAML no longer names is
deleted once nothing of sipalgctl's is in it, unless an interface of others is); and,
wherever they are, the firewall's ACLs (those tagged "sipalgctl:", see acl.py), which it
puts first in each interface's ACL lists, keeping other ACLs bound after them in their order.

Tables: VPP moves an interface to another table only without IPv4 addresses, keeps a table
while anything holds it (an interface, a NAT44-ED address or static mapping of its) and never
renames one. So a table is made before anything is put in it and deleted after everything
is out of it; an interface that changes tables loses its addresses first and gets them back
in the new one; and a table the YAML names otherwise than VPP does is emptied, deleted and
made again under its name (_replace_tables).

An operation may refer to an ACL this plan creates, whose index VPP gives only when it is
created: its cli() names it by tag (<sipalgctl:inbound>) and its call() carries the tag;
apply() fills in the index (resolve) from the reply of the operation that created it (done).
"""

import copy
import itertools
from dataclasses import dataclass, field, replace
from typing import Dict, Optional, Set, Tuple, Union

from . import acl as A
from . import defaults as D
from .vpp import API_NEEDED, ApiError

IP_PROTO = {"udp": 17, "tcp": 6}
PROTO_NAME = {v: k for k, v in IP_PROTO.items()}
NAT_IS_INSIDE, NAT_IS_OUTSIDE = 0x20, 0x10  # nat_config_flags_t
NAT_IS_ADDR_ONLY, NAT_IS_OUT2IN_ONLY = 0x08, 0x04
# VNET_API_ERROR_UNSUPPORTED: sip_alg_interface_enable_disable on an interface where
# NAT44-ED's output feature is on
UNSUPPORTED = -126
# sw_interface_set_table: VNET_API_ERROR_NO_SUCH_FIB, VNET_API_ERROR_ADDRESS_FOUND_FOR_INTERFACE
NO_SUCH_FIB, ADDRESS_FOUND = -3, -114
NO_VRF = 0xFFFFFFFF  # NAT44-ED's vrf_id of a pool address of no table in particular


def output_feature(ifname):
    """Why the ALG cannot be on ifname, NAT44-ED's output feature being on it."""
    return (f"interface {ifname} has NAT44-ED's output feature on it (set interface nat44 out "
            f"{ifname} output-feature): the SIP ALG cannot work there, it works with NAT44-ED "
            f"inside/outside interfaces only; take the output feature off (set interface "
            f"nat44 out {ifname} output-feature del), sipalgctl makes the interface a NAT44-ED "
            f"inside or outside interface by its role")


@dataclass
class State:
    """What the running VPP has, in the config's terms."""

    sw_if_index: Dict[str, int] = field(default_factory=dict)  # VPP name -> index
    addresses: Dict[int, Set[str]] = field(default_factory=dict)  # index -> {"a.b.c.d/n"}
    up: Dict[int, bool] = field(default_factory=dict)
    tables: Dict[int, str] = field(default_factory=dict)  # IPv4 table id -> VPP's name of it
    if_table: Dict[int, int] = field(default_factory=dict)  # index -> IPv4 table id (else 0)
    # (prefix, via, index, table id)
    routes: Set[Tuple[str, str, int, int]] = field(default_factory=set)
    nat_enabled: bool = False
    nat_sessions: int = 0
    nat_pool: Set[Tuple[str, int]] = field(default_factory=set)  # (address, table or NO_VRF)
    nat_interfaces: Dict[int, int] = field(default_factory=dict)  # index -> flags
    nat_output: Set[int] = field(default_factory=set)  # NAT44-ED's output feature is on them
    # (protocol, local, local port, external, external port, table id)
    static_mappings: Set[Tuple[str, str, int, str, int, int]] = field(default_factory=set)
    alg_tables: Set[int] = field(default_factory=set)  # the tables of the ALG's own pinholes
    alg_interfaces: Set[int] = field(default_factory=set)
    alg: Optional[dict] = None  # get_config reply as a dict
    acl_plugin: bool = False  # VPP offers the ACL plugin's messages
    acls: Dict[int, "Acl"] = field(default_factory=dict)  # every ACL, by index
    # index -> (input ACLs, output ACLs), in order; interfaces without ACLs left out
    acl_bindings: Dict[int, Tuple[Tuple[int, ...], Tuple[int, ...]]] = field(
        default_factory=dict)


@dataclass(frozen=True)
class Acl:
    tag: str
    rules: Tuple[A.AclRule, ...]


# --- operations ------------------------------------------------------------------------------

@dataclass
class Op:
    def cli(self):  # pragma: no cover - every op overrides
        raise NotImplementedError

    def call(self):
        """(message name, arguments)"""
        raise NotImplementedError

    def comment(self):
        """What the operation is for, when its CLI text does not say it (or None)."""
        return None

    def exec_lines(self):
        """The operation as lines of VPP's CLI that do what call() does, for a file that
        `vppctl exec` runs (one command a line: VPP's CLI has no separator); NoCli when VPP's
        CLI cannot do it."""
        return [self.cli()]

    def exec_note(self):
        """What the exec file's reader must know of the CLI lines, when they do what call()
        does but leave VPP otherwise than the API would (or None)."""
        return None

    def resolve(self, created):
        """The operation with the indices of the ACLs created so far ({tag: index})."""
        return self

    def done(self, reply, created):
        """Note what VPP's reply tells later operations (the index of a created ACL)."""

    def failure(self, retval):
        """What a non-zero retval of call() means, when more can be said than its number
        (or None)."""
        return None


class NoCli(Exception):
    """An operation VPP's CLI cannot do as the binary API does (why)."""


# VPP keeps what its CLI and its API made of IPv4 tables and routes apart (FIB sources CLI and
# API: ip_table_delete and the route commands take away their own source's only)
CLI_SOURCE = ("VPP's CLI takes away only what its CLI made (the FIB keeps the CLI's and the "
              "API's tables and routes apart), and VPP cannot tell whether sipalgctl apply "
              "made it through the API")
MADE_ON_CLI = ("made on the CLI: `{}` on the CLI deletes it again, sipalgctl apply cannot "
               "(VPP keeps the CLI's routes and tables apart from the API's)")


@dataclass
class IpTable(Op):
    """An IPv4 table, made under its name (ip_table_add_del; VPP keeps the name of a table
    that exists) or deleted."""
    table_id: int
    name: str
    is_add: bool
    why: Optional[str] = None

    def cli(self):
        if self.is_add:
            return f"ip table add {self.table_id} name {self.name}"
        return f"ip table del {self.table_id}"

    def call(self):
        return "ip_table_add_del", {"is_add": self.is_add, "table": {
            "table_id": self.table_id, "is_ip6": False, "name": self.name if self.is_add else ""}}

    def comment(self):
        return self.why

    def exec_lines(self):
        if not self.is_add:
            raise NoCli(f"deleting table {self.table_id}: {CLI_SOURCE}")
        return [self.cli()]

    def exec_note(self):
        return MADE_ON_CLI.format(f"ip table del {self.table_id}") if self.is_add else None


@dataclass
class InterfaceTable(Op):
    """The IPv4 table of an interface (sw_interface_set_table): it must exist, and the
    interface must have no IPv4 address."""
    ifname: str
    sw_if_index: int
    table_id: int

    def cli(self):
        return f"set interface ip table {self.ifname} {self.table_id}"

    def call(self):
        return "sw_interface_set_table", {"sw_if_index": self.sw_if_index, "is_ipv6": False,
                                          "vrf_id": self.table_id}

    def failure(self, retval):
        if retval == NO_SUCH_FIB:
            return f"VPP has no IPv4 table {self.table_id}"
        if retval == ADDRESS_FOUND:
            return (f"{self.ifname} still has IPv4 addresses: VPP moves an interface to another "
                    f"table only without them")
        return None


@dataclass
class SetInterfaceState(Op):
    ifname: str
    sw_if_index: int
    up: bool

    def cli(self):
        return f"set interface state {self.ifname} {'up' if self.up else 'down'}"

    def call(self):
        return "sw_interface_set_flags", {"sw_if_index": self.sw_if_index,
                                          "flags": 1 if self.up else 0}


@dataclass
class InterfaceAddress(Op):
    ifname: str
    sw_if_index: int
    prefix: str
    is_add: bool

    def cli(self):
        return f"set interface ip address {'' if self.is_add else 'del '}{self.ifname} {self.prefix}"

    def call(self):
        return "sw_interface_add_del_address", {"sw_if_index": self.sw_if_index,
                                                "is_add": self.is_add, "prefix": self.prefix}


@dataclass
class RouteOp(Op):
    prefix: str
    via: str
    ifname: str
    sw_if_index: int
    is_add: bool
    table_id: int = 0

    def cli(self):
        table = f" table {self.table_id}" if self.table_id else ""
        return (f"ip route {'add' if self.is_add else 'del'} {self.prefix}{table} via {self.via} "
                f"{self.ifname}")

    def exec_lines(self):
        if not self.is_add:
            raise NoCli(f"deleting a route: {CLI_SOURCE}")
        return [self.cli()]

    def exec_note(self):
        return MADE_ON_CLI.format(replace(self, is_add=False).cli()) if self.is_add else None

    def call(self):
        return "ip_route_add_del", {"is_add": self.is_add, "route": {
            "table_id": self.table_id, "prefix": self.prefix, "n_paths": 1,
            "paths": [{"sw_if_index": self.sw_if_index, "proto": 0, "weight": 1,
                       "nh": {"address": {"ip4": self.via}}, "n_labels": 0,
                       "label_stack": [{"is_uniform": 0, "label": 0, "ttl": 0, "exp": 0}] * 16}]}}


@dataclass
class NatEnable(Op):
    sessions: int

    def cli(self):
        return f"nat44 plugin enable sessions {self.sessions}"

    def call(self):
        return "nat44_ed_plugin_enable_disable", {"enable": True, "sessions": self.sessions}


@dataclass
class NatAddress(Op):
    """A NAT44-ED pool address; vrf: the table of the only inside interfaces it serves
    (tenant-vrf), NO_VRF: any table without an address of its own."""
    address: str
    is_add: bool
    vrf: int = NO_VRF

    def cli(self):
        tenant = "" if self.vrf == NO_VRF else f" tenant-vrf {self.vrf}"
        return f"nat44 add address {self.address}{tenant}{'' if self.is_add else ' del'}"

    def call(self):
        return "nat44_add_del_address_range", {"first_ip_address": self.address,
                                               "last_ip_address": self.address,
                                               "vrf_id": self.vrf, "is_add": self.is_add}


@dataclass
class NatInterface(Op):
    ifname: str
    sw_if_index: int
    role: str
    is_add: bool

    def cli(self):
        return (f"set interface nat44 {'in' if self.role == 'inside' else 'out'} {self.ifname}"
                + ("" if self.is_add else " del"))

    def call(self):
        return "nat44_interface_add_del_feature", {
            "is_add": self.is_add, "sw_if_index": self.sw_if_index,
            "flags": NAT_IS_INSIDE if self.role == "inside" else NAT_IS_OUTSIDE}


@dataclass
class NatStaticMapping(Op):
    protocol: str
    local: str
    local_port: int
    external: str
    external_port: int
    is_add: bool
    vrf: int = 0  # the table of the local address

    @classmethod
    def of(cls, key, is_add):
        """From a State.static_mappings tuple."""
        proto, local, lport, ext, eport, vrf = key
        return cls(proto, local, lport, ext, eport, is_add, vrf)

    def cli(self):
        return (f"nat44 add static mapping {self.protocol} local {self.local} {self.local_port} "
                f"external {self.external} {self.external_port}"
                + (f" vrf {self.vrf}" if self.vrf else "") + ("" if self.is_add else " del"))

    def call(self):
        return "nat44_add_del_static_mapping_v2", {
            "is_add": self.is_add, "local_ip_address": self.local,
            "external_ip_address": self.external, "protocol": IP_PROTO[self.protocol],
            "local_port": self.local_port, "external_port": self.external_port,
            "external_sw_if_index": 0xFFFFFFFF, "vrf_id": self.vrf, "tag": "sipalgctl"}

    def exec_lines(self):
        # the vrf always: without it the CLI takes NAT44-ED's inside-vrf, not table 0 as the
        # API's vrf_id 0 (the same table unless NAT44-ED was enabled with another inside-vrf);
        # the CLI has no tag, which nothing reads back
        return [f"nat44 add static mapping {self.protocol} local {self.local} {self.local_port} "
                f"external {self.external} {self.external_port} vrf {self.vrf}"
                + ("" if self.is_add else " del")]


@dataclass
class AlgPorts(Op):
    """The UDP and the TCP ports at once (sip_alg_set_ports sets both); no TCP ports: SIP
    over TCP is not inspected (`tcp none`)."""
    udp: Tuple[int, ...]
    tcp: Tuple[int, ...] = ()

    def cli(self):
        return ("set sip-alg ports udp " + ",".join(str(p) for p in self.udp) + " tcp "
                + (",".join(str(p) for p in self.tcp) or "none"))

    def call(self):
        return "sip_alg_set_ports", {"n_udp_ports": len(self.udp),
                                     "udp_ports": list(self.udp) + [0] * (8 - len(self.udp)),
                                     "n_tcp_ports": len(self.tcp),
                                     "tcp_ports": list(self.tcp) + [0] * (8 - len(self.tcp))}


MAX_SERVERS = D.MAX_SERVERS  # sip_alg_set_servers' arrays


@dataclass
class AlgServers(Op):
    """The published SIP servers, (inside address, port) each (sip_alg_set_servers replaces
    the list; none: `servers none`)."""
    servers: Tuple[Tuple[str, int], ...]

    def cli(self):
        return "set sip-alg servers " + (" ".join(f"{a}:{p}" for a, p in self.servers)
                                         or "none")

    def call(self):
        pad = MAX_SERVERS - len(self.servers)
        return "sip_alg_set_servers", {
            "n_servers": len(self.servers),
            "address": [a for a, _ in self.servers] + ["0.0.0.0"] * pad,
            "port": [p for _, p in self.servers] + [0] * pad}


@dataclass
class AlgTimeouts(Op):
    signaling: int
    media: int
    call_: int

    def cli(self):
        return (f"set sip-alg timeouts signaling {self.signaling} media {self.media} "
                f"call {self.call_}")

    def call(self):
        return "sip_alg_set_timeouts", {"signaling": self.signaling, "media": self.media,
                                        "call": self.call_}


@dataclass
class AlgCallTimers(Op):
    """The media inactivity timer and the maximum call duration, in seconds, 0: off
    (sip_alg_set_call_timers; on the CLI, the same `set sip-alg timeouts` command as
    AlgTimeouts, with its other keywords)."""
    media_inactivity: int
    max_duration: int

    def cli(self):
        return (f"set sip-alg timeouts media-inactivity {self.media_inactivity} "
                f"max-duration {self.max_duration}")

    def call(self):
        return "sip_alg_set_call_timers", {"media_inactivity": self.media_inactivity,
                                           "max_duration": self.max_duration}


CALL_TIMERS = ("media_inactivity", "max_duration")  # State.alg's keys, config's fields


@dataclass
class AlgOneWayMedia(Op):
    """The one-way media check, in seconds, 0: off (sip_alg_set_one_way_media, API 0.10.0; on
    the CLI, `set sip-alg timeouts` again)."""
    one_way_media: int

    def cli(self):
        return f"set sip-alg timeouts one-way-media {self.one_way_media}"

    def call(self):
        return "sip_alg_set_one_way_media", {"one_way_media": self.one_way_media}


ONE_WAY = ("one_way_media",)  # State.alg's key, config's field


@dataclass
class AlgLimits(Op):
    max_calls: int
    lo: int
    hi: int
    # the running range: sip_alg_set_limits sets the range only when it differs (the plugin
    # refuses to change it while calls hold media ports), `set sip-alg media-ports` always
    have: Optional[Tuple[int, int]] = field(default=None, compare=False)

    def cli(self):
        return f"set sip-alg max-calls {self.max_calls}; set sip-alg media-ports {self.lo}-{self.hi}"

    def exec_lines(self):
        return [f"set sip-alg max-calls {self.max_calls}"] + (
            [] if self.have == (self.lo & ~1, self.hi) else
            [f"set sip-alg media-ports {self.lo}-{self.hi}"])

    def call(self):
        return "sip_alg_set_limits", {"max_calls": self.max_calls, "media_port_lo": self.lo,
                                      "media_port_hi": self.hi}


@dataclass
class AlgTcp(Op):
    reassembly: int

    def cli(self):
        return f"set sip-alg tcp reassembly {self.reassembly}"

    def call(self):
        return "sip_alg_set_tcp", {"reassembly": self.reassembly}


@dataclass
class AlgMediaPolicy(Op):
    other_hosts: bool

    def cli(self):
        return f"set sip-alg media-other-hosts {'on' if self.other_hosts else 'off'}"

    def call(self):
        return "sip_alg_set_media_policy", {"other_hosts": self.other_hosts}


@dataclass
class AlgSecurity(Op):
    """Every security bound at once (sip_alg_set_security sets them all)."""
    max_inbound_calls: int
    max_inbound_per_source: int
    max_binding_time: int
    max_entries: int
    max_entries_per_call: int
    lo: int
    hi: int

    def cli(self):
        return (f"set sip-alg security max-inbound-calls {self.max_inbound_calls} "
                f"max-inbound-per-source {self.max_inbound_per_source} "
                f"max-binding-time {self.max_binding_time} max-entries {self.max_entries} "
                f"max-entries-per-call {self.max_entries_per_call} "
                f"inside-media-ports {self.lo}-{self.hi}")

    def call(self):
        return "sip_alg_set_security", {
            "max_inbound_calls": self.max_inbound_calls,
            "max_inbound_per_source": self.max_inbound_per_source,
            "max_binding_time": self.max_binding_time, "max_entries": self.max_entries,
            "max_entries_per_call": self.max_entries_per_call,
            "inside_port_lo": self.lo, "inside_port_hi": self.hi}


SECURITY = ("max_inbound_calls", "max_inbound_per_source", "max_binding_time", "max_entries",
            "max_entries_per_call", "inside_media_ports")  # State.alg's keys, config's fields


@dataclass
class AlgHostLimits(Op):
    """Limits per inside host, 0: off (sip_alg_set_host_limits; on the CLI, keywords of `set
    sip-alg security`). sip_alg_set_security has no fields for them and leaves them as they
    are, so each of the two is planned only when its own values change."""
    max_calls_per_host: int
    max_entries_per_host: int

    def cli(self):
        return (f"set sip-alg security max-calls-per-host {self.max_calls_per_host} "
                f"max-entries-per-host {self.max_entries_per_host}")

    def call(self):
        return "sip_alg_set_host_limits", {"max_calls_per_host": self.max_calls_per_host,
                                           "max_entries_per_host": self.max_entries_per_host}


HOST_LIMITS = ("max_calls_per_host", "max_entries_per_host")  # State.alg's keys, Security's


def method_mask(names):
    """Method names (D.SIP_METHODS) -> block_methods: bit 1 << sip_method_t of each."""
    return sum(1 << (D.SIP_METHODS.index(n) + 1) for n in set(names))


def mask_methods(mask):
    """block_methods -> the method names, in the plugin's order."""
    return tuple(n for i, n in enumerate(D.SIP_METHODS) if mask >> (i + 1) & 1)


def validation_fields(v):
    """A config.Validation as sip_alg_set_validation's fields (sip_alg_get_config's names)."""
    return {"strict": v.mode == "strict",
            **{f"drop_{c}": v.actions[c] == "drop" for c in D.VALIDATION_CLASSES},
            "block_methods": method_mask(v.block_methods),
            **{f"{m}_{k}": getattr(v.rate_limits[m], k) for m in D.RATE_LIMITED
               for k in ("rate", "burst")}}


# sip_alg_get_config_reply's fields of the published servers (API 0.8.0)
SERVERS = ("n_servers", "server_address", "server_port")


# sip_alg_set_validation's fields, in its order: State.alg's keys
VALIDATION = ("strict", *(f"drop_{c}" for c in D.VALIDATION_CLASSES), "block_methods",
              *(f"{m}_{k}" for m in D.RATE_LIMITED for k in ("rate", "burst")))


@dataclass
class AlgValidation(Op):
    """Every validation setting at once (sip_alg_set_validation). On the CLI the mode also
    sets the action of each class the same line does not name (strict: drop, lenient: pass),
    and a rate's burst is the rate unless given: cli() names only what differs from those."""
    strict: bool
    drop_parse: bool
    drop_header: bool
    drop_sdp: bool
    drop_too_many: bool
    block_methods: int
    invite_rate: int
    invite_burst: int
    register_rate: int
    register_burst: int

    def cli(self):
        out = ["set sip-alg validation " + ("strict" if self.strict else "lenient")]
        for c in D.VALIDATION_CLASSES:
            drop = getattr(self, f"drop_{c}")
            if drop != self.strict:
                out.append(f"{c.replace('_', '-')} {'drop' if drop else 'pass'}")
        out.append("block " + (",".join(mask_methods(self.block_methods)) or "none"))
        for m in D.RATE_LIMITED:
            rate, burst = getattr(self, f"{m}_rate"), getattr(self, f"{m}_burst")
            out.append(f"{m}-rate {rate}" + ("" if burst == rate else f" burst {burst}"))
        return " ".join(out)

    def call(self):
        return "sip_alg_set_validation", {k: getattr(self, k) for k in VALIDATION}


@dataclass
class AlgInterface(Op):
    ifname: str
    sw_if_index: int
    enable: bool

    def cli(self):
        return f"set sip-alg interface {self.ifname}" + ("" if self.enable else " disable")

    def call(self):
        return "sip_alg_interface_enable_disable", {"sw_if_index": self.sw_if_index,
                                                    "enable": self.enable}

    def failure(self, retval):
        if self.enable and retval == UNSUPPORTED:
            return output_feature(self.ifname)


AclRef = Union[int, str]  # an ACL's index, or the tag of one this plan creates


def _ref(a):
    return str(a) if isinstance(a, int) else f"<{a}>"


@dataclass
class AclAddReplace(Op):
    tag: str
    rules: Tuple[A.AclRule, ...]
    index: Optional[int] = None  # None: create (VPP picks the index)
    about: str = ""

    def cli(self):
        index = "" if self.index is None else f"index {self.index} "
        return (f"set acl-plugin acl {index}" + ", ".join(r.cli() for r in self.rules)
                + f" tag {self.tag}")

    def call(self):
        return "acl_add_replace", {"acl_index": A.NO_ACL if self.index is None else self.index,
                                   "tag": self.tag, "count": len(self.rules),
                                   "r": [r.api() for r in self.rules]}

    def comment(self):
        return f"rules {self.about}" if self.about else None

    def done(self, reply, created):
        if self.index is None:
            created[self.tag] = reply.acl_index


@dataclass
class AclDel(Op):
    index: int
    tag: str

    def cli(self):
        return f"delete acl-plugin acl index {self.index}"

    def call(self):
        return "acl_del", {"acl_index": self.index}

    def comment(self):
        return f"{self.tag}, no longer configured"


@dataclass
class AclInterface(Op):
    """An interface's input and output ACL lists, set at once (acl_interface_set_acl_list);
    on the CLI, the ACLs from the first difference on are taken off and put back in order."""
    ifname: str
    sw_if_index: int
    have: Tuple[Tuple[int, ...], Tuple[int, ...]]  # (input, output) now
    want: Tuple[Tuple[AclRef, ...], Tuple[AclRef, ...]]

    def cli(self):
        cmds = []
        for d, h, w in zip(("input", "output"), self.have, self.want):
            # `... acl N` appends to the list, `... acl N del` takes N out: keep the longest
            # start of w that h has in order, take the rest of h out, append the rest of w
            kept, j = [], 0
            for a in w:
                if a not in h[j:]:
                    break
                j = h.index(a, j) + 1
                kept.append(j - 1)
            off, on = [a for n, a in enumerate(h) if n not in kept], w[len(kept):]
            cmds += [f"set acl-plugin interface {self.ifname} {d} acl {a} del" for a in off]
            cmds += [f"set acl-plugin interface {self.ifname} {d} acl {_ref(a)}" for a in on]
        return "; ".join(cmds)

    def call(self):
        acls = list(self.want[0]) + list(self.want[1])
        return "acl_interface_set_acl_list", {"sw_if_index": self.sw_if_index,
                                              "count": len(acls), "n_input": len(self.want[0]),
                                              "acls": acls}

    def resolve(self, created):
        def one(refs):
            return tuple(created.get(a, a) if isinstance(a, str) else a for a in refs)
        return replace(self, want=(one(self.want[0]), one(self.want[1])))

    def exec_lines(self):
        unknown = [a for w in self.want for a in w if not isinstance(a, int)]
        if unknown:  # exec_script resolves every ACL the plan creates
            raise NoCli(f"{self.ifname}: no index for {', '.join(unknown)}")
        return self.cli().split("; ")


class PlanError(Exception):
    """The running VPP lacks something the plan needs (e.g. an interface)."""


class MissingPlugin(PlanError):
    """The running VPP did not load a plugin the configuration needs (exit 2, like the
    sip_alg plugin missing)."""


def _fields(reply, msg, names):
    """The fields names of reply, as a dict; MissingPlugin naming those it lacks (a plugin built
    from an older sip_alg.api)."""
    missing = [n for n in names if not hasattr(reply, n)]
    if missing:
        raise MissingPlugin(
            f"the running sip_alg plugin's {msg} has no {', '.join(missing)}: it is older than "
            f"this sipalgctl (sip_alg API {API_NEEDED} or later needed); build and install the "
            f"plugin again (make plugin, or make install-plugin) and restart VPP")
    return {n: getattr(reply, n) for n in names}


# --- reading state ---------------------------------------------------------------------------

def alg_config(g):
    """The ALG's settings from a sip_alg_get_config reply, as State.alg (flat, the config's
    terms: port lists as tuples, port ranges as (lo, hi), flags as bools); MissingPlugin
    when the reply lacks a field (a plugin older than API_NEEDED)."""
    alg = {"udp": tuple(g.udp_ports[:g.n_udp_ports]),
           "tcp": tuple(g.tcp_ports[:g.n_tcp_ports]), "signaling": g.signaling,
           "media": g.media, "call": g.call, "max_calls": g.max_calls,
           "media_ports": (g.media_port_lo, g.media_port_hi),
           "tcp_reassembly": g.tcp_reassembly,
           "media_other_hosts": bool(g.media_other_hosts),
           "max_inbound_calls": g.max_inbound_calls,
           "max_inbound_per_source": g.max_inbound_per_source,
           "max_binding_time": g.max_binding_time, "max_entries": g.max_entries,
           "max_entries_per_call": g.max_entries_per_call,
           "inside_media_ports": (g.inside_port_lo, g.inside_port_hi),
           **_fields(g, "sip_alg_get_config_reply",
                     CALL_TIMERS + ONE_WAY + HOST_LIMITS + VALIDATION)}
    srv = _fields(g, "sip_alg_get_config_reply", SERVERS)
    alg["servers"] = tuple((str(a), int(p)) for a, p in
                           zip(srv["server_address"][:srv["n_servers"]],
                               srv["server_port"][:srv["n_servers"]]))
    for k in VALIDATION:  # flags as bools, numbers as ints
        alg[k] = bool(alg[k]) if k == "strict" or k.startswith("drop_") else int(alg[k])
    return alg


def read_state(c):
    """One pass over the running VPP through a connected vpp.Client."""
    st = State()
    for d in c.dump("sw_interface_dump"):
        name = d.interface_name.rstrip("\x00")
        st.sw_if_index[name] = d.sw_if_index
        st.up[d.sw_if_index] = bool(int(d.flags) & 1)
    for idx in st.sw_if_index.values():
        st.addresses[idx] = {str(a.prefix) for a in c.dump("ip_address_dump", sw_if_index=idx,
                                                              is_ipv6=False)}
        st.if_table[idx] = c.call("sw_interface_get_table", sw_if_index=idx,
                                  is_ipv6=False).vrf_id
    st.tables = {d.table.table_id: d.table.name.rstrip("\x00")
                 for d in c.dump("ip_table_dump") if not d.table.is_ip6}
    for table in sorted(set(st.tables) | {0}):
        for d in c.dump("ip_route_dump", table={"table_id": table, "is_ip6": False}):
            r = d.route
            if r.n_paths != 1:
                continue
            p = r.paths[0]
            via, prefix = str(p.nh.address.ip4), str(r.prefix)
            # a static route: a normal path through a next hop that is not the prefix itself
            # (attached hosts, local and NAT addresses are /32s "via" themselves)
            if (via != "0.0.0.0" and p.sw_if_index != 0xFFFFFFFF and int(p.type) == 0
                    and prefix != f"{via}/32"):
                st.routes.add((prefix, via, p.sw_if_index, table))
    try:
        rc = c.call("nat44_show_running_config")
        st.nat_enabled = bool(rc.sessions)
        st.nat_sessions = rc.sessions
    except Exception:
        st.nat_enabled = False
    if st.nat_enabled:
        st.nat_pool = {(str(d.ip_address), d.vrf_id) for d in c.dump("nat44_address_dump")}
        st.nat_interfaces = {d.sw_if_index: int(d.flags) & (NAT_IS_INSIDE | NAT_IS_OUTSIDE)
                             for d in c.dump("nat44_interface_dump")}
        if c.has("nat44_ed_output_interface_get"):
            st.nat_output = {d.sw_if_index
                             for d in c.dump("nat44_ed_output_interface_get", cursor=0)}
        pinholes = {(str(e.inside_address), e.inside_port, str(e.public_address), e.public_port,
                     e.inside_vrf)
                    for e in c.dump("sip_alg_server_map_get", cursor=0) if e.nat_mapping}
        st.alg_tables = {p[4] for p in pinholes}
        for d in c.dump("nat44_static_mapping_dump"):
            key = (str(d.local_ip_address), d.local_port, str(d.external_ip_address),
                   d.external_port, d.vrf_id)
            if key in pinholes:
                continue  # the ALG's own pinholes are not configuration
            st.static_mappings.add((PROTO_NAME.get(d.protocol, str(d.protocol)), *key))
    st.alg_interfaces = {d.sw_if_index for d in c.dump("sip_alg_interfaces_get", cursor=0)}
    st.acl_plugin = c.has("acl_dump")
    if st.acl_plugin:
        for d in c.dump("acl_dump", acl_index=A.NO_ACL):
            st.acls[d.acl_index] = Acl(d.tag.rstrip("\x00"),
                                       tuple(A.AclRule.from_api(r) for r in d.r[:d.count]))
        for d in c.dump("acl_interface_list_dump", sw_if_index=A.NO_ACL):
            acls = tuple(d.acls[:d.count])
            if acls:
                st.acl_bindings[d.sw_if_index] = (acls[:d.n_input], acls[d.n_input:])
    st.alg = alg_config(c.call("sip_alg_get_config"))
    return st


# --- planning ---------------------------------------------------------------------------------

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
    want_tables = {t: n for n, t in cfg.vrfs.items()}
    table_adds = [IpTable(t, n, True) for t, n in sorted(want_tables.items())
                  if t not in st.tables]
    ours = {st.if_table.get(x, 0) for x in managed}
    others = {t for x, t in st.if_table.items() if x not in managed}
    table_dels = [IpTable(t, st.tables[t], False, why="no longer in vrfs")
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
        if moved:
            if_tables.append(InterfaceTable(i.vpp_ifname, x, table))
        for a in sorted(have if moved else have - want):
            del_addr.append(InterfaceAddress(i.vpp_ifname, x, a, False))
        for a in sorted(want if moved else want - have):
            adds.append(InterfaceAddress(i.vpp_ifname, x, a, True))
        if not st.up.get(x):
            adds.append(SetInterfaceState(i.vpp_ifname, x, True))

    # routes through the managed interfaces, in any table
    want_routes = {(str(r.prefix), str(r.via), idx[r.interface], cfg.table(r.vrf))
                   for r in cfg.routes}
    have_routes = {r for r in st.routes if r[2] in managed}
    for r in sorted(have_routes - want_routes):
        del_routes.append(RouteOp(r[0], r[1], ifname[r[2]], r[2], False, r[3]))
    route_adds = [RouteOp(r[0], r[1], ifname[r[2]], r[2], True, r[3])
                  for r in sorted(want_routes - have_routes)]

    # NAT44-ED
    nat_adds = []
    if not st.nat_enabled:
        nat_adds.append(NatEnable(cfg.nat.sessions))
    want_pool = {(str(a), cfg.table(cfg.nat.pool_vrfs[a]) if a in cfg.nat.pool_vrfs else NO_VRF)
                 for a in cfg.nat.pool}
    have_pool = st.nat_pool if st.nat_enabled else set()
    for a, v in sorted(have_pool - want_pool):
        del_pool.append(NatAddress(a, False, v))
    nat_adds += [NatAddress(a, True, v) for a, v in sorted(want_pool - have_pool)]
    role_flag = {"inside": NAT_IS_INSIDE, "outside": NAT_IS_OUTSIDE}
    for name, i in cfg.interfaces.items():
        x = idx[name]
        have = st.nat_interfaces.get(x, 0) if st.nat_enabled else 0
        want = role_flag.get(i.role, 0)
        for role, flag in role_flag.items():
            if have & flag and not want & flag:
                del_nat_if.append(NatInterface(i.vpp_ifname, x, role, False))
            if want & flag and not have & flag:
                nat_adds.append(NatInterface(i.vpp_ifname, x, role, True))
    want_sm = {(m.protocol, str(m.local[0]), m.local[1], str(m.external[0]), m.external[1],
                cfg.table(m.vrf)) for m in cfg.nat.static_mappings}
    have_sm = st.static_mappings if st.nat_enabled else set()
    for m in sorted(have_sm - want_sm):
        del_sm.append(NatStaticMapping.of(m, False))
    nat_adds += [NatStaticMapping.of(m, True) for m in sorted(want_sm - have_sm)]

    # SIP ALG
    alg_ops = []
    s = cfg.sip_alg
    cur = st.alg or {}
    if (cur.get("udp"), cur.get("tcp")) != (tuple(s.udp_ports), tuple(s.tcp_ports)):
        alg_ops.append(AlgPorts(tuple(s.udp_ports), tuple(s.tcp_ports)))
    want_servers = tuple((str(a), p) for a, p in s.servers)
    if sorted(cur.get("servers", ())) != sorted(want_servers):  # the order means nothing
        alg_ops.append(AlgServers(want_servers))
    if (cur.get("signaling"), cur.get("media"), cur.get("call")) != (s.signaling, s.media, s.call):
        alg_ops.append(AlgTimeouts(s.signaling, s.media, s.call))
    want_timers = tuple(getattr(s, k) for k in CALL_TIMERS)
    if tuple(cur.get(k) for k in CALL_TIMERS) != want_timers:
        alg_ops.append(AlgCallTimers(*want_timers))
    if cur.get("one_way_media") != s.one_way_media:
        alg_ops.append(AlgOneWayMedia(s.one_way_media))
    if (cur.get("max_calls"), cur.get("media_ports")) != (s.max_calls, tuple(s.media_ports)):
        alg_ops.append(AlgLimits(s.max_calls, *s.media_ports, have=cur.get("media_ports")))
    if cur.get("tcp_reassembly") != s.tcp_reassembly:
        alg_ops.append(AlgTcp(s.tcp_reassembly))
    if cur.get("media_other_hosts") != s.media_other_hosts:
        alg_ops.append(AlgMediaPolicy(s.media_other_hosts))
    want_sec = tuple(getattr(s.security, k) for k in SECURITY)
    have_host = tuple(cur.get(k) for k in HOST_LIMITS)
    if tuple(cur.get(k) for k in SECURITY) != want_sec:
        alg_ops.append(AlgSecurity(*want_sec[:-1], *want_sec[-1]))  # host limits stay
    want_host = tuple(getattr(s.security, k) for k in HOST_LIMITS)
    if have_host != want_host:
        alg_ops.append(AlgHostLimits(*want_host))
    want_val = validation_fields(s.validation)
    if {k: cur.get(k) for k in VALIDATION} != want_val:
        alg_ops.append(AlgValidation(**want_val))
    want_alg = {idx[n] for n in cfg.alg_interfaces()}
    for x in sorted((st.alg_interfaces & managed) - want_alg):
        del_alg.append(AlgInterface(ifname[x], x, False))
    alg_ops += [AlgInterface(ifname[x], x, True) for x in sorted(want_alg - st.alg_interfaces)]

    dels = del_alg + del_sm + del_nat_if + del_pool + del_routes + del_addr
    # a table is made before an interface is put in it, deleted after they are taken out
    tables = table_adds + if_tables + table_dels
    # the firewall before anything that brings traffic: an interface comes up filtered
    return (replaced + dels + tables + plan_firewall(cfg, st, idx) + adds + route_adds +
            nat_adds + alg_ops)


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
    for name, t in sorted(cfg.vrfs.items(), key=lambda v: v[1]):
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
            ops.append(RouteOp(r[0], r[1], names.get(r[2], f"sw_if_index {r[2]}"), r[2], False,
                               t))
            out.routes.discard(r)
        if out.nat_enabled:
            for a, v in sorted(a for a in out.nat_pool if a[1] == t):
                ops.append(NatAddress(a, False, v))
                out.nat_pool.discard((a, v))
            for m in sorted(m for m in out.static_mappings if m[5] == t):
                ops.append(NatStaticMapping.of(m, False))
                out.static_mappings.discard(m)
        for x in sorted(x for x, tt in out.if_table.items() if tt == t):
            ops += [InterfaceAddress(names[x], x, a, False) for a in sorted(out.addresses[x])]
            out.addresses[x] = set()
            ops.append(InterfaceTable(names[x], x, 0))
            out.if_table[x] = 0
        ops.append(IpTable(t, have, False, why=f"VPP cannot rename it: made again as {name}"))
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
            ops.append(AclAddReplace(tag, rules, None, about))
        elif ours[keep[tag]].rules != rules:
            ops.append(AclAddReplace(tag, rules, keep[tag], about))
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
            ops.append(AclInterface(names.get(x, f"sw_if_index {x}"), x, have, new))
    ops += [AclDel(i, ours[i].tag) for i in sorted(ours) if i not in keep.values()]
    return ops


def apply(c, ops, progress=None):
    """Send the operations in order; the first failure raises ApiError."""
    created = {}  # tag -> index of the ACLs created so far
    for n, op in enumerate(ops, 1):
        op = op.resolve(created)
        msg, args = op.call()
        if progress:
            progress(n, len(ops), op)
        try:
            reply = c.call(msg, **args)
        except ApiError as e:
            why = op.failure(e.retval)
            if why:
                raise ApiError(msg, e.retval, why=why) from e
            raise
        op.done(reply, created)


# --- the plan as a file of VPP CLI commands -----------------------------------------------------

ACL_INDEX_CHECK = ("VPP picks a new ACL's index itself; the lines below bind this one as ACL "
                   "{i}: made, deleted by that index, which fails and stops the file unless "
                   "VPP gave it {i}, and made again, VPP giving it the index it has just freed")


def exec_script(ops, st):
    """The operations as lines of VPP's CLI for `vppctl exec`, each command on a line of its
    own, comments (`#`) saying what a line is for; PlanError, naming them, when VPP's CLI
    cannot do some of them as the binary API does (nothing is written then).

    An ACL this plan creates is bound by the index VPP will give it, which the CLI cannot
    refer to otherwise: the lowest index no ACL of st has, taken in turn. VPP reuses the
    index of a deleted ACL first, the last deleted first, so that is a guess; it is made
    sure of by deleting the ACL by that index after making it (`delete acl-plugin acl` fails
    on an index no ACL has, and `vppctl exec` stops there) and making it again (VPP gives it
    the index it has just freed). Replacing an ACL by its index would not do: VPP's CLI does
    not report the failures of `set acl-plugin ...` commands (`set acl-plugin`'s own function
    takes over and succeeds), and exec would go on."""
    free = (i for i in itertools.count() if i not in st.acls)
    created, lines, missing = {}, [], []
    for op in ops:
        new_acl = isinstance(op, AclAddReplace) and op.index is None
        if new_acl:
            created[op.tag] = next(free)
        op = op.resolve(created)
        try:
            cmds = op.exec_lines()
        except NoCli as e:
            missing.append(f"{op.cli()} ({e})")
            continue
        for note in (op.comment(), op.exec_note()):
            if note:
                lines.append(f"# {note}")
        lines += cmds
        if new_acl:
            i = created[op.tag]
            lines[-1:-1] = ["# " + ACL_INDEX_CHECK.format(i=i)]
            lines += [f"delete acl-plugin acl index {i}", op.cli()]
    if missing:
        raise PlanError(f"{len(missing)} operation{'s' if len(missing) > 1 else ''} of the "
                        f"plan VPP's CLI cannot do: " + "; ".join(missing) +
                        "; sipalgctl apply does them (no exec file written)")
    for line in lines:
        if "\n" in line or (not line.startswith("#") and ("#" in line or "$" in line)):
            # VPP's CLI reads `#` as a comment and `$(...)` as a macro
            raise PlanError(f"cannot write {line!r} as one line of VPP's CLI")
    return lines
