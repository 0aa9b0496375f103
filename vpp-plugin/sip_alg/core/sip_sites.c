/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

#include <string.h>

#include "sip_sites.h"
#include "sip_scan.h"

static const char *const sip_site_kind_names[] = {
#define _(sym, str) [SIP_SITE_##sym] = str,
  foreach_sip_site_kind
#undef _
};

const char *
sip_site_kind_name (sip_site_kind_t k)
{
  return (unsigned) k < SIP_SITE_N_KINDS ? sip_site_kind_names[k] : "?";
}

/* Append a site; returns 0 when the caller's array is full. */
static sip_site_t *
sip_site_add (sip_info_t *info, sip_site_kind_t kind)
{
  if (info->n_sites >= info->max_sites)
    return 0;
  sip_site_t *s = &info->sites[info->n_sites++];
  memset (s, 0, sizeof (*s));
  s->kind = (uint8_t) kind;
  s->media = 0xff;
  s->n_ports = 1;
  return s;
}

static int
sip_is_host_char (uint8_t c)
{
  return sip_is (c, SIP_CC_ALPHA | SIP_CC_DIGIT) || c == '-' || c == '.' || c == '_';
}

/*
 * Classify the host text [p, end) into a site. IPv6 references keep their brackets.
 * Returns 0 when the text is not a host.
 */
static int
sip_site_set_host (const uint8_t *base, sip_site_t *s, const uint8_t *p, const uint8_t *end)
{
  if (p >= end)
    return 0;
  s->host = sip_span (base, p, end);
  if (*p == '[')
    {
      if (end[-1] != ']' || end - p < 4)
	return 0;
      for (const uint8_t *q = p + 1; q < end - 1; q++)
	if (!(sip_is (*q, SIP_CC_HEX) || *q == ':' || *q == '.'))
	  return 0;
      s->host_type = SIP_HOST_IP6;
      return 1;
    }
  if (sip_parse_ip4 (p, end, &s->ip4))
    {
      s->host_type = SIP_HOST_IP4;
      return 1;
    }
  for (const uint8_t *q = p; q < end; q++)
    if (!sip_is_host_char (*q))
      return 0;
  s->host_type = SIP_HOST_NAME;
  return 1;
}

/* Bare IPv6 (SDP writes it without brackets). */
static int
sip_site_set_addr (const uint8_t *base, sip_site_t *s, const uint8_t *p, const uint8_t *end,
		   int ip6)
{
  if (!ip6)
    return sip_site_set_host (base, s, p, end);
  if (p >= end)
    return 0;
  for (const uint8_t *q = p; q < end; q++)
    if (!(sip_is (*q, SIP_CC_HEX) || *q == ':' || *q == '.'))
      return 0;
  s->host = sip_span (base, p, end);
  s->host_type = SIP_HOST_IP6;
  return 1;
}

/* Optional ":port" at p (p == end of host). Returns the end of the port, or 0 on error. */
static const uint8_t *
sip_site_port (const uint8_t *base, sip_site_t *s, const uint8_t *p, const uint8_t *end,
	       uint16_t dflt)
{
  uint64_t v;
  s->port = sip_span (base, p, p);
  s->value = dflt;
  if (p >= end || *p != ':')
    return p;
  const uint8_t *d = sip_skip_class (p + 1, end, SIP_CC_DIGIT);
  if (!sip_parse_uint (p + 1, d, 65535, &v))
    return 0;
  s->port = sip_span (base, p + 1, d);
  s->value = (uint16_t) v;
  s->flags |= SIP_SITE_F_PORT;
  return d;
}

/*
 * A URI [p, end) without enclosing <>. For sip:/sips: URIs, adds a site for its host:port.
 * Other schemes (tel:, urn:, ...) are valid and have no site.
 */
static sip_result_t
sip_uri_site (const uint8_t *base, sip_info_t *info, sip_site_kind_t kind, const uint8_t *p,
	      const uint8_t *end, sip_result_t err)
{
  const uint8_t *c = p;
  /* "sip:" in any case (b | 0x20 is 's', 'i', 'p' only for that letter): the scheme scan
     below stops at the same ':' */
  if (end - p > 3 && (p[0] | 0x20) == 's' && (p[1] | 0x20) == 'i' && (p[2] | 0x20) == 'p' &&
      p[3] == ':')
    c = p + 3;
  else
    while (c < end && (sip_is (*c, SIP_CC_ALPHA | SIP_CC_DIGIT) || *c == '+' || *c == '-' ||
		       *c == '.'))
      c++;
  if (c == p || c >= end || *c != ':' || !sip_is (*p, SIP_CC_ALPHA))
    return err;
  /* one pass: every byte a URI character (no blanks, no controls), first '@' noted */
  const uint8_t *h;
  if (!sip_uri_chars (base, c, end, &h))
    return err;
  if (!((c - p == 3 && sip_ieq (p, "sip", 3)) || (c - p == 4 && sip_ieq (p, "sips", 4))))
    return SIP_OK;
  h = h ? h + 1 : c + 1;
  const uint8_t *he = h;
  if (he < end && *he == '[')
    {
      const uint8_t *rb = sip_find (he, end, ']');
      if (!rb)
	return err;
      he = rb + 1;
    }
  else
    while (he < end && !sip_is (*he, SIP_CC_HEND))
      he++;

  sip_site_t *s = sip_site_add (info, kind);
  if (!s)
    return SIP_ERR_TOO_MANY_SITES;
  if (!sip_site_set_host (base, s, h, he))
    return err;
  const uint8_t *pe = sip_site_port (base, s, he, end, SIP_DEFAULT_PORT);
  if (!pe || (pe < end && *pe != ';' && *pe != '?'))
    return err;
  return SIP_OK;
}

static const uint8_t *
sip_skip_quoted (const uint8_t *p, const uint8_t *end)
{
  /* p at the opening quote; returns one past the closing quote, or 0 */
  for (p++; p < end; p++)
    {
      if (*p == '\\')
	{
	  if (++p >= end || *p == '\r' || *p == '\n')
	    return 0;
	}
      else if (*p == '"')
	return p + 1;
    }
  return 0;
}

/*
 * generic-param list: *( SEMI token [ EQUAL ( token / host / quoted-string ) ] ).
 * p is at the first ';' or at the end of the value. Returns the end of the parameters.
 * Reports "expires" (Contact) through *expires when given.
 */
static const uint8_t *
sip_skip_params (const uint8_t *p, const uint8_t *end, int64_t *expires, int *bad_expires)
{
  for (;;)
    {
      p = sip_skip_lws (p, end);
      if (p >= end || *p != ';')
	return p;
      const uint8_t *n = sip_skip_lws (p + 1, end);
      const uint8_t *ne = sip_skip_class (n, end, SIP_CC_TOKEN);
      if (ne == n)
	return 0;
      p = sip_skip_lws (ne, end);
      if (p < end && *p == '=')
	{
	  const uint8_t *v = sip_skip_lws (p + 1, end), *ve;
	  if (v < end && *v == '"')
	    ve = sip_skip_quoted (v, end);
	  else
	    {
	      ve = v;
	      while (ve < end && (sip_is (*ve, SIP_CC_TOKEN) || *ve == ':' || *ve == '[' ||
				  *ve == ']'))
		ve++;
	      if (ve == v)
		ve = 0;
	    }
	  if (!ve)
	    return 0;
	  if (expires && ne - n == 7 && sip_ieq (n, "expires", 7))
	    {
	      uint64_t x;
	      if (!sip_parse_uint (v, ve, 0xffffffffu, &x))
		*bad_expires = 1;
	      else if (*expires < 0)
		*expires = (int64_t) x;
	    }
	  p = ve;
	}
    }
}

/*
 * name-addr / addr-spec list (From, To, Contact, Route, Record-Route):
 *   ( [ display-name ] LAQUOT addr-spec RAQUOT / addr-spec ) *( SEMI param )
 * separated by commas when list is set. A bare addr-spec may not contain '?', ',' or ';'
 * (RFC 3261 section 20).
 */
static sip_result_t
sip_parse_name_addrs (const uint8_t *base, sip_info_t *info, sip_site_kind_t kind,
		      const sip_hdr_t *h, int list, sip_result_t err)
{
  const uint8_t *p = base + h->value.off, *end = p + h->value.len;
  int64_t *expires = kind == SIP_SITE_CONTACT ? &info->contact_expires : 0;
  int bad_expires = 0;
  sip_result_t r;

  if (kind == SIP_SITE_CONTACT && end - p == 1 && *p == '*')
    {
      info->contact_star = 1;
      return SIP_OK;
    }
  for (;;)
    {
      const uint8_t *q;
      p = sip_skip_lws (p, end);
      if (p >= end)
	return err;
      if (*p == '"')
	{
	  if (!(q = sip_skip_quoted (p, end)))
	    return err;
	  q = sip_skip_lws (q, end);
	  if (q >= end || *q != '<')
	    return err;
	}
      else
	{
	  q = p;
	  while (q < end && (sip_is (*q, SIP_CC_TOKEN | SIP_CC_LWS)))
	    q++;
	  if (q < end && *q != '<')
	    q = 0; /* not a display name: an addr-spec starts at p */
	}

      if (q && q < end)
	{
	  /* LAQUOT addr-spec RAQUOT: sip_uri_site refuses blanks inside */
	  const uint8_t *u = q + 1;
	  const uint8_t *ue = sip_find (u, end, '>');
	  if (!ue)
	    return err;
	  if ((r = sip_uri_site (base, info, kind, u, ue, err)) != SIP_OK)
	    return r;
	  p = ue + 1;
	}
      else
	{
	  const uint8_t *ue = p;
	  while (ue < end && *ue != ';' && *ue != ',' && !sip_is (*ue, SIP_CC_LWS))
	    ue++;
	  if (sip_find (p, ue, '?'))
	    return err;
	  if ((r = sip_uri_site (base, info, kind, p, ue, err)) != SIP_OK)
	    return r;
	  p = ue;
	}

      if (!(p = sip_skip_params (p, end, expires, &bad_expires)))
	return err;
      if (bad_expires)
	return SIP_ERR_EXPIRES;
      expires = 0; /* only the first contact's expires= is reported */
      if (p == end)
	return SIP_OK;
      if (*p != ',' || !list)
	return err;
      p++;
    }
}

/*
 * Via = via-parm *(COMMA via-parm)
 * via-parm = sent-protocol LWS sent-by *( SEMI via-params )
 * sent-protocol = "SIP" SLASH "2.0" SLASH transport (LWS allowed around the slashes)
 */
static sip_result_t
sip_parse_via (const uint8_t *base, sip_info_t *info, const sip_hdr_t *h)
{
  const uint8_t *p = base + h->value.off, *end = p + h->value.len;

  for (;;)
    {
      const uint8_t *q;
      sip_site_t *sb, *s;
      int rport_site = -1;
      p = sip_skip_lws (p, end);
      if (!sip_iprefix (p, end, "sip", 3))
	return SIP_ERR_VIA;
      p = sip_skip_lws (p + 3, end);
      if (p >= end || *p != '/')
	return SIP_ERR_VIA;
      p = sip_skip_lws (p + 1, end);
      if (!sip_iprefix (p, end, "2.0", 3))
	return SIP_ERR_VIA;
      p = sip_skip_lws (p + 3, end);
      if (p >= end || *p != '/')
	return SIP_ERR_VIA;
      p = sip_skip_lws (p + 1, end);
      q = sip_skip_class (p, end, SIP_CC_TOKEN);
      if (q == p || q >= end || !sip_is (*q, SIP_CC_LWS))
	return SIP_ERR_VIA;
      p = sip_skip_lws (q, end);

      /* sent-by = host [ COLON port ] */
      q = p;
      if (q < end && *q == '[')
	{
	  const uint8_t *rb = sip_find (q, end, ']');
	  if (!rb)
	    return SIP_ERR_VIA;
	  q = rb + 1;
	}
      else
	while (q < end && sip_is_host_char (*q))
	  q++;
      if (!(sb = sip_site_add (info, SIP_SITE_VIA)))
	return SIP_ERR_TOO_MANY_SITES;
      if (!sip_site_set_host (base, sb, p, q))
	return SIP_ERR_VIA;
      if (!(p = sip_site_port (base, sb, q, end, SIP_DEFAULT_PORT)))
	return SIP_ERR_VIA;
      uint32_t sb_ip = sb->ip4;
      uint8_t sb_type = sb->host_type;
      uint32_t recv_ip = 0;
      uint8_t recv_type = SIP_HOST_NONE;

      /* via-params: received, rport, maddr are sites; others are generic params */
      for (;;)
	{
	  p = sip_skip_lws (p, end);
	  if (p >= end || *p != ';')
	    break;
	  const uint8_t *n = sip_skip_lws (p + 1, end);
	  const uint8_t *ne = sip_skip_class (n, end, SIP_CC_TOKEN);
	  const uint8_t *v = 0, *ve = 0;
	  if (ne == n)
	    return SIP_ERR_VIA;
	  p = sip_skip_lws (ne, end);
	  if (p < end && *p == '=')
	    {
	      v = sip_skip_lws (p + 1, end);
	      if (v < end && *v == '"')
		ve = sip_skip_quoted (v, end);
	      else
		{
		  ve = v;
		  while (ve < end && (sip_is (*ve, SIP_CC_TOKEN) || *ve == ':' || *ve == '[' ||
				      *ve == ']'))
		    ve++;
		  if (ve == v)
		    ve = 0;
		}
	      if (!ve)
		return SIP_ERR_VIA;
	      p = ve;
	    }
	  uint32_t nl = (uint32_t) (ne - n);
	  if (nl == 8 && sip_ieq (n, "received", 8))
	    {
	      if (!v || !(s = sip_site_add (info, SIP_SITE_VIA_RECEIVED)))
		return v ? SIP_ERR_TOO_MANY_SITES : SIP_ERR_VIA;
	      if (!sip_site_set_addr (base, s, v, ve, *v != '[' && sip_find (v, ve, ':') != 0))
		return SIP_ERR_VIA;
	      s->flags |= SIP_SITE_F_ADDR_ONLY;
	      recv_ip = s->ip4;
	      recv_type = s->host_type;
	    }
	  else if (nl == 5 && sip_ieq (n, "maddr", 5))
	    {
	      if (!v || !(s = sip_site_add (info, SIP_SITE_VIA_MADDR)))
		return v ? SIP_ERR_TOO_MANY_SITES : SIP_ERR_VIA;
	      if (!sip_site_set_host (base, s, v, ve))
		return SIP_ERR_VIA;
	      s->flags |= SIP_SITE_F_ADDR_ONLY;
	    }
	  else if (nl == 5 && sip_ieq (n, "rport", 5) && v)
	    {
	      uint64_t x;
	      if (!sip_parse_uint (v, ve, 65535, &x))
		return SIP_ERR_VIA;
	      if (!(s = sip_site_add (info, SIP_SITE_VIA_RPORT)))
		return SIP_ERR_TOO_MANY_SITES;
	      s->host = sip_span (base, v, v); /* port-only: empty host at the port */
	      s->port = sip_span (base, v, ve);
	      s->value = (uint16_t) x;
	      s->flags |= SIP_SITE_F_PORT;
	      rport_site = info->n_sites - 1;
	    }
	}
      /* rport pairs with received= when present (RFC 3581), else with the sent-by host */
      if (rport_site >= 0)
	{
	  s = &info->sites[rport_site];
	  s->ip4 = recv_type != SIP_HOST_NONE ? recv_ip : sb_ip;
	  s->host_type = recv_type != SIP_HOST_NONE ? recv_type : sb_type;
	}
      if (p == end)
	return SIP_OK;
      if (*p != ',')
	return SIP_ERR_VIA;
      p++;
    }
}

static sip_result_t
sip_parse_call_id (const uint8_t *base, sip_info_t *info, const sip_hdr_t *h)
{
  const uint8_t *p = base + h->value.off, *end = p + h->value.len;
  const uint8_t *at = sip_find (p, end, '@');
  uint32_t ip;
  if (at && sip_parse_ip4 (at + 1, end, &ip))
    {
      sip_site_t *s = sip_site_add (info, SIP_SITE_CALL_ID);
      if (!s)
	return SIP_ERR_TOO_MANY_SITES;
      sip_site_set_host (base, s, at + 1, end);
      s->flags |= SIP_SITE_F_ADDR_ONLY;
    }
  return SIP_OK;
}

static sip_body_kind_t
sip_body_kind (const uint8_t *base, const sip_msg_t *m)
{
  if (m->body_len == 0)
    return SIP_BODY_NONE;
  if (m->first[SIP_HDR_CONTENT_TYPE] == SIP_HDR_NONE)
    return SIP_BODY_OTHER;
  const sip_hdr_t *h = &m->hdrs[m->first[SIP_HDR_CONTENT_TYPE]];
  const uint8_t *p = base + h->value.off, *end = p + h->value.len;
  const uint8_t *q = p;
  while (q < end && *q != ';' && !sip_is (*q, SIP_CC_LWS))
    q++;
  if (q - p == 15 && sip_ieq (p, "application/sdp", 15))
    return SIP_BODY_SDP;
  if (q - p > 10 && sip_ieq (p, "multipart/", 10))
    return SIP_BODY_MULTIPART;
  return SIP_BODY_OTHER;
}

void
sip_sites_init (sip_info_t *info, sip_site_t *sites, uint16_t max_sites)
{
  /* field by field: sdp.media[] is written as each media is decoded (sip_sdp_m) and read
     below sdp.n_media only; clearing its 160 bytes on every message showed in profiles */
  info->sites = sites;
  info->max_sites = max_sites;
  info->n_sites = 0;
  info->body_kind = SIP_BODY_NONE;
  info->contact_star = 0;
  info->err_off = 0;
  info->contact_expires = -1;
  sip_sdp_clear (&info->sdp);
}

sip_result_t
sip_sites_start (const uint8_t *buf, const sip_msg_t *m, sip_info_t *info)
{
  if (!m->is_request)
    return SIP_OK;
  sip_span_t u = m->ruri;
  sip_result_t r = sip_uri_site (buf, info, SIP_SITE_RURI, buf + u.off, buf + u.off + u.len,
				 SIP_ERR_REQUEST_URI);
  if (r != SIP_OK)
    info->err_off = u.off;
  return r;
}

sip_result_t
sip_sites_hdr (const uint8_t *buf, const sip_hdr_t *h, sip_info_t *info)
{
  sip_result_t r;
  switch (h->id)
    {
    case SIP_HDR_VIA:
      r = sip_parse_via (buf, info, h);
      break;
    case SIP_HDR_FROM:
      r = sip_parse_name_addrs (buf, info, SIP_SITE_FROM, h, 0, SIP_ERR_NAME_ADDR);
      break;
    case SIP_HDR_TO:
      r = sip_parse_name_addrs (buf, info, SIP_SITE_TO, h, 0, SIP_ERR_NAME_ADDR);
      break;
    case SIP_HDR_CONTACT:
      r = sip_parse_name_addrs (buf, info, SIP_SITE_CONTACT, h, 1, SIP_ERR_CONTACT);
      break;
    case SIP_HDR_ROUTE:
      r = sip_parse_name_addrs (buf, info, SIP_SITE_ROUTE, h, 1, SIP_ERR_NAME_ADDR);
      break;
    case SIP_HDR_RECORD_ROUTE:
      r = sip_parse_name_addrs (buf, info, SIP_SITE_RECORD_ROUTE, h, 1, SIP_ERR_NAME_ADDR);
      break;
    case SIP_HDR_CALL_ID:
      r = sip_parse_call_id (buf, info, h);
      break;
    default:
      return SIP_OK;
    }
  if (r != SIP_OK)
    info->err_off = h->value.off;
  return r;
}

sip_result_t
sip_sites_body (const uint8_t *buf, const sip_msg_t *m, sip_info_t *info)
{
  sip_result_t r = SIP_OK;
  info->body_kind = (uint8_t) sip_body_kind (buf, m);
  if (info->body_kind == SIP_BODY_SDP)
    {
      r = sip_sdp_parse (buf, buf + m->body_off, m->body_len, info);
      if (r != SIP_OK && !info->err_off)
	info->err_off = m->body_off;
    }
  return r;
}

sip_result_t
sip_sites_find (const uint8_t *buf, const sip_msg_t *m, sip_info_t *info, sip_site_t *sites,
		uint16_t max_sites)
{
  sip_result_t r;

  if (!buf || !m || !info || (!sites && max_sites))
    return SIP_ERR_INVALID_ARG;
  sip_sites_init (info, sites, max_sites);
  if (m->n_hdrs == 0)
    return SIP_OK; /* keep-alive */
  if ((r = sip_sites_start (buf, m, info)) != SIP_OK)
    return r;
  for (uint16_t i = 0; i < m->n_hdrs; i++)
    if ((r = sip_sites_hdr (buf, &m->hdrs[i], info)) != SIP_OK)
      return r;
  return sip_sites_body (buf, m, info);
}
