# SPDX-License-Identifier: Apache-2.0
"""YAML configuration: parsed once into typed models, validated in two passes.

1. Schema: pydantic models of the YAML (below: ConfigModel and its sections): every key
   known, every value of the right type and range. Each problem is reported with the YAML
   path of the bad key (``interfaces.inside.address``).
2. Semantics: pure checks across objects (references between sections, roles, overlaps), and
   values VPP would store differently from what the YAML says (so that `apply`, comparing
   the two, would never settle).

All problems are collected and raised together as ConfigError. The valid models are what the
rest of sipalgctl reads: frozen, with what the YAML leaves out filled in as they are made
(each model's _resolve: the defaults, and values that follow from others, such as the SIP
servers the static mappings publish). Defaults and bounds: defaults.py.
"""

import ipaddress
import os
from dataclasses import dataclass
from typing import Annotated, Dict, List, Literal, Optional, Tuple

import yaml
from annotated_types import Ge, Le, MinLen
from pydantic import (BaseModel, ConfigDict, Field, PlainValidator, PrivateAttr, Strict,
                      TypeAdapter, ValidationError, WrapValidator, model_validator)
from pydantic_core import PydanticCustomError

from . import defaults as D


@dataclass(frozen=True)
class Problem:
    """One problem of a configuration file: its YAML path (None: a problem of the text, not
    of a value), and where in the file it is (1-based; None: nowhere YAML can place)."""
    path: Optional[str]
    message: str
    line: Optional[int] = None
    column: Optional[int] = None

    def where(self):
        """The second field of the text form: the YAML path, else the line and column."""
        if self.path is not None:
            return self.path
        if self.line is not None:
            return f"line {self.line}, column {self.column}"
        return "(file)"

    def text(self):
        """`path: message (line L, column C)`; `line L, column C: message` without a path."""
        at = f" (line {self.line}, column {self.column})" \
            if self.path is not None and self.line is not None else ""
        return f"{self.where()}: {self.message}{at}"

    def as_json(self, file=None):
        return {"file": file, "path": self.path, "line": self.line, "column": self.column,
                "message": self.message}


class ConfigError(Exception):
    """Invalid configuration. problems: [(yaml path, message)]; located: the same as Problems,
    with the line and column of each that load() could place; file: the file load() read."""

    def __init__(self, problems, file=None):
        self.located = [p if isinstance(p, Problem) else Problem(*p) for p in problems]
        self.problems = [(p.where(), p.message) for p in self.located]
        self.file = file
        super().__init__("\n".join(p.text() for p in self.located))


U32_MAX = D.U32_MAX
# the plugin's bounds, under the names the tests and the rest of sipalgctl know
TCP_REASSEMBLY_MIN, TCP_REASSEMBLY_MAX = D.TCP_REASSEMBLY_MIN, D.TCP_REASSEMBLY_MAX
CALL_TIMERS = D.CALL_TIMERS
SECURITY_MIN = D.SECURITY_MIN

ANY_NET = ipaddress.IPv4Network("0.0.0.0/0")
ACTIONS = ("permit", "permit+reflect", "deny")
PROTOCOLS = {"any": 0, "icmp": 1, "tcp": 6, "udp": 17}


def published_servers(static_mappings, udp_ports, tcp_ports):
    """The SIP servers that static mappings publish (sip_alg.servers when the YAML has none):
    the local endpoint of each mapping whose local port is a SIP port of its protocol, each
    once, in the mappings' order."""
    ports = {"udp": set(udp_ports), "tcp": set(tcp_ports)}
    out = []
    for m in static_mappings:
        if m.local[1] in ports[m.protocol] and m.local not in out:
            out.append(m.local)
    return out


# --- schema: pydantic models of the YAML ----------------------------------------------------
#
# The models mirror the YAML (nested sections, constrained leaf types). Every leaf type words
# its own error; every model collects its problems, its children's included, as (path,
# message) pairs (the "sipalg_multi" error below), so that all of a file's problems are
# reported at once, each with its YAML path.

MULTI = "sipalg_multi"


def _fail(msg):
    raise PydanticCustomError("sipalg", msg)


def _multi(problems):
    return PydanticCustomError(MULTI, "{n} problems", {"n": len(problems), "problems": problems})


def _problems(e, model=None):
    """A ValidationError as [(loc tuple, message)]; model: the class whose keys are checked."""
    out = []
    for d in e.errors():
        loc, t = tuple(d["loc"]), d["type"]
        if t == MULTI:
            out += [(loc + tuple(sub), m) for sub, m in d["ctx"]["problems"]]
        elif t == "missing":
            out.append((loc, "required"))
        elif t == "extra_forbidden" and model is not None:
            allowed = ", ".join(sorted(model.model_fields))
            out.append((loc, f"unknown key (allowed: {allowed})"))
        else:
            out.append((loc, d["msg"]))
    return out


def _path(loc):
    s = ""
    for x in loc:
        s += f"[{x}]" if isinstance(x, int) and not isinstance(x, bool) else \
            (f".{x}" if s else str(x))
    return s or "(top)"


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _int_t(lo, hi):
    """An integer (no bool, float or string) in [lo, hi]."""
    def check(v, handler):
        if not _is_int(v):
            _fail(f"must be an integer, got {v!r}")
        try:
            return handler(v)
        except ValidationError:
            _fail(f"must be between {lo} and {hi}, got {v}")
    return Annotated[int, Strict(), Ge(lo), Le(hi), WrapValidator(check)]


def _timer_t(lo, hi):
    """Seconds between lo and hi, or 0: off."""
    def check(v, handler):
        if not _is_int(v):
            _fail(f"must be an integer, got {v!r}")
        if v != 0 and not lo <= v <= hi:
            _fail(f"must be 0 (off) or between {lo} and {hi}, got {v}")
        return handler(v)
    return Annotated[int, Strict(), Ge(0), Le(hi), WrapValidator(check)]


def _str_check(v, handler):
    if not isinstance(v, str) or not v:
        _fail(f"must be a non-empty string, got {v!r}")
    return handler(v)


Str = Annotated[str, Strict(), MinLen(1), WrapValidator(_str_check)]


def _choice_t(*choices):
    def check(v, handler):
        _str_check(v, lambda x: x)
        if v not in choices:
            _fail(f"must be one of {', '.join(choices)}, got {v!r}")
        return handler(v)
    return Annotated[Literal[choices], WrapValidator(check)]


def _bool_check(v, handler):
    if not isinstance(v, bool):
        _fail(f"must be true or false, got {v!r}")
    return handler(v)


Bool = Annotated[bool, Strict(), WrapValidator(_bool_check)]


def _msg_t(tp, msg):
    """tp, its error worded msg (formatted with the value)."""
    def check(v, handler):
        try:
            return handler(v)
        except ValidationError:
            _fail(msg.format(v=v))
    return Annotated[tp, WrapValidator(check)]


IP4 = _msg_t(ipaddress.IPv4Address, "must be an IPv4 address, got {v!r}")
IP4Net = _msg_t(ipaddress.IPv4Network, "must be an IPv4 prefix (a.b.c.d/n, host bits zero), "
                                       "got {v!r}")


def _ip4_if(v):
    try:
        if "/" not in str(v):
            raise ValueError
        return ipaddress.IPv4Interface(v)
    except (ValueError, TypeError):
        _fail(f"must be an IPv4 address with prefix length (a.b.c.d/n), got {v!r}")


IP4If = Annotated[ipaddress.IPv4Interface, PlainValidator(_ip4_if)]
Port = _int_t(1, 65535)


def _endpoint(v):
    """'a.b.c.d:port' -> (address, port)"""
    if not isinstance(v, str) or v.count(":") != 1:
        _fail(f"must be address:port, got {v!r}")
    a, p = v.split(":")
    try:
        addr = ipaddress.IPv4Address(a)
    except ValueError:
        _fail(f"must be an IPv4 address, got {a!r}")
    if not p.isdigit():
        _fail(f"port must be 1-65535, got {p!r}")
    if not 1 <= int(p) <= 65535:
        _fail(f"must be between 1 and 65535, got {int(p)}")
    return (addr, int(p))


Endpoint = Annotated[Tuple[ipaddress.IPv4Address, int], PlainValidator(_endpoint)]


def _lo_hi(v):
    parts = v.split("-") if isinstance(v, str) else []
    if len(parts) != 2 or not all(x.strip().isdigit() for x in parts):
        _fail(f"must be 'lo-hi', got {v!r}")
    return int(parts[0]), int(parts[1])


def _media_ports(v):
    """The public media port range, 'lo-hi' (sip_alg_set_limits' bounds)."""
    lo, hi = _lo_hi(v)
    if not (D.MEDIA_PORT_MIN <= lo < hi <= 65535) or hi - lo + 1 < D.MEDIA_PORTS_MIN_COUNT:
        _fail(f"must satisfy {D.MEDIA_PORT_MIN} <= lo < hi <= 65535 with at least "
              f"{D.MEDIA_PORTS_MIN_COUNT} ports, got {v!r}")
    if lo % 2:
        # RTP on the even port, RTCP on the odd one above: the plugin refuses an odd start
        _fail(f"first port {lo} is odd: the range starts on an even port (RTP even, RTCP "
              f"the odd one above); write {lo - 1}-{hi} or {lo + 1}-{hi}")
    return (lo, hi)


def _inside_ports(v):
    lo, hi = _lo_hi(v)
    if not D.INSIDE_PORT_MIN <= lo <= hi <= 65535:
        _fail(f"must satisfy {D.INSIDE_PORT_MIN} <= lo <= hi <= 65535, got {v!r}")
    return (lo, hi)


MediaPorts = Annotated[Tuple[int, int], PlainValidator(_media_ports)]
InsidePorts = Annotated[Tuple[int, int], PlainValidator(_inside_ports)]


def _range_t(lo, hi, what):
    """N or "N" or "A-B" -> (first, last)"""
    def check(v):
        if _is_int(v):
            parts = [v]
        elif isinstance(v, str) and 1 <= len(v.split("-")) <= 2 and \
                all(p.strip().isdigit() for p in v.split("-")):
            parts = [int(p) for p in v.split("-")]
        else:
            _fail(f"must be a {what} (N) or a range of them (A-B), got {v!r}")
        for p in parts:
            if not lo <= p <= hi:
                _fail(f"{what}s must be between {lo} and {hi}, got {p}")
        if parts[0] > parts[-1]:
            _fail(f"range start {parts[0]} is above its end {parts[-1]}")
        return (parts[0], parts[-1])
    return Annotated[Tuple[int, int], PlainValidator(check)]


def _proto(v):
    if isinstance(v, str) and v in PROTOCOLS:
        return PROTOCOLS[v]
    if _is_int(v) and 0 <= v <= 255:
        return v
    _fail(f"must be one of {', '.join(PROTOCOLS)} or a protocol number 0-255, got {v!r}")


def _tag(t):
    if not isinstance(t, str) or not t.strip() or not t.isprintable():
        _fail(f"must be a short line of text, got {t!r}")
    if len(t) > 32:
        _fail(f"at most 32 characters, got {len(t)}")
    return t


def _runtime_dir(v, handler):
    d = _str_check(v, handler)
    if not d.startswith("/"):
        _fail(f"must be an absolute path, got {d!r}")
    return d.rstrip("/")


def _main_heap(v, handler):
    h = _str_check(v, handler)
    if not (h[:-1].isdigit() and h[-1] in "MG"):
        _fail(f"must be a size like 512M or 1G, got {h!r}")
    return h


def _host_if(v, handler):
    h = _str_check(v, handler)
    if len(h) > 15:
        _fail(f"Linux interface names have at most 15 characters, got {h!r}")
    return h


def _list_t(item, msg, allow_empty=True):
    """A list of item; anything else (or an empty list, unless allowed): msg."""
    def check(v, handler):
        if not isinstance(v, list) or (not v and not allow_empty):
            _fail(msg)
        return handler(v)
    return Annotated[List[item], WrapValidator(check)]


def _unique_list_t(item, msg, allow_empty, dup, max_len=None, noun="ports", key=None):
    """_list_t whose items are also reported when listed twice (dup(value): the message;
    key(value): what is compared, the value itself by default), and its length when above
    max_len (at most max_len nouns); every problem at once."""
    def check(v, handler):
        if not isinstance(v, list) or (not v and not allow_empty):
            _fail(msg)
        problems, out = [], None
        try:
            out = handler(v)
        except ValidationError as e:
            problems = _problems(e)
        seen = []
        for i, x in enumerate(out if out is not None else v):
            if out is None:  # only the valid ones, as the item type makes them
                try:
                    x = TypeAdapter(item).validate_python(x)
                except ValidationError:
                    continue
            k = x if key is None else key(x)
            if k in seen:
                problems.append(((i,), dup(x)))
            seen.append(k)
        if max_len is not None and len(v) > max_len:
            problems.append(((), f"at most {max_len} {noun}, got {len(v)}"))
        if problems:
            raise _multi(problems)
        return out
    return Annotated[List[item], WrapValidator(check)]


def _ports_t(allow_empty):
    return _unique_list_t(Port, "must be a list of ports" + ("" if allow_empty else
                                                             " (at least one)"),
                          allow_empty, lambda p: f"port {p} listed twice", D.MAX_PORTS)


class _Model(BaseModel):
    """A YAML mapping: known keys only; its problems and its children's collected. Frozen:
    a changed configuration is a copy (model_copy(update=...))."""
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    @model_validator(mode="wrap")
    @classmethod
    def _collect(cls, data, handler):
        if isinstance(data, cls):  # made already (in Python, not from YAML)
            return data
        if not isinstance(data, dict):
            raise _multi([((), f"must be a mapping, got {type(data).__name__}")])
        try:
            m = handler(data)
        except ValidationError as e:
            raise _multi(_problems(e, cls))
        problems = m._check()
        if problems:
            raise _multi(problems)
        m._resolve()
        return m

    def _check(self):
        """Checks across this mapping's keys: [(key path tuple, message)]."""
        return []

    def _resolve(self):
        """The valid mapping as sipalgctl reads it: what the YAML leaves out filled in (_fill)
        as the model is made."""

    def _fill(self, **values):
        """Set fields of a model being made (_resolve), before anything else sees it: frozen
        refuses setattr, and pydantic keeps the returned model only when it is this one."""
        for k, v in values.items():
            object.__setattr__(self, k, v)


class VppModel(_Model):
    """How sipalgctl starts VPP (the startup.conf that `render` writes and `up` starts VPP
    with) and where it finds VPP and the plugin. A change here takes effect when VPP is
    started again (`sipalgctl down`, `sipalgctl up`), not on `apply`."""
    prefix: Str = Field(None, description=(
        "Where VPP is installed (`<prefix>/bin/vpp`, `<prefix>/share/vpp/api`). Not set: "
        "VPP_PREFIX from the environment, else the first of /usr, /usr/local, /opt/vpp that "
        "has VPP. Set here or in VPP_PREFIX, it is the only place looked at."))
    runtime_dir: Annotated[str, WrapValidator(_runtime_dir)] = Field(D.RUNTIME_DIR, description=(
        "Directory of VPP's sockets and log: api.sock (binary API), cli.sock, stats.sock, "
        "vpp.log (startup.conf's `unix { runtime-dir }`)."))
    workers: _int_t(0, 64) = Field(0, description=(
        "VPP worker threads (`cpu { workers N }`); 0: everything runs on the main thread."))
    main_core: _int_t(0, 1023) = Field(0, description=(
        "CPU the main thread is pinned to (`cpu { main-core N }`); the workers take the CPUs "
        "after it."))
    use_pthreads: Bool = Field(False, description=(
        "Run the workers as plain threads, not pinned to a CPU each (`cpu { use-pthreads }`): "
        "more workers than free CPUs, as on a small VM or a test machine. Only with workers."))
    buffers: _int_t(1024, 10_000_000) = Field(D.BUFFERS, description=(
        "Packet buffers per NUMA node (`buffers { buffers-per-numa N }`). Each SIP message "
        "held until its pinholes exist keeps one."))
    main_heap: Annotated[str, WrapValidator(_main_heap)] = Field(D.MAIN_HEAP, description=(
        "VPP's main heap (`memory { main-heap-size }`): a number and M or G."))
    plugin_path: Str = Field(None, description=(
        "Directory holding sip_alg_plugin.so (startup.conf's `add-path`), with its "
        "sip_alg.api.json beside it or where its build tree or install prefix keeps it. Not "
        "set: SIPALGCTL_PLUGIN_PATH (the only place looked at when set), else build/plugin of "
        "the checkout sipalgctl runs from (`make plugin`), else VPP's own plugin directory "
        "(`make install-plugin`)."))

    @property
    def api_socket(self):
        return f"{self.runtime_dir}/api.sock"

    @property
    def cli_socket(self):
        return f"{self.runtime_dir}/cli.sock"

    @property
    def stats_socket(self):
        return f"{self.runtime_dir}/stats.sock"


InterfaceType = _choice_t("af_packet", "tap", "existing")
Role = _choice_t("inside", "outside", "none")


class InterfaceModel(_Model):
    """An interface sipalgctl creates or takes over. Its key is the YAML's own name for it
    (letters, digits, `-` and `_`), which routes and sip_alg.interfaces use. `apply` owns
    its address, admin state, table, NAT44-ED role and the routes through it; interfaces
    not in the file are left alone. At least one interface is inside and one outside."""
    type: InterfaceType = Field(description=(
        "af_packet: a VPP host interface on the Linux interface host_if; tap: a VPP tap "
        "whose Linux side is named host_if (both created when VPP starts); existing: an "
        "interface VPP already has, named vpp_name."))
    role: Role = Field(description=(
        "inside: a NAT44-ED inside interface (the phones' side); outside: a NAT44-ED outside "
        "interface (the public side); none: not a NAT interface (the ALG cannot be on it)."))
    address: IP4If = Field(description=(
        "The interface's IPv4 address with its prefix length. Addresses may overlap between "
        "tables, not within one."))
    host_if: Annotated[str, WrapValidator(_host_if)] = Field(None, description=(
        "af_packet: the Linux interface to attach to; tap: the name of the tap's Linux side. "
        "Required for both; not used for existing."))
    vpp_name: Str = Field(None, description=(
        "existing only, and required there: VPP's name of the interface "
        "(GigabitEthernet0/8/0, loop0, ...)."))
    vrf: Str = Field(None, description=(
        "The IPv4 table the interface is in, a name under vrfs. Not set: the default table."))
    _tap_id: int = PrivateAttr(0)  # a tap's number: the taps are tap0, tap1, ... in order

    def _check(self):
        t, out = self.type, []
        if t in ("af_packet", "tap"):
            if self.host_if is None:
                out.append((("host_if",), f"required for type {t}"))
            if self.vpp_name is not None:
                out.append((("vpp_name",), f"only for type existing (VPP names {t} itself)"))
        elif self.vpp_name is None:
            out.append((("vpp_name",), "required for type existing"))
        return out

    def _resolve(self):
        if self.type == "existing":  # host_if is not used
            self._fill(host_if=None)

    @property
    def tap_id(self):
        return self._tap_id

    @property
    def vpp_ifname(self):
        if self.type == "af_packet":
            return f"host-{self.host_if}"
        if self.type == "tap":
            return f"tap{self._tap_id}"
        return self.vpp_name


def _is_name(name):
    return isinstance(name, str) and name.replace("-", "").replace("_", "").isalnum()


def _interfaces_check(v, handler):
    msg = "must be a mapping of interface names to settings (at least one)"
    if not isinstance(v, dict) or not v:
        _fail(msg)
    problems, good = [], {}
    for name, x in v.items():
        if not _is_name(name):
            problems.append(((str(name),), "interface names are letters, digits, '-' and '_'"))
        else:
            good[name] = x
    try:
        out = handler(good)
    except ValidationError as e:
        problems += _problems(e)
    if problems:
        raise _multi(problems)
    return out


class VrfModel(_Model):
    """An IPv4 table of VPP's other than the default one (`ip table add <table> name
    <name>`), for tenants. Its key is the table's name in VPP, which the ALG's VPN column
    shows: letters, digits, `-` and `_`, at most 63 characters, not `public` (the default
    table's name, which needs no entry). `apply` creates the tables first, deletes one
    dropped from the file once it is empty, and makes a renamed one again."""
    table: _int_t(1, D.VRF_TABLE_MAX) = Field(description=(
        "The table id; each id once."))


def _vrfs_check(v, handler):
    """vrfs: a mapping of names (VPP's table names, which the ALG's VPN column shows) to
    VrfModel, each table id once; `vrfs:` with nothing under it is none. Each entry is
    validated on its own (handler is not used), so that the valid ones are checked for
    tables named twice while the others are reported."""
    if v is None:
        return {}
    if not isinstance(v, dict):
        _fail("must be a mapping of VRF names to {table: N}")
    problems, good = [], {}
    for name, x in v.items():
        if not (_is_name(name) and name.isascii()):
            problems.append(((str(name),), "VRF names are letters, digits, '-' and '_'"))
        elif name == D.DEFAULT_VPN:
            problems.append(((name,), f"{D.DEFAULT_VPN!r} is the default table's name (table "
                                      f"0, which needs no entry): name this table otherwise"))
        elif len(name) > D.VRF_NAME_MAX:
            problems.append(((name,), f"VRF names have at most {D.VRF_NAME_MAX} characters "
                                      f"(VPP's table names), got {len(name)}"))
        else:
            good[name] = x
    valid, seen = {}, {}
    for name, x in good.items():  # one at a time: each valid table is checked for twins
        try:
            valid[name] = m = VrfModel.model_validate(x)
        except ValidationError as e:
            problems += [((name, *loc), msg) for loc, msg in _problems(e)]
            continue
        if m.table in seen:
            problems.append(((name, "table"), f"table {m.table} is also vrfs.{seen[m.table]}'s"))
        seen.setdefault(m.table, name)
    if problems:
        raise _multi(problems)
    return valid


Vrfs = Annotated[Dict[str, VrfModel], WrapValidator(_vrfs_check)]


class RouteModel(_Model):
    """A static IPv4 route through one of the interfaces. `apply` owns the routes through
    the configured interfaces: one removed from the file is removed from VPP."""
    prefix: IP4Net = Field(description=(
        "The destination (a.b.c.d/n, host bits zero). Not an interface's own network or "
        "address, and not a /32 to its own next hop: VPP would report either otherwise than "
        "configured."))
    via: IP4 = Field(description="The next hop, on the network of the route's interface.")
    interface: Str = Field(description="The interface (its name under interfaces).")
    vrf: Str = Field(None, description=(
        "The table the route goes in, a name under vrfs. Not set: its interface's table. A "
        "tenant's table needs its own route out through the outside interface."))


NatProtocol = _choice_t("udp", "tcp")


class StaticMappingModel(_Model):
    """A NAT44-ED static mapping (`nat44 add static mapping`), such as a SIP server inside
    published on the public address. Unless sip_alg.servers is given, a mapping whose local
    port is one of the ALG's SIP ports of its protocol publishes its local endpoint as a SIP
    server."""
    protocol: NatProtocol = Field(description="The mapping's transport protocol.")
    local: Endpoint = Field(description="The inside endpoint, address:port.")
    external: Endpoint = Field(description=(
        "The public endpoint, address:port; each (protocol, external) once, and not a port "
        "of sip_alg.limits.media_ports on a pool address."))
    vrf: Str = Field(None, description=(
        "The local address's table, a name under vrfs. Not set: the default table."))


class PoolAddressModel(_Model):
    """A nat44.pool entry written as a mapping, for an address of one tenant's own."""
    address: IP4 = Field(description="The public address.")
    vrf: Str = Field(None, description=(
        "The tenant's table, a name under vrfs: NAT44-ED translates only that table's inside "
        "interfaces to this address (`nat44 add address ... tenant-vrf N`). Not set: the "
        "address serves every table that has no address of its own."))


_IP4 = TypeAdapter(IP4)


def _pool_entry(v):
    """An address, or a mapping {address, vrf} -> PoolAddressModel."""
    if isinstance(v, dict):
        try:
            return PoolAddressModel.model_validate(v)
        except ValidationError as e:
            raise _multi(_problems(e, PoolAddressModel))
    try:
        return PoolAddressModel(address=_IP4.validate_python(v))
    except ValidationError as e:
        raise _multi(_problems(e))


PoolEntry = Annotated[PoolAddressModel, PlainValidator(_pool_entry)]
Pool = _unique_list_t(PoolEntry, "must be a list of at least one IPv4 address (or {address, "
                                 "vrf} mapping)", False,
                      lambda e: f"{e.address} listed twice", key=lambda e: e.address)
StaticMappings = _list_t(StaticMappingModel, "must be a list")


class NatModel(_Model):
    """NAT44-ED, which the ALG works with: its session table, public addresses and static
    mappings. `apply` owns the pool, the interfaces' roles and the static mappings (not the
    ALG's own pinholes, which are static mappings too)."""
    sessions: _int_t(1, 100_000_000) = Field(D.NAT_SESSIONS, description=(
        "NAT44-ED's session table (`nat44 plugin enable sessions N`); raise it with the "
        "number of phones. Set when NAT44-ED is enabled: a change needs VPP started again."))
    pool: Pool = Field(description=(
        "The public addresses: IPv4 addresses, or `{address, vrf}` mappings (below) for "
        "tenants' own; none an interface's address. Every inside interface's "
        "table needs an address of its own or one without vrf."))
    static_mappings: StaticMappings = Field([], description="Static mappings (below).")


class PortsModel(_Model):
    """Where the ALG looks for SIP (`set sip-alg ports`, API `sip_alg_set_ports`). SIP over
    TLS (TCP 5061) is encrypted: it always passes untouched, each connection counted (tls),
    and its media get no pinholes."""
    udp: _ports_t(False) = Field([D.UDP_PORT], description=(
        "UDP ports that carry SIP."))
    tcp: _ports_t(True) = Field([D.TCP_PORT], description=(
        "TCP ports that carry SIP, inspected as streams (framing, sequence numbers adjusted "
        "to the rewritten lengths); []: SIP over TCP passes untouched. Do not list 5061."))


_Timeout = _int_t(D.TIMEOUT_MIN, D.TIMEOUT_MAX)


class TimeoutsModel(_Model):
    """How long the ALG keeps state, in seconds (`set sip-alg timeouts`, API
    `sip_alg_set_timeouts_v2`). A call's entries live as long as its record; BYE, CANCEL and
    failure responses end it at once."""
    signaling: _Timeout = Field(D.SIGNALING, description=(
        "A call being set up (ringing included) ends this long after its last message; a "
        "phone's signaling entry with no call or registration lives this long."))
    media: _Timeout = Field(D.MEDIA, description=(
        "Lifetime of a media entry that no live call holds any more."))
    call: _Timeout = Field(D.CALL, description=(
        "An answered call ends after this long without signaling."))
    media_inactivity: _timer_t(*D.CALL_TIMERS["media_inactivity"]) = Field(
        D.MEDIA_INACTIVITY, description=(
            "An answered call whose media (RTP and RTCP, either way) has been silent this "
            "long loses its media entries (media_inactive); the call stays, and a new offer "
            "opens them again. 0: off."))
    max_duration: _timer_t(*D.CALL_TIMERS["max_duration"]) = Field(D.MAX_DURATION, description=(
        "A call ends this long after its first INVITE, with all its entries, whatever its "
        "signaling does (max_duration). 0: off."))
    one_way_media: _timer_t(*D.CALL_TIMERS["one_way_media"]) = Field(
        D.ONE_WAY_MEDIA, description=(
            "A media stream of an answered call that has had packets one way only, none ever "
            "the other way, this long is flagged One-Way (show calls) and counted once "
            "(media_one_way); nothing is closed. 0: off."))


class LimitsModel(_Model):
    """Sizes of the ALG's tables (`set sip-alg limits`, API `sip_alg_set_limits_v2`)."""
    max_calls: _int_t(1, D.MAX_CALLS_MAX) = Field(D.MAX_CALLS, description=(
        "Call records per worker thread, and SIP over TCP connections tracked per worker. "
        "Beyond: a new call's message passes without a record (max_calls), a new "
        "connection untouched (tcp_conn_full)."))
    max_held: _int_t(1, D.MAX_HELD_MAX) = Field(D.MAX_HELD, description=(
        "SIP messages one thread may hold until the main thread has made their pinholes "
        "(each keeps its buffer meanwhile). A message that would start a call beyond it is "
        "dropped (UDP: its sender sends it again) or passes without a record (TCP), counted "
        "as held_full, so that a flood of new calls cannot take the buffers or the main "
        "thread away from established calls."))
    media_ports: MediaPorts = Field(D.MEDIA_PORTS, description=(
        "Public ports of media pinholes: pairs of an even RTP port and the RTCP port above "
        "it, shared by all threads, the whole range on each of sip_alg.media.addresses. The "
        "first port is even; no static mapping's external port of a pool or media address "
        "lies in the range. Used up: an offer passes with its port untouched "
        "(no_media_port)."))
    tcp_reassembly: _int_t(D.TCP_REASSEMBLY_MIN, D.TCP_REASSEMBLY_MAX) = Field(
        D.TCP_REASSEMBLY, description=(
            "Bytes of an incomplete SIP over TCP message kept per direction of a "
            "connection. A larger message passes untouched and the connection is no longer "
            "inspected (tcp_overflow)."))


class SecurityModel(_Model):
    """Bounds on what SIP from outside, which anyone may send, can make the ALG keep or
    open, and on what one inside host may make it keep (`set sip-alg security`, API
    `sip_alg_set_security_v2`; the plugin refuses values out of these bounds). The defaults
    are the plugin's."""
    max_inbound_calls: _int_t(D.SECURITY_MIN["max_inbound_calls"], U32_MAX) = Field(
        D.MAX_INBOUND_CALLS, description=(
            "Call records that requests from outside may start, per worker. An outside "
            "INVITE starts one only towards a REGISTER binding or a published server; "
            "beyond the limit it passes with no record (inbound_refused)."))
    max_inbound_per_source: _int_t(D.SECURITY_MIN["max_inbound_per_source"], U32_MAX) = Field(
        D.MAX_INBOUND_PER_SOURCE, description=(
            "Of those, the records one outside address may start, per worker."))
    max_binding_time: _int_t(D.SECURITY_MIN["max_binding_time"], U32_MAX) = Field(
        D.MAX_BINDING_TIME, description=(
            "Seconds a REGISTER binding (the way in to a registered phone) lasts at most: a "
            "registrar's longer Expires is cut to this."))
    max_entries: _int_t(D.SECURITY_MIN["max_entries"], U32_MAX) = Field(
        D.MAX_ENTRIES, description=(
            "Server-map entries in all; beyond, no new entry (smap_full)."))
    max_entries_per_call: _int_t(D.SECURITY_MIN["max_entries_per_call"], U32_MAX) = Field(
        D.MAX_ENTRIES_PER_CALL, description=(
            "Server-map entries of one call record; beyond, no new entry (smap_full)."))
    inside_media_ports: InsidePorts = Field(D.INSIDE_MEDIA_PORTS, description=(
        "Inside ports a media pinhole may lead to; SDP naming another port opens nothing "
        "(media_forbidden). Ports below 1024 are always refused (media_privileged). Narrow "
        "it to the phones' RTP range, e.g. 16384-32767."))
    max_calls_per_host: _int_t(0, U32_MAX) = Field(D.MAX_CALLS_PER_HOST, description=(
        "Call records of one inside host, per worker; beyond, its new calls pass with no "
        "record (host_calls_full). 0: no limit."))
    max_entries_per_host: _int_t(0, U32_MAX) = Field(D.MAX_ENTRIES_PER_HOST, description=(
        "Server-map entries leading to one inside host; beyond, no new entry towards it "
        "(host_smap_full). 0: no limit."))


ValidationMode = _choice_t("strict", "lenient")
ClassAction = _choice_t("pass", "drop")


class ActionsModel(_Model):
    """What happens to a malformed message of each class: pass (forwarded untouched: no
    rewrite, no pinhole) or drop (also counted as malformed_drop; over TCP the message is cut
    out of the stream). A class not given takes its mode's action: lenient pass, strict
    drop."""
    parse: ClassAction = Field(None, description=(
        "Start line, headers, framing, truncated UDP (parse_error, truncated)."))
    header: ClassAction = Field(None, description=(
        "Via, Contact, From, To, Route, request-URI, Expires (header_error)."))
    sdp: ClassAction = Field(None, description="The SDP body (sdp_error).")
    too_many: ClassAction = Field(None, description=(
        "Over the ALG's limits of headers, rewrite sites or edits (too_many)."))


def _method(v):
    """A SIP method name, any case -> its name in D.SIP_METHODS."""
    if not isinstance(v, str) or not v:
        _fail(f"must be a SIP method name, got {v!r}")
    if v.upper() not in D.SIP_METHODS:
        _fail(f"unknown method {v!r} (one of {', '.join(D.SIP_METHODS)}; OTHER: any other "
              f"method)")
    return v.upper()


Method = Annotated[str, PlainValidator(_method)]
BlockMethods = _unique_list_t(Method, "must be a list of SIP methods", True,
                              lambda m: f"{m} listed twice")


class RateModel(_Model):
    """A token bucket per source address and worker thread for one method (the key:
    invite or register): burst requests at once, refilled at rate a second; over it, the
    request is dropped (rate_limited). Inside and outside senders alike, re-INVITEs
    included: a proxy or PBX sends all its calls from one address, so its limit is the
    whole site's."""
    rate: _int_t(0, U32_MAX) = Field(description=(
        "Requests a second; 0: no limit."))
    burst: _int_t(0, U32_MAX) = Field(None, description=(
        "Requests at most at once; at least 1 when rate is not 0. Not set: the rate."))

    def _check(self):
        if self.rate and self.burst == 0:
            return [(("burst",), f"must be between 1 and {U32_MAX} when rate is not 0, "
                                 f"got 0")]
        return []

    def _resolve(self):
        if self.burst is None:
            self._fill(burst=self.rate)


def _rate_limits_check(v, handler):
    """sip_alg.validation.rate_limits: a mapping of D.RATE_LIMITED methods to RateModel (a
    dict, not a model: a field named register would shadow BaseModel.register)."""
    if v is None:  # `rate_limits:` with nothing under it, as an empty section
        return None
    if not isinstance(v, dict):
        raise _multi([((), f"must be a mapping, got {type(v).__name__}")])
    problems = [((str(k),), f"unknown key (allowed: {', '.join(D.RATE_LIMITED)})")
                for k in v if k not in D.RATE_LIMITED]
    out = None
    try:
        out = handler({k: x for k, x in v.items() if k in D.RATE_LIMITED})
    except ValidationError as e:
        problems += _problems(e)
    if problems:
        raise _multi(problems)
    return out


RateLimits = Annotated[Dict[str, RateModel], WrapValidator(_rate_limits_check)]


class ValidationModel(_Model):
    """What the ALG does with malformed, unwanted and flooding SIP (`set sip-alg
    validation`, API `sip_alg_set_validation`). The defaults are the plugin's: lenient,
    every malformed class passes, no method blocked, no rate limit."""
    mode: ValidationMode = Field(D.VALIDATION_MODE, description=(
        "lenient: what phones send beyond RFC 3261 (bare LF line ends, blank lines before "
        "the start line, bytes after the body, a datagram without Content-Length) is "
        "accepted and counted (lenient); strict: those are parse errors, and a request "
        "without Max-Forwards is a header error. The mode is also the action of every class "
        "actions does not name."))
    actions: Optional[ActionsModel] = Field(None, description=(
        "The action per class of malformed message (below)."))
    block_methods: BlockMethods = Field([], description=(
        "Requests from outside that are dropped (method_blocked), in-dialog ones included; "
        f"any of {', '.join(D.SIP_METHODS)} (OTHER: any other method), any case. Blocking INVITE, ACK, BYE or CANCEL breaks calls: `check` warns."))
    rate_limits: RateLimits = Field(None, description=(
        f"Token buckets, keys {' and '.join(D.RATE_LIMITED)} (below). Not set: no limit."))

    def _resolve(self):
        """Each class's action (the mode's unless named), the blocked methods in the plugin's
        order, a bucket for each rate-limited method (rate 0: no limit)."""
        actions, rates = self.actions or ActionsModel(), self.rate_limits or {}
        self._fill(
            actions=ActionsModel(**{c: getattr(actions, c) or D.MODE_ACTION[self.mode]
                                    for c in D.VALIDATION_CLASSES}),
            block_methods=tuple(m for m in D.SIP_METHODS if m in self.block_methods),
            rate_limits={m: rates.get(m) or RateModel(rate=0) for m in D.RATE_LIMITED})


def _server(v):
    """A published SIP server: 'inside-address:port' -> (address, port); an address a host
    can have (sip_alg_set_servers refuses 0.0.0.0)."""
    addr, port = _endpoint(v)
    if addr.is_unspecified or addr.is_multicast or str(addr) == "255.255.255.255":
        _fail(f"must be an inside host's address:port, got {v!r}")
    return addr, port


Server = Annotated[Tuple[ipaddress.IPv4Address, int], PlainValidator(_server)]
Servers = _unique_list_t(Server, "must be a list of inside-address:port entries", True,
                         lambda e: f"{e[0]}:{e[1]} listed twice", D.MAX_SERVERS, "servers")


def _media_address(v):
    """A public address of media pinholes (sip_alg_set_media_addresses): a unicast host
    address, refused as the plugin refuses it."""
    try:
        a = ipaddress.IPv4Address(v) if isinstance(v, str) else None
    except ValueError:
        a = None
    if a is None:
        _fail(f"must be an IPv4 address, got {v!r}")
    first = a.packed[0]
    why = ("not a host's address (0.0.0.0/8)" if first == 0 else
           "a loopback address" if first == 127 else
           "a multicast address" if 224 <= first < 240 else
           "the broadcast address" if a == ipaddress.IPv4Address("255.255.255.255") else
           "a reserved address (240.0.0.0/4)" if first >= 240 else None)
    if why:
        _fail(f"{a} is {why}: media pinholes need public unicast addresses")
    return a


MediaAddress = Annotated[ipaddress.IPv4Address, PlainValidator(_media_address)]
MediaAddresses = _unique_list_t(MediaAddress, "must be a list of IPv4 addresses", True,
                                lambda a: f"{a} listed twice", D.MAX_MEDIA_ADDRESSES,
                                "addresses")


class MediaModel(_Model):
    """Where media pinholes are opened, and for whom (`set sip-alg media`, API
    `sip_alg_set_media`)."""
    addresses: MediaAddresses = Field([], description=(
        "Public addresses of media pinholes, at most 16. Each has the whole "
        "sip_alg.limits.media_ports range, so the pool holds addresses x pairs (one address: "
        "about 10,000 calls with the default range); calls spread over them, a call's "
        "streams all on one address, which a re-offer keeps. The SDP's connection addresses "
        "(c=, a=rtcp) carry it, Via, Contact and o= the signaling's public address. They "
        "must reach VPP's outside interface: route them to the firewall (NAT44-ED answers ARP "
        "for one on the outside network only while a pinhole uses it). Best not pool "
        "addresses (NAT44-ED's own sessions take ports there) nor an interface's. The list "
        "changes only while no call holds a media port. []: the public address NAT44-ED gave "
        "the call's signaling."))
    other_hosts: Bool = Field(False, description=(
        "true: media pinholes also for another inside host an inside party's SDP names (a "
        "media server or gateway beside a PBX), on the network of the interface the message "
        "came in on. false: only for the host that signaled, since otherwise any inside "
        "phone could open any port of any inside host to the outside; such offers pass with "
        "that address untouched (media_refused)."))


InterfaceNames = _list_t(Annotated[str, WrapValidator(
    lambda v, h: h(v) if isinstance(v, str) else _fail(f"must be an interface name, got {v!r}"))],
    "must be a list of interface names")


class SipAlgModel(_Model):
    """The SIP ALG. Without this section it is on, at the plugin's defaults, on every NAT
    interface. `apply` sends each group of settings whose values differ from the running
    VPP's."""
    enabled: Bool = Field(True, description="false: the ALG is on no interface.")
    interfaces: InterfaceNames = Field(None, description=(
        "The interfaces (names under interfaces) the ALG is on, each of role inside or "
        "outside. Not set: every inside and outside interface."))
    ports: Optional[PortsModel] = Field(None, description="Where SIP is looked for (below).")
    timeouts: Optional[TimeoutsModel] = Field(None, description="Timers (below).")
    limits: Optional[LimitsModel] = Field(None, description="Table sizes (below).")
    media: Optional[MediaModel] = Field(None, description=(
        "Public addresses of media pinholes, and other inside hosts' media (below)."))
    media_other_hosts: Bool = Field(None, description=(
        "Deprecated: the former spelling of sip_alg.media.other_hosts, taken as that "
        "(`check` warns); not both."))
    security: Optional[SecurityModel] = Field(None, description="Bounds (below).")
    validation: Optional[ValidationModel] = Field(None, description=(
        "Malformed, blocked and rate-limited SIP (below)."))
    servers: Servers = Field(None, description=(
        "Published SIP servers inside (a PBX, an SBC), `inside-address:port`, each port one "
        "of ports.udp or ports.tcp: an INVITE from outside to one starts a call with media pinholes both ways, and the ALG makes no "
        "signaling pinhole for it (its static mapping is one). Not set: the local endpoint "
        "of every nat44.static_mappings entry whose local port is a SIP port of its "
        "protocol, each once. []: none. API `sip_alg_set_servers`."))
    _servers_explicit: bool = PrivateAttr(False)
    _other_hosts_alias: bool = PrivateAttr(False)

    def _check(self):
        if self.media_other_hosts is not None and self.media is not None and \
                "other_hosts" in self.media.model_fields_set:
            return [(("media_other_hosts",),
                     "the former spelling of sip_alg.media.other_hosts, which is given too: "
                     "keep only media.other_hosts")]
        return []

    def _resolve(self):
        """Every section, at its defaults unless given; servers: those of sip_alg.servers
        (ConfigModel puts those the static mappings publish in when it has none)."""
        self._servers_explicit = self.servers is not None
        media = self.media or MediaModel()
        if self.media_other_hosts is not None:  # the deprecated spelling: media.other_hosts
            self._other_hosts_alias = True
            media = media.model_copy(update={"other_hosts": self.media_other_hosts})
        self._fill(
            media_other_hosts=None,
            ports=self.ports or PortsModel(), timeouts=self.timeouts or TimeoutsModel(),
            limits=self.limits or LimitsModel(), media=media,
            security=self.security or SecurityModel(),
            validation=self.validation or ValidationModel(),
            servers=[] if self.servers is None else [tuple(x) for x in self.servers])

    @property
    def other_hosts_alias(self):
        """media.other_hosts came from the deprecated sip_alg.media_other_hosts."""
        return self._other_hosts_alias

    @property
    def servers_explicit(self):
        """servers from sip_alg.servers, not from the static mappings."""
        return self._servers_explicit


Action = _choice_t(*ACTIONS)
_PortRange = _range_t(0, 65535, "port")
_IcmpType = _range_t(0, 255, "ICMP type")
_IcmpCode = _range_t(0, 255, "ICMP code")


class FwRuleModel(_Model):
    """One ACL rule; the first rule that matches a packet decides."""
    action: Action = Field(description=(
        "permit; permit+reflect (permit, and open a session that lets the flow's return "
        "traffic in); deny."))
    src: IP4Net = Field(ANY_NET, description=(
        "Source prefix (a.b.c.d/n; an address alone is a /32)."))
    dst: IP4Net = Field(ANY_NET, description="Destination prefix.")
    proto: Annotated[int, PlainValidator(_proto)] = Field(0, description=(
        "The IP protocol; any (0) matches every protocol."))
    sport: _PortRange = Field(None, description=(
        "Source port or range; only with proto udp or tcp. Not set: any."))
    dport: _PortRange = Field(None, description=(
        "Destination port or range; only with proto udp or tcp. Not set: any."))
    icmp_type: _IcmpType = Field(None, description=(
        "ICMP type or range; only with proto icmp. Not set: any."))
    icmp_code: _IcmpCode = Field(None, description=(
        "ICMP code or range; only with proto icmp. Not set: any."))
    tag: Annotated[str, PlainValidator(_tag)] = Field(None, description=(
        "A note, shown by `sipalgctl plan` beside the rule."))

    def _check(self):
        out = []
        for k, need in (("sport", (6, 17)), ("dport", (6, 17)), ("icmp_type", (1,)),
                        ("icmp_code", (1,))):
            if getattr(self, k) is not None and self.proto not in need:
                out.append(((k,), "ports need proto udp or tcp" if need != (1,) else
                            f"{k} needs proto icmp"))
        return out


FwRules = _list_t(FwRuleModel, "must be a list of rules")


class FwPolicyModel(_Model):
    """One direction's policy: rules in order, then the default."""
    default: Action = Field(None, description=(
        f"The action for what no rule matches. Not set: {D.FW_OUTBOUND} for outbound, "
        f"{D.FW_INBOUND} for inbound."))
    rules: Optional[FwRules] = Field(None, description=(
        "Rules (below), in order, first match wins. Not set: none."))


class FirewallModel(_Model):
    """VPP's ACL plugin as a stateful firewall around NAT44-ED: outbound is the input ACL
    of every inside interface (pre-NAT addresses), inbound the input ACL of every outside
    interface (public addresses), and every outside interface gets an output ACL with one
    permit+reflect rule, so the return traffic of every flow that leaves gets in. The ALG's
    live pinholes pass the inbound policy through its gate. `apply` owns the ACLs tagged
    sipalgctl:outbound, sipalgctl:inbound and sipalgctl:reflect and binds them first;
    without this section, or disabled, it removes them (and only them)."""
    enabled: Bool = Field(True, description=(
        "A firewall section is on unless this says false."))
    sessions: _int_t(1, 100_000_000) = Field(None, description=(
        "ACL sessions (connections) VPP keeps, all interfaces together "
        "(`acl-plugin { connection count max N }` in startup.conf: a change needs VPP "
        "started again). Not set: VPP's default, 500000."))
    outbound: Optional[FwPolicyModel] = Field(None, description=(
        f"Traffic from the inside (default {D.FW_OUTBOUND})."))
    inbound: Optional[FwPolicyModel] = Field(None, description=(
        f"Traffic from the outside (default {D.FW_INBOUND}: only return traffic and the "
        "ALG's pinholes get in)."))

    def _resolve(self):
        def policy(p, default):
            p = p or FwPolicyModel()
            return p.model_copy(update={"default": p.default or default,
                                        "rules": list(p.rules or [])})
        self._fill(outbound=policy(self.outbound, D.FW_OUTBOUND),
                   inbound=policy(self.inbound, D.FW_INBOUND))


Routes = _list_t(RouteModel, "must be a list")


class ConfigModel(_Model):
    """The top level of a sipalgctl YAML file."""
    vpp: Optional[VppModel] = Field(None, description="VPP's startup settings.")
    vrfs: Vrfs = Field(None, description=(
        "IPv4 tables other than the default one, by name. Not set: none."))
    interfaces: Annotated[Dict[str, InterfaceModel], WrapValidator(_interfaces_check)] = Field(
        description="The interfaces, by name: at least one inside and one outside.")
    routes: Optional[Routes] = Field(None, description="Static routes. Not set: none.")
    nat44: NatModel = Field(description="NAT44-ED.")
    sip_alg: Optional[SipAlgModel] = Field(None, description="The SIP ALG.")
    firewall: Optional[FirewallModel] = Field(None, description=(
        "The firewall. Not set: none (sipalgctl's ACLs are removed)."))
    # (yaml path, message): valid, but probably not what was meant (parse() fills them in;
    # cli prints them), and the same as Problems with their line and column (load())
    _warnings: list = PrivateAttr(default_factory=list)
    _located_warnings: list = PrivateAttr(default_factory=list)

    def _resolve(self):
        """Every section, at its defaults unless given (no firewall section: the firewall
        off); the taps numbered in their order; a route in its interface's table unless it
        names one; the SIP servers the static mappings publish unless sip_alg.servers says."""
        interfaces, taps = {}, 0
        for name, i in self.interfaces.items():
            if i.type == "tap":
                i = i.model_copy()
                i._tap_id, taps = taps, taps + 1
            interfaces[name] = i

        def route(r):
            itf = interfaces.get(r.interface)
            return r if r.vrf is not None or itf is None else \
                r.model_copy(update={"vrf": itf.vrf})
        alg = self.sip_alg or SipAlgModel()
        if not alg.servers_explicit:
            alg = alg.model_copy(update={"servers": published_servers(
                self.nat44.static_mappings, alg.ports.udp, alg.ports.tcp)})
        self._fill(vpp=self.vpp or VppModel(), vrfs=self.vrfs or {}, interfaces=interfaces,
                   routes=[route(r) for r in self.routes or []], sip_alg=alg,
                   firewall=self.firewall or FirewallModel(enabled=False))

    @property
    def warnings(self):
        return self._warnings

    @property
    def located_warnings(self):
        return self._located_warnings

    def table(self, vrf):
        """The table id of a vrfs name; None: the default table, 0."""
        return 0 if vrf is None else self.vrfs[vrf].table

    def alg_interfaces(self):
        if not self.sip_alg.enabled:
            return []
        if self.sip_alg.interfaces is not None:
            return list(self.sip_alg.interfaces)
        return [n for n, i in self.interfaces.items() if i.role in ("inside", "outside")]


class _Ctx:
    def __init__(self):
        self.problems = []

    def err(self, path, msg):
        self.problems.append((path, msg))


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
    _vrf_refs(ctx, cfg)
    # addresses overlap within a table only: tenants in two may have the same networks
    nets = [(n, i.address.network, _table(cfg, i.vrf), i.vrf)
            for n, i in cfg.interfaces.items() if i.address]
    for a in range(len(nets)):
        for b in range(a + 1, len(nets)):
            if nets[a][2] is not None and nets[a][2] == nets[b][2] and \
                    nets[a][1].overlaps(nets[b][1]):
                where = f"vrf {nets[a][3]}" if nets[a][3] else "the default table"
                ctx.err(f"interfaces.{nets[b][0]}.address",
                        f"overlaps interfaces.{nets[a][0]}.address ({nets[a][1]}) in {where}")
    for n, r in enumerate(cfg.routes):
        if r.interface not in names:
            ctx.err(f"routes[{n}].interface", f"no interface named {r.interface!r}")
        elif cfg.interfaces[r.interface].address and \
                r.via not in cfg.interfaces[r.interface].address.network:
            ctx.err(f"routes[{n}].via",
                    f"{r.via} is not on interfaces.{r.interface} "
                    f"({cfg.interfaces[r.interface].address.network})")
    pool = [e.address for e in cfg.nat44.pool]
    for i, a in enumerate(pool):
        for n, itf in cfg.interfaces.items():
            if itf.address and a == itf.address.ip:
                ctx.err(f"nat44.pool[{i}]", f"{a} is the address of interfaces.{n}")
    _nat_addresses(ctx, cfg)
    ext_seen = {}
    for i, m in enumerate(cfg.nat44.static_mappings):
        key = (m.protocol, m.external)
        if key in ext_seen:
            ctx.err(f"nat44.static_mappings[{i}].external",
                    f"same external endpoint as nat44.static_mappings[{ext_seen[key]}]")
        ext_seen[key] = i
        lo, hi = cfg.sip_alg.limits.media_ports
        if cfg.sip_alg.enabled and lo <= m.external[1] <= hi and \
                m.external[0] in pool + list(cfg.sip_alg.media.addresses):
            where = "a pool" if m.external[0] in pool else "a sip_alg.media"
            ctx.err(f"nat44.static_mappings[{i}].external",
                    f"port {m.external[1]} is inside sip_alg.limits.media_ports {lo}-{hi} on "
                    f"{where} address")
    for i, a in enumerate(cfg.sip_alg.media.addresses):
        for n, itf in cfg.interfaces.items():
            if itf.address and a == itf.address.ip:
                ctx.err(f"sip_alg.media.addresses[{i}]",
                        f"{a} is the address of interfaces.{n}: media pinholes need addresses "
                        f"of their own")
    if cfg.sip_alg.interfaces is not None:
        for i, n in enumerate(cfg.sip_alg.interfaces):
            if n not in names:
                ctx.err(f"sip_alg.interfaces[{i}]", f"no interface named {n!r}")
            elif cfg.interfaces[n].role == "none":
                ctx.err(f"sip_alg.interfaces[{i}]",
                        f"interfaces.{n} is not a NAT interface (role none)")
    _servers(ctx, cfg)
    if cfg.firewall.enabled and "outside" not in roles:
        ctx.err("firewall.enabled", "no interface has role outside: the inbound policy and the "
                                    "reflect ACL go on outside interfaces")


def _table(cfg, vrf):
    """The table id of a vrf name (0: None, the default table); None for an unknown name."""
    if vrf is None:
        return 0
    return cfg.vrfs[vrf].table if vrf in cfg.vrfs else None


def _vrf_refs(ctx, cfg):
    """Each vrf that an interface, pool address, static mapping or route names is one of
    vrfs. A route without vrf has its interface's: an unknown one is reported there only."""
    known = ", ".join(cfg.vrfs) or "none"

    def check(path, name):
        if name is not None and name not in cfg.vrfs:
            ctx.err(path, f"no VRF named {name!r} (vrfs: {known}; the default table needs no "
                          f"vrf)")
    for n, i in cfg.interfaces.items():
        check(f"interfaces.{n}.vrf", i.vrf)
    for k, r in enumerate(cfg.routes):
        itf = cfg.interfaces.get(r.interface)
        if itf is None or r.vrf != itf.vrf:
            check(f"routes[{k}].vrf", r.vrf)
    for k, e in enumerate(cfg.nat44.pool):
        check(f"nat44.pool[{k}].vrf", e.vrf)
    for k, m in enumerate(cfg.nat44.static_mappings):
        check(f"nat44.static_mappings[{k}].vrf", m.vrf)


def _nat_addresses(ctx, cfg):
    """Every inside interface's table has a NAT address: one of its own (a pool entry with
    its vrf), else one without vrf (NAT44-ED gives those to any table without an address of
    its own); with neither, NAT44-ED would translate nothing from that interface."""
    shared = any(e.vrf is None for e in cfg.nat44.pool)
    own = {e.vrf for e in cfg.nat44.pool if e.vrf is not None}
    for n, i in cfg.interfaces.items():
        if i.role != "inside" or shared or i.vrf in own or _table(cfg, i.vrf) is None:
            continue
        if i.vrf is None:
            ctx.err(f"interfaces.{n}", "in the default table, and nat44.pool has no address "
                                       "without vrf: NAT44-ED would have no address to "
                                       "translate its traffic to")
        else:
            ctx.err(f"interfaces.{n}.vrf",
                    f"nat44.pool has no address of vrf {i.vrf} ({{address: ..., vrf: "
                    f"{i.vrf}}}) and none without vrf: NAT44-ED would have no address to "
                    f"translate this inside interface's traffic to")


def _ports_text(s):
    def one(ports):
        return ",".join(str(p) for p in ports) or "none"
    return f"udp {one(s.ports.udp)}, tcp {one(s.ports.tcp)}"


def _servers(ctx, cfg):
    """Published SIP servers: each on one of the ALG's SIP ports (the ALG sees SIP on those
    only); those the static mappings publish, at most as many as the plugin takes."""
    s = cfg.sip_alg
    if s.servers_explicit:
        sip = set(s.ports.udp) | set(s.ports.tcp)
        for i, (a, p) in enumerate(s.servers):
            if p not in sip:
                ctx.err(f"sip_alg.servers[{i}]",
                        f"{a}:{p}: port {p} is not one of the ALG's SIP ports "
                        f"(sip_alg.ports: {_ports_text(s)}): add it there, or the ALG does not "
                        f"inspect the server's SIP")
    elif len(s.servers) > D.MAX_SERVERS:
        ctx.err("nat44.static_mappings",
                f"{len(s.servers)} local endpoints on SIP ports ({_ports_text(s)}) would be "
                f"published SIP servers, the ALG takes at most {D.MAX_SERVERS}: list the ones "
                f"to publish in sip_alg.servers")



# --- values VPP would store differently ----------------------------------------------------
#
# `apply` plans by comparing the configuration with what VPP reports (plan.read_state); a
# value VPP stores differently from what it was given, or does not report where read_state
# looks, would make every `apply` plan the same change again. Such values are refused here.

def _normalisation(ctx, cfg):
    connected = {}  # (table, prefix) -> what it is: an interface's routes are in its table
    for n, i in cfg.interfaces.items():
        t = _table(cfg, i.vrf)
        connected[t, i.address.network] = f"the network of interfaces.{n}"
        connected[t, ipaddress.IPv4Network(f"{i.address.ip}/32")] = \
            f"the address of interfaces.{n}"
    for n, r in enumerate(cfg.routes):
        key = (_table(cfg, r.vrf), r.prefix)
        if key[0] is not None and key in connected:
            # the interface's connected (or local) route outranks a static one in VPP's FIB:
            # ip_route_dump shows the attached path, never the static route
            ctx.err(f"routes[{n}].prefix",
                    f"{r.prefix} is {connected[key]}: VPP's connected route for it "
                    f"outranks a static one, which would never show as configured")
        elif str(r.prefix) == f"{r.via}/32":
            # VPP reports a /32 through itself as an attached host, not a static route
            ctx.err(f"routes[{n}].prefix",
                    f"{r.prefix} via {r.via} is a route to its own next hop: VPP reports it "
                    f"as an attached host, never as this static route")


# --- valid, but probably not meant -----------------------------------------------------------
#
# A blocked method is dropped in every request from outside, in-dialog ones included: these
# four are part of every call, so blocking one breaks calls in ways that show only later.

CALL_METHODS = {
    "INVITE": "every inbound call is refused, and so are the re-INVITEs (hold, resume, new "
              "media, session refresh) an outside party sends in calls placed from inside",
    "ACK": "the ACK of an outside caller never reaches the inside phone, which hangs up its "
           "inbound calls after about 32 s; ACKs to outside re-INVITEs are lost too",
    "BYE": "outside parties can no longer hang up: the inside phone stays in the call until "
           "it hangs up itself or the ALG's timers end the call record",
    "CANCEL": "an outside caller can no longer cancel a call: the inside phone rings on "
              "until it times out",
}


def _warnings(cfg):
    out = []
    used = {i.vrf for i in cfg.interfaces.values()} | {r.vrf for r in cfg.routes} | \
        {e.vrf for e in cfg.nat44.pool} | {m.vrf for m in cfg.nat44.static_mappings}
    for name in cfg.vrfs:
        if name not in used:
            out.append((f"vrfs.{name}", "no interface, route, nat44.pool address or static "
                                        "mapping is in it: an empty table"))
    # the tables with a way out: an outside interface in them, or a route through one
    way_out = {i.vrf for i in cfg.interfaces.values() if i.role == "outside"} | {
        r.vrf for r in cfg.routes if cfg.interfaces[r.interface].role == "outside"}
    for n, i in cfg.interfaces.items():
        if i.role == "inside" and i.vrf is not None and i.vrf not in way_out:
            way_out.add(i.vrf)  # once per table
            out.append((f"interfaces.{n}.vrf", f"vrf {i.vrf} has no route through an "
                             f"outside interface: NAT44-ED looks the inside's packets of a "
                             f"flow the outside started through a static mapping (the ALG's "
                             f"pinholes, nat44.static_mappings) up in this table, where they "
                             f"are dropped; add its routes out (routes[] with vrf: {i.vrf} "
                             f"and an outside interface)"))
    inside = {i.vrf for i in cfg.interfaces.values() if i.role == "inside"}
    for k, e in enumerate(cfg.nat44.pool):
        if e.vrf is not None and e.vrf not in inside:
            out.append((f"nat44.pool[{k}].vrf", f"no inside interface is in vrf {e.vrf}: "
                                                f"NAT44-ED translates nothing to {e.address}"))
    if cfg.sip_alg.servers_explicit:
        local = {m.local for m in cfg.nat44.static_mappings}
        for i, (a, p) in enumerate(cfg.sip_alg.servers):
            if (a, p) not in local:
                out.append((f"sip_alg.servers[{i}]",
                            f"{a}:{p} is the local endpoint of no nat44.static_mappings "
                            f"entry: nothing publishes it, and the ALG makes no signaling "
                            f"pinhole for a server"))
    if cfg.sip_alg.other_hosts_alias:
        out.append(("sip_alg.media_other_hosts",
                    "deprecated: write media.other_hosts under sip_alg.media (taken as that)"))
    for m in cfg.sip_alg.validation.block_methods:
        if m in CALL_METHODS:
            out.append(("sip_alg.validation.block_methods",
                        f"{m} blocked from outside: {CALL_METHODS[m]}"))
    return out


def parse(data):
    """The ConfigModel of already-loaded YAML data; raises ConfigError."""
    try:
        cfg = ConfigModel.model_validate(data)
    except ValidationError as e:
        raise ConfigError([(_path(loc), m) for loc, m in _problems(e, ConfigModel)])
    ctx = _Ctx()
    _semantics(ctx, cfg)
    _normalisation(ctx, cfg)
    if ctx.problems:
        raise ConfigError(ctx.problems)
    cfg._warnings = _warnings(cfg)
    return cfg


# --- reading the file -------------------------------------------------------------------
#
# The file is read whole, after its size is checked (D.MAX_CONFIG_BYTES), and composed into
# YAML's node tree by PyYAML's C loader (libyaml) where PyYAML has it, else by its pure-Python
# one. The tree is then walked once: duplicate keys, aliases, merge keys and nesting deeper
# than D.MAX_CONFIG_DEPTH are refused, and the line and column of every YAML path are noted,
# so that every problem found later names where it is. Both loaders give the same data and
# the same errors: the pure-Python loader refuses aliases and deep nesting as it composes,
# the walk does after the C loader, and an error of the C loader is worded by the
# pure-Python one, read again (only then).

MERGE_TAG = "tag:yaml.org,2002:merge"


class PureLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader that refuses aliases and nesting deeper than D.MAX_CONFIG_DEPTH as
    it composes (before a billion laughs is built, or Python's recursion limit is reached)."""
    depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            ev = self.peek_event()
            if ev.anchor in self.anchors:
                raise yaml.composer.ComposerError(
                    None, None, _alias_msg(ev.anchor, self.anchors[ev.anchor].start_mark),
                    ev.start_mark)
            return super().compose_node(parent, index)  # undefined: PyYAML's own error
        if self.depth >= D.MAX_CONFIG_DEPTH:
            raise yaml.composer.ComposerError(None, None, _DEPTH_MSG,
                                              self.peek_event().start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


CLoader = getattr(yaml, "CSafeLoader", None)  # None: PyYAML without libyaml
Loader = CLoader or PureLoader  # what load() uses

_DEPTH_MSG = f"nested more than {D.MAX_CONFIG_DEPTH} levels deep"


def _alias_msg(anchor, mark):
    return f"aliases are not accepted (*{anchor}, of the anchor on {_at(mark, False)}): " \
        "write the value out"


class _Refused(Exception):
    """An alias or too deep a nesting found by the walk after the C loader."""


def _walk(loader, node, index, dups, path=(), key=None, depth=1, seen=None):
    """Note the key and value nodes of every YAML path in index (by its _path text); append
    the duplicate keys' Problems to dups; raise _Refused at an alias (a node met twice) or at
    a node nested deeper than D.MAX_CONFIG_DEPTH. path None: in a key (nothing noted)."""
    if id(node) in seen:
        raise _Refused
    seen.add(id(node))
    if depth > D.MAX_CONFIG_DEPTH:
        raise _Refused
    if path is not None:
        index.setdefault(_path(path), (key, node))
    if isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(loader, v, index, dups, None if path is None else path + (i,),
                  None, depth + 1, seen)
    elif isinstance(node, yaml.MappingNode):
        first = {}
        for k, v in node.value:
            _walk(loader, k, index, dups, None, None, depth + 1, seen)
            sub = None
            if path is None:
                pass
            elif k.tag == MERGE_TAG:
                dups.append(_placed(_path(path + (k.value,)), "merge keys (<<) are not "
                                    "accepted: write the keys out", k.start_mark))
            elif not isinstance(k, yaml.ScalarNode):
                dups.append(_placed(_path(path) if path else "(top)", "a key must be a "
                                    "plain value, not a list or a mapping", k.start_mark))
            else:
                name = loader.construct_object(k, deep=True)
                try:
                    before = first.setdefault(name, k)
                except TypeError:  # unhashable (a tag's value): the constructor says so
                    before = None
                if before is None:
                    pass
                elif before is not k:
                    a, b = before.start_mark, k.start_mark
                    col = a.line == b.line  # on one line: their columns too
                    dups.append(_placed(_path(path + (name,)),
                                        f"duplicate key {k.value!r}: first on {_at(a, col)}, "
                                        f"again on {_at(b, col)}", b))
                else:
                    sub = path + (name,)
            _walk(loader, v, index, dups, sub, k, depth + 1, seen)


def _at(mark, column=True):
    return f"line {mark.line + 1}" + (f", column {mark.column + 1}" if column else "")


def _placed(path, msg, mark):
    return Problem(path, msg, mark.line + 1, mark.column + 1)


def _yaml_problem(e, text):
    """A YAMLError as a Problem at its line and column."""
    if isinstance(e, yaml.reader.ReaderError):
        # position: of the character in text (the pure-Python reader reads it as str)
        pos = min(e.position, len(text))
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        what = f"#x{e.character:04x}" if isinstance(e.character, int) else repr(e.character)
        return Problem(None, f"not valid YAML: unacceptable character {what}: {e.reason}",
                       line, col)
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    msg = getattr(e, "problem", None) or str(e)
    ctx, cm = getattr(e, "context", None), getattr(e, "context_mark", None)
    if ctx:
        msg += f" ({ctx}" + (f" at {_at(cm)}" if cm else "") + ")"
    if mark is None:
        return Problem("(yaml)", f"not valid YAML: {msg}")
    return _placed(None, f"not valid YAML: {msg}", mark)


def _compose(text, loader):
    """(loader, node or None, index, duplicate keys' Problems) of text; raises YAMLError or
    _Refused. The caller disposes of the loader."""
    ld = loader(text)
    try:
        node = ld.get_single_node()
        index, dups = {}, []
        if node is not None:
            _walk(ld, node, index, dups, seen=set())
        return ld, node, index, dups
    except BaseException:
        ld.dispose()
        raise


def read(path, loader=None):
    """(data, index) of a YAML file: index maps the _path text of every YAML path in it to
    (its key node or None, its value node). Raises ConfigError (with the line and column of
    each problem YAML can place) or OSError."""
    loader = loader or Loader
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        raw = b"" if size > D.MAX_CONFIG_BYTES else f.read(D.MAX_CONFIG_BYTES + 1)
    if size > D.MAX_CONFIG_BYTES or len(raw) > D.MAX_CONFIG_BYTES:
        got = f"{size} bytes" if size > D.MAX_CONFIG_BYTES else \
            f"more than {D.MAX_CONFIG_BYTES} bytes"
        raise ConfigError([Problem(None, f"too large: {got}, the limit is "
                                         f"{D.MAX_CONFIG_BYTES} bytes "
                                         f"({D.MAX_CONFIG_BYTES >> 20} MiB); not read")],
                          file=path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigError([Problem(None, f"not UTF-8 text: byte 0x{raw[e.start]:02x} "
                                         f"({e.reason})", line, col)], file=path)
    try:
        try:
            ld, node, index, dups = _compose(text, loader)
        except (yaml.YAMLError, _Refused) as e:
            if loader is PureLoader:
                raise
            try:  # the same text, worded by the pure-Python loader
                _compose(text, PureLoader)[0].dispose()
            except yaml.YAMLError as pure:
                raise pure from None
            if isinstance(e, _Refused):  # cannot be: the pure-Python loader refuses the same
                raise RuntimeError("the C and pure-Python YAML loaders disagree") from None
            raise
        try:
            if dups:
                raise ConfigError(dups, file=path)
            data = ld.construct_document(node) if node is not None else None
        finally:
            ld.dispose()
    except yaml.YAMLError as e:
        raise ConfigError([_yaml_problem(e, text)], file=path) from None
    return data, index


def locate(problem, index):
    """The Problem (yaml path, message) at the line and column of its path in index, else of
    the nearest enclosing path there (a missing key: the mapping it is missing from). A
    mapping entry is placed at its key when its value is a list or a mapping, else at its
    value; unknown keys at the key."""
    p, msg = problem
    path, exact = p, True
    while path not in index:
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            path = "(top)"
            if path not in index:
                return Problem(p, msg)
            break
        path, exact = path[:cut], False
    key, node = index[path]
    at_key = key is not None and (not exact or msg.startswith("unknown key") or
                                  not isinstance(node, yaml.ScalarNode))
    return _placed(p, msg, (key if at_key else node).start_mark)


def load(path):
    """Read and validate a YAML file (read()); raises ConfigError or OSError. The warnings'
    places: cfg.located_warnings."""
    data, index = read(path)
    if data is None:
        raise ConfigError([("(top)", "empty file")], file=path)
    try:
        cfg = parse(data)
    except ConfigError as e:
        raise ConfigError([locate(p, index) for p in e.problems], file=path) from None
    cfg._located_warnings = [locate(w, index) for w in cfg.warnings]
    return cfg
