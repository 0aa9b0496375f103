# SPDX-License-Identifier: Apache-2.0
"""Tier 2, deployment (issue 14, item 3): two tenants in VRFs with the same inside network.

  ns tenant a: phone 192.168.1.1 -- veth -- VPP host-<a> 192.168.1.254, table 10 "tenant-a"
  ns tenant b: phone 192.168.1.1 -- veth -- VPP host-<b> 192.168.1.254, table 20 "tenant-b"
                                           NAT44-ED 203.0.113.10 tenant-vrf 10,
                                                    203.0.113.11 tenant-vrf 20, SIP ALG
  ns outside: 203.0.113.2 -- veth -- VPP host-<out> 203.0.113.1 (table 0)
              proxy 198.51.100.1 (Kamailio), B 198.51.100.2: bob on 5062 (RTP 7000) and
              carol on 5064 (RTP 7100), two sipp user agents

Each tenant's table also has the route out through the outside interface (NAT44-ED looks
the inside's packets of a flow the outside started through a static mapping, such as media
that comes before the phone's, up in the tenant's table; without it they are dropped there).

Both phones have the same address, SIP port (2000), RTP port (6000) and even Call-ID, and
call at the same time through the proxy: tenant a's phone bob, tenant b's carol. Each call
has media both ways (counted at the phone and at B), leaves with its tenant's public address,
has its pinholes in its tenant's table (the server map's VPN column, NAT44-ED's static
mappings with vrf 10 and vrf 20, sipalgctl show) and nothing of one tenant reaches the
other's namespace.

- test_tenants, 0 and 2 workers: VPP configured on its CLI;
- test_tenants_example: mgmt/examples/tenants.yaml brought up by `sipalgctl up` on the test's
  veths (the example as it is but for its interfaces' host_if and vpp.runtime_dir); apply
  takes a tenant's table away, renames the other and brings both back (VPP as the YAML says
  after each, plan has nothing to do), then the calls (plan has nothing to do mid-call too:
  the ALG's pinholes are not configuration), then `sipalgctl down`."""

import json
import os
import re
import subprocess
import sys
import time

import pytest
import yaml

import vpp_harness as h
from capture import (Capture, assert_flow, assert_silent, finish, first_sip, floor, rtp_seqs,
                     talk_seconds)
from deploy import (ExampleTopo, find, kamailio, rtp, scenario, sdp, server_map_emptied,
                    sip_messages, sipp, tail)
from topo import Topo, _seq, ctl, sh, topo_fixture

PUB_A, PUB_B = "203.0.113.10", "203.0.113.11"
PHONE_SIP, PHONE_RTP = 2000, 6000
# tenant -> (table, name, the callee its phone calls, the callee's SIP and RTP ports)
TENANTS = {"a": (10, "tenant-a", "bob", 5062, 7000), "b": (20, "tenant-b", "carol", 5064, 7100)}
PUB = {"a": PUB_A, "b": PUB_B}
CALL_ID = "tenant-call@%s"  # sipp's -cid_str: the same Call-ID from both phones
# The calls are uac.xml's as it is, 6 s of media after the ACK: time for sipalgctl show
# mid-call (a few seconds on a small machine where VPP's workers poll).

PROXY_CFG = """#!KAMAILIO
# Record-routing proxy on 198.51.100.1:5060: INVITEs for carol to 198.51.100.2:5064, all
# others to 198.51.100.2:5062; in-dialog requests along their route to the Request-URI.
listen=udp:198.51.100.1:5060
children=1
disable_tcp=yes
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (has_totag()) { loose_route(); t_relay(); exit; }
  record_route();
  if ($rU == "carol") { $du = "sip:198.51.100.2:5064"; } else { $du = "sip:198.51.100.2:5062"; }
  t_relay();
}
"""


def ctls(*runs):
    """sipalgctl with each of runs (argument lists) at once, as ctl() runs it (mid-call: one
    after the other would outlast the calls); their outputs, in order."""
    procs = [subprocess.Popen([sys.executable, "-m", "sipalgctl.cli", *args], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for args in runs]
    out = []
    for args, p in zip(runs, procs):
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, f"sipalgctl {' '.join(args)} -> {p.returncode}\n{stderr}"
        out.append(stdout)
    return out


class TenantTopo(Topo):
    """topo.py's namespaces, the inside one being tenant a's, plus tenant b's namespace and
    veth (named as topo.py names its inside ones, so that remove_leftovers finds them)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        pid, seq = os.getpid(), next(_seq) % 100
        self.ns_b = f"sipalg-in-{pid}-{seq}"
        self.if_b, self.if_b_vpp = f"sai{seq}_{pid}", f"sav{seq}_{pid}"

    def _setup(self):
        sh("ip", "netns", "del", self.ns_b, check=False)
        sh("ip", "netns", "add", self.ns_b)
        self.run_in(self.ns_b, "ip", "link", "set", "lo", "up")
        sh("ip", "link", "add", self.if_b, "type", "veth", "peer", "name", self.if_b_vpp)
        sh("ip", "link", "set", self.if_b, "netns", self.ns_b)
        sh("ip", "link", "set", self.if_b_vpp, "up")
        self.run_in(self.ns_b, "ip", "link", "set", self.if_b, "up")
        self.run_in(self.ns_b, "ethtool", "-K", self.if_b, "tx", "off")
        self.run_in(self.ns_b, "ip", "addr", "add", f"{self.A}/24", "dev", self.if_b)
        self.run_in(self.ns_b, "ip", "route", "add", "default", "via", self.GW_IN)
        super()._setup()
        self.run_in(self.ns_out, "ip", "route", "add", f"{PUB_B}/32", "via", self.GW_OUT)

    def ns(self, tenant):
        return self.ns_in if tenant == "a" else self.ns_b

    def wait_reachable(self, timeout=15):
        super().wait_reachable(timeout)
        deadline = time.time() + timeout
        while self.run_in(self.ns_b, "ping", "-c1", "-W1", self.GW_IN,
                          check=False).returncode != 0:
            if time.time() > deadline:
                raise AssertionError(f"{self.ns_b} cannot reach VPP at {self.GW_IN}")
            time.sleep(0.2)

    def configure_vpp(self):
        v = self.vpp
        v.start()
        a, b, out = (f"host-{i}" for i in (self.if_in_vpp, self.if_b_vpp, self.if_out_vpp))
        for c in [f"create host-interface name {i}" for i in (self.if_in_vpp, self.if_b_vpp,
                                                               self.if_out_vpp)] + [
            "ip table add 10 name tenant-a",
            "ip table add 20 name tenant-b",
            f"set interface ip table {a} 10",
            f"set interface ip table {b} 20",
            f"set int ip address {a} {self.GW_IN}/24",
            f"set int ip address {b} {self.GW_IN}/24",
            f"set int ip address {out} {self.GW_OUT}/24",
        ] + [f"set int state {i} up" for i in (a, b, out)] + [
            f"ip route add 198.51.100.0/24 via {self.OUT_HOST} {out}",
            # the tenants' routes out: NAT44-ED looks the inside's packets of a flow the
            # outside started through a static mapping (a pinhole) up in the tenant's table
            f"ip route add 198.51.100.0/24 table 10 via {self.OUT_HOST} {out}",
            f"ip route add 198.51.100.0/24 table 20 via {self.OUT_HOST} {out}",
            "nat44 plugin enable sessions 10000",
            f"nat44 add address {PUB_A} tenant-vrf 10",
            f"nat44 add address {PUB_B} tenant-vrf 20",
            f"set interface nat44 in {a} in {b} out {out}",
        ] + [f"set sip-alg interface {i}" for i in (a, b, out)]:
            got = v.cli(c).strip()
            if got and not got.startswith("host-"):
                raise h.VPPError(f"{c}: {got}")

    def __exit__(self, *exc):
        try:
            super().__exit__(*exc)
        finally:
            sh("ip", "netns", "del", self.ns_b, check=False)
            sh("ip", "link", "del", self.if_b_vpp, check=False)


class TenantExampleTopo(TenantTopo, ExampleTopo):
    """tenants.yaml brought up by sipalgctl on the tenant topology's veths."""

    HOST_IFS = {"inside-a": "if_in_vpp", "inside-b": "if_b_vpp", "outside": "if_out_vpp"}


@pytest.fixture(params=(0, 2), ids=("0w", "2w"))
def tenant_topo(e2e_prefix, request):
    yield from topo_fixture(e2e_prefix, request, cls=TenantTopo, workers=request.param)


# --- the calls ------------------------------------------------------------------------------

SMAP = re.compile(r"ANY -> ([\d.]+):(\d+)(?:\[([\d.]+:\d+)\])?, Protocol: (\w+)\(Appro: "
                  r"([\w-]+)\), Left-Time: [\d:]+, VPN: (\S+) -> (\S+)$")


def smap_entries(lines):
    """`show sip-alg server-map` as (public address, public port, inside endpoint or None,
    app, outside table name, inside table name) tuples; every line must parse."""
    out = []
    for line in lines:
        m = SMAP.search(line)
        assert m, f"server-map line not understood: {line}"
        out.append((m[1], int(m[2]), m[3], m[5], m[6], m[7]))
    return out


def pinhole(entries, tenant, app, port=PHONE_RTP):
    """The public (address, port) of tenant's pinhole of 192.168.1.1:port for app, or None."""
    name = TENANTS[tenant][1]
    for pub, pport, inside, a, _, vpn in entries:
        if inside == f"{Topo.A}:{port}" and a == app and vpn == name:
            return pub, pport
    return None


class Calls:
    """What the two calls saw: exit codes (uac: the phones a and b, uas: bob and carol), the
    counters' deltas, mid-call `show sip-alg server-map` (smap), `show nat44 static
    mappings` (static), `show sip-alg calls` (calls) and extra()'s answer, the packets of
    each namespace (pkts: a, b, out), the server map and static mappings after the calls."""


def tenant_calls(t, tmp, extra=None):
    """Both phones (192.168.1.1:2000, RTP 6000, Call-ID tenant-call@192.168.1.1) call at the
    same time through the proxy: tenant a's bob, tenant b's carol. extra(): more of the
    mid-call snapshot, once both calls' media pinholes are there. Returns Calls."""
    r = Calls()
    kamailio(t, tmp, PROXY_CFG)
    pcap = {k: os.path.join(tmp, f"{k}.pcap") for k in ("a", "b", "out")}
    caps = [Capture(t, t.ns_in, t.if_in, pcap["a"]),
            Capture(t, t.ns_b, t.if_b, pcap["b"]),
            Capture(t, t.ns_out, t.if_out, pcap["out"])]
    n0 = t.vpp.counters()
    uas = [sipp(t, t.ns_out, tmp, f"uas-{user}", scenario(tmp, "uas.xml", f"uas-{user}"),
                "-i", t.B, "-p", str(sip), "-mi", t.B, "-mp", str(rtp_port), listen=True)
           for _, _, user, sip, rtp_port in TENANTS.values()]
    xml = scenario(tmp, "uac.xml", "uac")
    r.talk = talk_seconds(xml)
    uac = [sipp(t, t.ns(k), tmp, f"uac-{k}", xml, f"{t.PROXY}:5060", "-s", user, "-i", t.A,
                "-p", str(PHONE_SIP), "-mi", t.A, "-mp", str(PHONE_RTP), "-cid_str", CALL_ID)
           for k, (_, _, user, _, _) in TENANTS.items()]
    deadline = time.time() + 3
    while True:
        time.sleep(0.3)
        r.smap = t.server_map()
        entries = smap_entries(r.smap)
        if all(pinhole(entries, k, "sip-rtp") for k in TENANTS) or time.time() > deadline:
            break
    r.static, r.calls = t.static_mappings(), t.vpp.cli("show sip-alg calls")
    r.extra = extra() if extra else None
    r.uac = [p.wait(40) for p in uac]
    r.uas = [p.wait(10) for p in uas]
    r.counters = {k: v - n0[k] for k, v in t.vpp.counters().items()}
    r.pkts = dict(zip(("a", "b", "out"), finish(caps)))
    r.smap_after, r.static_after = server_map_emptied(t), t.static_mappings()
    return r


TO = re.compile(rb"^To: *(?:\"[^\"]*\" *)?<sip:([^@>]+)@", re.M | re.I)


def belongs(p, tenant):
    """Whether a UDP packet seen in a tenant's namespace is of that tenant's call: SIP with
    the proxy to its callee (the To header's user), or media with its callee's ports."""
    from scapy.all import IP, UDP
    _, _, user, _, rtp_port = TENANTS[tenant]
    ends = {(p[IP].src, p[UDP].sport), (p[IP].dst, p[UDP].dport)}
    if (Topo.PROXY, 5060) in ends and (Topo.A, PHONE_SIP) in ends:
        to = TO.findall(bytes(p[UDP].payload))
        return to == [user.encode()]
    return ends in ({(Topo.A, PHONE_RTP), (Topo.B, rtp_port)},
                    {(Topo.A, PHONE_RTP + 1), (Topo.B, rtp_port + 1)})


def check_tenant_calls(t, r, tmp):
    from scapy.all import IP, UDP
    logs = "".join(tail(tmp, n) for n in ("uac-a", "uac-b", "uas-bob", "uas-carol"))
    assert r.uac + r.uas == [0, 0, 0, 0], f"calls failed {r.uac + r.uas}\n{logs}"
    assert (r.counters["calls_created"], r.counters["pinhole_failed"]) == (2, 0), r.counters
    entries = smap_entries(r.smap)
    # each tenant's pinholes on its own public address, in its own table
    for pub, port, inside, app, outside, vpn in entries:
        assert outside == "public", r.smap
        if inside:
            assert vpn == {PUB_A: "tenant-a", PUB_B: "tenant-b"}[pub], r.smap
    port = {k: pinhole(entries, k, "sip-rtp") for k in TENANTS}
    assert port["a"] and port["b"], f"media pinholes mid-call: {r.smap}"
    assert (port["a"][0], port["b"][0]) == (PUB_A, PUB_B)
    assert pinhole(entries, "a", "sip-rtcp", PHONE_RTP + 1) == (PUB_A, port["a"][1] + 1)
    assert pinhole(entries, "b", "sip-rtcp", PHONE_RTP + 1) == (PUB_B, port["b"][1] + 1)
    # the callee's media endpoint, recorded in the table of the tenant that talks to it
    for k, (_, name, _, _, rtp_port) in TENANTS.items():
        assert (t.B, rtp_port, None, "sip-rtp", "public", name) in entries, r.smap
    # the ALG's static mappings of each tenant's phone, in its table
    for k, (table, *_) in TENANTS.items():
        want = f"UDP local {t.A}:{PHONE_RTP} external {PUB[k]}:{port[k][1]} vrf {table}"
        assert want in r.static, r.static
    for line in r.static:
        assert (f"external {PUB_A}:" in line) == line.endswith(" vrf 10"), r.static
        assert (f"external {PUB_B}:" in line) == line.endswith(" vrf 20"), r.static
    # two call records of the one Call-ID, one per table
    recs = [l for l in r.calls.splitlines() if f"Call-ID: {CALL_ID % t.A}," in l]
    assert sorted(re.search(r"VPN: (\S+ -> \S+)", l)[1] for l in recs) == \
        ["public -> tenant-a", "public -> tenant-b"], r.calls
    # what left: each call with its tenant's public address in SIP and SDP, no inside address
    out = r.pkts["out"]
    msgs = sip_messages(out, (5060,))
    for k, (_, _, user, _, rtp_port) in TENANTS.items():
        invites = find(msgs, f"INVITE sip:{user}@".encode(), dst=t.PROXY)
        assert invites and {s for s, d, m in msgs if m in invites} == {PUB[k]}, msgs
        assert {sdp(m) for m in invites} == {(PUB[k], PUB[k], port[k][1])}, invites
        # media both ways: at B from the tenant's pinhole (until the call's BYE: the phone's
        # RTP after it leaves as any flow NAT44-ED makes), at the phone from B
        bye = min(p.time for p in out if UDP in p and p[IP].src == PUB[k] and
                  bytes(p[UDP].payload).startswith(b"BYE sip:"))
        to_b = rtp(out, dst=(t.B, rtp_port))
        assert {(p[IP].src, p[UDP].sport) for p in to_b if p.time < bye} == {port[k]}
        assert {p[IP].src for p in to_b} == {PUB[k]}
        # each way: what was sent before the call's BYE (the phone's side of VPP or B's),
        # what arrived on the other side
        bye = min(float(bye), first_sip(r.pkts[k], b"BYE "))
        assert_flow(f"RTP tenant {k}'s phone->B",
                    rtp_seqs(r.pkts[k], src=(t.A, PHONE_RTP), dst=(t.B, rtp_port), before=bye),
                    rtp_seqs(to_b), floor(r.talk))
        assert_flow(f"RTP B->tenant {k}'s phone", rtp_seqs(out, src=(t.B, rtp_port), before=bye),
                    rtp_seqs(r.pkts[k], src=(t.B, rtp_port), dst=(t.A, PHONE_RTP)),
                    floor(r.talk))
    for _, _, m in msgs:
        assert b"192.168.1." not in m, m
    # nothing of one tenant in the other's namespace (whose capture shows its own call)
    for k in TENANTS:
        stray = [p for p in r.pkts[k] if IP in p and UDP in p and not belongs(p, k)]
        assert_silent(f"in tenant {k}'s namespace, packets not of its call", stray, r.pkts[k])
    # BYE removed both calls' entries and mappings
    assert r.smap_after == [] and r.static_after == [], (r.smap_after, r.static_after)


def test_tenants(tenant_topo, tmp_path):
    t, tmp = tenant_topo, str(tmp_path)
    api = os.path.join(t.vpp.dir, "api.sock")

    stats = os.path.join(t.vpp.dir, "stats.sock")

    def shown():
        """sipalgctl show server-map (JSON and text), calls and session-table (JSON),
        mid-call."""
        return ctls(["--socket", api, "--json", "show", "server-map"],
                    ["--socket", api, "show", "server-map"],
                    ["--socket", api, "--json", "show", "calls"],
                    ["--socket", api, "--json", "show", "session-table", "--stats-socket",
                     stats])
    r = tenant_calls(t, tmp, shown)
    check_tenant_calls(t, r, tmp)
    smap_json, smap_text, calls, sessions = r.extra
    smap_json, calls = json.loads(smap_json), json.loads(calls)
    sessions = json.loads(sessions)["sessions"]
    # sipalgctl's view: the same entries, the tables by id and name
    rtp_entries = {(e["public"], e["inside_vrf"], e["inside_vpn"], e["outside_vrf"], e["vpn"])
                   for e in smap_json if e["app"] == "sip-rtp" and e["inside"]}
    want = {(f"{PUB[k]}:{pinhole(smap_entries(r.smap), k, 'sip-rtp')[1]}", table, name, 0,
             f"public -> {name}") for k, (table, name, *_) in TENANTS.items()}
    assert rtp_entries == want, smap_json
    # sipalgctl's text is VPP's (the Left-Time aside: a moment later)
    def same(line):
        return re.sub(r"Left-Time: [\d:]+", "", line)
    shown_lines = {same(l) for l in smap_text.splitlines()}
    for line in r.smap:
        if "sip-rtp" in line and "[" in line:
            assert same(line) in shown_lines, (line, smap_text)
    assert sorted((c["call_id"], c["inside_vrf"], c["vpn"]) for c in calls) == [
        (CALL_ID % t.A, 10, "public -> tenant-a"), (CALL_ID % t.A, 20, "public -> tenant-b")]
    # NAT44-ED's sessions of each phone's media, tagged by its tenant's entries
    media = sorted((x["inside_vrf"], x["public"], x["remote"], x["app"], x["vpn"])
                   for x in sessions if x["inside"] == f"{t.A}:{PHONE_RTP}")
    assert media == [(table, "{}:{}".format(*pinhole(smap_entries(r.smap), k, "sip-rtp")),
                      f"{t.B}:{rtp_port}", "sip-rtp", f"public --> {name}")
                     for k, (table, name, _, _, rtp_port) in TENANTS.items()], sessions


def _yaml(t, edit):
    """The test's tenants.yaml with edit(data) applied, written beside it; its path."""
    with open(t.cfg) as f:
        data = yaml.safe_load(f)
    edit(data)
    path = t.cfg.replace(".yaml", "-changed.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(data, f)
    return path


def fib_tables(t):
    """The names of VPP's IPv4 tables, from its CLI."""
    return sorted(re.findall(r"^(\S+), fib_index:\d+", t.vpp.cli("show ip fib summary"), re.M))


def drop_b(d):
    """tenant-b's table gone: its interface in the default table, its address any table's."""
    del d["vrfs"]["tenant-b"]
    del d["interfaces"]["inside-b"]["vrf"]
    d["nat44"]["pool"][1] = PUB_B
    d["routes"] = [r for r in d["routes"] if r.get("vrf") != "tenant-b"]


def rename_a(d):
    """tenant-a's table renamed customer-a."""
    d["vrfs"]["customer-a"] = d["vrfs"].pop("tenant-a")
    d["interfaces"]["inside-a"]["vrf"] = "customer-a"
    d["nat44"]["pool"][0]["vrf"] = "customer-a"
    for r in d["routes"]:
        if r.get("vrf") == "tenant-a":
            r["vrf"] = "customer-a"


def test_tenants_example(e2e_prefix, tmp_path):
    tmp = str(tmp_path)
    with TenantExampleTopo(e2e_prefix, tmp, "tenants.yaml") as t:
        assert fib_tables(t) == ["ipv4-VRF:0", "tenant-a", "tenant-b"]
        # apply: tenant-b's table away (its interface into the default table), then back
        # and tenant-a's renamed, then as the example says; each applied as the YAML says
        # (apply plans again and fails if anything is left) and planned as nothing to do
        for edit, tables in ((drop_b, ["ipv4-VRF:0", "tenant-a"]),
                             (rename_a, ["customer-a", "ipv4-VRF:0", "tenant-b"]),
                             (None, ["ipv4-VRF:0", "tenant-a", "tenant-b"])):
            path = _yaml(t, edit) if edit else t.cfg
            ctl("apply", path)
            assert ctl("plan", path).stdout.strip() == "nothing to do"
            assert fib_tables(t) == tables, t.vpp.cli("show ip fib summary")
        interfaces = t.vpp.cli("show interface addr")
        assert interfaces.count("L3 192.168.1.254/24") == 2, interfaces
        t.wait_reachable()

        def shown():
            """sipalgctl show server-map and calls, and plan (the ALG's pinholes, static
            mappings in the tenants' tables, are not configuration), mid-call."""
            return ctls(["show", "server-map", t.cfg], ["--json", "show", "calls", t.cfg],
                        ["plan", t.cfg])
        r = tenant_calls(t, tmp, shown)
        check_tenant_calls(t, r, tmp)
        smap_text, calls = r.extra[0], json.loads(r.extra[1])
        assert r.extra[2].strip() == "nothing to do", r.extra[2]
        for k, (table, name, *_) in TENANTS.items():
            pub, port = pinhole(smap_entries(r.smap), k, "sip-rtp")
            assert (f"ANY -> {pub}:{port}[{t.A}:{PHONE_RTP}], Protocol: udp(Appro: sip-rtp)"
                    in smap_text), smap_text
            assert re.search(rf"ANY -> {re.escape(pub)}:{port}\[.*VPN: public -> {name}$",
                             smap_text, re.M), smap_text
        assert sorted(c["inside_vpn"] for c in calls) == ["tenant-a", "tenant-b"], calls
        t.down()
