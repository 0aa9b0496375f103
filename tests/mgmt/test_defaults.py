# SPDX-License-Identifier: Apache-2.0
"""sipalgctl's defaults are defined once (sipalgctl/defaults.py) and are the plugin's: every
constant there that stands for a plugin default or bound equals the header's macro, so that a
change on either side fails here; the configuration model and its dataclasses take theirs
from defaults.py. The lists the validation settings are made of (methods, malformed classes,
API fields) are checked against the plugin's source the same way; the defaults that are the
plugin's zeroed start (limits per host, validation) have no macro and are read from a fresh
VPP by tests/e2e/test_sipalgctl.py."""

import os
import re

import pytest
import yaml

from sipalgctl import config, defaults as D

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
PLUGIN = os.path.join(ROOT, "vpp-plugin", "sip_alg")
SEED = os.path.join(ROOT, "mgmt", "examples", "seed.yaml")


def macros(*names):
    out = {}
    for n in names:
        out.update(re.findall(r"#define\s+(\w+)\s+(\d+)\b", open(os.path.join(PLUGIN, n)).read()))
    return {k: int(v) for k, v in out.items()}


@pytest.mark.parametrize("name", sorted(D.PLUGIN_MACROS))
def test_default_is_the_headers(name):
    m = macros("sip_alg.h")
    macro = D.PLUGIN_MACROS[name]
    want = tuple(m[x] for x in macro) if isinstance(macro, tuple) else m[macro]
    assert getattr(D, name) == want, f"defaults.{name} != {macro} in sip_alg.h"


def test_bounds_are_the_plugins():
    """The reassembly maximum is SIP_MAX_MSG_LEN; the other bounds are macros of sip_alg.h
    (test_default_is_the_headers)."""
    m = macros("sip_alg.h", os.path.join("core", "sip_types.h"))
    assert D.TCP_REASSEMBLY_MAX == m["SIP_MAX_MSG_LEN"]
    assert {k: hi for k, (_, hi) in D.CALL_TIMERS.items()} == {
        "media_inactivity": m["SIP_ALG_MEDIA_INACTIVITY_MAX"],
        "max_duration": m["SIP_ALG_MAX_DURATION_MAX"],
        "one_way_media": m["SIP_ALG_ONE_WAY_MEDIA_MAX"]}
    assert D.SECURITY_MIN["max_entries_per_call"] == m["SIP_ALG_MIN_PER_CALL"]


def _setter_checks():
    """{field: (lowest, highest, 0 allowed)} of every sip_alg_check call of the setters in
    sip_alg_config.c, their bounds worked out from the macros (sip_alg.h, core/sip_types.h)."""
    m = macros("sip_alg.h", os.path.join("core", "sip_types.h"))
    names = {**m, "~0u": D.U32_MAX}

    def value(expr):
        expr = expr.strip()
        return int(expr) if expr.isdigit() else names[expr]
    src = open(os.path.join(PLUGIN, "sip_alg_config.c")).read()
    out = {}
    for name, lo, hi, off in re.findall(
            r'sip_alg_check \(why, "(\w+)", [^,]+,\s*([^,]+),\s*([^,]+),\s*([01])\)', src):
        assert name not in out, f"{name} checked twice"
        out[name] = (value(lo), value(hi), off == "1")
    return out


# the sections' models and what the C setters call their fields (sip_alg_check's names)
SECTION_MODELS = {"TimeoutsModel": ("signaling", "media", "call", "media_inactivity",
                                    "max_duration", "one_way_media"),
                  "LimitsModel": ("max_calls", "max_held", "tcp_reassembly"),
                  "SecurityModel": ("max_inbound_calls", "max_inbound_per_source",
                                    "max_binding_time", "max_entries", "max_entries_per_call")}


def _accepts(model, field, v):
    try:
        getattr(config, model)(**{field: v})
        return True
    except Exception:
        return False


def test_every_setter_check_is_a_model_field():
    """The setters check exactly the fields of the sections' models that are plain numbers
    (the port ranges: test_port_range_bounds_are_the_setters'), each once."""
    checks = _setter_checks()
    assert sorted(checks) == sorted(f for fs in SECTION_MODELS.values() for f in fs)


@pytest.mark.parametrize("model,field", [(m, f) for m, fs in SECTION_MODELS.items()
                                         for f in fs])
def test_model_bounds_are_the_setters(model, field):
    """What `check` accepts is what the plugin's setter accepts, for every numeric field: its
    lowest and highest value taken, one past either refused, 0 taken only where the setter
    takes 0 (off). Fails when sip_alg_config.c, sip_alg.h or the model moves alone."""
    lo, hi, off = _setter_checks()[field]
    assert _accepts(model, field, lo) and _accepts(model, field, hi), (field, lo, hi)
    assert not _accepts(model, field, hi + 1), (field, hi + 1)
    if lo > 0:
        assert _accepts(model, field, 0) == off, (field, 0, off)
    if lo > 1:
        assert not _accepts(model, field, lo - 1), (field, lo - 1)
    if off and lo > 1:
        assert not _accepts(model, field, 1)


def _range_check(setter):
    """The body of a setter of sip_alg_config.c."""
    src = open(os.path.join(PLUGIN, "sip_alg_config.c")).read()
    body = src[src.index(f"\n{setter} ("):]
    return body[:body.index("\n}\n")]


def test_port_range_bounds_are_the_setters():
    """The media port range (sip_alg_set_limits: lo >= SIP_ALG_MEDIA_PORT_MIN, even, hi > lo,
    at least SIP_ALG_MEDIA_PORTS_MIN_COUNT ports) and the inside media ports
    (sip_alg_set_security: lo >= SIP_ALG_INSIDE_PORT_LO, hi >= lo): the model takes the
    ranges at those bounds and refuses one past them."""
    lim = _range_check("sip_alg_set_limits")
    assert ("if (lo < SIP_ALG_MEDIA_PORT_MIN || (lo & 1) || hi <= lo ||\n"
            "      ((u32) hi - lo + 1) < SIP_ALG_MEDIA_PORTS_MIN_COUNT)") in lim
    m, n = D.MEDIA_PORT_MIN, D.MEDIA_PORTS_MIN_COUNT
    for v, ok in ((f"{m}-{m + n - 1}", True), (f"{m - 2}-{m + n - 1}", False),
                  (f"{m}-{m + n - 2}", False), (f"{m + 1}-{m + n + 1}", False),
                  (f"{65536 - n}-65535", True), ("40000-40000", False)):
        assert _accepts("LimitsModel", "media_ports", v) == ok, v
    sec = _range_check("sip_alg_set_security")
    assert ("if (s->inside_port_lo < SIP_ALG_INSIDE_PORT_LO || "
            "s->inside_port_hi < s->inside_port_lo)") in sec
    i = D.INSIDE_PORT_MIN
    for v, ok in ((f"{i}-{i}", True), (f"{i - 1}-{i}", False), (f"{i + 1}-{i}", False),
                  ("65535-65535", True)):
        assert _accepts("SecurityModel", "inside_media_ports", v) == ok, v
    # the host limits take any u32, 0 is off: the setter does not check them
    assert "max_calls_per_host" not in _setter_checks()
    for f in ("max_calls_per_host", "max_entries_per_host"):
        assert _accepts("SecurityModel", f, 0) and _accepts("SecurityModel", f, D.U32_MAX)
    # the media addresses: at most SIP_ALG_MAX_MEDIA_ADDRS, the setter's TABLE_TOO_BIG
    assert "if (n > SIP_ALG_MAX_MEDIA_ADDRS)" in _range_check("sip_alg_set_media")


def test_dataclasses_and_models_default_alike():
    """A YAML that leaves sip_alg out, the models made without values and the models'
    defaults are one set of values: defaults.py's."""
    alg, sec = config.SipAlgModel(), config.SecurityModel()
    t, lim = alg.timeouts, alg.limits
    assert (alg.ports.udp, t.signaling, t.media, t.call, lim.max_calls, lim.media_ports,
            t.media_inactivity, t.max_duration, lim.tcp_reassembly, lim.max_held) == (
        [D.UDP_PORT], D.SIGNALING, D.MEDIA, D.CALL, D.MAX_CALLS, D.MEDIA_PORTS,
        D.MEDIA_INACTIVITY, D.MAX_DURATION, D.TCP_REASSEMBLY, D.MAX_HELD)
    assert (sec.max_inbound_calls, sec.max_inbound_per_source, sec.max_binding_time,
            sec.max_entries, sec.max_entries_per_call, sec.inside_media_ports) == (
        D.MAX_INBOUND_CALLS, D.MAX_INBOUND_PER_SOURCE, D.MAX_BINDING_TIME, D.MAX_ENTRIES,
        D.MAX_ENTRIES_PER_CALL, D.INSIDE_MEDIA_PORTS)
    data = yaml.safe_load(open(SEED))
    data.pop("sip_alg")
    data.pop("vpp", None)
    cfg = config.parse(data)
    assert cfg.sip_alg == alg
    assert cfg.vpp == config.VppModel()
    assert cfg.nat44.sessions == D.NAT_SESSIONS == config.NatModel.model_fields["sessions"].default
    # the models say the same
    assert config.LimitsModel().media_ports == D.MEDIA_PORTS
    assert config.SecurityModel().max_entries == D.MAX_ENTRIES
    assert config.TimeoutsModel().max_duration == D.MAX_DURATION
    assert (config.SecurityModel().max_calls_per_host, sec.max_calls_per_host,
            config.SecurityModel().max_entries_per_host, sec.max_entries_per_host) == (
        D.MAX_CALLS_PER_HOST, D.MAX_CALLS_PER_HOST, D.MAX_ENTRIES_PER_HOST,
        D.MAX_ENTRIES_PER_HOST)
    assert config.ValidationModel().mode == alg.validation.mode == D.VALIDATION_MODE
    assert alg.validation.actions.model_dump() == dict.fromkeys(
        D.VALIDATION_CLASSES, D.MODE_ACTION[D.VALIDATION_MODE])


def _api_fields(define):
    """The fields of a message of sip_alg.api, in order (client_index, context, retval out)."""
    api = open(os.path.join(PLUGIN, "sip_alg.api")).read()
    body = re.search(r"define\s+" + define + r"\s*\{(.*?)\};", api, re.S).group(1)
    return [f for f in re.findall(r"^\s*\w+\s+(\w+)(?:\[\d+\])?;", body, re.M)
            if f not in ("client_index", "context", "retval")]


def test_sip_methods_are_the_plugins():
    """block_methods' bits: SIP_METHODS in foreach_sip_method's order (core/sip_msg.h), from
    bit 1 (SIP_METHOD_NONE is 0), then OTHER; the set_validation check allows just those."""
    src = open(os.path.join(PLUGIN, "core", "sip_msg.h")).read()
    body = src[src.index("#define foreach_sip_method"):]
    body = body[:body.index("\n\n")]
    assert D.SIP_METHODS == tuple(re.findall(r"_ \((\w+)\)", body)) + ("OTHER",)
    enum = src[src.index("SIP_METHOD_NONE = 0,"):]
    assert enum.index("foreach_sip_method") < enum.index("SIP_METHOD_OTHER,") < \
        enum.index("} sip_method_t;")
    c = open(os.path.join(PLUGIN, "sip_alg_config.c")).read()
    assert "v->block_methods & ~(((2u << SIP_METHOD_OTHER) - 1) & ~1u)" in c
    from sipalgctl import plan as P
    assert P.method_mask(D.SIP_METHODS) == (2 << len(D.SIP_METHODS)) - 2 == 0xFFFE
    assert P.method_mask(["INVITE"]) == 1 << 1 and P.method_mask(["OTHER"]) == 1 << 15
    assert P.method_mask(["MESSAGE", "REGISTER"]) == 1 << 12 | 1 << 6
    assert P.mask_methods(1 << 12 | 1 << 6 | 1) == ("REGISTER", "MESSAGE")  # bit 0: no method


def test_validation_classes_are_the_plugins():
    """VALIDATION_CLASSES: sip_alg_class_t's order (sip_alg.h), the CLI's names (too-many),
    and the drop_* fields of sip_alg_set_validation and sip_alg_get_config_reply."""
    h = open(os.path.join(PLUGIN, "sip_alg.h")).read()
    enum = h[h.index("SIP_ALG_CLASS_PARSE = 0,"):h.index("} sip_alg_class_t;")]
    assert tuple(n.lower() for n in re.findall(r"SIP_ALG_CLASS_(\w+)", enum)) == \
        D.VALIDATION_CLASSES
    cli = open(os.path.join(PLUGIN, "sip_alg_cli.c")).read()
    names = re.search(r"sip_alg_class_names\[SIP_ALG_N_CLASSES\] = \{([^}]*)\}", cli).group(1)
    assert tuple(re.findall(r'"([\w-]+)"', names)) == tuple(
        c.replace("_", "-") for c in D.VALIDATION_CLASSES)
    assert "SIP_ALG_ACTION_PASS 0" in h and "SIP_ALG_ACTION_DROP 1" in h
    assert set(D.MODE_ACTION) == {"strict", "lenient"}


def test_api_fields_are_what_sipalgctl_sends_and_reads():
    """sip_alg_set_validation's fields are plan.VALIDATION, in order; each section's set
    message has the fields the planner's operation sends, its get reply the same, and
    get_config's reply has the fields read_state reads under the same names."""
    from sipalgctl import plan as P
    assert tuple(_api_fields("sip_alg_set_validation")) == P.VALIDATION
    cfg = config.parse(yaml.safe_load(open(SEED)))
    for op, section, msg in ((P.AlgTimeouts, cfg.sip_alg.timeouts, "timeouts_v2"),
                             (P.AlgLimits, cfg.sip_alg.limits, "limits_v2"),
                             (P.AlgSecurity, cfg.sip_alg.security, "security_v2"),
                             (P.AlgMedia, cfg.sip_alg.media, "media")):
        name, args = op.of(section).call()
        assert name == f"sip_alg_set_{msg}"
        assert _api_fields(name) == list(args)
        get = "sip_alg_get_" + msg.replace("_v2", "") + "_reply"
        assert _api_fields(get) == list(args)
        assert _api_fields(name + "_reply") == ["error"]
    reply = _api_fields("sip_alg_get_config_reply")
    assert set(P.VALIDATION + P.HOST_LIMITS + P.CALL_TIMERS) <= set(reply)


def test_deprecated_set_messages_are_marked():
    """The messages each section's one replaces stay, marked deprecated."""
    api = open(os.path.join(PLUGIN, "sip_alg.api")).read()
    for m in ("timeouts", "call_timers", "one_way_media", "limits", "tcp", "security",
              "host_limits", "media_policy", "media_addresses"):
        body = re.search(r"define\s+sip_alg_set_" + m + r"\s*\{(.*?)\};", api, re.S).group(1)
        assert "option deprecated;" in body, m
    for m in ("timeouts_v2", "limits_v2", "security_v2", "media"):
        body = re.search(r"define\s+sip_alg_set_" + m + r"\s*\{(.*?)\};", api, re.S).group(1)
        assert "deprecated" not in body, m


def test_zero_defaults_have_no_macro():
    """The defaults of the limits per host and of validation are sip_alg_main's zeroed
    start, not macros (so test_default_is_the_headers cannot check them): 0, lenient, pass,
    nothing blocked, no rate. tests/e2e/test_sipalgctl.py reads them from a fresh VPP."""
    from sipalgctl import plan as P
    assert (D.MAX_CALLS_PER_HOST, D.MAX_ENTRIES_PER_HOST) == (0, 0)
    assert D.VALIDATION_MODE == "lenient" and D.MODE_ACTION["lenient"] == "pass"
    assert set(P.validation_fields(config.ValidationModel()).values()) == {0}  # False == 0
    m = macros("sip_alg.h")
    assert not [k for k in m if "PER_HOST" in k or "VALIDATION" in k or "STRICT" in k]


# sip_alg_init's field for each default: the macro the header defines must be the one the
# plugin starts with, in the right field (a swap of two macros passes the header check)
INIT_FIELDS = {
    "SIP_ALG_DEFAULT_PORT": "udp_ports[0]",
    "SIP_ALG_DEFAULT_TCP_PORT": "tcp_ports[0]",
    "SIP_ALG_DEFAULT_SIGNALING": "timeouts.signaling",
    "SIP_ALG_DEFAULT_MEDIA": "timeouts.media",
    "SIP_ALG_DEFAULT_CALL": "timeouts.call",
    "SIP_ALG_DEFAULT_MEDIA_INACTIVITY": "timeouts.media_inactivity",
    "SIP_ALG_DEFAULT_MAX_DURATION": "timeouts.max_duration",
    "SIP_ALG_DEFAULT_ONE_WAY_MEDIA": "timeouts.one_way_media",
    "SIP_ALG_DEFAULT_MAX_CALLS": "limits.max_calls",
    "SIP_ALG_DEFAULT_MAX_HELD": "limits.max_held",
    "SIP_ALG_MEDIA_PORT_LO": "limits.media_port_lo",
    "SIP_ALG_MEDIA_PORT_HI": "limits.media_port_hi",
    "SIP_ALG_DEFAULT_TCP_REASSEMBLY": "limits.tcp_reassembly",
    "SIP_ALG_DEFAULT_MAX_INBOUND": "sec.max_inbound_calls",
    "SIP_ALG_DEFAULT_MAX_INBOUND_SRC": "sec.max_inbound_per_source",
    "SIP_ALG_DEFAULT_MAX_BINDING": "sec.max_binding_time",
    "SIP_ALG_DEFAULT_MAX_ENTRIES": "sec.max_entries",
    "SIP_ALG_DEFAULT_MAX_PER_CALL": "sec.max_entries_per_call",
    "SIP_ALG_INSIDE_PORT_LO": "sec.inside_port_lo",
    "SIP_ALG_INSIDE_PORT_HI": "sec.inside_port_hi",
}


def init_assignments():
    """{macro: [field]} of sip_alg_init in sip_alg.c: `sam->f = M;`, a section's compound
    literal `sam->s = (t){ .f = M, ... };` (field s.f), and the port locals (`u16 port = M;`
    then `sam->udp_ports[0] = clib_host_to_net_u16 (port);`)."""
    src = open(os.path.join(PLUGIN, "sip_alg.c")).read()
    body = src[src.index("sip_alg_init (vlib_main_t *vm)"):]
    body = body[:body.index("\n}\n")]
    out = {}
    local = dict((v, m) for v, m in re.findall(r"\bu16\s+(\w+)\s*=\s*(SIP_ALG_\w+);", body))
    for field, var in re.findall(r"sam->(\w+\[\d+\])\s*=\s*clib_host_to_net_u16\s*\((\w+)\)",
                                 body):
        if var in local:
            out.setdefault(local[var], []).append(field)
    for section, fields in re.findall(r"sam->(\w+)\s*=\s*\(\w+\)\s*\{(.*?)\};", body, re.S):
        for field, macro in re.findall(r"\.(\w+)\s*=\s*(SIP_ALG_\w+)\s*,", fields):
            out.setdefault(macro, []).append(f"{section}.{field}")
    body = re.sub(r"sam->\w+\s*=\s*\(\w+\)\s*\{.*?\};", "", body, flags=re.S)
    for field, macro in re.findall(r"sam->([\w.]+)\s*=\s*(SIP_ALG_\w+)\s*;", body):
        out.setdefault(macro, []).append(field)
    return out


def test_init_starts_with_the_headers_defaults():
    assigned = init_assignments()
    macros_used = set()
    for m in D.PLUGIN_MACROS.values():
        macros_used.update(m if isinstance(m, tuple) else (m,))
    # every default sipalgctl relies on (not the pure bounds) is where INIT_FIELDS says
    defaults = {m for m in macros_used if m in INIT_FIELDS}
    assert defaults == set(INIT_FIELDS), set(INIT_FIELDS) ^ defaults
    for macro, field in INIT_FIELDS.items():
        assert assigned.get(macro) == [field], \
            f"sip_alg_init sets {assigned.get(macro)} from {macro}, expected [{field!r}]"
