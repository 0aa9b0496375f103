# SPDX-License-Identifier: Apache-2.0
"""The operations a plan is made of, and carrying them out.

Each operation renders as VPP CLI text (what `plan` prints) and as one binary-API call
(what `apply` sends); exec_script writes them as a file of VPP CLI commands.

An operation may refer to an ACL this plan creates, whose index VPP gives only when it is
created: its cli() names it by tag (<sipalgctl:inbound>) and its call() carries the tag;
apply() fills in the index (resolve) from the reply of the operation that created it (done).
"""

import itertools
from dataclasses import dataclass, field, replace
from typing import Optional, Tuple, Union

from .. import acl as A
from .. import defaults as D
from ..vpp import ApiError
from .state import IP_PROTO, NAT_IS_INSIDE, NAT_IS_OUTSIDE, NO_VRF, VALIDATION, PlanError

# VNET_API_ERROR_UNSUPPORTED: sip_alg_interface_enable_disable on an interface where
# NAT44-ED's output feature is on
UNSUPPORTED = -126
# sw_interface_set_table: VNET_API_ERROR_NO_SUCH_FIB, VNET_API_ERROR_ADDRESS_FOUND_FOR_INTERFACE
NO_SUCH_FIB, ADDRESS_FOUND = -3, -114


def output_feature(ifname):
    """Why the ALG cannot be on ifname, NAT44-ED's output feature being on it."""
    return (f"interface {ifname} has NAT44-ED's output feature on it (set interface nat44 out "
            f"{ifname} output-feature): the SIP ALG cannot work there, it works with NAT44-ED "
            f"inside/outside interfaces only; take the output feature off (set interface "
            f"nat44 out {ifname} output-feature del), sipalgctl makes the interface a NAT44-ED "
            f"inside or outside interface by its role")


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

    @classmethod
    def of(cls, key, ifname, is_add):
        """From a State.routes tuple, through the interface named ifname."""
        prefix, via, sw_if_index, table_id = key
        return cls(prefix=prefix, via=via, ifname=ifname, sw_if_index=sw_if_index,
                   is_add=is_add, table_id=table_id)

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
        return cls(protocol=proto, local=local, local_port=lport, external=ext,
                   external_port=eport, is_add=is_add, vrf=vrf)

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


# --- the ALG's settings: one operation per section (one C struct, one set message, one CLI
# command each), its fields the section's, by name

@dataclass
class AlgTimeouts(Op):
    """Every timer, in seconds (sip_alg_set_timeouts_v2, `set sip-alg timeouts`); the call
    timers 0: off."""
    signaling: int
    media: int
    call_: int  # the section's call (call() is the message)
    media_inactivity: int
    max_duration: int
    one_way_media: int

    @classmethod
    def of(cls, t):
        """From the configuration's sip_alg.timeouts, field by field."""
        return cls(signaling=t.signaling, media=t.media, call_=t.call,
                   media_inactivity=t.media_inactivity, max_duration=t.max_duration,
                   one_way_media=t.one_way_media)

    def cli(self):
        return (f"set sip-alg timeouts signaling {self.signaling} media {self.media} "
                f"call {self.call_} media-inactivity {self.media_inactivity} "
                f"max-duration {self.max_duration} one-way-media {self.one_way_media}")

    def call(self):
        return "sip_alg_set_timeouts_v2", {
            "signaling": self.signaling, "media": self.media, "call": self.call_,
            "media_inactivity": self.media_inactivity, "max_duration": self.max_duration,
            "one_way_media": self.one_way_media}


RSRC_IN_USE = -155  # VNET_API_ERROR_RSRC_IN_USE


@dataclass
class AlgLimits(Op):
    """The table sizes (sip_alg_set_limits_v2, `set sip-alg limits`). The plugin lays the
    media port range out again only when it differs, and only while no call holds a media
    port (RSRC_IN_USE)."""
    max_calls: int
    max_held: int
    media_ports: Tuple[int, int]
    tcp_reassembly: int

    @classmethod
    def of(cls, lim):
        """From the configuration's sip_alg.limits, field by field."""
        return cls(max_calls=lim.max_calls, max_held=lim.max_held,
                   media_ports=tuple(lim.media_ports), tcp_reassembly=lim.tcp_reassembly)

    def cli(self):
        lo, hi = self.media_ports
        return (f"set sip-alg limits max-calls {self.max_calls} max-held {self.max_held} "
                f"media-ports {lo}-{hi} tcp-reassembly {self.tcp_reassembly}")

    def call(self):
        lo, hi = self.media_ports
        return "sip_alg_set_limits_v2", {
            "max_calls": self.max_calls, "max_held": self.max_held, "media_port_lo": lo,
            "media_port_hi": hi, "tcp_reassembly": self.tcp_reassembly}

    def failure(self, retval):
        if retval == RSRC_IN_USE:
            return ("calls hold media ports: the media port range changes only while none "
                    "does (wait for the calls to end, or restart VPP), then apply again")
        return None


MAX_MEDIA_ADDRESSES = D.MAX_MEDIA_ADDRESSES  # sip_alg_set_media's array


@dataclass
class AlgMedia(Op):
    """The media public addresses, in order (each is a slot of the plugin's pool), and the
    other inside hosts' media (sip_alg_set_media, `set sip-alg media`)."""
    addresses: Tuple[str, ...]
    other_hosts: bool

    @classmethod
    def of(cls, m):
        """From the configuration's sip_alg.media, field by field."""
        return cls(addresses=tuple(str(a) for a in m.addresses), other_hosts=m.other_hosts)

    def cli(self):
        return ("set sip-alg media addresses " + (" ".join(self.addresses) or "none")
                + f" other-hosts {'on' if self.other_hosts else 'off'}")

    def call(self):
        return "sip_alg_set_media", {
            "other_hosts": self.other_hosts, "n_addresses": len(self.addresses),
            "addresses": list(self.addresses) + ["0.0.0.0"] *
            (MAX_MEDIA_ADDRESSES - len(self.addresses))}

    def failure(self, retval):
        if retval == RSRC_IN_USE:
            return ("calls hold media ports: the media addresses change only while none "
                    "does (wait for the calls to end, or restart VPP), then apply again")
        return None


@dataclass
class AlgSecurity(Op):
    """Every security limit, those per inside host too (sip_alg_set_security_v2, `set
    sip-alg security`); the limits per host 0: off."""
    max_inbound_calls: int
    max_inbound_per_source: int
    max_binding_time: int
    max_entries: int
    max_entries_per_call: int
    inside_media_ports: Tuple[int, int]
    max_calls_per_host: int
    max_entries_per_host: int

    @classmethod
    def of(cls, sec):
        """From the configuration's sip_alg.security, field by field."""
        return cls(max_inbound_calls=sec.max_inbound_calls,
                   max_inbound_per_source=sec.max_inbound_per_source,
                   max_binding_time=sec.max_binding_time, max_entries=sec.max_entries,
                   max_entries_per_call=sec.max_entries_per_call,
                   inside_media_ports=tuple(sec.inside_media_ports),
                   max_calls_per_host=sec.max_calls_per_host,
                   max_entries_per_host=sec.max_entries_per_host)

    def cli(self):
        lo, hi = self.inside_media_ports
        return (f"set sip-alg security max-inbound-calls {self.max_inbound_calls} "
                f"max-inbound-per-source {self.max_inbound_per_source} "
                f"max-binding-time {self.max_binding_time} max-entries {self.max_entries} "
                f"max-entries-per-call {self.max_entries_per_call} "
                f"inside-media-ports {lo}-{hi} max-calls-per-host {self.max_calls_per_host} "
                f"max-entries-per-host {self.max_entries_per_host}")

    def call(self):
        lo, hi = self.inside_media_ports
        return "sip_alg_set_security_v2", {
            "max_inbound_calls": self.max_inbound_calls,
            "max_inbound_per_source": self.max_inbound_per_source,
            "max_binding_time": self.max_binding_time, "max_entries": self.max_entries,
            "max_entries_per_call": self.max_entries_per_call,
            "inside_port_lo": lo, "inside_port_hi": hi,
            "max_calls_per_host": self.max_calls_per_host,
            "max_entries_per_host": self.max_entries_per_host}


def method_mask(names):
    """Method names (D.SIP_METHODS) -> block_methods: bit 1 << sip_method_t of each."""
    return sum(1 << (D.SIP_METHODS.index(n) + 1) for n in set(names))


def mask_methods(mask):
    """block_methods -> the method names, in the plugin's order."""
    return tuple(n for i, n in enumerate(D.SIP_METHODS) if mask >> (i + 1) & 1)


def validation_fields(v):
    """The configuration's sip_alg.validation as sip_alg_set_validation's fields
    (sip_alg_get_config's names)."""
    return {"strict": v.mode == "strict",
            **{f"drop_{c}": getattr(v.actions, c) == "drop" for c in D.VALIDATION_CLASSES},
            "block_methods": method_mask(v.block_methods),
            **{f"{m}_{k}": getattr(v.rate_limits[m], k) for m in D.RATE_LIMITED
               for k in ("rate", "burst")}}


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
