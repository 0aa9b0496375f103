# SPDX-License-Identifier: Apache-2.0
"""The firewall section as VPP ACL plugin rules (acl_types.api: vl_api_acl_rule_t).

sipalgctl owns the ACLs whose tag starts with "sipalgctl:" and no others:

  sipalgctl:outbound  input ACL of every role:inside interface (firewall.outbound)
  sipalgctl:inbound   input ACL of every role:outside interface (firewall.inbound)
  sipalgctl:reflect   output ACL of every role:outside interface: one permit+reflect rule for
                      any traffic, so that every flow leaving (post-NAT) opens a session that
                      lets its return traffic in through a deny-by-default inbound policy.

A policy's rules come first, in order (first match wins), its default last (any -> any).
Rules are compared with what VPP reports (acl_dump) as AclRule values, so an ACL is replaced
only when its rules differ."""

from dataclasses import dataclass
from typing import Tuple

TAG_PREFIX = "sipalgctl:"
OUTBOUND, INBOUND, REFLECT = (TAG_PREFIX + t for t in ("outbound", "inbound", "reflect"))
TAGS = (OUTBOUND, INBOUND, REFLECT)
NO_ACL = 0xFFFFFFFF  # acl_add_replace: create; acl_dump: all

ACTION = {"deny": 0, "permit": 1, "permit+reflect": 2}  # vl_api_acl_action_t
ACTION_NAME = {v: k for k, v in ACTION.items()}
ANY = "0.0.0.0/0"
ALL_PORTS = (0, 65535)
ALL_ICMP = (0, 255)  # ICMP type and code ranges sit in the port fields
TCP, UDP, ICMP = 6, 17, 1


@dataclass(frozen=True)
class AclRule:
    """One rule as the ACL plugin stores it."""
    action: int  # 0 deny, 1 permit, 2 permit+reflect
    src: str = ANY
    dst: str = ANY
    proto: int = 0  # 0: any (ports are not looked at)
    sport: Tuple[int, int] = ALL_PORTS  # ICMP: type range
    dport: Tuple[int, int] = ALL_PORTS  # ICMP: code range
    tcp_flags_mask: int = 0
    tcp_flags_value: int = 0

    def cli(self):
        """The rule in `set acl-plugin acl` syntax (VPP's defaults left out)."""
        s = f"{ACTION_NAME.get(self.action, f'action {self.action}')} src {self.src} " \
            f"dst {self.dst}"
        if self.proto:
            s += f" proto {self.proto}"
        for k, (a, b) in (("sport", self.sport), ("dport", self.dport)):
            if (a, b) != ALL_PORTS:
                s += f" {k} {a}" if a == b else f" {k} {a}-{b}"
        if self.tcp_flags_mask:
            s += f" tcpflags {self.tcp_flags_value} mask {self.tcp_flags_mask}"
        return s

    def api(self):
        """vl_api_acl_rule_t"""
        return {"is_permit": self.action, "src_prefix": self.src, "dst_prefix": self.dst,
                "proto": self.proto,
                "srcport_or_icmptype_first": self.sport[0],
                "srcport_or_icmptype_last": self.sport[1],
                "dstport_or_icmpcode_first": self.dport[0],
                "dstport_or_icmpcode_last": self.dport[1],
                "tcp_flags_mask": self.tcp_flags_mask, "tcp_flags_value": self.tcp_flags_value}

    @classmethod
    def from_api(cls, r):
        """From an acl_details rule (vpp_papi: enums, ip_network prefixes)."""
        return cls(int(r.is_permit), str(r.src_prefix), str(r.dst_prefix), int(r.proto),
                   (r.srcport_or_icmptype_first, r.srcport_or_icmptype_last),
                   (r.dstport_or_icmpcode_first, r.dstport_or_icmpcode_last),
                   r.tcp_flags_mask, r.tcp_flags_value)


def encode(rule):
    """A config.FwRuleModel as an AclRule: ports only for udp and tcp, ICMP type and code ranges
    (default any: 0-255) for icmp; any protocol: every port."""
    if rule.proto in (TCP, UDP):
        sport, dport = rule.sport or ALL_PORTS, rule.dport or ALL_PORTS
    elif rule.proto == ICMP:
        sport, dport = rule.icmp_type or ALL_ICMP, rule.icmp_code or ALL_ICMP
    else:
        sport, dport = ALL_PORTS, ALL_PORTS
    return AclRule(ACTION[rule.action], str(rule.src), str(rule.dst), rule.proto, sport, dport)


def default_rule(action):
    return AclRule(ACTION[action])


def policy_rules(policy):
    """A config.FwPolicyModel as the ACL's rules: its rules, then the default."""
    return tuple(encode(r) for r in policy.rules) + (default_rule(policy.default),)


def policy_note(path, policy):
    """Which ACL rule is which YAML rule, for the plan (VPP's ACLs keep no rule names)."""
    parts = [f"{n}: {path}.rules[{n}]" + (f" ({r.tag})" if r.tag else "")
             for n, r in enumerate(policy.rules)]
    parts.append(f"{len(policy.rules)}: {path}.default {policy.default}")
    return "; ".join(parts)


def wanted(fw):
    """{tag: (rules, note)} of the ACLs the firewall section asks for; {} when it is off."""
    if not fw.enabled:
        return {}
    return {
        OUTBOUND: (policy_rules(fw.outbound), policy_note("firewall.outbound", fw.outbound)),
        INBOUND: (policy_rules(fw.inbound), policy_note("firewall.inbound", fw.inbound)),
        REFLECT: ((default_rule("permit+reflect"),),
                  "0: every flow leaving an outside interface opens a session for its return "
                  "traffic"),
    }


def bindings(fw, role):
    """(input tags, output tags) sipalgctl puts first on an interface of this role."""
    if not fw.enabled:
        return (), ()
    if role == "inside":
        return (OUTBOUND,), ()
    if role == "outside":
        return (INBOUND,), (REFLECT,)
    return (), ()
