/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Rewrite planner and applier.
 *
 * The planner turns the sites of a message and a set of translations into a list of edits
 * (offset, old length, replacement text), in buffer order, and adds the Content-Length fix
 * when the body changes size. The applier copies the message into a caller-supplied buffer
 * with the edits applied, in one pass. Nothing is written when the result does not fit.
 */

#ifndef __included_sip_rewrite_h__
#define __included_sip_rewrite_h__

#include "sip_sites.h"

/*
 * One address translation. Sites with a port (Request-URI, Via sent-by, Contact, From, To,
 * Route, Record-Route, rport) match on (from_ip, from_port); a SIP URI without a port has
 * port 5060. Address-only sites (received, maddr, Call-ID host, SDP o= and c=, a=rtcp
 * address) match on from_ip alone. The first matching entry wins.
 */
typedef struct
{
  uint32_t from_ip; /* host byte order */
  uint32_t to_ip;
  uint16_t from_port;
  uint16_t to_port;
} sip_xlate_t;

/* New ports of one SDP media description; 0 keeps the port as it is. */
typedef struct
{
  uint16_t rtp_port;
  uint16_t rtcp_port; /* for an a=rtcp line; without one RTCP follows the RTP port */
} sip_media_xlate_t;

typedef struct
{
  const sip_xlate_t *xlate;
  uint32_t n_xlate;
  const sip_media_xlate_t *media; /* indexed by media index, may be 0 */
  uint32_t n_media;
  uint32_t site_mask; /* SIP_SITE_MASK() of the kinds to rewrite */
  /*
   * The SDP's connection address sites (c= session and media level, a=rtcp address) whose
   * address an entry of xlate matches take this address instead of the entry's to_ip
   * (media on a public address of its own); 0: the entry's, as every other site.
   */
  uint32_t media_ip; /* host byte order */
} sip_rewrite_cfg_t;

#define SIP_EDIT_MAX_TEXT 24

typedef struct
{
  uint16_t off;	    /* in the original message */
  uint16_t old_len; /* bytes replaced */
  uint8_t new_len;  /* bytes of text[] inserted instead */
  uint8_t site;	    /* index of the site (0xff for Content-Length) */
  char text[SIP_EDIT_MAX_TEXT];
} sip_edit_t;

typedef struct
{
  sip_edit_t *edits;
  uint16_t max_edits;
  uint16_t n_edits;
  int32_t delta;      /* size change of the whole message */
  int32_t body_delta; /* size change of the body */
} sip_plan_t;

/*
 * Plan the edits for a parsed message (msg, info from sip_msg_parse / sip_sites_find).
 * No edit is planned for a site whose value does not change.
 */
sip_result_t sip_rewrite_plan (const uint8_t *buf, const sip_msg_t *msg, const sip_info_t *info,
			       const sip_rewrite_cfg_t *cfg, sip_plan_t *plan, sip_edit_t *edits,
			       uint16_t max_edits);

/*
 * Copy in[0..len) to out with the plan applied. *out_len gets len + plan->delta.
 * Returns SIP_ERR_NO_SPACE, writing nothing, when out_cap is too small.
 */
sip_result_t sip_rewrite_apply (const uint8_t *in, uint32_t len, const sip_plan_t *plan,
				uint8_t *out, uint32_t out_cap, uint32_t *out_len);

/* Format "a.b.c.d" into s (at least 16 bytes); returns the length. */
uint32_t sip_format_ip4 (char *s, uint32_t ip);

#endif /* __included_sip_rewrite_h__ */
