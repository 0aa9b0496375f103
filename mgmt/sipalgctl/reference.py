# SPDX-License-Identifier: Apache-2.0
"""The configuration reference (docs/configuration.md), generated from the YAML's pydantic
models in config.py: every section, key, type, default, bound and description.

    python -m sipalgctl.reference > docs/configuration.md      (what `make docs` runs)

tests/mgmt/test_reference.py fails when the file and the models differ. Descriptions are the
models' (Field(description=...) and each model's docstring); types and bounds come from the
annotations: Ge/Le, Literal, nested models, lists and mappings, and for a key with a validator
of its own, TYPES below, keyed by the validator's name. A validator missing from TYPES is an
error, so a new kind of key cannot go undocumented."""

import ipaddress
import re
import sys
import typing
from typing import Annotated, Literal, Union

from annotated_types import Ge, Le
from pydantic import BaseModel, PlainValidator, WrapValidator
from pydantic_core import PydanticUndefined

from . import config as C
from . import defaults as D

INTRO = """\
# Configuration reference

<!-- Generated from mgmt/sipalgctl/config.py by `make docs` (python -m sipalgctl.reference):
do not edit by hand. tests/mgmt/test_reference.py fails when this file and the models differ. -->

Every key of sipalgctl's YAML file, section by section: its type, its default (what a file
without the key gets), the values it takes and what it does. A key not listed here is refused
(`unknown key (allowed: ...)`). `sipalgctl check <file>` reports every problem of a file at
once, each with its YAML path (`fw.yaml: sip_alg.ports.udp[1]: must be between 1 and 65535,
got 70000`), and exits 1. The defaults of the `sip_alg` keys are the plugin's own: a file
without them leaves a freshly started VPP as it is. Annotated examples:
[seed.yaml](../mgmt/examples/seed.yaml), [firewall.yaml](../mgmt/examples/firewall.yaml),
[pbx-inside.yaml](../mgmt/examples/pbx-inside.yaml),
[hairpin.yaml](../mgmt/examples/hairpin.yaml), [tenants.yaml](../mgmt/examples/tenants.yaml).
What the settings do in practice: [user-guide.md](user-guide.md); why each default is what it
is: [defaults.md](defaults.md).

Besides each key's own bounds, `check` refuses

- a file without an inside and an outside interface, or with two interfaces naming the same
  VPP interface;
- a `vrf` that is not a name under `vrfs`; addresses that overlap within one table;
- a route through an interface not in the file, a next hop off its interface's network, a
  route to an interface's own network or address, a /32 route to its own next hop (VPP would
  report those otherwise than written, and every `apply` would plan them again);
- a pool address that is an interface's; an inside interface whose table has no NAT address
  of its own and none without `vrf`;
- two static mappings with the same protocol and external endpoint; a static mapping's
  external port inside `sip_alg.limits.media_ports` on a pool address or a
  `sip_alg.media.addresses` address; a media address that is an interface's;
- an odd first media port (the plugin starts the range on an even port);
- `sip_alg.interfaces` naming an interface not in the file or of role none; a published
  server on a port that is not one of the ALG's SIP ports; more published servers from the
  static mappings than the plugin takes;
- a firewall without an outside interface;

and warns (on stderr, the exit status unchanged) about a VRF nothing is in, an inside
interface whose table has no route through an outside interface, a tenant's pool address
that no inside interface uses, a listed server that no static mapping publishes, and INVITE,
ACK, BYE or CANCEL in `sip_alg.validation.block_methods`.
"""


def _proto_name(v):
    return next((k for k, n in C.PROTOCOLS.items() if n == v), str(v))


def _range(lo, hi):
    return f"{lo}-{hi}"


# validator name -> fn(its closure's variables, the annotated type) -> (type, values[, default
# formatter]); None: the type comes from the annotation alone
TYPES = {
    "_int_t.<locals>.check": lambda c, tp: ("integer", _range(c["lo"], c["hi"])),
    "_timer_t.<locals>.check": lambda c, tp: ("integer", f"0 (off) or {c['lo']}-{c['hi']}"),
    "_choice_t.<locals>.check": lambda c, tp: ("string", "one of " + ", ".join(c["choices"])),
    "_bool_check": lambda c, tp: ("boolean", "true, false"),
    "_str_check": lambda c, tp: ("string", "not empty"),
    "_msg_t.<locals>.check": lambda c, tp: {
        ipaddress.IPv4Address: ("IPv4 address", "a.b.c.d"),
        ipaddress.IPv4Network: ("IPv4 prefix", "a.b.c.d/n, host bits zero"),
    }[tp],
    "_ip4_if": lambda c, tp: ("IPv4 address/length", "a.b.c.d/n"),
    "_endpoint": lambda c, tp: ("address:port", "IPv4 address, port 1-65535"),
    "_server": lambda c, tp: ("address:port", "an inside host's IPv4 address, port 1-65535"),
    "_media_address": lambda c, tp: (
        "IPv4 address", "a public unicast address: not 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/4, "
                        "240.0.0.0/4"),
    "_media_ports": lambda c, tp: (
        "port range", f"lo-hi: {D.MEDIA_PORT_MIN} <= lo < hi <= 65535, at least "
                      f"{D.MEDIA_PORTS_MIN_COUNT} ports", lambda v: _range(*v)),
    "_inside_ports": lambda c, tp: (
        "port range", f"lo-hi: {D.INSIDE_PORT_MIN} <= lo <= hi <= 65535",
        lambda v: _range(*v)),
    "_range_t.<locals>.check": lambda c, tp: (
        f"{c['what']} or range", f"N or A-B, {c['lo']}-{c['hi']}", lambda v: _range(*v)),
    "_proto": lambda c, tp: ("protocol", ", ".join(C.PROTOCOLS) + ", or a number 0-255",
                         _proto_name),
    "_tag": lambda c, tp: ("string", "printable, at most 32 characters"),
    "_runtime_dir": lambda c, tp: ("path", "absolute"),
    "_main_heap": lambda c, tp: ("size", "a number and M or G: 512M, 1G"),
    "_host_if": lambda c, tp: ("string", "a Linux interface name, at most 15 characters"),
    "_method": lambda c, tp: ("SIP method", ""),
    "_pool_entry": lambda c, tp: ("IPv4 address, or a mapping: " + _anchor_name(tp), ""),
    "_interfaces_check": lambda c, tp: ("mapping", "at least one; names: letters, digits, - and _"),
    "_vrfs_check": lambda c, tp: (
        "mapping", f"names: letters, digits, - and _, at most {D.VRF_NAME_MAX} characters, "
                   f"not {D.DEFAULT_VPN}"),
    "_rate_limits_check": lambda c, tp: ("mapping", "keys " + ", ".join(D.RATE_LIMITED)),
    # lists: the item's type, and the list's own bounds
    "_list_t.<locals>.check": lambda c, tp: ("list", "" if c["allow_empty"] else "at least one"),
    "_unique_list_t.<locals>.check": lambda c, tp: ("list", "; ".join(x for x in (
        "" if c["allow_empty"] else "at least one",
        f"at most {c['max_len']}" if c["max_len"] is not None else "", "none twice") if x)),
    "<lambda>": None,  # sip_alg.interfaces' items: names (str)
}

# the key of a mapping of sections, as the headings write it
DICT_KEYS = {"_interfaces_check": "<name>", "_vrfs_check": "<name>",
             "_rate_limits_check": "<" + "|".join(D.RATE_LIMITED) + ">"}


def _unwrap(tp):
    """(type, metadata) of a type with its Annotated and Optional layers taken off."""
    meta = []
    while True:
        if typing.get_origin(tp) is Annotated:
            meta += list(tp.__metadata__)
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) is Union:
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                raise TypeError(f"a union of {args}: no reference for it")
            tp = args[0]
        else:
            return tp, meta


def _validators(meta):
    return [m.func for m in meta if isinstance(m, (WrapValidator, PlainValidator))]


def _closure(fn):
    cells = fn.__closure__ or ()
    return dict(zip(fn.__code__.co_freevars, (c.cell_contents for c in cells)))


def _is_model(tp):
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _known(fn):
    name = fn.__qualname__
    if name not in TYPES:
        raise KeyError(f"{fn.__module__}.{name}: a validator with no entry in "
                       f"sipalgctl.reference.TYPES; add one saying its type and values")
    return TYPES[name]


def describe(tp, meta):
    """(type, values, default formatter or None) of an annotation and its metadata."""
    tp, more = _unwrap(tp)
    meta = list(meta) + more
    own = None
    for fn in _validators(meta):
        entry = _known(fn)
        if entry is not None:
            own = entry(_closure(fn), tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (list, typing.List):
        item_tp, item_vals, _ = describe(args[0], ())
        vals = "; ".join(x for x in (item_vals, own[1] if own else "") if x)
        return f"list of {item_tp}", vals, None
    if origin in (dict, typing.Dict):
        sub, _ = _unwrap(args[1])
        return (f"mapping of {_anchor_name(sub)}" if _is_model(sub) else "mapping",
                own[1] if own else "", None)
    if own is not None:
        return own[0], own[1], own[2] if len(own) > 2 else None
    if _is_model(tp):
        return _anchor_name(tp), "", None
    if origin is Literal:
        return "string", "one of " + ", ".join(args), None
    lo = next((m.ge for m in meta if isinstance(m, Ge)), None)
    hi = next((m.le for m in meta if isinstance(m, Le)), None)
    if tp is int:
        return "integer", _range(lo, hi) if lo is not None and hi is not None else "", None
    if tp is str:
        return "string", "", None
    if tp is bool:
        return "boolean", "true, false", None
    raise TypeError(f"{tp}: no reference for this type")


# --- sections -------------------------------------------------------------------------------

_ANCHORS = {}  # model -> (heading text, anchor): filled by sections()


def _anchor_name(model):
    """A model's name in a type column: a link to its section."""
    text, anchor = _ANCHORS[model]
    return f"[section](#{anchor})"


def slug(text):
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def _child(f):
    """(model, path suffix) of a key that holds sections, else None."""
    tp, meta = _unwrap(f.annotation)
    meta = list(f.metadata) + meta
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if _is_model(tp):
        return tp, ""
    if origin in (list, typing.List):
        sub, _ = _unwrap(args[0])
        if _is_model(sub):
            return sub, "[]"
    if origin in (dict, typing.Dict):
        sub, _ = _unwrap(args[1])
        if _is_model(sub):
            key = next(DICT_KEYS[fn.__qualname__] for fn in _validators(meta)
                       if fn.__qualname__ in DICT_KEYS)
            return sub, "." + key
    return None


def sections():
    """[(paths, model)] in document order: the top level first, then each section's keys'
    sections after it, depth first. A model that several keys of one section hold (the
    firewall's outbound and inbound) is one section with all their paths."""
    out = []

    def walk(model, paths):
        out.append((paths, model))
        groups = {}
        for name, f in model.model_fields.items():
            c = _child(f)
            if c:
                groups.setdefault(c[0], []).append(name + c[1])
        for sub, names in groups.items():
            walk(sub, [f"{p}.{n}" if p else n for p in paths for n in names])
    walk(C.ConfigModel, [""])
    _ANCHORS.clear()
    for paths, model in out:
        text = " / ".join(f"`{p}`" for p in paths) if paths != [""] else "Top level"
        _ANCHORS[model] = (text, slug(text))
    return out


def _doc(model):
    return " ".join(line.strip() for line in (model.__doc__ or "").strip().splitlines())


def _default(v, fmt):
    if v is PydanticUndefined:
        return "required"
    if v is None:
        return "not set"
    if fmt is not None:
        return fmt(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_default(x, None) for x in v) + "]"
    return str(v)


def _cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text):
    return f"`{text}`" if text not in ("", "required", "not set") else text


def render():
    """docs/configuration.md, as a string."""
    secs = sections()
    lines = [INTRO, "## Sections", ""]
    for paths, model in secs:
        text, anchor = _ANCHORS[model]
        lines.append(f"- [{text}](#{anchor})")
    for paths, model in secs:
        text, _ = _ANCHORS[model]
        doc = _doc(model)
        if not doc:
            raise ValueError(f"{model.__name__}: no docstring to introduce {text}")
        lines += ["", f"## {text}", "", doc, "",
                  "| key | type | default | values | description |",
                  "| --- | --- | --- | --- | --- |"]
        for name, f in model.model_fields.items():
            if not f.description:
                raise ValueError(f"{model.__name__}.{name}: no description (Field(description="
                                 f"...) in config.py)")
            tp, vals, fmt = describe(f.annotation, f.metadata)
            if _child(f):
                default = "required" if f.is_required() else ""
            else:
                default = _code(_default(f.default, fmt))
            lines.append(f"| `{name}` | {_cell(tp)} | {_cell(default)} | {_cell(vals)} | "
                         f"{_cell(f.description)} |")
    return "\n".join(lines) + "\n"


def main():
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
