#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Source mutation run over the VPP nodes' decisions (vpp-plugin/sip_alg/*.c outside
core/): does the VPP tier notice when a decision of the node is wrong?

Unlike tests/mutation/mutate.py (every token of the core, its fast C and pytest tests), each
mutant here needs a plugin build and a private VPP, so the mutants are a fixed, reviewed list
(MUTANTS below): the decision points of sip-alg-pre's fast test and gate, sip-alg-post, the
message path's media refusals and limits, the server map's close, delete and aging, the TCP
path's sequence and ack mapping, fragments, the media port pool and the configuration
setters' bounds. Each names its file, the exact original snippet (found exactly once, else
the run stops before it starts), the mutated snippet, why the decision matters, and the
pytest selection under tests/vpp expected to kill it (node ids; 0 workers where the test is
parametrised).

The run: the worktree's vpp-plugin is copied into a scratch directory and built there
against VPP (cmake and ninja, as `make plugin`, the build directory in the scratch
directory). One mutant at a time, its file is written mutated into the scratch copy, ninja
rebuilds what it changes, the plugin is kept in a directory of its own, and the file is
written back as it was. Then the unmutated plugin runs every selection once, all in one
pytest run: all must pass, else a selection is wrong and nothing is run against a mutant.
Then each mutant's selection runs with SIPALG_PLUGIN_DIR naming its plugin, under
`timeout`, --batch mutants one after the other under one hold of `flock
/tmp/vpp-test.lock` (VPP tests share the machine: one wait for the lock per batch, a hold
of about a minute). A mutant is "killed" when a test fails or the selection runs over
--timeout, "survived" when every test passes, "invalid" when it does not build. A mutant
whose plugin is byte for byte the unmutated one (the compiler made the same code) survives
without a run and is marked so. The score is killed / (killed + survived).

Usage: tests/mutation/node_mutate.py [--only ID,...] [--json OUT] [--list] [--timeout S]
       [--batch N] [--vpp-prefix DIR] [--keep]
The tree is never modified.
"""

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PLUGIN = os.path.join(ROOT, "vpp-plugin")
LOCK = "/tmp/vpp-test.lock"


def M(id, file, old, new, why, select):
    return {"id": id, "file": file, "old": old, "new": new, "why": why, "select": select}


V = "tests/vpp/"
BOUNDS = V + "test_pg_deploy.py::test_setters_refuse_values_out_of_bounds"
MUTANTS = [
    # --- sip-alg-pre: the fast test (ports, fragments, TCP/UDP, STUN) and the gate ---------
    M("pre-fragment-look", "sip_alg_pre.c",
      "clib_bitmap_get_no_check (look, ports >> 16) | ip4_is_fragment (ip);",
      "clib_bitmap_get_no_check (look, ports >> 16);",
      "the fast test picks fragments whatever their first bytes: without it a fragment after "
      "the first (SIP text where the ports would be) skips reassembly and the datagram is lost",
      [V + "test_pg.py::test_fragmented_sip_reassembled_and_rewritten[0w]"]),
    M("pre-gate-media-range-top", "sip_alg_pre.c",
      "(u16) (clib_net_to_host_u16 (dport) - sam->limits.media_port_lo) <=",
      "(u16) (clib_net_to_host_u16 (dport) - sam->limits.media_port_lo) <",
      "the media range's last port is the gate's like any other (a miss counted and traced)",
      [V + "test_pg_firewall.py::test_media_range_ends_meet_the_gate[0w]"]),
    M("pre-tcp-source-port", "sip_alg_pre.c",
      "if (!(sip_alg_is_sip_tcp_port (sam, tcp->dst_port) ||\n"
      "\t    sip_alg_is_sip_tcp_port (sam, tcp->src_port)))",
      "if (!(sip_alg_is_sip_tcp_port (sam, tcp->dst_port)))",
      "a TCP segment from a SIP port (the answers on a connection to the proxy) is SIP too: "
      "without it the answers pass unmapped (acks, sequence numbers, the SIP inside)",
      [V + "test_pg_tcp.py::test_answer_rewritten_towards_inside[0w]"]),
    M("pre-stun-port", "sip_alg_pre.c",
      "if (udp->dst_port != clib_host_to_net_u16 (SIP_ALG_STUN_PORT))",
      "if (udp->dst_port == clib_host_to_net_u16 (SIP_ALG_STUN_PORT))",
      "a STUN request to 3478 is stashed so sip-alg-post learns the phone's own mapping "
      "(the media it then announces at its public address is opened)",
      [V + "test_pg_nataware.py::test_own_mapping_left_and_opened[0w]"]),
    M("pre-gate-only-before-acl", "sip_alg_pre.c",
      "if (gate && *next0 == sam->pre_next_acl)",
      "if (gate)",
      "the gate judges only packets whose next feature is the ACL's input node: on an "
      "outside interface without the ACL it must stay out of the way",
      [V + "test_pg_firewall.py::test_without_acl_no_gate_verdicts[0w]"]),
    M("pre-gate-live-entry", "sip_alg_pre.c",
      "if (ei == ~0)\n    return SIP_ALG_GATE_MISS;",
      "if (ei != ~0)\n    return SIP_ALG_GATE_MISS;",
      "the verdict: a live pinhole passes the ACL, a port without one is left to it",
      [V + "test_pg_firewall.py::test_silent_caller_gets_media_through_the_policy[0w]"]),
    M("pre-inside-media-counted", "sip_alg_pre.c",
      "if (clib_bitmap_get_no_check (sam->inside_ports, udp->src_port))\n    in =",
      "if (0)\n    in =",
      "media from the inside end of a pinhole is activity (media inactivity timer): without "
      "it a call whose inside party alone speaks loses its media",
      [V + "test_pg_call_life.py::test_inside_media_alone_keeps_the_call_active[0w]"]),
    # --- the gate's state (main thread) --------------------------------------------------
    M("gate-entry-deleted", "sip_alg_smap.c",
      "  sip_alg_ix_del (sam, e - sam->smap, SIP_ALG_IX_PUB);\n",
      "\n",
      "an entry deleted (BYE, aging) leaves the gate's table: else its public port keeps "
      "passing the ACL after the call",
      [V + "test_pg_firewall.py::test_closed_after_bye[0w]"]),
    M("index-resize-pipeline", "sip_alg_index.c",
      "sip_alg_ix_put (ix, old[i], h[i & (d - 1)]);",
      "sip_alg_ix_put (ix, old[i], h[(i + 1) & (d - 1)]);",
      "a resize places each slot under its own hash (the pipeline's ring of hashes read at "
      "the right place): else after the first growth keys are not found where they are",
      [V + "test_pg_aging.py::test_expired_calls_all_deleted[0w]"]),
    M("gate-media-range-with-acl", "sip_alg_gate.c",
      "gate_media |= acl && vnet_feature_is_enabled",
      "gate_media |= !acl && vnet_feature_is_enabled",
      "the media range is watched by the gate where the ACL guards an outside interface "
      "(misses to the range counted)",
      [V + "test_pg_firewall.py::test_miss_meets_the_policy[0w]"]),
    # --- sip-alg-post --------------------------------------------------------------------
    M("post-untouched-datagram-split", "sip_alg_post.c",
      "if (!sip_alg_stash (b)->frag_list && clib_net_to_host_u16 (ip->length) > frag_limit)",
      "if (0 && !sip_alg_stash (b)->frag_list && clib_net_to_host_u16 (ip->length) > frag_limit)",
      "a reassembled datagram the ALG passes unchanged leaves in its arrival sizes too",
      [V + "test_pg_pathmtu.py::test_untouched_datagram_fragmented_too[0w]"]),
    M("post-df-cleared", "sip_alg_post.c",
      "if (!(ip->flags_and_fragment_offset & clib_host_to_net_u16 (IP4_HEADER_FLAG_DONT",
      "if ((ip->flags_and_fragment_offset & clib_host_to_net_u16 (IP4_HEADER_FLAG_DONT",
      "a datagram the rewrite grew past the MTU with DF set has DF cleared (else dropped "
      "and resent forever)",
      [V + "test_pg.py::test_growth_past_mtu_with_df_cleared[0w]"]),
    M("msg-held-full-bound", "sip_alg_msg.c",
      "if (PREDICT_FALSE (ptd->n_held >= sam->limits.max_held))",
      "if (PREDICT_FALSE (ptd->n_held > sam->limits.max_held))",
      "max-held is the number of messages a thread may hold for their pinholes, not one more",
      [V + "test_pg_exhaustion.py::test_held_messages_bounded_then_retransmissions_served[0w]"]),
    # --- the message path: media pinhole refusals ------------------------------------------
    M("msg-privileged-port-bound", "sip_alg_msg.c",
      "if (md->port < 1024 || md->rtcp_port < 1024)",
      "if (md->port < 1023 || md->rtcp_port < 1024)",
      "every port below 1024 is a system service's: 1023 opens nothing",
      [V + "test_pg.py::test_media_port_bound_is_1024[0w]"]),
    M("msg-privileged-rtcp", "sip_alg_msg.c",
      "if (md->port < 1024 || md->rtcp_port < 1024)",
      "if (md->port < 1024)",
      "an a=rtcp naming a privileged port opens nothing either",
      [V + "test_pg.py::test_media_on_a_privileged_port_is_not_opened[0w]"]),
    M("msg-inside-range-bottom", "sip_alg_msg.c",
      "if (md->port < sam->sec.inside_port_lo || md->port > sam->sec.inside_port_hi ||",
      "if (md->port <= sam->sec.inside_port_lo || md->port > sam->sec.inside_port_hi ||",
      "inside-media-ports lo-hi allows lo itself",
      [V + "test_pg_firewall.py::test_inside_media_ports_include_their_ends[0w]"]),
    M("msg-other-hosts-policy", "sip_alg_msg.c",
      "if (!sam->media.other_hosts)",
      "if (sam->media.other_hosts)",
      "media of another inside host opens only with media-other-hosts on",
      [V + "test_workers.py::test_media_of_another_inside_host_refused_by_default[0w]"]),
    M("msg-stale-opens-nothing", "sip_alg_msg.c",
      "if (c->actions & SIP_ACT_STALE)\n\t    continue;",
      "if (0)\n\t    continue;",
      "a stale message of the inside party (its 200 resent after the BYE) opens no media",
      [V + "test_pg_retrans.py::test_callee_resends_its_200_after_the_bye[0w]"]),
    # --- inbound limits ------------------------------------------------------------------
    M("msg-inbound-per-source", "sip_alg_msg.c",
      "(*src_n && (*src_n)[0] >= sam->sec.max_inbound_per_source))",
      "(*src_n && (*src_n)[0] > sam->sec.max_inbound_per_source))",
      "max-inbound-per-source records from one outside address, not one more",
      [V + "test_pg_firewall.py::test_inbound_calls_bounded_per_source[0w]"]),
    M("msg-inbound-calls", "sip_alg_msg.c",
      "ptd->n_inbound >= sam->sec.max_inbound_calls ||",
      "ptd->n_inbound > sam->sec.max_inbound_calls ||",
      "max-inbound-calls inbound records per worker, not one more",
      [V + "test_pg_firewall.py::test_inbound_calls_bounded[0w]"]),
    M("msg-register-answer-peer", "sip_alg_msg.c",
      "(c->peer_addr.as_u32 != call->peer_addr.as_u32 ||",
      "(c->peer_addr.as_u32 != call->peer_addr.as_u32 &&",
      "an answer to a REGISTER counts only from the registrar's address and port",
      [V + "test_pg_firewall.py::test_forged_register_answer_ignored[0w]"]),
    # --- the server map: close, delete, aging, limits ---------------------------------------
    M("age-budget", "sip_alg.c",
      "aging = sip_alg_age (vm, start, budget);",
      "aging = sip_alg_age (vm, start, budget | ~0ULL);",
      "the aging pass deletes what expired in slices within the barrier budget, not all at once",
      [V + "test_pg_aging.py::test_aging_deletes_in_slices[0w]"]),
    M("smap-close-frees-call", "sip_alg_smap.c",
      "if (!req->media_only)\n    sip_alg_call_free",
      "if (req->media_only)\n    sip_alg_call_free",
      "a call's end frees its record at once; a media-only close keeps it (a BYE closes the "
      "media first, so a failure answer, which closes the call at once, shows it)",
      [V + "test_pg.py::test_failure_response_clears_the_call[0w]"]),
    M("smap-media-close-keeps-signaling", "sip_alg_smap.c",
      "(!media_only || sam->smap[i].ph.app != SIP_ALG_APP_SIP)",
      "(!media_only || sam->smap[i].ph.app == SIP_ALG_APP_SIP)",
      "media inactivity deletes the media entries, not the signaling",
      [V + "test_pg_call_life.py::test_media_inactivity_ends_the_media_not_the_call[0w]"]),
    M("smap-ringing-extends-media", "sip_alg_smap.c",
      "c->fsm.state == SIP_CALL_INVITING || c->fsm.state == SIP_CALL_EARLY)",
      "c->fsm.state == SIP_CALL_INVITING)",
      "a ringing call (early dialog) keeps its media entries past their own timeout",
      [V + "test_pg_call_life.py::test_media_entries_live_while_the_call_rings[0w]"]),
    M("smap-binding-outlives-calls", "sip_alg_smap.c",
      "if (--e->refs == 0 && !e->ph.bound)",
      "if (--e->refs == 0)",
      "a REGISTER binding's entry stays when the last call using it ends",
      [V + "test_pg.py::test_register_binding_outlives_calls[0w]"]),
    M("smap-max-duration", "sip_alg_smap.c",
      "if (!sam->timeouts.max_duration || c->fsm.state == SIP_CALL_REGISTERED ||",
      "if (sam->timeouts.max_duration || c->fsm.state == SIP_CALL_REGISTERED ||",
      "max-duration ends a call that lasts too long",
      [V + "test_pg_call_life.py::test_max_duration_ends_the_call[0w]"]),
    M("smap-one-way-both-directions", "sip_alg_smap.c",
      "if (st.packets[0] && st.packets[1])",
      "if (st.packets[0] || st.packets[1])",
      "a stream is done with (never one-way) only once media came both ways",
      [V + "test_pg_media.py::test_one_way_media_knob[0w]"]),
    M("smap-entries-per-call", "sip_alg_smap.c",
      "call->n_entries >= sam->sec.max_entries_per_call))",
      "call->n_entries > sam->sec.max_entries_per_call))",
      "max-entries-per-call entries, not one more",
      [V + "test_pg_firewall.py::test_entries_per_call_capped[0w]"]),
    # --- SIP over TCP: sequence and ack mapping ----------------------------------------------
    M("tcp-ack-mapped", "sip_alg_tcp.c",
      "if (changed)\n    tcp->ack_number = clib_host_to_net_u32 (ack);",
      "if (0)\n    tcp->ack_number = clib_host_to_net_u32 (ack);",
      "the receiver's acks are mapped back to the sender's numbers after a rewrite",
      [V + "test_pg_tcp.py::test_invite_one_segment_and_seq_ack_shift[0w]"]),
    M("tcp-seq-of-bare-ack", "sip_alg_tcp.c",
      "if (emit || h->n_corr || h->base)",
      "if (emit)",
      "a segment without data (a bare ACK, a FIN) after a rewrite carries the shifted "
      "sequence number too",
      [V + "test_pg_tcp.py::test_invite_one_segment_and_seq_ack_shift[0w]"]),
    # --- fragments -----------------------------------------------------------------------
    M("frag-whole-grows-to-1500", "sip_alg_frag.c",
      "max = clib_max (len, SIP_ALG_FRAG_WHOLE_MTU);",
      "max = len;",
      "a datagram that arrived whole may grow to 1500 bytes before it is fragmented",
      [V + "test_pg_pathmtu.py::test_small_growth_stays_whole[0w]"]),
    M("frag-more-fragments-flag", "sip_alg_frag.c",
      "(i < n - 1 ? IP4_HEADER_FLAG_MORE_FRAGMENTS : 0)",
      "(i < n - 2 ? IP4_HEADER_FLAG_MORE_FRAGMENTS : 0)",
      "every fragment but the last has MF set",
      [V + "test_pg_pathmtu.py::test_fragmented_invite_leaves_in_its_arrival_sizes[0w-1480-4000]"]),
    # --- the media port pool -------------------------------------------------------------
    M("ports-search-wraps", "sip_alg_ports.c",
      "for (u32 k = 0; k <= n_words; k++)",
      "for (u32 k = 0; k < n_words; k++)",
      "the search visits the cursor's word again at the end, so pairs below the cursor are "
      "found",
      [V + "test_pg_exhaustion.py::test_media_pool_search_comes_round_below_its_cursor[0w]"]),
    M("ports-in-use-tail", "sip_alg_ports.c",
      "n -= 64 - sam->n_media_pairs % 64; /* the bits past the range */",
      "; /* the bits past the range */",
      "pairs in use do not count the bits past the range (else media-ports is refused as "
      "in use, and show config is wrong)",
      [V + "test_pg_exhaustion.py::test_media_pool_exhausted_then_released[0w]"]),
    # --- the configuration setters' bounds ---------------------------------------------------
    M("config-media-ports-size", "sip_alg_config.c",
      "((u32) hi - lo + 1) < SIP_ALG_MEDIA_PORTS_MIN_COUNT)",
      "((u32) hi - lo + 1) < SIP_ALG_MEDIA_PORTS_MIN_COUNT - 1)",
      "a media range holds at least two pairs (four ports)",
      [BOUNDS + "[0w-media-ports 40000-40002]"]),
    M("config-tcp-reassembly", "sip_alg_config.c",
      "l->tcp_reassembly, SIP_ALG_TCP_REASSEMBLY_MIN,",
      "l->tcp_reassembly, SIP_ALG_TCP_REASSEMBLY_MIN + 1,",
      "tcp reassembly accepts 1024 bytes, its documented least",
      [BOUNDS + "[0w-tcp reassembly 1023]"]),
    M("config-entries-per-call", "sip_alg_config.c",
      "SIP_ALG_MIN_PER_CALL, ~0u, 0)))",
      "SIP_ALG_MIN_PER_CALL - 1, ~0u, 0)))",
      "max-entries-per-call is at least 4 (a call's signaling and one stream's RTP and RTCP)",
      [BOUNDS + "[0w-security max-entries-per-call 3]"]),
    M("config-media-ports-bottom", "sip_alg_config.c",
      "if (lo < SIP_ALG_MEDIA_PORT_MIN || (lo & 1)",
      "if (lo < SIP_ALG_MEDIA_PORT_MIN - 2 || (lo & 1)",
      "the media range starts at 1024 at the lowest (no pinhole on a system port)",
      [BOUNDS + "[0w-media-ports 1022-1027]"]),
    M("config-media-ports-even", "sip_alg_config.c",
      "if (lo < SIP_ALG_MEDIA_PORT_MIN || (lo & 1) || hi <= lo ||",
      "if (lo < SIP_ALG_MEDIA_PORT_MIN || hi <= lo ||",
      "the media range starts on an even port (RTP even, RTCP above): an odd one is refused, "
      "not taken (nor rounded down, as it once was)",
      [V + "test_pg_sections.py::test_cli_refuses_naming_the_field"
       "[0w-limits media-ports 40001-40005]"]),
    M("config-tcp-reassembly-top", "sip_alg_config.c",
      "SIP_MAX_MSG_LEN, 0)))",
      "SIP_MAX_MSG_LEN + 1, 0)))",
      "tcp reassembly keeps at most the largest message (65535 bytes)",
      [BOUNDS + "[0w-tcp reassembly 65536]"]),
    M("config-max-calls-top", "sip_alg_config.c",
      "l->max_calls, 1, SIP_ALG_MAX_CALLS_MAX, 0)",
      "l->max_calls, 1, SIP_ALG_MAX_CALLS_MAX + 1, 0)",
      "max-calls fits the calls dump's 24-bit cursor: 2^24 at most",
      [BOUNDS + "[0w-max-calls 16777217]"]),
    M("config-max-calls-zero", "sip_alg_config.c",
      "l->max_calls, 1, SIP_ALG_MAX_CALLS_MAX, 0)",
      "l->max_calls, 0, SIP_ALG_MAX_CALLS_MAX, 0)",
      "max-calls 0 would refuse every call record: refused",
      [BOUNDS + "[0w-max-calls 0]"]),
    M("config-timeouts-zero", "sip_alg_config.c",
      "\"media\", t->media, SIP_ALG_TIMEOUT_MIN,",
      "\"media\", t->media, 0,",
      "a media timeout of 0 would age every media entry at once: refused",
      [BOUNDS + "[0w-timeouts media 0]"]),
    M("config-rate-burst", "sip_alg_config.c",
      "if (v->rate[k].rate && v->rate[k].burst < 1)",
      "if (v->rate[k].rate && v->rate[k].burst < 0)",
      "a rate needs a burst of at least 1",
      [V + "test_pg_validation.py::test_cli_names_the_bad_input"
       "[0w-set sip-alg validation invite-rate 5 burst 0-validation]"]),
]


def check(mutants):
    """Every mutant's snippet is in its file exactly once and ids are unique; else exit."""
    bad = []
    seen = set()
    for m in mutants:
        if m["id"] in seen:
            bad.append(f"{m['id']}: id used twice")
        seen.add(m["id"])
        path = os.path.join(PLUGIN, "sip_alg", m["file"])
        n = open(path).read().count(m["old"])
        if n != 1:
            bad.append(f"{m['id']}: the snippet is found {n} times in {m['file']}, not once: "
                       f"{m['old']!r}")
    if bad:
        sys.exit("node_mutate: " + "\n  ".join(["the mutant list does not fit the source:"] + bad))


def line_of(m):
    src = open(os.path.join(PLUGIN, "sip_alg", m["file"])).read()
    return src[:src.index(m["old"])].count("\n") + 1


def build(scratch, prefix, configure=False):
    """None, or the build's first error lines."""
    src, out = os.path.join(scratch, "vpp-plugin"), os.path.join(scratch, "build")
    cmds = ([["cmake", "-G", "Ninja", "-S", src, "-B", out, f"-DCMAKE_PREFIX_PATH={prefix}"]]
            if configure else []) + [["ninja", "-C", out]]
    for cmd in cmds:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            lines = [l for l in (r.stdout + r.stderr).splitlines() if "error" in l]
            return (lines or (r.stdout + r.stderr).strip().splitlines() or ["?"])[0]
    return None


def keep_plugin(scratch, dest):
    """The scratch build's plugin and its API JSON copied into dest (a plugin directory of
    its own, for SIPALG_PLUGIN_DIR); returns the plugin's sha256."""
    os.makedirs(dest)
    so = os.path.join(scratch, "build", "lib", "vpp_plugins", "sip_alg_plugin.so")
    shutil.copy(so, dest)
    shutil.copy(os.path.join(scratch, "build", "sip_alg", "sip_alg.api.json"), dest)
    with open(so, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run_batch(scratch, runs, timeout, prefix):
    """runs: [(key, pytest args, plugin directory)], run one after the other under one hold
    of the VPP test lock (one wait for it), each under `timeout`. Returns {key: (exit code,
    output, seconds)}."""
    d = tempfile.mkdtemp(dir=scratch, prefix="batch-")
    lines = ["cd " + shlex.quote(ROOT)]
    for i, (key, args, plugin_dir) in enumerate(runs):
        cmd = ["timeout", "-k", "10", str(timeout), sys.executable, "-m", "pytest", "-q",
               "-p", "no:cacheprovider", "-p", "no:randomly", *args]
        lines += [f"date +%s.%N > {d}/t{i}",
                  f"SIPALG_PLUGIN_DIR={shlex.quote(plugin_dir)} "
                  f"{' '.join(shlex.quote(c) for c in cmd)} > {d}/out{i} 2>&1",
                  f"echo $? > {d}/rc{i}", f"date +%s.%N >> {d}/t{i}"]
    with open(os.path.join(d, "run.sh"), "w") as f:
        f.write("\n".join(lines) + "\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "mgmt"), SIPALG_REQUIRE_VPP="1",
               VPP_PREFIX=prefix, SIPALG_TIERS_FILE=os.path.join(d, "tiers.txt"))
    subprocess.run(["flock", LOCK, "sh", os.path.join(d, "run.sh")], env=env)
    got = {}
    for i, (key, _, _) in enumerate(runs):
        def read(n):
            return open(os.path.join(d, n)).read() if os.path.exists(os.path.join(d, n)) else ""
        t = [float(x) for x in read(f"t{i}").split()]
        got[key] = (int(read(f"rc{i}") or -1), read(f"out{i}"),
                    round(t[1] - t[0], 1) if len(t) == 2 else None)
    return got


def verdict(rc, out, timeout):
    """('passed', n) or ('failed', detail) of one pytest run. A skip fails
    (SIPALG_REQUIRE_VPP), and so does a selection that matches nothing."""
    if rc in (124, 137):
        return "failed", f"timeout after {timeout} s"
    m = re.search(r"^(\d+) passed(?!.*(failed|error|skipped))", out, re.M)
    if rc == 0 and m:
        return "passed", int(m.group(1))
    fails = re.findall(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", out, re.M)
    why = re.search(r"^E\s+(.+)$", out, re.M)  # the first assertion or error line
    detail = ", ".join(n.split("::")[-1] for n in fails[:3]) + \
        (f": {why.group(1)[:200]}" if why else "")
    return "failed", detail or f"exit {rc}: {out.strip().splitlines()[-1:]}"


def baseline_results(xml, node_ids, rc):
    """{node id: 'passed' or why not} from the baseline's JUnit XML."""
    got = {}
    if os.path.exists(xml):
        import xml.etree.ElementTree as ET
        for tc in ET.parse(xml).getroot().iter("testcase"):
            nid = tc.get("classname").replace(".", "/") + ".py::" + tc.get("name")
            bad = [c for c in tc if c.tag in ("failure", "error", "skipped")]
            got[nid] = "passed" if not bad else \
                f"{bad[0].tag}: {(bad[0].get('message') or '').splitlines()[:1]}"
    why = "timeout" if rc in (124, 137) else f"not run (pytest exit {rc})"
    return {n: got.get(n, why) for n in node_ids}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated mutant ids (default: all)")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per selection run")
    ap.add_argument("--batch", type=int, default=8,
                    help="mutants run under one hold of the VPP test lock (default 8)")
    ap.add_argument("--vpp-prefix", default=os.environ.get("VPP_PREFIX") or "/opt/vpp")
    ap.add_argument("--json", help="write every mutant's result here")
    ap.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    a = ap.parse_args()
    check(MUTANTS)
    todo = MUTANTS
    if a.only:
        ids = a.only.split(",")
        unknown = set(ids) - {m["id"] for m in MUTANTS}
        if unknown:
            sys.exit(f"node_mutate: no such mutant: {', '.join(sorted(unknown))}")
        todo = [m for m in MUTANTS if m["id"] in ids]
    if a.list:
        for m in todo:
            print(f"{m['id']}: {m['file']}:{line_of(m)} {m['old']!r} -> {m['new']!r}\n"
                  f"    {m['why']}\n    {' '.join(m['select'])}")
        print(f"{len(todo)} mutants")
        return 0
    if not os.path.exists(os.path.join(a.vpp_prefix, "bin", "vpp")):
        sys.exit(f"node_mutate: no VPP at {a.vpp_prefix} (bin/vpp): set --vpp-prefix or VPP_PREFIX")

    t0 = time.time()
    scratch = tempfile.mkdtemp(prefix="sipalg-node-mutate-")
    results = []
    try:
        shutil.copytree(PLUGIN, os.path.join(scratch, "vpp-plugin"))
        err = build(scratch, a.vpp_prefix, configure=True)
        if err:
            print(f"the unmutated plugin does not build: {err}")
            return 2
        base_dir = os.path.join(scratch, "plugins", "unmutated")
        base_hash = keep_plugin(scratch, base_dir)
        # every mutant built first (ninja rebuilds the file it changes, then the file as it
        # was), each plugin kept in a directory of its own
        for m in todo:
            path = os.path.join(scratch, "vpp-plugin", "sip_alg", m["file"])
            src = open(path).read()
            with open(path, "w") as f:
                f.write(src.replace(m["old"], m["new"]))
            err = build(scratch, a.vpp_prefix)
            res = {"id": m["id"], "file": m["file"], "line": line_of(m), "from": m["old"],
                   "to": m["new"], "why": m["why"], "select": m["select"]}
            if err:
                res.update(result="invalid", detail=err)
            else:
                res["plugin"] = os.path.join(scratch, "plugins", m["id"])
                if keep_plugin(scratch, res["plugin"]) == base_hash:
                    res.update(result="survived", detail="the same plugin as unmutated (same code)")
            with open(path, "w") as f:
                f.write(src)
            results.append(res)
        err = build(scratch, a.vpp_prefix)
        if err:
            print(f"the unmutated plugin does not build again: {err}")
            return 2
        print(f"{len(todo)} mutants built, {round(time.time() - t0)} s", flush=True)
        for r in results:
            if "result" in r:
                print(f"  {r['id']}: {r['result']} ({r['detail']})", flush=True)
        # the unmutated plugin through every selection once (one pytest run): all must pass
        node_ids = []
        for m in todo:
            node_ids += [n for n in m["select"] if n not in node_ids]
        xml = os.path.join(scratch, "baseline.xml")
        (rc, _, secs), = run_batch(scratch, [("base", [f"--junitxml={xml}", *node_ids], base_dir)],
                                   min(a.timeout * len(node_ids), 3600), a.vpp_prefix).values()
        base = baseline_results(xml, node_ids, rc)
        bad = {n: v for n, v in base.items() if v != "passed"}
        print(f"baseline: {len(node_ids) - len(bad)} of {len(node_ids)} tests pass against the "
              f"unmutated plugin ({secs} s in VPP tests)", flush=True)
        for n, v in bad.items():
            print(f"  {n}: {v}")
        if bad:
            print("a selection fails against the unmutated plugin: no mutation run")
            return 2
        # the mutants, a batch at a time under one hold of the lock
        pending = [r for r in results if "result" not in r]
        for k in range(0, len(pending), a.batch):
            batch = pending[k:k + a.batch]
            got = run_batch(scratch, [(r["id"], ["-x", *r["select"]], r["plugin"]) for r in batch],
                            a.timeout, a.vpp_prefix)
            for r in batch:
                rc, out, secs = got[r["id"]]
                v, detail = verdict(rc, out, a.timeout)
                r.update(result="killed" if v == "failed" else "survived", detail=detail,
                         seconds=secs)
            for r in batch:
                print(f"[{results.index(r) + 1}/{len(results)}] {r['id']} "
                      f"({r['file']}:{r['line']}): {r['result']} ({r['detail']}, "
                      f"{r['seconds']} s)", flush=True)
            if a.json:
                report(a.json, results, t0)
    finally:
        if a.keep:
            print(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    report(a.json, results, t0, final=True)
    return 0


def report(path, results, t0, final=False):
    """The summary (printed at the end) and, when path is given, every result as JSON."""
    results = [{k: v for k, v in r.items() if k != "plugin"} for r in results if "result" in r]
    killed = sum(r["result"] == "killed" for r in results)
    survived = [r for r in results if r["result"] == "survived"]
    invalid = sum(r["result"] == "invalid" for r in results)
    score = killed / (killed + len(survived)) if killed + len(survived) else 0.0
    summary = {"mutants": len(results), "killed": killed, "survived": len(survived),
               "invalid": invalid, "score": round(score, 4), "seconds": round(time.time() - t0)}
    if final:
        print(json.dumps(summary))
        for r in survived:
            print(f"survived: {r['id']} {r['file']}:{r['line']} {r['from']!r} -> {r['to']!r}")
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump({"summary": summary, "mutants": results}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
