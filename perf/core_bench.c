/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Core microbenchmark: the stages of an INVITE with SDP through the core, hot in cache, one
 * core. Three messages: "pg", the 461 B INVITE perf/pg_bench.py replays through VPP (so the
 * node's clocks can be set against the core's), a ~540 B and a ~1400 B one. Stages:
 *   parse    sip_msg_parse alone: the line indexer, header names and the framing checks
 *   read     sip_msg_read: message, header sites and SDP in one pass
 *   plan     sip_rewrite_plan of the read message (in2out: the sender's address public)
 *   apply    sip_rewrite_apply of that plan
 *   all      the three in a row: what sip-alg-post asks of the core per INVITE
 *   2-pass   sip_msg_parse then sip_sites_find (the same result as read, in two passes)
 *
 *   core_bench                      every case and stage: ns, TSC cycles, and user-space
 *                                   instructions per message and per byte (perf_event_open;
 *                                   "n/a" and why when the counter cannot be opened)
 *   core_bench CASE STAGE N         one case and stage N times (for callgrind)
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include <x86intrin.h>

#include "sip_msg.h"
#include "sip_sites.h"
#include "sip_rewrite.h"

#define CRLF "\r\n"

/* tests/vpp/sipmsgs.py invite(a_port=20000, rtp=30000), call 5: pg_bench's INVITE */
static const char pg_hdr[] = "INVITE sip:bob@198.51.100.1 SIP/2.0" CRLF
			     "Via: SIP/2.0/UDP 192.168.1.1:20000;branch=z9hG4bK-1;rport" CRLF
			     "Max-Forwards: 70" CRLF
			     "From: \"A\" <sip:alice@192.168.1.1:20000>;tag=a1" CRLF
			     "To: <sip:bob@198.51.100.1>" CRLF "Call-ID: call-5@192.168.1.1" CRLF
			     "CSeq: 1 INVITE" CRLF "Contact: <sip:alice@192.168.1.1:20000>" CRLF
			     "Content-Type: application/sdp" CRLF;

static const char pg_sdp[] = "v=0" CRLF "o=- 2890844526 2890844526 IN IP4 192.168.1.1" CRLF
			     "s=-" CRLF "c=IN IP4 192.168.1.1" CRLF "t=0 0" CRLF
			     "m=audio 30000 RTP/AVP 0" CRLF "a=rtpmap:0 PCMU/8000" CRLF;

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

enum
{
  ST_PARSE,
  ST_READ,
  ST_PLAN,
  ST_APPLY,
  ST_ALL,
  ST_2PASS,
  ST_N
};
static const char *const stage_names[ST_N] = { "parse", "read", "plan", "apply", "all", "2-pass" };

static sip_hdr_t hdrs[64];
static sip_site_t sites[64];
static sip_edit_t edits[64];
static uint8_t out[4096];
/* what sip-alg-post gives the core for an INVITE from inside: the sender's signaling address
   and its address alone to the public ones, each media a new port pair */
static const sip_xlate_t xl[] = { { 0xc0a80101, 0xcb00710a, 20000, 20000 },
				  { 0xc0a80101, 0xcb00710a, 0, 0 } };
static const sip_media_xlate_t mx[] = { { 40000, 40001 }, { 40002, 40003 } };

/* the read message, plan and output of the last run (the stages after read start there) */
static sip_msg_t m;
static sip_info_t info;
static sip_plan_t plan;
static uint32_t out_len;

static int
run_once (const bench_msg_t *b, int stage)
{
  sip_result_t sr;
  sip_rewrite_cfg_t cfg = { .xlate = xl, .n_xlate = 2, .media = mx, .n_media = 2,
			    .site_mask = SIP_SITE_MASK_ALL };
  switch (stage)
    {
    case ST_PARSE:
      return sip_msg_parse (b->buf, b->len, SIP_PARSE_DATAGRAM, &m, hdrs, 64) == SIP_OK ?
	       m.n_hdrs :
	       -1;
    case ST_2PASS:
      return sip_msg_parse (b->buf, b->len, SIP_PARSE_DATAGRAM, &m, hdrs, 64) == SIP_OK &&
		 sip_sites_find (b->buf, &m, &info, sites, 64) == SIP_OK ?
	       info.n_sites :
	       -1;
    case ST_READ:
      return sip_msg_read (b->buf, b->len, SIP_PARSE_DATAGRAM, &m, hdrs, 64, &info, sites, 64,
			   &sr) == SIP_OK &&
		 sr == SIP_OK ?
	       info.n_sites :
	       -1;
    case ST_PLAN:
      return sip_rewrite_plan (b->buf, &m, &info, &cfg, &plan, edits, 64) == SIP_OK ?
	       plan.n_edits :
	       -1;
    case ST_APPLY:
      return sip_rewrite_apply (b->buf, m.msg_len, &plan, out, sizeof (out), &out_len) ==
		 SIP_OK ?
	       (int) out_len :
	       -1;
    default:
      if (run_once (b, ST_READ) < 0 || run_once (b, ST_PLAN) < 0)
	return -1;
      return run_once (b, ST_APPLY);
    }
}

static double
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* A counter of this thread's user-space instructions, or -1 (errno says why). */
static int
instr_counter (void)
{
  struct perf_event_attr a;
  memset (&a, 0, sizeof (a));
  a.type = PERF_TYPE_HARDWARE;
  a.size = sizeof (a);
  a.config = PERF_COUNT_HW_INSTRUCTIONS;
  a.disabled = 1;
  a.exclude_kernel = 1;
  a.exclude_hv = 1;
  return (int) syscall (SYS_perf_event_open, &a, 0, -1, -1, 0);
}

static uint64_t
counter_read (int fd)
{
  uint64_t v = 0;
  if (fd < 0 || read (fd, &v, sizeof (v)) != sizeof (v))
    return 0;
  return v;
}

int
main (int argc, char **argv)
{
  static bench_msg_t msgs[3];
  build (&msgs[0], "pg", pg_hdr, pg_sdp);
  build (&msgs[1], "small", small_hdr, small_sdp);
  build (&msgs[2], "large", large_hdr, large_sdp);

  if (argc == 4)
    {
      const bench_msg_t *b = 0;
      int stage = -1;
      for (int c = 0; c < 3; c++)
	if (!strcmp (argv[1], msgs[c].name))
	  b = &msgs[c];
      for (int s = 0; s < ST_N; s++)
	if (!strcmp (argv[2], stage_names[s]))
	  stage = s;
      if (!b || stage < 0)
	{
	  fprintf (stderr, "usage: %s pg|small|large parse|read|plan|apply|all|2-pass N\n",
		   argv[0]);
	  return 2;
	}
      long n = atol (argv[3]);
      if (run_once (b, ST_ALL) < 0) /* the stages after read start from its result */
	return 1;
      for (long i = 0; i < n; i++)
	if (run_once (b, stage) < 0)
	  return 1;
      return 0;
    }

  int fd = instr_counter ();
  int err = fd < 0 ? errno : 0;
  printf ("%-6s %6s %-7s %9s %11s %10s %11s\n", "case", "bytes", "stage", "ns/msg",
	  "cycles/msg", "instr/msg", "instr/byte");
  for (int c = 0; c < 3; c++)
    for (int stage = 0; stage < ST_N; stage++)
      {
	const bench_msg_t *b = &msgs[c];
	if (run_once (b, ST_ALL) < 0)
	  {
	    fprintf (stderr, "%s: message does not parse or rewrite\n", b->name);
	    return 1;
	  }
	double best_ns = 1e18, best_cyc = 1e18;
	uint64_t best_ins = ~0ull;
	/* the best of many short runs: one that no other process interrupted */
	const long n = 20000;
	for (int trial = 0; trial < 31; trial++)
	  {
	    if (fd >= 0)
	      {
		ioctl (fd, PERF_EVENT_IOC_RESET, 0);
		ioctl (fd, PERF_EVENT_IOC_ENABLE, 0);
	      }
	    double t0 = now_ns ();
	    uint64_t c0 = __rdtsc ();
	    for (long i = 0; i < n; i++)
	      run_once (b, stage);
	    uint64_t c1 = __rdtsc ();
	    double t1 = now_ns ();
	    if (fd >= 0)
	      ioctl (fd, PERF_EVENT_IOC_DISABLE, 0);
	    uint64_t ins = counter_read (fd);
	    if ((t1 - t0) / n < best_ns)
	      best_ns = (t1 - t0) / n;
	    if ((double) (c1 - c0) / n < best_cyc)
	      best_cyc = (double) (c1 - c0) / n;
	    if (ins < best_ins)
	      best_ins = ins;
	  }
	char ins_msg[32], ins_byte[32];
	if (fd >= 0)
	  {
	    snprintf (ins_msg, sizeof (ins_msg), "%.0f", (double) best_ins / n);
	    snprintf (ins_byte, sizeof (ins_byte), "%.2f", (double) best_ins / n / b->len);
	  }
	else
	  {
	    snprintf (ins_msg, sizeof (ins_msg), "n/a");
	    snprintf (ins_byte, sizeof (ins_byte), "n/a");
	  }
	printf ("%-6s %6u %-7s %9.1f %11.0f %10s %11s\n", b->name, b->len, stage_names[stage],
		best_ns, best_cyc, ins_msg, ins_byte);
      }
  if (fd < 0)
    printf ("instructions: n/a, perf_event_open (user-space instructions) failed: %s%s\n",
	    strerror (err),
	    err == ENOENT || err == EOPNOTSUPP ?
	      " (no hardware instruction counter: a VM without a virtual PMU?)" :
	    err == EACCES || err == EPERM ? " (see /proc/sys/kernel/perf_event_paranoid)" :
					    "");
  return 0;
}
