/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Rewrite sites: every place in a parsed SIP message (headers and SDP body) that carries an
 * address or a port the NAT may have to translate, in buffer order.
 *
 * The same pass validates the grammar of the headers it reads (Via, From, To, Contact,
 * Route, Record-Route) and decodes the SDP body (RFC 4566, RFC 3605 a=rtcp, RFC 5761
 * a=rtcp-mux) into a per-media summary used to build server-map pinholes.
 *
 * IPv4 literals are rewritable. Hostnames and IPv6 literals are recorded as sites with their
 * host type and are never rewritten.
 */

#ifndef __included_sip_sites_h__
#define __included_sip_sites_h__

#include "sip_msg.h"

/* Site kinds: name, has host, has port */
#define foreach_sip_site_kind                                                                 \
  _ (RURI, "request-uri")                                                                     \
  _ (VIA, "via")                                                                              \
  _ (VIA_RECEIVED, "via-received")                                                            \
  _ (VIA_RPORT, "via-rport")                                                                  \
  _ (VIA_MADDR, "via-maddr")                                                                  \
  _ (CONTACT, "contact")                                                                      \
  _ (FROM, "from")                                                                            \
  _ (TO, "to")                                                                                \
  _ (ROUTE, "route")                                                                          \
  _ (RECORD_ROUTE, "record-route")                                                            \
  _ (CALL_ID, "call-id")                                                                      \
  _ (SDP_O, "sdp-o")                                                                          \
  _ (SDP_C_SESSION, "sdp-c-session")                                                          \
  _ (SDP_C_MEDIA, "sdp-c-media")                                                              \
  _ (SDP_M, "sdp-m")                                                                          \
  _ (SDP_RTCP, "sdp-rtcp")                                                                    \
  _ (SDP_RTCP_ADDR, "sdp-rtcp-addr")

typedef enum
{
#define _(sym, str) SIP_SITE_##sym,
  foreach_sip_site_kind
#undef _
    SIP_SITE_N_KINDS,
} sip_site_kind_t;

#define SIP_SITE_MASK(k)   (1u << (k))
#define SIP_SITE_MASK_ALL  ((1u << SIP_SITE_N_KINDS) - 1)

typedef enum
{
  SIP_HOST_NONE = 0, /* port-only site (rport, m=, a=rtcp) */
  SIP_HOST_IP4,
  SIP_HOST_IP6,
  SIP_HOST_NAME,
} sip_host_type_t;

#define SIP_SITE_F_PORT	    (1 << 0) /* an explicit port is present (port span valid) */
#define SIP_SITE_F_ADDR_ONLY (1 << 1) /* site carries an address only: match on address */

typedef struct
{
  uint8_t kind;	     /* sip_site_kind_t */
  uint8_t host_type; /* sip_host_type_t of the host, or of the associated address */
  uint8_t media;     /* media index for SDP media sites, 0xff otherwise */
  uint8_t flags;     /* SIP_SITE_F_* */
  sip_span_t host;   /* host text; for port-only sites an empty span at the port */
  sip_span_t port;   /* port digits; when absent, off is where ":port" would be inserted */
  uint32_t ip4;	     /* host (or associated address for port-only sites), host byte order */
  uint16_t value;    /* port value; default 5060 for SIP URIs without a port, 0 if none */
  uint16_t n_ports;  /* m= port count (1 without "/count") */
} sip_site_t;

typedef enum
{
  SIP_MEDIA_AUDIO = 0,
  SIP_MEDIA_VIDEO,
  SIP_MEDIA_IMAGE,
  SIP_MEDIA_APPLICATION,
  SIP_MEDIA_TEXT,
  SIP_MEDIA_MESSAGE,
  SIP_MEDIA_OTHER,
} sip_media_type_t;

typedef struct
{
  uint8_t type;	     /* sip_media_type_t */
  uint8_t addr_type; /* sip_host_type_t of the effective connection address */
  uint8_t rtcp_mux;  /* a=rtcp-mux present */
  uint8_t rtcp_attr; /* a=rtcp present (rtcp_port/rtcp_ip4 from it) */
  uint16_t port;     /* 0: stream disabled */
  uint16_t n_ports;
  uint16_t rtcp_port; /* a=rtcp port, or port + 1, or port with rtcp-mux */
  uint32_t ip4;	      /* effective connection address: media c=, else session c= */
  uint32_t rtcp_ip4;  /* a=rtcp address, else ip4 */
} sip_sdp_media_t;

typedef struct
{
  uint8_t n_media;
  uint8_t session_addr_type; /* sip_host_type_t of the session-level c= (NONE if absent) */
  /* offset in the buffer of the first line that starts with "a=candidate:" (ICE, RFC 8839),
     0 when there is none */
  uint16_t candidate_off;
  uint32_t session_ip4;
  uint32_t origin_ip4;
  sip_sdp_media_t media[SIP_SDP_MAX_MEDIA];
} sip_sdp_t;

typedef enum
{
  SIP_BODY_NONE = 0,
  SIP_BODY_SDP,
  SIP_BODY_MULTIPART, /* not rewritten */
  SIP_BODY_OTHER,
} sip_body_kind_t;

typedef struct
{
  sip_site_t *sites;
  uint16_t max_sites;
  uint16_t n_sites;
  uint8_t body_kind;	   /* sip_body_kind_t */
  uint8_t contact_star;	   /* Contact: * */
  uint16_t err_off;	   /* offset where an error was detected */
  int64_t contact_expires; /* expires= of the first Contact, -1 when absent */
  sip_sdp_t sdp;	   /* valid when body_kind == SIP_BODY_SDP (media[] below n_media) */
} sip_info_t;

/*
 * Find the rewrite sites of a message parsed by sip_msg_parse (buf is the same buffer).
 * Validates the address-carrying headers and the SDP body on the way.
 */
sip_result_t sip_sites_find (const uint8_t *buf, const sip_msg_t *msg, sip_info_t *info,
			     sip_site_t *sites, uint16_t max_sites);

/*
 * sip_msg_parse and sip_sites_find in one pass over the message: the sites of each header
 * are found as soon as the header is read. Returns what sip_msg_parse returns (msg filled
 * the same way); when that is SIP_OK, *sites_result, info and sites are what sip_sites_find
 * gives. A site error never changes the parse result (a data plane validates the parsed
 * message before it looks at the sites).
 */
sip_result_t sip_msg_read (const uint8_t *buf, uint32_t len, sip_parse_mode_t mode,
			   sip_msg_t *msg, sip_hdr_t *hdrs, uint16_t max_hdrs, sip_info_t *info,
			   sip_site_t *sites, uint16_t max_sites, sip_result_t *sites_result);

/*
 * The steps of both (sip_msg_read takes them as the parser goes): info emptied; the
 * Request-URI's site; one header's sites (h complete); the body's kind and SDP. Each sets
 * info->err_off with an error.
 */
void sip_sites_init (sip_info_t *info, sip_site_t *sites, uint16_t max_sites);
sip_result_t sip_sites_start (const uint8_t *buf, const sip_msg_t *msg, sip_info_t *info);
sip_result_t sip_sites_hdr (const uint8_t *buf, const sip_hdr_t *h, sip_info_t *info);
sip_result_t sip_sites_body (const uint8_t *buf, const sip_msg_t *msg, sip_info_t *info);

/* Decode an SDP body [body, body + len); sites (offsets relative to base) appended to info. */
sip_result_t sip_sdp_parse (const uint8_t *base, const uint8_t *body, uint32_t len,
			    sip_info_t *info);

/* An SDP summary without media; media[] is filled up to n_media as they are decoded. */
void sip_sdp_clear (sip_sdp_t *sdp);

const char *sip_site_kind_name (sip_site_kind_t k);

#endif /* __included_sip_sites_h__ */
