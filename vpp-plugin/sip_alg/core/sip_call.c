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
  uint8_t s = ev->client_side & 1, side = 1 << s;
  (void) expires;
  switch (ev->method)
    {
    case SIP_METHOD_INVITE:
      if ((f->invite_sent & side) && ev->cseq == f->invite_cseq[s])
	{
	  /*
	   * The same INVITE again: while it is in progress a retransmission; after its final
	   * response, while its dialog lives or ends, a late copy that must not open anything
	   * again. (On a closed record it starts a new call as before: a UA that sends its
	   * INVITE again after a challenge without a new CSeq, against RFC 3261 8.1.3.5.)
	   */
	  if (f->invite_pending & side)
	    return SIP_ACT_RETRANSMIT;
	  if (sip_call_dialog_active (f->state) || f->state == SIP_CALL_TERMINATING)
	    return SIP_ACT_STALE;
	}
      if (!sip_call_dialog_active (f->state))
	{
	  /* a new call (also on a record that was closed or only registered) */
	  uint32_t reg = f->register_cseq;
	  memset (f, 0, sizeof (*f));
	  f->register_cseq = reg;
	  f->state = SIP_CALL_INVITING;
	  f->invite_cseq[s] = ev->cseq;
	  f->invite_sent = side;
	  f->invite_pending = side;
	  return SIP_ACT_OPEN_SIGNAL | (ev->has_sdp ? SIP_ACT_OPEN_MEDIA : 0);
	}
      /* an INVITE older than its sender's last: its UAS refuses it (500, RFC 3261 12.2.2) */
      if ((f->invite_sent & side) && ev->cseq < f->invite_cseq[s])
	return SIP_ACT_STALE;
      /* re-INVITE: the offer replaces this side's media */
      f->invite_cseq[s] = ev->cseq;
      f->invite_sent |= side;
      f->invite_pending |= side;
      return ev->has_sdp ? SIP_ACT_REPLACE_MEDIA : 0;

    case SIP_METHOD_ACK:
      /* the ACK of an older INVITE of its sender (of a challenge resent late, of a 2xx
	 before a re-INVITE) answers nothing that still holds */
      if (!(f->invite_sent & side) || ev->cseq != f->invite_cseq[s])
	return SIP_ACT_STALE;
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
      /* a CANCEL names its INVITE by CSeq number (RFC 3261 9.1): one of an INVITE that is
	 over (a challenged one) leaves the INVITE in progress alone */
      if ((f->state == SIP_CALL_INVITING || f->state == SIP_CALL_EARLY) &&
	  (f->invite_pending & side) && ev->cseq == f->invite_cseq[s])
	{
	  f->state = SIP_CALL_CANCELLING;
	  f->cancel_cseq = ev->cseq;
	  return SIP_ACT_CLOSE_MEDIA;
	}
      if (f->state == SIP_CALL_CANCELLING && ev->cseq == f->cancel_cseq)
	return SIP_ACT_RETRANSMIT;
      /* too late (the 2xx came first: the caller ACKs and sends BYE), or of another INVITE */
      return ev->cseq == f->invite_cseq[s] ? 0 : SIP_ACT_STALE;

    case SIP_METHOD_BYE:
      if ((f->bye_sent & side) && ev->cseq == f->bye_cseq[s])
	return SIP_ACT_RETRANSMIT;
      if (sip_call_dialog_active (f->state))
	{
	  f->state = SIP_CALL_TERMINATING;
	  f->bye_cseq[s] = ev->cseq;
	  f->bye_sent |= side;
	  f->invite_pending = 0;
	  return SIP_ACT_CLOSE_MEDIA;
	}
      if (f->state == SIP_CALL_TERMINATING && !(f->bye_sent & side))
	{
	  /* crossing BYEs: the final response to either one ends the dialog (RFC 3261
	     15.1.2: each UAS ends it when it answers), whichever answer is lost */
	  f->bye_cseq[s] = ev->cseq;
	  f->bye_sent |= side;
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
  uint8_t s = ev->client_side & 1, side = 1 << s;

  switch (ev->cseq_method)
    {
    case SIP_METHOD_INVITE:
      if (!(f->invite_pending & side) || ev->cseq != f->invite_cseq[s])
	{
	  /*
	   * Not the answer of an INVITE in progress. The 2xx again while its dialog lives is
	   * a retransmission (its ACK was lost: RFC 3261 13.3.1.4); anything else is late
	   * or reordered: a challenge resent after the retry was answered, an 18x after the
	   * final response, a 2xx after the BYE, a response to an older INVITE. None of them
	   * changes the call.
	   */
	  if (ok && ev->cseq == f->invite_cseq[s] && f->state == SIP_CALL_CONFIRMED)
	    return SIP_ACT_RETRANSMIT;
	  return SIP_ACT_STALE;
	}
      if (st < 200)
	{
	  if (st == 100)
	    return 0;
	  if (f->state == SIP_CALL_INVITING)
	    f->state = SIP_CALL_EARLY;
	  return ev->has_sdp ? SIP_ACT_OPEN_MEDIA : 0;
	}
      f->invite_pending &= ~side;
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
      f->invite_pending = 0;
      return SIP_ACT_CLOSE_MEDIA | SIP_ACT_CLOSE_CALL;

    case SIP_METHOD_BYE:
      if (!final || !(f->bye_sent & side) || ev->cseq != f->bye_cseq[s])
	return 0;
      if (f->state != SIP_CALL_TERMINATING)
	return SIP_ACT_STALE; /* again, or to the other crossing BYE: the call has ended */
      f->state = SIP_CALL_CLOSED;
      return SIP_ACT_CLOSE_CALL;

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
