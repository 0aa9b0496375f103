# SPDX-License-Identifier: Apache-2.0
"""Tier 1: one shape per section of settings (timeouts, limits, security, media), packet
generator VPP.

Each section is one C struct set whole by one setter, the only place a value is accepted or
refused; its API set message (sip_alg_set_timeouts_v2, _limits_v2, _security_v2,
sip_alg_set_media) and its CLI command (`set sip-alg timeouts|limits|security|media`) go
through it: a value out of bounds is refused naming the field and the value (the set reply's
error string, the CLI's error) and nothing changes; what is taken reads back through the
section's get message, get_config and `show sip-alg config`. The deprecated messages and the
older CLI spellings fill the section from the current values and call the same setter: an odd
first media port is refused there too, not rounded down.
"""

import pytest

from sipalgctl import vpp as V

import vpp_harness as h

INVALID_VALUE = -7  # VNET_API_ERROR_INVALID_VALUE


def client(t):
    return V.Client(f"{t.vpp.dir}/api.sock", t.vpp.prefix, plugin_path=h.PLUGIN_DIR)


def padded(addrs):
    return list(addrs) + ["0.0.0.0"] * (16 - len(addrs))


def get(c, section):
    """The section's get reply as {field: value} (addresses as text, the used ones)."""
    r = c.call(f"sip_alg_get_{section}")
    out = {k: getattr(r, k) for k in r._fields if k not in ("_0", "context", "retval")}
    if "addresses" in out:
        out["addresses"] = [str(a) for a in out["addresses"][:out["n_addresses"]]]
    return out


# section -> (set message, values taken, [(field, value out of bounds, the error's text)])
SECTIONS = {
    "timeouts": ("sip_alg_set_timeouts_v2",
                 dict(signaling=30, media=20, call=3600, media_inactivity=3, max_duration=0,
                      one_way_media=2),
                 [("media", 0, "media 0: want 1..604800"),
                  ("signaling", 604801, "signaling 604801: want 1..604800"),
                  ("media_inactivity", 86401, "media_inactivity 86401: want 0 (off) or 1..86400"),
                  ("one_way_media", 3601, "one_way_media 3601: want 0 (off) or 1..3600")]),
    "limits": ("sip_alg_set_limits_v2",
               dict(max_calls=2000, max_held=16, media_port_lo=40000, media_port_hi=40003,
                    tcp_reassembly=1024),
               [("max_calls", 16777217, "max_calls 16777217: want 1..16777216"),
                ("max_held", 0, "max_held 0: want 1..1048576"),
                ("tcp_reassembly", 65536, "tcp_reassembly 65536: want 1024..65535"),
                ("media_port_lo", 40001, "media_ports 40001-40003: want an even first port, "
                                         "1024 <= lo < hi <= 65535, at least 4 ports")]),
    "security": ("sip_alg_set_security_v2",
                 dict(max_inbound_calls=7, max_inbound_per_source=3, max_binding_time=60,
                      max_entries=100, max_entries_per_call=4, inside_port_lo=2000,
                      inside_port_hi=3000, max_calls_per_host=5, max_entries_per_host=50),
                 [("max_entries_per_call", 3, "max_entries_per_call 3: want 4..4294967295"),
                  ("max_inbound_calls", 0, "max_inbound_calls 0: want 1..4294967295"),
                  ("inside_port_lo", 1023, "inside_media_ports 1023-3000: want 1024 <= lo "
                                           "<= hi <= 65535")]),
    "media": ("sip_alg_set_media",
              dict(other_hosts=True, n_addresses=1, addresses=padded(["203.0.113.20"])),
              [("addresses", padded(["224.0.0.5"]),
                "addresses: 224.0.0.5: a multicast address")]),
}


def wanted(section, values):
    """What the get reply says after values were set."""
    out = dict(values)
    if "addresses" in out:
        out["addresses"] = [a for a in out["addresses"][:out["n_addresses"]]]
    return out


@pytest.mark.parametrize("section", list(SECTIONS))
def test_set_message_round_trips_and_refuses_naming_the_field(pgnat02, section):
    """The section's set message: taken values read back through its get message; each value
    out of bounds refused (INVALID_VALUE) with the field and the value in the reply's error,
    the section left as it was."""
    msg, good, bad = SECTIONS[section]
    with client(pgnat02) as c:
        before = get(c, section)
        assert before != wanted(section, good)
        c.call(msg, **good)
        assert get(c, section) == wanted(section, good)
        for field, value, why in bad:
            with pytest.raises(V.ApiError) as e:
                c.call(msg, **dict(good, **{field: value}))
            assert e.value.retval == INVALID_VALUE, (field, e.value)
            assert str(e.value) == f"{msg} failed: retval {INVALID_VALUE}: {why}"
            assert get(c, section) == wanted(section, good)


# (command, the error it gives, what `show sip-alg config` shows before and after)
CLI_REFUSED = [
    ("timeouts one-way-media 3601", "timeouts: invalid value: one_way_media 3601: want 0 "
     "(off) or 1..3600", "one-way-media 5 "),
    ("timeouts signaling 604801", "timeouts: invalid value: signaling 604801: want "
     "1..604800", "timeouts signaling 120 "),
    ("limits max-held 0", "limits: invalid value: max_held 0: want 1..1048576",
     "max-held 512 per thread"),
    ("limits max-held 1048577", "limits: invalid value: max_held 1048577: want 1..1048576",
     "max-held 512 per thread"),
    ("limits media-ports 40001-40005", "limits: invalid value: media_ports 40001-40005: "
     "want an even first port", "media-ports 40000-59999 "),
    ("limits tcp-reassembly 1023", "limits: invalid value: tcp_reassembly 1023: want "
     "1024..65535", "(reassembly 16384 bytes"),
    ("security max-entries-per-call 3", "security: invalid value: max_entries_per_call 3: "
     "want 4..4294967295", "max-entries-per-call 24 "),
    ("media addresses 224.0.0.5", "media: invalid value: addresses: 224.0.0.5: a multicast "
     "address", "media-addresses none"),
    # the older spellings go through the same setter: no rounding of an odd first port
    ("media-ports 40001-40005", "media-ports: invalid value: media_ports 40001-40005: want "
     "an even first port", "media-ports 40000-59999 "),
    ("max-held 0", "max-held: invalid value: max_held 0: want 1..1048576",
     "max-held 512 per thread"),
]


@pytest.mark.parametrize("cmd, err, shown", CLI_REFUSED, ids=[c[0] for c in CLI_REFUSED])
def test_cli_refuses_naming_the_field(pgnat02, cmd, err, shown):
    v = pgnat02.vpp
    assert shown in v.cli("show sip-alg config")
    out = v.cli(f"set sip-alg {cmd}")
    assert err in out, (cmd, out)
    assert shown in v.cli("show sip-alg config")


def test_cli_sections_round_trip(pgnat02):
    """Each section's command, some of its keywords: the others keep their values; the
    values read back through the section's get message and show config."""
    t = pgnat02
    v = t.vpp
    v.cli_ok("set sip-alg limits max-held 16 max-calls 2000")
    v.cli_ok("set sip-alg timeouts one-way-media 2 media-inactivity 3")
    v.cli_ok("set sip-alg security max-calls-per-host 5 inside-media-ports 2000-3000")
    v.cli_ok("set sip-alg media addresses 203.0.113.20 203.0.113.21 other-hosts on")
    with client(t) as c:
        assert get(c, "limits") == dict(max_calls=2000, max_held=16, media_port_lo=40000,
                                        media_port_hi=59999, tcp_reassembly=16384)
        assert get(c, "timeouts") == dict(signaling=120, media=60, call=7200,
                                          media_inactivity=3, max_duration=43200,
                                          one_way_media=2)
        sec = get(c, "security")
        assert (sec["max_calls_per_host"], sec["max_entries_per_host"], sec["inside_port_lo"],
                sec["inside_port_hi"], sec["max_entries_per_call"]) == (5, 0, 2000, 3000, 24)
        assert get(c, "media") == dict(other_hosts=True, n_addresses=2,
                                       addresses=["203.0.113.20", "203.0.113.21"])
        g = c.call("sip_alg_get_config")  # kept, the same values
        assert (g.max_calls, g.one_way_media, g.max_calls_per_host, g.media_other_hosts,
                g.n_media_addresses) == (2000, 2, 5, True, 2)
    text = v.cli("show sip-alg config")
    for line in ("max-held 16 per thread", "max-calls 2000 per worker", "one-way-media 2 ",
                 "media-other-hosts on", "media-addresses 203.0.113.20 (0 in use) "
                 "203.0.113.21 (0 in use)"):
        assert line in text, (line, text)
    v.cli_ok("set sip-alg media addresses none")  # other-hosts stays
    with client(t) as c:
        assert get(c, "media") == dict(other_hosts=True, n_addresses=0, addresses=[])


def test_deprecated_messages_fill_the_section_and_use_its_setter(pgnat02):
    """The deprecated set messages still work, each changing its part of the section only,
    and refuse what the section's setter refuses: an odd first media port (it was rounded
    down), a media inactivity timer past its bound (it was taken)."""
    with client(pgnat02) as c:
        c.call("sip_alg_set_host_limits", max_calls_per_host=9, max_entries_per_host=90)
        c.call("sip_alg_set_security", max_inbound_calls=7, max_inbound_per_source=3,
               max_binding_time=60, max_entries=100, max_entries_per_call=4,
               inside_port_lo=2000, inside_port_hi=3000)
        sec = get(c, "security")
        assert (sec["max_inbound_calls"], sec["max_calls_per_host"],
                sec["max_entries_per_host"]) == (7, 9, 90)  # the host limits kept
        c.call("sip_alg_set_tcp", reassembly=4096)
        c.call("sip_alg_set_limits", max_calls=3000, media_port_lo=40000, media_port_hi=40011)
        assert get(c, "limits") == dict(max_calls=3000, max_held=512, media_port_lo=40000,
                                        media_port_hi=40011, tcp_reassembly=4096)
        with pytest.raises(V.ApiError) as e:
            c.call("sip_alg_set_limits", max_calls=3000, media_port_lo=40001,
                   media_port_hi=40011)
        assert e.value.retval == INVALID_VALUE
        assert get(c, "limits")["media_port_lo"] == 40000
        c.call("sip_alg_set_one_way_media", one_way_media=0)
        with pytest.raises(V.ApiError) as e:
            c.call("sip_alg_set_call_timers", media_inactivity=86401, max_duration=0)
        assert e.value.retval == INVALID_VALUE
        assert get(c, "timeouts") == dict(signaling=120, media=60, call=7200,
                                          media_inactivity=120, max_duration=43200,
                                          one_way_media=0)
        c.call("sip_alg_set_media_policy", other_hosts=True)
        c.call("sip_alg_set_media_addresses", n_addresses=1,
               addresses=padded(["203.0.113.22"]))
        assert get(c, "media") == dict(other_hosts=True, n_addresses=1,
                                       addresses=["203.0.113.22"])
