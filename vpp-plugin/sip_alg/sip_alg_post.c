/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * sip-alg-post: the feature node after NAT44-ED on ip4-unicast. A frame with no packet
 * sip-alg-pre marked as SIP goes on whole; a marked one is a SIP datagram (here: its
 * direction from the stash, the message through sip_alg_msg.c, written back, fragmented),
 * a TCP segment of a SIP port (sip_alg_tcp.c), or a STUN request whose mapping is noted.
 */

#include <vnet/vnet.h>
#include <vnet/feature/feature.h>
#include <vnet/ip/ip4.h>
#include <vnet/udp/udp_packet.h>
#include <vnet/fib/ip4_fib.h>
#include <vnet/dpo/load_balance.h>
#include <vnet/adj/adj.h>

#include <sip_alg/sip_alg_msg.h>

#define SIP_ALG_POST_NEXT_DROP 0

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
  /* the message's site results and pinholes are written before they are read
     (sip_alg_message_read, sip_alg_add_ph): 776 of the context's 1,040 bytes not cleared */
  clib_memset (&ctx, 0, STRUCT_OFFSET_OF (sip_alg_ctx_t, info));
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
    { SIP_ALG_ERROR_SIG_REASKED, ctx.n_sig_reasked },
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
 * The pinhole table's entry of a SIP datagram's public source, which sip_alg_post_udp reads
 * (sip_alg_pub_port_taken) before the message, brought into cache while earlier messages
 * of the frame are handled: stages 0 and 1 its home slot in the server map's index, stage 2
 * (the slot in cache) the lookup and the entry it names. The key is that of a datagram from
 * inside (its source after NAT44-ED); for one from outside it is a harmless guess.
 */
static_always_inline void
sip_alg_post_prefetch (sip_alg_main_t *sam, vlib_buffer_t *b, int stage)
{
  const sip_alg_stash_t *st = sip_alg_stash (b);
  if (st->magic != SIP_ALG_STASH_MAGIC || st->proto != IP_PROTOCOL_UDP)
    return;
  ip4_header_t *ip = vlib_buffer_get_current (b);
  udp_header_t *udp = ip4_next_header (ip);
  if (!clib_bitmap_get_no_check (sam->gate_ports, udp->src_port))
    return;
  if (PREDICT_FALSE (!sam->ix))
    return;
  if (stage < 2)
    {
      /* the key's home slot in the server map's index (both early stages: one line) */
      u32 h = sip_alg_ix_hash (sip_alg_gate_key (ip->src_address, udp->src_port));
      CLIB_PREFETCH (&sam->ix[sip_alg_ix_home (h, vec_len (sam->ix))], sizeof (u32), LOAD);
      return;
    }
  u32 i = sip_alg_ix_gate (sam, ip->src_address, udp->src_port);
  if (i != ~0)
    CLIB_PREFETCH (pool_elt_at_index (sam->smap, i), sizeof (sip_alg_smap_t), LOAD);
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
  /* the SIP packets, whose pinhole entries are prefetched 1 to 3 messages ahead */
  u16 sip_at[VLIB_FRAME_SIZE];
  u32 n_sip = 0, k = 0;
  for (u32 i = 0; i < frame->n_vectors; i++)
    if (bufs[i]->flags & SIP_ALG_BUFFER_F_SIP)
      sip_at[n_sip++] = i;
  for (u32 j = 0; j < 3 && j < n_sip; j++)
    sip_alg_post_prefetch (sam, bufs[sip_at[j]], 0);
  for (u32 i = 0; i < frame->n_vectors; i++)
    {
      if (PREDICT_FALSE (bufs[i]->flags & SIP_ALG_BUFFER_F_SIP))
	{
	  if (k + 3 < n_sip)
	    sip_alg_post_prefetch (sam, bufs[sip_at[k + 3]], 0);
	  if (k + 2 < n_sip)
	    sip_alg_post_prefetch (sam, bufs[sip_at[k + 2]], 1);
	  if (k + 1 < n_sip)
	    sip_alg_post_prefetch (sam, bufs[sip_at[k + 1]], 2);
	  k++;
	  if (sip_alg_post_one (vm, node, sam, ptd, bufs[i], from[i], &nexts[i]))
	    continue; /* held */
	}
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

VNET_FEATURE_INIT (sip_alg_post, static) = {
  .arc_name = "ip4-unicast",
  .node_name = "sip-alg-post",
  .runs_after = VNET_FEATURES ("nat-pre-in2out", "nat-pre-out2in", "nat44-ed-classify",
			       "nat44-handoff-classify", "nat44-in2out-worker-handoff",
			       "nat44-out2in-worker-handoff"),
};
