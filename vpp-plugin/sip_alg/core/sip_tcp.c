/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * SIP over TCP: the stream engine (sip_tcp.h).
 */

#include <string.h>

#include "sip_tcp.h"

/* room for len more bytes in b */
static void
sip_tcp_reserve (sip_tcp_bytes_t *b, uint32_t len, const sip_tcp_mem_t *mem)
{
  uint32_t want = b->len + len;
  if (want <= b->cap)
    return;
  uint32_t cap = b->cap + b->cap / 2;
  if (cap < want)
    cap = want;
  if (cap < 64)
    cap = 64;
  b->data = mem->resize (b->data, cap);
  b->cap = cap;
}

static void
sip_tcp_append (sip_tcp_bytes_t *b, const uint8_t *p, uint32_t len, const sip_tcp_mem_t *mem)
{
  if (!len)
    return;
  sip_tcp_reserve (b, len, mem);
  memcpy (b->data + b->len, p, len);
  b->len += len;
}

static void
sip_tcp_bytes_free (sip_tcp_bytes_t *b, const sip_tcp_mem_t *mem)
{
  mem->release (b->data);
  *b = (sip_tcp_bytes_t){ 0 };
}

void
sip_tcp_conn_init (sip_tcp_conn_t *tc)
{
  memset (tc, 0, sizeof (*tc));
  tc->half[0].mss = tc->half[1].mss = SIP_TCP_DEFAULT_MSS;
}

void
sip_tcp_conn_free (sip_tcp_conn_t *tc, const sip_tcp_mem_t *mem)
{
  for (int d = 0; d < 2; d++)
    {
      sip_tcp_bytes_free (&tc->half[d].pending, mem);
      sip_tcp_bytes_free (&tc->half[d].unit, mem);
    }
}

int32_t
sip_tcp_seq_offset (const sip_tcp_half_t *h, uint32_t seq)
{
  int32_t off = h->base;
  for (uint32_t i = 0; i < h->n_corr && sip_tcp_seq_lt (h->corr[i].pos, seq); i++)
    off = h->corr[i].after;
  return off;
}

uint32_t
sip_tcp_ack_orig (const sip_tcp_half_t *h, uint32_t ack)
{
  for (int i = h->n_corr - 1; i >= 0; i--)
    if (sip_tcp_seq_lt (h->corr[i].pos, ack - h->corr[i].before))
      return ack - h->corr[i].after;
  return ack - h->base;
}

void
sip_tcp_correct (sip_tcp_half_t *h, uint32_t pos, int32_t delta)
{
  int32_t before = sip_tcp_seq_offset (h, pos);
  if (h->n_corr == SIP_TCP_CORR)
    {
      /* the oldest goes: units before it are too old to be retransmitted now */
      h->base = h->corr[0].after;
      memmove (h->corr, h->corr + 1, (SIP_TCP_CORR - 1) * sizeof (h->corr[0]));
      h->n_corr--;
    }
  h->corr[h->n_corr++] = (sip_tcp_corr_t){ pos, before, before + delta };
}

static uint32_t
sip_tcp_get32 (const uint8_t *p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void
sip_tcp_put32 (uint8_t *p, uint32_t v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

void
sip_tcp_options (uint8_t *opt, uint32_t len, uint16_t *mss, const sip_tcp_half_t *o)
{
  uint32_t i = 0;
  while (i < len && opt[i] != 0)
    {
      if (opt[i] == 1)
	{
	  i++;
	  continue;
	}
      if (i + 2 > len || opt[i + 1] < 2 || i + opt[i + 1] > len)
	break;
      if (opt[i] == 2 && opt[i + 1] == 4 && mss)
	*mss = (uint16_t) (opt[i + 2] << 8 | opt[i + 3]);
      else if (opt[i] == 5 && o)
	for (uint32_t e = i + 2; e + 4 <= i + opt[i + 1]; e += 4)
	  sip_tcp_put32 (opt + e, sip_tcp_ack_orig (o, sip_tcp_get32 (opt + e)));
      i += opt[i + 1];
    }
}

int
sip_tcp_control (sip_tcp_conn_t *tc, int d, uint8_t flags, uint32_t seq, uint32_t *ack,
		 uint8_t *opt, uint32_t opt_len, const sip_tcp_mem_t *mem)
{
  sip_tcp_half_t *h = &tc->half[d], *o = &tc->half[!d];

  if ((flags & SIP_TCP_SYN) && !(flags & SIP_TCP_ACK) && tc->closing)
    {
      /* the same endpoints open a new connection: nothing of the old one applies */
      sip_tcp_conn_free (tc, mem);
      sip_tcp_conn_init (tc);
    }
  if (flags & SIP_TCP_SYN)
    {
      /* the MSS this side announces bounds what the other direction sends to it */
      sip_tcp_options (opt, opt_len, &o->mss, 0);
      h->next_seq = seq + 1;
      h->seen = 1;
    }
  if ((flags & SIP_TCP_ACK) && (o->n_corr || o->base))
    {
      *ack = sip_tcp_ack_orig (o, *ack);
      sip_tcp_options (opt, opt_len, 0, o);
      return 1;
    }
  return 0;
}

sip_tcp_data_t
sip_tcp_data (sip_tcp_conn_t *tc, int d, uint8_t flags, uint32_t *seq, const uint8_t **payload,
	      uint32_t *plen)
{
  sip_tcp_half_t *h = &tc->half[d];

  if (!*plen || tc->bypass || (flags & SIP_TCP_SYN))
    return SIP_TCP_DATA_NONE;
  if (!h->seen)
    {
      /* picked up mid-stream (the ALG came later than the connection) */
      h->next_seq = *seq;
      h->seen = 1;
    }
  if (sip_tcp_seq_lt (*seq, h->next_seq))
    {
      uint32_t end = *seq + *plen;
      if (!sip_tcp_seq_lt (h->next_seq, end))
	{
	  /* all of it was seen before: a retransmission */
	  if (h->pending.len && !sip_tcp_seq_lt (*seq, h->pending_seq))
	    return SIP_TCP_DATA_KEPT;
	  if (h->unit.len && !sip_tcp_seq_lt (*seq, h->unit_seq) &&
	      sip_tcp_seq_lt (*seq, h->unit_seq + h->unit_len))
	    return SIP_TCP_DATA_RESENT;
	  return SIP_TCP_DATA_OLD;
	}
      /* partly new: the new part only */
      uint32_t skip = h->next_seq - *seq;
      *payload += skip;
      *plen -= skip;
      *seq = h->next_seq;
    }
  return *seq == h->next_seq ? SIP_TCP_DATA_NEW : SIP_TCP_DATA_GAP;
}

/*
 * Frame pending[0..n): every complete message through the callback, line ends as they
 * are. Returns the bytes consumed; r->error and r->overflow when the framing is lost.
 */
static uint32_t
sip_tcp_frame (sip_tcp_conn_t *tc, const uint8_t *data, uint32_t n,
	       const sip_tcp_stream_cfg_t *cfg, sip_tcp_stream_result_t *r)
{
  uint32_t off = 0;
  while (off < n)
    {
      /* keep-alives (RFC 5626: CRLF CRLF ping, CRLF pong) and stray line ends pass */
      if (data[off] == '\r' || data[off] == '\n')
	{
	  sip_tcp_append (cfg->out, data + off, 1, cfg->mem);
	  off++;
	  continue;
	}
      sip_msg_t m;
      sip_result_t res =
	sip_msg_parse (data + off, n - off, SIP_PARSE_STREAM, &m, cfg->hdrs, cfg->max_hdrs);
      if (res == SIP_INCOMPLETE)
	break;
      if (res != SIP_OK)
	{
	  /* no framing to go by: the rest of this connection passes untouched */
	  r->error = res;
	  r->overflow = 1;
	  tc->bypass = 1;
	  sip_tcp_append (cfg->out, data + off, n - off, cfg->mem);
	  return n;
	}
      const uint8_t *out;
      uint32_t out_len;
      uint32_t v = cfg->message (cfg->ctx, data + off, m.msg_len, &out, &out_len);
      if (v & SIP_TCP_MSG_SEND)
	{
	  sip_tcp_append (cfg->out, out, out_len, cfg->mem);
	  r->hold |= (v & SIP_TCP_MSG_HOLD) != 0;
	}
      off += m.msg_len;
    }
  return off;
}

void
sip_tcp_stream (sip_tcp_conn_t *tc, int d, const uint8_t *payload, uint32_t plen, uint32_t seq,
		const sip_tcp_stream_cfg_t *cfg, sip_tcp_stream_result_t *r)
{
  sip_tcp_half_t *h = &tc->half[d];

  *r = (sip_tcp_stream_result_t){ .error = SIP_OK };
  r->start = h->pending.len ? h->pending_seq : seq;
  sip_tcp_append (&h->pending, payload, plen, cfg->mem);
  h->next_seq = seq + plen;
  cfg->out->len = 0;

  uint32_t n = h->pending.len;
  uint32_t off = sip_tcp_frame (tc, h->pending.data, n, cfg, r);
  uint32_t rest = n - off;
  if (rest > cfg->max_pending)
    {
      r->overflow = 1;
      tc->bypass = 1;
      sip_tcp_append (cfg->out, h->pending.data + off, rest, cfg->mem);
      off = n;
      rest = 0;
    }
  else
    r->partial = rest != 0;

  int32_t delta = (int32_t) cfg->out->len - (int32_t) off;
  if (delta)
    sip_tcp_correct (h, r->start, delta);
  if (off)
    {
      h->unit.len = 0;
      sip_tcp_append (&h->unit, cfg->out->data, cfg->out->len, cfg->mem);
      h->unit_seq = r->start;
      h->unit_len = off;
    }
  if (rest)
    {
      memmove (h->pending.data, h->pending.data + off, rest);
      h->pending.len = rest;
      h->pending_seq = r->start + off;
    }
  else
    h->pending.len = 0;
}

uint32_t
sip_tcp_seg_size (uint16_t mss, uint32_t opt_len, uint32_t room)
{
  uint32_t m = mss ? mss : SIP_TCP_DEFAULT_MSS;
  uint32_t seg = m > opt_len + 64 ? m - opt_len : 64;
  return seg < room ? seg : room;
}

void
sip_tcp_end (sip_tcp_conn_t *tc, int d, uint8_t flags)
{
  if (flags & SIP_TCP_FIN)
    tc->half[d].fin = 1;
  if ((flags & SIP_TCP_RST) || (tc->half[0].fin && tc->half[1].fin))
    tc->closing = 1;
}
