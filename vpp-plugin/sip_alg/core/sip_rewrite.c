/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

#include <string.h>

#include "sip_rewrite.h"

static uint32_t
sip_format_u16 (char *s, uint32_t v)
{
  char tmp[6];
  uint32_t n = 0, i;
  do
    {
      tmp[n++] = (char) ('0' + v % 10);
      v /= 10;
    }
  while (v);
  for (i = 0; i < n; i++)
    s[i] = tmp[n - 1 - i];
  return n;
}

/* One octet in decimal, without leading zeros. */
static inline uint32_t
sip_format_octet (char *s, uint32_t v)
{
  uint32_t n = 0;
  if (v >= 100)
    s[n++] = (char) ('0' + v / 100);
  if (v >= 10)
    s[n++] = (char) ('0' + v / 10 % 10);
  s[n++] = (char) ('0' + v % 10);
  return n;
}

uint32_t
sip_format_ip4 (char *s, uint32_t ip)
{
  uint32_t n = sip_format_octet (s, ip >> 24);
  s[n++] = '.';
  n += sip_format_octet (s + n, (ip >> 16) & 0xff);
  s[n++] = '.';
  n += sip_format_octet (s + n, (ip >> 8) & 0xff);
  s[n++] = '.';
  return n + sip_format_octet (s + n, ip & 0xff);
}

/*
 * The text of a translation's address, and of its address and port, formatted once per
 * plan: a message names the same translation in several sites. The first SIP_XTEXT_N
 * translations are kept; others are formatted each time.
 */
#define SIP_XTEXT_N 8
typedef struct
{
  uint8_t done;			 /* bit i: entry i formatted */
  uint8_t ip_len[SIP_XTEXT_N];	 /* "a.b.c.d" */
  uint8_t len[SIP_XTEXT_N];	 /* "a.b.c.d:port" */
  char text[SIP_XTEXT_N][SIP_EDIT_MAX_TEXT];
} sip_xtext_t;

/* "a.b.c.d:port" of translation x into text (SIP_EDIT_MAX_TEXT bytes); its length. */
static uint32_t
sip_xtext_format (char *text, const sip_xlate_t *x, uint32_t *ip_len)
{
  uint32_t n = sip_format_ip4 (text, x->to_ip);
  *ip_len = n;
  text[n++] = ':';
  return n + sip_format_u16 (text + n, x->to_port);
}

/*
 * The text of translation x (entry i of the configuration) into text (SIP_EDIT_MAX_TEXT
 * bytes): its address, and with_port ":port" after it. Returns its length.
 */
static uint32_t
sip_xtext (sip_xtext_t *c, uint32_t i, const sip_xlate_t *x, char *text, int with_port)
{
  uint32_t ip_len, len;
  if (i >= SIP_XTEXT_N)
    {
      len = sip_xtext_format (text, x, &ip_len);
      return with_port ? len : ip_len;
    }
  if (!(c->done & (1u << i)))
    {
      c->len[i] = (uint8_t) sip_xtext_format (c->text[i], x, &ip_len);
      c->ip_len[i] = (uint8_t) ip_len;
      c->done |= (uint8_t) (1u << i);
    }
  memcpy (text, c->text[i], SIP_EDIT_MAX_TEXT);
  return with_port ? c->len[i] : c->ip_len[i];
}

static const sip_xlate_t *
sip_xlate_find (const sip_rewrite_cfg_t *cfg, uint32_t ip, uint16_t port, int addr_only)
{
  for (uint32_t i = 0; i < cfg->n_xlate; i++)
    {
      const sip_xlate_t *x = &cfg->xlate[i];
      if (x->from_ip == ip && (addr_only || x->from_port == port))
	return x;
    }
  return 0;
}

/* Append an edit unless the replacement equals the original bytes. */
static sip_result_t
sip_plan_add (const uint8_t *buf, sip_plan_t *plan, uint16_t off, uint16_t old_len,
	      const char *text, uint32_t new_len, uint8_t site)
{
  if (old_len == new_len && memcmp (buf + off, text, new_len) == 0)
    return SIP_OK;
  if (plan->n_edits >= plan->max_edits)
    return SIP_ERR_TOO_MANY_EDITS;
  if (plan->n_edits)
    {
      const sip_edit_t *prev = &plan->edits[plan->n_edits - 1];
      if (off < prev->off + prev->old_len)
	return SIP_ERR_INVALID_ARG; /* sites must be disjoint and in buffer order */
    }
  sip_edit_t *e = &plan->edits[plan->n_edits++];
  e->off = off;
  e->old_len = old_len;
  e->new_len = (uint8_t) new_len;
  e->site = site;
  memcpy (e->text, text, SIP_EDIT_MAX_TEXT); /* text is SIP_EDIT_MAX_TEXT bytes long */
  plan->delta += (int32_t) new_len - (int32_t) old_len;
  return SIP_OK;
}

static int
sip_site_addr_only (const sip_site_t *s)
{
  return (s->flags & SIP_SITE_F_ADDR_ONLY) != 0;
}

/* The address a translated address-only site gets: cfg->media_ip for SDP connections. */
static uint32_t
sip_site_to_ip (const sip_rewrite_cfg_t *cfg, const sip_site_t *s, const sip_xlate_t *x)
{
  const uint32_t conn = SIP_SITE_MASK (SIP_SITE_SDP_C_SESSION) |
			SIP_SITE_MASK (SIP_SITE_SDP_C_MEDIA) |
			SIP_SITE_MASK (SIP_SITE_SDP_RTCP_ADDR);
  return cfg->media_ip && (conn & SIP_SITE_MASK (s->kind)) ? cfg->media_ip : x->to_ip;
}

sip_result_t
sip_rewrite_plan (const uint8_t *buf, const sip_msg_t *msg, const sip_info_t *info,
		  const sip_rewrite_cfg_t *cfg, sip_plan_t *plan, sip_edit_t *edits,
		  uint16_t max_edits)
{
  sip_result_t r;
  char text[SIP_EDIT_MAX_TEXT] = { 0 };
  uint32_t n;
  sip_xtext_t xt;

  if (!buf || !msg || !info || !cfg || !plan || (!edits && max_edits) ||
      (!cfg->xlate && cfg->n_xlate) || (!cfg->media && cfg->n_media))
    return SIP_ERR_INVALID_ARG;
  memset (plan, 0, sizeof (*plan));
  plan->edits = edits;
  plan->max_edits = max_edits;
  xt.done = 0;

  for (uint16_t i = 0; i < info->n_sites; i++)
    {
      const sip_site_t *s = &info->sites[i];
      const sip_xlate_t *x;
      r = SIP_OK;
      uint8_t si = i < 0xff ? (uint8_t) i : 0xfe;

      if (!(cfg->site_mask & SIP_SITE_MASK (s->kind)) || s->host_type != SIP_HOST_IP4)
	continue;

      switch (s->kind)
	{
	case SIP_SITE_SDP_M:
	case SIP_SITE_SDP_RTCP:
	  {
	    if (s->media >= cfg->n_media || s->value == 0)
	      continue;
	    const sip_media_xlate_t *mx = &cfg->media[s->media];
	    uint16_t np = s->kind == SIP_SITE_SDP_M ? mx->rtp_port : mx->rtcp_port;
	    if (!np)
	      continue;
	    n = sip_format_u16 (text, np);
	    r = sip_plan_add (buf, plan, s->port.off, s->port.len, text, n, si);
	    break;
	  }
	case SIP_SITE_VIA_RPORT:
	  if (!(x = sip_xlate_find (cfg, s->ip4, s->value, 0)))
	    continue;
	  n = sip_format_u16 (text, x->to_port);
	  r = sip_plan_add (buf, plan, s->port.off, s->port.len, text, n, si);
	  break;
	default:
	  if (sip_site_addr_only (s))
	    {
	      if (!(x = sip_xlate_find (cfg, s->ip4, 0, 1)))
		continue;
	      uint32_t to = sip_site_to_ip (cfg, s, x);
	      n = to == x->to_ip ? sip_xtext (&xt, (uint32_t) (x - cfg->xlate), x, text, 0) :
				   sip_format_ip4 (text, to);
	      r = sip_plan_add (buf, plan, s->host.off, s->host.len, text, n, si);
	    }
	  else
	    {
	      /* host[:port] replaced as one region */
	      if (!(x = sip_xlate_find (cfg, s->ip4, s->value, 0)))
		continue;
	      n = sip_xtext (&xt, (uint32_t) (x - cfg->xlate), x, text,
			     (s->flags & SIP_SITE_F_PORT) || x->to_port != SIP_DEFAULT_PORT);
	      uint16_t end = (s->flags & SIP_SITE_F_PORT) ? s->port.off + s->port.len :
							    s->host.off + s->host.len;
	      r = sip_plan_add (buf, plan, s->host.off, end - s->host.off, text, n, si);
	    }
	  break;
	}
      if (r != SIP_OK)
	return r;
    }

  /* body size change: fix Content-Length (placed in buffer order) */
  for (uint16_t i = 0; i < plan->n_edits; i++)
    if (plan->edits[i].off >= msg->body_off)
      plan->body_delta += (int32_t) plan->edits[i].new_len - (int32_t) plan->edits[i].old_len;
  if (plan->body_delta && msg->clen_value.len)
    {
      int32_t cl = (int32_t) msg->body_len + plan->body_delta;
      uint16_t pos = 0;
      if (cl < 0 || cl > SIP_MAX_MSG_LEN)
	return SIP_ERR_TOO_LONG;
      if (plan->n_edits >= plan->max_edits)
	return SIP_ERR_TOO_MANY_EDITS;
      while (pos < plan->n_edits && plan->edits[pos].off < msg->clen_value.off)
	pos++;
      memmove (&plan->edits[pos + 1], &plan->edits[pos],
	       (size_t) (plan->n_edits - pos) * sizeof (sip_edit_t));
      sip_edit_t *e = &plan->edits[pos];
      e->off = msg->clen_value.off;
      e->old_len = msg->clen_value.len;
      e->new_len = (uint8_t) sip_format_u16 (e->text, (uint32_t) cl);
      e->site = 0xff;
      plan->n_edits++;
      plan->delta += (int32_t) e->new_len - (int32_t) e->old_len;
    }
  return SIP_OK;
}

sip_result_t
sip_rewrite_apply (const uint8_t *in, uint32_t len, const sip_plan_t *plan, uint8_t *out,
		   uint32_t out_cap, uint32_t *out_len)
{
  uint32_t ip = 0, op = 0;
  int64_t total = (int64_t) len + plan->delta;

  if (!in || !plan || !out_len || (!out && out_cap))
    return SIP_ERR_INVALID_ARG;
  /* validate the whole plan before writing a byte */
  for (uint16_t i = 0; i < plan->n_edits; i++)
    {
      const sip_edit_t *e = &plan->edits[i];
      if ((uint32_t) e->off + e->old_len > len || e->new_len > SIP_EDIT_MAX_TEXT ||
	  (i && e->off < plan->edits[i - 1].off + plan->edits[i - 1].old_len))
	return SIP_ERR_INVALID_ARG;
    }
  if (total < 0 || total > (int64_t) out_cap)
    return SIP_ERR_NO_SPACE;
  if (total == 0)
    {
      *out_len = 0;
      return SIP_OK;
    }

  for (uint16_t i = 0; i < plan->n_edits; i++)
    {
      const sip_edit_t *e = &plan->edits[i];
      memcpy (out + op, in + ip, e->off - ip);
      op += e->off - ip;
      memcpy (out + op, e->text, e->new_len);
      op += e->new_len;
      ip = (uint32_t) e->off + e->old_len;
    }
  memcpy (out + op, in + ip, len - ip);
  op += len - ip;
  *out_len = op;
  return SIP_OK;
}
