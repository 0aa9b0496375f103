/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Robustness driver for the SIP/SDP core, built plain and under ASan+UBSan.
 *
 * Every file under the given directories is fed to the parser, site finder, planner and
 * applier with its input placed at the end of a page followed by a PROT_NONE guard page
 * (an over-read faults), in datagram mode and, prefix by prefix, in stream mode. The output
 * buffer sits against a guard page too, with exactly the capacity the plan asks for, and
 * once with one byte less (must be refused with nothing written).
 * Invariants checked: spans inside the input, edits ordered, stream prefixes never yield a
 * message longer than the prefix, rewrite length == input length + delta, the output is the
 * input with exactly the planned edits, a message with a translatable IPv4 site comes out
 * changed, every IPv4 media stream gets its new port, and the call machine takes the same
 * message again (from either side) without a change of state, as it takes a stale one, and
 * the one-pass sip_msg_read gives exactly what sip_msg_parse and sip_sites_find give.
 * The run fails unless at least --min-rewritten=N messages (default MIN_REWRITTEN, what
 * the repository's corpus gives) were actually rewritten.
 */

#define _DEFAULT_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sip_msg.h"
#include "sip_sites.h"
#include "sip_rewrite.h"
#include "sip_call.h"
#include "sip_scan.h"
#include "plan_check.h"

/* Messages of tests/fuzz/{corpus,found} the driver rewrites: of the 1,060 files, 186 parse,
 * pass the site finder and carry an IPv4 host, and all 186 are rewritten. Adding to the
 * corpus can only raise the count; a rewriter that silently does nothing fails the run. */
#define MIN_REWRITTEN 186

static int n_files, n_fail, n_rewritten;
static long page;

#define CHECK_(c, ret, ...)                                                                   \
  do                                                                                          \
    {                                                                                         \
      if (!(c))                                                                               \
	{                                                                                     \
	  fprintf (stderr, "FAIL %s:%d %s: ", __FILE__, __LINE__, cur_name);                  \
	  fprintf (stderr, __VA_ARGS__);                                                      \
	  fputc ('\n', stderr);                                                               \
	  n_fail++;                                                                           \
	  return ret;                                                                         \
	}                                                                                     \
    }                                                                                         \
  while (0)
#define CHECK(c, ...)	  CHECK_ (c, , __VA_ARGS__)
#define CHECK_RET(c, ...) CHECK_ (c, 0, __VA_ARGS__)

static const char *cur_name = "";

/* A buffer of len bytes that ends exactly at a PROT_NONE page. */
typedef struct
{
  uint8_t *map;
  size_t map_len;
  uint8_t *p;
} guarded_t;

static void
guarded_alloc (guarded_t *g, size_t len)
{
  size_t pages = (len + (size_t) page - 1) / (size_t) page + 1;
  g->map_len = pages * (size_t) page;
  g->map = mmap (0, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (g->map == MAP_FAILED)
    {
      perror ("mmap");
      exit (2);
    }
  if (mprotect (g->map + g->map_len - (size_t) page, (size_t) page, PROT_NONE))
    {
      perror ("mprotect");
      exit (2);
    }
  g->p = g->map + g->map_len - (size_t) page - len;
}

static void
guarded_free (guarded_t *g)
{
  munmap (g->map, g->map_len);
}

static void
check_spans (const sip_msg_t *m, const sip_info_t *info, uint32_t len)
{
  for (int i = 0; i < m->n_hdrs; i++)
    {
      CHECK (m->hdrs[i].name.off + m->hdrs[i].name.len <= len, "header %d name out of range", i);
      CHECK (m->hdrs[i].value.off + m->hdrs[i].value.len <= len, "header %d value out of range",
	     i);
    }
  CHECK (m->msg_len <= len, "msg_len %u > len %u", m->msg_len, len);
  CHECK (m->body_off + m->body_len == m->msg_len, "body framing");
  if (!info)
    return;
  for (int i = 0; i < info->n_sites; i++)
    {
      const sip_site_t *s = &info->sites[i];
      CHECK (s->host.off + s->host.len <= m->msg_len, "site %d host out of range", i);
      CHECK (s->port.off + s->port.len <= m->msg_len, "site %d port out of range", i);
      if (i)
	CHECK (s->host.off >= info->sites[i - 1].host.off, "sites out of order at %d", i);
    }
}

/* out[0..out_len) is in[0..len) with exactly the plan's edits applied, each one a change. */
static int
check_applied (const uint8_t *in, uint32_t len, const sip_plan_t *plan, const uint8_t *out,
	       uint32_t out_len)
{
  for (int i = 0; i < plan->n_edits; i++)
    {
      const sip_edit_t *e = &plan->edits[i];
      CHECK_RET (e->new_len != e->old_len || memcmp (in + e->off, e->text, e->new_len),
		 "edit %d changes nothing", i);
    }
  int edit;
  const char *why = plan_check_applied (in, len, plan, out, out_len, &edit);
  CHECK_RET (!why, "%s (edit %d)", why, edit);
  return 1;
}

static void
run_rewrite (const uint8_t *in, const sip_msg_t *m, const sip_info_t *info)
{
  sip_xlate_t xl[2];
  sip_media_xlate_t mx[SIP_SDP_MAX_MEDIA];
  sip_edit_t edits[128];
  sip_plan_t plan;
  uint32_t n_xl = 0, out_len = 0;
  int must_change = 0;

  /* translate the first IPv4 host and every media port: forces growth and shrink */
  for (int i = 0; i < info->n_sites && n_xl == 0; i++)
    if (info->sites[i].host_type == SIP_HOST_IP4 && info->sites[i].host.len)
      {
	xl[0] = (sip_xlate_t){ info->sites[i].ip4, 0xcb00710a /* 203.0.113.10 */,
			       info->sites[i].value, 65535 };
	xl[1] = (sip_xlate_t){ info->sites[i].ip4, 0x01020304, 0, 1 };
	n_xl = 2;
	/* that site matches xl[0] (by address, or address and its own port): it changes
	 * unless it already reads 203.0.113.10 */
	must_change = info->sites[i].ip4 != 0xcb00710a;
      }
  for (int i = 0; i < SIP_SDP_MAX_MEDIA; i++)
    mx[i] = (sip_media_xlate_t){ (uint16_t) (10000 + 2 * i), (uint16_t) (10001 + 2 * i) };
  sip_rewrite_cfg_t cfg = { .xlate = xl, .n_xlate = n_xl, .media = mx,
			    .n_media = SIP_SDP_MAX_MEDIA, .site_mask = SIP_SITE_MASK_ALL };

  sip_result_t r = sip_rewrite_plan (in, m, info, &cfg, &plan, edits, 128);
  if (r != SIP_OK)
    return;
  CHECK (!must_change || plan.n_edits > 0, "translatable site, but no edit planned");
  for (int i = 1; i < plan.n_edits; i++)
    CHECK (edits[i].off >= edits[i - 1].off + edits[i - 1].old_len, "edits overlap at %d", i);

  uint32_t need = (uint32_t) ((int32_t) m->msg_len + plan.delta);
  guarded_t out;
  guarded_alloc (&out, need + 1);
  /* one byte short: refused, nothing written */
  memset (out.p, 0xa5, need + 1);
  if (need > 0)
    {
      r = sip_rewrite_apply (in, m->msg_len, &plan, out.p + 1, need - 1, &out_len);
      CHECK (r == SIP_ERR_NO_SPACE, "short buffer accepted: %s", sip_result_name (r));
      for (uint32_t i = 0; i < need + 1; i++)
	CHECK (out.p[i] == 0xa5, "short buffer written at %u", i);
    }
  r = sip_rewrite_apply (in, m->msg_len, &plan, out.p + 1, need, &out_len);
  CHECK (r == SIP_OK, "apply: %s", sip_result_name (r));
  CHECK (out_len == need, "out_len %u != %u", out_len, need);
  CHECK (out.p[0] == 0xa5, "written before the output buffer");
  if (!check_applied (in, m->msg_len, &plan, out.p + 1, out_len))
    return;
  if (out_len != m->msg_len || memcmp (out.p + 1, in, out_len))
    n_rewritten++;
  else
    CHECK (plan.n_edits == 0, "%u edits planned, output unchanged", plan.n_edits);

  /* the rewritten message parses again, with the same number of headers */
  if (!(m->lenient & SIP_LENIENT_NO_CLEN))
    {
      sip_hdr_t h2[128];
      sip_msg_t m2;
      r = sip_msg_parse (out.p + 1, out_len, SIP_PARSE_DATAGRAM, &m2, h2, 128);
      CHECK (r == SIP_OK, "rewritten message does not parse: %s", sip_result_name (r));
      CHECK (m2.n_hdrs == m->n_hdrs, "header count changed");
      /* and every IPv4 media stream carries its new port (a disabled one keeps 0) */
      if (info->body_kind == SIP_BODY_SDP)
	{
	  sip_site_t s2[128];
	  sip_info_t i2;
	  r = sip_sites_find (out.p + 1, &m2, &i2, s2, 128);
	  CHECK (r == SIP_OK, "rewritten message: sites %s", sip_result_name (r));
	  CHECK (i2.sdp.n_media == info->sdp.n_media, "media count changed");
	  for (int i = 0; i < info->sdp.n_media; i++)
	    {
	      const sip_sdp_media_t *md = &info->sdp.media[i];
	      uint16_t want = md->port && md->addr_type == SIP_HOST_IP4 ? mx[i].rtp_port : md->port;
	      CHECK (i2.sdp.media[i].port == want, "media %d port %u, not %u", i,
		     i2.sdp.media[i].port, want);
	    }
	}
    }
  guarded_free (&out);
}

/*
 * The one-pass sip_msg_read of buf[0..len) gives what sip_msg_parse (result r, message m)
 * and, when that parsed, sip_sites_find (result sr, info) gave: the same result, message,
 * headers, and then the same sites result, info and sites.
 */
static void
check_read (const uint8_t *buf, uint32_t len, sip_parse_mode_t mode, sip_result_t r,
	    const sip_msg_t *m, sip_result_t sr, const sip_info_t *info)
{
  sip_hdr_t hdrs[128];
  sip_site_t sites[128];
  sip_msg_t m2;
  sip_info_t i2;
  sip_result_t sr2 = SIP_N_RESULTS;
  memset (&i2, 0, sizeof (i2)); /* as info: media[] past n_media is the caller's */
  sip_result_t r2 = sip_msg_read (buf, len, mode, &m2, hdrs, 128, &i2, sites, 128, &sr2);
  CHECK (r2 == r, "sip_msg_read %s, sip_msg_parse %s (mode %d, %u bytes)", sip_result_name (r2),
	 sip_result_name (r), mode, len);
  CHECK (m2.hdrs == hdrs, "message's header array");
  m2.hdrs = m->hdrs;
  CHECK (!memcmp (&m2, m, sizeof (m2)), "message differs (mode %d, %u bytes)", mode, len);
  CHECK (!memcmp (hdrs, m->hdrs, m->n_hdrs * sizeof (hdrs[0])), "headers differ");
  if (r != SIP_OK || !info)
    return;
  CHECK (sr2 == sr, "sip_msg_read's sites %s, sip_sites_find %s (mode %d, %u bytes)",
	 sip_result_name (sr2), sip_result_name (sr), mode, len);
  CHECK (i2.sites == sites, "info's site array");
  i2.sites = info->sites;
  CHECK (!memcmp (&i2, info, sizeof (i2)), "info differs (mode %d, %u bytes)", mode, len);
  CHECK (!memcmp (sites, info->sites, info->n_sites * sizeof (sites[0])), "sites differ");
}

static void
run_one (const uint8_t *data, uint32_t len)
{
  sip_hdr_t hdrs[128];
  sip_site_t sites[128];
  sip_msg_t m;
  sip_info_t info;
  sip_result_t r;
  guarded_t g;

  guarded_alloc (&g, len);
  memcpy (g.p, data, len);
  memset (&info, 0, sizeof (info));

  r = sip_msg_parse (g.p, len, SIP_PARSE_DATAGRAM, &m, hdrs, 128);
  if (r != SIP_OK)
    check_read (g.p, len, SIP_PARSE_DATAGRAM, r, &m, SIP_OK, 0);
  if (r == SIP_OK)
    {
      check_spans (&m, 0, len);
      r = sip_sites_find (g.p, &m, &info, sites, 128);
      check_read (g.p, len, SIP_PARSE_DATAGRAM, SIP_OK, &m, r, &info);
      if (r == SIP_OK)
	{
	  check_spans (&m, &info, len);
	  run_rewrite (g.p, &m, &info);
	  sip_call_event_t ev;
	  sip_call_event_from_msg (&m, info.body_kind == SIP_BODY_SDP, info.contact_expires, &ev);
	  for (ev.client_side = 0; ev.client_side < 2; ev.client_side++)
	    {
	      /* from a fresh record and from the state the message left: the same message
		 again changes no state (duplicates are idempotent), nor does a stale one */
	      sip_call_fsm_t f = { 0 }, once, again;
	      sip_call_result_t res = sip_call_step (&f, &ev, &once);
	      CHECK (once.state < SIP_CALL_N_STATES, "bad state");
	      CHECK (!(res.actions & SIP_ACT_STALE) || !memcmp (&f, &once, sizeof (f)),
		     "a stale message changed the state");
	      res = sip_call_step (&once, &ev, &again);
	      CHECK (!memcmp (&once, &again, sizeof (once)), "the message again changed the state");
	      CHECK (!(res.actions & (SIP_ACT_OPEN_SIGNAL | SIP_ACT_CLOSE_MEDIA | SIP_ACT_CLOSE_CALL)),
		     "the message again opened or closed something: %#x", res.actions);
	    }
	}
    }
  guarded_free (&g);

  /* stream mode: every prefix is incomplete, an error, or a message within the prefix */
  uint32_t step = len > 2048 ? 7 : 1;
  for (uint32_t k = 0; k <= len; k += step)
    {
      guarded_alloc (&g, k);
      memcpy (g.p, data, k);
      r = sip_msg_parse (g.p, k, SIP_PARSE_STREAM, &m, hdrs, 128);
      if (r != SIP_OK)
	check_read (g.p, k, SIP_PARSE_STREAM, r, &m, SIP_OK, 0);
      if (r == SIP_OK)
	{
	  check_spans (&m, 0, k);
	  sip_result_t sr = sip_sites_find (g.p, &m, &info, sites, 128);
	  check_read (g.p, k, SIP_PARSE_STREAM, SIP_OK, &m, sr, &info);
	  if (sr == SIP_OK)
	    check_spans (&m, &info, k);
	}
      guarded_free (&g);
    }
}

/*
 * The scans of sip_scan.h (vector ones with SSE2, byte loops with SIP_NO_SIMD: the driver is
 * built both ways) against a plain byte loop over the same bytes: every byte value at every
 * position of scans of 0 to 48 bytes, placed at the start of a 64-byte buffer, inside it and
 * against its end (a guard page behind), with bytes before and after the scan that would
 * change the answer if they were read as part of it.
 */
static int n_scan_checks;

static void
check_scan_at (const uint8_t *buf, const uint8_t *p, const uint8_t *end)
{
  const uint8_t *want, *got, *at_want = 0, *at_got;
  int ok_want = 1;
  cur_name = "sip_scan.h";
  for (int t = 0; t < 3; t++)
    {
      uint8_t c = t == 0 ? '\n' : t == 1 ? ':' : '@';
      for (want = p; want < end && *want != c; want++)
	;
      got = sip_find (p, end, c);
      CHECK (got == (want < end ? want : 0), "sip_find %#x: %td, want %td (%td bytes)", c,
	     got ? got - p : -1, want < end ? want - p : -1, end - p);
    }
  for (want = p; want < end && *want > ' ' && *want < 0x7f; want++)
    ;
  got = sip_skip_visible (buf, p, end);
  CHECK (got == want, "sip_skip_visible: %td, want %td (%td bytes)", got - p, want - p, end - p);
  for (const uint8_t *q = p; q < end; q++)
    {
      if (!(sip_char_class[*q] & (SIP_CC_URIC | SIP_CC_TOKEN)))
	ok_want = 0;
      if (*q == '@' && !at_want)
	at_want = q;
    }
  int ok = sip_uri_chars (buf, p, end, &at_got);
  CHECK (ok == ok_want, "sip_uri_chars %d, want %d (%td bytes)", ok, ok_want, end - p);
  CHECK (!ok || at_got == at_want, "sip_uri_chars '@' at %td, want %td", at_got ? at_got - p : -1,
	 at_want ? at_want - p : -1);
  n_scan_checks++;
}

static void
check_scans (void)
{
  guarded_t g;
  guarded_alloc (&g, 64);
  for (int len = 0; len <= 48; len++)
    for (int where = 0; where < 3; where++)
      {
	uint32_t start = where == 0 ? 0 : where == 1 ? 7 : (uint32_t) (64 - len);
	uint8_t *p = g.p + start, *end = p + len;
	for (int pos = -1; pos < len; pos++)
	  for (int c = 0; c < 256; c++)
	    {
	      /* outside the scan: what each scan would stop at; inside: a URI byte, and c */
	      memset (g.p, '\n', 64);
	      for (uint32_t i = 0; i < start; i++)
		g.p[i] = "@: \x7f"[i % 4];
	      memset (p, 'a', (size_t) len);
	      if (pos >= 0)
		p[pos] = (uint8_t) c;
	      if (pos >= 0 && pos + 3 < len)
		p[pos + 3] = '@'; /* a second one after c (c may be the first) */
	      check_scan_at (g.p, p, end);
	      if (pos < 0)
		break; /* c is not placed: one run */
	    }
      }
  guarded_free (&g);
}

static void
run_file (const char *path)
{
  FILE *f = fopen (path, "rb");
  static uint8_t buf[70000];
  if (!f)
    {
      perror (path);
      n_fail++;
      return;
    }
  size_t n = fread (buf, 1, sizeof (buf), f);
  fclose (f);
  cur_name = path;
  n_files++;
  run_one (buf, (uint32_t) n);
}

static void
run_dir (const char *dir)
{
  struct dirent **ents;
  int n = scandir (dir, &ents, 0, alphasort);
  if (n < 0)
    {
      perror (dir);
      n_fail++;
      return;
    }
  for (int i = 0; i < n; i++)
    {
      char path[4096];
      struct stat st;
      if (ents[i]->d_name[0] == '.')
	{
	  free (ents[i]);
	  continue;
	}
      snprintf (path, sizeof (path), "%s/%s", dir, ents[i]->d_name);
      free (ents[i]);
      if (stat (path, &st) != 0)
	{
	  /* a dangling link or a file gone since scandir: a corpus file not run */
	  perror (path);
	  n_fail++;
	}
      else if (S_ISDIR (st.st_mode))
	run_dir (path);
      else if (S_ISREG (st.st_mode))
	run_file (path);
    }
  free (ents);
}

int
main (int argc, char **argv)
{
  int argi = 1, min_rewritten = MIN_REWRITTEN;
  page = sysconf (_SC_PAGESIZE);
  if (argi < argc && !strncmp (argv[argi], "--min-rewritten=", 16))
    min_rewritten = atoi (argv[argi++] + 16);
  if (argi >= argc)
    {
      fprintf (stderr, "usage: %s [--min-rewritten=N] DIR...\n", argv[0]);
      return 2;
    }
  check_scans ();
  int scan_fail = n_fail;
  for (; argi < argc; argi++)
    run_dir (argv[argi]);
  /* the plain closing line CI reads */
  printf ("robustness: %d passed, %d failed; %d of %d messages rewritten (at least %d expected); "
	  "%d scans checked, %d failed (%s)\n",
	  n_files - (n_fail - scan_fail), n_fail - scan_fail, n_rewritten, n_files, min_rewritten,
	  n_scan_checks, scan_fail,
#ifdef SIP_SSE2
	  "SSE2"
#else
	  "byte loops"
#endif
  );
  if (n_rewritten < min_rewritten)
    fprintf (stderr, "FAIL: %d messages rewritten, fewer than %d\n", n_rewritten,
	     min_rewritten);
  return n_fail || !n_files || n_rewritten < min_rewritten ? 1 : 0;
}
