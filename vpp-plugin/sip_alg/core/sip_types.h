/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Shared types of the SIP/SDP core: spans, result codes, limits.
 *
 * The core is pure C99: no vlib/vnet headers, no allocation. Every scan takes an end pointer
 * and never dereferences it. Results are offsets into the caller's buffer, so a rewriter can
 * use them after the buffer has been copied.
 */

#ifndef __included_sip_types_h__
#define __included_sip_types_h__

#include <stdint.h>
#include <stddef.h>

/* Largest message the core accepts (offsets are 16 bit). */
#define SIP_MAX_MSG_LEN	 65535
/* Longest physical line (header or start line) before a message is refused. */
#define SIP_MAX_LINE_LEN 8192
/* Media descriptions tracked per SDP body. */
#define SIP_SDP_MAX_MEDIA 8
#define SIP_DEFAULT_PORT  5060

/* A region of the message: offset from the start of the buffer, length in bytes. */
typedef struct
{
  uint16_t off;
  uint16_t len;
} sip_span_t;

/*
 * Every result of the core. OK is zero; INCOMPLETE asks for more stream bytes; each ERR_ names
 * one failure class so a data plane can count it.
 */
#define foreach_sip_result                                                                    \
  _ (OK, "ok")                                                                                \
  _ (INCOMPLETE, "incomplete message")                                                        \
  _ (ERR_TOO_LONG, "message too long")                                                        \
  _ (ERR_LINE_TOO_LONG, "line too long")                                                      \
  _ (ERR_START_LINE, "malformed start line")                                                  \
  _ (ERR_METHOD, "malformed method")                                                          \
  _ (ERR_REQUEST_URI, "malformed request-uri")                                                \
  _ (ERR_VERSION, "unsupported SIP version")                                                  \
  _ (ERR_STATUS, "malformed status code")                                                     \
  _ (ERR_TRUNCATED, "message ends inside the header block")                                  \
  _ (ERR_HEADER, "malformed header line")                                                     \
  _ (ERR_TOO_MANY_HEADERS, "too many headers")                                                \
  _ (ERR_DUP_HEADER, "duplicate single-valued header")                                        \
  _ (ERR_MISSING_HEADER, "missing mandatory header")                                          \
  _ (ERR_CONTENT_LENGTH, "bad content-length")                                                \
  _ (ERR_BODY_TRUNCATED, "body shorter than content-length")                                  \
  _ (ERR_CSEQ, "malformed cseq")                                                              \
  _ (ERR_CSEQ_METHOD, "cseq method mismatch")                                                 \
  _ (ERR_MAX_FORWARDS, "bad max-forwards")                                                    \
  _ (ERR_EXPIRES, "bad expires")                                                              \
  _ (ERR_DATE, "bad date")                                                                    \
  _ (ERR_VIA, "malformed via")                                                                \
  _ (ERR_NAME_ADDR, "malformed from/to/route address")                                       \
  _ (ERR_CONTACT, "malformed contact")                                                        \
  _ (ERR_CALL_ID, "malformed call-id")                                                        \
  _ (ERR_SDP, "malformed sdp")                                                                \
  _ (ERR_SDP_TOO_MANY_MEDIA, "too many sdp media")                                            \
  _ (ERR_TOO_MANY_SITES, "too many rewrite sites")                                            \
  _ (ERR_TOO_MANY_EDITS, "too many edits")                                                    \
  _ (ERR_NO_SPACE, "rewritten message does not fit")                                          \
  _ (ERR_INVALID_ARG, "invalid argument")

typedef enum
{
#define _(sym, str) SIP_##sym,
  foreach_sip_result
#undef _
    SIP_N_RESULTS,
} sip_result_t;

/* Human-readable text of a result, for CLI, trace and tests. */
const char *sip_result_string (sip_result_t r);

/* Short symbolic name of a result ("ERR_VIA"), for tests and JSON. */
const char *sip_result_name (sip_result_t r);

#endif /* __included_sip_types_h__ */
