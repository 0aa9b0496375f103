/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

#include <string.h>

#include "sip_msg.h"
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

sip_hdr_id_t
sip_hdr_lookup (const uint8_t *name, uint32_t len)
{
  if (len == 0)
    return SIP_HDR_OTHER;
  if (len == 1)
    {
      uint8_t c = sip_lower (name[0]);
      for (int id = 1; id < SIP_HDR_N_IDS; id++)
	if (sip_hdr_descs[id].compact == c)
	  return (sip_hdr_id_t) id;
      return SIP_HDR_OTHER;
    }
  /* candidates by first letter, then length and a case-insensitive compare */
  static const uint8_t cand[26][6] = {
    ['a' - 'a'] = { SIP_HDR_ALLOW_EVENTS },
    ['c' - 'a'] = { SIP_HDR_CALL_ID, SIP_HDR_CSEQ, SIP_HDR_CONTACT, SIP_HDR_CONTENT_LENGTH,
		    SIP_HDR_CONTENT_TYPE, SIP_HDR_CONTENT_ENCODING },
    ['d' - 'a'] = { SIP_HDR_DATE },
    ['e' - 'a'] = { SIP_HDR_EXPIRES, SIP_HDR_EVENT },
    ['f' - 'a'] = { SIP_HDR_FROM },
    ['m' - 'a'] = { SIP_HDR_MAX_FORWARDS },
    ['r' - 'a'] = { SIP_HDR_ROUTE, SIP_HDR_RECORD_ROUTE, SIP_HDR_REFER_TO },
    ['s' - 'a'] = { SIP_HDR_SUBJECT, SIP_HDR_SUPPORTED },
    ['t' - 'a'] = { SIP_HDR_TO },
    ['v' - 'a'] = { SIP_HDR_VIA },
  };
  uint8_t c = sip_lower (name[0]);
  if (c < 'a' || c > 'z')
    return SIP_HDR_OTHER;
  for (int i = 0; i < 6 && cand[c - 'a'][i]; i++)
    if (sip_hdr_is (name, len, (sip_hdr_id_t) cand[c - 'a'][i]))
      return (sip_hdr_id_t) cand[c - 'a'][i];
  return SIP_HDR_OTHER;
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
  for (int m = SIP_METHOD_NONE + 1; m < SIP_METHOD_OTHER; m++)
    {
      const char *n = sip_method_names[m];
      if (strlen (n) == len && memcmp (tok, n, len) == 0)
	return (sip_method_t) m;
    }
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
sip_parse_request_uri (const uint8_t *p, const uint8_t *end)
{
  const uint8_t *colon = sip_uri_scheme_end (p, end);
  if (!colon || colon + 1 >= end)
    return SIP_ERR_REQUEST_URI;
  for (const uint8_t *q = p; q < end; q++)
    if (!sip_is (*q, SIP_CC_URIC | SIP_CC_TOKEN))
      return SIP_ERR_REQUEST_URI;
  if ((colon - p == 3 && sip_ieq (p, "sip", 3)) || (colon - p == 4 && sip_ieq (p, "sips", 4)))
    {
      /* RFC 3261 19.1.1: no headers component in a Request-URI. The user part may
       * contain '?', so only look after the '@' (or after the scheme without one). */
      const uint8_t *host = memchr (colon, '@', (size_t) (end - colon));
      host = host ? host + 1 : colon + 1;
      if (host >= end || memchr (host, '?', (size_t) (end - host)))
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
      const uint8_t *sp = memchr (p, ' ', (size_t) (end - p));
      sip_result_t r;
      uint64_t code;
      if (!sp)
	return SIP_ERR_START_LINE;
      if ((r = sip_check_version (p, sp)) != SIP_OK)
	return r;
      p = sp + 1;
      sp = memchr (p, ' ', (size_t) (end - p));
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
  q = memchr (p, ' ', (size_t) (end - p));
  if (!q || q == p)
    return SIP_ERR_START_LINE;
  sip_result_t r = sip_parse_request_uri (p, q);
  if (r != SIP_OK)
    return r;
  m->ruri = sip_span (base, p, q);

  p = q + 1;
  if (memchr (p, ' ', (size_t) (end - p)) || memchr (p, '\t', (size_t) (end - p)))
    return SIP_ERR_START_LINE;
  return sip_check_version (p, end);
}

/* Values of the few headers the core checks while framing. */
static sip_result_t
sip_check_header_values (const uint8_t *base, sip_msg_t *m)
{
  for (uint16_t i = 0; i < m->n_hdrs; i++)
    {
      const sip_hdr_t *h = &m->hdrs[i];
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
	    const uint8_t *q = v;
	    while (q < ve && *q > ' ' && *q < 0x7f)
	      q++;
	    if (q == v || q != ve)
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

sip_result_t
sip_msg_parse (const uint8_t *buf, uint32_t len, sip_parse_mode_t mode, sip_msg_t *m,
	       sip_hdr_t *hdrs, uint16_t max_hdrs)
{
  const uint8_t *p = buf, *end, *line, *eol, *next;
  sip_hdr_t *cur = 0;
  sip_result_t r;
  int is_stream = mode == SIP_PARSE_STREAM;

  if (!buf || !m || (!hdrs && max_hdrs))
    return SIP_ERR_INVALID_ARG;

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
      const uint8_t *lf = memchr (p, '\n', scan);
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
	}
      else if (eol == line)
	{
	  p = next; /* blank line: end of headers */
	  break;
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
	  cur->id = (uint8_t) sip_hdr_lookup (line, (uint32_t) (ne - line));
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

  for (unsigned i = 0; i < sizeof (sip_hdr_mandatory); i++)
    if (m->first[sip_hdr_mandatory[i]] == SIP_HDR_NONE)
      {
	m->err_off = m->start_off;
	return SIP_ERR_MISSING_HEADER;
      }

  if ((r = sip_check_header_values (buf, m)) != SIP_OK)
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
  return SIP_OK;
}
