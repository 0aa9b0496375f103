/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Call state machine as a pure function: (state, message) -> (new state, actions).
 *
 * The data plane keeps one sip_call_fsm_t per Call-ID and turns the actions into server-map
 * operations: the signaling pinhole of a new call, closing media on BYE, CANCEL and failure
 * final responses, closing the call, keeping a REGISTER binding for its expiry. OPEN_MEDIA
 * and REPLACE_MEDIA say that a message carries a new description; which streams it opens
 * and releases the plugin decides by offer/answer (sip_alg_offer_answer: an offer's new
 * streams before it leaves, the old ones when its answer comes). A message of a transaction
 * that is over or not the current one (STALE: a late or reordered copy, a stale CSeq number
 * or method) changes no state, and a duplicate (RETRANSMIT) nothing new, so the state after
 * loss, duplication and reordering is the state without them. No I/O, no clock, no
 * allocation.
 */

#ifndef __included_sip_call_h__
#define __included_sip_call_h__

#include "sip_msg.h"

#define foreach_sip_call_state                                                                \
  _ (IDLE, "idle")                                                                            \
  _ (INVITING, "inviting")       /* INVITE seen, no response yet */                           \
  _ (EARLY, "early")             /* provisional 101-199 response seen */                      \
  _ (CONFIRMED, "confirmed")     /* 2xx to the INVITE */                                      \
  _ (CANCELLING, "cancelling")   /* CANCEL seen before a final response */                    \
  _ (TERMINATING, "terminating") /* BYE seen */                                               \
  _ (CLOSED, "closed")                                                                        \
  _ (REGISTERING, "registering") /* REGISTER seen, waiting for the response */                \
  _ (REGISTERED, "registered")

typedef enum
{
#define _(sym, str) SIP_CALL_##sym,
  foreach_sip_call_state
#undef _
    SIP_CALL_N_STATES,
} sip_call_state_t;

/* Actions (bit mask). */
#define SIP_ACT_OPEN_MEDIA   (1 << 0) /* create pinholes from this message's SDP */
#define SIP_ACT_REPLACE_MEDIA (1 << 1) /* drop this side's pinholes, create from this SDP */
#define SIP_ACT_CLOSE_MEDIA  (1 << 2) /* drop every media pinhole of the call */
#define SIP_ACT_CLOSE_CALL   (1 << 3) /* drop the call record and its signaling entry */
#define SIP_ACT_OPEN_SIGNAL  (1 << 4) /* create the signaling pinhole (ANY -> public:port) */
#define SIP_ACT_BIND	     (1 << 5) /* REGISTER binding accepted: keep it for `expires` s */
#define SIP_ACT_UNBIND	     (1 << 6) /* REGISTER binding removed */
#define SIP_ACT_RETRANSMIT   (1 << 7) /* same message again: nothing new */
/*
 * A message of a transaction that is over or superseded: a late or reordered copy (a 407
 * resent after the retry was answered, an 18x after the 2xx, a 2xx after the BYE, an
 * INVITE or ACK older than the last INVITE of its sender). Nothing of it takes effect:
 * its SDP opens, records and releases nothing (a RETRANSMIT of the current transaction
 * may still need its ports again).
 */
#define SIP_ACT_STALE	     (1 << 8)

/*
 * The two parties of a call as the ALG sees them. Each numbers its requests on its own
 * (CSeq, RFC 3261 12.2.1.1), so the machine keeps each one's INVITE and BYE apart: both may
 * have a re-INVITE out at once (glare, 14.1) or hang up at once (crossing BYEs), and the
 * same CSeq number may be the inside party's and the outside party's request.
 */
#define SIP_CALL_SIDE_INSIDE  0
#define SIP_CALL_SIDE_OUTSIDE 1

typedef struct
{
  uint8_t state; /* sip_call_state_t */
  uint8_t confirmed_once; /* a 2xx to an INVITE was seen: later INVITEs are re-INVITEs */
  /* bits 1 << side, in one byte (the call record keeps the machine in 28 bytes) */
  uint8_t invite_pending : 2; /* that side's INVITE awaits its final response */
  uint8_t bye_sent : 2;	      /* that side sent BYE bye_cseq[side] */
  uint8_t invite_sent : 2;    /* that side sent an INVITE, invite_cseq[side] */
  uint32_t invite_cseq[2]; /* per side: its last INVITE (0 is a CSeq like any other) */
  uint32_t bye_cseq[2];
  uint32_t register_cseq;
  uint32_t cancel_cseq;
} sip_call_fsm_t;

typedef struct
{
  uint8_t is_request;
  uint8_t method;	/* request method */
  uint8_t cseq_method; /* CSeq method (responses) */
  uint8_t has_sdp;
  uint8_t client_side; /* SIP_CALL_SIDE_* that sent the request (of a response: its request) */
  uint16_t status;
  uint32_t cseq;
  int64_t expires; /* REGISTER: Contact expires= or Expires header, -1 when absent */
} sip_call_event_t;

typedef struct
{
  uint32_t actions;
  uint32_t expires; /* for SIP_ACT_BIND */
} sip_call_result_t;

/* Default REGISTER binding lifetime when a 2xx carries no expiry (RFC 3261 10.2.1.1). */
#define SIP_DEFAULT_REGISTER_EXPIRES 3600

/* Step the machine: *next gets the new state (cur and next may alias). */
sip_call_result_t sip_call_step (const sip_call_fsm_t *cur, const sip_call_event_t *ev,
				 sip_call_fsm_t *next);

/* Fill an event from a parsed message (client_side 0: the caller sets it). */
void sip_call_event_from_msg (const sip_msg_t *m, int has_sdp, int64_t contact_expires,
			      sip_call_event_t *ev);

const char *sip_call_state_name (sip_call_state_t s);

#endif /* __included_sip_call_h__ */
