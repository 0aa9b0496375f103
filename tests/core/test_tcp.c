/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Host tests of the SIP over TCP stream engine (core/sip_tcp.[ch]), built plain and under
 * ASan+UBSan (make test-c, make sanitize).
 *
 * The host's part is played by a scripted message callback: each message it is handed is
 * logged, and it answers with the verdict the test sets (pass, rewrite by a few bytes,
 * cut, hold). Checked: framing across segments (the start of an incomplete message kept,
 * the segment that completes it sends the whole), several messages and keep-alives in one
 * segment, the sequence number corrections a rewrite or a cut leaves (ACK and SACK edges
 * mapped back, the oldest correction folded into the base), retransmissions (of the last
 * unit, of bytes still kept, of older bytes), a gap, a stream picked up mid-way, the
 * framing lost (a parse error, an incomplete message over the limit), SYN (MSS, a new
 * connection on closing endpoints), FIN and RST, the segment size; then every split of a
 * stream of messages into two and three segments gives the same bytes out, and the same
 * messages in, as the stream whole.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip_tcp.h"

static int n_checks, n_fail;
static const char *cur = "";

#define CHECK(c, ...)                                                                          \
  do                                                                                          \
    {                                                                                         \
      n_checks++;                                                                             \
      if (!(c))                                                                               \
	{                                                                                     \
	  fprintf (stderr, "FAIL %s:%d %s: %s: ", __FILE__, __LINE__, cur, #c);               \
	  fprintf (stderr, "- " __VA_ARGS__);                                                 \
	  fputc ('\n', stderr);                                                               \
	  n_fail++;                                                                           \
	}                                                                                     \
    }                                                                                         \
  while (0)

/* --- the host: memory and a scripted message callback -------------------------------- */

static long n_blocks;  /* live blocks the engine holds */
static long n_resizes; /* calls of the host's resize */

static void *
t_resize (void *p, size_t size)
{
  void *q = realloc (p, size);
  if (!q)
    {
      perror ("realloc");
      exit (2);
    }
  n_blocks += !p;
  n_resizes++;
  return q;
}

static void
t_release (void *p)
{
  n_blocks -= p != 0;
  free (p);
}

static const sip_tcp_mem_t mem = { t_resize, t_release };

#define MAX_LOG 64

typedef struct
{
  uint32_t verdict[MAX_LOG]; /* per message: SIP_TCP_MSG_*; grow[] bytes added with SEND */
  uint32_t grow[MAX_LOG];
  uint32_t n;		       /* messages handed over */
  uint32_t len[MAX_LOG];       /* ... their lengths */
  uint8_t seen[4096];	       /* ... their bytes, one after the other */
  uint32_t seen_len;
  uint8_t out[2048];	       /* a rewritten message */
} host_t;

static uint32_t
t_message (void *ctx, const uint8_t *msg, uint32_t len, const uint8_t **out, uint32_t *out_len)
{
  host_t *x = ctx;
  uint32_t i = x->n < MAX_LOG ? x->n : MAX_LOG - 1;
  x->len[i] = len;
  if (x->seen_len + len <= sizeof (x->seen))
    memcpy (x->seen + x->seen_len, msg, len), x->seen_len += len;
  x->n++;
  uint32_t v = x->verdict[i];
  if (!(v & SIP_TCP_MSG_SEND))
    return v;
  *out = msg;
  *out_len = len;
  if (x->grow[i] && len + x->grow[i] <= sizeof (x->out))
    {
      /* the message, then grow[i] bytes of '#': a rewrite grow[i] bytes longer */
      memcpy (x->out, msg, len);
      memset (x->out + len, '#', x->grow[i]);
      *out = x->out;
      *out_len = len + x->grow[i];
    }
  return v;
}

typedef struct
{
  sip_tcp_conn_t tc;
  host_t host;
  sip_hdr_t hdrs[96];
  sip_tcp_bytes_t out;
  sip_tcp_stream_cfg_t cfg;
  sip_tcp_stream_result_t r;
} rig_t;

static rig_t *
rig_new (uint32_t max_pending)
{
  rig_t *t = calloc (1, sizeof (*t));
  sip_tcp_conn_init (&t->tc);
  for (int i = 0; i < MAX_LOG; i++)
    t->host.verdict[i] = SIP_TCP_MSG_SEND;
  t->cfg = (sip_tcp_stream_cfg_t){ .mem = &mem,
				   .message = t_message,
				   .ctx = &t->host,
				   .max_pending = max_pending,
				   .hdrs = t->hdrs,
				   .max_hdrs = 96,
				   .out = &t->out };
  return t;
}

static void
rig_free (rig_t *t)
{
  sip_tcp_conn_free (&t->tc, &mem);
  mem.release (t->out.data);
  free (t);
}

/* A segment of direction 0: what sip_tcp_data makes of it, and the stream when NEW. */
static sip_tcp_data_t
rig_segment (rig_t *t, uint32_t seq, const void *p, uint32_t len)
{
  const uint8_t *payload = p;
  t->out.len = 0;
  t->r = (sip_tcp_stream_result_t){ .start = ~0u };
  sip_tcp_data_t v = sip_tcp_data (&t->tc, 0, SIP_TCP_ACK | SIP_TCP_PSH, &seq, &payload, &len);
  if (v == SIP_TCP_DATA_NEW)
    sip_tcp_stream (&t->tc, 0, payload, len, seq, &t->cfg, &t->r);
  return v;
}

static int
out_is (rig_t *t, const void *p, uint32_t len)
{
  return t->out.len == len && (!len || !memcmp (t->out.data, p, len));
}

/* --- messages --------------------------------------------------------------------------- */

/* A SIP request over TCP with a body of body_len bytes ('b'), n its CSeq. */
static uint32_t
sip_request (char *buf, size_t cap, uint32_t n, uint32_t body_len)
{
  int len = snprintf (buf, cap,
		      "MESSAGE sip:bob@198.51.100.2 SIP/2.0\r\n"
		      "Via: SIP/2.0/TCP 192.168.1.1:5060;branch=z9hG4bK-%u\r\n"
		      "Max-Forwards: 70\r\n"
		      "From: <sip:alice@192.168.1.1>;tag=a%u\r\n"
		      "To: <sip:bob@198.51.100.2>\r\n"
		      "Call-ID: call-%u@192.168.1.1\r\n"
		      "CSeq: %u MESSAGE\r\n"
		      "Content-Type: text/plain\r\n"
		      "Content-Length: %u\r\n"
		      "\r\n",
		      n, n, n, n, body_len);
  memset (buf + len, 'b', body_len);
  return (uint32_t) len + body_len;
}

static char m1[512], m2[512], m3[512];
static uint32_t l1, l2, l3;

/* --- the tests ------------------------------------------------------------------------- */

static void
test_across_segments (void)
{
  cur = "a message across two segments";
  rig_t *t = rig_new (16384);
  CHECK (rig_segment (t, 1000, m1, 30) == SIP_TCP_DATA_NEW, "");
  CHECK (t->host.n == 0 && t->out.len == 0, "nothing framed yet, %u", t->host.n);
  CHECK (t->r.partial && !t->r.overflow && !t->r.hold && t->r.start == 1000, "");
  sip_tcp_half_t *h = &t->tc.half[0];
  CHECK (h->pending.len == 30 && h->pending_seq == 1000 && h->next_seq == 1030, "");
  CHECK (h->n_corr == 0, "no correction for what was not sent");

  CHECK (rig_segment (t, 1030, m1 + 30, l1 - 30) == SIP_TCP_DATA_NEW, "");
  CHECK (t->host.n == 1 && t->host.len[0] == l1 && !memcmp (t->host.seen, m1, l1),
	 "the whole message handed over once");
  CHECK (out_is (t, m1, l1) && t->r.start == 1000, "it leaves whole, from its first byte");
  CHECK (!t->r.partial && h->pending.len == 0, "");
  CHECK (h->unit.len == l1 && h->unit_seq == 1000 && h->unit_len == l1, "the unit sent kept");
  CHECK (h->next_seq == 1000 + l1, "");
  rig_free (t);
}

static void
test_room_kept (void)
{
  cur = "bytes that fit the room kept";
  rig_t *t = rig_new (16384);
  sip_tcp_half_t *h = &t->tc.half[0];
  CHECK (rig_segment (t, 1, m1, 40) == SIP_TCP_DATA_NEW && t->r.partial, "");
  uint32_t room = h->pending.cap - h->pending.len;
  CHECK (room > 0 && 40 + room < l1, "room %u", room);
  long before = n_resizes;
  CHECK (rig_segment (t, 41, m1 + 40, room) == SIP_TCP_DATA_NEW && t->r.partial, "");
  CHECK (h->pending.len == 40 + room && !memcmp (h->pending.data, m1, 40 + room), "");
  CHECK (n_resizes == before, "filled to its room exactly: nothing grows, %ld resizes",
	 n_resizes - before);
  CHECK (rig_segment (t, 41 + room, m1 + 40 + room, 1) == SIP_TCP_DATA_NEW, "");
  CHECK (n_resizes == before + 1 && h->pending.cap > 40 + room, "one byte more: it grows");
  rig_free (t);
}

static void
test_rewrite_and_cut (void)
{
  cur = "corrections of a rewrite and of a cut";
  rig_t *t = rig_new (16384);
  sip_tcp_half_t *h = &t->tc.half[0];
  t->host.grow[0] = 7;
  CHECK (rig_segment (t, 5000, m1, l1) == SIP_TCP_DATA_NEW, "");
  CHECK (t->out.len == l1 + 7 && !memcmp (t->out.data, m1, l1), "rewritten 7 bytes longer");
  CHECK (h->n_corr == 1 && h->corr[0].pos == 5000 && h->corr[0].before == 0 &&
	   h->corr[0].after == 7,
	 "corr %u: %u %d %d", h->n_corr, h->corr[0].pos, h->corr[0].before, h->corr[0].after);
  CHECK (sip_tcp_seq_offset (h, 5000) == 0, "the unit itself starts where it did");
  CHECK (sip_tcp_seq_offset (h, 5000 + l1) == 7, "what follows moves by 7");
  CHECK (sip_tcp_ack_orig (h, 5000 + l1 + 7) == 5000 + l1, "its ACK maps back");
  CHECK (sip_tcp_ack_orig (h, 5000) == 5000, "an ACK before it does not move");

  /* two messages in one segment, the second cut out of the stream */
  t->host.verdict[1] = SIP_TCP_MSG_SEND;
  t->host.verdict[2] = SIP_TCP_MSG_CUT;
  char seg[1024];
  memcpy (seg, m2, l2);
  memcpy (seg + l2, m3, l3);
  uint32_t at = 5000 + l1;
  CHECK (rig_segment (t, at, seg, l2 + l3) == SIP_TCP_DATA_NEW, "");
  CHECK (t->host.n == 3, "both messages handed over, %u", t->host.n);
  CHECK (out_is (t, m2, l2), "the cut message does not leave");
  CHECK (h->n_corr == 2 && h->corr[1].pos == at && h->corr[1].before == 7 &&
	   h->corr[1].after == 7 - (int32_t) l3,
	 "cut: %d %d", h->corr[1].before, h->corr[1].after);
  CHECK (sip_tcp_seq_offset (h, at + l2 + l3) == 7 - (int32_t) l3, "");
  CHECK (sip_tcp_ack_orig (h, at + 7 + l2) == at + l2 + l3,
	 "the ACK of what was sent acknowledges the cut message too");
  CHECK (h->unit_seq == at && h->unit_len == l2 + l3 && h->unit.len == l2, "");
  rig_free (t);
}

static void
test_hold_partial_keepalive (void)
{
  cur = "hold, a message and a half, keep-alives";
  rig_t *t = rig_new (16384);
  sip_tcp_half_t *h = &t->tc.half[0];
  char seg[2048];
  uint32_t n = 0;
  memcpy (seg + n, "\r\n\r\n", 4), n += 4;
  memcpy (seg + n, m1, l1), n += l1;
  memcpy (seg + n, m2, 50), n += 50;
  t->host.verdict[0] = SIP_TCP_MSG_SEND | SIP_TCP_MSG_HOLD;
  CHECK (rig_segment (t, 1, seg, n) == SIP_TCP_DATA_NEW, "");
  CHECK (t->r.hold, "a message asked for the segment to be held");
  CHECK (t->host.n == 1, "the incomplete second one is not handed over");
  CHECK (t->out.len == 4 + l1 && !memcmp (t->out.data, "\r\n\r\n", 4), "ping and message");
  CHECK (t->r.partial && h->pending.len == 50 && h->pending_seq == 1 + 4 + l1, "");
  CHECK (h->n_corr == 0, "nothing changed length");

  CHECK (rig_segment (t, 1 + n, m2 + 50, l2 - 50) == SIP_TCP_DATA_NEW, "");
  CHECK (!t->r.hold && out_is (t, m2, l2) && t->r.start == 1 + 4 + l1, "");

  cur = "a pong alone";
  CHECK (rig_segment (t, 1 + 4 + l1 + l2, "\r\n", 2) == SIP_TCP_DATA_NEW, "");
  CHECK (out_is (t, "\r\n", 2) && t->host.n == 2 && !t->r.partial, "");
  rig_free (t);
}

static void
test_retransmissions (void)
{
  cur = "retransmissions and gaps";
  rig_t *t = rig_new (16384);
  sip_tcp_half_t *h = &t->tc.half[0];
  const uint8_t *p;
  uint32_t seq, len;
  uint8_t ack = SIP_TCP_ACK;

  /* picked up mid-stream: the first payload seen starts the stream */
  CHECK (rig_segment (t, 7000, m1, l1) == SIP_TCP_DATA_NEW && h->seen, "");
  uint32_t next = 7000 + l1;
  seq = 7000, p = (const uint8_t *) m1, len = l1;
  CHECK (sip_tcp_data (&t->tc, 0, ack, &seq, &p, &len) == SIP_TCP_DATA_RESENT, "the unit again");
  seq = 7010, len = 20;
  CHECK (sip_tcp_data (&t->tc, 0, ack, &seq, &p, &len) == SIP_TCP_DATA_RESENT, "part of it");
  seq = 6000, len = 100;
  CHECK (sip_tcp_data (&t->tc, 0, ack, &seq, &p, &len) == SIP_TCP_DATA_OLD, "before it");
  seq = next + 10, len = 5;
  CHECK (sip_tcp_data (&t->tc, 0, ack, &seq, &p, &len) == SIP_TCP_DATA_GAP, "after a gap");
  seq = next - 5, p = (const uint8_t *) m2, len = 20;
  CHECK (sip_tcp_data (&t->tc, 0, ack, &seq, &p, &len) == SIP_TCP_DATA_NEW, "partly new");
  CHECK (seq == next && len == 15 && p == (const uint8_t *) m2 + 5, "only the new part");

  /* the start of a message kept: its retransmission sends nothing of it yet */
  CHECK (rig_segment (t, next, m2, 40) == SIP_TCP_DATA_NEW && t->r.partial, "");
  seq = next, len = 40;
  CHECK (sip_tcp_data (&t->tc, 0, ack, &seq, &p, &len) == SIP_TCP_DATA_KEPT, "");
  seq = next, len = 0;
  CHECK (sip_tcp_data (&t->tc, 0, ack, &seq, &p, &len) == SIP_TCP_DATA_NONE, "no payload");
  seq = next + 40, len = 5;
  CHECK (sip_tcp_data (&t->tc, 0, SIP_TCP_SYN, &seq, &p, &len) == SIP_TCP_DATA_NONE, "a SYN");
  t->tc.bypass = 1;
  CHECK (sip_tcp_data (&t->tc, 0, ack, &seq, &p, &len) == SIP_TCP_DATA_NONE, "bypassed");
  rig_free (t);
}

static void
test_framing_lost (void)
{
  cur = "an incomplete message over the limit";
  rig_t *t = rig_new (100);
  CHECK (rig_segment (t, 1, m1, 150) == SIP_TCP_DATA_NEW, "");
  CHECK (t->r.overflow && t->r.error == SIP_OK && !t->r.partial && t->tc.bypass, "");
  CHECK (out_is (t, m1, 150) && t->host.n == 0, "its bytes pass untouched");
  CHECK (t->tc.half[0].pending.len == 0, "nothing kept");
  const uint8_t *p = (const uint8_t *) m1 + 150;
  uint32_t seq = 151, len = l1 - 150;
  CHECK (sip_tcp_data (&t->tc, 0, SIP_TCP_ACK, &seq, &p, &len) == SIP_TCP_DATA_NONE,
	 "the rest of the connection is not framed");
  rig_free (t);

  cur = "a limit the incomplete message fits";
  t = rig_new (150);
  CHECK (rig_segment (t, 1, m1, 150) == SIP_TCP_DATA_NEW, "");
  CHECK (!t->r.overflow && t->r.partial && !t->tc.bypass && t->out.len == 0, "");
  rig_free (t);

  cur = "no framing to go by";
  t = rig_new (16384);
  static const char junk[] = "HELLO THERE\r\n\r\n";
  CHECK (rig_segment (t, 1, junk, sizeof (junk) - 1) == SIP_TCP_DATA_NEW, "");
  CHECK (t->r.error != SIP_OK && t->r.error != SIP_INCOMPLETE && t->r.overflow, "%d",
	 t->r.error);
  CHECK (t->tc.bypass && out_is (t, junk, sizeof (junk) - 1) && t->host.n == 0, "");
  rig_free (t);
}

static void
test_control (void)
{
  cur = "SYN, ACK and SACK";
  rig_t *t = rig_new (16384);
  /* MSS 1200, NOP, NOP, SACK-permitted */
  uint8_t syn[] = { 2, 4, 0x04, 0xb0, 1, 1, 4, 2 };
  uint32_t ack = 0;
  CHECK (!sip_tcp_control (&t->tc, 1, SIP_TCP_SYN, 900, &ack, syn, sizeof (syn), &mem), "");
  CHECK (t->tc.half[0].mss == 1200 && t->tc.half[1].mss == SIP_TCP_DEFAULT_MSS,
	 "the SYN's MSS bounds what the other direction sends, %u", t->tc.half[0].mss);
  CHECK (t->tc.half[1].next_seq == 901 && t->tc.half[1].seen, "");

  /* direction 0 rewrote 5000.. by +7: the other side's ACK and SACK edges map back */
  sip_tcp_correct (&t->tc.half[0], 5000, 7);
  uint8_t sack[] = { 1, 1, 5, 10, 0, 0, 0x13, 0x8f, 0, 0, 0x13, 0x9a };
  /* edges 5007 and 5018 (rewritten numbers) */
  ack = 5100;
  CHECK (sip_tcp_control (&t->tc, 1, SIP_TCP_ACK, 901, &ack, sack, sizeof (sack), &mem), "");
  CHECK (ack == 5093, "%u", ack);
  CHECK (sack[6] == 0x13 && sack[7] == 0x88 && sack[10] == 0x13 && sack[11] == 0x93,
	 "edges %02x%02x %02x%02x", sack[6], sack[7], sack[10], sack[11]);
  ack = 10;
  CHECK (!sip_tcp_control (&t->tc, 0, SIP_TCP_ACK, 5000, &ack, 0, 0, &mem) && ack == 10,
	 "no correction the other way: nothing to map");
  /* options in any order (RFC 9293 3.1): SACK-permitted, then MSS 1400 ending the list */
  uint8_t syn2[] = { 4, 2, 2, 4, 0x05, 0x78 };
  uint16_t mss2 = 0;
  sip_tcp_options (syn2, sizeof (syn2), &mss2, 0);
  CHECK (mss2 == 1400, "the MSS after SACK-permitted, %u", mss2);
  /* a malformed option (length past the end) stops the walk */
  uint8_t bad[] = { 2, 9, 0x05, 0xdc };
  uint16_t mss = 77;
  sip_tcp_options (bad, sizeof (bad), &mss, 0);
  CHECK (mss == 77, "");

  cur = "a new connection on closing endpoints";
  rig_segment (t, 901, m1, 40);
  CHECK (t->tc.half[0].pending.len == 40, "");
  sip_tcp_end (&t->tc, 0, SIP_TCP_FIN | SIP_TCP_ACK);
  CHECK (!t->tc.closing && t->tc.half[0].fin, "one FIN: half closed");
  sip_tcp_end (&t->tc, 1, SIP_TCP_FIN | SIP_TCP_ACK);
  CHECK (t->tc.closing, "FIN both ways");
  ack = 0;
  sip_tcp_control (&t->tc, 0, SIP_TCP_SYN | SIP_TCP_ACK, 1, &ack, 0, 0, &mem);
  CHECK (t->tc.closing && t->tc.half[0].n_corr == 1, "a SYN-ACK is not a new connection");
  sip_tcp_control (&t->tc, 0, SIP_TCP_SYN, 3000, &ack, 0, 0, &mem);
  CHECK (!t->tc.closing && !t->tc.bypass && t->tc.half[0].n_corr == 0 &&
	   t->tc.half[0].pending.len == 0 && !t->tc.half[0].fin &&
	   t->tc.half[1].mss == SIP_TCP_DEFAULT_MSS && t->tc.half[0].next_seq == 3001,
	 "started afresh");
  sip_tcp_end (&t->tc, 1, SIP_TCP_RST);
  CHECK (t->tc.closing, "RST");
  rig_free (t);

  cur = "FIN the other way first";
  sip_tcp_conn_t tc;
  sip_tcp_conn_init (&tc);
  sip_tcp_end (&tc, 1, SIP_TCP_FIN | SIP_TCP_ACK);
  CHECK (!tc.closing && tc.half[1].fin && !tc.half[0].fin, "one FIN: half closed");
  sip_tcp_end (&tc, 1, SIP_TCP_FIN | SIP_TCP_ACK);
  CHECK (!tc.closing, "its retransmission closes nothing more");
  sip_tcp_end (&tc, 0, SIP_TCP_ACK);
  CHECK (!tc.closing && !tc.half[0].fin, "an ACK is no FIN");
  sip_tcp_end (&tc, 0, SIP_TCP_FIN | SIP_TCP_ACK);
  CHECK (tc.closing, "FIN both ways");
}

static void
test_sack_bytes (void)
{
  /* SACK edges are 32-bit numbers in network byte order (RFC 2018): every byte of them */
  cur = "SACK edges, every byte";
  sip_tcp_half_t h;
  memset (&h, 0, sizeof (h));
  sip_tcp_correct (&h, 0x1a2b3c00u, 0x105);
  /* NOP, NOP, SACK 0x1a2b3d4e-0x1a2b4f60 (rewritten numbers), timestamps 0x1a2b3d4e 0x2000ffff */
  uint8_t opt[] = { 1,    1,    5,    10,   0x1a, 0x2b, 0x3d, 0x4e, 0x1a, 0x2b, 0x4f, 0x60,
		    8,    10,   0x1a, 0x2b, 0x3d, 0x4e, 0x20, 0x00, 0xff, 0xff };
  static const uint8_t want[] = { 1,    1,    5,    10,   0x1a, 0x2b, 0x3c, 0x49,
				  0x1a, 0x2b, 0x4e, 0x5b, 8,    10,   0x1a, 0x2b,
				  0x3d, 0x4e, 0x20, 0x00, 0xff, 0xff };
  sip_tcp_options (opt, sizeof (opt), 0, &h);
  CHECK (!memcmp (opt, want, sizeof (want)),
	 "edges %02x%02x%02x%02x %02x%02x%02x%02x, timestamps untouched %02x%02x%02x%02x", opt[4],
	 opt[5], opt[6], opt[7], opt[8], opt[9], opt[10], opt[11], opt[14], opt[15], opt[16],
	 opt[17]);

  cur = "SACK edges across the wrap";
  memset (&h, 0, sizeof (h));
  sip_tcp_correct (&h, 0xffffffe0u, 0x20);
  /* the block 0x00000005-0x00000025 of the rewritten stream is 0xffffffe5-0x00000005 */
  uint8_t wrap[] = { 5, 10, 0, 0, 0, 0x05, 0, 0, 0, 0x25 };
  static const uint8_t wrap_want[] = { 5, 10, 0xff, 0xff, 0xff, 0xe5, 0, 0, 0, 0x05 };
  sip_tcp_options (wrap, sizeof (wrap), 0, &h);
  CHECK (!memcmp (wrap, wrap_want, sizeof (wrap)), "edges %02x%02x%02x%02x %02x%02x%02x%02x",
	 wrap[2], wrap[3], wrap[4], wrap[5], wrap[6], wrap[7], wrap[8], wrap[9]);
}

static void
test_correction_ring (void)
{
  cur = "the oldest correction folds into the base";
  sip_tcp_half_t h;
  memset (&h, 0, sizeof (h));
  for (uint32_t i = 0; i < SIP_TCP_CORR + 2; i++)
    sip_tcp_correct (&h, 1000 * (i + 1), 1);
  CHECK (h.n_corr == SIP_TCP_CORR && h.base == 2, "n %u base %d", h.n_corr, h.base);
  CHECK (h.corr[0].pos == 3000 && h.corr[SIP_TCP_CORR - 1].pos == 10000, "");
  CHECK (sip_tcp_seq_offset (&h, 500) == 2 && sip_tcp_seq_offset (&h, 10001) == 10, "");
  CHECK (sip_tcp_ack_orig (&h, 10500) == 10490 && sip_tcp_ack_orig (&h, 1500) == 1498, "");

  cur = "every correction kept after the fold";
  memset (&h, 0, sizeof (h));
  /* rewrites of 1, 2, 3, ... bytes: after the k-th, the offset is 1 + 2 + ... + k */
  for (int32_t i = 0; i <= SIP_TCP_CORR; i++)
    sip_tcp_correct (&h, 1000 * (uint32_t) (i + 1), i + 1);
  CHECK (h.n_corr == SIP_TCP_CORR && h.base == 1, "n %u base %d", h.n_corr, h.base);
  for (int32_t i = 0; i <= SIP_TCP_CORR; i++)
    {
      uint32_t pos = 1000 * (uint32_t) (i + 1) + 1;
      int32_t off = (i + 1) * (i + 2) / 2;
      CHECK (sip_tcp_seq_offset (&h, pos) == off, "after the %d-th: %d, not %d", i + 1,
	     sip_tcp_seq_offset (&h, pos), off);
      CHECK (sip_tcp_ack_orig (&h, pos + (uint32_t) off) == pos, "its ACK maps back");
    }

  cur = "sequence numbers wrap";
  memset (&h, 0, sizeof (h));
  sip_tcp_correct (&h, 0xfffffff0u, 20);
  CHECK (sip_tcp_seq_offset (&h, 0x10) == 20 && sip_tcp_ack_orig (&h, 0x24) == 0x10, "");
  CHECK (sip_tcp_seq_lt (0xfffffff0u, 5) && !sip_tcp_seq_lt (5, 0xfffffff0u), "");
}

static void
test_seg_size (void)
{
  cur = "segment size";
  CHECK (sip_tcp_seg_size (1460, 12, 9000) == 1448, "options come off the MSS");
  CHECK (sip_tcp_seg_size (0, 0, 9000) == SIP_TCP_DEFAULT_MSS, "no MSS: the default");
  CHECK (sip_tcp_seg_size (70, 12, 9000) == 64, "64 at least");
  CHECK (sip_tcp_seg_size (77, 12, 9000) == 65, "options off an MSS just over the floor");
  CHECK (sip_tcp_seg_size (1460, 0, 300) == 300, "the buffer's room");
}

/* A stream of three messages split into segments at every cut (two and three segments):
   the same messages in, the same bytes out, the same correction, whatever the split. */
static void
test_every_split (void)
{
  char s[2048];
  uint32_t n = 0, cuts = 0, bad = 0;
  memcpy (s + n, m1, l1), n += l1;
  memcpy (s + n, "\r\n\r\n", 4), n += 4;
  memcpy (s + n, m2, l2), n += l2;
  memcpy (s + n, m3, l3), n += l3;
  uint8_t *got = malloc (n + 64);
  for (uint32_t a = 1; a < n; a++)
    for (uint32_t b = a; b <= n; b += (b == a ? 1 : 37))
      {
	rig_t *t = rig_new (16384);
	t->host.grow[1] = 3; /* the second message grows by 3 */
	uint32_t got_len = 0, bounds[4] = { 0, a, b, n }, start = 100;
	int in_order = 1;
	for (int k = 0; k < 3; k++)
	  {
	    uint32_t len = bounds[k + 1] - bounds[k];
	    if (!len)
	      continue;
	    if (rig_segment (t, 100 + bounds[k], s + bounds[k], len) != SIP_TCP_DATA_NEW)
	      in_order = 0;
	    if (t->out.len)
	      {
		/* each segment's bytes start where the last ones ended (sender's numbers) */
		if (t->r.start != start)
		  in_order = 0;
		start = t->r.start + t->tc.half[0].unit_len;
		memcpy (got + got_len, t->out.data, t->out.len);
		got_len += t->out.len;
	      }
	  }
	sip_tcp_half_t *h = &t->tc.half[0];
	int ok = in_order && t->host.n == 3 && t->host.seen_len == l1 + l2 + l3 &&
		 !memcmp (t->host.seen, m1, l1) && !memcmp (t->host.seen + l1, m2, l2) &&
		 got_len == n + 3 && !memcmp (got, s, l1 + 4 + l2) &&
		 !memcmp (got + l1 + 4 + l2, "###", 3) && !memcmp (got + l1 + 7 + l2, m3, l3) &&
		 h->pending.len == 0 && sip_tcp_seq_offset (h, 100 + n) == 3 &&
		 sip_tcp_ack_orig (h, 100 + n + 3) == 100 + n;
	if (!ok && !bad++) /* the first wrong split said, the others counted */
	  {
	    cur = "every split";
	    CHECK (ok, "cuts at %u and %u: %u messages, %u bytes out of %u", a, b, t->host.n,
		   got_len, n + 3);
	  }
	cuts++;
	rig_free (t);
      }
  free (got);
  cur = "every split";
  CHECK (!bad && cuts > 1000, "%u of %u splits wrong", bad, cuts);
}

int
main (void)
{
  l1 = sip_request (m1, sizeof (m1), 1, 0);
  l2 = sip_request (m2, sizeof (m2), 2, 120);
  l3 = sip_request (m3, sizeof (m3), 3, 7);

  test_across_segments ();
  test_room_kept ();
  test_rewrite_and_cut ();
  test_hold_partial_keepalive ();
  test_retransmissions ();
  test_framing_lost ();
  test_control ();
  test_sack_bytes ();
  test_correction_ring ();
  test_seg_size ();
  test_every_split ();
  cur = "memory";
  CHECK (n_blocks == 0, "%ld blocks not given back", n_blocks);
  printf ("tcp stream engine: %d checks, %d failed\n", n_checks, n_fail);
  return n_fail ? 1 : 0;
}
