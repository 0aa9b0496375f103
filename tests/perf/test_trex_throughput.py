# SPDX-License-Identifier: Apache-2.0
"""TRex throughput check (tier perf): the plugin in VPP with NAT44-ED, loaded by a TRex server
over memif (perf/trex/). Runs wherever a TRex server is found (perf/trex/locate.py: TREX_PATH,
else the standard places) and VPP is installed; skips with the reason otherwise. .ci/run sets
SIPALG_REQUIRE_TREX=1 when it finds TRex, and SIPALG_REQUIRE_VPP=1 when it finds VPP: then
a skip here is a failure.

One `perf/trex/run.py --ci` run (its own process: TRex's client brings its own scapy and yaml)
does, in about half a minute:
  udp64  1,000 inside UDP flows, a fixed low load ALG on and off (a sample captured on the
         outside), then a short NDR/PDR search (MLRsearch, 2-3 trials), ALG on
  sip    8 calls set up (INVITE/200/ACK) and checked on the wire; RTP both ways through the
         pinholes plus 20 new INVITEs/s at a fixed low load, ALG on and off; BYE/200
  calls  whole calls (INVITE+SDP, 200 OK+SDP, ACK, BYE, 200 OK) from a PBX behind a static
         mapping, 200 calls/s for 3 s, ALG on: every message through, every call created
         and closed by the ALG, nothing left
The tests assert what happened to the packets and in the ALG, never a rate."""

import json
import os
import subprocess
import sys

import pytest

import vpp_harness as h

RUN = os.path.join(h.ROOT, "perf", "trex", "run.py")
LOCATE = os.path.join(h.ROOT, "perf", "trex", "locate.py")
CALLS, LOAD, SECONDS = 8, 20000, 3.0
CALL_RATE = 200  # whole calls/s of the calls check


def _required(var):
    return os.environ.get(var) == "1"


def _not_here(why, var, skipped=""):
    if _required(var):
        pytest.fail(f"{why}, although {var}=1 (.ci/run found it)")
    pytest.skip(why + skipped)


@pytest.fixture(scope="module")
def ci(tmp_path_factory):
    r = subprocess.run([sys.executable, LOCATE], capture_output=True, text=True)
    if r.returncode != 0:
        _not_here(r.stdout.strip(), "SIPALG_REQUIRE_TREX",
                  ": the TRex throughput test is skipped")
    prefix, why = h.find_vpp()
    if not prefix:
        _not_here(why, "SIPALG_REQUIRE_VPP")
    if os.geteuid() != 0:
        _not_here("TRex (DPDK) needs root", "SIPALG_REQUIRE_TREX")
    if not h.find_plugin():
        subprocess.run(["make", "-C", h.ROOT, "plugin", f"VPP_PREFIX={prefix}"], check=True)
    out = tmp_path_factory.mktemp("trex") / "ci.json"
    cmd = [sys.executable, RUN, "--ci", "--json", str(out), "--calls", str(CALLS),
           "--ci-load", str(LOAD), "--ci-seconds", str(SECONDS),
           "--ci-call-rate", str(CALL_RATE)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        log, _ = p.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        p.terminate()  # run.py stops TRex and VPP on SIGTERM
        log, _ = p.communicate(timeout=60)
        pytest.fail("perf/trex/run.py --ci took over 240 s:\n" + log[-5000:])
    print(log)
    assert p.returncode == 0, log[-5000:]
    return json.loads(out.read_text())["ci"]


def no_loss(trial):
    assert trial["tx"] > 0 and not trial["generator_short"], trial
    assert trial["rx"] == trial["tx"] and trial["loss_ratio"] == 0, trial


@pytest.mark.parametrize("alg", ["alg_on", "alg_off"])
def test_udp_flows_translated_without_loss(ci, alg):
    u = ci["udp64"]
    t = u[alg]
    no_loss(t)
    assert t["tx"] >= LOAD * SECONDS
    # what reached the outside port left from the NAT address, none from an inside one
    s = t["sample"]
    assert s["captured"] > 0 and s["from_nat_address"] == s["captured"], s
    assert s["inside_source_left"] == 0
    assert u["nat_sessions"] >= u["flows"] == 1000


def test_quick_search_finds_a_no_drop_rate(ci):
    s = ci["udp64"]["search"]
    assert s["trials"] >= 2
    # the search starts at half the load just measured without loss: that is a lower bound
    assert s["ndr"] is not None and s["ndr"] >= LOAD / 2, s
    assert s["pdr"] >= s["ndr"], s


def test_calls_set_up_through_the_alg(ci):
    st = ci["sip"]["setup"]
    for k in ("invites_translated", "ok_reached_caller", "acks_out",
              "rtp_out2in_reached_caller", "rtp_in2out_from_pinhole"):
        assert st[k] == CALLS, (k, st)
    c = st["counters"]
    assert c["calls_created"] == CALLS and c["held"] == CALLS
    assert c["sip"] == c["rewritten"] == 3 * CALLS  # INVITE, 200 OK, ACK
    # per call an RTP and an RTCP pinhole, per caller a signaling one, the callee's records
    assert c["pinhole_added"] >= 3 * CALLS
    assert "pinhole_failed" not in c and "parse_error" not in c


def test_sip_mix_alg_on(ci):
    t = ci["sip"]["alg_on"]
    no_loss(t)
    g, c = t["groups"], t["counters"]
    # outside RTP to the pinholes' public ports reached the inside, all of it
    assert g["rtp_in"]["tx"] > 0 and g["rtp_in"]["rx"] == g["rtp_in"]["tx"]
    assert g["rtp_out"]["rx"] == g["rtp_out"]["tx"] > 0
    # every new INVITE went through the ALG and was rewritten; RTP did not touch its SIP path
    assert g["invite"]["tx"] > 0
    assert c["sip"] == c["rewritten"] == g["invite"]["tx"], (c, g)
    assert c.get("calls_created", 0) >= 1 and c.get("pinhole_added", 0) >= 2
    assert "parse_error" not in c and "pinhole_failed" not in c


def test_sip_mix_alg_off(ci):
    t = ci["sip"]["alg_off"]
    no_loss(t)
    g = t["groups"]
    # the calls' NAT sessions carry RTP on; the ALG saw nothing
    assert g["rtp_in"]["rx"] == g["rtp_in"]["tx"] > 0
    assert g["invite"]["rx"] == g["invite"]["tx"] > 0
    assert t["counters"].get("sip", 0) == t["counters"].get("rewritten", 0) == 0, t["counters"]


def test_calls_torn_down(ci):
    td = ci["sip"]["teardown"]
    assert td["byes_out"] == CALLS and td["bye_ok_reached_caller"] == CALLS
    assert td["counters"]["calls_closed"] == CALLS
    assert td["rtp_pinholes_left"] == 0


def test_whole_calls_through_the_alg(ci):
    t = ci["calls"]
    n = round(CALL_RATE * SECONDS)
    assert t["alg"] and t["calls"] == n and not t["generator_short"], t
    # every message of every call reached the other side
    for kind, g in t["groups"].items():
        assert g["tx"] == g["rx"] == n, (kind, g)
    c = t["counters"]
    # the ALG made a record of every call and closed every one, each message rewritten
    assert c["calls_created"] == c["calls_closed"] == n, c
    assert c["sip"] == c["rewritten"] == 5 * n, c
    # media pinholes (RTP and RTCP) for each call's PBX side, all gone with the call; the
    # PBX's signaling is the operator's static mapping: no pinhole for it
    assert t["main_thread"]["nat_add"] == t["main_thread"]["nat_del"] == 2 * n, t["main_thread"]
    assert c.get("pinhole_added", 0) == c.get("pinhole_removed", 0) > 0, c
    for k in ("pinhole_failed", "no_media_port", "max_calls", "parse_error", "pinhole_expired"):
        assert k not in c, (k, c)
    assert t["calls_left"] == t["entries_left"] == t["pinhole_mappings_left"] == 0, t
    assert t["alg_failed_calls"] == 0 and t["loss_ratio"] == 0 and t["passed"]
