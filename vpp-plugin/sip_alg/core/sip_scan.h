/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Bounded scanning helpers shared by the core's parsers (private to the core).
 * Every helper takes [p, end) and never reads *end.
 */

#ifndef __included_sip_scan_h__
#define __included_sip_scan_h__

#include "sip_types.h"

/*
 * SIMD: SSE2 where the compiler targets it (every x86-64), unless SIP_NO_SIMD is defined
 * (the tests build the core both ways). Each vector loop reads whole 16-byte blocks inside
 * [p, end) only; the scalar loop after it does the rest, and everything on other targets.
 */
#if defined(__SSE2__) && !defined(SIP_NO_SIMD)
#include <emmintrin.h>
#define SIP_SSE2 1
#endif

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

/*
 * The vector scans read [p, end) in 16-byte blocks from p while more than 16 bytes are left,
 * then the 16 bytes before end, of which those before p (read already, or not the scan's)
 * are masked off: no byte loop, so no branch on each byte. base: the start of the buffer
 * [p, end) is in; the last block may start before p, so it is used only when
 * end - base >= 16 (shorter buffers are scanned byte by byte).
 */
#ifdef SIP_SSE2
#define SIP_SCAN16(base, p, end, block_mask, on_mask)                                        \
  do                                                                                          \
    {                                                                                         \
      if ((end) - (base) >= 16 && (p) < (end))                                                \
	for (;;)                                                                              \
	  {                                                                                   \
	    const uint8_t *blk_ = (end) - (p) > 16 ? (p) : (end) - 16;                         \
	    __m128i x_ = _mm_loadu_si128 ((const __m128i *) (const void *) blk_);             \
	    unsigned m_ = (block_mask) & (0xffffu << (unsigned) ((p) - blk_));                \
	    if (m_)                                                                           \
	      on_mask;                                                                        \
	    if (blk_ + 16 == (end))                                                           \
	      break;                                                                          \
	    (p) = blk_ + 16;                                                                  \
	  }                                                                                   \
    }                                                                                         \
  while (0)

static inline unsigned
sip_eq16 (__m128i x, uint8_t c)
{
  return (unsigned) _mm_movemask_epi8 (_mm_cmpeq_epi8 (x, _mm_set1_epi8 ((char) c)));
}

/* Bit i: byte i of x is not visible ASCII (0x21..0x7e). Signed compares: 0x80.. < 0. */
static inline unsigned
sip_invisible16 (__m128i x)
{
  __m128i ok = _mm_andnot_si128 (_mm_cmpeq_epi8 (x, _mm_set1_epi8 (0x7f)),
				 _mm_cmpgt_epi8 (x, _mm_set1_epi8 (0x20)));
  return (unsigned) _mm_movemask_epi8 (ok) ^ 0xffffu;
}

/*
 * Bit i: byte i of x is no URI character (class SIP_CC_URIC | SIP_CC_TOKEN: the visible
 * ASCII bytes 0x21..0x7e but " # < > \ ^ { | }).
 */
static inline unsigned
sip_unuri16 (__m128i x)
{
  __m128i in = _mm_and_si128 (_mm_cmpgt_epi8 (x, _mm_set1_epi8 (0x20)),
			      _mm_or_si128 (_mm_cmplt_epi8 (x, _mm_set1_epi8 (0x7b)),
					    _mm_cmpeq_epi8 (x, _mm_set1_epi8 (0x7e))));
  /* " #: x & 0xfe == 0x22; < >: x & 0xfd == 0x3c; \ ^: x & 0xfd == 0x5c */
  __m128i t = _mm_and_si128 (x, _mm_set1_epi8 ((char) 0xfd));
  __m128i out = _mm_or_si128 (
    _mm_cmpeq_epi8 (_mm_and_si128 (x, _mm_set1_epi8 ((char) 0xfe)), _mm_set1_epi8 (0x22)),
    _mm_or_si128 (_mm_cmpeq_epi8 (t, _mm_set1_epi8 (0x3c)),
		  _mm_cmpeq_epi8 (t, _mm_set1_epi8 (0x5c))));
  return (unsigned) _mm_movemask_epi8 (_mm_andnot_si128 (out, in)) ^ 0xffffu;
}
#endif

/* The first byte c in [p, end), or 0 (memchr without the call: most scans are short). */
static inline const uint8_t *
sip_find (const uint8_t *p, const uint8_t *end, uint8_t c)
{
#ifdef SIP_SSE2
  for (; end - p >= 16; p += 16)
    {
      unsigned m = sip_eq16 (_mm_loadu_si128 ((const __m128i *) (const void *) p), c);
      if (m)
	return p + __builtin_ctz (m);
    }
#endif
  for (; p < end; p++)
    if (*p == c)
      return p;
  return 0;
}

/* The first byte of [p, end) that is not visible ASCII (0x21..0x7e), or end. */
static inline const uint8_t *
sip_skip_visible (const uint8_t *base, const uint8_t *p, const uint8_t *end)
{
#ifdef SIP_SSE2
  SIP_SCAN16 (base, p, end, sip_invisible16 (x_), return blk_ + __builtin_ctz (m_));
  if (end - base >= 16)
    return end;
#else
  (void) base;
#endif
  while (p < end && *p > ' ' && *p < 0x7f)
    p++;
  return p;
}

/*
 * Are all bytes of [p, end) URI characters (SIP_CC_URIC | SIP_CC_TOKEN)? *at: the first '@'
 * among them, or 0.
 */
static inline int
sip_uri_chars (const uint8_t *base, const uint8_t *p, const uint8_t *end, const uint8_t **at)
{
  *at = 0;
#ifdef SIP_SSE2
  SIP_SCAN16 (base, p, end, sip_unuri16 (x_) | (*at ? 0 : sip_eq16 (x_, '@')), {
    if (sip_unuri16 (x_) & m_)
      return 0;
    *at = blk_ + __builtin_ctz (m_);
  });
  if (end - base >= 16)
    return 1;
#else
  (void) base;
#endif
  for (; p < end; p++)
    if (!sip_is (*p, SIP_CC_URIC | SIP_CC_TOKEN))
      return 0;
    else if (*p == '@' && !*at)
      *at = p;
  return 1;
}

static inline sip_span_t
sip_span (const uint8_t *base, const uint8_t *p, const uint8_t *end)
{
  sip_span_t s = { (uint16_t) (p - base), (uint16_t) (end - p) };
  return s;
}

#endif /* __included_sip_scan_h__ */
