/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Core microbenchmark: parse (message + sites + SDP) and parse + rewrite (plan + apply) of a
 * ~500 B and a ~1400 B INVITE with SDP, hot in cache, one core.
 *
 *   core_bench                      time every case: ns and TSC cycles per message
 *   core_bench CASE OP ITERATIONS   run one case ITERATIONS times (for callgrind)
 *
 * CASE: small | large, OP: parse | rewrite.
 */

#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "sip_msg.h"
#include "sip_sites.h"
#include "sip_rewrite.h"

#define CRLF "\r\n"

static const char small_hdr[] =
  "INVITE sip:bob@198.51.100.2 SIP/2.0" CRLF
  "Via: SIP/2.0/UDP 192.168.1.1:2000;branch=z9hG4bK776asdhds;rport" CRLF
  "Max-Forwards: 70" CRLF
  "To: Bob <sip:bob@198.51.100.2>" CRLF
  "From: Alice <sip:alice@192.168.1.1:2000>;tag=1928301774" CRLF
  "Call-ID: a84b4c76e66710@192.168.1.1" CRLF
  "CSeq: 314159 INVITE" CRLF
  "Contact: <sip:alice@192.168.1.1:2000>" CRLF
  "Content-Type: application/sdp" CRLF;

static const char small_sdp[] = "v=0" CRLF "o=alice 2890844526 2890844526 IN IP4 192.168.1.1" CRLF
				"s=-" CRLF "c=IN IP4 192.168.1.1" CRLF "t=0 0" CRLF
				"m=audio 3000 RTP/AVP 0 8 101" CRLF "a=rtpmap:0 PCMU/8000" CRLF
				"a=rtpmap:101 telephone-event/8000" CRLF;

static const char large_hdr[] =
  "INVITE sip:+15551234567@198.51.100.2:5060;user=phone SIP/2.0" CRLF
  "Via: SIP/2.0/UDP 192.168.1.1:2000;branch=z9hG4bK-524287-1---b8d1c7e0a6a3f1c2;rport" CRLF
  "Max-Forwards: 70" CRLF
  "Contact: \"Alice Example\" <sip:alice@192.168.1.1:2000;transport=udp>;+sip.instance="
  "\"<urn:uuid:00000000-0000-1000-8000-0004f2a1b2c3>\"" CRLF
  "To: <sip:+15551234567@198.51.100.2:5060;user=phone>" CRLF
  "From: \"Alice Example\" <sip:alice@198.51.100.2:5060>;tag=7c2f4e1a" CRLF
  "Call-ID: YjQ2ZTM5ZTk3NmI1ZjA3OTE4ZDFkYWQ5ZWJlMjU3NzI@192.168.1.1" CRLF
  "CSeq: 2 INVITE" CRLF
  "Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE, UPDATE,"
  " PRACK" CRLF
  "Supported: replaces, norefersub, extended-refer, timer, outbound, path, X-cisco-serviceuri"
  CRLF "Session-Expires: 1800;refresher=uac" CRLF "Min-SE: 90" CRLF
  "P-Preferred-Identity: \"Alice Example\" <sip:alice@example.com>" CRLF
  "Content-Type: application/sdp" CRLF;

static const char large_sdp[] =
  "v=0" CRLF "o=- 3912345678 3912345679 IN IP4 192.168.1.1" CRLF "s=Example Softphone" CRLF
  "c=IN IP4 192.168.1.1" CRLF "b=AS:2064" CRLF "t=0 0" CRLF
  "m=audio 3000 RTP/AVP 9 8 0 18 101" CRLF "a=rtpmap:9 G722/8000" CRLF
  "a=rtpmap:8 PCMA/8000" CRLF "a=rtpmap:0 PCMU/8000" CRLF "a=rtpmap:18 G729/8000" CRLF
  "a=fmtp:18 annexb=no" CRLF "a=rtpmap:101 telephone-event/8000" CRLF "a=fmtp:101 0-16" CRLF
  "a=ptime:20" CRLF "a=sendrecv" CRLF "a=rtcp:3001" CRLF
  "m=video 3002 RTP/AVP 97 96" CRLF "b=TIAS:2000000" CRLF "a=rtpmap:97 H264/90000" CRLF
  "a=fmtp:97 profile-level-id=42801F;packetization-mode=1" CRLF "a=rtpmap:96 VP8/90000" CRLF
  "a=rtcp-fb:* nack pli" CRLF "a=rtcp-fb:* ccm fir" CRLF "a=sendrecv" CRLF;

typedef struct
{
  const char *name;
  uint8_t buf[2048];
  uint32_t len;
} bench_msg_t;

static void
build (bench_msg_t *b, const char *name, const char *hdr, const char *sdp)
{
  b->name = name;
  b->len = (uint32_t) snprintf ((char *) b->buf, sizeof (b->buf), "%sContent-Length: %zu\r\n\r\n%s",
				hdr, strlen (sdp), sdp);
}

static sip_hdr_t hdrs[64];
static sip_site_t sites[64];
static sip_edit_t edits[64];
static uint8_t out[4096];
static const sip_xlate_t xl[] = { { 0xc0a80101, 0xcb00710a, 2000, 2222 },
				  { 0xc0a80101, 0xcb00710a, 0, 0 } };
static const sip_media_xlate_t mx[] = { { 3333, 3334 }, { 3335, 3336 } };

static int
run_once (const bench_msg_t *b, int rewrite)
{
  sip_msg_t m;
  sip_info_t info;
  sip_plan_t plan;
  uint32_t out_len;
  if (sip_msg_parse (b->buf, b->len, SIP_PARSE_DATAGRAM, &m, hdrs, 64) != SIP_OK ||
      sip_sites_find (b->buf, &m, &info, sites, 64) != SIP_OK)
    return -1;
  if (!rewrite)
    return info.n_sites;
  sip_rewrite_cfg_t cfg = { xl, 2, mx, 2, SIP_SITE_MASK_ALL };
  if (sip_rewrite_plan (b->buf, &m, &info, &cfg, &plan, edits, 64) != SIP_OK ||
      sip_rewrite_apply (b->buf, m.msg_len, &plan, out, sizeof (out), &out_len) != SIP_OK)
    return -1;
  return (int) out_len;
}

static double
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int
main (int argc, char **argv)
{
  static bench_msg_t msgs[2];
  build (&msgs[0], "small", small_hdr, small_sdp);
  build (&msgs[1], "large", large_hdr, large_sdp);

  if (argc == 4)
    {
      const bench_msg_t *b = strcmp (argv[1], "large") == 0 ? &msgs[1] : &msgs[0];
      int rw = strcmp (argv[2], "rewrite") == 0;
      long n = atol (argv[3]);
      for (long i = 0; i < n; i++)
	if (run_once (b, rw) < 0)
	  return 1;
      return 0;
    }

  printf ("%-6s %6s %-14s %10s %10s %8s\n", "case", "bytes", "op", "ns/msg", "cycles/msg",
	  "sites");
  for (int c = 0; c < 2; c++)
    for (int rw = 0; rw < 2; rw++)
      {
	const bench_msg_t *b = &msgs[c];
	int sites_or_len = run_once (b, rw);
	if (sites_or_len < 0)
	  {
	    fprintf (stderr, "%s: message does not parse\n", b->name);
	    return 1;
	  }
	double best_ns = 1e18, best_cyc = 1e18;
	const long n = 200000;
	for (int trial = 0; trial < 7; trial++)
	  {
	    double t0 = now_ns ();
	    uint64_t c0 = __rdtsc ();
	    for (long i = 0; i < n; i++)
	      run_once (b, rw);
	    uint64_t c1 = __rdtsc ();
	    double t1 = now_ns ();
	    if ((t1 - t0) / n < best_ns)
	      best_ns = (t1 - t0) / n;
	    if ((double) (c1 - c0) / n < best_cyc)
	      best_cyc = (double) (c1 - c0) / n;
	  }
	printf ("%-6s %6u %-14s %10.1f %10.0f %8d\n", b->name, b->len,
		rw ? "parse+rewrite" : "parse", best_ns, best_cyc, rw ? -1 : sites_or_len);
      }
  return 0;
}
