# SPDX-License-Identifier: Apache-2.0
"""What the running VPP has, read once over the binary API (read_state), in the terms of
the configuration: the State that plan() compares the configuration with."""

from dataclasses import dataclass, field
from typing import Dict, Optional, Set, Tuple

from .. import acl as A
from .. import defaults as D
from ..vpp import API_NEEDED

IP_PROTO = {"udp": 17, "tcp": 6}
PROTO_NAME = {v: k for k, v in IP_PROTO.items()}
NAT_IS_INSIDE, NAT_IS_OUTSIDE = 0x20, 0x10  # nat_config_flags_t
NO_VRF = 0xFFFFFFFF  # NAT44-ED's vrf_id of a pool address of no table in particular


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


# The sections of the ALG's settings, each one C struct, one set message and one CLI
# command: {State.alg's key (sip_alg_get_config's name): the section's field (the YAML's)}
TIMEOUTS = {k: k for k in ("signaling", "media", "call", "media_inactivity", "max_duration",
                           "one_way_media")}
LIMITS = {k: k for k in ("max_calls", "max_held", "media_ports", "tcp_reassembly")}
SECURITY = {k: k for k in ("max_inbound_calls", "max_inbound_per_source", "max_binding_time",
                           "max_entries", "max_entries_per_call", "inside_media_ports",
                           "max_calls_per_host", "max_entries_per_host")}
MEDIA = {"media_addresses": "addresses", "media_other_hosts": "other_hosts"}
# sip_alg_get_config_reply's fields read as they are
CALL_TIMERS = ("media_inactivity", "max_duration", "one_way_media")
HOST_LIMITS = ("max_calls_per_host", "max_entries_per_host")

# sip_alg_get_config_reply's fields of the published servers (API 0.8.0)
SERVERS = ("n_servers", "server_address", "server_port")
# ... and of the media public addresses (API 0.11.0), in order: each is a slot of the
# plugin's pool, so the order is part of the setting
MEDIA_ADDRESSES = ("n_media_addresses", "media_addresses")


# sip_alg_set_validation's fields, in its order: State.alg's keys
VALIDATION = ("strict", *(f"drop_{c}" for c in D.VALIDATION_CLASSES), "block_methods",
              *(f"{m}_{k}" for m in D.RATE_LIMITED for k in ("rate", "burst")))


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

def alg_config(g, limits=None):
    """The ALG's settings from a sip_alg_get_config reply (and max_held from a
    sip_alg_get_limits reply, limits), as State.alg (flat, the config's terms: port lists as
    tuples, port ranges as (lo, hi), flags as bools); MissingPlugin when the reply lacks a
    field (a plugin older than API_NEEDED)."""
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
                     CALL_TIMERS + HOST_LIMITS + VALIDATION)}
    if limits is not None:
        alg["max_held"] = _fields(limits, "sip_alg_get_limits_reply", ("max_held",))["max_held"]
    srv = _fields(g, "sip_alg_get_config_reply", SERVERS)
    alg["servers"] = tuple((str(a), int(p)) for a, p in
                           zip(srv["server_address"][:srv["n_servers"]],
                               srv["server_port"][:srv["n_servers"]]))
    media = _fields(g, "sip_alg_get_config_reply", MEDIA_ADDRESSES)
    alg["media_addresses"] = tuple(str(a) for a in
                                   media["media_addresses"][:media["n_media_addresses"]])
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
    st.alg = alg_config(c.call("sip_alg_get_config"), c.call("sip_alg_get_limits"))
    return st
