/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * sip-alg-pre: the feature node before NAT44-ED (and before the firewall's input ACL) on
 * ip4-unicast. One bitmap test per packet picks what may be SIP, a fragment, or a packet
 * for the gate (a live pinhole from outside: sent past the input ACL); a SIP packet gets
 * its pre-NAT tuple stashed for sip-alg-post (sip_alg_post.c).
 */

#include <vnet/vnet.h>
#include <vnet/feature/feature.h>
#include <vnet/ip/ip4.h>
#include <vnet/udp/udp_packet.h>
#include <vnet/tcp/tcp_packet.h>

#include <sip_alg/sip_alg_inlines.h>

typedef enum
{
  SIP_ALG_GATE_NONE = 0, /* not for the gate */
  SIP_ALG_GATE_PASS,     /* a live pinhole: sent past the input ACL */
  SIP_ALG_GATE_MISS,     /* media range or pinhole port, no live entry: left to the ACL */
} sip_alg_gate_verdict_t;

typedef struct
{
  u8 stashed;
  u8 gate; /* sip_alg_gate_verdict_t */
  u32 entry;
  u32 next_node;
} sip_alg_pre_trace_t;

static u8 *
format_sip_alg_pre_trace (u8 *s, va_list *args)
{
  vlib_main_t *vm = va_arg (*args, vlib_main_t *);
  CLIB_UNUSED (vlib_node_t * node) = va_arg (*args, vlib_node_t *);
  sip_alg_pre_trace_t *t = va_arg (*args, sip_alg_pre_trace_t *);
  s = format (s, "sip-alg-pre: %s", t->stashed ? "SIP port, pre-NAT tuple saved" : "not SIP");
  if (t->gate == SIP_ALG_GATE_PASS)
    s = format (s, "\n  gate: server-map entry %u, past acl-plugin-in-ip4-fa to %U", t->entry,
		format_vlib_node_name, vm, t->next_node);
  else if (t->gate == SIP_ALG_GATE_MISS)
    s = format (s, "\n  gate: no live server-map entry, left to the security policy");
  return s;
}

/*
 * Is this UDP packet one for the gate: to a port with an installed pinhole, or to the media
 * port range? Two tests on the destination port.
 */
static_always_inline int
sip_alg_gate_port (sip_alg_main_t *sam, u16 dport)
{
  return clib_bitmap_get_no_check (sam->gate_ports, dport) ||
	 (u16) (clib_net_to_host_u16 (dport) - sam->limits.media_port_lo) <=
	   (u16) (sam->limits.media_port_hi - sam->limits.media_port_lo);
}

/*
 * The fast test, for every packet: may it be SIP, one for the gate, or a fragment? One
 * bitmap per IP protocol (sam->look), indexed by either port as it is in the packet;
 * protocols other than UDP and TCP point at an empty one, so there is no branch on the
 * protocol. Reads the first word past the IP header, within the buffer's data even for a
 * runt or a fragment (the slow path sorts those out).
 */
static_always_inline uword
sip_alg_pre_look (sip_alg_main_t *sam, vlib_buffer_t *b)
{
  ip4_header_t *ip = vlib_buffer_get_current (b);
  u32 ports = clib_mem_unaligned (ip4_next_header (ip), u32);
  uword *look = sam->look[ip->protocol];
  return clib_bitmap_get_no_check (look, ports & 0xffff) |
	 clib_bitmap_get_no_check (look, ports >> 16) | ip4_is_fragment (ip);
}

/*
 * Stash the pre-NAT tuple of UDP packets to or from a SIP port or a signaling endpoint of
 * the server map (a phone's Contact, inside or public), and of TCP segments to or from a
 * SIP TCP port, and mark the buffer (SIP_ALG_BUFFER_F_SIP) for sip-alg-post. *gate: the
 * packet is one for the gate (sip_alg_gate_port). Not for fragments (sip_alg_pre_slow
 * sends them to reassembly first).
 */
static_always_inline void
sip_alg_pre_one (sip_alg_main_t *sam, vlib_buffer_t *b, int *gate, int *tls)
{
  ip4_header_t *ip = vlib_buffer_get_current (b);
  sip_alg_stash_t *st = sip_alg_stash (b);

  *gate = 0;
  if (PREDICT_FALSE (ip->protocol == IP_PROTOCOL_TCP))
    {
      tcp_header_t *tcp = ip4_next_header (ip);
      if (!(sip_alg_is_sip_tcp_port (sam, tcp->dst_port) ||
	    sip_alg_is_sip_tcp_port (sam, tcp->src_port)))
	{
	  /* SIP over TLS: passes as it is; each connection counted by its first SYN */
	  *tls = (tcp->flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN &&
		 tcp->dst_port == clib_host_to_net_u16 (SIP_ALG_TLS_PORT);
	  return;
	}
      st->magic = SIP_ALG_STASH_MAGIC;
      st->proto = IP_PROTOCOL_TCP;
      st->frag_list = 0;
      st->stun = 0;
      st->src = ip->src_address;
      st->dst = ip->dst_address;
      st->sport = tcp->src_port;
      st->dport = tcp->dst_port;
      b->flags |= SIP_ALG_BUFFER_F_SIP;
      return;
    }
  if (ip->protocol != IP_PROTOCOL_UDP)
    return;
  udp_header_t *udp = ip4_next_header (ip);
  *gate = sip_alg_gate_port (sam, udp->dst_port);
  st->stun = 0;
  if (!sip_alg_is_sip_udp (sam, ip, udp))
    {
      if (udp->dst_port != clib_host_to_net_u16 (SIP_ALG_STUN_PORT))
	return;
      st->stun = 1; /* sip-alg-post notes the mapping NAT44-ED gives it */
    }
  st->magic = SIP_ALG_STASH_MAGIC;
  st->proto = IP_PROTOCOL_UDP;
  st->frag_list = 0;
  st->src = ip->src_address;
  st->dst = ip->dst_address;
  st->sport = udp->src_port;
  st->dport = udp->dst_port;
  b->flags |= SIP_ALG_BUFFER_F_SIP;
}

/*
 * The gate, for a packet about to enter the ACL's input node on a NAT44-ED outside
 * interface: a live pinhole sends it past the ACL (next0 becomes sip-alg-pre's next to the
 * feature after the ACL). Returns the verdict; *entry is the server-map index on a pass.
 */
static_always_inline sip_alg_gate_verdict_t
sip_alg_gate (sip_alg_main_t *sam, vlib_buffer_t *b, u16 *next0, u32 *entry)
{
  ip4_header_t *ip = vlib_buffer_get_current (b);
  udp_header_t *udp = ip4_next_header (ip);

  if (!clib_bitmap_get (sam->gate_if, vnet_buffer (b)->sw_if_index[VLIB_RX]))
    return SIP_ALG_GATE_NONE; /* inside: the operator's policy decides */
  u32 ei = sip_alg_ix_gate (sam, ip->dst_address, udp->dst_port);
  if (ei == ~0)
    return SIP_ALG_GATE_MISS;

  /* the ACL's own entry in the feature config: the next index after it */
  u32 ci = b->current_config_index, acl_next;
  vnet_feature_next (&acl_next, b);
  if (PREDICT_FALSE (acl_next >= vec_len (sam->gate_next_by_acl_next) ||
		     sam->gate_next_by_acl_next[acl_next] == ~0))
    {
      b->current_config_index = ci; /* graph being changed: let the ACL have it */
      return SIP_ALG_GATE_MISS;
    }
  *next0 = sam->gate_next_by_acl_next[acl_next];
  *entry = ei;
  return SIP_ALG_GATE_PASS;
}

/*
 * Media activity (the media inactivity timer, the one-way check): a UDP packet to the
 * public end of an installed pinhole counts outside -> inside for that entry, one from the
 * inside end of one inside -> outside (a hairpinned packet, from one phone to another's
 * public end, counts for both), on this thread: packets, and the first and the last second
 * it came in (words written when they change). entry: the server-map index the gate found
 * for the packet, ~0: look it up. *now: sip_alg_media_clock, read once per frame (0: not
 * yet).
 */
static_always_inline void
sip_alg_media_count (sip_alg_per_thread_t *ptd, u32 entry, int dir, u32 now)
{
  sip_alg_media_act_t *a = sip_alg_media_act (ptd, entry);
  a->packets[dir]++;
  if (a->last[dir] != now)
    {
      a->last[dir] = now;
      if (!a->first[dir])
	a->first[dir] = now;
    }
}

static_always_inline void
sip_alg_media_seen (vlib_main_t *vm, sip_alg_main_t *sam, vlib_buffer_t *b, u32 entry,
		    u32 *now)
{
  ip4_header_t *ip = vlib_buffer_get_current (b);
  udp_header_t *udp = ip4_next_header (ip);
  u32 in = ~0, out = entry;

  if (entry == ~0 && clib_bitmap_get_no_check (sam->gate_ports, udp->dst_port))
    out = sip_alg_ix_gate (sam, ip->dst_address, udp->dst_port);
  if (clib_bitmap_get_no_check (sam->inside_ports, udp->src_port))
    in = sip_alg_ix_inside (sam, ip->src_address, udp->src_port, sip_alg_rx_fib (b));
  if (in == ~0 && out == ~0)
    return;
  sip_alg_per_thread_t *ptd = vec_elt_at_index (sam->per_thread, vm->thread_index);
  if (PREDICT_FALSE (!*now))
    *now = sip_alg_media_clock (vm);
  if (out != ~0)
    sip_alg_media_count (ptd, out, SIP_ALG_MEDIA_OUT2IN, *now);
  if (in != ~0)
    sip_alg_media_count (ptd, in, SIP_ALG_MEDIA_IN2OUT, *now);
}

typedef struct
{
  u32 n_pass, n_miss, n_reass, n_tls, n_no_post;
  u32 now; /* seconds, for media activity (0: not read yet in this frame) */
} sip_alg_pre_counts_t;

/*
 * A packet the fast test picked: a fragment, SIP, the gate, or a false alarm (rare by
 * design). A fragment goes to VPP's full reassembly, and the whole datagram starts over at
 * ip4-input (sv-reassembly, the ACL, NAT44-ED and this node see it as any other packet).
 */
static never_inline u8
sip_alg_pre_slow (vlib_main_t *vm, sip_alg_main_t *sam, vlib_buffer_t *b, u16 *next0,
		  u32 *entry, sip_alg_pre_counts_t *n)
{
  int gate, tls = 0;
  /* pre_next_reass is set up when the ALG is first enabled, before this node runs */
  if (ip4_is_fragment ((ip4_header_t *) vlib_buffer_get_current (b)))
    {
      sip_alg_frag_mark (b); /* its size, for the datagram's way out (sip_alg_frag.c) */
      vnet_buffer (b)->ip.reass.next_index = sam->reass_custom_next;
      vnet_buffer (b)->ip.reass.error_next_index = ~0;
      *next0 = sam->pre_next_reass;
      n->n_reass++;
      return SIP_ALG_GATE_NONE;
    }
  sip_alg_pre_one (sam, b, &gate, &tls);
  n->n_tls += tls;
  u8 verdict = SIP_ALG_GATE_NONE;
  if (gate && *next0 == sam->pre_next_acl)
    verdict = sip_alg_gate (sam, b, next0, entry);
  /* a marked packet goes on by the configuration that reaches sip-alg-post */
  if ((b->flags & SIP_ALG_BUFFER_F_SIP) && PREDICT_FALSE (!sip_alg_chain_post (sam->chains, b)))
    {
      b->flags &= ~SIP_ALG_BUFFER_F_SIP;
      sip_alg_stash (b)->magic = 0;
      n->n_no_post++;
    }
  /* a packet the gate passed has its entry already: no second lookup */
  if (sip_alg_media_watched (sam) && !(b->flags & SIP_ALG_BUFFER_F_SIP) &&
      ((ip4_header_t *) vlib_buffer_get_current (b))->protocol == IP_PROTOCOL_UDP)
    sip_alg_media_seen (vm, sam, b, verdict == SIP_ALG_GATE_PASS ? *entry : ~0, &n->now);
  if (verdict == SIP_ALG_GATE_PASS)
    {
      u32 thread = vm->thread_index;
      sip_alg_per_thread_t *ptd = vec_elt_at_index (sam->per_thread, thread);
      ip4_header_t *ip = vlib_buffer_get_current (b);
      sip_alg_gate_act_t *r = sip_alg_gate_act (ptd, *entry);
      r->packets++;
      r->bytes += vlib_buffer_length_in_chain (vm, b);
      r->addr = ip->src_address;
      r->port = ((udp_header_t *) ip4_next_header (ip))->src_port;
      n->n_pass++;
    }
  else
    n->n_miss += verdict == SIP_ALG_GATE_MISS;
  return verdict;
}

/*
 * sip-alg-pre. Every packet: the feature's next, the SIP flag cleared (cache line 0 is
 * written by vnet_feature_next anyway), the fast test, four packets at a time with one
 * branch for all four. Only packets it picks are looked at further; a frame of other
 * traffic writes nothing else. No prefetch: the nodes before this one (ip4-input, the
 * reassembly features) left the buffer headers and the IP headers in cache, and prefetching
 * the next four measured a clock or two slower (perf/pg_bench.py).
 */
VLIB_NODE_FN (sip_alg_pre_node)
(vlib_main_t *vm, vlib_node_runtime_t *node, vlib_frame_t *frame)
{
  sip_alg_main_t *sam = &sip_alg_main;
  u32 *from = vlib_frame_vector_args (frame), n_left = frame->n_vectors;
  vlib_buffer_t *bufs[VLIB_FRAME_SIZE], **b = bufs;
  u16 nexts[VLIB_FRAME_SIZE], *next = nexts;
  sip_alg_pre_counts_t n = {};
  u8 verdicts[VLIB_FRAME_SIZE]; /* written for picked packets; read for traced ones */
  u32 entries[VLIB_FRAME_SIZE];
  int tracing = node->flags & VLIB_NODE_FLAG_TRACE;

  vlib_get_buffers (vm, from, bufs, n_left);
  if (PREDICT_FALSE (tracing))
    clib_memset (verdicts, SIP_ALG_GATE_NONE, frame->n_vectors);

#define SIP_ALG_PRE_PICK(i)                                                                   \
  if (PREDICT_FALSE (l##i))                                                                   \
  verdicts[b - bufs + i] = sip_alg_pre_slow (vm, sam, b[i], next + i, &entries[b - bufs + i], &n)

  while (n_left >= 8)
    {

      vnet_feature_next_u16 (next + 0, b[0]);
      vnet_feature_next_u16 (next + 1, b[1]);
      vnet_feature_next_u16 (next + 2, b[2]);
      vnet_feature_next_u16 (next + 3, b[3]);
      b[0]->flags &= ~SIP_ALG_BUFFER_F_SIP;
      b[1]->flags &= ~SIP_ALG_BUFFER_F_SIP;
      b[2]->flags &= ~SIP_ALG_BUFFER_F_SIP;
      b[3]->flags &= ~SIP_ALG_BUFFER_F_SIP;
      uword l0 = sip_alg_pre_look (sam, b[0]);
      uword l1 = sip_alg_pre_look (sam, b[1]);
      uword l2 = sip_alg_pre_look (sam, b[2]);
      uword l3 = sip_alg_pre_look (sam, b[3]);
      if (PREDICT_FALSE (l0 | l1 | l2 | l3))
	{
	  SIP_ALG_PRE_PICK (0);
	  SIP_ALG_PRE_PICK (1);
	  SIP_ALG_PRE_PICK (2);
	  SIP_ALG_PRE_PICK (3);
	}
      b += 4;
      next += 4;
      n_left -= 4;
    }
  while (n_left)
    {
      vnet_feature_next_u16 (next, b[0]);
      b[0]->flags &= ~SIP_ALG_BUFFER_F_SIP;
      uword l0 = sip_alg_pre_look (sam, b[0]);
      SIP_ALG_PRE_PICK (0);
      b++;
      next++;
      n_left--;
    }
#undef SIP_ALG_PRE_PICK

  /* the plugin's counters are sip-alg-post's (sip_alg.h): this node has none of its own */
  if (PREDICT_FALSE (n.n_reass))
    vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_REASSEMBLY,
				 n.n_reass);
  if (PREDICT_FALSE (n.n_tls))
    vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_TLS, n.n_tls);
  if (PREDICT_FALSE (n.n_no_post))
    vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_NO_POST, n.n_no_post);
  if (PREDICT_FALSE (n.n_pass))
    vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_GATE_PASS, n.n_pass);
  if (PREDICT_FALSE (n.n_miss))
    vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_GATE_MISS, n.n_miss);
  if (PREDICT_FALSE (tracing))
    {
      vlib_node_t *nd = vlib_get_node (vm, node->node_index);
      b = bufs;
      for (u32 i = 0; i < frame->n_vectors; i++, b++)
	if (b[0]->flags & VLIB_BUFFER_IS_TRACED)
	  {
	    sip_alg_pre_trace_t *t = vlib_add_trace (vm, node, b[0], sizeof (*t));
	    t->stashed = (b[0]->flags & SIP_ALG_BUFFER_F_SIP) != 0;
	    t->gate = verdicts[i];
	    t->entry = t->gate == SIP_ALG_GATE_PASS ? entries[i] : ~0;
	    t->next_node = nd->next_nodes[nexts[i]];
	  }
    }
  vlib_buffer_enqueue_to_next (vm, node, from, nexts, frame->n_vectors);
  return frame->n_vectors;
}

/* No error counters: what it counts (reassembly, tls, gate_pass, gate_miss) is sip-alg-post's */
VLIB_REGISTER_NODE (sip_alg_pre_node) = {
  .name = "sip-alg-pre",
  .vector_size = sizeof (u32),
  .format_trace = format_sip_alg_pre_trace,
  .type = VLIB_NODE_TYPE_INTERNAL,
};

/*
 * sip-alg-pre runs before the firewall's input ACL (the gate) and after reassembly; NAT44-ED's
 * entry nodes follow. `show features verbose` on an outside interface with all three:
 *   ip4-sv-reassembly-feature, sip-alg-pre, acl-plugin-in-ip4-fa,
 *   nat-pre-out2in (or nat44-out2in-worker-handoff), sip-alg-post
 */
VNET_FEATURE_INIT (sip_alg_pre, static) = {
  .arc_name = "ip4-unicast",
  .node_name = "sip-alg-pre",
  .runs_after = VNET_FEATURES ("ip4-sv-reassembly-feature", "ip4-full-reassembly-feature",
			       "ip4-dhcp-client-detect"),
  .runs_before = VNET_FEATURES ("acl-plugin-in-ip4-fa", "nat-pre-in2out", "nat-pre-out2in",
				"nat44-ed-classify",
				"nat44-handoff-classify", "nat44-in2out-worker-handoff",
				"nat44-out2in-worker-handoff"),
};
