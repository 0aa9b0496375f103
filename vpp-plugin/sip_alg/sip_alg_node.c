/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Graph nodes: sip-alg-pre (before NAT44-ED) and sip-alg-post (after it).
 */

#include <strings.h>
#include <arpa/inet.h>

#include <vnet/vnet.h>
#include <vnet/feature/feature.h>
#include <vnet/ip/ip4.h>
#include <vnet/udp/udp_packet.h>
#include <vnet/tcp/tcp_packet.h>
#include <vnet/fib/ip4_fib.h>
#include <vnet/dpo/load_balance.h>
#include <vnet/adj/adj.h>

#include <sip_alg/sip_alg.h>

/* --- sip-alg-pre -------------------------------------------------------------------------- */

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
	 (u16) (clib_net_to_host_u16 (dport) - sam->media_port_lo) <=
	   (u16) (sam->media_port_hi - sam->media_port_lo);
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
  clib_bihash_kv_8_8_t kv = { .key = sip_alg_gate_key (ip->dst_address, udp->dst_port) };

  if (!clib_bitmap_get (sam->gate_if, vnet_buffer (b)->sw_if_index[VLIB_RX]))
    return SIP_ALG_GATE_NONE; /* inside: the operator's policy decides */
  if (clib_bihash_search_inline_8_8 (&sam->pinholes, &kv))
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
  *entry = kv.value;
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
  if (PREDICT_FALSE (entry >= vec_len (ptd->media_act)))
    return;
  sip_alg_media_act_t *a = &ptd->media_act[entry];
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
  clib_bihash_kv_8_8_t kv;
  u32 in = ~0, out = entry;

  if (entry == ~0)
    {
      kv.key = sip_alg_gate_key (ip->dst_address, udp->dst_port);
      if (clib_bitmap_get_no_check (sam->gate_ports, udp->dst_port) &&
	  !clib_bihash_search_inline_8_8 (&sam->pinholes, &kv))
	out = kv.value;
    }
  kv.key = sip_alg_inside_key (ip->src_address, udp->src_port, sip_alg_rx_fib (b));
  if (clib_bitmap_get_no_check (sam->inside_ports, udp->src_port) &&
      !clib_bihash_search_inline_8_8 (&sam->pinholes, &kv))
    in = kv.value;
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
      sip_alg_gate_remote_t *r = &ptd->gate_remote[*entry];
      vlib_increment_combined_counter (&sam->gate_counters, thread, *entry, 1,
				       vlib_buffer_length_in_chain (vm, b));
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

VLIB_REGISTER_NODE (sip_alg_pre_node) = {
  .name = "sip-alg-pre",
  .vector_size = sizeof (u32),
  .format_trace = format_sip_alg_pre_trace,
  .type = VLIB_NODE_TYPE_INTERNAL,
  .n_errors = SIP_ALG_N_ERROR,
  .error_counters = sip_alg_error_counters,
};

/* --- sip-alg-post ------------------------------------------------------------------------- */

typedef struct
{
  u8 dir;	  /* sip_alg_dir_t */
  u8 is_request;
  u8 method;	  /* sip_method_t */
  u8 result;	  /* sip_result_t of parse/sites/rewrite */
  u16 status;
  u16 n_pinholes; /* pinholes requested */
  u32 actions;	  /* SIP_ACT_* */
  i32 delta;	  /* size change */
  u16 len;	  /* SIP payload length before */
  u8 held;
  u8 call_state; /* sip_call_state_t after the message, 0xff: no call record */
  u32 error;	 /* counter index */
  u8 refused[5]; /* media_refused, media_privileged, media_forbidden, inbound_refused,
		    peer_mismatch */
} sip_alg_post_trace_t;

static u8 *
format_sip_alg_post_trace (u8 *s, va_list *args)
{
  CLIB_UNUSED (vlib_main_t * vm) = va_arg (*args, vlib_main_t *);
  CLIB_UNUSED (vlib_node_t * node) = va_arg (*args, vlib_node_t *);
  sip_alg_post_trace_t *t = va_arg (*args, sip_alg_post_trace_t *);
  static const char *dirs[] = { "not-translated", "in2out", "out2in" };

  s = format (s, "sip-alg-post: %s ", dirs[t->dir < 3 ? t->dir : 0]);
  if (t->is_request)
    s = format (s, "%s", sip_method_name (t->method));
  else
    s = format (s, "%u", t->status);
  s = format (s, " len %u delta %d pinholes %u%s", t->len, t->delta, t->n_pinholes,
	      t->held ? " held" : "");
  s = format (s, "\n  result %s, counter %u, actions 0x%x, call %s", sip_result_name (t->result),
	      t->error, t->actions,
	      t->call_state == 0xff ? "none" : sip_call_state_name (t->call_state));
  static const char *refusals[] = { "media_refused", "media_privileged", "media_forbidden",
				    "inbound_refused", "peer_mismatch" };
  for (int i = 0; i < ARRAY_LEN (refusals); i++)
    if (t->refused[i])
      s = format (s, "\n  refused: %s x%u", refusals[i], t->refused[i]);
  return s;
}

typedef struct
{
  /* filled per packet */
  sip_alg_dir_t dir;
  ip4_address_t in_addr, pub_addr, peer_addr;
  u16 in_port, pub_port, peer_port; /* host order */
  u32 in_fib, out_fib;		    /* IPv4 FIB indexes of the inside party and outside */
  u32 error;
  u32 actions;
  i32 delta;
  u16 len;
  u8 held;
  u8 call_state;
  u16 n_ph;
  u16 n_no_media_port;
  u16 n_media_refused;
  u16 n_media_privileged;
  u16 n_media_forbidden;
  u16 n_media_own;
  u16 n_media_not_own;
  u16 n_ice_host_left;
  u16 n_inbound_refused;
  u16 n_peer_mismatch;
  u32 rx_sw_if_index;
  u8 tcp; /* the message came over TCP */
  u8 drop; /* verdict: the message is dropped (UDP) or cut out of the stream (TCP) */
  u8 stale_copy; /* an INVITE of a call just ended (sip_alg_closed_t): no record again */
  u32 n_media_hosts;			  /* in media_hosts[] */
  u32 media_hosts[SIP_ALG_CALL_MAX_MEDIA]; /* other inside hosts of the SDP, host order */
  sip_result_t result;
  /* the message in progress (sip_alg_message -> commit / abort) */
  sip_alg_call_t *call;
  u32 call_index;
  u32 n_media_before; /* the call's media before this message */
  u32 sdp_media;      /* the inside party's SDP: bit j for call->media[j] it has */
  u8 inside_sdp;      /* ... which this message carries (in2out) */
  u8 replace_outside; /* the outside party's SDP is the dialog's description now */
  u32 n_new_nat;	    /* new NAT pinholes it asks for */
  u32 n_edits;
  sip_msg_t msg;
  sip_info_t info;
  sip_alg_pinhole_t ph[2 * SIP_ALG_CALL_MAX_MEDIA + 2];
} sip_alg_ctx_t;

static_always_inline u32
sip_alg_result_counter (sip_result_t r)
{
  switch (r)
    {
    case SIP_ERR_VIA:
    case SIP_ERR_NAME_ADDR:
    case SIP_ERR_CONTACT:
    case SIP_ERR_REQUEST_URI:
    case SIP_ERR_EXPIRES:
      return SIP_ALG_ERROR_HEADER_ERROR;
    case SIP_ERR_SDP:
    case SIP_ERR_SDP_TOO_MANY_MEDIA:
      return SIP_ALG_ERROR_SDP_ERROR;
    case SIP_ERR_TOO_MANY_HEADERS:
    case SIP_ERR_TOO_MANY_SITES:
    case SIP_ERR_TOO_MANY_EDITS:
      return SIP_ALG_ERROR_TOO_MANY;
    case SIP_ERR_NO_SPACE:
    case SIP_ERR_TOO_LONG:
      return SIP_ALG_ERROR_NO_SPACE;
    default:
      return SIP_ALG_ERROR_PARSE_ERROR;
    }
}

/*
 * A malformed message whose class counter is ctr: its class's action (sip_alg_validation_t).
 * Pass leaves c->error = ctr for the caller to count; drop counts ctr here and makes the
 * verdict malformed_drop.
 */
static void
sip_alg_malformed (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_ctx_t *c, u32 ctr)
{
  sip_alg_class_t cls;
  c->error = ctr;
  switch (ctr)
    {
    case SIP_ALG_ERROR_PARSE_ERROR:
    case SIP_ALG_ERROR_TRUNCATED:
      cls = SIP_ALG_CLASS_PARSE;
      break;
    case SIP_ALG_ERROR_HEADER_ERROR:
      cls = SIP_ALG_CLASS_HEADER;
      break;
    case SIP_ALG_ERROR_SDP_ERROR:
      cls = SIP_ALG_CLASS_SDP;
      break;
    case SIP_ALG_ERROR_TOO_MANY:
      cls = SIP_ALG_CLASS_TOO_MANY;
      break;
    default:
      return; /* not the sender's fault (no_space): passes */
    }
  if (sam->val.action[cls] != SIP_ALG_ACTION_DROP)
    return;
  vlib_node_increment_counter (vm, sip_alg_post_node.index, ctr, 1);
  c->error = SIP_ALG_ERROR_MALFORMED_DROP;
  c->drop = 1;
}

/* Does the request's source still have a token for its method? (per worker) */
static_always_inline int
sip_alg_rate_ok (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_per_thread_t *ptd,
		 sip_alg_ctx_t *c, u32 k)
{
  const sip_alg_rate_t *r = &sam->val.rate[k];
  if (!r->rate)
    return 1;
  u32 src = c->dir == SIP_ALG_DIR_IN2OUT ? c->in_addr.as_u32 : c->peer_addr.as_u32;
  u32 slot = (u32) (src * 0x9e3779b1u) >> (32 - min_log2 (SIP_ALG_RATE_BUCKETS));
  sip_alg_bucket_t *bk = &ptd->buckets[k][slot];
  f64 now = vlib_time_now (vm);
  if (bk->addr != src)
    {
      /* a new source, or one that takes the slot of another: a full bucket */
      bk->addr = src;
      bk->tokens = r->burst;
    }
  else
    bk->tokens = clib_min ((f64) r->burst, bk->tokens + (now - bk->last) * r->rate);
  bk->last = now;
  if (bk->tokens < 1)
    return 0;
  bk->tokens -= 1;
  return 1;
}

/*
 * What may go on of a message that parsed (sip_alg_validation_t): strict mode's RFC 3261
 * checks (no leniency, Max-Forwards in a request), blocked methods from outside, the
 * INVITE and REGISTER rates. Returns 0 when the message goes no further: c->drop set, or
 * c->error its class counter to pass untouched.
 */
static int
sip_alg_validate (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_per_thread_t *ptd,
		  sip_alg_ctx_t *c)
{
  const sip_msg_t *m = &c->msg;
  if (PREDICT_FALSE (m->lenient))
    {
      if (sam->val.strict)
	{
	  sip_alg_malformed (vm, sam, c, SIP_ALG_ERROR_PARSE_ERROR);
	  return 0;
	}
      vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_LENIENT, 1);
    }
  /* Via, From, To, Call-ID, CSeq and the CSeq method the parser holds to in both modes */
  if (sam->val.strict && m->is_request && m->first[SIP_HDR_MAX_FORWARDS] == SIP_HDR_NONE)
    {
      sip_alg_malformed (vm, sam, c, SIP_ALG_ERROR_HEADER_ERROR);
      return 0;
    }
  if (!m->is_request)
    return 1;
  if (c->dir == SIP_ALG_DIR_OUT2IN && (sam->val.block_methods & (1u << m->method)))
    {
      c->error = SIP_ALG_ERROR_METHOD_BLOCKED;
      c->drop = 1;
      return 0;
    }
  if ((m->method == SIP_METHOD_INVITE &&
       !sip_alg_rate_ok (vm, sam, ptd, c, SIP_ALG_RATE_INVITE)) ||
      (m->method == SIP_METHOD_REGISTER &&
       !sip_alg_rate_ok (vm, sam, ptd, c, SIP_ALG_RATE_REGISTER)))
    {
      c->error = SIP_ALG_ERROR_RATE_LIMITED;
      c->drop = 1;
      return 0;
    }
  return 1;
}

/* Append the dotted quad of a (network order) to vector v, as format_ip4_address does. */
static u8 *
sip_alg_put_ip4 (u8 *v, ip4_address_t a)
{
  for (int i = 0; i < 4; i++)
    {
      u8 o = a.as_u8[i], d[3], n = 0;
      do
	d[n++] = '0' + o % 10;
      while ((o /= 10));
      while (n)
	vec_add1 (v, d[--n]);
      if (i < 3)
	vec_add1 (v, '.');
    }
  return v;
}

/*
 * Hash of the tag parameter of the message's From or To header (hdr), 0 when it has none.
 * Forked dialogs of one call differ by the callee's tag.
 */
static u32
sip_alg_tag_hash (const u8 *payload, const sip_msg_t *m, u8 hdr)
{
  u16 h = m->first[hdr];
  if (h == SIP_HDR_NONE)
    return 0;
  const u8 *p = payload + m->hdrs[h].value.off, *end = p + m->hdrs[h].value.len;
  const u8 *gt = memchr (p, '>', end - p);
  if (gt)
    p = gt; /* header parameters follow the name-addr: a URI parameter is not the tag */
  for (; p + 5 <= end; p++)
    {
      if (*p != ';')
	continue;
      const u8 *q = p + 1;
      while (q < end && (*q == ' ' || *q == '\t'))
	q++;
      if (end - q < 4 || strncasecmp ((const char *) q, "tag=", 4))
	continue;
      u32 hash = 2166136261u; /* FNV-1a */
      for (q += 4; q < end && *q != ';' && *q != ' ' && *q != '\t' && *q != '\r'; q++)
	hash = (hash ^ *q) * 16777619u;
      return hash ? hash : 1;
    }
  return 0;
}

/* Whether a dialog of the call's INVITE has this callee tag (hash). */
static int
sip_alg_dialog_known (const sip_alg_call_t *call, u32 tag)
{
  for (u32 i = 0; i < call->n_dialog_tags; i++)
    if (call->dialog_tags[i] == tag)
      return 1;
  return 0;
}

/* A dialog of the call's INVITE (a fork's 18x or 2xx): its tag kept, the oldest forgotten. */
static void
sip_alg_dialog_add (sip_alg_call_t *call, u32 tag)
{
  if (!tag || sip_alg_dialog_known (call, tag))
    return;
  if (call->n_dialog_tags == SIP_ALG_CALL_MAX_DIALOGS)
    {
      memmove (call->dialog_tags, call->dialog_tags + 1,
	       (SIP_ALG_CALL_MAX_DIALOGS - 1) * sizeof (call->dialog_tags[0]));
      call->n_dialog_tags--;
    }
  call->dialog_tags[call->n_dialog_tags++] = tag;
}

/* Find or create the call record of this message (per worker). */
static sip_alg_call_t *
sip_alg_call_get (sip_alg_main_t *sam, sip_alg_per_thread_t *ptd, vlib_main_t *vm,
		  const u8 *payload, sip_alg_ctx_t *c, u32 *call_index)
{
  const sip_msg_t *m = &c->msg;
  u8 *key = ptd->call_key; /* built in place: no allocation unless a record is created */
  uword *p;

  if (!m->call_id.len)
    return 0;
  /*
   * The key is the Call-ID as the inside party wrote it: an outside message carries the
   * host part the ALG rewrote (the public address), so map it back.
   */
  const sip_site_t *cs = 0;
  if (c->dir == SIP_ALG_DIR_OUT2IN)
    for (u32 i = 0; i < c->info.n_sites; i++)
      if (c->info.sites[i].kind == SIP_SITE_CALL_ID &&
	  c->info.sites[i].ip4 == clib_net_to_host_u32 (c->pub_addr.as_u32))
	cs = &c->info.sites[i];
  vec_reset_length (key);
  vec_add (key, (u8 *) &c->in_fib, SIP_ALG_CALL_KEY_FIB); /* records per VRF */
  if (cs)
    {
      vec_add (key, payload + m->call_id.off, cs->host.off - m->call_id.off);
      key = sip_alg_put_ip4 (key, c->in_addr);
      vec_add (key, payload + cs->host.off + cs->host.len,
	       m->call_id.off + m->call_id.len - cs->host.off - cs->host.len);
    }
  else
    vec_add (key, payload + m->call_id.off, m->call_id.len);
  ptd->call_key = key;
  p = hash_get_mem (ptd->call_by_id, key);
  if (p)
    {
      *call_index = p[0];
      return pool_elt_at_index (ptd->calls, p[0]);
    }
  /* only a request starts a record: INVITE (a call) or REGISTER (a binding) */
  if (!m->is_request || (m->method != SIP_METHOD_INVITE && m->method != SIP_METHOD_REGISTER))
    return 0;
  if (m->method == SIP_METHOD_INVITE)
    {
      /* a late copy of an INVITE of a call that just ended: dropped (UDP), counted stale */
      u64 h = hash_memory (key, vec_len (key), 0);
      sip_alg_closed_t *cl = &ptd->closed[h & (SIP_ALG_CLOSED_N - 1)];
      if (cl->hash == h && m->cseq <= cl->cseq && (u32) vlib_time_now (vm) < cl->until)
	{
	  c->stale_copy = 1;
	  c->drop = !c->tcp;
	  return 0;
	}
    }
  if (pool_elts (ptd->calls) >= sam->max_calls)
    {
      /* counted on its own: the message still gets an outcome (rewritten, ...) */
      vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_MAX_CALLS, 1);
      return 0;
    }
  /*
   * An outside request starts state only as a call to a REGISTER binding (an inbound call
   * to a registered phone) or to a published server (a PBX behind the operator's static
   * mapping, sip_alg_set_servers), within limits per worker and per outside address: anything
   * else from outside (a new INVITE to a call's signaling entry, a REGISTER) passes
   * without a record, so it cannot open media or move entries.
   */
  uword *src_n = 0;
  if (c->dir == SIP_ALG_DIR_OUT2IN)
    {
      src_n = hash_get (ptd->inbound_by_src, c->peer_addr.as_u32);
      if (m->method != SIP_METHOD_INVITE ||
	  !(sip_alg_is_binding (sam, c->pub_addr, clib_host_to_net_u16 (c->pub_port)) ||
	    sip_alg_is_server (sam, c->in_addr, c->in_port)) ||
	  ptd->n_inbound >= sam->sec.max_inbound_calls ||
	  (src_n && src_n[0] >= sam->sec.max_inbound_per_source))
	{
	  c->n_inbound_refused++;
	  return 0;
	}
    }
  if (PREDICT_FALSE (ptd->n_held >= sam->max_held))
    {
      /*
       * The main thread is behind: a datagram is dropped (its sender retransmits; counted
       * by error-drop), a TCP message passes without a record (nobody would resend it).
       */
      if (c->tcp)
	vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_HELD_FULL, 1);
      c->drop = !c->tcp;
      return 0;
    }
  if (sam->sec.max_calls_per_host)
    {
      uword *host_n = hash_get (ptd->calls_by_host, sip_alg_host_key (c->in_addr, c->in_fib));
      if (host_n && host_n[0] >= sam->sec.max_calls_per_host)
	{
	  /* like a full call table: the message still gets an outcome, without a record */
	  vlib_node_increment_counter (vm, sip_alg_post_node.index,
				       SIP_ALG_ERROR_HOST_CALLS_FULL, 1);
	  return 0;
	}
    }
  key = vec_dup (key);
  sip_alg_call_t *call;
  pool_get_zero (ptd->calls, call);
  sip_alg_host_count (&ptd->calls_by_host, sip_alg_host_key (c->in_addr, c->in_fib), 1);
  if (c->dir == SIP_ALG_DIR_OUT2IN)
    {
      call->inbound = 1;
      ptd->n_inbound++;
      hash_set (ptd->inbound_by_src, c->peer_addr.as_u32, src_n ? src_n[0] + 1 : 1);
    }
  call->call_id = key;
  call->entries = ~0;
  call->created = vlib_time_now (vm);
  call->in_addr = c->in_addr;
  call->in_fib = c->in_fib;
  call->out_fib = c->out_fib;
  call->in_port = c->in_port;
  call->pub_addr = c->pub_addr;
  call->pub_port = c->pub_port;
  call->peer_addr = c->peer_addr;
  call->peer_port = c->peer_port;
  *call_index = call - ptd->calls;
  hash_set_mem (ptd->call_by_id, call->call_id, *call_index);
  clib_atomic_fetch_add_relax (&ptd->n_calls, 1);
  vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_CALLS_CREATED, 1);
  return call;
}

static void
sip_alg_add_ph (sip_alg_ctx_t *c, ip4_address_t pub, u16 pub_port, ip4_address_t in,
		u16 in_port, sip_alg_app_t app, u8 nat, u32 timeout)
{
  if (c->n_ph >= ARRAY_LEN (c->ph))
    return;
  sip_alg_pinhole_t *ph = &c->ph[c->n_ph++];
  clib_memset (ph, 0, sizeof (*ph));
  ph->pub_addr = pub;
  ph->pub_port = pub_port;
  ph->in_addr = in;
  ph->in_port = in_port;
  ph->app = app;
  ph->nat_mapping = nat;
  ph->timeout = timeout;
  ph->in_fib = c->in_fib;
  ph->out_fib = c->out_fib;
}

/*
 * What a message's rewrite may touch. From inside, everything that carries the sender's
 * address. From outside, the public address means the receiving phone only where the
 * message speaks of it: the Request-URI, To, Contact, Route..., and in a response its own
 * Via. The Vias of a request are the hops before (received= and rport of another phone of
 * the same public address, in a call between two inside phones), and the SDP is the
 * sending party's: the public address there is another inside phone's (hairpin), whose
 * media goes through NAT44-ED's hairpinning to its own pinholes. Translating those to the
 * receiver's address would send its media to itself, and map another phone's Via to the
 * receiver's public port on the way back.
 */
static_always_inline u32
sip_alg_site_mask (const sip_alg_ctx_t *c)
{
  const u32 sdp = SIP_SITE_MASK (SIP_SITE_SDP_O) | SIP_SITE_MASK (SIP_SITE_SDP_C_SESSION) |
		  SIP_SITE_MASK (SIP_SITE_SDP_C_MEDIA) | SIP_SITE_MASK (SIP_SITE_SDP_RTCP_ADDR);
  const u32 via = SIP_SITE_MASK (SIP_SITE_VIA) | SIP_SITE_MASK (SIP_SITE_VIA_RECEIVED) |
		  SIP_SITE_MASK (SIP_SITE_VIA_RPORT) | SIP_SITE_MASK (SIP_SITE_VIA_MADDR);
  if (c->dir != SIP_ALG_DIR_OUT2IN)
    return SIP_SITE_MASK_ALL;
  return SIP_SITE_MASK_ALL & ~sdp & ~(c->msg.is_request ? via : 0);
}

/*
 * Media of another inside host (a media server, gateway or second interface of a PBX): an
 * address on the network of the interface the message came in on. Its media get public
 * ports like the sender's, and its address is translated in o=/c= too. The pinholes' NAT
 * static mappings are placed, like every NAT44-ED flow of that host, on the worker NAT
 * chooses for the host's address. Only with media-other-hosts on: otherwise an inside
 * phone could expose any port of any inside host, and the refusal is counted. Returns 1
 * when the media is to be opened.
 */
static int
sip_alg_inside_media_host (sip_alg_main_t *sam, sip_alg_ctx_t *c, ip4_address_t a)
{
  u32 fib_index = ip4_fib_table_get_index_for_sw_if_index (c->rx_sw_if_index);
  const dpo_id_t *dpo =
    load_balance_get_bucket_i (load_balance_get (ip4_fib_forwarding_lookup (fib_index, &a)), 0);
  const ip_adjacency_t *adj;

  /* a host on the attached network: glean (not resolved yet) or its own neighbour entry */
  if (dpo->dpoi_type == DPO_ADJACENCY_GLEAN)
    adj = adj_get (dpo->dpoi_index);
  else if (dpo->dpoi_type == DPO_ADJACENCY || dpo->dpoi_type == DPO_ADJACENCY_INCOMPLETE)
    {
      adj = adj_get (dpo->dpoi_index);
      if (adj->sub_type.nbr.next_hop.ip4.as_u32 != a.as_u32)
	return 0; /* behind a router */
    }
  else
    return 0;
  if (adj->rewrite_header.sw_if_index != c->rx_sw_if_index)
    return 0;
  if (!sam->media_other_hosts)
    {
      c->n_media_refused++;
      return 0;
    }
  u32 h = clib_net_to_host_u32 (a.as_u32);
  for (u32 i = 0; i < c->n_media_hosts; i++)
    if (c->media_hosts[i] == h)
      return 1;
  if (c->n_media_hosts >= ARRAY_LEN (c->media_hosts))
    return 0;
  c->media_hosts[c->n_media_hosts++] = h;
  return 1;
}

/*
 * A STUN message (RFC 8489: the two top bits zero, the magic cookie, a length that is the
 * rest of the datagram), as a phone sends it on its SIP flow to keep its NAT binding.
 */
static_always_inline int
sip_alg_is_stun (const u8 *p, u32 len)
{
  return len >= 20 && !(p[0] & 0xc0) && p[4] == 0x21 && p[5] == 0x12 && p[6] == 0xa4 &&
	 p[7] == 0x42 && 20 + ((u32) p[2] << 8 | p[3]) == len;
}

/*
 * A STUN request from inside, NAT44-ED's translation done: the pre-NAT source (stash) and
 * the public one are the phone's mapping of that port, exactly as the STUN server will
 * report it to the phone. Noted for the phone's SDP (sip_alg_own_mapping).
 */
static void
sip_alg_stun_learn (vlib_main_t *vm, sip_alg_per_thread_t *ptd, vlib_buffer_t *b,
		    const sip_alg_stash_t *st)
{
  ip4_header_t *ip = vlib_buffer_get_current (b);
  udp_header_t *udp = ip4_next_header (ip);
  if (st->src.as_u32 == ip->src_address.as_u32 && st->sport == udp->src_port)
    return; /* not translated from inside to outside */
  u16 pub_port = clib_net_to_host_u16 (udp->src_port);
  sip_alg_own_map_t *m =
    &ptd->own_map[sip_alg_own_map_slot (ip->src_address, pub_port)];
  m->pub_addr = ip->src_address;
  m->pub_port = pub_port;
  m->in_addr = st->src;
  m->in_port = clib_net_to_host_u16 (st->sport);
  m->in_fib = sip_alg_rx_fib (b);
  m->seen = (u32) vlib_time_now (vm) + 1; /* 0 is an empty slot */
}

/*
 * The inside port of the sender's own public mapping pub:pub_port (its STUN request showed
 * it on this thread in the last SIP_ALG_OWN_MAP_TTL seconds), 0 when it is not the
 * sender's: another host's mapping, another port, or none seen.
 */
static u16
sip_alg_own_mapping (vlib_main_t *vm, sip_alg_per_thread_t *ptd, const sip_alg_ctx_t *c,
		     ip4_address_t pub, u16 pub_port)
{
  const sip_alg_own_map_t *m = &ptd->own_map[sip_alg_own_map_slot (pub, pub_port)];
  if (!m->seen || m->pub_addr.as_u32 != pub.as_u32 || m->pub_port != pub_port ||
      m->in_addr.as_u32 != c->in_addr.as_u32 || m->in_fib != c->in_fib ||
      (u32) vlib_time_now (vm) + 1 - m->seen > SIP_ALG_OWN_MAP_TTL)
    return 0;
  return m->in_port;
}

/*
 * The sender's media at its own public address (c= and m= as a phone that learned its
 * mapping by STUN writes them): left as written, and pinholes for that mapping, so media
 * the outside sends first reach it; NAT44-ED's session of the mapping takes only the STUN
 * server's packets. Any other public endpoint of the NAT's address is not the sender's to
 * open (another host's mapping or another port): counted, nothing opened. Returns the new
 * NAT pinholes.
 */
static u32
sip_alg_own_media (vlib_main_t *vm, sip_alg_per_thread_t *ptd, sip_alg_main_t *sam,
		   sip_alg_call_t *call, sip_alg_ctx_t *c, const sip_sdp_media_t *md,
		   ip4_address_t maddr)
{
  u16 in_port = sip_alg_own_mapping (vm, ptd, c, maddr, md->port);
  if (!in_port)
    {
      c->n_media_not_own++;
      return 0;
    }
  for (u32 j = 0; j < call->n_media; j++)
    {
      if (call->media[j].pub_port == md->port && (call->media[j].flags & SIP_ALG_MEDIA_OWN))
	{
	  c->sdp_media |= 1 << j; /* a retransmission or an earlier offer opened it */
	  return 0;
	}
      /*
       * The same inside port has a pair of the pool already (an ICE phone's default
       * candidate, its inside address, rewritten): NAT44-ED maps an inside endpoint once,
       * and the remote reaches the phone through that pair.
       */
      if (call->media[j].in_addr.as_u32 == c->in_addr.as_u32 &&
	  call->media[j].in_port == in_port && !(call->media[j].flags & SIP_ALG_MEDIA_OWN))
	return 0;
    }
  if (call->n_media >= SIP_ALG_CALL_MAX_MEDIA)
    {
      c->n_no_media_port++;
      return 0;
    }
  c->sdp_media |= 1 << call->n_media;
  sip_alg_media_map_t *mm = &call->media[call->n_media++];
  mm->in_addr = c->in_addr;
  mm->in_port = in_port;
  mm->pub_port = md->port;
  mm->flags = SIP_ALG_MEDIA_OWN | (!(c->actions & SIP_ACT_RETRANSMIT) ? 0 :
				   c->msg.is_request		       ? SIP_ALG_MEDIA_OFFERED :
									 SIP_ALG_MEDIA_LIVE);
  sip_alg_add_ph (c, maddr, md->port, c->in_addr, in_port, SIP_ALG_APP_RTP, 1,
		  sam->timeout_media);
  c->ph[c->n_ph - 1].own = 1;
  c->n_media_own++;
  u32 n_new = 1;
  /* RTCP: where the phone's RTCP port has its own mapping too, one port above */
  u16 rtcp_in = md->rtcp_mux || md->rtcp_port != md->port + 1 ?
		  0 :
		  sip_alg_own_mapping (vm, ptd, c, maddr, md->rtcp_port);
  if (rtcp_in)
    {
      sip_alg_add_ph (c, maddr, md->rtcp_port, c->in_addr, rtcp_in, SIP_ALG_APP_RTCP, 1,
		      sam->timeout_media);
      c->ph[c->n_ph - 1].own = 1;
      n_new++;
    }
  return n_new;
}

/* The next space-separated token of [*p, end): its start and length; *p moves past it. */
static_always_inline u32
sip_alg_token (const u8 **p, const u8 *end, const u8 **tok)
{
  while (*p < end && **p == ' ')
    (*p)++;
  *tok = *p;
  while (*p < end && **p != ' ' && **p != '\r' && **p != '\n')
    (*p)++;
  return *p - *tok;
}

/*
 * ICE (RFC 8445): the sender's server-reflexive candidates (`a=candidate:<foundation>
 * <component> UDP <priority> <address> <port> typ srflx ...`) at its own public address
 * are its STUN mappings, opened like a c=/m= that names one (sip_alg_own_media; component
 * 1 RTP, 2 RTCP), unless the inside port has a pair already (the default candidate was
 * the inside address: rewritten, the remote uses it). Other candidates are left as written
 * and opened for nothing: host candidates name inside addresses (their checks from outside
 * fail; those naming the sender's own address are counted, ice_host_left), relayed ones a
 * TURN server's. Returns the new NAT pinholes.
 */
static u32
sip_alg_ice_srflx (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_per_thread_t *ptd,
		   sip_alg_call_t *call, sip_alg_ctx_t *c, const u8 *payload)
{
  const u8 *p = payload + c->msg.body_off, *end = p + c->msg.body_len, *tok;
  u32 n_new = 0, n;

  while (p < end)
    {
      const u8 *eol = p;
      while (eol < end && *eol != '\n')
	eol++;
      if (eol - p > 12 && !memcmp (p, "a=candidate:", 12))
	{
	  const u8 *q = p + 12;
	  u32 comp = 0, port = 0, ok = 1;
	  ip4_address_t a = {};
	  sip_alg_token (&q, eol, &tok); /* foundation */
	  n = sip_alg_token (&q, eol, &tok);
	  for (u32 i = 0; i < n && ok; i++)
	    ok = tok[i] >= '0' && tok[i] <= '9', comp = comp * 10 + tok[i] - '0';
	  n = sip_alg_token (&q, eol, &tok);
	  ok = ok && n == 3 && !strncasecmp ((char *) tok, "udp", 3);
	  sip_alg_token (&q, eol, &tok); /* priority */
	  n = sip_alg_token (&q, eol, &tok);
	  u8 addr[16];
	  if (ok && n && n < sizeof (addr))
	    {
	      memcpy (addr, tok, n);
	      addr[n] = 0;
	      ok = inet_pton (AF_INET, (char *) addr, &a) == 1;
	    }
	  else
	    ok = 0;
	  n = sip_alg_token (&q, eol, &tok);
	  for (u32 i = 0; i < n && ok && n <= 5; i++)
	    ok = tok[i] >= '0' && tok[i] <= '9', port = port * 10 + tok[i] - '0';
	  ok = ok && n && n <= 5 && port && port < 65536 && (comp == 1 || comp == 2);
	  n = sip_alg_token (&q, eol, &tok);
	  ok = ok && n == 3 && !memcmp (tok, "typ", 3);
	  n = sip_alg_token (&q, eol, &tok);
	  if (ok && n == 4 && !memcmp (tok, "host", 4) && a.as_u32 == c->in_addr.as_u32)
	    c->n_ice_host_left++;
	  ok = ok && n == 5 && !memcmp (tok, "srflx", 5);
	  if (ok && a.as_u32 == c->pub_addr.as_u32)
	    {
	      sip_sdp_media_t md = { .port = port, .rtcp_port = port, .rtcp_mux = 1 };
	      if (comp == 1)
		n_new += sip_alg_own_media (vm, ptd, sam, call, c, &md, a);
	      else if ((n = sip_alg_own_mapping (vm, ptd, c, a, port)))
		{
		  sip_alg_add_ph (c, a, port, c->in_addr, n, SIP_ALG_APP_RTCP, 1,
				  sam->timeout_media);
		  c->ph[c->n_ph - 1].own = 1;
		  n_new++;
		}
	      else
		c->n_media_not_own++;
	    }
	}
      p = eol + 1;
    }
  return n_new;
}

/*
 * The inside party's SDP (in2out): give every media of the sender a public port pair,
 * reusing the pair a retransmission or an earlier offer already got.
 * Returns the number of new NAT pinholes.
 */
static u32
sip_alg_inside_media (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_per_thread_t *ptd,
		      sip_alg_call_t *call, sip_alg_ctx_t *c, sip_media_xlate_t *mx)
{
  const sip_sdp_t *sdp = &c->info.sdp;
  u32 n_new = 0;

  for (u32 i = 0; i < sdp->n_media; i++)
    {
      const sip_sdp_media_t *md = &sdp->media[i];
      mx[i].rtp_port = mx[i].rtcp_port = 0;
      if (!md->port || md->addr_type != SIP_HOST_IP4)
	continue; /* disabled, or not IPv4 */
      ip4_address_t maddr = { .as_u32 = clib_host_to_net_u32 (md->ip4) };
      if (maddr.as_u32 == c->pub_addr.as_u32)
	{
	  n_new += sip_alg_own_media (vm, ptd, sam, call, c, md, maddr);
	  continue; /* written public already: nothing to translate */
	}
      if (maddr.as_u32 != c->in_addr.as_u32 && !sip_alg_inside_media_host (sam, c, maddr))
	continue; /* someone else's media */
      if (md->port < 1024 || md->rtcp_port < 1024)
	{
	  /* no pinhole from anywhere to a system service (SNMP, SSH, ...) of an inside host */
	  c->n_media_privileged++;
	  continue;
	}
      if (md->port < sam->sec.inside_port_lo || md->port > sam->sec.inside_port_hi ||
	  md->rtcp_port < sam->sec.inside_port_lo || md->rtcp_port > sam->sec.inside_port_hi)
	{
	  c->n_media_forbidden++; /* outside the operator's inside media ports */
	  continue;
	}

      u16 pub = 0;
      for (u32 j = 0; j < call->n_media; j++)
	if (call->media[j].in_port == md->port && call->media[j].in_addr.as_u32 == maddr.as_u32)
	  {
	    pub = call->media[j].pub_port;
	    c->sdp_media |= 1 << j;
	  }
      if (!pub)
	{
	  /* a stale message (a 2xx resent after the BYE, a late copy of an offer) opens
	     nothing: its stream keeps the port it has */
	  if (c->actions & SIP_ACT_STALE)
	    continue;
	  if (call->n_media >= SIP_ALG_CALL_MAX_MEDIA ||
	      !(pub = sip_alg_media_pair (sam, ptd, c->pub_addr)))
	    {
	      c->n_no_media_port++; /* counted apart from the message's outcome */
	      continue;
	    }
	  c->sdp_media |= 1 << call->n_media;
	  sip_alg_media_map_t *mm = &call->media[call->n_media++];
	  mm->in_addr = maddr;
	  mm->in_port = md->port;
	  mm->pub_port = pub;
	  /*
	   * A retransmission that needs a new pair (the first one clashed: sip_alg_clash)
	   * is the offer or answer its first copy was, which never left
	   */
	  mm->flags = !(c->actions & SIP_ACT_RETRANSMIT) ? 0 :
		      c->msg.is_request			 ? SIP_ALG_MEDIA_OFFERED :
							   SIP_ALG_MEDIA_LIVE;
	  sip_alg_add_ph (c, c->pub_addr, pub, maddr, md->port, SIP_ALG_APP_RTP, 1,
			  sam->timeout_media);
	  n_new++;
	  if (!md->rtcp_mux)
	    {
	      sip_alg_add_ph (c, c->pub_addr, pub + 1, maddr, md->rtcp_port,
			      SIP_ALG_APP_RTCP, 1, sam->timeout_media);
	      n_new++;
	    }
	}
      mx[i].rtp_port = pub;
      mx[i].rtcp_port = md->rtcp_mux ? pub : pub + 1;
    }
  return n_new;
}

/* The outside party's endpoints from its SDP and Contact: records, no NAT mapping. */
static void
sip_alg_outside_endpoints (sip_alg_main_t *sam, sip_alg_ctx_t *c)
{
  const sip_sdp_t *sdp = &c->info.sdp;
  ip4_address_t none = { .as_u32 = 0 };

  for (u32 i = 0; i < c->info.n_sites; i++)
    {
      const sip_site_t *s = &c->info.sites[i];
      if (s->kind == SIP_SITE_CONTACT && s->host_type == SIP_HOST_IP4)
	{
	  ip4_address_t a = { .as_u32 = clib_host_to_net_u32 (s->ip4) };
	  sip_alg_add_ph (c, a, s->value, none, 0, SIP_ALG_APP_SIP, 0, sam->timeout_signaling);
	  break;
	}
    }
  for (u32 i = 0; i < sdp->n_media; i++)
    {
      const sip_sdp_media_t *md = &sdp->media[i];
      if (!md->port || md->addr_type != SIP_HOST_IP4)
	continue;
      ip4_address_t a = { .as_u32 = clib_host_to_net_u32 (md->ip4) };
      ip4_address_t ra = { .as_u32 = clib_host_to_net_u32 (md->rtcp_ip4) };
      sip_alg_add_ph (c, a, md->port, none, 0, SIP_ALG_APP_RTP, 0, sam->timeout_media);
      if (!md->rtcp_mux)
	sip_alg_add_ph (c, ra, md->rtcp_port, none, 0, SIP_ALG_APP_RTCP, 0, sam->timeout_media);
    }
}

/*
 * IP and UDP lengths and checksums of a datagram whose IP length is now ip_len and UDP
 * payload payload_len; the UDP checksum is computed when always_csum or when the sender
 * wrote one (or left it to offload).
 */
static void
sip_alg_udp_fix (vlib_main_t *vm, vlib_buffer_t *b, ip4_header_t *ip, udp_header_t *udp,
		 u32 ip_len, u32 payload_len, int always_csum)
{
  ip->length = clib_host_to_net_u16 (ip_len);
  ip->checksum = ip4_header_checksum (ip);
  udp->length = clib_host_to_net_u16 (8 + payload_len);
  if (always_csum || udp->checksum || (b->flags & VNET_BUFFER_F_OFFLOAD))
    {
      vnet_buffer_offload_flags_clear (b, VNET_BUFFER_OFFLOAD_F_UDP_CKSUM);
      udp->checksum = 0;
      udp->checksum = ip4_tcp_udp_compute_checksum (vm, b, ip);
      if (udp->checksum == 0)
	udp->checksum = 0xffff;
    }
}

/* Write the rewritten payload back and fix lengths and checksums. */
static int
sip_alg_write_back (vlib_main_t *vm, vlib_buffer_t *b, ip4_header_t *ip, udp_header_t *udp,
		    u8 *payload, u32 old_len, const u8 *new_payload, u32 new_len)
{
  i32 delta = (i32) new_len - (i32) old_len;
  u8 *end = payload + old_len;
  u8 *buf_end = vlib_buffer_get_current (b) + b->current_length;

  /* bytes after the UDP payload (none in practice) move with it */
  if (delta > 0 && (u32) delta > vlib_buffer_space_left_at_end (vm, b))
    return -1;
  if (buf_end > end)
    memmove (end + delta, end, buf_end - end);
  clib_memcpy_fast (payload, new_payload, new_len);
  b->current_length += delta;

  sip_alg_udp_fix (vm, b, ip, udp, clib_net_to_host_u16 (ip->length) + delta, new_len, 0);
  return 0;
}

/*
 * Direction and endpoints of a translated packet from its stash (UDP and TCP alike): a
 * changed source is in2out, a changed destination out2in. Returns 0 when NAT did not
 * translate it.
 */
static_always_inline int
sip_alg_ctx_dir (sip_alg_ctx_t *c, vlib_buffer_t *b, const sip_alg_stash_t *st,
		 const ip4_header_t *ip, u16 sport, u16 dport)
{
  /*
   * VRFs: the RX interface's table is the sender's side; NAT44-ED puts the other side's
   * (its session's target FIB) in sw_if_index[VLIB_TX] when it differs, ~0 otherwise.
   */
  u32 rx_fib = sip_alg_rx_fib (b), tx = vnet_buffer (b)->sw_if_index[VLIB_TX];
  u32 other_fib = tx != ~0 && !pool_is_free_index (ip4_main.fibs, tx) ? tx : rx_fib;
  if (ip->src_address.as_u32 != st->src.as_u32 || sport != st->sport)
    {
      c->dir = SIP_ALG_DIR_IN2OUT;
      c->in_addr = st->src;
      c->in_port = clib_net_to_host_u16 (st->sport);
      c->pub_addr = ip->src_address;
      c->pub_port = clib_net_to_host_u16 (sport);
      c->peer_addr = ip->dst_address;
      c->peer_port = clib_net_to_host_u16 (dport);
      c->in_fib = rx_fib;
      c->out_fib = other_fib;
      return 1;
    }
  if (ip->dst_address.as_u32 != st->dst.as_u32 || dport != st->dport)
    {
      c->dir = SIP_ALG_DIR_OUT2IN;
      c->pub_addr = st->dst;
      c->pub_port = clib_net_to_host_u16 (st->dport);
      c->in_addr = ip->dst_address;
      c->in_port = clib_net_to_host_u16 (dport);
      c->peer_addr = ip->src_address;
      c->peer_port = clib_net_to_host_u16 (sport);
      c->in_fib = other_fib;
      c->out_fib = rx_fib;
      return 1;
    }
  c->dir = SIP_ALG_DIR_NONE;
  c->error = SIP_ALG_ERROR_NOT_TRANSLATED;
  return 0;
}

/* The message's bytes could not be placed: nothing of it takes effect (result: why). */
static void
sip_alg_message_abort (sip_alg_main_t *sam, sip_alg_ctx_t *c, sip_result_t result)
{
  sip_alg_call_t *call = c->call;
  c->result = result;
  c->error = sip_alg_result_counter (result);
  c->n_ph = 0;
  for (u32 j = c->n_media_before; call && j < call->n_media; j++)
    if (!(call->media[j].flags & SIP_ALG_MEDIA_OWN))
      sip_alg_media_port_free (sam, call->media[j].pub_port);
  if (call)
    call->n_media = c->n_media_before;
}

/*
 * One SIP message at payload[0..len) (a datagram, or a message framed out of a TCP stream),
 * c's direction and endpoints filled: validation, parse, call state, the pinholes it needs,
 * and its rewrite into out[0..out_cap). Returns 0 with *out_len its new length (len and
 * c->n_edits 0 when nothing changes); c->error is its outcome counter. Then the caller
 * places the bytes and calls sip_alg_message_commit, or sip_alg_message_abort when it
 * cannot. Returns -1 when the message is not rewritten: it passes untouched (c->result
 * says why, c->error counts it), or c->drop is its verdict (c->error says which).
 */
static int
sip_alg_message (vlib_main_t *vm, vlib_node_runtime_t *node, sip_alg_main_t *sam,
		 sip_alg_per_thread_t *ptd, sip_alg_ctx_t *c, const u8 *payload, u32 len,
		 sip_parse_mode_t mode, u8 *out, u32 out_cap, u32 *out_len)
{
  sip_alg_call_t *call = 0;
  u32 call_index = ~0;

  c->len = len;
  c->n_edits = 0;
  c->call = 0;
  c->call_index = ~0;
  c->n_ph = 0;
  c->actions = 0;
  c->n_media_hosts = 0; /* a TCP segment runs several messages through one context */
  c->sdp_media = 0;
  c->inside_sdp = 0;
  c->replace_outside = 0;
  *out_len = len;
  vlib_node_increment_counter (vm, node->node_index, SIP_ALG_ERROR_SIP, 1);
  c->drop = 0;
  c->stale_copy = 0;
  if (PREDICT_FALSE (sip_alg_is_stun (payload, len)))
    {
      /* RFC 5626 section 4.4.2: STUN on the SIP flow, as CRLFs below */
      c->error = SIP_ALG_ERROR_KEEPALIVE;
      return 0;
    }
  c->result = sip_msg_parse (payload, len, mode, &c->msg, ptd->hdrs, SIP_ALG_MAX_HDRS);
  if (c->result == SIP_OK && c->msg.n_hdrs == 0)
    {
      /*
       * CRLF, double CRLF: they keep NAT44-ED's session of the flow, what they are for; the
       * ALG's entries live by the phone's registration and calls, which they do not change
       */
      c->error = SIP_ALG_ERROR_KEEPALIVE;
      return 0;
    }
  if (c->result == SIP_OK && !sip_alg_validate (vm, sam, ptd, c))
    return -1; /* a verdict: dropped, or passed untouched and counted */
  if (c->result == SIP_OK)
    c->result = sip_sites_find (payload, &c->msg, &c->info, ptd->sites, SIP_ALG_MAX_SITES);
  if (c->result != SIP_OK)
    {
      sip_alg_malformed (vm, sam, c, sip_alg_result_counter (c->result));
      return -1;
    }

  /* call state */
  int has_sdp = c->info.body_kind == SIP_BODY_SDP && c->info.sdp.n_media > 0;
  call = sip_alg_call_get (sam, ptd, vm, payload, c, &call_index);
  if (PREDICT_FALSE (c->drop))
    {
      c->error = c->stale_copy ? SIP_ALG_ERROR_STALE : SIP_ALG_ERROR_HELD_FULL;
      return -1;
    }
  if (call && c->dir == SIP_ALG_DIR_OUT2IN && call->fsm.state != SIP_CALL_IDLE &&
      !call->inbound && !c->msg.is_request && c->msg.cseq_method == SIP_METHOD_REGISTER &&
      (c->peer_addr.as_u32 != call->peer_addr.as_u32 ||
       c->peer_port != call->peer_port))
    {
      /*
       * A response to a REGISTER comes from the registrar it went to: anyone else could
       * otherwise make or stretch a binding (its pinhole lets anyone reach the phone).
       */
      c->n_peer_mismatch++;
      call = 0;
    }
  if (call && c->msg.is_request && c->msg.method == SIP_METHOD_BYE && call->callee_tag)
    {
      u32 tag = sip_alg_tag_hash (payload, &c->msg,
				  (c->dir == SIP_ALG_DIR_IN2OUT) != call->inbound ? SIP_HDR_TO :
										    SIP_HDR_FROM);
      /*
       * The BYE of a forked dialog that was not the answered one (a fork that answered
       * late: RFC 3261 13.2.2.4) leaves the call alone. A tag none of the call's responses
       * made a dialog with is no other dialog: from the inside party it is its hang-up
       * (e.g. the to-tag of a 407 resent after the retry was answered, which a UA that
       * builds its BYE from the last response it got, as sipp does, puts there; a non-2xx
       * final response makes no dialog, 12.1), and ends the call as the answered dialog's
       * BYE does. From outside it names nothing of the call and changes nothing.
       */
      if (tag != call->callee_tag &&
	  (c->dir == SIP_ALG_DIR_OUT2IN || sip_alg_dialog_known (call, tag)))
	{
	  vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_OTHER_DIALOG,
				       1);
	  call = 0;
	}
    }
  if (call)
    {
      sip_call_event_t ev;
      sip_call_result_t res;
      f64 now = vlib_time_now (vm);
      sip_call_event_from_msg (&c->msg, has_sdp, c->info.contact_expires, &ev);
      /* whose transaction: the request's sender, or that of the request a response answers
	 (each party numbers its own requests) */
      ev.client_side = (c->dir == SIP_ALG_DIR_OUT2IN) == c->msg.is_request ?
			 SIP_CALL_SIDE_OUTSIDE :
			 SIP_CALL_SIDE_INSIDE;
      res = sip_call_step (&call->fsm, &ev, &call->fsm);
      c->actions = res.actions;
      if (res.actions & SIP_ACT_STALE)
	vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_STALE, 1);
      if ((res.actions & SIP_ACT_OPEN_SIGNAL) && call->n_msgs)
	{
	  /*
	   * A new INVITE on a record that carried a dialog already (it failed, e.g. a 401
	   * or 407 challenge, or ended): a new epoch. Its media start afresh; what the old
	   * dialog has goes with the old dialog's close, which may still be queued.
	   */
	  call->epoch++;
	  call->n_media = 0;
	  call->closed = 0;
	  call->offer_cseq = 0;
	  call->callee_tag = 0;
	  call->n_dialog_tags = 0;
	  call->confirmed_at = 0;
	  call->created = now;
	  vlib_node_increment_counter (vm, sip_alg_post_node.index,
				       SIP_ALG_ERROR_DIALOG_RESTARTED, 1);
	}
      if (call->fsm.state == SIP_CALL_CONFIRMED && !call->confirmed_at)
	call->confirmed_at = now;
      if (!c->msg.is_request && c->msg.cseq_method == SIP_METHOD_INVITE &&
	  c->msg.status > 100 && c->msg.status < 300 && ev.client_side == call->inbound &&
	  !(res.actions & SIP_ACT_STALE))
	{
	  /* a dialog of the call's INVITE (not a late response of an older one) */
	  u32 tag = sip_alg_tag_hash (payload, &c->msg, SIP_HDR_TO);
	  if (c->msg.status >= 200 && !call->callee_tag)
	    call->callee_tag = tag;
	  sip_alg_dialog_add (call, tag);
	}
      call->last_seen = now;
      call->n_msgs++;
      c->call_state = call->fsm.state;
      if (res.actions & SIP_ACT_BIND)
	call->bind_expires = clib_min (res.expires, sam->sec.max_binding_time);
    }

  /* media ports this message allocates are given back if it cannot be rewritten */
  c->n_media_before = call ? call->n_media : 0;

  /* translations: the sender's (in2out) or the receiver's (out2in) signaling address */
  sip_xlate_t xl[2 + SIP_ALG_CALL_MAX_MEDIA];
  u32 n_xl = 2;
  sip_media_xlate_t mx[SIP_SDP_MAX_MEDIA];
  u32 n_mx = 0, n_new_nat = 0;
  u32 in_h = clib_net_to_host_u32 (c->in_addr.as_u32);
  u32 pub_h = clib_net_to_host_u32 (c->pub_addr.as_u32);
  if (c->dir == SIP_ALG_DIR_IN2OUT)
    {
      xl[0] = (sip_xlate_t){ in_h, pub_h, c->in_port, c->pub_port };
      xl[1] = (sip_xlate_t){ in_h, pub_h, 0, 0 };
      /* a retransmission finds its ports in the call record: nothing new */
      if (call && has_sdp)
	{
	  n_new_nat = sip_alg_inside_media (vm, sam, ptd, call, c, mx);
	  n_new_nat += sip_alg_ice_srflx (vm, sam, ptd, call, c, payload);
	  n_mx = c->info.sdp.n_media;
	  for (u32 i = 0; i < c->n_media_hosts; i++)
	    xl[n_xl++] = (sip_xlate_t){ c->media_hosts[i], pub_h, 0, 0 };
	}
      /*
       * A published server's signaling is the operator's static mapping: no pinhole. A
       * retransmitted INVITE that leaves by another public port than its record's asks
       * again: its first copy was dropped while the phone's signaling moved, and the
       * entry of the new port (made without the record) must be the call's, to go with it.
       */
      if (call && !sip_alg_is_server (sam, c->in_addr, c->in_port) &&
	  ((c->actions & SIP_ACT_OPEN_SIGNAL) ||
	   ((c->actions & SIP_ACT_RETRANSMIT) && c->msg.is_request &&
	    c->msg.method == SIP_METHOD_INVITE && c->pub_port != call->pub_port)))
	{
	  /* over TCP the connection carries in-dialog requests: an entry, no NAT mapping */
	  sip_alg_add_ph (c, c->pub_addr, c->pub_port, c->in_addr, c->in_port, SIP_ALG_APP_SIP,
			  !c->tcp, sam->timeout_signaling);
	  c->ph[c->n_ph - 1].tcp = c->tcp;
	  c->ph[c->n_ph - 1].shared = 1; /* the phone's, held by each of its calls */
	  n_new_nat += !c->tcp;
	}
      c->inside_sdp = call && has_sdp && !(c->actions & (SIP_ACT_RETRANSMIT | SIP_ACT_STALE));
    }
  else
    {
      xl[0] = (sip_xlate_t){ pub_h, in_h, c->pub_port, c->in_port };
      xl[1] = (sip_xlate_t){ pub_h, in_h, 0, 0 };
      if (call && has_sdp && !(c->actions & (SIP_ACT_RETRANSMIT | SIP_ACT_STALE)))
	{
	  sip_alg_outside_endpoints (sam, c);
	  /* once answered, the dialog's description: other forks' and older records go */
	  c->replace_outside = call->fsm.state == SIP_CALL_CONFIRMED;
	}
      if (call && (c->actions & SIP_ACT_BIND) && !sip_alg_is_server (sam, c->in_addr, c->in_port))
	{
	  /* a REGISTER binding: inbound requests may reach the inside contact */
	  sip_alg_add_ph (c, c->pub_addr, c->pub_port, c->in_addr, c->in_port, SIP_ALG_APP_SIP,
			  !c->tcp, call->bind_expires);
	  c->ph[c->n_ph - 1].bound = 1;
	  c->ph[c->n_ph - 1].tcp = c->tcp;
	  n_new_nat += !c->tcp;
	}
    }

  /* rewrite */
  sip_plan_t plan;
  sip_rewrite_cfg_t cfg = { xl, n_xl, mx, n_mx, sip_alg_site_mask (c) };
  c->result = sip_rewrite_plan (payload, &c->msg, &c->info, &cfg, &plan, ptd->edits,
				SIP_ALG_MAX_EDITS);
  if (c->result == SIP_OK && plan.n_edits)
    c->result = sip_rewrite_apply (payload, len, &plan, out, out_cap, out_len);
  c->call = call;
  c->call_index = call_index;
  c->n_new_nat = n_new_nat;
  if (c->result != SIP_OK)
    {
      sip_alg_message_abort (sam, c, c->result);
      sip_alg_malformed (vm, sam, c, c->error);
      return -1;
    }
  c->n_edits = plan.n_edits;
  c->delta = plan.delta;
  c->error = plan.n_edits ? SIP_ALG_ERROR_REWRITTEN : SIP_ALG_ERROR_UNCHANGED;
  return 0;
}

/*
 * Offer/answer (RFC 3264) for the inside party's media, once its message is on its way. An
 * offer of the inside party (INVITE, UPDATE) marks the streams it has OFFERED and keeps the
 * others until the answer: a 2xx from the outside releases what was not offered, a failure
 * (488, 491 glare, ...) what was offered anew. An answer of the inside party (in a response,
 * ACK or PRACK) is the session: streams not in it are released now. Released streams leave
 * the call record at once (a later offer gets new ports) and their pinholes go on the main
 * thread, which gives their ports back.
 */
static void
sip_alg_offer_answer (vlib_main_t *vm, sip_alg_ctx_t *c, sip_alg_call_t *call)
{
  const sip_msg_t *m = &c->msg;
  u32 release = 0; /* bits of call->media */

  if (c->inside_sdp)
    {
      if (m->is_request && (m->method == SIP_METHOD_INVITE || m->method == SIP_METHOD_UPDATE))
	{
	  for (u32 j = 0; j < call->n_media; j++)
	    if (c->sdp_media & (1 << j))
	      call->media[j].flags |= SIP_ALG_MEDIA_OFFERED;
	    else
	      call->media[j].flags &= ~SIP_ALG_MEDIA_OFFERED;
	  call->offer_cseq = m->cseq;
	  call->offer_method = m->method;
	}
      else
	{
	  for (u32 j = 0; j < call->n_media; j++)
	    if (c->sdp_media & (1 << j))
	      call->media[j].flags = SIP_ALG_MEDIA_LIVE;
	    else
	      release |= 1 << j;
	  call->offer_cseq = 0;
	}
    }
  else if (c->dir == SIP_ALG_DIR_OUT2IN && !m->is_request && call->offer_cseq &&
	   m->cseq == call->offer_cseq && m->cseq_method == call->offer_method &&
	   m->status >= 200 && !(c->actions & SIP_ACT_STALE))
    {
      int ok = m->status < 300;
      for (u32 j = 0; j < call->n_media; j++)
	{
	  sip_alg_media_map_t *mm = &call->media[j];
	  if (ok ? !(mm->flags & SIP_ALG_MEDIA_OFFERED) :
		   (mm->flags & (SIP_ALG_MEDIA_OFFERED | SIP_ALG_MEDIA_LIVE)) ==
		     SIP_ALG_MEDIA_OFFERED)
	    release |= 1 << j;
	  else if (ok)
	    mm->flags = SIP_ALG_MEDIA_LIVE;
	  else
	    mm->flags &= ~SIP_ALG_MEDIA_OFFERED;
	}
      call->offer_cseq = 0;
    }
  if (!release)
    return;

  u16 ports[SIP_ALG_CALL_MAX_MEDIA];
  u32 n = 0;
  for (i32 j = call->n_media - 1; j >= 0; j--) /* from the end: removal moves the last */
    if (release & (1 << j))
      {
	ports[n++] = call->media[j].pub_port;
	call->media[j] = call->media[--call->n_media];
      }
  sip_alg_request_release_media (vm->thread_index, c->call_index, call->epoch, c->pub_addr,
				 ports, n);
  vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_MEDIA_RELEASED, n);
}

/*
 * The message is on its way: ask the main thread for its pinholes and closes. Returns 1
 * when it needs new NAT pinholes; with held_bi != ~0 that buffer is then held until they
 * exist (the main thread sends it on to next_node_index).
 */
static int
sip_alg_message_commit (vlib_main_t *vm, sip_alg_ctx_t *c, u32 held_bi, u32 next_node_index)
{
  sip_alg_call_t *call = c->call;
  u32 thread = vm->thread_index;
  int hold = 0;

  if (c->n_ph || c->replace_outside)
    {
      hold = c->n_new_nat > 0;
      /* an inside phone resends a datagram it gets no answer to */
      u8 resendable = hold && held_bi != ~0 && !c->tcp && c->dir == SIP_ALG_DIR_IN2OUT;
      sip_alg_request_pinholes (thread, c->call_index, call ? call->epoch : 0, c->ph, c->n_ph,
				c->replace_outside, hold ? held_bi : ~0, next_node_index,
				c->peer_addr, c->peer_port, resendable);
    }
  if (call)
    sip_alg_offer_answer (vm, c, call);
  if (call && (c->actions & (SIP_ACT_CLOSE_MEDIA | SIP_ACT_CLOSE_CALL | SIP_ACT_UNBIND)))
    {
      int media_only = !(c->actions & (SIP_ACT_CLOSE_CALL | SIP_ACT_UNBIND));
      if (!media_only)
	call->closed = 1;
      sip_alg_request_close_call (thread, c->call_index, call->epoch, media_only);
    }
  return hold;
}

/*
 * The datagram's payload replaced by new[0..new_len) in a chain of buffers: the first keeps
 * the IP and UDP headers (hdrs bytes), the rest of the old chain is freed. Returns 0, or -1
 * when buffers ran out (the packet is then incomplete and must be dropped).
 */
static int
sip_alg_udp_rechain (vlib_main_t *vm, vlib_buffer_t *b, ip4_header_t *ip, udp_header_t *udp,
		     u32 hdrs, const u8 *new, u32 new_len)
{
  if (b->flags & VLIB_BUFFER_NEXT_PRESENT)
    vlib_buffer_free_one (vm, b->next_buffer); /* and the chain after it */
  b->flags &= ~VLIB_BUFFER_NEXT_PRESENT;
  b->total_length_not_including_first_buffer = 0;
  b->current_length = hdrs;
  vlib_buffer_t *last = b;
  if (vlib_buffer_chain_append_data_with_alloc (vm, b, &last, (void *) new, new_len) != new_len)
    return -1;
  if (b->flags & VLIB_BUFFER_NEXT_PRESENT)
    b->flags |= VLIB_BUFFER_TOTAL_LENGTH_VALID;
  sip_alg_udp_fix (vm, b, ip, udp, hdrs + new_len, new_len, 1);
  return 0;
}

/*
 * A datagram the rewrite made larger than the MTU towards its destination, with DF set,
 * would be dropped by ip4-rewrite and sent again at the same size forever: clear DF so
 * VPP fragments it (counted).
 */
static void
sip_alg_fit_mtu (vlib_main_t *vm, vlib_node_runtime_t *node, vlib_buffer_t *b,
		 ip4_header_t *ip)
{
  if (!(ip->flags_and_fragment_offset & clib_host_to_net_u16 (IP4_HEADER_FLAG_DONT_FRAGMENT)))
    return;
  u32 fib_index = ip4_fib_table_get_index_for_sw_if_index (vnet_buffer (b)->sw_if_index[VLIB_RX]);
  const dpo_id_t *dpo = load_balance_get_bucket_i (
    load_balance_get (ip4_fib_forwarding_lookup (fib_index, &ip->dst_address)), 0);
  if (dpo->dpoi_type != DPO_ADJACENCY && dpo->dpoi_type != DPO_ADJACENCY_INCOMPLETE)
    return;
  u32 mtu = adj_get (dpo->dpoi_index)->rewrite_header.max_l3_packet_bytes;
  if (!mtu || clib_net_to_host_u16 (ip->length) <= mtu)
    return;
  ip->flags_and_fragment_offset &= ~clib_host_to_net_u16 (IP4_HEADER_FLAG_DONT_FRAGMENT);
  ip->checksum = ip4_header_checksum (ip);
  vlib_node_increment_counter (vm, node->node_index, SIP_ALG_ERROR_DF_CLEARED, 1);
}

/*
 * One SIP datagram. Returns 1 when the buffer is held (it leaves later, from the main
 * thread, once its pinholes exist), 0 when it goes on now.
 */
static int
sip_alg_post_udp (vlib_main_t *vm, vlib_node_runtime_t *node, sip_alg_main_t *sam,
		  sip_alg_per_thread_t *ptd, vlib_buffer_t *b, u32 bi, u32 next_node_index,
		  u32 frag_limit, sip_alg_ctx_t *c)
{
  sip_alg_stash_t *st = sip_alg_stash (b);
  ip4_header_t *ip = vlib_buffer_get_current (b);
  udp_header_t *udp = ip4_next_header (ip);

  if (!sip_alg_ctx_dir (c, b, st, ip, udp->src_port, udp->dst_port))
    return 0;
  if (c->dir == SIP_ALG_DIR_IN2OUT &&
      PREDICT_FALSE (sip_alg_pub_port_taken (sam, c->pub_addr, c->pub_port, c->in_addr,
					      c->in_port, c->in_fib)))
    {
      /*
       * NAT44-ED gave the phone's session a public port that a pinhole of another inside
       * endpoint holds, so the phone's own signaling pinhole cannot be made there: the
       * main thread moves its signaling to a port of its own (sip_alg_move) and the message
       * goes no further, so nothing outside learns the first port; the phone's
       * retransmission leaves by the new one.
       */
      sip_alg_request_move (vm->thread_index, c->pub_addr, c->pub_port, c->in_addr,
			    c->in_port, c->in_fib, c->out_fib, c->peer_addr, c->peer_port);
      c->error = SIP_ALG_ERROR_SIG_MOVED;
      return 2;
    }
  /*
   * A datagram larger than one buffer (VPP's full reassembly chains the fragments) is
   * read from a linear copy and written back as a new chain.
   */
  int chained = (b->flags & VLIB_BUFFER_NEXT_PRESENT) != 0;
  u32 hdrs = (u8 *) (udp + 1) - (u8 *) ip;
  u32 total = chained ? vlib_buffer_length_in_chain (vm, b) : b->current_length;
  u32 udp_len = clib_net_to_host_u16 (udp->length);
  if (b->current_length < hdrs || udp_len < 8 || hdrs - 8 + udp_len > total ||
      udp_len - 8 > SIP_MAX_MSG_LEN)
    {
      sip_alg_malformed (vm, sam, c, SIP_ALG_ERROR_TRUNCATED);
      return c->drop ? 2 : 0;
    }
  u8 *payload = (u8 *) (udp + 1);
  if (chained)
    {
      vec_validate (ptd->linear, total - 1);
      vlib_buffer_contents (vm, bi, ptd->linear);
      payload = ptd->linear + hdrs;
    }
  u32 len = udp_len - 8, out_len;
  c->rx_sw_if_index = vnet_buffer (b)->sw_if_index[VLIB_RX];
  if (sip_alg_message (vm, node, sam, ptd, c, payload, len, SIP_PARSE_DATAGRAM, ptd->scratch,
		       vec_len (ptd->scratch), &out_len))
    return c->drop ? 2 : 0;
  if (c->n_edits)
    {
      if (!chained && (i32) out_len - (i32) len <= (i32) vlib_buffer_space_left_at_end (vm, b))
	sip_alg_write_back (vm, b, ip, udp, payload, len, ptd->scratch, out_len);
      else if (sip_alg_udp_rechain (vm, b, ip, udp, hdrs, ptd->scratch, out_len))
	{
	  /* out of buffers half way: the packet is gone, and so are its pinholes */
	  sip_alg_message_abort (sam, c, SIP_ERR_NO_SPACE);
	  return 2;
	}
      sip_alg_fit_mtu (vm, node, b, ip);
    }
  /* split now: a held datagram's fragments wait with it, the main thread only sends them */
  if (clib_net_to_host_u16 (ip->length) > frag_limit)
    sip_alg_frag_split (vm, bi, frag_limit);
  c->held = sip_alg_message_commit (vm, c, bi, next_node_index);
  return c->held;
}

/* --- SIP over TCP ------------------------------------------------------------------------- */

/*
 * A TCP segment of a SIP port passes sip-alg-post like a datagram, but its bytes are part
 * of a stream: messages are framed by Content-Length across segments, several may share a
 * segment, and a rewrite that changes a message's length shifts every later sequence number
 * of that direction. Per connection and direction the ALG keeps the start of an incomplete
 * message (the segment that carries it leaves without those bytes, as an ACK, until the
 * rest arrives; then they leave together), the last unit it sent (a retransmission gets the
 * same bytes again) and the corrections (sip_alg_tcp_half_t). Segments after a gap are
 * dropped (the sender retransmits them in order).
 */

#define SIP_ALG_POST_NEXT_DROP 0
#define SIP_ALG_TCP_DEFAULT_MSS 1460

static_always_inline int
sip_alg_seq_lt (u32 a, u32 b)
{
  return (i32) (a - b) < 0;
}

/* The offset of a unit of the sender's stream starting at seq. */
static i32
sip_alg_tcp_seq_offset (const sip_alg_tcp_half_t *h, u32 seq)
{
  i32 off = h->base;
  for (u32 i = 0; i < h->n_corr && sip_alg_seq_lt (h->corr[i].pos, seq); i++)
    off = h->corr[i].after;
  return off;
}

/* An acknowledgement number of the rewritten stream of h, in the sender's numbers. */
static u32
sip_alg_tcp_ack_orig (const sip_alg_tcp_half_t *h, u32 ack)
{
  for (int i = h->n_corr - 1; i >= 0; i--)
    if (sip_alg_seq_lt (h->corr[i].pos, ack - h->corr[i].before))
      return ack - h->corr[i].after;
  return ack - h->base;
}

/* The unit starting at pos (newer than any before) changed length by delta. */
static void
sip_alg_tcp_correct (sip_alg_tcp_half_t *h, u32 pos, i32 delta)
{
  i32 before = sip_alg_tcp_seq_offset (h, pos);
  if (h->n_corr == SIP_ALG_TCP_CORR)
    {
      /* the oldest goes: units before it are too old to be retransmitted now */
      h->base = h->corr[0].after;
      memmove (h->corr, h->corr + 1, (SIP_ALG_TCP_CORR - 1) * sizeof (h->corr[0]));
      h->n_corr--;
    }
  h->corr[h->n_corr++] = (sip_alg_tcp_corr_t){ pos, before, before + delta };
}

/*
 * TCP options: *mss from an MSS option (SYN); with o, SACK block edges (the rewritten
 * stream of o) mapped back to o's sender's numbers.
 */
static void
sip_alg_tcp_options (tcp_header_t *tcp, u16 *mss, const sip_alg_tcp_half_t *o)
{
  u8 *opt = (u8 *) (tcp + 1), *end = (u8 *) tcp + tcp_header_bytes (tcp);
  while (opt < end && opt[0] != 0)
    {
      if (opt[0] == 1)
	{
	  opt++;
	  continue;
	}
      if (opt + 2 > end || opt[1] < 2 || opt + opt[1] > end)
	break;
      if (opt[0] == 2 && opt[1] == 4 && mss)
	*mss = clib_net_to_host_u16 (clib_mem_unaligned (opt + 2, u16));
      else if (opt[0] == 5 && o)
	for (u8 *e = opt + 2; e + 4 <= opt + opt[1]; e += 4)
	  clib_mem_unaligned (e, u32) = clib_host_to_net_u32 (
	    sip_alg_tcp_ack_orig (o, clib_net_to_host_u32 (clib_mem_unaligned (e, u32))));
      opt += opt[1];
    }
}

/* The connection of this segment (c's endpoints), created when asked and there is room. */
static sip_alg_tcp_conn_t *
sip_alg_tcp_conn (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_per_thread_t *ptd,
		  const sip_alg_ctx_t *c, int create)
{
  sip_alg_tcp_key_t key = { .in_addr = c->in_addr.as_u32,
			    .peer_addr = c->peer_addr.as_u32,
			    .in_port = clib_host_to_net_u16 (c->in_port),
			    .peer_port = clib_host_to_net_u16 (c->peer_port) };
  uword *p = hash_get_mem (ptd->tcp_by_key, &key);
  if (p)
    return pool_elt_at_index (ptd->tcp_conns, p[0]);
  if (!create)
    return 0;
  if (pool_elts (ptd->tcp_conns) >= sam->max_calls)
    {
      vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_TCP_CONN_FULL, 1);
      return 0;
    }
  sip_alg_tcp_conn_t *tc;
  pool_get_zero (ptd->tcp_conns, tc);
  tc->key = clib_mem_alloc (sizeof (key));
  *tc->key = key;
  tc->half[0].mss = tc->half[1].mss = SIP_ALG_TCP_DEFAULT_MSS;
  hash_set_mem (ptd->tcp_by_key, tc->key, tc - ptd->tcp_conns);
  clib_atomic_fetch_add_relax (&ptd->n_tcp_conns, 1);
  vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_TCP_CONN, 1);
  return tc;
}

/*
 * New in-order bytes of direction h: frame the messages (with the start of an incomplete
 * one kept from earlier segments), run each through sip_alg_message, keep the start of an
 * incomplete one. ptd->tcp_out: the bytes to send, from *start (the sender's numbers).
 * Returns 1 when a message needs new NAT pinholes (hold the segment).
 */
static int
sip_alg_tcp_stream (vlib_main_t *vm, vlib_node_runtime_t *node, sip_alg_main_t *sam,
		    sip_alg_per_thread_t *ptd, sip_alg_ctx_t *c, sip_alg_tcp_conn_t *tc,
		    sip_alg_tcp_half_t *h, const u8 *payload, u32 plen, u32 seq, u32 *start)
{
  int hold = 0;
  u32 off = 0;

  *start = vec_len (h->pending) ? h->pending_seq : seq;
  vec_add (h->pending, payload, plen);
  h->next_seq = seq + plen;
  const u8 *data = h->pending;
  u32 n = vec_len (h->pending);
  vec_reset_length (ptd->tcp_out);

  while (off < n)
    {
      /* keep-alives (RFC 5626: CRLF CRLF ping, CRLF pong) and stray line ends pass */
      if (data[off] == '\r' || data[off] == '\n')
	{
	  vec_add1 (ptd->tcp_out, data[off]);
	  off++;
	  continue;
	}
      sip_msg_t m;
      sip_result_t r =
	sip_msg_parse (data + off, n - off, SIP_PARSE_STREAM, &m, ptd->hdrs, SIP_ALG_MAX_HDRS);
      if (r == SIP_INCOMPLETE)
	break;
      if (r != SIP_OK)
	{
	  /* no framing to go by: the rest of this connection passes untouched */
	  vlib_node_increment_counter (vm, node->node_index, sip_alg_result_counter (r), 1);
	  vlib_node_increment_counter (vm, node->node_index, SIP_ALG_ERROR_TCP_OVERFLOW, 1);
	  tc->bypass = 1;
	  vec_add (ptd->tcp_out, data + off, n - off);
	  off = n;
	  break;
	}
      u32 len = m.msg_len, out_len;
      if (!sip_alg_message (vm, node, sam, ptd, c, data + off, len, SIP_PARSE_STREAM,
			    ptd->scratch, vec_len (ptd->scratch), &out_len))
	{
	  vec_add (ptd->tcp_out, c->n_edits ? ptd->scratch : data + off, out_len);
	  hold |= sip_alg_message_commit (vm, c, ~0, 0);
	}
      else if (!c->drop)
	vec_add (ptd->tcp_out, data + off, len); /* untouched, counted */
      /* else dropped: cut out of the stream, the receiver never sees it */
      if (c->error != ~0)
	vlib_node_increment_counter (vm, node->node_index, c->error, 1);
      off += len;
    }

  u32 rest = n - off;
  if (rest > sam->tcp_reassembly)
    {
      vlib_node_increment_counter (vm, node->node_index, SIP_ALG_ERROR_TCP_OVERFLOW, 1);
      tc->bypass = 1;
      vec_add (ptd->tcp_out, data + off, rest);
      off = n;
      rest = 0;
    }
  else if (rest)
    vlib_node_increment_counter (vm, node->node_index, SIP_ALG_ERROR_TCP_PARTIAL, 1);

  i32 delta = (i32) vec_len (ptd->tcp_out) - (i32) off;
  if (delta)
    sip_alg_tcp_correct (h, *start, delta);
  if (off)
    {
      vec_reset_length (h->unit);
      vec_add (h->unit, ptd->tcp_out, vec_len (ptd->tcp_out));
      h->unit_seq = *start;
      h->unit_len = off;
    }
  if (rest)
    {
      memmove (h->pending, h->pending + off, rest);
      vec_set_len (h->pending, rest);
      h->pending_seq = *start + off;
    }
  else
    vec_reset_length (h->pending);
  return hold;
}

/* Lengths and checksums of a TCP segment whose header or payload changed. */
static void
sip_alg_tcp_fix (vlib_main_t *vm, vlib_buffer_t *b, ip4_header_t *ip, tcp_header_t *tcp,
		 u32 plen)
{
  u32 hdrs = ip4_header_bytes (ip) + tcp_header_bytes (tcp);
  b->current_length = hdrs + plen;
  ip->length = clib_host_to_net_u16 (hdrs + plen);
  ip->checksum = ip4_header_checksum (ip);
  vnet_buffer_offload_flags_clear (b, VNET_BUFFER_OFFLOAD_F_TCP_CKSUM);
  tcp->checksum = 0;
  tcp->checksum = ip4_tcp_udp_compute_checksum (vm, b, ip);
}

/* A further segment (bytes out[0..len) at sequence number seq) after b, sent on at once. */
static void
sip_alg_tcp_extra_segment (vlib_main_t *vm, vlib_buffer_t *b, const u8 *out, u32 len, u32 seq,
			   u32 next_node_index)
{
  vlib_buffer_t *c = vlib_buffer_copy (vm, b);
  if (!c)
    return; /* no buffer: the receiver asks again (the sender retransmits) */
  ip4_header_t *ip = vlib_buffer_get_current (c);
  tcp_header_t *tcp = ip4_next_header (ip);
  clib_memcpy_fast ((u8 *) tcp + tcp_header_bytes (tcp), out, len);
  tcp->seq_number = clib_host_to_net_u32 (seq);
  sip_alg_tcp_fix (vm, c, ip, tcp, len);
  vlib_frame_t *f = vlib_get_frame_to_node (vm, next_node_index);
  u32 *to = vlib_frame_vector_args (f);
  to[0] = vlib_get_buffer_index (vm, c);
  f->n_vectors = 1;
  vlib_put_frame_to_node (vm, next_node_index, f);
  vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_TCP_SPLIT, 1);
}

/*
 * One TCP segment of a SIP port. Returns 1 when the buffer is held (its messages' pinholes
 * first), 2 when it is to be dropped (c->error says why), 0 when it goes on now.
 */
static int
sip_alg_post_tcp (vlib_main_t *vm, vlib_node_runtime_t *node, sip_alg_main_t *sam,
		  sip_alg_per_thread_t *ptd, vlib_buffer_t *b, u32 bi, u32 next_node_index,
		  sip_alg_ctx_t *c)
{
  sip_alg_stash_t *st = sip_alg_stash (b);
  ip4_header_t *ip = vlib_buffer_get_current (b);
  tcp_header_t *tcp = ip4_next_header (ip);

  if (!sip_alg_ctx_dir (c, b, st, ip, tcp->src_port, tcp->dst_port))
    return 0;
  if (b->flags & VLIB_BUFFER_NEXT_PRESENT)
    {
      c->error = SIP_ALG_ERROR_CHAINED;
      return 0;
    }
  u32 ip_len = clib_net_to_host_u16 (ip->length);
  u32 hdrs = ip4_header_bytes (ip) + tcp_header_bytes (tcp);
  if (tcp_header_bytes (tcp) < sizeof (tcp_header_t) || ip_len < hdrs ||
      ip_len > b->current_length)
    {
      sip_alg_malformed (vm, sam, c, SIP_ALG_ERROR_TRUNCATED);
      return c->drop ? 2 : 0;
    }
  u8 *payload = (u8 *) ip + hdrs;
  u32 plen = ip_len - hdrs, seq = clib_net_to_host_u32 (tcp->seq_number);
  int d = c->dir == SIP_ALG_DIR_IN2OUT ? 0 : 1;
  u8 flags = tcp->flags;
  c->tcp = 1;
  c->rx_sw_if_index = vnet_buffer (b)->sw_if_index[VLIB_RX];

  sip_alg_tcp_conn_t *tc = sip_alg_tcp_conn (vm, sam, ptd, c, (flags & TCP_FLAG_SYN) || plen);
  if (!tc)
    return 0; /* not tracked (a segment of a connection that ended, or the table is full) */
  sip_alg_tcp_half_t *h = &tc->half[d], *o = &tc->half[!d];
  tc->last_seen = vlib_time_now (vm);

  if ((flags & TCP_FLAG_SYN) && !(flags & TCP_FLAG_ACK) && tc->closing)
    {
      /* the same endpoints open a new connection: nothing of the old one applies */
      for (int k = 0; k < 2; k++)
	{
	  vec_free (tc->half[k].pending);
	  vec_free (tc->half[k].unit);
	  clib_memset (&tc->half[k], 0, sizeof (tc->half[k]));
	  tc->half[k].mss = SIP_ALG_TCP_DEFAULT_MSS;
	}
      tc->closing = tc->bypass = 0;
    }
  if (flags & TCP_FLAG_SYN)
    {
      /* the MSS this side announces bounds what the other direction sends to it */
      sip_alg_tcp_options (tcp, &o->mss, 0);
      h->next_seq = seq + 1;
      h->seen = 1;
    }
  int changed = 0;
  if ((flags & TCP_FLAG_ACK) && (o->n_corr || o->base))
    {
      tcp->ack_number =
	clib_host_to_net_u32 (sip_alg_tcp_ack_orig (o, clib_net_to_host_u32 (tcp->ack_number)));
      sip_alg_tcp_options (tcp, 0, o);
      changed = 1;
    }

  const u8 *out = 0;
  u32 out_len = 0, emit_seq = seq;
  int emit = 0, hold = 0;
  if (plen && !tc->bypass && !(flags & TCP_FLAG_SYN))
    {
      if (!h->seen)
	{
	  /* picked up mid-stream (the ALG came later than the connection) */
	  h->next_seq = seq;
	  h->seen = 1;
	}
      if (sip_alg_seq_lt (seq, h->next_seq))
	{
	  u32 end = seq + plen;
	  if (!sip_alg_seq_lt (h->next_seq, end))
	    {
	      /* all of it was seen before: a retransmission */
	      if (vec_len (h->pending) && !sip_alg_seq_lt (seq, h->pending_seq))
		emit = 1; /* bytes still kept: send none of them yet */
	      else if (vec_len (h->unit) && !sip_alg_seq_lt (seq, h->unit_seq) &&
		       sip_alg_seq_lt (seq, h->unit_seq + h->unit_len))
		{
		  out = h->unit;
		  out_len = vec_len (h->unit);
		  emit_seq = h->unit_seq;
		  emit = 1;
		  vlib_node_increment_counter (vm, node->node_index, SIP_ALG_ERROR_TCP_RESENT, 1);
		}
	      else
		{
		  c->error = SIP_ALG_ERROR_TCP_OLD;
		  return 2;
		}
	    }
	  else
	    {
	      /* partly new: the new part only */
	      u32 skip = h->next_seq - seq;
	      payload += skip;
	      plen -= skip;
	      seq = h->next_seq;
	    }
	}
      if (!emit)
	{
	  if (seq != h->next_seq)
	    {
	      c->error = SIP_ALG_ERROR_TCP_OUT_OF_ORDER;
	      return 2;
	    }
	  /* the payload is copied into the stream before anything is written to the buffer */
	  hold = sip_alg_tcp_stream (vm, node, sam, ptd, c, tc, h, payload, plen, seq, &emit_seq);
	  out = ptd->tcp_out;
	  out_len = vec_len (ptd->tcp_out);
	  emit = 1;
	}
    }

  u32 off_seq = emit ? emit_seq : seq;
  if (emit || h->n_corr || h->base)
    {
      tcp->seq_number = clib_host_to_net_u32 (off_seq + sip_alg_tcp_seq_offset (h, off_seq));
      changed = 1;
    }
  if (emit)
    {
      /* the first part in this buffer, the rest in more segments of at most the MSS */
      u32 room = plen + vlib_buffer_space_left_at_end (vm, b) +
		 (u32) (b->current_length - ip_len); /* bytes after the IP packet */
      /* the MSS counts a bare TCP header: options (timestamps, ...) come off it */
      u32 mss = h->mss ? h->mss : SIP_ALG_TCP_DEFAULT_MSS;
      u32 opts = tcp_header_bytes (tcp) - sizeof (tcp_header_t);
      u32 seg = clib_min (mss > opts + 64 ? mss - opts : 64, room);
      u32 first = clib_min (out_len, seg);
      clib_memcpy_fast ((u8 *) ip + hdrs, out, first);
      if (!out_len)
	tcp->flags &= ~TCP_FLAG_PSH; /* nothing to push: an ACK */
      sip_alg_tcp_fix (vm, b, ip, tcp, first);
      changed = 0;
      u32 s0 = clib_net_to_host_u32 (tcp->seq_number);
      for (u32 pos = first; pos < out_len; pos += seg)
	sip_alg_tcp_extra_segment (vm, b, out + pos, clib_min (seg, out_len - pos), s0 + pos,
				   next_node_index);
    }
  if (changed)
    sip_alg_tcp_fix (vm, b, ip, tcp, ip_len - hdrs);

  if (flags & TCP_FLAG_FIN)
    h->fin = 1;
  if ((flags & TCP_FLAG_RST) || (tc->half[0].fin && tc->half[1].fin))
    tc->closing = 1;
  c->error = ~0; /* each message was counted */
  if (hold)
    {
      /* the messages' pinhole requests are queued before this one, which releases it */
      ip4_address_t none = {};
      sip_alg_request_pinholes (vm->thread_index, ~0, 0, 0, 0, 0, bi, next_node_index, none, 0,
				0);
      c->held = 1;
      return 1;
    }
  return 0;
}

/*
 * A datagram going on now: one the ALG passed without a rewrite (a verdict, a malformed or
 * untranslated message) is split here too; the fragments after the first leave in a frame
 * of their own, the first in sip-alg-post's.
 */
static void
sip_alg_post_frags (vlib_main_t *vm, vlib_buffer_t *b, u32 bi, u32 next_node_index,
		    u32 frag_limit)
{
  ip4_header_t *ip = vlib_buffer_get_current (b);

  if (!sip_alg_stash (b)->frag_list && clib_net_to_host_u16 (ip->length) > frag_limit)
    sip_alg_frag_split (vm, bi, frag_limit);
  if (!sip_alg_stash (b)->frag_list)
    return;
  vlib_frame_t *f = vlib_get_frame_to_node (vm, next_node_index);
  f->n_vectors = sip_alg_frag_collect (vm, vnet_buffer2 (b)->unused[SIP_ALG_FRAG_WORD],
				       vlib_frame_vector_args (f), SIP_ALG_FRAG_MAX_N);
  vlib_put_frame_to_node (vm, next_node_index, f);
}

/*
 * One buffer sip-alg-pre marked as SIP. Returns 1 when the buffer is held (waiting for its
 * pinholes, or the start of a TCP message), 0 when it goes on to *next0 (which may become
 * error-drop).
 */
static never_inline int
sip_alg_post_one (vlib_main_t *vm, vlib_node_runtime_t *node, sip_alg_main_t *sam,
		  sip_alg_per_thread_t *ptd, vlib_buffer_t *b, u32 bi, u16 *next0)
{
  vlib_node_t *n = vlib_get_node (vm, node->node_index);
  sip_alg_stash_t *st = sip_alg_stash (b);
  sip_alg_ctx_t ctx;
  int held;

  b->flags &= ~SIP_ALG_BUFFER_F_SIP;
  if (PREDICT_FALSE (st->magic != SIP_ALG_STASH_MAGIC))
    return 0;
  st->magic = 0;
  if (st->stun)
    {
      sip_alg_stun_learn (vm, ptd, b, st);
      return 0;
    }
  clib_memset (&ctx, 0, sizeof (ctx));
  ctx.call_state = 0xff;
  if (st->proto == IP_PROTOCOL_TCP)
    held = sip_alg_post_tcp (vm, node, sam, ptd, b, bi, n->next_nodes[*next0], &ctx);
  else
    {
      /* the largest fragment it came in, read before a rewrite rebuilds the chain */
      u32 frag_limit = sip_alg_frag_limit (vm, b);
      held = sip_alg_post_udp (vm, node, sam, ptd, b, bi, n->next_nodes[*next0], frag_limit,
			       &ctx);
      if (!held)
	sip_alg_post_frags (vm, b, bi, n->next_nodes[*next0], frag_limit);
    }
  /* a dropped segment's counter is counted by error-drop from b->error */
  if (ctx.error != ~0 && held != 2)
    vlib_node_increment_counter (vm, node->node_index, ctx.error, 1);
  /* the message's refusals; the trace shows the same five in this order (refused[]) */
  const struct
  {
    u32 counter;
    u16 n;
  } counts[] = {
    { SIP_ALG_ERROR_HELD, held == 1 },
    { SIP_ALG_ERROR_NO_MEDIA_PORT, ctx.n_no_media_port },
    { SIP_ALG_ERROR_MEDIA_REFUSED, ctx.n_media_refused },
    { SIP_ALG_ERROR_MEDIA_PRIVILEGED, ctx.n_media_privileged },
    { SIP_ALG_ERROR_MEDIA_FORBIDDEN, ctx.n_media_forbidden },
    { SIP_ALG_ERROR_INBOUND_REFUSED, ctx.n_inbound_refused },
    { SIP_ALG_ERROR_PEER_MISMATCH, ctx.n_peer_mismatch },
    { SIP_ALG_ERROR_MEDIA_NOT_OWN, ctx.n_media_not_own },
    { SIP_ALG_ERROR_MEDIA_OWN, ctx.n_media_own },
    { SIP_ALG_ERROR_ICE_HOST_LEFT, ctx.n_ice_host_left },
  };
  for (u32 i = 0; i < ARRAY_LEN (counts); i++)
    if (counts[i].n)
      vlib_node_increment_counter (vm, node->node_index, counts[i].counter, counts[i].n);
  if (PREDICT_FALSE (b->flags & VLIB_BUFFER_IS_TRACED))
    {
      sip_alg_post_trace_t *t = vlib_add_trace (vm, node, b, sizeof (*t));
      t->dir = ctx.dir;
      t->is_request = ctx.msg.is_request;
      t->method = ctx.msg.method;
      t->status = ctx.msg.status;
      t->result = ctx.result;
      t->n_pinholes = ctx.n_ph;
      t->actions = ctx.actions;
      t->delta = ctx.delta;
      t->len = ctx.len;
      t->held = held == 1;
      t->call_state = ctx.call_state;
      t->error = ctx.error;
      for (u32 i = 0; i < ARRAY_LEN (t->refused); i++)
	t->refused[i] = counts[2 + i].n;
    }
  if (PREDICT_FALSE (held == 2))
    {
      b->error = node->errors[ctx.error];
      *next0 = SIP_ALG_POST_NEXT_DROP;
      return 0;
    }
  return held;
}

/*
 * sip-alg-post. The fast pass takes every packet's next and looks at one flag in cache
 * line 0; a frame with no packet marked by sip-alg-pre (nearly all of them) goes on as a
 * whole. Otherwise the marked packets are handled in order and held ones leave the frame.
 * A plain loop: unrolled by four it measured slower (the config index loads of four
 * buffers in a row).
 */
VLIB_NODE_FN (sip_alg_post_node)
(vlib_main_t *vm, vlib_node_runtime_t *node, vlib_frame_t *frame)
{
  sip_alg_main_t *sam = &sip_alg_main;
  u32 *from = vlib_frame_vector_args (frame), n_left = frame->n_vectors;
  vlib_buffer_t *bufs[VLIB_FRAME_SIZE], **b = bufs;
  u16 nexts[VLIB_FRAME_SIZE], *next = nexts;
  u32 sip = 0;

  vlib_get_buffers (vm, from, bufs, n_left);
  while (n_left)
    {
      vnet_feature_next_u16 (next, b[0]);
      sip |= b[0]->flags;
      b++;
      next++;
      n_left--;
    }

  if (PREDICT_TRUE (!(sip & SIP_ALG_BUFFER_F_SIP)))
    {
      vlib_buffer_enqueue_to_next (vm, node, from, nexts, frame->n_vectors);
      return frame->n_vectors;
    }

  sip_alg_per_thread_t *ptd = vec_elt_at_index (sam->per_thread, vm->thread_index);
  u32 fwd[VLIB_FRAME_SIZE], n_fwd = 0;
  for (u32 i = 0; i < frame->n_vectors; i++)
    {
      if (PREDICT_FALSE (bufs[i]->flags & SIP_ALG_BUFFER_F_SIP) &&
	  sip_alg_post_one (vm, node, sam, ptd, bufs[i], from[i], &nexts[i]))
	continue; /* held */
      fwd[n_fwd] = from[i];
      nexts[n_fwd] = nexts[i];
      n_fwd++;
    }
  vlib_buffer_enqueue_to_next (vm, node, fwd, nexts, n_fwd);
  return frame->n_vectors;
}

VLIB_REGISTER_NODE (sip_alg_post_node) = {
  .name = "sip-alg-post",
  .vector_size = sizeof (u32),
  .format_trace = format_sip_alg_post_trace,
  .type = VLIB_NODE_TYPE_INTERNAL,
  .n_errors = SIP_ALG_N_ERROR,
  .error_counters = sip_alg_error_counters,
  .n_next_nodes = 1,
  .next_nodes = { [SIP_ALG_POST_NEXT_DROP] = "error-drop" },
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

VNET_FEATURE_INIT (sip_alg_post, static) = {
  .arc_name = "ip4-unicast",
  .node_name = "sip-alg-post",
  .runs_after = VNET_FEATURES ("nat-pre-in2out", "nat-pre-out2in", "nat44-ed-classify",
			       "nat44-handoff-classify", "nat44-in2out-worker-handoff",
			       "nat44-out2in-worker-handoff"),
};
