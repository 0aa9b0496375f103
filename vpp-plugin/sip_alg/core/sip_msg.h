/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * SIP message parser (RFC 3261 section 7, 20, 25).
 *
 * One indexed pass over the header block: start line, one entry per header field value
 * line (folded continuation lines belong to their header), header ids with the RFC 3261
 * compact forms, then the body framed by Content-Length. The caller owns every array.
 *
 * Datagram mode (UDP): the buffer is one message; a missing Content-Length means "body is
 * the rest of the datagram"; bytes past Content-Length are ignored.
 * Stream mode (TCP): the buffer is a byte stream; the parser reports the length of the first
 * complete message (msg_len) or SIP_INCOMPLETE. Content-Length is mandatory.
 */

#ifndef __included_sip_msg_h__
#define __included_sip_msg_h__

#include "sip_types.h"

/* Header ids. Long name, compact form (0 for none). */
#define foreach_sip_hdr                                                                       \
  _ (VIA, "via", 'v')                                                                         \
  _ (FROM, "from", 'f')                                                                       \
  _ (TO, "to", 't')                                                                           \
  _ (CALL_ID, "call-id", 'i')                                                                 \
  _ (CSEQ, "cseq", 0)                                                                         \
  _ (CONTACT, "contact", 'm')                                                                 \
  _ (CONTENT_LENGTH, "content-length", 'l')                                                   \
  _ (CONTENT_TYPE, "content-type", 'c')                                                       \
  _ (ROUTE, "route", 0)                                                                       \
  _ (RECORD_ROUTE, "record-route", 0)                                                         \
  _ (MAX_FORWARDS, "max-forwards", 0)                                                         \
  _ (EXPIRES, "expires", 0)                                                                   \
  _ (DATE, "date", 0)                                                                         \
  _ (SUBJECT, "subject", 's')                                                                 \
  _ (SUPPORTED, "supported", 'k')                                                             \
  _ (CONTENT_ENCODING, "content-encoding", 'e')                                               \
  _ (EVENT, "event", 'o')                                                                     \
  _ (REFER_TO, "refer-to", 'r')                                                               \
  _ (ALLOW_EVENTS, "allow-events", 'u')

typedef enum
{
  SIP_HDR_OTHER = 0,
#define _(sym, name, c) SIP_HDR_##sym,
  foreach_sip_hdr
#undef _
    SIP_HDR_N_IDS,
} sip_hdr_id_t;

/* Methods the ALG acts on; anything else is SIP_METHOD_OTHER with its token kept. */
#define foreach_sip_method                                                                    \
  _ (INVITE)                                                                                  \
  _ (ACK)                                                                                     \
  _ (BYE)                                                                                     \
  _ (CANCEL)                                                                                  \
  _ (OPTIONS)                                                                                 \
  _ (REGISTER)                                                                                \
  _ (PRACK)                                                                                   \
  _ (UPDATE)                                                                                  \
  _ (INFO)                                                                                    \
  _ (SUBSCRIBE)                                                                               \
  _ (NOTIFY)                                                                                  \
  _ (MESSAGE)                                                                                 \
  _ (REFER)                                                                                   \
  _ (PUBLISH)

typedef enum
{
  SIP_METHOD_NONE = 0,
#define _(m) SIP_METHOD_##m,
  foreach_sip_method
#undef _
    SIP_METHOD_OTHER,
} sip_method_t;

typedef struct
{
  sip_span_t name;
  /* Value from the first non-blank byte after ':' to the last non-blank byte, continuation
   * lines included (they keep their CRLF and leading blanks inside the span). */
  sip_span_t value;
  uint8_t id; /* sip_hdr_id_t */
  uint8_t compact;
} sip_hdr_t;

/* Leniencies accepted and counted (not errors). */
#define SIP_LENIENT_BARE_LF	 (1 << 0) /* a line ended in LF without CR */
#define SIP_LENIENT_LEADING_CRLF (1 << 1) /* empty lines before the start line */
#define SIP_LENIENT_NO_CLEN	 (1 << 2) /* datagram without Content-Length */
#define SIP_LENIENT_TRAILING	 (1 << 3) /* datagram bytes after the body (ignored) */
#define SIP_LENIENT_NO_BLANK_LINE (1 << 4) /* datagram ends after a header line, no CRLF CRLF */

typedef enum
{
  SIP_PARSE_DATAGRAM = 0,
  SIP_PARSE_STREAM = 1,
} sip_parse_mode_t;

typedef struct
{
  /* start line */
  uint8_t is_request;
  uint8_t method;      /* sip_method_t of a request */
  uint8_t cseq_method; /* sip_method_t of the CSeq header */
  uint8_t lenient;     /* SIP_LENIENT_* */
  uint16_t status;     /* response status code */
  sip_span_t method_tok;
  sip_span_t ruri;
  sip_span_t reason;
  uint32_t cseq;

  /* header index: caller-owned array */
  sip_hdr_t *hdrs;
  uint16_t max_hdrs;
  uint16_t n_hdrs;
  /* index of the first header with a given id in hdrs[], 0xffff if absent */
  uint16_t first[SIP_HDR_N_IDS];

  uint16_t start_off;	 /* first byte of the start line (after leading CRLFs) */
  uint16_t body_off;	 /* first byte after the blank line */
  uint16_t body_len;	 /* framed body length */
  uint16_t msg_len;	 /* start_off + headers + body: bytes this message occupies */
  int32_t content_length; /* parsed value, -1 when absent */
  int64_t expires;	  /* Expires header, -1 when absent */
  sip_span_t clen_value;  /* span of the Content-Length digits (for rewriting) */
  sip_span_t call_id;
  uint16_t err_off; /* offset where an error was detected */
} sip_msg_t;

#define SIP_HDR_NONE 0xffff

/*
 * Parse one SIP message from buf[0..len). hdrs/max_hdrs: caller's header array.
 * Returns SIP_OK (msg filled), SIP_INCOMPLETE (stream mode only) or an SIP_ERR_*.
 * Never reads outside buf[0..len).
 */
sip_result_t sip_msg_parse (const uint8_t *buf, uint32_t len, sip_parse_mode_t mode,
			    sip_msg_t *msg, sip_hdr_t *hdrs, uint16_t max_hdrs);

/* Header id of a header name (case-insensitive, compact forms included). */
sip_hdr_id_t sip_hdr_lookup (const uint8_t *name, uint32_t len);

/* Method of a method token (case-sensitive, RFC 3261 section 7.1). */
sip_method_t sip_method_lookup (const uint8_t *tok, uint32_t len);

const char *sip_method_name (sip_method_t m);
const char *sip_hdr_name (sip_hdr_id_t id);

#endif /* __included_sip_msg_h__ */
