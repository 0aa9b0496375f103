/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

#include <string.h>

#include "sip_call.h"

static const char *const sip_call_state_names[] = {
#define _(sym, str) [SIP_CALL_##sym] = str,
  foreach_sip_call_state
#undef _
};

const char *
sip_call_state_name (sip_call_state_t s)
{
  return (unsigned) s < SIP_CALL_N_STATES ? sip_call_state_names[s] : "?";
}

void
sip_call_event_from_msg (const sip_msg_t *m, int has_sdp, int64_t contact_expires,
			 sip_call_event_t *ev)
{
  memset (ev, 0, sizeof (*ev));
  ev->is_request = m->is_request;
  ev->method = m->method;
  ev->cseq_method = m->cseq_method;
  ev->status = m->status;
  ev->cseq = m->cseq;
  ev->has_sdp = has_sdp != 0;
  ev->expires = contact_expires >= 0 ? contact_expires : m->expires;
}

static int
sip_call_dialog_active (uint8_t state)
{
  return state == SIP_CALL_INVITING || state == SIP_CALL_EARLY || state == SIP_CALL_CONFIRMED ||
	 state == SIP_CALL_CANCELLING;
}

static uint32_t
sip_call_request (sip_call_fsm_t *f, const sip_call_event_t *ev, uint32_t *expires)
{
  (void) expires;
  switch (ev->method)
    {
    case SIP_METHOD_INVITE:
      if (f->invite_pending && ev->cseq == f->invite_cseq)
	return SIP_ACT_RETRANSMIT;
      if (!sip_call_dialog_active (f->state))
	{
	  /* a new call (also on a record that was closed or only registered) */
	  uint32_t reg = f->register_cseq;
	  memset (f, 0, sizeof (*f));
	  f->register_cseq = reg;
	  f->state = SIP_CALL_INVITING;
	  f->invite_cseq = ev->cseq;
	  f->invite_pending = 1;
	  return SIP_ACT_OPEN_SIGNAL | (ev->has_sdp ? SIP_ACT_OPEN_MEDIA : 0);
	}
      /* re-INVITE: the offer replaces this side's media */
      f->invite_cseq = ev->cseq;
      f->invite_pending = 1;
      return ev->has_sdp ? SIP_ACT_REPLACE_MEDIA : 0;

    case SIP_METHOD_ACK:
      /* an answer in the ACK (offer was in the 2xx) */
      if (f->state == SIP_CALL_CONFIRMED && ev->has_sdp)
	return SIP_ACT_OPEN_MEDIA;
      return 0;

    case SIP_METHOD_UPDATE:
    case SIP_METHOD_PRACK:
      if (sip_call_dialog_active (f->state) && ev->has_sdp)
	return SIP_ACT_REPLACE_MEDIA;
      return 0;

    case SIP_METHOD_CANCEL:
      if (f->state == SIP_CALL_INVITING || f->state == SIP_CALL_EARLY)
	{
	  f->state = SIP_CALL_CANCELLING;
	  f->cancel_cseq = ev->cseq;
	  return SIP_ACT_CLOSE_MEDIA;
	}
      return f->state == SIP_CALL_CANCELLING ? SIP_ACT_RETRANSMIT : 0;

    case SIP_METHOD_BYE:
      if (f->state == SIP_CALL_TERMINATING && ev->cseq == f->bye_cseq)
	return SIP_ACT_RETRANSMIT;
      if (sip_call_dialog_active (f->state))
	{
	  f->state = SIP_CALL_TERMINATING;
	  f->bye_cseq = ev->cseq;
	  f->invite_pending = 0;
	  return SIP_ACT_CLOSE_MEDIA;
	}
      return 0;

    case SIP_METHOD_REGISTER:
      if (f->register_cseq == ev->cseq && f->state == SIP_CALL_REGISTERING)
	return SIP_ACT_RETRANSMIT;
      f->register_cseq = ev->cseq;
      if (f->state == SIP_CALL_IDLE || f->state == SIP_CALL_CLOSED)
	f->state = SIP_CALL_REGISTERING;
      return 0;

    default:
      return 0;
    }
}

static uint32_t
sip_call_response (sip_call_fsm_t *f, const sip_call_event_t *ev, uint32_t *expires)
{
  uint16_t st = ev->status;
  int final = st >= 200, ok = st >= 200 && st < 300;

  switch (ev->cseq_method)
    {
    case SIP_METHOD_INVITE:
      if (ev->cseq != f->invite_cseq || !f->invite_pending)
	return (ok && ev->cseq == f->invite_cseq) ? SIP_ACT_RETRANSMIT : 0;
      if (st < 200)
	{
	  if (st == 100)
	    return 0;
	  if (f->state == SIP_CALL_INVITING)
	    f->state = SIP_CALL_EARLY;
	  return ev->has_sdp ? SIP_ACT_OPEN_MEDIA : 0;
	}
      f->invite_pending = 0;
      if (ok)
	{
	  uint32_t a = 0;
	  if (ev->has_sdp)
	    a = f->confirmed_once ? SIP_ACT_REPLACE_MEDIA : SIP_ACT_OPEN_MEDIA;
	  f->state = SIP_CALL_CONFIRMED; /* also when racing a CANCEL (RFC 3261 9.1) */
	  f->confirmed_once = 1;
	  return a;
	}
      /* a failed re-INVITE: the session goes on with its media, unless the answer says
	 the dialog is gone (481, 408: RFC 5057 section 5.1) */
      if (f->confirmed_once && st != 481 && st != 408)
	return 0;
      f->state = SIP_CALL_CLOSED;
      return SIP_ACT_CLOSE_MEDIA | SIP_ACT_CLOSE_CALL;

    case SIP_METHOD_BYE:
      if (final && ev->cseq == f->bye_cseq && f->state == SIP_CALL_TERMINATING)
	{
	  f->state = SIP_CALL_CLOSED;
	  return SIP_ACT_CLOSE_CALL;
	}
      return 0;

    case SIP_METHOD_UPDATE:
    case SIP_METHOD_PRACK:
      return (ok && ev->has_sdp && sip_call_dialog_active (f->state)) ? SIP_ACT_REPLACE_MEDIA :
									     0;

    case SIP_METHOD_REGISTER:
      if (ev->cseq != f->register_cseq || !final)
	return 0;
      if (!ok)
	{
	  if (f->state == SIP_CALL_REGISTERING)
	    f->state = SIP_CALL_IDLE; /* e.g. 401: the client retries with credentials */
	  return 0;
	}
      if (ev->expires == 0)
	{
	  f->state = SIP_CALL_CLOSED;
	  return SIP_ACT_UNBIND;
	}
      *expires = ev->expires > 0 ? (uint32_t) ev->expires : SIP_DEFAULT_REGISTER_EXPIRES;
      f->state = SIP_CALL_REGISTERED;
      return SIP_ACT_BIND;

    default:
      return 0;
    }
}

sip_call_result_t
sip_call_step (const sip_call_fsm_t *cur, const sip_call_event_t *ev, sip_call_fsm_t *next)
{
  sip_call_result_t res = { 0, 0 };
  sip_call_fsm_t f = *cur;

  res.actions =
    ev->is_request ? sip_call_request (&f, ev, &res.expires) : sip_call_response (&f, ev, &res.expires);
  *next = f;
  return res;
}
