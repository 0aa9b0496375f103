/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * SIP over TCP: the stream engine, as pure C99 (no vlib/vnet headers).
 *
 * A TCP segment of a SIP port passes the ALG like a datagram, but its bytes are part of a
 * stream: messages are framed by Content-Length across segments, several may share a
 * segment, and a rewrite that changes a message's length shifts every later sequence number
 * of that direction. Per connection and direction the engine keeps the start of an
 * incomplete message (the segment that carries it leaves without those bytes, as an ACK,
 * until the rest arrives; then they leave together), the last unit it sent (a
 * retransmission gets the same bytes again) and the corrections: the original sequence
 * number where a rewritten unit starts and the offset before and after it, so a
 * retransmission maps as the original did and the other direction's ACK and SACK edges map
 * back. Segments after a gap are dropped (the sender retransmits them in order).
 *
 * The host (sip-alg-post, sip_alg_tcp.c) reads the segment's header, asks these functions
 * what to do, and writes the buffers: sip_tcp_control (SYN, ACK and SACK), sip_tcp_data
 * (new bytes, a retransmission, or a drop), sip_tcp_stream (framing, each message through
 * the host's callback), sip_tcp_seq_offset (the sequence number to send), sip_tcp_seg_size,
 * sip_tcp_end (FIN, RST). The bytes the engine keeps are grown through the host's
 * allocator (sip_tcp_mem_t); nothing else allocates.
 */

#ifndef __included_sip_tcp_h__
#define __included_sip_tcp_h__

#include "sip_msg.h"

/* TCP flags (byte 13 of the header) */
#define SIP_TCP_FIN 0x01
#define SIP_TCP_SYN 0x02
#define SIP_TCP_RST 0x04
#define SIP_TCP_PSH 0x08
#define SIP_TCP_ACK 0x10

#define SIP_TCP_CORR	    8	 /* corrections kept per direction */
#define SIP_TCP_DEFAULT_MSS 1460 /* until a SYN's MSS option says otherwise */

/* The host's memory: resize (p 0: a new block; never returns 0) and release (p may be 0). */
typedef struct
{
  void *(*resize) (void *p, size_t size);
  void (*release) (void *p);
} sip_tcp_mem_t;

/* Bytes the engine keeps: data[0..len), room for cap. */
typedef struct
{
  uint8_t *data;
  uint32_t len;
  uint32_t cap;
} sip_tcp_bytes_t;

typedef struct
{
  uint32_t pos;	       /* original sequence number of the rewritten unit's first byte */
  int32_t before, after; /* offset of sequence numbers up to pos / after it */
} sip_tcp_corr_t;

/* One half of a connection: one direction, its sender's sequence space. */
typedef struct
{
  uint32_t next_seq; /* next original sequence number expected */
  uint8_t seen;	     /* next_seq is known */
  uint8_t fin;
  uint8_t n_corr;
  uint16_t mss; /* largest payload towards the receiver (its SYN's MSS option) */
  int32_t base; /* offset before the oldest correction kept */
  sip_tcp_corr_t corr[SIP_TCP_CORR];
  sip_tcp_bytes_t pending; /* start of an incomplete message (original bytes) */
  uint32_t pending_seq;	   /* original sequence number of pending[0] */
  sip_tcp_bytes_t unit;	   /* the last unit sent, as rewritten (for retransmissions) */
  uint32_t unit_seq;	   /* its original first sequence number ... */
  uint32_t unit_len;	   /* ... and original length */
} sip_tcp_half_t;

typedef struct
{
  sip_tcp_half_t half[2]; /* [0]: inside -> outside, [1]: outside -> inside */
  uint8_t bypass;	  /* framing lost: bytes pass untouched, offsets still applied */
  uint8_t closing;	  /* FIN both ways or RST */
} sip_tcp_conn_t;

static inline int
sip_tcp_seq_lt (uint32_t a, uint32_t b)
{
  return (int32_t) (a - b) < 0;
}

/* A new connection's state (zeroed, the default MSS both ways). */
void sip_tcp_conn_init (sip_tcp_conn_t *tc);

/* The bytes a connection keeps given back (the connection is then init's again). */
void sip_tcp_conn_free (sip_tcp_conn_t *tc, const sip_tcp_mem_t *mem);

/* The offset of a unit of h's sender's stream starting at seq. */
int32_t sip_tcp_seq_offset (const sip_tcp_half_t *h, uint32_t seq);

/* An acknowledgement number of the rewritten stream of h, in the sender's numbers. */
uint32_t sip_tcp_ack_orig (const sip_tcp_half_t *h, uint32_t ack);

/* The unit starting at pos (newer than any before) changed length by delta. */
void sip_tcp_correct (sip_tcp_half_t *h, uint32_t pos, int32_t delta);

/*
 * TCP options opt[0..len): *mss from an MSS option (SYN); with o, SACK block edges (the
 * rewritten stream of o) mapped back to o's sender's numbers, in place.
 */
void sip_tcp_options (uint8_t *opt, uint32_t len, uint16_t *mss, const sip_tcp_half_t *o);

/*
 * A segment's control part, direction d (flags SIP_TCP_*, seq its sequence number): a SYN
 * of the same endpoints while the connection is closing starts it afresh; a SYN's MSS option
 * (in opt[0..opt_len)) bounds what the other direction sends to it; an ACK of the other
 * direction's rewritten stream is mapped back (*ack, and SACK edges in opt). Returns 1 when
 * *ack or the options changed.
 */
int sip_tcp_control (sip_tcp_conn_t *tc, int d, uint8_t flags, uint32_t seq, uint32_t *ack,
		     uint8_t *opt, uint32_t opt_len, const sip_tcp_mem_t *mem);

/* What a segment's payload is to the stream of its direction (sip_tcp_data). */
typedef enum
{
  SIP_TCP_DATA_NONE = 0, /* nothing to frame (no payload, a SYN, the framing lost) */
  SIP_TCP_DATA_NEW,	 /* new bytes in order: frame them (sip_tcp_stream) */
  SIP_TCP_DATA_KEPT,	 /* a retransmission of bytes still kept: send none of them yet */
  SIP_TCP_DATA_RESENT,	 /* a retransmission of the last unit: send the unit again */
  SIP_TCP_DATA_OLD,	 /* a retransmission of older bytes: drop it */
  SIP_TCP_DATA_GAP,	 /* bytes after a gap: drop them (the sender sends them again) */
} sip_tcp_data_t;

/*
 * Where payload[0..plen) at seq stands in direction d's stream. A stream picked up mid-way
 * (the ALG came later than the connection) starts at the first payload seen. For NEW,
 * *seq, *payload and *plen become the part not seen before.
 */
sip_tcp_data_t sip_tcp_data (sip_tcp_conn_t *tc, int d, uint8_t flags, uint32_t *seq,
			     const uint8_t **payload, uint32_t *plen);

/* What the host's callback makes of one message (sip_tcp_msg_fn_t) */
#define SIP_TCP_MSG_CUT	 0 /* cut out of the stream: the receiver never sees it */
#define SIP_TCP_MSG_SEND 1 /* *out[0..*out_len) goes in its place */
#define SIP_TCP_MSG_HOLD 2 /* with SEND: hold the segment (its pinholes first) */

/* One message the engine framed, msg[0..len): SIP_TCP_MSG_* */
typedef uint32_t (sip_tcp_msg_fn_t) (void *ctx, const uint8_t *msg, uint32_t len,
				     const uint8_t **out, uint32_t *out_len);

typedef struct
{
  const sip_tcp_mem_t *mem;
  sip_tcp_msg_fn_t *message;
  void *ctx;		 /* the callback's */
  uint32_t max_pending;	 /* bytes of an incomplete message kept, at most */
  sip_hdr_t *hdrs;	 /* the parser's header array ... */
  uint16_t max_hdrs;	 /* ... and its size */
  sip_tcp_bytes_t *out; /* the bytes to send, from sip_tcp_stream_result_t.start */
} sip_tcp_stream_cfg_t;

typedef struct
{
  uint32_t start;     /* original sequence number of out[0] */
  sip_result_t error; /* the parse error that lost the framing, SIP_OK: none */
  uint8_t hold;	      /* a message asked for the segment to be held */
  uint8_t overflow;   /* framing lost (error, or an incomplete message over max_pending):
			 the bytes from there on pass untouched, now and later (bypass) */
  uint8_t partial;    /* the start of an incomplete message is kept for later segments */
} sip_tcp_stream_result_t;

/*
 * New in-order bytes payload[0..plen) at seq of direction d (sip_tcp_data said NEW): frame
 * the messages (with the start of an incomplete one kept from earlier segments), run each
 * through cfg->message, keep the start of an incomplete one, note the unit sent and its
 * correction. Line ends between messages (RFC 5626 keep-alives) pass. cfg->out: the bytes
 * to send, r->start their original sequence number.
 */
void sip_tcp_stream (sip_tcp_conn_t *tc, int d, const uint8_t *payload, uint32_t plen,
		     uint32_t seq, const sip_tcp_stream_cfg_t *cfg, sip_tcp_stream_result_t *r);

/*
 * The payload of a segment towards a receiver that announced mss (0: the default), with
 * opt_len bytes of options (the MSS counts a bare TCP header), in a buffer with room bytes.
 */
uint32_t sip_tcp_seg_size (uint16_t mss, uint32_t opt_len, uint32_t room);

/* A segment's end: FIN closes its direction, RST or FIN both ways the connection. */
void sip_tcp_end (sip_tcp_conn_t *tc, int d, uint8_t flags);

#endif /* __included_sip_tcp_h__ */
