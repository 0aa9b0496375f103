/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * One SIP message on its way through sip-alg-post (sip_alg_msg.c): its context, and the
 * steps the node's datagram and TCP stream paths take with it.
 */

#ifndef __included_sip_alg_msg_h__
#define __included_sip_alg_msg_h__

#include <sip_alg/sip_alg_inlines.h>

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
  u16 n_sig_reasked; /* a retransmitted INVITE by a new public port asked for its pinhole */
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
  ip4_address_t media_addr; /* the media address of its SDP's pairs (c=), 0: none */
  u32 n_new_nat;	    /* new NAT pinholes it asks for */
  u32 n_edits;
  sip_msg_t msg;
  sip_info_t info;
  sip_alg_pinhole_t ph[2 * SIP_ALG_CALL_MAX_MEDIA + 2];
} sip_alg_ctx_t;

/* The counter of a core result (a malformed message's class, sip_alg_malformed) */
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

void sip_alg_malformed (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_ctx_t *c, u32 ctr);
int sip_alg_message (vlib_main_t *vm, vlib_node_runtime_t *node, sip_alg_main_t *sam,
		     sip_alg_per_thread_t *ptd, sip_alg_ctx_t *c, const u8 *payload, u32 len,
		     sip_parse_mode_t mode, u8 *out, u32 out_cap, u32 *out_len);
int sip_alg_message_commit (vlib_main_t *vm, sip_alg_ctx_t *c, u32 held_bi,
			    u32 next_node_index);
void sip_alg_message_abort (sip_alg_main_t *sam, sip_alg_ctx_t *c, sip_result_t result);
void sip_alg_stun_learn (vlib_main_t *vm, sip_alg_per_thread_t *ptd, vlib_buffer_t *b,
			 const sip_alg_stash_t *st);

/* SIP over TCP (sip_alg_tcp.c) */
int sip_alg_post_tcp (vlib_main_t *vm, vlib_node_runtime_t *node, sip_alg_main_t *sam,
		      sip_alg_per_thread_t *ptd, vlib_buffer_t *b, u32 bi, u32 next_node_index,
		      sip_alg_ctx_t *c);

#endif /* __included_sip_alg_msg_h__ */
