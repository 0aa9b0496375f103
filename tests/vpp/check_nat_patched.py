# SPDX-License-Identifier: Apache-2.0
"""The NAT44-ED patch of vpp-plugin/patches/ (docs/performance.md, "A patched NAT44-ED"):
an index from each port static mapping to the sessions it made, so that deleting the
mapping deletes them without walking the session pool.

Not collected with the vpp tier (the file name does not start with test_): it needs the
patched nat_plugin.so, built from VPP's source (`make nat-patched VPP_SRC=...`), which CI
does not have. `make test-nat-patched` builds it and runs this file; SIPALG_NAT_PLUGIN_DIR
names another build (VPP's own plugin directory: these checks against stock NAT44-ED, where
the first one fails: stock deletes only the first session of a port mapping)."""

import os
import re
import time

import pytest

import sipmsgs as S
import vpp_harness as h
from pgnat import PgNat
from scapy.all import IP, UDP
from test_pg import wait_for
from test_pg_call_life import Call

RTP = b"\x80\x00" + bytes(170)
B2 = "198.51.100.7"  # a second outside host sending to the same pinhole
NAT_DIR = (os.environ.get("SIPALG_NAT_PLUGIN_DIR") or
           os.path.join(h.ROOT, "build", "nat-patched", "lib", "vpp_plugins"))


@pytest.fixture(params=(0, 2), ids=("0w", "2w"))
def patched(vpp_prefix, request):
    if not os.path.exists(os.path.join(NAT_DIR, "nat_plugin.so")):
        pytest.fail(f"no nat_plugin.so in {NAT_DIR}: make nat-patched VPP_SRC=<VPP source>")
    why = h.workers_unavailable(request.param)
    if why:
        pytest.skip(why)
    with PgNat(vpp_prefix, workers=request.param, nat_plugin_dir=NAT_DIR) as t:
        loaded = t.vpp.loaded_nat_plugin()
        assert loaded and os.path.dirname(loaded) == os.path.abspath(NAT_DIR), loaded
        yield t
        t.failed = h.failed_test(request)


def sessions_of(t, port):
    """NAT44-ED's sessions whose outside port is port: [(external host, static)]."""
    out = t.vpp.cli("show nat44 sessions")
    found = []
    for block in re.split(r"\n(?=    i2o )", out):
        if re.search(rf"o2i \S+ proto UDP port {port} ", block):
            ext = re.search(r"external host (\S+)", block)
            found.append((ext and ext.group(1), "static translation" in block))
    return found


def from_outside(t, src, pub, count):
    return t.send("pg1", [t.udp("pg1", src, S.B_RTP, S.PUB, pub, RTP)], "pg0", count)


def test_call_end_deletes_every_media_session(patched):
    """Media from the answerer and from a second outside host makes two NAT44-ED sessions on
    A's RTP pinhole; the BYE deletes the pinhole and both sessions, so neither host reaches
    A afterwards. (Stock NAT44-ED deletes the first session only: B2's stays, and reaches A
    for the UDP timeout.)"""
    t = patched
    c = Call(t)
    pub = c.establish()
    for src in (S.B, B2):
        got = from_outside(t, src, pub, 1)
        assert [(g[IP].dst, g[UDP].dport) for g in got] == [(S.A, S.A_RTP)]
    assert sorted(sessions_of(t, pub)) == [(f"{S.B}:{S.B_RTP}", True), (f"{B2}:{S.B_RTP}", True)]
    c.bye(2)
    assert wait_for(lambda: not sessions_of(t, pub), timeout=5.0), sessions_of(t, pub)
    for src in (S.B, B2):
        assert from_outside(t, src, pub, 0) == []
    assert t.counters()["pinhole_removed"] == t.counters()["pinhole_added"]


def test_nat_port_mapping_delete_deletes_its_sessions_only(patched):
    """NAT44-ED's own port mapping (no ALG involved): sessions from two outside hosts, one
    of them deleted by hand first (it leaves the mapping's list), then the mapping deleted:
    its other session goes, the phone's dynamic session and another mapping's stay."""
    t = patched
    v = t.vpp
    v.cli_ok(f"nat44 add static mapping udp local {S.A} 7000 external {S.PUB} 47000")
    v.cli_ok(f"nat44 add static mapping udp local {S.A} 7002 external {S.PUB} 47002")
    for src in (S.B, B2, "198.51.100.8"):
        assert len(from_outside(t, src, 47000, 1)) == 1
    assert len(from_outside(t, S.B, 47002, 1)) == 1
    a = t.send("pg0", [t.udp("pg0", S.A, 7100, S.B, 7100, RTP)], "pg1", 1)
    dyn = a[0][UDP].sport
    assert len(sessions_of(t, 47000)) == 3
    v.cli_ok(f"nat44 del session in {S.A}:7000 udp external-host {B2}:{S.B_RTP}")
    assert len(sessions_of(t, 47000)) == 2
    v.cli_ok(f"nat44 add static mapping udp local {S.A} 7000 external {S.PUB} 47000 del")
    assert sessions_of(t, 47000) == []
    assert sessions_of(t, 47002) == [(f"{S.B}:{S.B_RTP}", True)]
    assert sessions_of(t, dyn) == [(f"{S.B}:7100", False)]
    assert from_outside(t, S.B, 47000, 0) == []
    # the mapping made again (its pool index reused) starts with no session
    v.cli_ok(f"nat44 add static mapping udp local {S.A} 7004 external {S.PUB} 47004")
    v.cli_ok(f"nat44 add static mapping udp local {S.A} 7004 external {S.PUB} 47004 del")
    assert sessions_of(t, 47002) == [(f"{S.B}:{S.B_RTP}", True)]


def test_address_only_mapping_keeps_stock_behaviour(patched):
    """An address-only mapping is not indexed: its delete walks the pool as before and
    deletes the sessions it made."""
    t = patched
    v = t.vpp
    v.cli_ok(f"ip neighbor pg0 192.168.1.9 {t.A_MAC}")
    v.cli_ok(f"nat44 add static mapping local 192.168.1.9 external 203.0.113.20")
    got = t.send("pg0", [t.udp("pg0", "192.168.1.9", 7200, S.B, 7200, RTP)], "pg1", 1)
    assert got[0][IP].src == "203.0.113.20"
    assert "203.0.113.20" in v.cli("show nat44 sessions")
    v.cli_ok(f"nat44 add static mapping local 192.168.1.9 external 203.0.113.20 del")
    assert wait_for(lambda: "203.0.113.20" not in v.cli("show nat44 sessions"), timeout=2.0)


def test_many_calls_then_all_gone(patched):
    """20 calls with media from two hosts each, ended: no static session or mapping left
    (every list emptied and freed)."""
    t = patched
    for i in range(20):
        c = Call(t, name=f"call-{i}")
        pub = c.establish(rtp=10000 + 2 * i)
        for src in (S.B, B2):
            assert len(from_outside(t, src, pub, 1)) == 1
        c.bye(2)
    assert wait_for(lambda: "static translation" not in t.vpp.cli("show nat44 sessions"),
                    timeout=5.0)
    assert " external " not in t.vpp.cli("show nat44 static mappings")
    c = t.counters()
    assert c["calls_closed"] == c["calls_created"] == 20
