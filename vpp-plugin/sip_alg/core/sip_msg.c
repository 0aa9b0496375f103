/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

#include <string.h>

#include "sip_msg.h"
#include "sip_sites.h"
#include "sip_scan.h"

/* clang-format off */
#define T SIP_CC_TOKEN
#define D (SIP_CC_DIGIT | SIP_CC_TOKEN | SIP_CC_HEX | SIP_CC_URIC)
#define A (SIP_CC_ALPHA | SIP_CC_TOKEN | SIP_CC_URIC)
#define H (SIP_CC_ALPHA | SIP_CC_TOKEN | SIP_CC_HEX | SIP_CC_URIC)
#define U SIP_CC_URIC
#define TU (SIP_CC_TOKEN | SIP_CC_URIC)
#define W SIP_CC_LWS
#define UE (SIP_CC_URIC | SIP_CC_HEND)
const uint8_t sip_char_class[256] = {
  ['\t'] = W, ['\n'] = W, ['\r'] = W, [' '] = W,
  ['!'] = TU, ['%'] = TU, ['*'] = TU, ['+'] = TU, ['-'] = TU, ['.'] = TU, ['_'] = TU,
  ['`'] = T, ['\''] = TU, ['~'] = TU,
  ['$'] = U, ['&'] = U, ['('] = U, [')'] = U, [','] = U, ['/'] = U, [':'] = UE, [';'] = UE,
  ['='] = U, ['?'] = UE, ['@'] = U, ['['] = U, [']'] = U, ['>'] = SIP_CC_HEND,
  ['0'] = D, ['1'] = D, ['2'] = D, ['3'] = D, ['4'] = D,
  ['5'] = D, ['6'] = D, ['7'] = D, ['8'] = D, ['9'] = D,
  ['A'] = H, ['B'] = H, ['C'] = H, ['D'] = H, ['E'] = H, ['F'] = H,
  ['a'] = H, ['b'] = H, ['c'] = H, ['d'] = H, ['e'] = H, ['f'] = H,
  ['G'] = A, ['H'] = A, ['I'] = A, ['J'] = A, ['K'] = A, ['L'] = A, ['M'] = A, ['N'] = A,
  ['O'] = A, ['P'] = A, ['Q'] = A, ['R'] = A, ['S'] = A, ['T'] = A, ['U'] = A, ['V'] = A,
  ['W'] = A, ['X'] = A, ['Y'] = A, ['Z'] = A,
  ['g'] = A, ['h'] = A, ['i'] = A, ['j'] = A, ['k'] = A, ['l'] = A, ['m'] = A, ['n'] = A,
  ['o'] = A, ['p'] = A, ['q'] = A, ['r'] = A, ['s'] = A, ['t'] = A, ['u'] = A, ['v'] = A,
  ['w'] = A, ['x'] = A, ['y'] = A, ['z'] = A,
};
#undef T
#undef D
#undef A
#undef H
#undef U
#undef TU
#undef W
#undef UE
/* clang-format on */

static const char *const sip_result_strings[] = {
#define _(sym, str) [SIP_##sym] = str,
  foreach_sip_result
#undef _
};

static const char *const sip_result_names[] = {
#define _(sym, str) [SIP_##sym] = #sym,
  foreach_sip_result
#undef _
};

const char *
sip_result_string (sip_result_t r)
{
  return (unsigned) r < SIP_N_RESULTS ? sip_result_strings[r] : "unknown result";
}

const char *
sip_result_name (sip_result_t r)
{
  return (unsigned) r < SIP_N_RESULTS ? sip_result_names[r] : "UNKNOWN";
}

typedef struct
{
  const char *name;
  uint8_t len;
  uint8_t compact;
} sip_hdr_desc_t;

static const sip_hdr_desc_t sip_hdr_descs[SIP_HDR_N_IDS] = {
  [SIP_HDR_OTHER] = { "other", 5, 0 },
#define _(sym, n, c) [SIP_HDR_##sym] = { n, sizeof (n) - 1, c },
  foreach_sip_hdr
#undef _
};

const char *
sip_hdr_name (sip_hdr_id_t id)
{
  return (unsigned) id < SIP_HDR_N_IDS ? sip_hdr_descs[id].name : "?";
}

static int
sip_hdr_is (const uint8_t *name, uint32_t len, sip_hdr_id_t id)
{
  return sip_hdr_descs[id].len == len && sip_ieq (name, sip_hdr_descs[id].name, len);
}

/*
 * The long names by length and first letter: one candidate each, and a second one where two
 * names share both (sip_hdr_alt). The longest name is 16 bytes.
 */
#define SIP_HDR_MAX_NAME 16
static const uint8_t sip_hdr_cand[SIP_HDR_MAX_NAME + 1][26] = {
  [2] = { ['t' - 'a'] = SIP_HDR_TO },
  [3] = { ['v' - 'a'] = SIP_HDR_VIA },
  [4] = { ['f' - 'a'] = SIP_HDR_FROM, ['c' - 'a'] = SIP_HDR_CSEQ, ['d' - 'a'] = SIP_HDR_DATE },
  [5] = { ['r' - 'a'] = SIP_HDR_ROUTE, ['e' - 'a'] = SIP_HDR_EVENT },
  [7] = { ['c' - 'a'] = SIP_HDR_CALL_ID, ['e' - 'a'] = SIP_HDR_EXPIRES,
	  ['s' - 'a'] = SIP_HDR_SUBJECT },
  [8] = { ['r' - 'a'] = SIP_HDR_REFER_TO },
  [9] = { ['s' - 'a'] = SIP_HDR_SUPPORTED },
  [12] = { ['c' - 'a'] = SIP_HDR_CONTENT_TYPE, ['r' - 'a'] = SIP_HDR_RECORD_ROUTE,
	   ['m' - 'a'] = SIP_HDR_MAX_FORWARDS, ['a' - 'a'] = SIP_HDR_ALLOW_EVENTS },
  [14] = { ['c' - 'a'] = SIP_HDR_CONTENT_LENGTH },
  [16] = { ['c' - 'a'] = SIP_HDR_CONTENT_ENCODING },
};
static const uint8_t sip_hdr_alt[SIP_HDR_N_IDS] = { [SIP_HDR_CALL_ID] = SIP_HDR_CONTACT };

/* Each long name in lower case, zero-padded to 16 bytes (the word compare's operand). */
static const uint8_t sip_hdr_lc[SIP_HDR_N_IDS][SIP_HDR_MAX_NAME] = {
#define _(sym, n, c) [SIP_HDR_##sym] = n,
  foreach_sip_hdr
#undef _
};

/* 16 bytes of 0xff then 16 of 0: the 16 bytes at sip_hdr_keep + 16 - len keep len bytes. */
static const uint8_t sip_hdr_keep[32] = {
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

static inline uint64_t
sip_load64 (const uint8_t *p)
{
  uint64_t x;
  memcpy (&x, p, 8);
  return x;
}

/*
 * Is the token name [p, p + len) header id, ignoring case? Two 8-byte words: OR 0x20 folds
 * a letter to lower case and leaves '-' (the other byte of the names) as it is; for a token
 * byte, b | 0x20 equals a lower-case letter or '-' only when b is that letter in either case
 * or '-' itself (0x0d, CR, would give '-' too, and is no token byte). Reads 16 bytes at p.
 */
static inline int
sip_hdr_is16 (const uint8_t *p, uint32_t len, sip_hdr_id_t id)
{
  const uint64_t fold = 0x2020202020202020ull;
  const uint8_t *k = sip_hdr_keep + SIP_HDR_MAX_NAME - len, *l = sip_hdr_lc[id];
  uint64_t d0 = ((sip_load64 (p) | fold) & sip_load64 (k)) ^ sip_load64 (l);
  uint64_t d1 = ((sip_load64 (p + 8) | fold) & sip_load64 (k + 8)) ^ sip_load64 (l + 8);
  /* a shorter name's zero padding never equals a token byte | 0x20: no length compare */
  return !(d0 | d1);
}

/*
 * Header id of name [name, name + len). words: the name is token bytes and 16 bytes may be
 * read at name (the parser's case), so it is compared as two words.
 */
static inline sip_hdr_id_t
sip_hdr_find (const uint8_t *name, uint32_t len, int words)
{
  if (len == 1)
    {
      uint8_t c = sip_lower (name[0]);
      for (int id = 1; id < SIP_HDR_N_IDS; id++)
	if (sip_hdr_descs[id].compact == c)
	  return (sip_hdr_id_t) id;
      return SIP_HDR_OTHER;
    }
  if (len > SIP_HDR_MAX_NAME)
    return SIP_HDR_OTHER;
  uint8_t c = (uint8_t) (sip_lower (name[0]) - 'a');
  if (c >= 26)
    return SIP_HDR_OTHER;
  /* the candidate of its length and first letter, then the other one of both (if any) */
  for (uint8_t id = sip_hdr_cand[len][c]; id; id = sip_hdr_alt[id])
    if (words ? sip_hdr_is16 (name, len, (sip_hdr_id_t) id) :
		sip_hdr_is (name, len, (sip_hdr_id_t) id))
      return (sip_hdr_id_t) id;
  return SIP_HDR_OTHER;
}

sip_hdr_id_t
sip_hdr_lookup (const uint8_t *name, uint32_t len)
{
  if (len == 0)
    return SIP_HDR_OTHER;
  return sip_hdr_find (name, len, 0);
}

static const char *const sip_method_names[] = {
  [SIP_METHOD_NONE] = "",
#define _(m) [SIP_METHOD_##m] = #m,
  foreach_sip_method
#undef _
    [SIP_METHOD_OTHER] = "OTHER",
};

const char *
sip_method_name (sip_method_t m)
{
  return (unsigned) m <= SIP_METHOD_OTHER ? sip_method_names[m] : "?";
}

sip_method_t
sip_method_lookup (const uint8_t *tok, uint32_t len)
{
  static const uint8_t lens[] = {
#define _(m) [SIP_METHOD_##m] = sizeof (#m) - 1,
    foreach_sip_method
#undef _
  };
  for (int m = SIP_METHOD_NONE + 1; m < SIP_METHOD_OTHER; m++)
    if (lens[m] == len && memcmp (tok, sip_method_names[m], len) == 0)
      return (sip_method_t) m;
  return len ? SIP_METHOD_OTHER : SIP_METHOD_NONE;
}

/* "SIP/2.0" (the version string is case-insensitive, RFC 3261 section 7.1). */
static sip_result_t
sip_check_version (const uint8_t *p, const uint8_t *end)
{
  if (end - p < 5 || !sip_ieq (p, "sip/", 4))
    return SIP_ERR_START_LINE;
  if (end - p == 7 && p[4] == '2' && p[5] == '.' && p[6] == '0')
    return SIP_OK;
  return SIP_ERR_VERSION;
}

/* scheme ":" with scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). Returns the ':' or 0. */
static const uint8_t *
sip_uri_scheme_end (const uint8_t *p, const uint8_t *end)
{
  if (p >= end || !sip_is (*p, SIP_CC_ALPHA))
    return 0;
  for (p++; p < end; p++)
    {
      if (*p == ':')
	return p;
      if (!(sip_is (*p, SIP_CC_ALPHA | SIP_CC_DIGIT) || *p == '+' || *p == '-' || *p == '.'))
	return 0;
    }
  return 0;
}

static sip_result_t
sip_parse_request_uri (const uint8_t *base, const uint8_t *p, const uint8_t *end)
{
  const uint8_t *colon = sip_uri_scheme_end (p, end), *host;
  if (!colon || colon + 1 >= end)
    return SIP_ERR_REQUEST_URI;
  /* every byte a URI character; the first '@' (none in the scheme before colon) */
  if (!sip_uri_chars (base, p, end, &host))
    return SIP_ERR_REQUEST_URI;
  if ((colon - p == 3 && sip_ieq (p, "sip", 3)) || (colon - p == 4 && sip_ieq (p, "sips", 4)))
    {
      /* RFC 3261 19.1.1: no headers component in a Request-URI. The user part may
       * contain '?', so only look after the '@' (or after the scheme without one). */
      host = host ? host + 1 : colon + 1;
      if (host >= end || sip_find (host, end, '?'))
	return SIP_ERR_REQUEST_URI;
    }
  return SIP_OK;
}

static sip_result_t
sip_parse_start_line (const uint8_t *base, const uint8_t *p, const uint8_t *end, sip_msg_t *m)
{
  if (sip_iprefix (p, end, "sip/", 4))
    {
      /* Status-Line = SIP-Version SP Status-Code SP Reason-Phrase */
      const uint8_t *sp = sip_find (p, end, ' ');
      sip_result_t r;
      uint64_t code;
      if (!sp)
	return SIP_ERR_START_LINE;
      if ((r = sip_check_version (p, sp)) != SIP_OK)
	return r;
      p = sp + 1;
      sp = sip_find (p, end, ' ');
      if (!sp)
	return (end - p == 3 && sip_parse_uint (p, end, 699, &code)) ? SIP_ERR_START_LINE :
								       SIP_ERR_STATUS;
      if (sp - p != 3 || !sip_parse_uint (p, sp, 699, &code) || code < 100)
	return SIP_ERR_STATUS;
      m->is_request = 0;
      m->status = (uint16_t) code;
      m->reason = sip_span (base, sp + 1, end);
      return SIP_OK;
    }

  /* Request-Line = Method SP Request-URI SP SIP-Version */
  const uint8_t *q = sip_skip_class (p, end, SIP_CC_TOKEN);
  if (q == p || q >= end || *q != ' ')
    return q == p ? SIP_ERR_START_LINE : SIP_ERR_METHOD;
  m->is_request = 1;
  m->method_tok = sip_span (base, p, q);
  m->method = (uint8_t) sip_method_lookup (p, (uint32_t) (q - p));

  p = q + 1;
  q = sip_find (p, end, ' ');
  if (!q || q == p)
    return SIP_ERR_START_LINE;
  sip_result_t r = sip_parse_request_uri (base, p, q);
  if (r != SIP_OK)
    return r;
  m->ruri = sip_span (base, p, q);

  p = q + 1;
  if (sip_find (p, end, ' ') || sip_find (p, end, '\t'))
    return SIP_ERR_START_LINE;
  return sip_check_version (p, end);
}

/*
 * The value of one of the few headers the core checks while framing (h complete: its
 * continuation lines read). Sets m->err_off with an error.
 */
static sip_result_t
sip_check_value (const uint8_t *base, sip_msg_t *m, const sip_hdr_t *h)
{
  const uint8_t *v = base + h->value.off, *ve = v + h->value.len;
  uint64_t x;

  switch (h->id)
    {
    case SIP_HDR_CSEQ:
      {
	/* CSeq = 1*DIGIT LWS Method, number < 2**31 */
	const uint8_t *d = sip_skip_class (v, ve, SIP_CC_DIGIT);
	const uint8_t *mt = sip_skip_lws (d, ve);
	if (!sip_parse_uint (v, d, 0x7fffffff, &x) || mt == d || mt >= ve)
	  goto cseq_bad;
	const uint8_t *me = sip_skip_class (mt, ve, SIP_CC_TOKEN);
	if (me != ve)
	  goto cseq_bad;
	m->cseq = (uint32_t) x;
	m->cseq_method = (uint8_t) sip_method_lookup (mt, (uint32_t) (me - mt));
	if (m->is_request && ((uint32_t) (me - mt) != m->method_tok.len ||
			      memcmp (mt, base + m->method_tok.off, m->method_tok.len)))
	  {
	    m->err_off = (uint16_t) (mt - base);
	    return SIP_ERR_CSEQ_METHOD;
	  }
	break;
      cseq_bad:
	m->err_off = h->value.off;
	return SIP_ERR_CSEQ;
      }
    case SIP_HDR_CONTENT_LENGTH:
      if (!sip_parse_uint (v, ve, SIP_MAX_MSG_LEN, &x))
	{
	  m->err_off = h->value.off;
	  return SIP_ERR_CONTENT_LENGTH;
	}
      m->content_length = (int32_t) x;
      m->clen_value = h->value;
      break;
    case SIP_HDR_MAX_FORWARDS:
      if (!sip_parse_uint (v, ve, 255, &x))
	{
	  m->err_off = h->value.off;
	  return SIP_ERR_MAX_FORWARDS;
	}
      break;
    case SIP_HDR_EXPIRES:
      if (!sip_parse_uint (v, ve, 0xffffffffu, &x))
	{
	  m->err_off = h->value.off;
	  return SIP_ERR_EXPIRES;
	}
      m->expires = (int64_t) x;
      break;
    case SIP_HDR_DATE:
      /* rfc1123-date ends in SP "GMT" (RFC 3261 section 20.17) */
      if (ve - v < 5 || memcmp (ve - 4, " GMT", 4) != 0)
	{
	  m->err_off = h->value.off;
	  return SIP_ERR_DATE;
	}
      break;
    case SIP_HDR_CALL_ID:
      {
	/* callid = word [ "@" word ]: no blanks, at least one byte */
	if (v == ve || sip_skip_visible (base, v, ve) != ve)
	  {
	    m->err_off = h->value.off;
	    return SIP_ERR_CALL_ID;
	  }
	m->call_id = h->value;
	break;
      }
    default:
      break;
    }
  return SIP_OK;
}

/* Headers that may appear once only (RFC 3261 section 7.3.1, 20). */
static const uint8_t sip_hdr_single[SIP_HDR_N_IDS] = {
  [SIP_HDR_FROM] = 1,	      [SIP_HDR_TO] = 1,		  [SIP_HDR_CALL_ID] = 1,
  [SIP_HDR_CSEQ] = 1,	      [SIP_HDR_CONTENT_LENGTH] = 1, [SIP_HDR_MAX_FORWARDS] = 1,
  [SIP_HDR_CONTENT_TYPE] = 1, [SIP_HDR_EXPIRES] = 1,
};

static const uint8_t sip_hdr_mandatory[] = { SIP_HDR_VIA, SIP_HDR_FROM, SIP_HDR_TO,
					     SIP_HDR_CALL_ID, SIP_HDR_CSEQ };

/* What sip_msg_read does with a header once its value is complete: its rewrite sites. */
static const uint8_t sip_hdr_has_sites[SIP_HDR_N_IDS] = {
  [SIP_HDR_VIA] = 1,   [SIP_HDR_FROM] = 1,	   [SIP_HDR_TO] = 1,	[SIP_HDR_CONTACT] = 1,
  [SIP_HDR_ROUTE] = 1, [SIP_HDR_RECORD_ROUTE] = 1, [SIP_HDR_CALL_ID] = 1,
};

/*
 * The parser, and with info the site finder in the same pass (sip_msg_read): the sites of
 * a header are found as soon as its value is complete (the next line is not a continuation
 * of it), while its bytes are in cache, and the SDP once the body is framed. A site error is
 * kept in *sites_r (the first one; no site work after it) and never changes the parse
 * result, so the parse result and every field of m are those of sip_msg_parse, and info and
 * *sites_r (when the parse result is SIP_OK) those of sip_sites_find.
 */
static sip_result_t
sip_msg_scan (const uint8_t *buf, uint32_t len, sip_parse_mode_t mode, sip_msg_t *m,
	      sip_hdr_t *hdrs, uint16_t max_hdrs, sip_info_t *info, sip_result_t *sites_r)
{
  const uint8_t *p = buf, *end, *line, *eol, *next;
  sip_hdr_t *cur = 0;
  sip_result_t r, sr = SIP_OK;
  int is_stream = mode == SIP_PARSE_STREAM;

  memset (m, 0, sizeof (*m));
  memset (m->first, 0xff, sizeof (m->first));
  m->hdrs = hdrs;
  m->max_hdrs = max_hdrs;
  m->content_length = -1;
  m->expires = -1;

  if (len > SIP_MAX_MSG_LEN)
    {
      if (!is_stream)
	return SIP_ERR_TOO_LONG;
      len = SIP_MAX_MSG_LEN; /* the first message must fit in the first 64 KiB */
    }
  end = buf + len;

  /* RFC 3261 7.5: ignore CRLFs before the start line; RFC 5626 keep-alives are only that. */
  while (p < end && (*p == '\r' || *p == '\n'))
    p++;
  if (p == end && len)
    {
      m->lenient = SIP_LENIENT_LEADING_CRLF;
      m->start_off = m->body_off = m->msg_len = (uint16_t) len;
      return SIP_OK; /* keep-alive: n_hdrs == 0, msg_len == len */
    }
  if (p > buf)
    m->lenient |= SIP_LENIENT_LEADING_CRLF;
  m->start_off = (uint16_t) (p - buf);

  for (int first = 1;; first = 0)
    {
      if (!first && p == end && !is_stream)
	{
	  m->lenient |= SIP_LENIENT_NO_BLANK_LINE;
	  break;
	}
      /* one physical line [line, eol), next line at next */
      uint32_t scan = (uint32_t) (end - p);
      if (scan > SIP_MAX_LINE_LEN + 1)
	scan = SIP_MAX_LINE_LEN + 1;
      const uint8_t *lf = sip_find (p, p + scan, '\n');
      if (!lf)
	{
	  m->err_off = (uint16_t) (p - buf);
	  if (scan > SIP_MAX_LINE_LEN)
	    return SIP_ERR_LINE_TOO_LONG;
	  if (is_stream)
	    return len == SIP_MAX_MSG_LEN ? SIP_ERR_TOO_LONG : SIP_INCOMPLETE;
	  return SIP_ERR_TRUNCATED;
	}
      line = p;
      eol = lf;
      if (eol > line && eol[-1] == '\r')
	eol--;
      else
	m->lenient |= SIP_LENIENT_BARE_LF;
      next = lf + 1;

      if (first)
	{
	  if ((r = sip_parse_start_line (buf, line, eol, m)) != SIP_OK)
	    {
	      m->err_off = (uint16_t) (line - buf);
	      return r;
	    }
	  if (info)
	    sr = sip_sites_start (buf, m, info);
	}
      else if (*line == ' ' || *line == '\t')
	{
	  /* continuation of the previous header's value */
	  if (!cur)
	    {
	      m->err_off = (uint16_t) (line - buf);
	      return SIP_ERR_HEADER;
	    }
	  const uint8_t *ve = sip_trim_right (line, eol);
	  if (ve > line)
	    {
	      if (cur->value.len == 0)
		cur->value.off = (uint16_t) (sip_skip_sp (line, ve) - buf);
	      cur->value.len = (uint16_t) (ve - (buf + cur->value.off));
	    }
	}
      else
	{
	  /* the previous header is complete (this line is no continuation of it): its sites */
	  if (info && cur && sr == SIP_OK && sip_hdr_has_sites[cur->id])
	    sr = sip_sites_hdr (buf, cur, info);
	  cur = 0;
	  if (eol == line)
	    {
	      p = next; /* blank line: end of headers */
	      break;
	    }
	  const uint8_t *ne = sip_skip_class (line, eol, SIP_CC_TOKEN);
	  const uint8_t *colon = sip_skip_sp (ne, eol);
	  if (ne == line || colon >= eol || *colon != ':')
	    {
	      m->err_off = (uint16_t) (line - buf);
	      return SIP_ERR_HEADER;
	    }
	  if (m->n_hdrs >= m->max_hdrs)
	    {
	      m->err_off = (uint16_t) (line - buf);
	      return SIP_ERR_TOO_MANY_HEADERS;
	    }
	  cur = &hdrs[m->n_hdrs];
	  cur->name = sip_span (buf, line, ne);
	  /* 16 bytes readable at the name: compared as two words */
	  cur->id = (uint8_t) sip_hdr_find (line, (uint32_t) (ne - line), end - line >= 16);
	  cur->compact = ne - line == 1;
	  const uint8_t *vs = sip_skip_sp (colon + 1, eol);
	  cur->value = sip_span (buf, vs, sip_trim_right (vs, eol));
	  if (m->first[cur->id] == SIP_HDR_NONE)
	    m->first[cur->id] = m->n_hdrs;
	  else if (sip_hdr_single[cur->id])
	    {
	      m->err_off = (uint16_t) (line - buf);
	      return SIP_ERR_DUP_HEADER;
	    }
	  m->n_hdrs++;
	}
      p = next;
    }
  /* the last header before the end of the datagram (no blank line) */
  if (info && cur && sr == SIP_OK && sip_hdr_has_sites[cur->id])
    sr = sip_sites_hdr (buf, cur, info);

  for (unsigned i = 0; i < sizeof (sip_hdr_mandatory); i++)
    if (m->first[sip_hdr_mandatory[i]] == SIP_HDR_NONE)
      {
	m->err_off = m->start_off;
	return SIP_ERR_MISSING_HEADER;
      }

  for (uint16_t i = 0; i < m->n_hdrs; i++)
    if ((r = sip_check_value (buf, m, &hdrs[i])) != SIP_OK)
      return r;

  /* body framing */
  uint32_t avail = (uint32_t) (end - p);
  m->body_off = (uint16_t) (p - buf);
  if (m->content_length >= 0)
    {
      if ((uint32_t) m->content_length > avail)
	{
	  if (!is_stream)
	    {
	      m->err_off = m->clen_value.off;
	      return SIP_ERR_BODY_TRUNCATED;
	    }
	  if (m->body_off + (uint32_t) m->content_length > SIP_MAX_MSG_LEN)
	    return SIP_ERR_TOO_LONG;
	  return SIP_INCOMPLETE;
	}
      m->body_len = (uint16_t) m->content_length;
      if (!is_stream && avail > (uint32_t) m->content_length)
	m->lenient |= SIP_LENIENT_TRAILING;
    }
  else
    {
      if (is_stream)
	{
	  m->err_off = m->start_off;
	  return SIP_ERR_CONTENT_LENGTH; /* mandatory on streams, RFC 3261 18.3 */
	}
      m->body_len = (uint16_t) avail;
      m->lenient |= SIP_LENIENT_NO_CLEN;
    }
  m->msg_len = (uint16_t) (m->body_off + m->body_len);
  if (info)
    *sites_r = sr == SIP_OK ? sip_sites_body (buf, m, info) : sr;
  return SIP_OK;
}

sip_result_t
sip_msg_parse (const uint8_t *buf, uint32_t len, sip_parse_mode_t mode, sip_msg_t *m,
	       sip_hdr_t *hdrs, uint16_t max_hdrs)
{
  if (!buf || !m || (!hdrs && max_hdrs))
    return SIP_ERR_INVALID_ARG;
  return sip_msg_scan (buf, len, mode, m, hdrs, max_hdrs, 0, 0);
}

sip_result_t
sip_msg_read (const uint8_t *buf, uint32_t len, sip_parse_mode_t mode, sip_msg_t *m,
	      sip_hdr_t *hdrs, uint16_t max_hdrs, sip_info_t *info, sip_site_t *sites,
	      uint16_t max_sites, sip_result_t *sites_result)
{
  if (!buf || !m || (!hdrs && max_hdrs) || !info || (!sites && max_sites) || !sites_result)
    return SIP_ERR_INVALID_ARG;
  sip_sites_init (info, sites, max_sites);
  *sites_result = SIP_OK;
  return sip_msg_scan (buf, len, mode, m, hdrs, max_hdrs, info, sites_result);
}
