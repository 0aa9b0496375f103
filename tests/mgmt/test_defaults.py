# SPDX-License-Identifier: Apache-2.0
"""sipalgctl's defaults are defined once (sipalgctl/defaults.py) and are the plugin's: every
constant there that stands for a plugin default or bound equals the header's macro, so that a
change on either side fails here; the configuration model and its dataclasses take theirs
from defaults.py."""

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
    """The bounds the setters enforce (sip_alg.c), and the reassembly maximum, SIP_MAX_MSG_LEN."""
    m = macros("sip_alg.h", os.path.join("core", "sip_types.h"))
    assert D.TCP_REASSEMBLY_MAX == m["SIP_MAX_MSG_LEN"]
    assert D.INSIDE_PORT_MIN == m["SIP_ALG_INSIDE_PORT_LO"]
    src = open(os.path.join(PLUGIN, "sip_alg.c")).read()
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
    """A YAML that leaves sip_alg out, the dataclasses' own defaults and the models' defaults
    are one set of values: defaults.py's."""
    alg, sec = config.SipAlg(), config.Security()
    assert (alg.udp_ports, alg.signaling, alg.media, alg.call, alg.max_calls, alg.media_ports,
            alg.media_inactivity, alg.max_duration, alg.tcp_reassembly) == (
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
    assert cfg.vpp == config.VppSettings()
    assert cfg.nat.sessions == D.NAT_SESSIONS == config.Nat().sessions
    # the models say the same
    assert config.LimitsModel().media_ports == D.MEDIA_PORTS
    assert config.SecurityModel().max_entries == D.MAX_ENTRIES
    assert config.TimeoutsModel().max_duration == D.MAX_DURATION
