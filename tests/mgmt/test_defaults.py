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
    """The bounds the setters enforce (sip_alg_config.c), and the reassembly maximum,
    SIP_MAX_MSG_LEN."""
    m = macros("sip_alg.h", os.path.join("core", "sip_types.h"))
    assert D.TCP_REASSEMBLY_MAX == m["SIP_MAX_MSG_LEN"]
    assert D.INSIDE_PORT_MIN == m["SIP_ALG_INSIDE_PORT_LO"]
    src = open(os.path.join(PLUGIN, "sip_alg_config.c")).read()
    assert f"bytes < {D.TCP_REASSEMBLY_MIN} || bytes > SIP_MAX_MSG_LEN" in src
    assert "s->max_entries_per_call < %d" % D.SECURITY_MIN["max_entries_per_call"] in src
    # sip_alg_set_media_ports rounds the first port down to even (config._normalisation
    # refuses an odd one), then wants lo >= 1024 and at least 4 ports
    body = src[src.index("sip_alg_set_media_ports (u16 lo, u16 hi)"):]
    body = body[:body.index("\n}\n")]
    assert "lo &= ~1;" in body
    assert (f"lo < {D.MEDIA_PORT_MIN} || hi <= lo || ((u32) hi - lo + 1) < "
            f"{D.MEDIA_PORTS_MIN_COUNT}") in body


def test_dataclasses_and_models_default_alike():
    """A YAML that leaves sip_alg out, the models made without values and the models'
    defaults are one set of values: defaults.py's."""
    alg, sec = config.SipAlgModel(), config.SecurityModel()
    t, lim = alg.timeouts, alg.limits
    assert (alg.ports.udp, t.signaling, t.media, t.call, lim.max_calls, lim.media_ports,
            t.media_inactivity, t.max_duration, lim.tcp_reassembly) == (
        [D.UDP_PORT], D.SIGNALING, D.MEDIA, D.CALL, D.MAX_CALLS, D.MEDIA_PORTS,
        D.MEDIA_INACTIVITY, D.MAX_DURATION, D.TCP_REASSEMBLY)
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
    """sip_alg_set_validation's fields are plan.VALIDATION, in order; sip_alg_set_host_limits'
    are plan.HOST_LIMITS; get_config's reply has all of them under the same names."""
    from sipalgctl import plan as P
    assert tuple(_api_fields("sip_alg_set_validation")) == P.VALIDATION
    assert tuple(_api_fields("sip_alg_set_host_limits")) == P.HOST_LIMITS
    reply = _api_fields("sip_alg_get_config_reply")
    assert set(P.VALIDATION + P.HOST_LIMITS + P.CALL_TIMERS) <= set(reply)


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
    "SIP_ALG_DEFAULT_SIGNALING": "timeout_signaling",
    "SIP_ALG_DEFAULT_MEDIA": "timeout_media",
    "SIP_ALG_DEFAULT_CALL": "timeout_call",
    "SIP_ALG_DEFAULT_MAX_CALLS": "max_calls",
    "SIP_ALG_DEFAULT_MEDIA_INACTIVITY": "media_inactivity",
    "SIP_ALG_DEFAULT_MAX_DURATION": "max_duration",
    "SIP_ALG_DEFAULT_ONE_WAY_MEDIA": "one_way_media",
    "SIP_ALG_MEDIA_PORT_LO": "media_port_lo",
    "SIP_ALG_MEDIA_PORT_HI": "media_port_hi",
    "SIP_ALG_DEFAULT_MAX_INBOUND": "max_inbound_calls",
    "SIP_ALG_DEFAULT_MAX_INBOUND_SRC": "max_inbound_per_source",
    "SIP_ALG_DEFAULT_MAX_BINDING": "max_binding_time",
    "SIP_ALG_DEFAULT_MAX_ENTRIES": "max_entries",
    "SIP_ALG_DEFAULT_MAX_PER_CALL": "max_entries_per_call",
    "SIP_ALG_INSIDE_PORT_LO": "inside_port_lo",
    "SIP_ALG_INSIDE_PORT_HI": "inside_port_hi",
    "SIP_ALG_DEFAULT_TCP_REASSEMBLY": "tcp_reassembly",
}


def init_assignments():
    """{macro: field} of sip_alg_init in sip_alg.c: `sam->f = M;`, `.f = M,` and the port
    locals (`u16 port = M;` then `sam->udp_ports[0] = clib_host_to_net_u16 (port);`)."""
    src = open(os.path.join(PLUGIN, "sip_alg.c")).read()
    body = src[src.index("sip_alg_init (vlib_main_t *vm)"):]
    body = body[:body.index("\n}\n")]
    out = {}
    local = dict((v, m) for v, m in re.findall(r"\bu16\s+(\w+)\s*=\s*(SIP_ALG_\w+);", body))
    for field, var in re.findall(r"sam->(\w+\[\d+\])\s*=\s*clib_host_to_net_u16\s*\((\w+)\)",
                                 body):
        if var in local:
            out.setdefault(local[var], []).append(field)
    for field, macro in re.findall(r"(?:sam->|\.)(\w+)\s*=\s*(SIP_ALG_\w+)\s*[;,]", body):
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
