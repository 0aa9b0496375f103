/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * SIP ALG for NAT44-ED.
 *
 * Graph (ip4-unicast, on every interface where the ALG is enabled):
 *   sip-alg-pre -> NAT44-ED entry node (+ handoff) -> nat44-ed-{in2out,out2in} -> sip-alg-post
 * sip-alg-pre stashes the pre-NAT 5-tuple of packets to or from a SIP port in opaque2;
 * sip-alg-post compares it with the translated header: a changed source is in2out (inside
 * values -> public values), a changed destination is out2in (public -> inside).
 *
 * Pinholes: every server-map entry of the inside party (signaling, RTP, RTCP) is realised as
 * a NAT44-ED static mapping, installed on the main thread before the message that
 * announces it leaves VPP (the message is held meanwhile). Media then runs on NAT44-ED's own
 * fast path in both directions. Entries of the outside party are records (NAT44-ED lets
 * inside-to-outside traffic through on its own).
 *
 * Threads: call records and the rewrite scratch are per worker; the server map is owned by
 * the main thread, which workers reach through RPCs, and which touches worker state only
 * with the barrier held. Media ports are one pool shared by all threads (atomic bit
 * operations). README.md, "Threads: who owns what", has the whole picture.
 */

#ifndef __included_sip_alg_h__
#define __included_sip_alg_h__

#include <vnet/vnet.h>
#include <vnet/ip/ip4_packet.h>
#include <vnet/ip/ip4.h>
#include <vnet/ip/format.h>
#include <vnet/udp/udp_packet.h>
#include <vppinfra/bitmap.h>
#include <vppinfra/hash.h>

#include <sip_alg/core/sip_msg.h>
#include <sip_alg/core/sip_sites.h>
#include <sip_alg/core/sip_rewrite.h>
#include <sip_alg/core/sip_call.h>
#include <sip_alg/core/sip_tcp.h>

#include <sip_alg/sip_alg.api_enum.h>

#define SIP_ALG_MAX_PORTS	  8
#define SIP_ALG_MAX_HDRS	  96
#define SIP_ALG_MAX_SITES	  96
#define SIP_ALG_MAX_EDITS	  96
#define SIP_ALG_CALL_MAX_MEDIA	  SIP_SDP_MAX_MEDIA
#define SIP_ALG_CALL_MAX_DIALOGS  4 /* callee tags a call record remembers */
#define SIP_ALG_DEFAULT_PORT	  5060 /* UDP */
#define SIP_ALG_DEFAULT_TCP_PORT  5060 /* as Linux, Juniper, Fortinet and Huawei */
/*
 * SIP over TLS (RFC 3261 26.2.1): encrypted, so never rewritten. Its connections are counted
 * (tls) as they pass, unless the port is one of the SIP TCP ports.
 */
#define SIP_ALG_TLS_PORT	  5061
/*
 * STUN (RFC 8489): a phone's Binding request from a media port to a STUN server on this
 * port crosses NAT44-ED, which shows the phone's public mapping of that port (what the
 * server answers it). sip-alg-post notes it (sip_alg_own_map_t), so an SDP that names that
 * mapping (the phone learned its public address itself) gets its pinholes.
 */
#define SIP_ALG_STUN_PORT	  3478
/* mappings remembered per thread (direct mapped), and for how long (NAT44-ED's UDP timeout) */
#define SIP_ALG_OWN_MAP_SIZE	  4096
#define SIP_ALG_OWN_MAP_TTL	  300
#define SIP_ALG_DEFAULT_SIGNALING 120
#define SIP_ALG_DEFAULT_MEDIA	  60
#define SIP_ALG_DEFAULT_CALL	  7200
#define SIP_ALG_DEFAULT_MAX_CALLS 10000
#define SIP_ALG_DEFAULT_MEDIA_INACTIVITY 120	/* s, Juniper's inactive-media-timeout */
#define SIP_ALG_DEFAULT_MAX_DURATION	 43200	/* s, Juniper's maximum-call-duration */
#define SIP_ALG_DEFAULT_ONE_WAY_MEDIA	 5	/* s: a stream with media one way only is flagged */
#define SIP_ALG_MEDIA_PORT_LO	  40000
#define SIP_ALG_MEDIA_PORT_HI	  59999
/* security limits (sip_alg_set_security) */
#define SIP_ALG_DEFAULT_MAX_INBOUND	1000  /* per worker */
#define SIP_ALG_DEFAULT_MAX_INBOUND_SRC 20    /* per worker and outside address */
#define SIP_ALG_DEFAULT_MAX_BINDING	3600  /* seconds */
#define SIP_ALG_DEFAULT_MAX_ENTRIES	65536 /* server map */
#define SIP_ALG_DEFAULT_MAX_PER_CALL	24
#define SIP_ALG_INSIDE_PORT_LO		1024
#define SIP_ALG_INSIDE_PORT_HI		65535
#define SIP_ALG_DEFAULT_TCP_REASSEMBLY	16384 /* bytes per direction of a connection */
#define SIP_ALG_NAT_Q_LEN		32    /* the internal API client's queue: replies, keepalives */
#define SIP_ALG_RATE_BUCKETS		4096  /* token buckets per worker and method (power of 2) */
#define SIP_ALG_MAX_SERVERS		16    /* published SIP servers (sip_alg_set_servers) */
#define SIP_ALG_MAX_MEDIA_ADDRS		16    /* media public addresses (sip_alg_set_media_addresses) */
/*
 * Messages a thread may have held for their pinholes at once (their buffers wait for the
 * main thread). A message that would start a call record beyond it is dropped (UDP: the
 * sender retransmits) or passes without a record (TCP), counted as held_full, so a flood of
 * new calls cannot take the buffers or the main thread away from established calls.
 */
#define SIP_ALG_DEFAULT_MAX_HELD	512   /* per thread; `set sip-alg limits max-held` */

/*
 * The setters' bounds (sip_alg_config.c, the only place a setting is accepted or refused).
 * sipalgctl's defaults.py holds the same numbers; tests/mgmt/test_defaults.py fails when
 * they drift apart.
 */
#define SIP_ALG_TIMEOUT_MIN		1      /* s: signaling, media, call */
#define SIP_ALG_TIMEOUT_MAX		604800 /* s: a week */
/* the call timers: 0 (off) or 1 .. their maximum */
#define SIP_ALG_MEDIA_INACTIVITY_MAX	86400
#define SIP_ALG_MAX_DURATION_MAX	604800
#define SIP_ALG_ONE_WAY_MEDIA_MAX	3600
#define SIP_ALG_MAX_CALLS_MAX		16777216 /* the calls dump's cursor: a pool index in 24 bits */
#define SIP_ALG_MAX_HELD_MAX		1048576
#define SIP_ALG_MEDIA_PORT_MIN		1024 /* the range's first port, even */
#define SIP_ALG_MEDIA_PORTS_MIN_COUNT	4    /* two pairs */
#define SIP_ALG_TCP_REASSEMBLY_MIN	1024 /* .. SIP_MAX_MSG_LEN */
#define SIP_ALG_MIN_PER_CALL		4    /* server-map entries of a call: RTP, RTCP both ways */

/*
 * opaque2 stash written by sip-alg-pre for a packet it found to be SIP, which it marks with
 * SIP_ALG_BUFFER_F_SIP in b->flags (cache line 0, which every node touches): sip-alg-post
 * tests the flag and reads the stash (cache line 1) only for marked packets. The flag is
 * one of vnet's unassigned buffer flags; the template resets it when a buffer is freed, and
 * sip-alg-pre clears it on every packet it does not mark.
 */
#define SIP_ALG_STASH_MAGIC  0x51a1a160
#define SIP_ALG_BUFFER_F_SIP VNET_BUFFER_F_AVAIL9
STATIC_ASSERT ((SIP_ALG_BUFFER_F_SIP & VNET_BUFFER_FLAGS_ALL_AVAIL) != 0,
	       "the SIP mark must be an unassigned vnet buffer flag");

typedef struct
{
  u32 magic;
  ip4_address_t src, dst;
  u16 sport, dport;
  u8 proto;	/* IP_PROTOCOL_UDP or IP_PROTOCOL_TCP */
  u8 frag_list; /* more fragments of this datagram follow (SIP_ALG_FRAG_WORD) */
  u8 stun;	/* a STUN request to SIP_ALG_STUN_PORT, not SIP: its mapping is noted */
} sip_alg_stash_t;

/*
 * The opaque2 word after the stash (sip_alg_frag.c): a fragment's IP id and length, written
 * by sip-alg-pre as it sends the fragment to reassembly; once sip-alg-post split a datagram,
 * the buffer index of its next fragment.
 */
#define SIP_ALG_FRAG_WORD 5
/* Fragments of one datagram at most: a datagram needing more leaves whole */
#define SIP_ALG_FRAG_MAX_N 128
STATIC_ASSERT (sizeof (sip_alg_stash_t) <= SIP_ALG_FRAG_WORD * sizeof (u32),
	       "stash overlaps the fragment word");
STATIC_ASSERT (SIP_ALG_FRAG_WORD < ARRAY_LEN (((vnet_buffer_opaque2_t *) 0)->unused),
	       "stash does not fit in opaque2");

/* sip_alg_frag.c; the stash and the fragment word's accessors are in sip_alg_inlines.h */
u32 sip_alg_frag_limit (vlib_main_t *vm, vlib_buffer_t *b);
u32 sip_alg_frag_split (vlib_main_t *vm, u32 bi, u32 size);

typedef enum
{
  SIP_ALG_APP_SIP = 0,
  SIP_ALG_APP_RTP,
  SIP_ALG_APP_RTCP,
  SIP_ALG_N_APPS,
} sip_alg_app_t;

typedef enum
{
  SIP_ALG_DIR_NONE = 0,
  SIP_ALG_DIR_IN2OUT,
  SIP_ALG_DIR_OUT2IN,
} sip_alg_dir_t;

/*
 * A pinhole as requested by a worker, and the head of its server-map entry
 * (sip_alg_smap_t.ph). 28 bytes: the flags are bits, and what would be padding holds the
 * entry's own state, 0 in a request.
 */
typedef struct
{
  ip4_address_t pub_addr; /* ANY -> pub_addr:pub_port */
  ip4_address_t in_addr;  /* [in_addr:in_port], 0.0.0.0 for an outside party's endpoint */
  u16 pub_port;
  u16 in_port;
  u8 app : 2;	      /* sip_alg_app_t */
  u8 nat_mapping : 1; /* realise as a NAT44-ED static mapping */
  u8 bound : 1;	      /* REGISTER binding: lives for `timeout`, not with a call */
  u8 shared : 1;      /* a call's own signaling entry: held by reference, see sip_alg_smap_t */
  u8 tcp : 1;	      /* a signaling endpoint of SIP over TCP: a record, the connection carries it */
  u8 moved : 1;	      /* a phone's signaling moved to a pool port (pub_port), given back with it */
  u8 own : 1;	      /* media on the phone's own NAT mapping (STUN): the port is not the pool's */
  /* the entry's (sip_alg_smap_t) */
  u8 counted : 1;      /* counted in its record's n_entries and linked in its list */
  u8 installed : 1;    /* the NAT static mapping exists */
  u8 one_way_done : 1; /* an RTP entry's stream: counted one-way (media_one_way), or media
			  came both ways (it never can be): the aging pass looks no more */
  u16 call_thread;     /* the entry's: its call record's thread */
  union
  {
    u32 timeout; /* a request's: seconds (media: before the call is established) */
    u32 made;	 /* an entry's: vlib time (s) it was made; media activity counts from it */
  };
  u32 in_fib;  /* IPv4 FIB index of the inside party (its VRF: NAT44-ED's vrf_id) */
  u32 out_fib; /* ... and of the outside */
} sip_alg_pinhole_t;

STATIC_ASSERT (sizeof (sip_alg_pinhole_t) == 28, "pinhole: 28 bytes");

/*
 * Server-map entry (main thread). Media entries and the outside party's records belong to
 * one call record (and one of its dialogs, call_epoch) and are listed in it. A call's own
 * signaling entry (ANY -> public:port of the phone, ph.shared) is one per phone, and every
 * call of that phone holds a reference to it (refs; the record keeps sig_entry/sig_gen):
 * it goes with the last of them, not with whichever call ends first. The entry's flags
 * (counted, installed, one_way_done), its record's thread and the second it was made are
 * in ph. 56 bytes.
 */
typedef struct
{
  sip_alg_pinhole_t ph;
  u32 call_index; /* call record on ph.call_thread, ~0 for none */
  u32 call_next;  /* next entry of that record (sip_alg_call_t.entries), ~0: last */
  u32 call_epoch; /* that record's dialog it was opened for */
  u32 refs;	  /* shared signaling entry: call records holding it */
  u32 gen;	  /* creation number: a record's reference names the entry it took */
  f64 expires;
} sip_alg_smap_t;

STATIC_ASSERT (sizeof (sip_alg_smap_t) == 56, "server-map entry: 56 bytes");

/*
 * The server map's index (sip_alg_index.c): one open-addressed table (linear probing) of
 * 32-bit slots, each naming an entry under one of its keys, so a key costs 4 bytes and the
 * entry itself is what a lookup compares. A slot is (entry index + 1) << 8 | tag << 2 |
 * kind, the tag the low 6 bits of the key's hash (most slots of other keys are passed over
 * without reading their entry; the high bits pick the first slot); 0 is empty. The main
 * thread changes it with the barrier held (as it does the server map), so any thread reads
 * it, and the entries, without locks.
 *   PUB     every entry, by its public end (address, port): the server-map key
 *           (sip_alg_smap_key), the gate (an installed entry), the public signaling endpoint
 *   INSIDE  an installed media entry's inside end (address, port, FIB): media activity (the
 *           first entry of an inside end; NAT refuses a second mapping of it anyway)
 *   SIG_IN  a signaling entry's inside end (address, port): the inside signaling endpoint
 */
#define SIP_ALG_IX_PUB	      0
#define SIP_ALG_IX_INSIDE     1
#define SIP_ALG_IX_SIG_IN     2
#define SIP_ALG_IX_MIN	      64	 /* slots at least */
/* the slot a hash h starts at in a table of n slots (any n: tables grow by half) */
#define sip_alg_ix_home(h, n) ((u32) (((u64) (h) * (n)) >> 32))
#define SIP_ALG_IX_MAX_ENTRY  0xfffffe /* the highest entry index a slot can name */

/*
 * Per thread and server-map entry, kept by sip-alg-pre on the thread that received the
 * packet (before NAT44-ED's handoff); readers sum the threads with the barrier held. Each
 * thread grows its vectors itself, to the entry it first counts (a thread that never sees
 * a pinhole's packets holds nothing); the main thread zeroes an entry's where they reach
 * when it makes the entry.
 *
 * Media: packets to its public end (outside -> inside) and from its inside end (inside ->
 * outside), and when the first and the last of each came. 32 bytes, one cache line written
 * per media packet.
 */
#define SIP_ALG_MEDIA_IN2OUT 0
#define SIP_ALG_MEDIA_OUT2IN 1

typedef struct
{
  u64 packets[2]; /* [SIP_ALG_MEDIA_IN2OUT], [SIP_ALG_MEDIA_OUT2IN] */
  u32 first[2];	  /* sip_alg_media_clock () of the first packet each way, 0: none */
  u32 last[2];	  /* ... and of the last */
} sip_alg_media_act_t;

STATIC_ASSERT (sizeof (sip_alg_media_act_t) == 32, "media activity: two per cache line");

/* The gate: packets and bytes it let in to the entry, and the last outside party. */
typedef struct
{
  u64 packets, bytes;
  ip4_address_t addr;
  u16 port; /* network order */
} sip_alg_gate_act_t;


/*
 * A media stream of a call (an m= line of the inside party): its RTP entry and the RTCP
 * entry of the pair, their packets summed over both entries and every thread (main thread).
 */
typedef struct
{
  u32 rtp, rtcp;	  /* server-map indexes, rtcp ~0: none */
  u64 packets[2];	  /* SIP_ALG_MEDIA_IN2OUT, SIP_ALG_MEDIA_OUT2IN */
  u32 first[2], last[2]; /* sip_alg_media_clock (), 0: none */
} sip_alg_stream_t;

/*
 * A media stream of the inside party and its public port pair. Offer/answer (RFC 3264):
 * a stream is LIVE in the session last agreed, OFFERED in the inside party's offer that
 * awaits its answer. When the answer comes, streams no longer in the session are released
 * (their pinholes and ports), so a call's streams are those of at most two descriptions.
 */
#define SIP_ALG_MEDIA_LIVE    (1 << 0)
#define SIP_ALG_MEDIA_OFFERED (1 << 1)
#define SIP_ALG_MEDIA_OWN     (1 << 2) /* pub_port is the phone's own NAT mapping, not a pair */

typedef struct
{
  ip4_address_t in_addr;
  u16 in_port;
  u16 pub_port; /* RTP; RTCP is pub_port + 1 */
  u8 flags;	/* SIP_ALG_MEDIA_* */
  u8 slot;	/* the media pool's slot of pub_port (sip_alg_media_slot): its public
		   address; 0 (and every OWN stream): the signaling's public address */
} sip_alg_media_map_t;

/*
 * SIP over TCP: a connection a worker follows (sip_alg_tcp.c), by its inside and outside
 * ends. Its bytes and sequence number corrections are the stream engine's
 * (core/sip_tcp.h: sip_tcp_conn_t).
 */
typedef struct
{
  u32 in_addr, peer_addr; /* network order */
  u16 in_port, peer_port; /* network order */
} sip_alg_tcp_key_t;

typedef struct
{
  sip_alg_tcp_key_t *key; /* heap copy: the key of tcp_by_key (pool elements move) */
  sip_tcp_conn_t stream;  /* the stream engine's (core/sip_tcp.h); closing: freed by aging */
  f64 last_seen;
} sip_alg_tcp_conn_t;

/*
 * Call record (per worker), one per Call-ID. A record can carry several dialogs in turn:
 * a new INVITE on the Call-ID of a call that failed (a 401/407 challenge, then the INVITE
 * again with credentials) or ended starts a new epoch; requests to the main thread name
 * the epoch, so a close still queued for the old dialog leaves the new one alone. 136
 * bytes: its first media stream and dialog tag are in it; a call with more has a side
 * part (sip_alg_call_ext_t, sip_alg_call_media / sip_alg_call_tags find them).
 */
typedef struct
{
  u8 *call_id; /* vector, the record's key: the inside FIB index (u32), then the Call-ID */
  f64 created;
  f64 last_seen;
  sip_call_fsm_t fsm;
  u32 offer_cseq; /* the inside party's offer awaiting its answer: its CSeq, 0: none */
  u32 epoch;	  /* dialogs before the current one */
  u32 callee_tag; /* hash of the callee's tag of the answered dialog, 0: not answered */
  /*
   * hashes of the callee tags of the dialogs its INVITE made (101-299 responses), the
   * answered one's too: a BYE of one of the others is not the call's (the newest kept);
   * the first here, all in the side part once there is a second
   */
  u32 dialog_tag;
  u32 entries;	 /* the first of its server-map entries (sip_alg_smap_t.call_next), ~0: none */
  u32 sig_entry; /* the shared signaling entry it holds (main thread), ~0: none */
  u32 sig_gen;	 /* ... its sip_alg_smap_t.gen */
  ip4_address_t in_addr, pub_addr, peer_addr;
  u32 out_fib; /* IPv4 FIB index of the outside (the inside party's is the key's) */
  u32 n_msgs;
  u32 bind_expires; /* REGISTER binding lifetime (s) */
  u32 ext;	    /* its side part (sip_alg_per_thread_t.call_ext), ~0: none */
  f32 confirmed;    /* the 2xx to its INVITE, seconds after created; < 0: not yet */
  u16 in_port, pub_port, peer_port;
  u16 n_entries;	   /* server-map entries of this record (main thread, barrier) */
  u8 n_media;		   /* media streams (sip_alg_call_media) */
  u8 offer_method;	   /* the method of the offer awaiting its answer (offer_cseq) */
  u8 n_dialog_tags : 3;	   /* dialog tags (sip_alg_call_tags) */
  u8 closed : 1;	   /* close requested, main thread frees it */
  u8 inbound : 1;	   /* created by an outside request (counted per source) */
  sip_alg_media_map_t media; /* the first media stream, while there is no side part */
} sip_alg_call_t;

STATIC_ASSERT (sizeof (sip_alg_call_t) == 136, "call record: 136 bytes");

/* A call record's side part: its media streams and dialog tags once there are more. */
typedef struct
{
  sip_alg_media_map_t media[SIP_ALG_CALL_MAX_MEDIA];
  u32 dialog_tags[SIP_ALG_CALL_MAX_DIALOGS];
} sip_alg_call_ext_t;

/*
 * The settings, one struct per section of sipalgctl's YAML (sip_alg.timeouts, .limits,
 * .security, .media), each set whole by one setter (sip_alg_set_timeouts, _limits,
 * _security, _media), one API set/get message pair and one CLI command.
 */

/* Timers in seconds (`set sip-alg timeouts`) */
typedef struct
{
  u32 signaling;	/* a call being set up ends this long after its last message */
  u32 media;		/* a media entry no live call holds */
  u32 call;		/* an established call's signaling silence */
  u32 media_inactivity; /* an established call's media silence: its media entries go, 0: off */
  u32 max_duration;	/* a call record ends this long after its first INVITE, 0: off */
  u32 one_way_media;	/* a stream with media one way only this long is flagged, 0: off */
} sip_alg_timeouts_t;

/* Table sizes (`set sip-alg limits`) */
typedef struct
{
  u32 max_calls;		    /* call records (and SIP TCP connections) per worker */
  u32 max_held;			    /* messages held for their pinholes per thread */
  u16 media_port_lo, media_port_hi; /* public media port pairs, lo even, on each address */
  u32 tcp_reassembly;		    /* bytes of an incomplete message kept per direction */
} sip_alg_limits_t;

/* Where media pinholes are opened (`set sip-alg media`) */
typedef struct
{
  ip4_address_t addrs[SIP_ALG_MAX_MEDIA_ADDRS]; /* public addresses, none: the signaling's */
  u8 n_addrs;
  u8 other_hosts; /* media pinholes for other inside hosts of the SDP */
} sip_alg_media_t;

/* Security limits: what attacker-controlled bytes may make the ALG keep or open
 * (`set sip-alg security`). */
typedef struct
{
  u32 max_inbound_calls;	      /* records outside requests may create, per worker */
  u32 max_inbound_per_source;	      /* ... of them from one outside address */
  u32 max_binding_time;		      /* cap on a registrar's Expires (s) */
  u32 max_entries;		      /* server-map entries in total */
  u32 max_entries_per_call;	      /* server-map entries of one call record */
  u16 inside_port_lo, inside_port_hi; /* inside ports a media pinhole may lead to */
  u32 max_calls_per_host;	      /* call records of one inside host, per worker, 0: off */
  u32 max_entries_per_host;	      /* server-map entries towards one inside host, 0: off */
} sip_alg_security_t;

/*
 * Validation: what happens to a message the ALG finds malformed, blocks or rate-limits.
 * Every verdict is counted. Malformed classes (their counters): parse (parse_error,
 * truncated), header (header_error), sdp (sdp_error), too_many (too_many). Action pass:
 * the message goes on untouched (no rewrite, no state); drop: it is dropped (a UDP
 * datagram) or cut out of the stream (a TCP message, the sequence numbers corrected), and
 * counted again in malformed_drop. Strict mode also holds to RFC 3261 what the lenient
 * parser accepts and counts (`lenient`): bare LF line ends, blank lines before the start
 * line, bytes after the body, a datagram without Content-Length or blank line (parse
 * class), and a request without Max-Forwards (header class; the parser refuses a message
 * without Via, From, To, Call-ID or CSeq, or a request whose CSeq method is not its own,
 * in both modes).
 */
typedef enum
{
  SIP_ALG_CLASS_PARSE = 0,
  SIP_ALG_CLASS_HEADER,
  SIP_ALG_CLASS_SDP,
  SIP_ALG_CLASS_TOO_MANY,
  SIP_ALG_N_CLASSES,
} sip_alg_class_t;

#define SIP_ALG_ACTION_PASS 0
#define SIP_ALG_ACTION_DROP 1

/* A token bucket of one source address (per worker, one table per rate-limited method). */
typedef struct
{
  u32 addr; /* network order, 0: free */
  f32 tokens;
  f64 last;
} sip_alg_bucket_t;

typedef struct
{
  u32 rate;  /* requests per second per source address, 0: off */
  u32 burst; /* bucket depth (requests) */
} sip_alg_rate_t;

#define SIP_ALG_RATE_INVITE   0
#define SIP_ALG_RATE_REGISTER 1
#define SIP_ALG_N_RATES	      2

typedef struct
{
  u8 strict;
  u8 action[SIP_ALG_N_CLASSES]; /* SIP_ALG_ACTION_* */
  u32 block_methods; /* requests from outside dropped: bit (1 << sip_method_t) */
  sip_alg_rate_t rate[SIP_ALG_N_RATES]; /* INVITE, REGISTER, per source address and worker */
} sip_alg_validation_t;

/*
 * A call record just freed (its BYE answered, its CANCEL or failure done): a late copy of
 * one of its INVITEs (held by a relay or the network past the BYE) must not start a record
 * again. Kept per worker, direct mapped, for an INVITE transaction's life (64 x T1, RFC 3261
 * 17.1.1.2).
 */
#define SIP_ALG_CLOSED_N   256
#define SIP_ALG_CLOSED_TTL 32 /* seconds */

typedef struct
{
  u64 hash; /* of the call key (the FIB and the Call-ID) */
  u32 cseq; /* the highest CSeq of its INVITEs */
  u32 until; /* vlib time (s) */
} sip_alg_closed_t;

/*
 * A phone's public mapping of one of its ports, seen as its STUN request crossed NAT44-ED
 * on this thread (NAT44-ED handles an inside host's flows on one worker, its SIP too).
 */
typedef struct
{
  ip4_address_t pub_addr, in_addr;
  u16 pub_port, in_port; /* host order */
  u32 in_fib;
  u32 seen; /* vlib time (s) + 1; 0: empty */
} sip_alg_own_map_t;

typedef struct
{
  CLIB_CACHE_LINE_ALIGN_MARK (cacheline0);
  sip_alg_gate_act_t *gate_act;	  /* per server-map index: the gate on this thread */
  sip_alg_media_act_t *media_act; /* per server-map index: its media on this thread */
  sip_alg_call_t *calls; /* pool */
  sip_alg_call_ext_t *call_ext; /* pool: call records' side parts */
  u32 *call_ix;		 /* Call-ID index: slots (call index + 1) << 6 | tag, 0: empty */
  u32 call_ix_n;	 /* its slots in use */
  u8 *call_key;		 /* a message's key, built in place for the lookup */
  u32 media_next;	 /* media pair this thread tries first (round robin) */
  u32 media_slot_next;	 /* media address (pool slot - 1) its next call tries first */
  u32 n_calls;		 /* pool_elts (calls), readable without the barrier */
  u32 n_inbound;	 /* records created by outside requests */
  u32 n_held;		 /* its messages held for their pinholes (atomic: main thread too) */
  sip_alg_tcp_conn_t *tcp_conns; /* pool: SIP over TCP connections of this worker */
  uword *tcp_by_key;		 /* sip_alg_tcp_key_t -> pool index */
  u32 n_tcp_conns;		 /* pool_elts (tcp_conns), readable without the barrier */
  sip_tcp_bytes_t tcp_out;	 /* rewritten stream bytes of one segment */
  u8 *linear;			 /* a chained datagram copied into one piece */
  u8 *frag_data;		 /* a datagram being split into fragments */
  sip_alg_own_map_t *own_map;	 /* SIP_ALG_OWN_MAP_SIZE phones' mappings learned from STUN */
  sip_alg_closed_t closed[SIP_ALG_CLOSED_N]; /* records just freed (main thread writes them) */
  uword *inbound_by_src; /* outside address (u32, network order) -> such records */
  uword *calls_by_host;	 /* inside host (sip_alg_host_key) -> call records */
  sip_alg_bucket_t *buckets[SIP_ALG_N_RATES]; /* SIP_ALG_RATE_BUCKETS each, direct mapped */
  u8 *scratch; /* rewrite output */
  sip_hdr_t hdrs[SIP_ALG_MAX_HDRS];
  sip_site_t sites[SIP_ALG_MAX_SITES];
  sip_edit_t edits[SIP_ALG_MAX_EDITS];
} sip_alg_per_thread_t;

/* An interface's feature configurations on ip4-unicast (sip_alg_chain.c) */
typedef struct
{
  u32 start;  /* the interface's own (user index), as it was when the second was made */
  u32 shadow; /* the second, with sip-alg-post; ~0: none */
  u32 same;   /* words of the two strings that are the same, from the start */
} sip_alg_chain_t;

typedef struct
{
  /* configuration */
  u16 udp_ports[SIP_ALG_MAX_PORTS]; /* network byte order */
  u8 n_udp_ports;
  u16 tcp_ports[SIP_ALG_MAX_PORTS]; /* network byte order */
  u8 n_tcp_ports;
  sip_alg_timeouts_t timeouts;
  sip_alg_limits_t limits;
  sip_alg_media_t media;
  uword *if_enabled;	/* bitmap of sw_if_index */

  sip_alg_security_t sec;
  sip_alg_validation_t val;
  /* published SIP servers: inside (addr, port in host order) of operators' static mappings */
  ip4_address_t server_addr[SIP_ALG_MAX_SERVERS];
  u16 server_port[SIP_ALG_MAX_SERVERS];
  u8 n_servers;
  uword *entries_by_host; /* inside host (sip_alg_host_key) -> server-map entries (main) */

  /*
   * The gate: sip-alg-pre runs before the ACL plugin's input node (the firewall's security
   * policy) on the ip4-unicast arc. On an interface that is a NAT44-ED outside interface
   * (gate_if), a UDP packet to the public address and port of an installed pinhole (the
   * index's PUB slots, sip_alg_ix_gate; ports with one have a bit in gate_ports) is sent
   * past acl-plugin-in-ip4-fa to the feature
   * after it, where NAT44-ED translates it by the pinhole's static mapping. A packet to the
   * media port range or to a pinhole port that matches no live entry goes to the ACL as
   * any other packet and is counted (gate_miss).
   *
   * Skipping a feature: the config string holds each feature's next index relative to the
   * feature before it, so the index read past the ACL is relative to the ACL node;
   * gate_next_by_acl_next maps it to sip-alg-pre's own next to the same node (built on the
   * main thread whenever a feature changes; ~0 where not built yet: no bypass).
   */
  uword *gate_ports;
  u32 *gate_port_refs;
  uword *gate_if;
  u32 *gate_next_by_acl_next;
  u32 pre_next_acl; /* sip-alg-pre's next index to the ACL input node, ~0: none */
  u8 gate_media;    /* a gate interface has the ACL's input node: media range looked at */
  u32 pre_next_reass;	 /* sip-alg-pre -> ip4-full-reassembly-custom */
  /*
   * sip-alg-post is on no interface's feature configuration: per interface with the ALG
   * (by sw_if_index), a second configuration with it, onto which sip-alg-pre moves the
   * packets it marks (sip_alg_chain.c)
   */
  sip_alg_chain_t *chains;
  u32 post_feature_index; /* sip-alg-post's feature index on ip4-unicast */
  u8 arc_index;		  /* ip4-unicast */
  u32 reass_custom_next; /* that node's next to ip4-input (the whole datagram) */
  u32 *ix;   /* the server map's index: slots, a power of 2 (SIP_ALG_IX_*) */
  u32 ix_n;  /* slots in use */

  /*
   * Media ports, shared by all threads: one bit per public address and port pair (RTP
   * even, RTCP +1), in slots of media_words words, one per address: slot 0 for the
   * signaling's public address (NAT44-ED's, whichever it is: today's pool when no media
   * address is set; with them, only for a phone's signaling moved to a pool port on an
   * address that is not one of them), slot s for media.addrs[s - 1]. Bit i of a slot =
   * ports media_port_lo + 2i, +1. Workers take and give back bits with atomic operations,
   * so any worker can use the whole range. Bits past the range are set.
   */
  u64 *media_pairs;
  u32 n_media_pairs; /* per slot */
  u32 media_words;   /* per slot */

  /*
   * Signaling endpoints of the server map: the inside (addr, port) and public (addr, port)
   * of every `sip` pinhole. A UDP packet to or from one of them is inspected as SIP even
   * when neither port is a configured SIP port (an in-dialog request from a new remote to a
   * phone's Contact, and the phone's answer). Written by the main thread only.
   *
   * cand_ports: a bit per UDP port worth a look, indexed by the port in network byte order
   * as it is in the packet (8 KB, allocated once at init, cache resident): the configured
   * SIP ports and the ports of signaling endpoints. sip-alg-pre tests it first, so a packet
   * on other ports costs two bit tests; a hit is confirmed against the SIP ports, then the
   * index (a `sip` entry with that public end, PUB, or inside end, SIG_IN).
   */
  uword *cand_ports;
  /*
   * look[protocol]: sip-alg-pre's first and only test on most packets, a bit per port
   * (network order) tested for the source and the destination port. UDP: cand_ports |
   * gate_ports | the media range; TCP: the SIP TCP ports; every other protocol shares one
   * empty bitmap. Kept by sip_alg_look_update / sip_alg_look_rebuild on the main thread.
   */
  uword *look[256];
  uword *look_none;
  u32 *sig_port_refs; /* signaling endpoints per port (main thread only) */
  /*
   * Media activity (media inactivity timer): the index holds the inside end of every
   * installed media entry (INSIDE); inside_ports has a bit per inside port of one
   * (references in inside_port_refs), so sip-alg-pre looks at packets from it.
   */
  uword *inside_ports;
  u32 *inside_port_refs;
  /* phones whose signaling moved to a pool port: inside addr << 32 | port -> entry index */
  uword *moved_by_in;

  /* state */
  u8 initialized;
  sip_alg_per_thread_t *per_thread;
  sip_alg_smap_t *smap; /* pool, main thread */
  u32 smap_gen;		/* entries made so far (sip_alg_smap_t.gen) */
  u32 process_node_index;
  u32 error_drop_node_index;

  u16 msg_id_base;
  vlib_main_t *vlib_main;
  vlib_log_class_t log_class;

  /* the NAT whose translations the ALG follows and whose mappings are its pinholes */
  const struct sip_alg_nat *nat;

  /* the main thread's share (show sip-alg main-thread): CPU clocks */
  struct
  {
    u64 batches, requests;	   /* request batches: one barrier each */
    u64 deferred;		   /* batches cut short by the barrier budget */
    u64 batch_clocks;		   /* barrier held for them (from taken), in total */
    u64 batch_max;		   /* ... and at most */
    u64 nat_add, nat_add_clocks; /* NAT44-ED static mappings added */
    u64 nat_del, nat_del_clocks; /* ... and deleted */
    u64 ages;			   /* aging scans that took the barrier */
    u64 age_slices, age_clocks; /* their slices (a scan, deletes): one barrier each, held */
    u64 age_max;		   /* the longest slice (the barrier held, not waited for) */
    u64 ix_resizes, ix_resize_clocks; /* the server map's index placed again, all at once */
    u64 ix_resize_max;		      /* ... the longest */
  } mt;
} sip_alg_main_t;

extern sip_alg_main_t sip_alg_main;
extern vlib_node_registration_t sip_alg_pre_node;
extern vlib_node_registration_t sip_alg_post_node;
extern vlib_node_registration_t sip_alg_process_node;

/*
 * The plugin's counters (sip_alg.api's `counters sip_alg`) are one set, sip-alg-post's error
 * counters: `show sip-alg counters`, `show errors` under sip-alg-post, /err/sip-alg-post/<name>
 * in the stats segment. Every part of the plugin counts there: sip-alg-post, sip-alg-pre
 * (which registers no counters of its own), and the main thread (this helper).
 */
static inline void
sip_alg_count (u32 counter, u64 n)
{
  vlib_node_increment_counter (vlib_get_main (), sip_alg_post_node.index, counter, n);
}

/* Core functions: CLI, binary API and tests call these. */
int sip_alg_interface_enable_disable (u32 sw_if_index, int enable);
void sip_alg_chain_init (sip_alg_main_t *sam);
void sip_alg_chain_update (sip_alg_main_t *sam, u32 sw_if_index);
format_function_t format_sip_alg_chain;
int sip_alg_set_udp_ports (const u16 *ports, u32 n);
int sip_alg_set_tcp_ports (const u16 *ports, u32 n);
void sip_alg_tcp_conn_free (sip_alg_per_thread_t *ptd, sip_alg_tcp_conn_t *tc);
u64 sip_alg_tcp_conn_bytes (const sip_alg_tcp_conn_t *tc);
/*
 * The setters of the sections (main thread): each takes the whole section, refuses a value
 * out of its bounds with VNET_API_ERROR_* and, when why is given, a vector naming the field
 * and the value (the caller frees it), and then changes nothing.
 */
int sip_alg_set_timeouts (const sip_alg_timeouts_t *t, u8 **why);
int sip_alg_set_limits (const sip_alg_limits_t *l, u8 **why);
int sip_alg_set_security (const sip_alg_security_t *s, u8 **why);
int sip_alg_set_media (const sip_alg_media_t *m, u8 **why);
void sip_alg_get_security (sip_alg_security_t *s);
int sip_alg_media_range_layout (sip_alg_main_t *sam, u16 lo, u16 hi, const ip4_address_t *addrs,
				u32 n);
int sip_alg_set_validation (const sip_alg_validation_t *v);
void sip_alg_host_count (uword **h, uword key, int delta);

/* The gate and sip-alg-pre's port bitmaps, kept by the main thread (sip_alg_gate.c). */
void sip_alg_gate_add_del (sip_alg_main_t *sam, const sip_alg_smap_t *e, int is_add);
void sip_alg_cand_port_update (sip_alg_main_t *sam, u16 port_net);
void sip_alg_look_rebuild (sip_alg_main_t *sam);
void sip_alg_feature_update (u32 sw_if_index, u8 arc_index, u8 is_enable, void *data);
/* Per-thread state, tables, the NAT backend, reassembly: when first enabled (sip_alg.c). */
void sip_alg_lazy_init (sip_alg_main_t *sam);

/* Called by the node (worker) -> RPC to the main thread. */
void sip_alg_request_pinholes (u32 thread, u32 call_index, u32 epoch, const sip_alg_pinhole_t *ph,
			       u32 n, u8 replace_outside, u32 held_bi, u32 next_node_index,
			       ip4_address_t peer_addr, u16 peer_port, u8 resendable);
int sip_alg_set_servers (const ip4_address_t *addr, const u16 *port, u32 n);
void sip_alg_request_close_call (u32 thread, u32 call_index, u32 epoch, u8 media_only);
void sip_alg_request_move (u32 thread, ip4_address_t pub_addr, u16 pub_port, ip4_address_t in_addr,
			   u16 in_port, u32 in_fib, u32 out_fib, ip4_address_t peer_addr,
			   u16 peer_port);
u32 sip_alg_fib_table_id (u32 fib_index);
format_function_t format_sip_alg_vpn;
void sip_alg_request_release_media (u32 thread, u32 call_index, u32 epoch,
				    const ip4_address_t *pub_addrs, const u16 *pub_ports, u32 n);

/* The media pool (sip_alg_ports.c); slots: sip_alg_main_t.media_pairs */
#define SIP_ALG_MEDIA_SLOT_ANY 0xff /* sip_alg_media_pair: the thread's next address */
u16 sip_alg_media_port_alloc (sip_alg_main_t *sam, sip_alg_per_thread_t *ptd, u32 slot);
void sip_alg_media_port_free (sip_alg_main_t *sam, u32 slot, u16 pub_port);
u16 sip_alg_media_pair (sip_alg_main_t *sam, sip_alg_per_thread_t *ptd, u8 *slot,
			ip4_address_t sig_pub);
u32 sip_alg_media_ports_in_use (sip_alg_main_t *sam);
u32 sip_alg_media_slot_in_use (sip_alg_main_t *sam, u32 slot);
int sip_alg_media_pool_layout (sip_alg_main_t *sam, u16 lo, u16 hi, u32 n_addrs);

/* The pool slot of public address a: its media address's, else 0. */
static inline u32
sip_alg_media_slot (const sip_alg_main_t *sam, ip4_address_t a)
{
  for (u32 i = 0; i < sam->media.n_addrs; i++)
    if (sam->media.addrs[i].as_u32 == a.as_u32)
      return i + 1;
  return 0;
}

/* The public address of pool slot s; slot 0: the signaling's, sig_pub. */
static inline ip4_address_t
sip_alg_media_slot_addr (const sip_alg_main_t *sam, u32 slot, ip4_address_t sig_pub)
{
  return slot ? sam->media.addrs[slot - 1] : sig_pub;
}

#define SIP_ALG_CALL_KEY_FIB sizeof (u32) /* the call key's FIB index before the Call-ID */

f64 sip_alg_call_deadline (sip_alg_main_t *sam, sip_alg_call_t *c);
u32 sip_alg_call_media_idle (sip_alg_main_t *sam, sip_alg_call_t *c, f64 now);
u32 sip_alg_call_streams (sip_alg_main_t *sam, sip_alg_call_t *c, sip_alg_stream_t *s, u32 max);
int sip_alg_stream_one_way (sip_alg_main_t *sam, sip_alg_call_t *c, const sip_alg_stream_t *s,
			    f64 now);

/* The server map's index (sip_alg_index.c; lookups in sip_alg_inlines.h). Barrier held. */
void sip_alg_ix_init (sip_alg_main_t *sam);
void sip_alg_ix_add (sip_alg_main_t *sam, u32 entry, u32 kind);
int sip_alg_ix_del (sip_alg_main_t *sam, u32 entry, u32 kind);

format_function_t format_sip_alg_smap;
format_function_t format_sip_alg_call;
format_function_t format_sip_alg_stream;
format_function_t format_sip_alg_app;

/* A call record's inside FIB index: its key's first word. */
static_always_inline u32
sip_alg_call_in_fib (const sip_alg_call_t *c)
{
  return clib_mem_unaligned (c->call_id, u32);
}

/* When a call was answered (vlib time), 0: not yet. */
static_always_inline f64
sip_alg_call_confirmed (const sip_alg_call_t *c)
{
  return c->confirmed < 0 ? 0 : c->created + c->confirmed;
}

/*
 * A call record's media streams (n_media) and dialog tags (n_dialog_tags), ptd its thread's:
 * in the record, or in its side part once it has one. sip_alg_call_media_add makes room for
 * one more stream (0: the record has SIP_ALG_CALL_MAX_MEDIA): earlier pointers into them
 * do not hold after it, nor after sip_alg_call_tag_add.
 */
static_always_inline sip_alg_media_map_t *
sip_alg_call_media (sip_alg_per_thread_t *ptd, sip_alg_call_t *c)
{
  return c->ext == ~0 ? &c->media : ptd->call_ext[c->ext].media;
}

static_always_inline u32 *
sip_alg_call_tags (sip_alg_per_thread_t *ptd, sip_alg_call_t *c)
{
  return c->ext == ~0 ? &c->dialog_tag : ptd->call_ext[c->ext].dialog_tags;
}

void sip_alg_call_ext_get (sip_alg_per_thread_t *ptd, sip_alg_call_t *c);
void sip_alg_call_ext_put (sip_alg_per_thread_t *ptd, sip_alg_call_t *c);

static_always_inline sip_alg_media_map_t *
sip_alg_call_media_add (sip_alg_per_thread_t *ptd, sip_alg_call_t *c)
{
  if (c->n_media >= SIP_ALG_CALL_MAX_MEDIA)
    return 0;
  if (c->n_media && c->ext == ~0)
    sip_alg_call_ext_get (ptd, c);
  return sip_alg_call_media (ptd, c) + c->n_media++;
}

/*
 * pool_get_zero for the pools that grow with calls (call records, their side parts, the
 * server map): a full pool grows by an eighth, allocated exactly (sip_alg_pool_grow), where
 * VPP's own growth allocates half as much again each time.
 */
void sip_alg_pool_grow (void **pp, uword elt_sz, uword align);
void sip_alg_vec_grow (void **vp, uword n, uword elt_sz, uword align);
#define sip_alg_pool_get_zero(P, E)                                                           \
  do                                                                                          \
    {                                                                                         \
      if (pool_get_will_expand (P))                                                           \
	sip_alg_pool_grow ((void **) &(P), sizeof ((P)[0]), _vec_align (P, 0));                 \
      pool_get_zero (P, E);                                                                   \
    }                                                                                         \
  while (0)

/* The Call-ID index (sip_alg_index.c): the record of a key, ~0: none; add and delete. */
u32 sip_alg_call_ix_find (sip_alg_per_thread_t *ptd, const u8 *key, u32 len);
void sip_alg_call_ix_add (sip_alg_per_thread_t *ptd, u32 call_index);
void sip_alg_call_ix_del (sip_alg_per_thread_t *ptd, u32 call_index);
#define SIP_ALG_CALL_IX_MAX 0x3fffffe /* the highest call index a slot can name */

#endif /* __included_sip_alg_h__ */
