/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * SIP over TCP in sip-alg-post: the connections of a worker, and a segment through the
 * stream engine (core/sip_tcp.[ch]: framing, retransmissions, sequence number corrections),
 * its messages through the SIP message path (sip_alg_msg.c), its bytes back into buffers.
 */

#include <vnet/vnet.h>
#include <vnet/ip/ip4.h>
#include <vnet/tcp/tcp_packet.h>

#include <sip_alg/sip_alg_msg.h>

STATIC_ASSERT (SIP_TCP_FIN == TCP_FLAG_FIN && SIP_TCP_SYN == TCP_FLAG_SYN &&
		 SIP_TCP_RST == TCP_FLAG_RST && SIP_TCP_PSH == TCP_FLAG_PSH &&
		 SIP_TCP_ACK == TCP_FLAG_ACK,
	       "the stream engine's TCP flags are the header's");

/* The stream engine keeps its bytes on VPP's heap, as vectors are. */
static void *
sip_alg_tcp_resize (void *p, size_t size)
{
  return clib_mem_realloc (p, size);
}

static void
sip_alg_tcp_release (void *p)
{
  if (p)
    clib_mem_free (p);
}

static const sip_tcp_mem_t sip_alg_tcp_mem = {
  .resize = sip_alg_tcp_resize,
  .release = sip_alg_tcp_release,
};

/* Heap bytes a connection's kept bytes take (show sip-alg memory). */
u64
sip_alg_tcp_conn_bytes (const sip_alg_tcp_conn_t *tc)
{
  u64 n = 0;
  for (int d = 0; d < 2; d++)
    {
      const sip_tcp_half_t *h = &tc->stream.half[d];
      n += (h->pending.data ? clib_mem_size (h->pending.data) : 0) +
	   (h->unit.data ? clib_mem_size (h->unit.data) : 0);
    }
  return n;
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
  if (pool_elts (ptd->tcp_conns) >= sam->limits.max_calls)
    {
      vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_TCP_CONN_FULL, 1);
      return 0;
    }
  sip_alg_tcp_conn_t *tc;
  pool_get_zero (ptd->tcp_conns, tc);
  tc->key = clib_mem_alloc (sizeof (key));
  *tc->key = key;
  sip_tcp_conn_init (&tc->stream);
  hash_set_mem (ptd->tcp_by_key, tc->key, tc - ptd->tcp_conns);
  clib_atomic_fetch_add_relax (&ptd->n_tcp_conns, 1);
  vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_TCP_CONN, 1);
  return tc;
}

/* Forget a SIP over TCP connection (its worker, or the main thread with the barrier). */
void
sip_alg_tcp_conn_free (sip_alg_per_thread_t *ptd, sip_alg_tcp_conn_t *tc)
{
  sip_tcp_conn_free (&tc->stream, &sip_alg_tcp_mem);
  hash_unset_mem (ptd->tcp_by_key, tc->key);
  clib_mem_free (tc->key);
  pool_put (ptd->tcp_conns, tc);
  clib_atomic_fetch_sub_relax (&ptd->n_tcp_conns, 1);
  vlib_node_increment_counter (vlib_get_main (), sip_alg_post_node.index,
			       SIP_ALG_ERROR_TCP_CLOSED, 1);
}

typedef struct
{
  vlib_main_t *vm;
  vlib_node_runtime_t *node;
  sip_alg_main_t *sam;
  sip_alg_per_thread_t *ptd;
  sip_alg_ctx_t *c;
} sip_alg_tcp_msg_t;

/*
 * A message the engine framed: through sip_alg_message, its bytes (rewritten, or untouched
 * when it passes) in its place, or none (dropped: cut out of the stream). Counted here.
 */
static u32
sip_alg_tcp_message (void *arg, const u8 *msg, u32 len, const u8 **out, u32 *out_len)
{
  sip_alg_tcp_msg_t *x = arg;
  sip_alg_ctx_t *c = x->c;
  u32 verdict = SIP_TCP_MSG_CUT;

  if (!sip_alg_message (x->vm, x->node, x->sam, x->ptd, c, msg, len, SIP_PARSE_STREAM,
			x->ptd->scratch, vec_len (x->ptd->scratch), out_len))
    {
      *out = c->n_edits ? x->ptd->scratch : msg;
      verdict = SIP_TCP_MSG_SEND;
      if (sip_alg_message_commit (x->vm, c, ~0, 0))
	verdict |= SIP_TCP_MSG_HOLD;
    }
  else if (!c->drop)
    {
      *out = msg; /* untouched, counted */
      *out_len = len;
      verdict = SIP_TCP_MSG_SEND;
    }
  /* else dropped: cut out of the stream, the receiver never sees it */
  if (c->error != ~0)
    vlib_node_increment_counter (x->vm, x->node->node_index, c->error, 1);
  return verdict;
}

/*
 * New in-order bytes of direction d through the stream engine. ptd->tcp_out: the bytes to
 * send, from *start (the sender's numbers). Returns 1 when a message needs new NAT pinholes
 * (hold the segment).
 */
static int
sip_alg_tcp_stream (vlib_main_t *vm, vlib_node_runtime_t *node, sip_alg_main_t *sam,
		    sip_alg_per_thread_t *ptd, sip_alg_ctx_t *c, sip_alg_tcp_conn_t *tc, int d,
		    const u8 *payload, u32 plen, u32 seq, u32 *start)
{
  sip_alg_tcp_msg_t x = { vm, node, sam, ptd, c };
  sip_tcp_stream_cfg_t cfg = { .mem = &sip_alg_tcp_mem,
			       .message = sip_alg_tcp_message,
			       .ctx = &x,
			       .max_pending = sam->limits.tcp_reassembly,
			       .hdrs = ptd->hdrs,
			       .max_hdrs = SIP_ALG_MAX_HDRS,
			       .out = &ptd->tcp_out };
  sip_tcp_stream_result_t r;

  sip_tcp_stream (&tc->stream, d, payload, plen, seq, &cfg, &r);
  if (r.error != SIP_OK)
    vlib_node_increment_counter (vm, node->node_index, sip_alg_result_counter (r.error), 1);
  if (r.overflow)
    vlib_node_increment_counter (vm, node->node_index, SIP_ALG_ERROR_TCP_OVERFLOW, 1);
  if (r.partial)
    vlib_node_increment_counter (vm, node->node_index, SIP_ALG_ERROR_TCP_PARTIAL, 1);
  *start = r.start;
  return r.hold;
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
 * The bytes out[0..out_len) in place of the segment's payload (plen bytes of it read, at
 * hdrs in an IP packet of ip_len): the first part in this buffer, the rest in more segments
 * of at most the receiver's MSS (mss).
 */
static void
sip_alg_tcp_emit (vlib_main_t *vm, vlib_buffer_t *b, ip4_header_t *ip, tcp_header_t *tcp,
		  u32 hdrs, u32 ip_len, u32 plen, u16 mss, const u8 *out, u32 out_len,
		  u32 next_node_index)
{
  u32 room = plen + vlib_buffer_space_left_at_end (vm, b) +
	     (u32) (b->current_length - ip_len); /* bytes after the IP packet */
  /* the MSS counts a bare TCP header: options (timestamps, ...) come off it */
  u32 seg = sip_tcp_seg_size (mss, tcp_header_bytes (tcp) - sizeof (tcp_header_t), room);
  u32 first = clib_min (out_len, seg);
  if (first) /* none: out may be 0 (a retransmission while bytes are kept) */
    clib_memcpy_fast ((u8 *) ip + hdrs, out, first);
  if (!out_len)
    tcp->flags &= ~TCP_FLAG_PSH; /* nothing to push: an ACK */
  sip_alg_tcp_fix (vm, b, ip, tcp, first);
  u32 s0 = clib_net_to_host_u32 (tcp->seq_number);
  for (u32 pos = first; pos < out_len; pos += seg)
    sip_alg_tcp_extra_segment (vm, b, out + pos, clib_min (seg, out_len - pos), s0 + pos,
			       next_node_index);
}

/*
 * One TCP segment of a SIP port. Returns 1 when the buffer is held (its messages' pinholes
 * first), 2 when it is to be dropped (c->error says why), 0 when it goes on now.
 */
int
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
  const u8 *payload = (u8 *) ip + hdrs;
  u32 plen = ip_len - hdrs, seq = clib_net_to_host_u32 (tcp->seq_number);
  int d = c->dir == SIP_ALG_DIR_IN2OUT ? 0 : 1;
  u8 flags = tcp->flags;
  c->tcp = 1;
  c->rx_sw_if_index = vnet_buffer (b)->sw_if_index[VLIB_RX];

  sip_alg_tcp_conn_t *tc = sip_alg_tcp_conn (vm, sam, ptd, c, (flags & TCP_FLAG_SYN) || plen);
  if (!tc)
    return 0; /* not tracked (a segment of a connection that ended, or the table is full) */
  sip_tcp_half_t *h = &tc->stream.half[d];
  tc->last_seen = vlib_time_now (vm);

  u32 ack = clib_net_to_host_u32 (tcp->ack_number);
  int changed = sip_tcp_control (&tc->stream, d, flags, seq, &ack, (u8 *) (tcp + 1),
				 tcp_header_bytes (tcp) - sizeof (tcp_header_t), &sip_alg_tcp_mem);
  if (changed)
    tcp->ack_number = clib_host_to_net_u32 (ack);

  const u8 *out = 0;
  u32 out_len = 0, emit_seq = seq;
  int emit = 1, hold = 0;
  switch (sip_tcp_data (&tc->stream, d, flags, &seq, &payload, &plen))
    {
    case SIP_TCP_DATA_OLD:
      c->error = SIP_ALG_ERROR_TCP_OLD;
      return 2;
    case SIP_TCP_DATA_GAP:
      c->error = SIP_ALG_ERROR_TCP_OUT_OF_ORDER;
      return 2;
    case SIP_TCP_DATA_KEPT:
      break; /* bytes still kept: send none of them yet */
    case SIP_TCP_DATA_RESENT:
      out = h->unit.data;
      out_len = h->unit.len;
      emit_seq = h->unit_seq;
      vlib_node_increment_counter (vm, node->node_index, SIP_ALG_ERROR_TCP_RESENT, 1);
      break;
    case SIP_TCP_DATA_NEW:
      /* the payload is copied into the stream before anything is written to the buffer */
      hold = sip_alg_tcp_stream (vm, node, sam, ptd, c, tc, d, payload, plen, seq, &emit_seq);
      out = ptd->tcp_out.data;
      out_len = ptd->tcp_out.len;
      break;
    default:
      emit = 0;
    }

  u32 off_seq = emit ? emit_seq : seq;
  if (emit || h->n_corr || h->base)
    {
      tcp->seq_number = clib_host_to_net_u32 (off_seq + sip_tcp_seq_offset (h, off_seq));
      changed = 1;
    }
  if (emit)
    sip_alg_tcp_emit (vm, b, ip, tcp, hdrs, ip_len, plen, h->mss, out, out_len,
		      next_node_index);
  else if (changed)
    sip_alg_tcp_fix (vm, b, ip, tcp, ip_len - hdrs);

  sip_tcp_end (&tc->stream, d, flags);
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
