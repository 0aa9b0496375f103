/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * sip-alg-post (after NAT44-ED): SIP messages, over UDP and TCP.
 */

#include <vnet/vnet.h>
#include <vnet/feature/feature.h>
#include <vnet/ip/ip4.h>
#include <vnet/udp/udp_packet.h>
#include <vnet/tcp/tcp_packet.h>
#include <vnet/fib/ip4_fib.h>
#include <vnet/dpo/load_balance.h>
#include <vnet/adj/adj.h>

#include <sip_alg/sip_alg_msg.h>

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

VNET_FEATURE_INIT (sip_alg_post, static) = {
  .arc_name = "ip4-unicast",
  .node_name = "sip-alg-post",
  .runs_after = VNET_FEATURES ("nat-pre-in2out", "nat-pre-out2in", "nat44-ed-classify",
			       "nat44-handoff-classify", "nat44-in2out-worker-handoff",
			       "nat44-out2in-worker-handoff"),
};
