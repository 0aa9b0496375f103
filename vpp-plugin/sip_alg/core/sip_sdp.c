/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * SDP decoder (RFC 4566): one small decoder per line type. Session-level and media-level
 * c= lines are kept apart; the effective address of a media is its own c=, else the
 * session's. a=rtcp (RFC 3605) and a=rtcp-mux (RFC 5761) set the RTCP endpoint.
 */

#include <string.h>

#include "sip_sites.h"
#include "sip_scan.h"

typedef struct
{
  const uint8_t *base;
  sip_info_t *info;
  int media; /* current media index, -1 at session level */
  /* site index of the m= / a=rtcp port sites of each media, for the address fix-up */
  int16_t m_site[SIP_SDP_MAX_MEDIA];
  int16_t rtcp_site[SIP_SDP_MAX_MEDIA];
  int16_t c_site[SIP_SDP_MAX_MEDIA];
} sip_sdp_ctx_t;

void
sip_sdp_clear (sip_sdp_t *sdp)
{
  sdp->n_media = 0;
  sdp->session_addr_type = SIP_HOST_NONE;
  sdp->candidate_off = 0;
  sdp->session_ip4 = 0;
  sdp->origin_ip4 = 0;
}

/* Next SP-separated field of [*p, end): returns its start, sets *fe to its end. */
static const uint8_t *
sip_sdp_field (const uint8_t **p, const uint8_t *end, const uint8_t **fe)
{
  const uint8_t *s = *p;
  const uint8_t *e = sip_find (s, end, ' ');
  if (!e)
    e = end;
  *fe = e;
  *p = e < end ? e + 1 : end;
  return s;
}

/* "IN" SP ("IP4" / "IP6") SP address: add an address site. */
static sip_result_t
sip_sdp_conn_addr (sip_sdp_ctx_t *c, sip_site_kind_t kind, const uint8_t *p, const uint8_t *end,
		   sip_site_t **out)
{
  const uint8_t *fe, *nt = sip_sdp_field (&p, end, &fe);
  if (fe - nt != 2 || memcmp (nt, "IN", 2))
    return SIP_ERR_SDP;
  const uint8_t *at = sip_sdp_field (&p, end, &fe);
  int ip6;
  if (fe - at == 3 && memcmp (at, "IP4", 3) == 0)
    ip6 = 0;
  else if (fe - at == 3 && memcmp (at, "IP6", 3) == 0)
    ip6 = 1;
  else
    return SIP_ERR_SDP;
  const uint8_t *a = sip_sdp_field (&p, end, &fe);
  if (p != end || a == fe)
    return SIP_ERR_SDP;
  /* c= may carry /ttl[/count] after a multicast address */
  const uint8_t *slash = sip_find (a, fe, '/');
  if (slash)
    fe = slash;

  sip_site_t *s = (sip_site_t *) 0;
  if (c->info->n_sites >= c->info->max_sites)
    return SIP_ERR_TOO_MANY_SITES;
  s = &c->info->sites[c->info->n_sites];
  memset (s, 0, sizeof (*s));
  s->kind = (uint8_t) kind;
  s->media = c->media < 0 ? 0xff : (uint8_t) c->media;
  s->flags = SIP_SITE_F_ADDR_ONLY;
  s->n_ports = 1;
  s->host = sip_span (c->base, a, fe);
  if (ip6)
    s->host_type = SIP_HOST_IP6;
  else if (sip_parse_ip4 (a, fe, &s->ip4))
    s->host_type = SIP_HOST_IP4;
  else
    s->host_type = SIP_HOST_NAME; /* FQDN in c= (RFC 4566 allows it) */
  s->port = sip_span (c->base, fe, fe);
  c->info->n_sites++;
  *out = s;
  return SIP_OK;
}

static sip_site_t *
sip_sdp_port_site (sip_sdp_ctx_t *c, sip_site_kind_t kind, const uint8_t *p, const uint8_t *e,
		   uint16_t v)
{
  if (c->info->n_sites >= c->info->max_sites)
    return 0;
  sip_site_t *s = &c->info->sites[c->info->n_sites++];
  memset (s, 0, sizeof (*s));
  s->kind = (uint8_t) kind;
  s->media = (uint8_t) c->media;
  s->flags = SIP_SITE_F_PORT;
  s->n_ports = 1;
  s->port = sip_span (c->base, p, e);
  s->host = sip_span (c->base, p, p);
  s->value = v;
  return s;
}

static sip_media_type_t
sip_sdp_media_type (const uint8_t *p, const uint8_t *e)
{
  static const struct
  {
    const char *n;
    uint8_t len;
    uint8_t type;
  } types[] = {
    { "audio", 5, SIP_MEDIA_AUDIO },	 { "video", 5, SIP_MEDIA_VIDEO },
    { "image", 5, SIP_MEDIA_IMAGE },	 { "application", 11, SIP_MEDIA_APPLICATION },
    { "text", 4, SIP_MEDIA_TEXT },	 { "message", 7, SIP_MEDIA_MESSAGE },
  };
  for (unsigned i = 0; i < sizeof (types) / sizeof (types[0]); i++)
    if (e - p == types[i].len && memcmp (p, types[i].n, types[i].len) == 0)
      return (sip_media_type_t) types[i].type;
  return SIP_MEDIA_OTHER;
}

/* m=<media> <port>[/<number of ports>] <proto> <fmt> ... */
static sip_result_t
sip_sdp_m (sip_sdp_ctx_t *c, const uint8_t *p, const uint8_t *end)
{
  sip_sdp_t *sdp = &c->info->sdp;
  const uint8_t *fe, *t, *pt;
  uint64_t port, n = 1;

  if (sdp->n_media >= SIP_SDP_MAX_MEDIA)
    return SIP_ERR_SDP_TOO_MANY_MEDIA;
  t = sip_sdp_field (&p, end, &fe);
  if (t == fe)
    return SIP_ERR_SDP;
  sip_media_type_t type = sip_sdp_media_type (t, fe);
  pt = sip_sdp_field (&p, end, &fe);
  const uint8_t *slash = sip_find (pt, fe, '/');
  if (!sip_parse_uint (pt, slash ? slash : fe, 65535, &port))
    return SIP_ERR_SDP;
  if (slash && (!sip_parse_uint (slash + 1, fe, 65535, &n) || n == 0))
    return SIP_ERR_SDP;
  /* every RTP port has its RTCP port above it (RFC 3550 11), in 16 bits: 65535 alone has
     none, as 65535/1 (its RTCP port would wrap to 0) */
  if (port + 2 * n > 65536)
    return SIP_ERR_SDP;
  if (p >= end) /* proto and at least one fmt must follow */
    return SIP_ERR_SDP;

  c->media = sdp->n_media++;
  sip_sdp_media_t *md = &sdp->media[c->media];
  memset (md, 0, sizeof (*md));
  md->type = (uint8_t) type;
  md->port = (uint16_t) port;
  md->n_ports = (uint16_t) n;
  md->rtcp_port = port ? (uint16_t) (port + 1) : 0;
  sip_site_t *s = sip_sdp_port_site (c, SIP_SITE_SDP_M, pt, slash ? slash : fe, md->port);
  if (!s)
    return SIP_ERR_TOO_MANY_SITES;
  s->n_ports = md->n_ports;
  c->m_site[c->media] = (int16_t) (c->info->n_sites - 1);
  c->rtcp_site[c->media] = -1;
  c->c_site[c->media] = -1;
  return SIP_OK;
}

/* a=rtcp:<port> [IN IP4 <address>] (RFC 3605), a=rtcp-mux (RFC 5761); other a= ignored */
static sip_result_t
sip_sdp_a (sip_sdp_ctx_t *c, const uint8_t *p, const uint8_t *end)
{
  if (c->media < 0)
    return SIP_OK;
  sip_sdp_media_t *md = &c->info->sdp.media[c->media];
  if (end - p == 8 && memcmp (p, "rtcp-mux", 8) == 0)
    {
      md->rtcp_mux = 1;
      return SIP_OK;
    }
  if (end - p < 6 || memcmp (p, "rtcp:", 5) != 0)
    return SIP_OK;
  p += 5;
  const uint8_t *fe, *pt = sip_sdp_field (&p, end, &fe);
  uint64_t port;
  if (!sip_parse_uint (pt, fe, 65535, &port))
    return SIP_ERR_SDP;
  sip_site_t *s = sip_sdp_port_site (c, SIP_SITE_SDP_RTCP, pt, fe, (uint16_t) port);
  if (!s)
    return SIP_ERR_TOO_MANY_SITES;
  md->rtcp_attr = 1;
  md->rtcp_port = (uint16_t) port;
  c->rtcp_site[c->media] = (int16_t) (c->info->n_sites - 1);
  if (p < end)
    {
      sip_site_t *as;
      sip_result_t r = sip_sdp_conn_addr (c, SIP_SITE_SDP_RTCP_ADDR, p, end, &as);
      if (r != SIP_OK)
	return r;
      md->rtcp_ip4 = as->ip4;
      /* the port site belongs to this address */
      c->info->sites[c->rtcp_site[c->media]].ip4 = as->ip4;
      c->info->sites[c->rtcp_site[c->media]].host_type = as->host_type;
      c->rtcp_site[c->media] = -2; /* address fixed, no fix-up */
    }
  return SIP_OK;
}

sip_result_t
sip_sdp_parse (const uint8_t *base, const uint8_t *body, uint32_t len, sip_info_t *info)
{
  sip_sdp_ctx_t c = { .base = base, .info = info, .media = -1 };
  const uint8_t *p = body, *end = body + len;
  sip_sdp_t *sdp = &info->sdp;
  sip_result_t r = SIP_OK;
  int seen_v = 0;

  sip_sdp_clear (sdp);
  while (p < end)
    {
      const uint8_t *lf = sip_find (p, end, '\n');
      const uint8_t *le = lf ? lf : end, *next = lf ? lf + 1 : end;
      if (le > p && le[-1] == '\r')
	le--;
      if (le == p)
	{
	  p = next; /* tolerate blank lines (trailing CRLF after the last line) */
	  continue;
	}
      if (le - p < 2 || p[1] != '=' || p[0] < 'a' || p[0] > 'z')
	goto bad;
      if (!seen_v)
	{
	  if (p[0] != 'v' || le - p != 3 || p[2] != '0')
	    goto bad;
	  seen_v = 1;
	  p = next;
	  continue;
	}
      const uint8_t *v = p + 2;
      switch (p[0])
	{
	case 'o':
	  {
	    /* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address> */
	    const uint8_t *q = v, *fe;
	    for (int i = 0; i < 3; i++)
	      if (sip_sdp_field (&q, le, &fe) == fe || q >= le)
		goto bad;
	    sip_site_t *s;
	    if ((r = sip_sdp_conn_addr (&c, SIP_SITE_SDP_O, q, le, &s)) != SIP_OK)
	      goto fail;
	    sdp->origin_ip4 = s->ip4;
	    break;
	  }
	case 'c':
	  {
	    sip_site_t *s;
	    sip_site_kind_t k = c.media < 0 ? SIP_SITE_SDP_C_SESSION : SIP_SITE_SDP_C_MEDIA;
	    if ((r = sip_sdp_conn_addr (&c, k, v, le, &s)) != SIP_OK)
	      goto fail;
	    if (c.media < 0)
	      {
		sdp->session_addr_type = s->host_type;
		sdp->session_ip4 = s->ip4;
	      }
	    else
	      c.c_site[c.media] = (int16_t) (info->n_sites - 1);
	    break;
	  }
	case 'm':
	  if ((r = sip_sdp_m (&c, v, le)) != SIP_OK)
	    goto fail;
	  break;
	case 'a':
	  if (!sdp->candidate_off && le - v >= 10 && !memcmp (v, "candidate:", 10))
	    sdp->candidate_off = (uint16_t) (p - base);
	  if ((r = sip_sdp_a (&c, v, le)) != SIP_OK)
	    goto fail;
	  break;
	default:
	  break;
	}
      p = next;
    }
  if (!seen_v)
    goto bad;

  /* effective addresses: media c= or session c=; RTCP port defaults */
  for (int i = 0; i < sdp->n_media; i++)
    {
      sip_sdp_media_t *md = &sdp->media[i];
      const sip_site_t *cs = c.c_site[i] >= 0 ? &info->sites[c.c_site[i]] : 0;
      md->addr_type = cs ? cs->host_type : sdp->session_addr_type;
      md->ip4 = cs ? cs->ip4 : sdp->session_ip4;
      if (md->rtcp_mux && !md->rtcp_attr)
	md->rtcp_port = md->port;
      if (!md->rtcp_attr || c.rtcp_site[i] != -2)
	md->rtcp_ip4 = md->ip4;
      sip_site_t *ms = &info->sites[c.m_site[i]];
      ms->ip4 = md->ip4;
      ms->host_type = md->addr_type;
      if (c.rtcp_site[i] >= 0)
	{
	  info->sites[c.rtcp_site[i]].ip4 = md->ip4;
	  info->sites[c.rtcp_site[i]].host_type = md->addr_type;
	}
    }
  return SIP_OK;

bad:
  r = SIP_ERR_SDP;
fail:
  info->err_off = (uint16_t) (p - base);
  return r;
}
