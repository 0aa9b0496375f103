# SPDX-License-Identifier: Apache-2.0
"""YAML configuration: parsed once into typed models, validated in two passes.

1. Schema: every key known, every value of the right type and range. Each problem is
   reported with the YAML path of the bad key (``interfaces.inside.address``).
2. Semantics: pure checks across objects (references between sections, roles, overlaps).

All problems are collected and raised together as ConfigError.
"""

import ipaddress
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import yaml


class ConfigError(Exception):
    """Invalid configuration: a list of (yaml path, message)."""

    def __init__(self, problems):
        self.problems = problems
        super().__init__("\n".join(f"{p}: {m}" for p, m in problems))


@dataclass
class VppSettings:
    prefix: Optional[str] = None  # None: VPP_PREFIX, else /usr, /usr/local, /opt/vpp
    runtime_dir: str = "/run/sipalg"
    workers: int = 0
    main_core: int = 0
    # workers as pthreads, not pinned to a core each: more workers than free CPUs (a small
    # VM, a test machine); VPP's cpu { use-pthreads }
    use_pthreads: bool = False
    buffers: int = 16384
    main_heap: str = "1G"
    # None: SIPALGCTL_PLUGIN_PATH, else the checkout's build/plugin, else VPP's plugin dir
    plugin_path: Optional[str] = None

    @property
    def api_socket(self):
        return f"{self.runtime_dir}/api.sock"

    @property
    def cli_socket(self):
        return f"{self.runtime_dir}/cli.sock"

    @property
    def stats_socket(self):
        return f"{self.runtime_dir}/stats.sock"


@dataclass
class Interface:
    name: str  # the YAML key
    type: str  # af_packet | tap | existing
    role: str  # inside | outside | none
    address: ipaddress.IPv4Interface
    host_if: Optional[str] = None  # af_packet: linux interface; tap: host-side name
    vpp_name: Optional[str] = None  # existing: VPP's name for it
    tap_id: int = 0

    @property
    def vpp_ifname(self):
        if self.type == "af_packet":
            return f"host-{self.host_if}"
        if self.type == "tap":
            return f"tap{self.tap_id}"
        return self.vpp_name


@dataclass(frozen=True)
class Route:
    prefix: ipaddress.IPv4Network
    via: ipaddress.IPv4Address
    interface: str


@dataclass(frozen=True)
class StaticMapping:
    protocol: str
    local: Tuple[ipaddress.IPv4Address, int]
    external: Tuple[ipaddress.IPv4Address, int]


@dataclass
class Nat:
    sessions: int = 10000
    pool: List[ipaddress.IPv4Address] = field(default_factory=list)
    static_mappings: List[StaticMapping] = field(default_factory=list)


U32_MAX = 0xFFFFFFFF


@dataclass
class Security:
    """Bounds on what attacker-controlled SIP may make the ALG keep or open (the plugin's
    sip_alg_set_security). The defaults are the plugin's own, so a YAML without
    sip_alg.security leaves a freshly started VPP as it is."""
    # call records that requests from outside may create, per worker (an outside INVITE
    # starts one only towards a REGISTER binding) ...
    max_inbound_calls: int = 1000
    # ... and of those, from one outside address, per worker
    max_inbound_per_source: int = 20
    # seconds; a registrar's longer Expires is cut to this
    max_binding_time: int = 3600
    # server-map entries in total, and of one call record (at least 4)
    max_entries: int = 65536
    max_entries_per_call: int = 24
    # inside ports a media pinhole may lead to
    inside_media_ports: Tuple[int, int] = (1024, 65535)


# sip_alg.limits.tcp_reassembly: what sip_alg_set_tcp accepts (the default: SipAlg's)
TCP_REASSEMBLY_MIN, TCP_REASSEMBLY_MAX = 1024, 65535

# sip_alg.timeouts' call timers: key -> (lowest, highest) value other than 0 (off); the
# defaults (SipAlg) are the plugin's, Juniper SRX's SIP ALG's inactive-media-timeout and
# maximum-call-duration
CALL_TIMERS = {"media_inactivity": (10, 86400), "max_duration": (60, 604800)}

# key -> lowest value the plugin accepts (all u32; 0 is refused)
SECURITY_MIN = {"max_inbound_calls": 1, "max_inbound_per_source": 1, "max_binding_time": 1,
                "max_entries": 1, "max_entries_per_call": 4}


@dataclass
class SipAlg:
    enabled: bool = True
    interfaces: Optional[List[str]] = None  # None: every NAT interface
    udp_ports: List[int] = field(default_factory=lambda: [5060])
    # SIP over TCP on these ports is rewritten too (sequence numbers adjusted); none: off
    tcp_ports: List[int] = field(default_factory=list)
    signaling: int = 120
    media: int = 60
    call: int = 7200
    # seconds, 0: off. An established call whose media (RTP and RTCP, either direction) has
    # been silent this long loses its media entries (the call stays) ...
    media_inactivity: int = 120
    # ... and a call record ends this long after its first INVITE, with its entries
    max_duration: int = 43200
    max_calls: int = 10000
    media_ports: Tuple[int, int] = (40000, 59999)
    # media pinholes also for other inside hosts an inside party's SDP names (a media server
    # beside a PBX); off: only for the signaling endpoints (any inside phone could otherwise
    # expose any port of any inside host)
    media_other_hosts: bool = False
    # bytes of an incomplete SIP over TCP message kept per direction of a connection; a larger
    # message passes untouched and the connection is no longer inspected (tcp_overflow)
    tcp_reassembly: int = 16384
    security: Security = field(default_factory=Security)


ANY_NET = ipaddress.IPv4Network("0.0.0.0/0")
ACTIONS = ("permit", "permit+reflect", "deny")
PROTOCOLS = {"any": 0, "icmp": 1, "tcp": 6, "udp": 17}


@dataclass(frozen=True)
class FwRule:
    """One firewall rule; None ports / ICMP type or code: any."""
    action: str  # permit | permit+reflect | deny
    src: ipaddress.IPv4Network = ANY_NET
    dst: ipaddress.IPv4Network = ANY_NET
    proto: int = 0  # IP protocol number, 0: any
    sport: Optional[Tuple[int, int]] = None  # udp/tcp only
    dport: Optional[Tuple[int, int]] = None
    icmp_type: Optional[Tuple[int, int]] = None  # icmp only
    icmp_code: Optional[Tuple[int, int]] = None
    tag: Optional[str] = None


@dataclass
class FwPolicy:
    """Rules in order, first match wins; `default` applies to what no rule matches."""
    default: str
    rules: List[FwRule] = field(default_factory=list)


@dataclass
class Firewall:
    """Input ACLs on the NAT's interfaces: `outbound` on every role:inside interface (traffic
    from the inside, pre-NAT addresses), `inbound` on every role:outside interface (traffic
    from the outside, public addresses); plus a permit+reflect output ACL on every outside
    interface, so the return traffic of every flow that leaves gets in."""
    enabled: bool = False
    sessions: Optional[int] = None  # acl-plugin { connection count max N }; None: VPP's default
    outbound: FwPolicy = field(default_factory=lambda: FwPolicy("permit"))
    inbound: FwPolicy = field(default_factory=lambda: FwPolicy("deny"))


@dataclass
class Config:
    vpp: VppSettings
    interfaces: Dict[str, Interface]
    routes: List[Route]
    nat: Nat
    sip_alg: SipAlg
    firewall: Firewall = field(default_factory=Firewall)

    def alg_interfaces(self):
        if not self.sip_alg.enabled:
            return []
        if self.sip_alg.interfaces is not None:
            return list(self.sip_alg.interfaces)
        return [n for n, i in self.interfaces.items() if i.role in ("inside", "outside")]


# --- schema helpers ------------------------------------------------------------------------

class _Ctx:
    def __init__(self):
        self.problems = []

    def err(self, path, msg):
        self.problems.append((path, msg))


def _keys(ctx, path, obj, allowed, required=()):
    if not isinstance(obj, dict):
        ctx.err(path or "(top)", f"must be a mapping, got {type(obj).__name__}")
        return False
    for k in obj:
        if k not in allowed:
            ctx.err(f"{path}.{k}" if path else str(k),
                    f"unknown key (allowed: {', '.join(sorted(allowed))})")
    for k in required:
        if k not in obj:
            ctx.err(f"{path}.{k}" if path else k, "required")
    return True


def _int(ctx, path, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, int):
        ctx.err(path, f"must be an integer, got {v!r}")
        return None
    if not lo <= v <= hi:
        ctx.err(path, f"must be between {lo} and {hi}, got {v}")
        return None
    return v


def _timer(ctx, path, v, lo, hi):
    """Seconds between lo and hi, or 0: off."""
    if isinstance(v, bool) or not isinstance(v, int):
        ctx.err(path, f"must be an integer, got {v!r}")
        return None
    if v != 0 and not lo <= v <= hi:
        ctx.err(path, f"must be 0 (off) or between {lo} and {hi}, got {v}")
        return None
    return v


def _str(ctx, path, v, choices=None):
    if not isinstance(v, str) or not v:
        ctx.err(path, f"must be a non-empty string, got {v!r}")
        return None
    if choices and v not in choices:
        ctx.err(path, f"must be one of {', '.join(choices)}, got {v!r}")
        return None
    return v


def _bool(ctx, path, v):
    if not isinstance(v, bool):
        ctx.err(path, f"must be true or false, got {v!r}")
        return None
    return v


def _ip4(ctx, path, v):
    try:
        return ipaddress.IPv4Address(v)
    except (ValueError, TypeError):
        ctx.err(path, f"must be an IPv4 address, got {v!r}")
        return None


def _ip4_if(ctx, path, v):
    try:
        i = ipaddress.IPv4Interface(v)
        if "/" not in str(v):
            raise ValueError
        return i
    except (ValueError, TypeError):
        ctx.err(path, f"must be an IPv4 address with prefix length (a.b.c.d/n), got {v!r}")
        return None


def _ip4_net(ctx, path, v):
    try:
        return ipaddress.IPv4Network(v)
    except (ValueError, TypeError):
        ctx.err(path, f"must be an IPv4 prefix (a.b.c.d/n, host bits zero), got {v!r}")
        return None


def _endpoint(ctx, path, v):
    """'a.b.c.d:port'"""
    if not isinstance(v, str) or v.count(":") != 1:
        ctx.err(path, f"must be address:port, got {v!r}")
        return None
    a, p = v.split(":")
    addr = _ip4(ctx, path, a)
    if not p.isdigit():
        ctx.err(path, f"port must be 1-65535, got {p!r}")
        return None
    port = _int(ctx, path, int(p), 1, 65535)
    return (addr, port) if addr is not None and port is not None else None


def _ports(ctx, path, v, allow_empty=False):
    if not isinstance(v, list) or (not v and not allow_empty):
        ctx.err(path, "must be a list of ports" + ("" if allow_empty else " (at least one)"))
        return None
    out = []
    for i, p in enumerate(v):
        x = _int(ctx, f"{path}[{i}]", p, 1, 65535)
        if x is not None:
            if x in out:
                ctx.err(f"{path}[{i}]", f"port {x} listed twice")
            out.append(x)
    if len(v) > 8:
        ctx.err(path, f"at most 8 ports, got {len(v)}")
    return out


# --- sections ---------------------------------------------------------------------------

def _vpp(ctx, obj):
    s = VppSettings()
    if obj is None:
        return s
    if not _keys(ctx, "vpp", obj, {"prefix", "runtime_dir", "workers", "main_core",
                                   "use_pthreads", "buffers", "main_heap", "plugin_path"}):
        return s
    if "prefix" in obj:
        s.prefix = _str(ctx, "vpp.prefix", obj["prefix"])
    if "runtime_dir" in obj:
        d = _str(ctx, "vpp.runtime_dir", obj["runtime_dir"])
        if d and not d.startswith("/"):
            ctx.err("vpp.runtime_dir", f"must be an absolute path, got {d!r}")
        elif d:
            s.runtime_dir = d.rstrip("/")
    if "workers" in obj:
        s.workers = _int(ctx, "vpp.workers", obj["workers"], 0, 64) or 0
    if "main_core" in obj:
        s.main_core = _int(ctx, "vpp.main_core", obj["main_core"], 0, 1023) or 0
    if "use_pthreads" in obj:
        s.use_pthreads = bool(_bool(ctx, "vpp.use_pthreads", obj["use_pthreads"]))
    if "buffers" in obj:
        s.buffers = _int(ctx, "vpp.buffers", obj["buffers"], 1024, 10_000_000) or s.buffers
    if "main_heap" in obj:
        h = _str(ctx, "vpp.main_heap", obj["main_heap"])
        if h and not (h[:-1].isdigit() and h[-1] in "MG"):
            ctx.err("vpp.main_heap", f"must be a size like 512M or 1G, got {h!r}")
        elif h:
            s.main_heap = h
    if "plugin_path" in obj:
        s.plugin_path = _str(ctx, "vpp.plugin_path", obj["plugin_path"])
    return s


def _interfaces(ctx, obj):
    out = {}
    if not isinstance(obj, dict) or not obj:
        ctx.err("interfaces", "must be a mapping of interface names to settings (at least one)")
        return out
    tap_id = 0
    for name, v in obj.items():
        p = f"interfaces.{name}"
        if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
            ctx.err(p, "interface names are letters, digits, '-' and '_'")
            continue
        if not _keys(ctx, p, v, {"type", "host_if", "vpp_name", "address", "role"},
                     required=("type", "address", "role")):
            continue
        t = _str(ctx, f"{p}.type", v.get("type"), ("af_packet", "tap", "existing"))
        role = _str(ctx, f"{p}.role", v.get("role"), ("inside", "outside", "none"))
        addr = _ip4_if(ctx, f"{p}.address", v.get("address")) if "address" in v else None
        i = Interface(name=name, type=t, role=role, address=addr)
        if t in ("af_packet", "tap"):
            if "host_if" not in v:
                ctx.err(f"{p}.host_if", f"required for type {t}")
            else:
                h = _str(ctx, f"{p}.host_if", v["host_if"])
                if h and len(h) > 15:
                    ctx.err(f"{p}.host_if", f"Linux interface names have at most 15 characters, "
                                            f"got {h!r}")
                i.host_if = h
            if "vpp_name" in v:
                ctx.err(f"{p}.vpp_name", f"only for type existing (VPP names {t} itself)")
        if t == "tap":
            i.tap_id = tap_id
            tap_id += 1
        if t == "existing":
            if "vpp_name" not in v:
                ctx.err(f"{p}.vpp_name", "required for type existing")
            else:
                i.vpp_name = _str(ctx, f"{p}.vpp_name", v["vpp_name"])
        out[name] = i
    return out


def _routes(ctx, obj):
    out = []
    if obj is None:
        return out
    if not isinstance(obj, list):
        ctx.err("routes", "must be a list")
        return out
    for n, r in enumerate(obj):
        p = f"routes[{n}]"
        if not _keys(ctx, p, r, {"prefix", "via", "interface"},
                     required=("prefix", "via", "interface")):
            continue
        pre = _ip4_net(ctx, f"{p}.prefix", r.get("prefix")) if "prefix" in r else None
        via = _ip4(ctx, f"{p}.via", r.get("via")) if "via" in r else None
        itf = _str(ctx, f"{p}.interface", r.get("interface")) if "interface" in r else None
        if pre and via and itf:
            out.append(Route(pre, via, itf))
    return out


def _nat(ctx, obj):
    nat = Nat()
    if not _keys(ctx, "nat44", obj, {"sessions", "pool", "static_mappings"}, required=("pool",)):
        return nat
    if "sessions" in obj:
        nat.sessions = _int(ctx, "nat44.sessions", obj["sessions"], 1, 100_000_000) or 10000
    pool = obj.get("pool")
    if "pool" not in obj:
        pass  # reported as required
    elif not isinstance(pool, list) or not pool:
        ctx.err("nat44.pool", "must be a list of at least one IPv4 address")
    else:
        for i, a in enumerate(pool):
            x = _ip4(ctx, f"nat44.pool[{i}]", a)
            if x is not None:
                if x in nat.pool:
                    ctx.err(f"nat44.pool[{i}]", f"{x} listed twice")
                nat.pool.append(x)
    sms = obj.get("static_mappings", [])
    if not isinstance(sms, list):
        ctx.err("nat44.static_mappings", "must be a list")
        sms = []
    for i, m in enumerate(sms):
        p = f"nat44.static_mappings[{i}]"
        if not _keys(ctx, p, m, {"protocol", "local", "external"},
                     required=("protocol", "local", "external")):
            continue
        proto = _str(ctx, f"{p}.protocol", m.get("protocol"), ("udp", "tcp"))
        loc = _endpoint(ctx, f"{p}.local", m.get("local")) if "local" in m else None
        ext = _endpoint(ctx, f"{p}.external", m.get("external")) if "external" in m else None
        if proto and loc and ext:
            nat.static_mappings.append(StaticMapping(proto, loc, ext))
    return nat


def _sip_alg(ctx, obj):
    s = SipAlg()
    if obj is None:
        return s
    if not _keys(ctx, "sip_alg", obj, {"enabled", "interfaces", "ports", "timeouts", "limits",
                                       "media_other_hosts", "security"}):
        return s
    if "enabled" in obj:
        e = _bool(ctx, "sip_alg.enabled", obj["enabled"])
        s.enabled = True if e is None else e
    if "media_other_hosts" in obj:
        s.media_other_hosts = bool(_bool(ctx, "sip_alg.media_other_hosts",
                                         obj["media_other_hosts"]))
    if "interfaces" in obj:
        v = obj["interfaces"]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            ctx.err("sip_alg.interfaces", "must be a list of interface names")
        else:
            s.interfaces = list(v)
    ports = obj.get("ports")
    if ports is not None and _keys(ctx, "sip_alg.ports", ports, {"udp", "tcp"}):
        if "udp" in ports:
            s.udp_ports = _ports(ctx, "sip_alg.ports.udp", ports["udp"]) or s.udp_ports
        if "tcp" in ports:
            s.tcp_ports = _ports(ctx, "sip_alg.ports.tcp", ports["tcp"], allow_empty=True) or []
    t = obj.get("timeouts")
    if t is not None and _keys(ctx, "sip_alg.timeouts", t,
                               {"signaling", "media", "call"} | set(CALL_TIMERS)):
        for k in ("signaling", "media", "call"):
            if k in t:
                v = _int(ctx, f"sip_alg.timeouts.{k}", t[k], 1, 86400 * 7)
                if v is not None:
                    setattr(s, k, v)
        for k, (lo, hi) in CALL_TIMERS.items():
            if k in t:
                v = _timer(ctx, f"sip_alg.timeouts.{k}", t[k], lo, hi)
                if v is not None:
                    setattr(s, k, v)
    lim = obj.get("limits")
    if lim is not None and _keys(ctx, "sip_alg.limits", lim,
                                 {"max_calls", "media_ports", "tcp_reassembly"}):
        if "max_calls" in lim:
            s.max_calls = _int(ctx, "sip_alg.limits.max_calls", lim["max_calls"], 1,
                               10_000_000) or s.max_calls
        if "tcp_reassembly" in lim:
            s.tcp_reassembly = _int(ctx, "sip_alg.limits.tcp_reassembly", lim["tcp_reassembly"],
                                    TCP_REASSEMBLY_MIN, TCP_REASSEMBLY_MAX) or s.tcp_reassembly
        if "media_ports" in lim:
            v = lim["media_ports"]
            parts = v.split("-") if isinstance(v, str) else []
            if len(parts) != 2 or not all(x.strip().isdigit() for x in parts):
                ctx.err("sip_alg.limits.media_ports", f"must be 'lo-hi', got {v!r}")
            else:
                lo, hi = int(parts[0]), int(parts[1])
                if not (1024 <= lo < hi <= 65535) or hi - lo < 3:
                    ctx.err("sip_alg.limits.media_ports",
                            f"must satisfy 1024 <= lo < hi <= 65535 with at least 4 ports, "
                            f"got {v!r}")
                else:
                    s.media_ports = (lo, hi)
    sec = obj.get("security")
    if sec is not None:
        s.security = _security(ctx, sec)
    return s


def _security(ctx, obj):
    """sip_alg.security: the plugin's bounds (sip_alg_set_security refuses anything else)."""
    sec = Security()
    if not _keys(ctx, "sip_alg.security", obj, set(SECURITY_MIN) | {"inside_media_ports"}):
        return sec
    for k, lo in SECURITY_MIN.items():
        if k in obj:
            v = _int(ctx, f"sip_alg.security.{k}", obj[k], lo, U32_MAX)
            if v is not None:
                setattr(sec, k, v)
    if "inside_media_ports" in obj:
        p = "sip_alg.security.inside_media_ports"
        v = obj["inside_media_ports"]
        parts = v.split("-") if isinstance(v, str) else []
        if len(parts) != 2 or not all(x.strip().isdigit() for x in parts):
            ctx.err(p, f"must be 'lo-hi', got {v!r}")
        else:
            lo, hi = int(parts[0]), int(parts[1])
            if not 1024 <= lo <= hi <= 65535:
                ctx.err(p, f"must satisfy 1024 <= lo <= hi <= 65535, got {v!r}")
            else:
                sec.inside_media_ports = (lo, hi)
    return sec


def _range(ctx, path, v, lo, hi, what):
    """N or "N" or "A-B" -> (first, last)"""
    if isinstance(v, int) and not isinstance(v, bool):
        parts = [v]
    elif isinstance(v, str) and all(p.strip().isdigit() for p in v.split("-")) and \
            1 <= len(v.split("-")) <= 2:
        parts = [int(p) for p in v.split("-")]
    else:
        ctx.err(path, f"must be a {what} (N) or a range of them (A-B), got {v!r}")
        return None
    for p in parts:
        if not lo <= p <= hi:
            ctx.err(path, f"{what}s must be between {lo} and {hi}, got {p}")
            return None
    first, last = parts[0], parts[-1]
    if first > last:
        ctx.err(path, f"range start {first} is above its end {last}")
        return None
    return (first, last)


def _fw_rule(ctx, p, r):
    keys = {"action", "src", "dst", "proto", "sport", "dport", "icmp_type", "icmp_code", "tag"}
    if not _keys(ctx, p, r, keys, required=("action",)):
        return None
    ok = len(ctx.problems)
    action = _str(ctx, f"{p}.action", r["action"], ACTIONS) if "action" in r else None
    kw = {}
    for k in ("src", "dst"):
        if k in r:
            kw[k] = _ip4_net(ctx, f"{p}.{k}", r[k])
    proto = 0
    if "proto" in r:
        v = r["proto"]
        if isinstance(v, str) and v in PROTOCOLS:
            proto = PROTOCOLS[v]
        elif isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255:
            proto = v
        else:
            ctx.err(f"{p}.proto", f"must be one of {', '.join(PROTOCOLS)} or a protocol number "
                                  f"0-255, got {v!r}")
            proto = None
    kw["proto"] = proto
    for k, lo, hi, what, need in (("sport", 0, 65535, "port", (6, 17)),
                                  ("dport", 0, 65535, "port", (6, 17)),
                                  ("icmp_type", 0, 255, "ICMP type", (1,)),
                                  ("icmp_code", 0, 255, "ICMP code", (1,))):
        if k not in r:
            continue
        kw[k] = _range(ctx, f"{p}.{k}", r[k], lo, hi, what)
        if proto is not None and proto not in need:
            ctx.err(f"{p}.{k}", "ports need proto udp or tcp" if need != (1,) else
                    f"{k} needs proto icmp")
    if "tag" in r:
        t = r["tag"]
        if not isinstance(t, str) or not t.strip() or not t.isprintable():
            ctx.err(f"{p}.tag", f"must be a short line of text, got {t!r}")
        elif len(t) > 32:
            ctx.err(f"{p}.tag", f"at most 32 characters, got {len(t)}")
        else:
            kw["tag"] = t
    if len(ctx.problems) != ok:
        return None
    return FwRule(action=action, **kw)


def _fw_policy(ctx, p, obj, default):
    pol = FwPolicy(default)
    if obj is None:
        return pol
    if not _keys(ctx, p, obj, {"default", "rules"}):
        return pol
    if "default" in obj:
        pol.default = _str(ctx, f"{p}.default", obj["default"], ACTIONS) or default
    rules = obj.get("rules", [])
    if rules is None:
        rules = []
    if not isinstance(rules, list):
        ctx.err(f"{p}.rules", "must be a list of rules")
        return pol
    for n, r in enumerate(rules):
        rule = _fw_rule(ctx, f"{p}.rules[{n}]", r)
        if rule:
            pol.rules.append(rule)
    return pol


def _firewall(ctx, obj):
    fw = Firewall()
    if obj is None:
        return fw
    fw.enabled = True  # a firewall section is on unless it says otherwise
    if not _keys(ctx, "firewall", obj, {"enabled", "sessions", "outbound", "inbound"}):
        return fw
    if "enabled" in obj:
        e = _bool(ctx, "firewall.enabled", obj["enabled"])
        fw.enabled = True if e is None else e
    if "sessions" in obj:
        fw.sessions = _int(ctx, "firewall.sessions", obj["sessions"], 1, 100_000_000)
    fw.outbound = _fw_policy(ctx, "firewall.outbound", obj.get("outbound"), "permit")
    fw.inbound = _fw_policy(ctx, "firewall.inbound", obj.get("inbound"), "deny")
    return fw


# --- semantics --------------------------------------------------------------------------

def _semantics(ctx, cfg):
    names = set(cfg.interfaces)
    roles = [i.role for i in cfg.interfaces.values()]
    if "inside" not in roles:
        ctx.err("interfaces", "no interface has role inside")
    if "outside" not in roles:
        ctx.err("interfaces", "no interface has role outside")
    seen = {}
    for n, i in cfg.interfaces.items():
        if i.vpp_ifname in seen:
            ctx.err(f"interfaces.{n}", f"same VPP interface as interfaces.{seen[i.vpp_ifname]}")
        seen[i.vpp_ifname] = n
    nets = [(n, i.address.network) for n, i in cfg.interfaces.items() if i.address]
    for a in range(len(nets)):
        for b in range(a + 1, len(nets)):
            if nets[a][1].overlaps(nets[b][1]):
                ctx.err(f"interfaces.{nets[b][0]}.address",
                        f"overlaps interfaces.{nets[a][0]}.address ({nets[a][1]})")
    for n, r in enumerate(cfg.routes):
        if r.interface not in names:
            ctx.err(f"routes[{n}].interface", f"no interface named {r.interface!r}")
        elif cfg.interfaces[r.interface].address and \
                r.via not in cfg.interfaces[r.interface].address.network:
            ctx.err(f"routes[{n}].via",
                    f"{r.via} is not on interfaces.{r.interface} "
                    f"({cfg.interfaces[r.interface].address.network})")
    for i, a in enumerate(cfg.nat.pool):
        for n, itf in cfg.interfaces.items():
            if itf.address and a == itf.address.ip:
                ctx.err(f"nat44.pool[{i}]", f"{a} is the address of interfaces.{n}")
    ext_seen = {}
    for i, m in enumerate(cfg.nat.static_mappings):
        key = (m.protocol, m.external)
        if key in ext_seen:
            ctx.err(f"nat44.static_mappings[{i}].external",
                    f"same external endpoint as nat44.static_mappings[{ext_seen[key]}]")
        ext_seen[key] = i
        lo, hi = cfg.sip_alg.media_ports
        if cfg.sip_alg.enabled and lo <= m.external[1] <= hi and m.external[0] in cfg.nat.pool:
            ctx.err(f"nat44.static_mappings[{i}].external",
                    f"port {m.external[1]} is inside sip_alg.limits.media_ports {lo}-{hi}")
    if cfg.sip_alg.interfaces is not None:
        for i, n in enumerate(cfg.sip_alg.interfaces):
            if n not in names:
                ctx.err(f"sip_alg.interfaces[{i}]", f"no interface named {n!r}")
            elif cfg.interfaces[n].role == "none":
                ctx.err(f"sip_alg.interfaces[{i}]",
                        f"interfaces.{n} is not a NAT interface (role none)")
    if cfg.firewall.enabled and "outside" not in roles:
        ctx.err("firewall.enabled", "no interface has role outside: the inbound policy and the "
                                    "reflect ACL go on outside interfaces")


def parse(data):
    """Build a Config from already-loaded YAML data; raises ConfigError."""
    ctx = _Ctx()
    if not _keys(ctx, "", data, {"vpp", "interfaces", "routes", "nat44", "sip_alg", "firewall"},
                 required=("interfaces", "nat44")):
        raise ConfigError(ctx.problems)
    cfg = Config(
        vpp=_vpp(ctx, data.get("vpp")),
        interfaces=_interfaces(ctx, data.get("interfaces")),
        routes=_routes(ctx, data.get("routes")),
        nat=_nat(ctx, data["nat44"]) if "nat44" in data else Nat(),
        sip_alg=_sip_alg(ctx, data.get("sip_alg")),
        firewall=_firewall(ctx, data.get("firewall")),
    )
    if not ctx.problems:
        _semantics(ctx, cfg)
    if ctx.problems:
        raise ConfigError(ctx.problems)
    return cfg


def load(path):
    """Read and validate a YAML file; raises ConfigError (YAML errors included) or OSError."""
    with open(path) as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(yaml)"
            raise ConfigError([(where, f"not valid YAML: {getattr(e, 'problem', e)}")])
    if data is None:
        raise ConfigError([("(top)", "empty file")])
    return parse(data)
