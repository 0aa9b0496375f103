/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * The server map's side of the worker -> main thread requests (sip_alg_smap.c): what a
 * request carries, and what the process node does with it (sip_alg.c). Main thread, the
 * barrier held.
 */

#ifndef __included_sip_alg_smap_h__
#define __included_sip_alg_smap_h__

#include <sip_alg/sip_alg.h>

/* Requests queued by the RPC for the process node (main thread only). */
typedef struct
{
  u8 kind; /* SIP_ALG_REQ_* */
  u8 media_only;
  u8 replace_outside; /* PINHOLES: the outside party's media records become these */
  u32 epoch;	      /* the call record's dialog it is for */
  u16 thread;
  u32 call_index;
  u32 held_bi; /* ~0: nothing held */
  u32 next_node_index;
  ip4_address_t peer_addr; /* the remote end of the message's NAT session */
  u16 peer_port;
  u8 resendable; /* the held message is a datagram of an inside phone, which resends it */
  u16 drop_held; /* set by the main thread: the held message is dropped with this error */
  u32 n_ph;
  sip_alg_pinhole_t ph[2 * SIP_ALG_CALL_MAX_MEDIA + 2];
} sip_alg_req_t;

enum
{
  SIP_ALG_REQ_PINHOLES = 1,
  SIP_ALG_REQ_CLOSE,
  SIP_ALG_REQ_RELEASE, /* media the session no longer has: ph[].pub_addr/pub_port (RTP) */
  SIP_ALG_REQ_MOVE,    /* a phone's signaling to a pool port: ph[0] its NAT session's ends */
};

/* A pinhole of a request: an entry made or refreshed. Returns 0, or -1 when it could not be. */
int sip_alg_smap_add (vlib_main_t *vm, sip_alg_req_t *req, const sip_alg_pinhole_t *ph);
void sip_alg_replace_outside (vlib_main_t *vm, const sip_alg_req_t *req);
void sip_alg_release (vlib_main_t *vm, const sip_alg_req_t *req);
void sip_alg_close (vlib_main_t *vm, const sip_alg_req_t *req, u32 counter);
sip_alg_smap_t *sip_alg_sig_move (vlib_main_t *vm, sip_alg_req_t *req,
				  const sip_alg_pinhole_t *from);
/*
 * Aging, from the process node, one slice of a pass (start: once a second, a pass begins
 * when none is under way) within budget (CPU clocks). Returns whether the pass goes on.
 */
u32 sip_alg_age (vlib_main_t *vm, int start, u64 budget);
u32 sip_alg_age_backlog (void);

#endif /* __included_sip_alg_smap_h__ */
