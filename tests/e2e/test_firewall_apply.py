# SPDX-License-Identifier: Apache-2.0
"""The firewall section against a live VPP: `sipalgctl up` on the test's veths with a
deny-by-default firewall, then VPP's own view of it (`show acl-plugin acl`, `show acl-plugin
interface`), traffic through it (the inside reaches the outside and gets its answers back
through the reflect session; the outside reaches nothing; an outbound rule drops what it
names), apply twice = nothing, a rule changed = the ACL replaced in place, an ACL of the
operator's own (made on VPP's CLI) kept through apply, after sipalgctl's, and the firewall
turned off removing sipalgctl's ACLs and only them. ACLs after sipalgctl's are never reached
(each of sipalgctl's ends in its default): an address the operator's ACL denies gets in
while the firewall lets it, and is dropped once the firewall is off."""

import json
import os
import re
import subprocess

import yaml

from sipalgctl import vpp as V
from topo import Topo, ctl

HERE = os.path.dirname(os.path.abspath(__file__))
OUTBOUND, INBOUND, REFLECT = "sipalgctl:outbound", "sipalgctl:inbound", "sipalgctl:reflect"
BLOCKED = "198.51.100.66"  # an outside address the operator's own ACL denies


def write_config(t, path, runtime_dir, firewall):
    """The seed topology on the test's veths (as in firewall.yaml), with this firewall."""
    cfg = {
        "vpp": {"runtime_dir": runtime_dir, "buffers": 8192, "main_heap": "512M"},
        "interfaces": {
            "inside": {"type": "af_packet", "host_if": t.if_in_vpp,
                       "address": f"{t.GW_IN}/24", "role": "inside"},
            "outside": {"type": "af_packet", "host_if": t.if_out_vpp,
                        "address": f"{t.GW_OUT}/24", "role": "outside"},
        },
        "routes": [{"prefix": "198.51.100.0/24", "via": t.OUT_HOST, "interface": "outside"}],
        "nat44": {"pool": [t.PUB]},
        "sip_alg": {"ports": {"udp": [5060, 5062]}},
        "firewall": firewall,
    }
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    return path


FIREWALL = {
    "sessions": 20000,
    "outbound": {"default": "permit", "rules": [
        # the inside may not ping B (and may ping anyone else)
        {"action": "deny", "proto": "icmp", "dst": "198.51.100.2/32", "icmp_type": 8,
         "tag": "no-ping-b"},
        {"action": "deny", "proto": "tcp", "dport": 25, "tag": "no-smtp"}]},
    "inbound": {"default": "deny"},
}


class Vpp:
    """VPP's CLI at the runtime directory sipalgctl up used."""

    def __init__(self, prefix, run):
        self.vppctl, self.sock = os.path.join(prefix, "bin", "vppctl"), f"{run}/cli.sock"

    def cli(self, cmd):
        r = subprocess.run([self.vppctl, "-s", self.sock, cmd], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0, f"{cmd}: {r.stderr}"
        return r.stdout

    def acls(self):
        """`show acl-plugin acl`: {index: (tag, [rule lines without their number])}"""
        out, cur = {}, None
        for line in self.cli("show acl-plugin acl").splitlines():
            m = re.match(r"acl-index (\d+) count (\d+) tag \{(.*)\}", line)
            if m:
                cur = int(m.group(1))
                out[cur] = (m.group(3), [])
            elif cur is not None and re.match(r"\s+\d+: ", line):
                out[cur][1].append(line.split(": ", 1)[1].strip())
        return out

    def by_tag(self):
        return {tag: i for i, (tag, _) in self.acls().items()}

    def sw_if_index(self, name):
        m = re.search(rf"^{re.escape(name)}\s+(\d+)\s", self.cli("show interface"), re.M)
        assert m, f"no interface {name}"
        return int(m.group(1))

    def bindings(self, name):
        """`show acl-plugin interface sw_if_index N`: (input ACLs, output ACLs)"""
        out = self.cli(f"show acl-plugin interface sw_if_index {self.sw_if_index(name)}")

        def acls(d):
            m = re.search(rf"{d} acl\(s\): ([\d, ]+)", out)
            return tuple(int(x) for x in m.group(1).replace(",", " ").split()) if m else ()
        return acls("input"), acls("output")


def pings(t, ns, dst, tries, src=None):
    """Whether one of `tries` pings (1 s each) from namespace ns reaches dst."""
    for _ in range(tries):
        if t.run_in(ns, "ping", "-c1", "-W1", *(("-I", src) if src else ()), dst,
                    check=False).returncode == 0:
            return True
    return False


def nothing_to_do(cfg):
    assert ctl("plan", cfg).stdout.strip() == "nothing to do"
    assert ctl("apply", cfg).stdout.strip() == "nothing to do"


def test_firewall_apply(e2e_prefix, tmp_path):
    with Topo(e2e_prefix, start_vpp=False) as t:
        run = str(tmp_path / "run")
        cfg = write_config(t, str(tmp_path / "fw.yaml"), run, FIREWALL)
        assert "firewall on: outbound permit + 2 rules, inbound deny + 0 rules" in \
            ctl("check", cfg).stdout
        vin, vout = f"host-{t.if_in_vpp}", f"host-{t.if_out_vpp}"
        try:
            up = ctl("up", cfg).stdout
            assert f"tag {INBOUND}" in up and f"interface {vout} output acl " in up
            v = Vpp(e2e_prefix, run)
            assert "acl-plugin { connection count max 20000 }" in open(
                f"{run}/startup.conf").read()
            with V.Client(f"{run}/api.sock", e2e_prefix) as c:  # firewall.sessions
                assert c.call("acl_plugin_get_conn_table_max_entries").conn_table_max_entries \
                    == 20000

            # VPP's view: three ACLs, rules in the YAML's order, the default last
            acls = v.acls()
            tags = v.by_tag()
            assert sorted(tags) == [INBOUND, OUTBOUND, REFLECT]
            assert acls[tags[OUTBOUND]][1] == [
                "ipv4 deny src 0.0.0.0/0 dst 198.51.100.2/32 proto 1 sport 8 dport 0-255",
                "ipv4 deny src 0.0.0.0/0 dst 0.0.0.0/0 proto 6 sport 0-65535 dport 25",
                "ipv4 permit src 0.0.0.0/0 dst 0.0.0.0/0 proto 0 sport 0-65535 dport 0-65535"]
            assert acls[tags[INBOUND]][1] == [
                "ipv4 deny src 0.0.0.0/0 dst 0.0.0.0/0 proto 0 sport 0-65535 dport 0-65535"]
            assert acls[tags[REFLECT]][1] == [
                "ipv4 permit+reflect src 0.0.0.0/0 dst 0.0.0.0/0 proto 0 sport 0-65535 "
                "dport 0-65535"]
            assert v.bindings(vin) == ((tags[OUTBOUND],), ())
            assert v.bindings(vout) == ((tags[INBOUND],), (tags[REFLECT],))
            nothing_to_do(cfg)

            # traffic: the inside's flows get their answers back, the outside gets nowhere,
            # the outbound rule drops what it names
            assert pings(t, t.ns_in, t.GW_IN, 10)
            assert pings(t, t.ns_in, t.OUT_HOST, 10), "no answer through the reflect ACL"
            assert not pings(t, t.ns_out, t.GW_OUT, 2), "inbound default deny let a ping in"
            assert not pings(t, t.ns_in, t.B, 2), "outbound rule no-ping-b did not drop"
            assert pings(t, t.ns_in, "198.51.100.1", 5)  # the proxy: no rule against it
            sessions = v.cli("show acl-plugin sessions")
            added = re.search(r"Sessions total: add (\d+)", sessions)
            assert added and int(added.group(1)) >= 1, sessions
            table = json.loads(ctl("--json", "show", "session-table", cfg).stdout)
            assert any(s["protocol"] == "icmp" and s["inside"].startswith(f"{t.A}:")
                       and s["public"].startswith(f"{t.PUB}:") for s in table["sessions"])
            assert set(table["policy_verdicts"]) == {"gate_pass", "gate_miss"}

            # a rule changed: the ACL replaced in place (same index, still bound)
            opened = dict(FIREWALL, inbound={"default": "deny", "rules": [
                {"action": "permit", "proto": "icmp", "dst": f"{t.GW_OUT}/32", "icmp_type": 8,
                 "tag": "ping-vpp"}]})
            cfg2 = write_config(t, str(tmp_path / "fw2.yaml"), run, opened)
            plan = ctl("plan", cfg2).stdout.splitlines()
            assert plan[0] == (
                f"set acl-plugin acl index {tags[INBOUND]} permit src 0.0.0.0/0 "
                f"dst {t.GW_OUT}/32 proto 1 sport 8 dport 0-255, deny src 0.0.0.0/0 "
                f"dst 0.0.0.0/0 tag {INBOUND}")
            assert plan[1:] == ["  # rules 0: firewall.inbound.rules[0] (ping-vpp); "
                                "1: firewall.inbound.default deny"]
            ctl("apply", cfg2)
            assert v.by_tag() == tags
            assert v.bindings(vout) == ((tags[INBOUND],), (tags[REFLECT],))
            assert pings(t, t.ns_out, t.GW_OUT, 10), "the new inbound rule did not let a ping in"
            nothing_to_do(cfg2)

            # an ACL of the operator's: it stays, after sipalgctl's, in its place
            made = v.cli(f"set acl-plugin acl deny src {BLOCKED}/32 dst 0.0.0.0/0, "
                         "permit src 0.0.0.0/0 dst 0.0.0.0/0 tag operator")
            mine = int(re.search(r"ACL index:(\d+)", made).group(1))
            v.cli(f"set acl-plugin interface {vout} input acl {mine}")
            v.cli(f"set acl-plugin interface {vout} output acl {mine}")
            # and in front of sipalgctl's on the inside: apply puts sipalgctl's first
            v.cli(f"set acl-plugin interface {vin} input acl {tags[OUTBOUND]} del")
            v.cli(f"set acl-plugin interface {vin} input acl {mine}")
            assert v.bindings(vin) == ((mine,), ())
            assert ctl("plan", cfg2).stdout.splitlines() == [
                f"set acl-plugin interface {vin} input acl {mine} del; "
                f"set acl-plugin interface {vin} input acl {tags[OUTBOUND]}; "
                f"set acl-plugin interface {vin} input acl {mine}"]
            ctl("apply", cfg2)
            assert v.bindings(vin) == ((tags[OUTBOUND], mine), ())
            assert v.bindings(vout) == ((tags[INBOUND], mine), (tags[REFLECT], mine))
            operator = ("operator", [
                f"ipv4 deny src {BLOCKED}/32 dst 0.0.0.0/0 proto 0 sport 0-65535 "
                "dport 0-65535",
                "ipv4 permit src 0.0.0.0/0 dst 0.0.0.0/0 proto 0 sport 0-65535 dport 0-65535"])
            assert v.acls()[mine] == operator
            nothing_to_do(cfg2)
            # VPP takes the first match along the list, and sipalgctl's ACL ends in its
            # default: the operator's deny for this address is never reached
            t.run_in(t.ns_out, "ip", "addr", "add", f"{BLOCKED}/32", "dev", "lo")
            assert pings(t, t.ns_out, t.GW_OUT, 10, src=BLOCKED)

            # the firewall off: sipalgctl's ACLs unbound and deleted, the operator's kept
            off = write_config(t, str(tmp_path / "off.yaml"), run, {"enabled": False})
            plan = ctl("plan", off).stdout.splitlines()
            assert plan == [
                f"set acl-plugin interface {vin} input acl {tags[OUTBOUND]} del",
                f"set acl-plugin interface {vout} input acl {tags[INBOUND]} del; "
                f"set acl-plugin interface {vout} output acl {tags[REFLECT]} del",
            ] + [x for i, tag in sorted((i, tag) for tag, i in tags.items())
                 for x in (f"delete acl-plugin acl index {i}",
                           f"  # {tag}, no longer configured")]
            ctl("apply", off)
            assert v.acls() == {mine: operator}
            assert v.bindings(vin) == ((mine,), ())
            assert v.bindings(vout) == ((mine,), (mine,))
            nothing_to_do(off)
            assert pings(t, t.ns_out, t.GW_OUT, 10), "still filtered with the firewall off"
            assert not pings(t, t.ns_out, t.GW_OUT, 2, src=BLOCKED)  # now the operator's ACL

            # and on again: new ACLs, first, before the operator's
            ctl("apply", cfg)
            tags = v.by_tag()
            assert sorted(tags) == ["operator", INBOUND, OUTBOUND, REFLECT]
            assert v.bindings(vout) == ((tags[INBOUND], mine), (tags[REFLECT], mine))
            nothing_to_do(cfg)
        finally:
            down = ctl("down", cfg, check=False)
        assert down.returncode == 0 and "stopped" in down.stdout
