/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Path MTU for SIP datagrams. A SIP message that reached VPP in IP fragments is reassembled
 * (the ALG must read it whole), rewritten, and would leave as one datagram as large as the
 * egress interface allows: an af_packet interface comes up with VPP's 9000-byte MTU while the
 * path behind it carries 1500, so the 4 KB INVITE is lost ("tx sendto temporary failure").
 * Linux's rule (ip_do_fragment with IPCB(skb)->frag_max_size) applies here too: a datagram
 * rebuilt from fragments leaves in fragments no larger than the largest fragment that
 * arrived, whatever the egress MTU. A datagram that arrived whole and grew through the
 * rewrite is held to its own arrival size, or 1500 bytes (Ethernet's MTU, the size any path
 * is assumed to carry) when that is larger. ip4-rewrite fragments further where the egress
 * MTU is smaller still (the fragments carry no DF).
 *
 * sip-alg-pre sees every fragment before it goes to VPP's full reassembly and notes its IP
 * length and id in the buffer (opaque2, after the stash): the buffers of the fragments make
 * the reassembled datagram, so sip-alg-post finds the largest (sip_alg_frag_limit).
 */

#include <vnet/vnet.h>
#include <vnet/ip/ip4.h>
#include <vnet/udp/udp_packet.h>

#include <sip_alg/sip_alg_inlines.h>

/* The size a datagram that arrived whole may grow to before it is fragmented */
#define SIP_ALG_FRAG_WHOLE_MTU 1500

u32
sip_alg_frag_limit (vlib_main_t *vm, vlib_buffer_t *b)
{
  ip4_header_t *ip = vlib_buffer_get_current (b);
  u32 len = clib_net_to_host_u16 (ip->length), max = 0;

  /*
   * The first fragment's buffer is the datagram's first (a mark of another datagram, left
   * in a reused buffer, has another id or is not smaller than this one). The reassembly
   * compacts the chain, so the others' buffers are there only where their data did not fit
   * the first (sizes above about 2 KB); the first fragment is the largest in practice.
   */
  if (sip_alg_frag_mark_id (b) == ip->fragment_id && sip_alg_frag_mark_len (b) < len)
    {
      for (vlib_buffer_t *s = b;; s = vlib_get_buffer (vm, s->next_buffer))
	{
	  if (sip_alg_frag_mark_id (s) == ip->fragment_id && sip_alg_frag_mark_len (s) < len)
	    max = clib_max (max, sip_alg_frag_mark_len (s));
	  if (!(s->flags & VLIB_BUFFER_NEXT_PRESENT))
	    break;
	}
    }
  if (!max)
    max = clib_max (len, SIP_ALG_FRAG_WHOLE_MTU);
  /* room for the header and one 8-byte block */
  return clib_max (max, ip4_header_bytes (ip) + 8);
}

/*
 * Split the IPv4 datagram bi (current data at its IP header, a single buffer or a chain)
 * into fragments of at most size bytes (RFC 791), on the thread that has it: bi becomes the
 * first, the others are new buffers with its metadata, linked after it (sip_alg_frag_collect)
 * so that whoever sends bi on, now or once its pinholes exist, sends them all; the main
 * thread only enqueues them. Returns the number of fragments, 1 when the datagram stays
 * whole (small enough, more than SIP_ALG_FRAG_MAX_N fragments, or out of buffers).
 */
u32
sip_alg_frag_split (vlib_main_t *vm, u32 bi, u32 size)
{
  sip_alg_main_t *sam = &sip_alg_main;
  sip_alg_per_thread_t *ptd = vec_elt_at_index (sam->per_thread, vm->thread_index);
  vlib_buffer_t *b = vlib_get_buffer (vm, bi);
  ip4_header_t *ip = vlib_buffer_get_current (b);
  u32 ihl = ip4_header_bytes (ip);
  u32 total = vlib_buffer_length_in_chain (vm, b);
  u32 per = (size - ihl) & ~7, data_len = total - ihl, n;
  u32 bis[SIP_ALG_FRAG_MAX_N];
  u8 *d;

  if (total <= size || per < 8 || total != clib_net_to_host_u16 (ip->length) ||
      ip4_is_fragment (ip))
    return 1;
  n = (data_len + per - 1) / per;
  if (n > SIP_ALG_FRAG_MAX_N)
    return 1;
  bis[0] = bi;
  if (vlib_buffer_alloc (vm, bis + 1, n - 1) != n - 1)
    {
      /* the allocator gives all or none */
      vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_NO_SPACE, 1);
      return 1;
    }
  /* a checksum left to offload is written now: it covers the whole datagram */
  if (b->flags & VNET_BUFFER_F_OFFLOAD)
    {
      vnet_buffer_offload_flags_clear (b, VNET_BUFFER_OFFLOAD_F_UDP_CKSUM |
					    VNET_BUFFER_OFFLOAD_F_IP_CKSUM);
      if (ip->protocol == IP_PROTOCOL_UDP)
	{
	  udp_header_t *udp = ip4_next_header (ip);
	  udp->checksum = 0;
	  udp->checksum = ip4_tcp_udp_compute_checksum (vm, b, ip);
	  if (udp->checksum == 0)
	    udp->checksum = 0xffff;
	}
    }
  vec_validate (ptd->frag_data, total - 1);
  d = ptd->frag_data;
  vlib_buffer_contents (vm, bi, d);
  if (b->flags & VLIB_BUFFER_NEXT_PRESENT)
    vlib_buffer_free_one (vm, b->next_buffer); /* and the chain after it */
  b->flags &= ~(VLIB_BUFFER_NEXT_PRESENT | VLIB_BUFFER_TOTAL_LENGTH_VALID);
  b->total_length_not_including_first_buffer = 0;
  for (u32 i = 0; i < n; i++)
    {
      vlib_buffer_t *f = b, *last;
      u32 off = i * per, len = clib_min (per, data_len - off);
      if (i)
	{
	  f = vlib_get_buffer (vm, bis[i]);
	  f->current_data = b->current_data;
	  /* not b's chain: b is chained when its fragment did not fit one buffer, and a new
	   * buffer's next_buffer is no buffer of this packet (its own chain is made below) */
	  f->flags = b->flags & ~(VLIB_BUFFER_IS_TRACED | SIP_ALG_BUFFER_F_SIP |
				  VLIB_BUFFER_NEXT_PRESENT | VLIB_BUFFER_TOTAL_LENGTH_VALID);
	  f->error = b->error;
	  f->total_length_not_including_first_buffer = 0;
	  clib_memcpy_fast (f->opaque, b->opaque, sizeof (b->opaque));
	  clib_memcpy_fast (f->opaque2, b->opaque2, sizeof (b->opaque2));
	}
      ip4_header_t *fip = vlib_buffer_get_current (f);
      clib_memcpy_fast (fip, d, ihl);
      f->current_length = ihl;
      last = f;
      /* a fragment larger than one buffer (jumbo paths) is a chain of its own */
      if (vlib_buffer_chain_append_data_with_alloc (vm, f, &last, d + ihl + off, len) != len)
	vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_NO_SPACE,
				     1); /* short: the receiver's reassembly drops it */
      if (f->flags & VLIB_BUFFER_NEXT_PRESENT)
	f->flags |= VLIB_BUFFER_TOTAL_LENGTH_VALID;
      fip->flags_and_fragment_offset =
	clib_host_to_net_u16 ((off / 8) | (i < n - 1 ? IP4_HEADER_FLAG_MORE_FRAGMENTS : 0));
      fip->length = clib_host_to_net_u16 (vlib_buffer_length_in_chain (vm, f));
      fip->checksum = ip4_header_checksum (fip);
    }
  /* the list, head to tail (the copies of b's opaque2 carry its stash) */
  for (u32 i = 0; i < n; i++)
    {
      vlib_buffer_t *f = vlib_get_buffer (vm, bis[i]);
      sip_alg_stash (f)->frag_list = i < n - 1;
      vnet_buffer2 (f)->unused[SIP_ALG_FRAG_WORD] = i < n - 1 ? bis[i + 1] : ~0;
    }
  vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_FRAGMENTED, 1);
  return n;
}
