/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Bounded scanning helpers shared by the core's parsers (private to the core).
 * Every helper takes [p, end) and never reads *end.
 */

#ifndef __included_sip_scan_h__
#define __included_sip_scan_h__

#include "sip_types.h"

#define SIP_CC_TOKEN 0x01 /* RFC 3261 token */
#define SIP_CC_DIGIT 0x02
#define SIP_CC_ALPHA 0x04
#define SIP_CC_LWS   0x08 /* SP HT CR LF: blanks inside a (possibly folded) header value */
#define SIP_CC_HEX   0x10
#define SIP_CC_URIC  0x20 /* characters a URI may contain (RFC 3986 + RFC 3261 extras) */
#define SIP_CC_HEND  0x40 /* ends the host of a URI: ':' ';' '?' '>' */

extern const uint8_t sip_char_class[256];

static inline int
sip_is (uint8_t c, uint8_t cls)
{
  return (sip_char_class[c] & cls) != 0;
}

static inline uint8_t
sip_lower (uint8_t c)
{
  return (c >= 'A' && c <= 'Z') ? (uint8_t) (c + 32) : c;
}

/* Case-insensitive compare of n bytes against a lower-case literal. */
static inline int
sip_ieq (const uint8_t *p, const char *lit, uint32_t n)
{
  for (uint32_t i = 0; i < n; i++)
    if (sip_lower (p[i]) != (uint8_t) lit[i])
      return 0;
  return 1;
}

/* Does [p, end) start with lower-case literal lit (case-insensitive)? */
static inline int
sip_iprefix (const uint8_t *p, const uint8_t *end, const char *lit, uint32_t n)
{
  return (uint32_t) (end - p) >= n && sip_ieq (p, lit, n);
}

static inline const uint8_t *
sip_skip_lws (const uint8_t *p, const uint8_t *end)
{
  while (p < end && sip_is (*p, SIP_CC_LWS))
    p++;
  return p;
}

static inline const uint8_t *
sip_skip_sp (const uint8_t *p, const uint8_t *end)
{
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  return p;
}

static inline const uint8_t *
sip_skip_class (const uint8_t *p, const uint8_t *end, uint8_t cls)
{
  while (p < end && sip_is (*p, cls))
    p++;
  return p;
}

static inline const uint8_t *
sip_trim_right (const uint8_t *start, const uint8_t *end)
{
  while (end > start && sip_is (end[-1], SIP_CC_LWS))
    end--;
  return end;
}

/*
 * Parse exactly the decimal digits in [p, end): at least one digit, all digits, value <= max.
 * Returns 1 and sets *v, or 0. Overflow-safe for any length.
 */
static inline int
sip_parse_uint (const uint8_t *p, const uint8_t *end, uint64_t max, uint64_t *v)
{
  uint64_t x = 0;
  if (p >= end)
    return 0;
  for (; p < end; p++)
    {
      if (*p < '0' || *p > '9')
	return 0;
      x = x * 10 + (uint64_t) (*p - '0');
      if (x > max)
	return 0;
    }
  *v = x;
  return 1;
}

/*
 * Parse a dotted-quad IPv4 literal that fills [p, end) exactly: four parts of one to three
 * decimal digits, each <= 255 ("010" reads as 10). Returns 1 and sets *ip (host order), or 0.
 */
static inline int
sip_parse_ip4 (const uint8_t *p, const uint8_t *end, uint32_t *ip)
{
  uint32_t a = 0;
  if (end - p < 7 || end - p > 15)
    return 0;
  /* one octet at a time, unrolled: most hosts are names and fail on the first byte */
  for (int part = 0; part < 4; part++)
    {
      uint32_t cur, d;
      if (p >= end || (cur = (uint32_t) (*p - '0')) > 9)
	return 0;
      p++;
      if (p < end && (d = (uint32_t) (*p - '0')) <= 9)
	{
	  cur = cur * 10 + d;
	  p++;
	  if (p < end && (d = (uint32_t) (*p - '0')) <= 9)
	    {
	      cur = cur * 10 + d;
	      p++;
	      if (cur > 255)
		return 0;
	    }
	}
      a = (a << 8) | cur;
      if (part < 3)
	{
	  if (p >= end || *p != '.')
	    return 0;
	  p++;
	}
    }
  if (p != end)
    return 0;
  *ip = a;
  return 1;
}

static inline sip_span_t
sip_span (const uint8_t *base, const uint8_t *p, const uint8_t *end)
{
  sip_span_t s = { (uint16_t) (p - base), (uint16_t) (end - p) };
  return s;
}

#endif /* __included_sip_scan_h__ */
