/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * The SIP message path of sip-alg-post: one message (a datagram, or a message framed out of
 * a TCP stream) validated, parsed, stepped through its call record's state machine, given
 * the pinholes and media ports it needs, and rewritten into the caller's buffer; then, once
 * its bytes are placed, its requests to the main thread (sip_alg_message_commit).
 */

#include <strings.h>
#include <arpa/inet.h>

#include <vnet/vnet.h>
#include <vnet/ip/ip4.h>
#include <vnet/fib/ip4_fib.h>
#include <vnet/dpo/load_balance.h>
#include <vnet/adj/adj.h>

#include <sip_alg/sip_alg_msg.h>

/*
 * A malformed message whose class counter is ctr: its class's action (sip_alg_validation_t).
 * Pass leaves c->error = ctr for the caller to count; drop counts ctr here and makes the
 * verdict malformed_drop.
 */
void
sip_alg_malformed (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_ctx_t *c, u32 ctr)
{
  sip_alg_class_t cls;
  c->error = ctr;
  switch (ctr)
    {
    case SIP_ALG_ERROR_PARSE_ERROR:
    case SIP_ALG_ERROR_TRUNCATED:
      cls = SIP_ALG_CLASS_PARSE;
      break;
    case SIP_ALG_ERROR_HEADER_ERROR:
      cls = SIP_ALG_CLASS_HEADER;
      break;
    case SIP_ALG_ERROR_SDP_ERROR:
      cls = SIP_ALG_CLASS_SDP;
      break;
    case SIP_ALG_ERROR_TOO_MANY:
      cls = SIP_ALG_CLASS_TOO_MANY;
      break;
    default:
      return; /* not the sender's fault (no_space): passes */
    }
  if (sam->val.action[cls] != SIP_ALG_ACTION_DROP)
    return;
  vlib_node_increment_counter (vm, sip_alg_post_node.index, ctr, 1);
  c->error = SIP_ALG_ERROR_MALFORMED_DROP;
  c->drop = 1;
}

/* Does the request's source still have a token for its method? (per worker) */
static_always_inline int
sip_alg_rate_ok (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_per_thread_t *ptd,
		 sip_alg_ctx_t *c, u32 k)
{
  const sip_alg_rate_t *r = &sam->val.rate[k];
  if (!r->rate)
    return 1;
  u32 src = c->dir == SIP_ALG_DIR_IN2OUT ? c->in_addr.as_u32 : c->peer_addr.as_u32;
  u32 slot = (u32) (src * 0x9e3779b1u) >> (32 - min_log2 (SIP_ALG_RATE_BUCKETS));
  sip_alg_bucket_t *bk = &ptd->buckets[k][slot];
  f64 now = vlib_time_now (vm);
  if (bk->addr != src)
    {
      /* a new source, or one that takes the slot of another: a full bucket */
      bk->addr = src;
      bk->tokens = r->burst;
    }
  else
    bk->tokens = clib_min ((f64) r->burst, bk->tokens + (now - bk->last) * r->rate);
  bk->last = now;
  if (bk->tokens < 1)
    return 0;
  bk->tokens -= 1;
  return 1;
}

/*
 * What may go on of a message that parsed (sip_alg_validation_t): strict mode's RFC 3261
 * checks (no leniency, Max-Forwards in a request), blocked methods from outside, the
 * INVITE and REGISTER rates. Returns 0 when the message goes no further: c->drop set, or
 * c->error its class counter to pass untouched.
 */
static int
sip_alg_validate (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_per_thread_t *ptd,
		  sip_alg_ctx_t *c)
{
  const sip_msg_t *m = &c->msg;
  if (PREDICT_FALSE (m->lenient))
    {
      if (sam->val.strict)
	{
	  sip_alg_malformed (vm, sam, c, SIP_ALG_ERROR_PARSE_ERROR);
	  return 0;
	}
      vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_LENIENT, 1);
    }
  /* Via, From, To, Call-ID, CSeq and the CSeq method the parser holds to in both modes */
  if (sam->val.strict && m->is_request && m->first[SIP_HDR_MAX_FORWARDS] == SIP_HDR_NONE)
    {
      sip_alg_malformed (vm, sam, c, SIP_ALG_ERROR_HEADER_ERROR);
      return 0;
    }
  if (!m->is_request)
    return 1;
  if (c->dir == SIP_ALG_DIR_OUT2IN && (sam->val.block_methods & (1u << m->method)))
    {
      c->error = SIP_ALG_ERROR_METHOD_BLOCKED;
      c->drop = 1;
      return 0;
    }
  if ((m->method == SIP_METHOD_INVITE &&
       !sip_alg_rate_ok (vm, sam, ptd, c, SIP_ALG_RATE_INVITE)) ||
      (m->method == SIP_METHOD_REGISTER &&
       !sip_alg_rate_ok (vm, sam, ptd, c, SIP_ALG_RATE_REGISTER)))
    {
      c->error = SIP_ALG_ERROR_RATE_LIMITED;
      c->drop = 1;
      return 0;
    }
  return 1;
}

/* Append the dotted quad of a (network order) to vector v, as format_ip4_address does. */
static u8 *
sip_alg_put_ip4 (u8 *v, ip4_address_t a)
{
  for (int i = 0; i < 4; i++)
    {
      u8 o = a.as_u8[i], d[3], n = 0;
      do
	d[n++] = '0' + o % 10;
      while ((o /= 10));
      while (n)
	vec_add1 (v, d[--n]);
      if (i < 3)
	vec_add1 (v, '.');
    }
  return v;
}

/*
 * Hash of the tag parameter of the message's From or To header (hdr), 0 when it has none.
 * Forked dialogs of one call differ by the callee's tag.
 */
static u32
sip_alg_tag_hash (const u8 *payload, const sip_msg_t *m, u8 hdr)
{
  u16 h = m->first[hdr];
  if (h == SIP_HDR_NONE)
    return 0;
  const u8 *p = payload + m->hdrs[h].value.off, *end = p + m->hdrs[h].value.len;
  const u8 *gt = memchr (p, '>', end - p);
  if (gt)
    p = gt; /* header parameters follow the name-addr: a URI parameter is not the tag */
  for (; p + 5 <= end; p++)
    {
      if (*p != ';')
	continue;
      const u8 *q = p + 1;
      while (q < end && (*q == ' ' || *q == '\t'))
	q++;
      if (end - q < 4 || strncasecmp ((const char *) q, "tag=", 4))
	continue;
      u32 hash = 2166136261u; /* FNV-1a */
      for (q += 4; q < end && *q != ';' && *q != ' ' && *q != '\t' && *q != '\r'; q++)
	hash = (hash ^ *q) * 16777619u;
      return hash ? hash : 1;
    }
  return 0;
}

/* Whether a dialog of the call's INVITE has this callee tag (hash). */
static int
sip_alg_dialog_known (sip_alg_per_thread_t *ptd, sip_alg_call_t *call, u32 tag)
{
  u32 *tags = sip_alg_call_tags (ptd, call);
  for (u32 i = 0; i < call->n_dialog_tags; i++)
    if (tags[i] == tag)
      return 1;
  return 0;
}

/* A dialog of the call's INVITE (a fork's 18x or 2xx): its tag kept, the oldest forgotten. */
static void
sip_alg_dialog_add (sip_alg_per_thread_t *ptd, sip_alg_call_t *call, u32 tag)
{
  if (!tag || sip_alg_dialog_known (ptd, call, tag))
    return;
  if (call->n_dialog_tags && call->ext == ~0)
    sip_alg_call_ext_get (ptd, call); /* a second tag: the side part keeps them */
  u32 *tags = sip_alg_call_tags (ptd, call);
  if (call->n_dialog_tags == SIP_ALG_CALL_MAX_DIALOGS)
    {
      memmove (tags, tags + 1, (SIP_ALG_CALL_MAX_DIALOGS - 1) * sizeof (tags[0]));
      call->n_dialog_tags--;
    }
  tags[call->n_dialog_tags++] = tag;
}

/*
 * A call record's side part, for its second media stream or dialog tag: what the record
 * held moves into it. Its worker (or the main thread, the barrier held).
 */
void
sip_alg_call_ext_get (sip_alg_per_thread_t *ptd, sip_alg_call_t *c)
{
  sip_alg_call_ext_t *x;
  if (c->ext != ~0)
    return;
  sip_alg_pool_get_zero (ptd->call_ext, x);
  x->media[0] = c->media;
  x->dialog_tags[0] = c->dialog_tag;
  c->ext = x - ptd->call_ext;
}

/* The side part goes with its record (main thread, the barrier held). */
void
sip_alg_call_ext_put (sip_alg_per_thread_t *ptd, sip_alg_call_t *c)
{
  if (c->ext == ~0)
    return;
  pool_put_index (ptd->call_ext, c->ext);
  c->ext = ~0;
}

/*
 * The key of the message's call record, built in place in ptd->call_key (no allocation
 * unless a record is created): the inside FIB index, then the Call-ID.
 */
static u8 *
sip_alg_call_key (sip_alg_per_thread_t *ptd, const u8 *payload, const sip_alg_ctx_t *c)
{
  const sip_msg_t *m = &c->msg;
  u8 *key = ptd->call_key;

  /*
   * The key is the Call-ID as the inside party wrote it: an outside message carries the
   * host part the ALG rewrote (the public address), so map it back.
   */
  const sip_site_t *cs = 0;
  if (c->dir == SIP_ALG_DIR_OUT2IN)
    for (u32 i = 0; i < c->info.n_sites; i++)
      if (c->info.sites[i].kind == SIP_SITE_CALL_ID &&
	  c->info.sites[i].ip4 == clib_net_to_host_u32 (c->pub_addr.as_u32))
	cs = &c->info.sites[i];
  vec_reset_length (key);
  vec_add (key, (u8 *) &c->in_fib, SIP_ALG_CALL_KEY_FIB); /* records per VRF */
  if (cs)
    {
      vec_add (key, payload + m->call_id.off, cs->host.off - m->call_id.off);
      key = sip_alg_put_ip4 (key, c->in_addr);
      vec_add (key, payload + cs->host.off + cs->host.len,
	       m->call_id.off + m->call_id.len - cs->host.off - cs->host.len);
    }
  else
    vec_add (key, payload + m->call_id.off, m->call_id.len);
  ptd->call_key = key;
  return key;
}

/*
 * May the message start a call record (key: its key)? Returns 0 when it may not: counted,
 * refused (c->n_inbound_refused), or dropped (c->drop, c->stale_copy). *src_n: the records
 * outside requests from its source have (an outside request).
 */
static int
sip_alg_call_may_start (sip_alg_main_t *sam, sip_alg_per_thread_t *ptd, vlib_main_t *vm,
			sip_alg_ctx_t *c, u8 *key, uword **src_n)
{
  const sip_msg_t *m = &c->msg;

  /* only a request starts a record: INVITE (a call) or REGISTER (a binding) */
  if (!m->is_request || (m->method != SIP_METHOD_INVITE && m->method != SIP_METHOD_REGISTER))
    return 0;
  if (m->method == SIP_METHOD_INVITE)
    {
      /* a late copy of an INVITE of a call that just ended: dropped (UDP), counted stale */
      u64 h = hash_memory (key, vec_len (key), 0);
      sip_alg_closed_t *cl = &ptd->closed[h & (SIP_ALG_CLOSED_N - 1)];
      if (cl->hash == h && m->cseq <= cl->cseq && (u32) vlib_time_now (vm) < cl->until)
	{
	  c->stale_copy = 1;
	  c->drop = !c->tcp;
	  return 0;
	}
    }
  if (pool_elts (ptd->calls) >= clib_min (sam->limits.max_calls, SIP_ALG_CALL_IX_MAX))
    {
      /* counted on its own: the message still gets an outcome (rewritten, ...) */
      vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_MAX_CALLS, 1);
      return 0;
    }
  /*
   * An outside request starts state only as a call to a REGISTER binding (an inbound call
   * to a registered phone) or to a published server (a PBX behind the operator's static
   * mapping, sip_alg_set_servers), within limits per worker and per outside address: anything
   * else from outside (a new INVITE to a call's signaling entry, a REGISTER) passes
   * without a record, so it cannot open media or move entries.
   */
  if (c->dir == SIP_ALG_DIR_OUT2IN)
    {
      *src_n = hash_get (ptd->inbound_by_src, c->peer_addr.as_u32);
      if (m->method != SIP_METHOD_INVITE ||
	  !(sip_alg_is_binding (sam, c->pub_addr, clib_host_to_net_u16 (c->pub_port)) ||
	    sip_alg_is_server (sam, c->in_addr, c->in_port)) ||
	  ptd->n_inbound >= sam->sec.max_inbound_calls ||
	  (*src_n && (*src_n)[0] >= sam->sec.max_inbound_per_source))
	{
	  c->n_inbound_refused++;
	  return 0;
	}
    }
  if (PREDICT_FALSE (ptd->n_held >= sam->limits.max_held))
    {
      /*
       * The main thread is behind: a datagram is dropped (its sender retransmits; counted
       * by error-drop), a TCP message passes without a record (nobody would resend it).
       */
      if (c->tcp)
	vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_HELD_FULL, 1);
      c->drop = !c->tcp;
      return 0;
    }
  if (sam->sec.max_calls_per_host)
    {
      uword *host_n = hash_get (ptd->calls_by_host, sip_alg_host_key (c->in_addr, c->in_fib));
      if (host_n && host_n[0] >= sam->sec.max_calls_per_host)
	{
	  /* like a full call table: the message still gets an outcome, without a record */
	  vlib_node_increment_counter (vm, sip_alg_post_node.index,
				       SIP_ALG_ERROR_HOST_CALLS_FULL, 1);
	  return 0;
	}
    }
  return 1;
}

/* A new call record of the message (key: its key, copied). */
static sip_alg_call_t *
sip_alg_call_new (sip_alg_main_t *sam, sip_alg_per_thread_t *ptd, vlib_main_t *vm,
		  const sip_alg_ctx_t *c, u8 *key, uword *src_n, u32 *call_index)
{
  key = vec_dup (key);
  sip_alg_call_t *call;
  sip_alg_pool_get_zero (ptd->calls, call);
  sip_alg_host_count (&ptd->calls_by_host, sip_alg_host_key (c->in_addr, c->in_fib), 1);
  if (c->dir == SIP_ALG_DIR_OUT2IN)
    {
      call->inbound = 1;
      ptd->n_inbound++;
      hash_set (ptd->inbound_by_src, c->peer_addr.as_u32, src_n ? src_n[0] + 1 : 1);
    }
  call->call_id = key; /* its first word: c->in_fib */
  call->entries = ~0;
  call->ext = ~0;
  call->confirmed = -1;
  call->created = vlib_time_now (vm);
  call->in_addr = c->in_addr;
  call->out_fib = c->out_fib;
  call->in_port = c->in_port;
  call->pub_addr = c->pub_addr;
  call->pub_port = c->pub_port;
  call->peer_addr = c->peer_addr;
  call->peer_port = c->peer_port;
  *call_index = call - ptd->calls;
  sip_alg_call_ix_add (ptd, *call_index);
  clib_atomic_fetch_add_relax (&ptd->n_calls, 1);
  vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_CALLS_CREATED, 1);
  return call;
}

/* Find or create the call record of this message (per worker). */
static sip_alg_call_t *
sip_alg_call_get (sip_alg_main_t *sam, sip_alg_per_thread_t *ptd, vlib_main_t *vm,
		  const u8 *payload, sip_alg_ctx_t *c, u32 *call_index)
{
  const sip_msg_t *m = &c->msg;
  uword *src_n = 0;

  if (!m->call_id.len)
    return 0;
  u8 *key = sip_alg_call_key (ptd, payload, c);
  u32 i = sip_alg_call_ix_find (ptd, key, vec_len (key));
  if (i != ~0)
    {
      *call_index = i;
      return pool_elt_at_index (ptd->calls, i);
    }
  if (!sip_alg_call_may_start (sam, ptd, vm, c, key, &src_n))
    return 0;
  return sip_alg_call_new (sam, ptd, vm, c, key, src_n, call_index);
}

static void
sip_alg_add_ph (sip_alg_ctx_t *c, ip4_address_t pub, u16 pub_port, ip4_address_t in,
		u16 in_port, sip_alg_app_t app, u8 nat, u32 timeout)
{
  if (c->n_ph >= ARRAY_LEN (c->ph))
    return;
  sip_alg_pinhole_t *ph = &c->ph[c->n_ph++];
  clib_memset (ph, 0, sizeof (*ph));
  ph->pub_addr = pub;
  ph->pub_port = pub_port;
  ph->in_addr = in;
  ph->in_port = in_port;
  ph->app = app;
  ph->nat_mapping = nat;
  ph->timeout = timeout;
  ph->in_fib = c->in_fib;
  ph->out_fib = c->out_fib;
}

/*
 * What a message's rewrite may touch. From inside, everything that carries the sender's
 * address. From outside, the public address means the receiving phone only where the
 * message speaks of it: the Request-URI, To, Contact, Route..., and in a response its own
 * Via. The Vias of a request are the hops before (received= and rport of another phone of
 * the same public address, in a call between two inside phones), and the SDP is the
 * sending party's: the public address there is another inside phone's (hairpin), whose
 * media goes through NAT44-ED's hairpinning to its own pinholes. Translating those to the
 * receiver's address would send its media to itself, and map another phone's Via to the
 * receiver's public port on the way back.
 */
static_always_inline u32
sip_alg_site_mask (const sip_alg_ctx_t *c)
{
  const u32 sdp = SIP_SITE_MASK (SIP_SITE_SDP_O) | SIP_SITE_MASK (SIP_SITE_SDP_C_SESSION) |
		  SIP_SITE_MASK (SIP_SITE_SDP_C_MEDIA) | SIP_SITE_MASK (SIP_SITE_SDP_RTCP_ADDR);
  const u32 via = SIP_SITE_MASK (SIP_SITE_VIA) | SIP_SITE_MASK (SIP_SITE_VIA_RECEIVED) |
		  SIP_SITE_MASK (SIP_SITE_VIA_RPORT) | SIP_SITE_MASK (SIP_SITE_VIA_MADDR);
  if (c->dir != SIP_ALG_DIR_OUT2IN)
    return SIP_SITE_MASK_ALL;
  return SIP_SITE_MASK_ALL & ~sdp & ~(c->msg.is_request ? via : 0);
}

/*
 * Media of another inside host (a media server, gateway or second interface of a PBX): an
 * address on the network of the interface the message came in on. Its media get public
 * ports like the sender's, and its address is translated in o=/c= too. The pinholes' NAT
 * static mappings are placed, like every NAT44-ED flow of that host, on the worker NAT
 * chooses for the host's address. Only with media-other-hosts on: otherwise an inside
 * phone could expose any port of any inside host, and the refusal is counted. Returns 1
 * when the media is to be opened.
 */
static int
sip_alg_inside_media_host (sip_alg_main_t *sam, sip_alg_ctx_t *c, ip4_address_t a)
{
  u32 fib_index = ip4_fib_table_get_index_for_sw_if_index (c->rx_sw_if_index);
  const dpo_id_t *dpo =
    load_balance_get_bucket_i (load_balance_get (ip4_fib_forwarding_lookup (fib_index, &a)), 0);
  const ip_adjacency_t *adj;

  /* a host on the attached network: glean (not resolved yet) or its own neighbour entry */
  if (dpo->dpoi_type == DPO_ADJACENCY_GLEAN)
    adj = adj_get (dpo->dpoi_index);
  else if (dpo->dpoi_type == DPO_ADJACENCY || dpo->dpoi_type == DPO_ADJACENCY_INCOMPLETE)
    {
      adj = adj_get (dpo->dpoi_index);
      if (adj->sub_type.nbr.next_hop.ip4.as_u32 != a.as_u32)
	return 0; /* behind a router */
    }
  else
    return 0;
  if (adj->rewrite_header.sw_if_index != c->rx_sw_if_index)
    return 0;
  if (!sam->media.other_hosts)
    {
      c->n_media_refused++;
      return 0;
    }
  u32 h = clib_net_to_host_u32 (a.as_u32);
  for (u32 i = 0; i < c->n_media_hosts; i++)
    if (c->media_hosts[i] == h)
      return 1;
  if (c->n_media_hosts >= ARRAY_LEN (c->media_hosts))
    return 0;
  c->media_hosts[c->n_media_hosts++] = h;
  return 1;
}

/*
 * A STUN message (RFC 8489: the two top bits zero, the magic cookie, a length that is the
 * rest of the datagram), as a phone sends it on its SIP flow to keep its NAT binding.
 */
static_always_inline int
sip_alg_is_stun (const u8 *p, u32 len)
{
  return len >= 20 && !(p[0] & 0xc0) && p[4] == 0x21 && p[5] == 0x12 && p[6] == 0xa4 &&
	 p[7] == 0x42 && 20 + ((u32) p[2] << 8 | p[3]) == len;
}

/*
 * A STUN request from inside, NAT44-ED's translation done: the pre-NAT source (stash) and
 * the public one are the phone's mapping of that port, exactly as the STUN server will
 * report it to the phone. Noted for the phone's SDP (sip_alg_own_mapping).
 */
void
sip_alg_stun_learn (vlib_main_t *vm, sip_alg_per_thread_t *ptd, vlib_buffer_t *b,
		    const sip_alg_stash_t *st)
{
  ip4_header_t *ip = vlib_buffer_get_current (b);
  udp_header_t *udp = ip4_next_header (ip);
  if (st->src.as_u32 == ip->src_address.as_u32 && st->sport == udp->src_port)
    return; /* not translated from inside to outside */
  u16 pub_port = clib_net_to_host_u16 (udp->src_port);
  sip_alg_own_map_t *m =
    &ptd->own_map[sip_alg_own_map_slot (ip->src_address, pub_port)];
  m->pub_addr = ip->src_address;
  m->pub_port = pub_port;
  m->in_addr = st->src;
  m->in_port = clib_net_to_host_u16 (st->sport);
  m->in_fib = sip_alg_rx_fib (b);
  m->seen = (u32) vlib_time_now (vm) + 1; /* 0 is an empty slot */
}

/*
 * The inside port of the sender's own public mapping pub:pub_port (its STUN request showed
 * it on this thread in the last SIP_ALG_OWN_MAP_TTL seconds), 0 when it is not the
 * sender's: another host's mapping, another port, or none seen.
 */
static u16
sip_alg_own_mapping (vlib_main_t *vm, sip_alg_per_thread_t *ptd, const sip_alg_ctx_t *c,
		     ip4_address_t pub, u16 pub_port)
{
  const sip_alg_own_map_t *m = &ptd->own_map[sip_alg_own_map_slot (pub, pub_port)];
  if (!m->seen || m->pub_addr.as_u32 != pub.as_u32 || m->pub_port != pub_port ||
      m->in_addr.as_u32 != c->in_addr.as_u32 || m->in_fib != c->in_fib ||
      (u32) vlib_time_now (vm) + 1 - m->seen > SIP_ALG_OWN_MAP_TTL)
    return 0;
  return m->in_port;
}

/*
 * The sender's media at its own public address (c= and m= as a phone that learned its
 * mapping by STUN writes them): left as written, and pinholes for that mapping, so media
 * the outside sends first reach it; NAT44-ED's session of the mapping takes only the STUN
 * server's packets. Any other public endpoint of the NAT's address is not the sender's to
 * open (another host's mapping or another port): counted, nothing opened. Returns the new
 * NAT pinholes.
 */
static u32
sip_alg_own_media (vlib_main_t *vm, sip_alg_per_thread_t *ptd, sip_alg_main_t *sam,
		   sip_alg_call_t *call, sip_alg_ctx_t *c, const sip_sdp_media_t *md,
		   ip4_address_t maddr)
{
  u16 in_port = sip_alg_own_mapping (vm, ptd, c, maddr, md->port);
  if (!in_port)
    {
      c->n_media_not_own++;
      return 0;
    }
  sip_alg_media_map_t *media = sip_alg_call_media (ptd, call);
  for (u32 j = 0; j < call->n_media; j++)
    {
      if (media[j].pub_port == md->port && (media[j].flags & SIP_ALG_MEDIA_OWN))
	{
	  c->sdp_media |= 1 << j; /* a retransmission or an earlier offer opened it */
	  return 0;
	}
      /*
       * The same inside port has a pair of the pool already (an ICE phone's default
       * candidate, its inside address, rewritten): NAT44-ED maps an inside endpoint once,
       * and the remote reaches the phone through that pair.
       */
      if (media[j].in_addr.as_u32 == c->in_addr.as_u32 && media[j].in_port == in_port &&
	  !(media[j].flags & SIP_ALG_MEDIA_OWN))
	return 0;
    }
  if (call->n_media >= SIP_ALG_CALL_MAX_MEDIA)
    {
      c->n_no_media_port++;
      return 0;
    }
  c->sdp_media |= 1 << call->n_media;
  sip_alg_media_map_t *mm = sip_alg_call_media_add (ptd, call);
  mm->in_addr = c->in_addr;
  mm->in_port = in_port;
  mm->pub_port = md->port;
  mm->slot = 0; /* not the pool's: the signaling's public address */
  mm->flags = SIP_ALG_MEDIA_OWN | (!(c->actions & SIP_ACT_RETRANSMIT) ? 0 :
				   c->msg.is_request		       ? SIP_ALG_MEDIA_OFFERED :
									 SIP_ALG_MEDIA_LIVE);
  sip_alg_add_ph (c, maddr, md->port, c->in_addr, in_port, SIP_ALG_APP_RTP, 1,
		  sam->timeouts.media);
  c->ph[c->n_ph - 1].own = 1;
  c->n_media_own++;
  u32 n_new = 1;
  /* RTCP: where the phone's RTCP port has its own mapping too, one port above */
  u16 rtcp_in = md->rtcp_mux || md->rtcp_port != md->port + 1 ?
		  0 :
		  sip_alg_own_mapping (vm, ptd, c, maddr, md->rtcp_port);
  if (rtcp_in)
    {
      sip_alg_add_ph (c, maddr, md->rtcp_port, c->in_addr, rtcp_in, SIP_ALG_APP_RTCP, 1,
		      sam->timeouts.media);
      c->ph[c->n_ph - 1].own = 1;
      n_new++;
    }
  return n_new;
}

/* The next space-separated token of [*p, end): its start and length; *p moves past it. */
static_always_inline u32
sip_alg_token (const u8 **p, const u8 *end, const u8 **tok)
{
  while (*p < end && **p == ' ')
    (*p)++;
  *tok = *p;
  while (*p < end && **p != ' ' && **p != '\r' && **p != '\n')
    (*p)++;
  return *p - *tok;
}

/*
 * ICE (RFC 8445): the sender's server-reflexive candidates (`a=candidate:<foundation>
 * <component> UDP <priority> <address> <port> typ srflx ...`) at its own public address
 * are its STUN mappings, opened like a c=/m= that names one (sip_alg_own_media; component
 * 1 RTP, 2 RTCP), unless the inside port has a pair already (the default candidate was
 * the inside address: rewritten, the remote uses it). Other candidates are left as written
 * and opened for nothing: host candidates name inside addresses (their checks from outside
 * fail; those naming the sender's own address are counted, ice_host_left), relayed ones a
 * TURN server's. Returns the new NAT pinholes.
 */
static u32
sip_alg_ice_srflx (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_per_thread_t *ptd,
		   sip_alg_call_t *call, sip_alg_ctx_t *c, const u8 *payload)
{
  const u8 *p = payload + c->info.sdp.candidate_off, *end = payload + c->msg.body_off +
							   c->msg.body_len, *tok;
  u32 n_new = 0, n;

  /* from the first a=candidate: line the SDP decoder saw (lines before it are none) */
  if (!c->info.sdp.candidate_off)
    return 0;
  while (p < end)
    {
      const u8 *eol = memchr (p, '\n', end - p);
      if (!eol)
	eol = end;
      if (eol - p > 12 && !memcmp (p, "a=candidate:", 12))
	{
	  const u8 *q = p + 12;
	  u32 comp = 0, port = 0, ok = 1;
	  ip4_address_t a = {};
	  sip_alg_token (&q, eol, &tok); /* foundation */
	  n = sip_alg_token (&q, eol, &tok);
	  for (u32 i = 0; i < n && ok; i++)
	    ok = tok[i] >= '0' && tok[i] <= '9', comp = comp * 10 + tok[i] - '0';
	  n = sip_alg_token (&q, eol, &tok);
	  ok = ok && n == 3 && !strncasecmp ((char *) tok, "udp", 3);
	  sip_alg_token (&q, eol, &tok); /* priority */
	  n = sip_alg_token (&q, eol, &tok);
	  u8 addr[16];
	  if (ok && n && n < sizeof (addr))
	    {
	      memcpy (addr, tok, n);
	      addr[n] = 0;
	      ok = inet_pton (AF_INET, (char *) addr, &a) == 1;
	    }
	  else
	    ok = 0;
	  n = sip_alg_token (&q, eol, &tok);
	  for (u32 i = 0; i < n && ok && n <= 5; i++)
	    ok = tok[i] >= '0' && tok[i] <= '9', port = port * 10 + tok[i] - '0';
	  ok = ok && n && n <= 5 && port && port < 65536 && (comp == 1 || comp == 2);
	  n = sip_alg_token (&q, eol, &tok);
	  ok = ok && n == 3 && !memcmp (tok, "typ", 3);
	  n = sip_alg_token (&q, eol, &tok);
	  if (ok && n == 4 && !memcmp (tok, "host", 4) && a.as_u32 == c->in_addr.as_u32)
	    c->n_ice_host_left++;
	  ok = ok && n == 5 && !memcmp (tok, "srflx", 5);
	  if (ok && a.as_u32 == c->pub_addr.as_u32)
	    {
	      sip_sdp_media_t md = { .port = port, .rtcp_port = port, .rtcp_mux = 1 };
	      if (comp == 1)
		n_new += sip_alg_own_media (vm, ptd, sam, call, c, &md, a);
	      else if ((n = sip_alg_own_mapping (vm, ptd, c, a, port)))
		{
		  sip_alg_add_ph (c, a, port, c->in_addr, n, SIP_ALG_APP_RTCP, 1,
				  sam->timeouts.media);
		  c->ph[c->n_ph - 1].own = 1;
		  n_new++;
		}
	      else
		c->n_media_not_own++;
	    }
	}
      p = eol + 1;
    }
  return n_new;
}

/*
 * The pool slot of a call's pairs: all its streams are on one public address (a re-INVITE
 * keeps it), SIP_ALG_MEDIA_SLOT_ANY when it has no pair (yet, or any more).
 */
static_always_inline u8
sip_alg_call_slot (sip_alg_per_thread_t *ptd, sip_alg_call_t *call)
{
  sip_alg_media_map_t *media = sip_alg_call_media (ptd, call);
  for (u32 j = 0; j < call->n_media; j++)
    if (!(media[j].flags & SIP_ALG_MEDIA_OWN))
      return media[j].slot;
  return SIP_ALG_MEDIA_SLOT_ANY;
}

/*
 * The inside party's SDP (in2out): give every media of the sender a public port pair,
 * reusing the pair a retransmission or an earlier offer already got, all of the call on
 * one public address (c->media_addr, its SDP's connection address, when that is a media
 * address). Returns the number of new NAT pinholes.
 */
static u32
sip_alg_inside_media (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_per_thread_t *ptd,
		      sip_alg_call_t *call, sip_alg_ctx_t *c, sip_media_xlate_t *mx)
{
  const sip_sdp_t *sdp = &c->info.sdp;
  u32 n_new = 0;
  u8 slot = sip_alg_call_slot (ptd, call);

  for (u32 i = 0; i < sdp->n_media; i++)
    {
      const sip_sdp_media_t *md = &sdp->media[i];
      mx[i].rtp_port = mx[i].rtcp_port = 0;
      if (!md->port || md->addr_type != SIP_HOST_IP4)
	continue; /* disabled, or not IPv4 */
      ip4_address_t maddr = { .as_u32 = clib_host_to_net_u32 (md->ip4) };
      if (maddr.as_u32 == c->pub_addr.as_u32)
	{
	  n_new += sip_alg_own_media (vm, ptd, sam, call, c, md, maddr);
	  continue; /* written public already: nothing to translate */
	}
      if (maddr.as_u32 != c->in_addr.as_u32 && !sip_alg_inside_media_host (sam, c, maddr))
	continue; /* someone else's media */
      if (md->port < 1024 || md->rtcp_port < 1024)
	{
	  /* no pinhole from anywhere to a system service (SNMP, SSH, ...) of an inside host */
	  c->n_media_privileged++;
	  continue;
	}
      if (md->port < sam->sec.inside_port_lo || md->port > sam->sec.inside_port_hi ||
	  md->rtcp_port < sam->sec.inside_port_lo || md->rtcp_port > sam->sec.inside_port_hi)
	{
	  c->n_media_forbidden++; /* outside the operator's inside media ports */
	  continue;
	}

      u16 pub = 0;
      u8 pub_slot = 0;
      sip_alg_media_map_t *media = sip_alg_call_media (ptd, call);
      for (u32 j = 0; j < call->n_media; j++)
	if (media[j].in_port == md->port && media[j].in_addr.as_u32 == maddr.as_u32)
	  {
	    pub = media[j].pub_port;
	    pub_slot = media[j].slot;
	    c->sdp_media |= 1 << j;
	  }
      if (!pub)
	{
	  /* a stale message (a 2xx resent after the BYE, a late copy of an offer) opens
	     nothing: its stream keeps the port it has */
	  if (c->actions & SIP_ACT_STALE)
	    continue;
	  if (call->n_media >= SIP_ALG_CALL_MAX_MEDIA ||
	      !(pub = sip_alg_media_pair (sam, ptd, &slot, c->pub_addr)))
	    {
	      c->n_no_media_port++; /* counted apart from the message's outcome */
	      continue;
	    }
	  pub_slot = slot;
	  ip4_address_t pub_addr = sip_alg_media_slot_addr (sam, slot, c->pub_addr);
	  c->sdp_media |= 1 << call->n_media;
	  sip_alg_media_map_t *mm = sip_alg_call_media_add (ptd, call);
	  mm->in_addr = maddr;
	  mm->in_port = md->port;
	  mm->pub_port = pub;
	  mm->slot = slot;
	  /*
	   * A retransmission that needs a new pair (the first one clashed: sip_alg_clash)
	   * is the offer or answer its first copy was, which never left
	   */
	  mm->flags = !(c->actions & SIP_ACT_RETRANSMIT) ? 0 :
		      c->msg.is_request			 ? SIP_ALG_MEDIA_OFFERED :
							   SIP_ALG_MEDIA_LIVE;
	  sip_alg_add_ph (c, pub_addr, pub, maddr, md->port, SIP_ALG_APP_RTP, 1,
			  sam->timeouts.media);
	  n_new++;
	  if (!md->rtcp_mux)
	    {
	      sip_alg_add_ph (c, pub_addr, pub + 1, maddr, md->rtcp_port, SIP_ALG_APP_RTCP,
			      1, sam->timeouts.media);
	      n_new++;
	    }
	}
      if (pub_slot)
	c->media_addr = sam->media.addrs[pub_slot - 1];
      mx[i].rtp_port = pub;
      mx[i].rtcp_port = md->rtcp_mux ? pub : pub + 1;
    }
  return n_new;
}

/* The outside party's endpoints from its SDP and Contact: records, no NAT mapping. */
static void
sip_alg_outside_endpoints (sip_alg_main_t *sam, sip_alg_ctx_t *c)
{
  const sip_sdp_t *sdp = &c->info.sdp;
  ip4_address_t none = { .as_u32 = 0 };

  for (u32 i = 0; i < c->info.n_sites; i++)
    {
      const sip_site_t *s = &c->info.sites[i];
      if (s->kind == SIP_SITE_CONTACT && s->host_type == SIP_HOST_IP4)
	{
	  ip4_address_t a = { .as_u32 = clib_host_to_net_u32 (s->ip4) };
	  sip_alg_add_ph (c, a, s->value, none, 0, SIP_ALG_APP_SIP, 0, sam->timeouts.signaling);
	  break;
	}
    }
  for (u32 i = 0; i < sdp->n_media; i++)
    {
      const sip_sdp_media_t *md = &sdp->media[i];
      if (!md->port || md->addr_type != SIP_HOST_IP4)
	continue;
      ip4_address_t a = { .as_u32 = clib_host_to_net_u32 (md->ip4) };
      ip4_address_t ra = { .as_u32 = clib_host_to_net_u32 (md->rtcp_ip4) };
      sip_alg_add_ph (c, a, md->port, none, 0, SIP_ALG_APP_RTP, 0, sam->timeouts.media);
      if (!md->rtcp_mux)
	sip_alg_add_ph (c, ra, md->rtcp_port, none, 0, SIP_ALG_APP_RTCP, 0, sam->timeouts.media);
    }
}

/* The message's bytes could not be placed: nothing of it takes effect (result: why). */
void
sip_alg_message_abort (sip_alg_main_t *sam, sip_alg_ctx_t *c, sip_result_t result)
{
  sip_alg_call_t *call = c->call;
  c->result = result;
  c->error = sip_alg_result_counter (result);
  c->n_ph = 0;
  if (!call)
    return;
  sip_alg_media_map_t *media =
    sip_alg_call_media (vec_elt_at_index (sam->per_thread, vlib_get_thread_index ()), call);
  for (u32 j = c->n_media_before; j < call->n_media; j++)
    if (!(media[j].flags & SIP_ALG_MEDIA_OWN))
      sip_alg_media_port_free (sam, media[j].slot, media[j].pub_port);
  call->n_media = c->n_media_before;
}

/*
 * A message's start: its context reset (a TCP segment runs several messages through one
 * context), then keep-alives, parse and rewrite sites (one pass), validation. Returns 1 when the
 * message goes on, 0 for a keep-alive (it passes as it is), -1 when it goes no further
 * (see sip_alg_message).
 */
static int
sip_alg_message_read (vlib_main_t *vm, vlib_node_runtime_t *node, sip_alg_main_t *sam,
		      sip_alg_per_thread_t *ptd, sip_alg_ctx_t *c, const u8 *payload, u32 len,
		      sip_parse_mode_t mode, u32 *out_len)
{
  c->len = len;
  c->n_edits = 0;
  c->call = 0;
  c->call_index = ~0;
  c->n_ph = 0;
  c->actions = 0;
  c->n_media_hosts = 0; /* a TCP segment runs several messages through one context */
  c->sdp_media = 0;
  c->inside_sdp = 0;
  c->replace_outside = 0;
  c->media_addr.as_u32 = 0;
  *out_len = len;
  vlib_node_increment_counter (vm, node->node_index, SIP_ALG_ERROR_SIP, 1);
  c->drop = 0;
  c->stale_copy = 0;
  if (PREDICT_FALSE (sip_alg_is_stun (payload, len)))
    {
      /* RFC 5626 section 4.4.2: STUN on the SIP flow, as CRLFs below */
      c->error = SIP_ALG_ERROR_KEEPALIVE;
      return 0;
    }
  /* one pass: the message and its rewrite sites (a site error is kept in sites) */
  sip_result_t sites;
  c->result = sip_msg_read (payload, len, mode, &c->msg, ptd->hdrs, SIP_ALG_MAX_HDRS, &c->info,
			    ptd->sites, SIP_ALG_MAX_SITES, &sites);
  if (c->result == SIP_OK && c->msg.n_hdrs == 0)
    {
      /*
       * CRLF, double CRLF: they keep NAT44-ED's session of the flow, what they are for; the
       * ALG's entries live by the phone's registration and calls, which they do not change
       */
      c->error = SIP_ALG_ERROR_KEEPALIVE;
      return 0;
    }
  if (c->result == SIP_OK && !sip_alg_validate (vm, sam, ptd, c))
    return -1; /* a verdict: dropped, or passed untouched and counted */
  if (c->result == SIP_OK)
    c->result = sites; /* after the verdicts on the message, as when found apart */
  if (c->result != SIP_OK)
    {
      sip_alg_malformed (vm, sam, c, sip_alg_result_counter (c->result));
      return -1;
    }
  return 1;
}

/*
 * The message's call record, found or made (*call_index), 0 for none: a response to a
 * REGISTER from another than its registrar, or a BYE of another dialog, is not the record's.
 * With c->drop set the message goes no further (c->error says why).
 */
static sip_alg_call_t *
sip_alg_message_call (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_per_thread_t *ptd,
		      sip_alg_ctx_t *c, const u8 *payload, u32 *call_index)
{
  sip_alg_call_t *call = sip_alg_call_get (sam, ptd, vm, payload, c, call_index);
  if (PREDICT_FALSE (c->drop))
    {
      c->error = c->stale_copy ? SIP_ALG_ERROR_STALE : SIP_ALG_ERROR_HELD_FULL;
      return 0;
    }
  if (call && c->dir == SIP_ALG_DIR_OUT2IN && call->fsm.state != SIP_CALL_IDLE &&
      !call->inbound && !c->msg.is_request && c->msg.cseq_method == SIP_METHOD_REGISTER &&
      (c->peer_addr.as_u32 != call->peer_addr.as_u32 ||
       c->peer_port != call->peer_port))
    {
      /*
       * A response to a REGISTER comes from the registrar it went to: anyone else could
       * otherwise make or stretch a binding (its pinhole lets anyone reach the phone).
       */
      c->n_peer_mismatch++;
      call = 0;
    }
  if (call && c->msg.is_request && c->msg.method == SIP_METHOD_BYE && call->callee_tag)
    {
      u32 tag = sip_alg_tag_hash (payload, &c->msg,
				  (c->dir == SIP_ALG_DIR_IN2OUT) != call->inbound ? SIP_HDR_TO :
										    SIP_HDR_FROM);
      /*
       * The BYE of a forked dialog that was not the answered one (a fork that answered
       * late: RFC 3261 13.2.2.4) leaves the call alone. A tag none of the call's responses
       * made a dialog with is no other dialog: from the inside party it is its hang-up
       * (e.g. the to-tag of a 407 resent after the retry was answered, which a UA that
       * builds its BYE from the last response it got, as sipp does, puts there; a non-2xx
       * final response makes no dialog, 12.1), and ends the call as the answered dialog's
       * BYE does. From outside it names nothing of the call and changes nothing.
       */
      if (tag != call->callee_tag &&
	  (c->dir == SIP_ALG_DIR_OUT2IN || sip_alg_dialog_known (ptd, call, tag)))
	{
	  vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_OTHER_DIALOG,
				       1);
	  call = 0;
	}
    }
  return call;
}

/* The call state machine steps on the message (has_sdp: it carries media), in its record. */
static void
sip_alg_message_step (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_per_thread_t *ptd,
		      sip_alg_ctx_t *c, sip_alg_call_t *call, const u8 *payload, int has_sdp)
{
  sip_call_event_t ev;
  sip_call_result_t res;
  f64 now = vlib_time_now (vm);
  sip_call_event_from_msg (&c->msg, has_sdp, c->info.contact_expires, &ev);
  /* whose transaction: the request's sender, or that of the request a response answers
     (each party numbers its own requests) */
  ev.client_side = (c->dir == SIP_ALG_DIR_OUT2IN) == c->msg.is_request ?
		     SIP_CALL_SIDE_OUTSIDE :
		     SIP_CALL_SIDE_INSIDE;
  res = sip_call_step (&call->fsm, &ev, &call->fsm);
  c->actions = res.actions;
  if (res.actions & SIP_ACT_STALE)
    vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_STALE, 1);
  if ((res.actions & SIP_ACT_OPEN_SIGNAL) && call->n_msgs)
    {
      /*
       * A new INVITE on a record that carried a dialog already (it failed, e.g. a 401
       * or 407 challenge, or ended): a new epoch. Its media start afresh; what the old
       * dialog has goes with the old dialog's close, which may still be queued.
       */
      call->epoch++;
      call->n_media = 0;
      call->closed = 0;
      call->offer_cseq = 0;
      call->callee_tag = 0;
      call->n_dialog_tags = 0;
      call->confirmed = -1;
      call->created = now;
      vlib_node_increment_counter (vm, sip_alg_post_node.index,
				   SIP_ALG_ERROR_DIALOG_RESTARTED, 1);
    }
  if (call->fsm.state == SIP_CALL_CONFIRMED && call->confirmed < 0)
    call->confirmed = now - call->created;
  if (!c->msg.is_request && c->msg.cseq_method == SIP_METHOD_INVITE &&
      c->msg.status > 100 && c->msg.status < 300 && ev.client_side == call->inbound &&
      !(res.actions & SIP_ACT_STALE))
    {
      /* a dialog of the call's INVITE (not a late response of an older one) */
      u32 tag = sip_alg_tag_hash (payload, &c->msg, SIP_HDR_TO);
      if (c->msg.status >= 200 && !call->callee_tag)
	call->callee_tag = tag;
      sip_alg_dialog_add (ptd, call, tag);
    }
  call->last_seen = now;
  call->n_msgs++;
  c->call_state = call->fsm.state;
  if (res.actions & SIP_ACT_BIND)
    call->bind_expires = clib_min (res.expires, sam->sec.max_binding_time);
}

/*
 * From inside: the sender's addresses to their public values (xl, *n_xl; mx, *n_mx: its
 * media's public ports), and the pinholes they need (c->ph). Returns the new NAT pinholes.
 */
static u32
sip_alg_message_in2out (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_per_thread_t *ptd,
			sip_alg_ctx_t *c, sip_alg_call_t *call, const u8 *payload, int has_sdp,
			sip_xlate_t *xl, u32 *n_xl, sip_media_xlate_t *mx, u32 *n_mx)
{
  u32 in_h = clib_net_to_host_u32 (c->in_addr.as_u32);
  u32 pub_h = clib_net_to_host_u32 (c->pub_addr.as_u32);
  u32 n_new_nat = 0;

  xl[0] = (sip_xlate_t){ in_h, pub_h, c->in_port, c->pub_port };
  xl[1] = (sip_xlate_t){ in_h, pub_h, 0, 0 };
  /* a retransmission finds its ports in the call record: nothing new */
  if (call && has_sdp)
    {
      n_new_nat = sip_alg_inside_media (vm, sam, ptd, call, c, mx);
      n_new_nat += sip_alg_ice_srflx (vm, sam, ptd, call, c, payload);
      *n_mx = c->info.sdp.n_media;
      for (u32 i = 0; i < c->n_media_hosts; i++)
	xl[(*n_xl)++] = (sip_xlate_t){ c->media_hosts[i], pub_h, 0, 0 };
    }
  /*
   * A published server's signaling is the operator's static mapping: no pinhole. A
   * retransmitted INVITE that leaves by another public port than its record's asks
   * again: its first copy was dropped while the phone's signaling moved, and the
   * entry of the new port (made without the record) must be the call's, to go with it.
   */
  if (call && !sip_alg_is_server (sam, c->in_addr, c->in_port) &&
      ((c->actions & SIP_ACT_OPEN_SIGNAL) ||
       ((c->actions & SIP_ACT_RETRANSMIT) && c->msg.is_request &&
	c->msg.method == SIP_METHOD_INVITE && c->pub_port != call->pub_port)))
    {
      /* over TCP the connection carries in-dialog requests: an entry, no NAT mapping */
      sip_alg_add_ph (c, c->pub_addr, c->pub_port, c->in_addr, c->in_port, SIP_ALG_APP_SIP,
		      !c->tcp, sam->timeouts.signaling);
      c->ph[c->n_ph - 1].tcp = c->tcp;
      c->ph[c->n_ph - 1].shared = 1; /* the phone's, held by each of its calls */
      n_new_nat += !c->tcp;
      c->n_sig_reasked += !(c->actions & SIP_ACT_OPEN_SIGNAL);
    }
  c->inside_sdp = call && has_sdp && !(c->actions & (SIP_ACT_RETRANSMIT | SIP_ACT_STALE));
  return n_new_nat;
}

/*
 * From outside: the receiver's public address to its inside one (xl), the outside party's
 * endpoints and a REGISTER binding (c->ph). Returns the new NAT pinholes.
 */
static u32
sip_alg_message_out2in (sip_alg_main_t *sam, sip_alg_ctx_t *c, sip_alg_call_t *call,
			int has_sdp, sip_xlate_t *xl)
{
  u32 in_h = clib_net_to_host_u32 (c->in_addr.as_u32);
  u32 pub_h = clib_net_to_host_u32 (c->pub_addr.as_u32);
  u32 n_new_nat = 0;

  xl[0] = (sip_xlate_t){ pub_h, in_h, c->pub_port, c->in_port };
  xl[1] = (sip_xlate_t){ pub_h, in_h, 0, 0 };
  if (call && has_sdp && !(c->actions & (SIP_ACT_RETRANSMIT | SIP_ACT_STALE)))
    {
      sip_alg_outside_endpoints (sam, c);
      /* once answered, the dialog's description: other forks' and older records go */
      c->replace_outside = call->fsm.state == SIP_CALL_CONFIRMED;
    }
  if (call && (c->actions & SIP_ACT_BIND) && !sip_alg_is_server (sam, c->in_addr, c->in_port))
    {
      /* a REGISTER binding: inbound requests may reach the inside contact */
      sip_alg_add_ph (c, c->pub_addr, c->pub_port, c->in_addr, c->in_port, SIP_ALG_APP_SIP,
		      !c->tcp, call->bind_expires);
      c->ph[c->n_ph - 1].bound = 1;
      c->ph[c->n_ph - 1].tcp = c->tcp;
      n_new_nat += !c->tcp;
    }
  return n_new_nat;
}

/*
 * The message rewritten by the translations into out[0..out_cap): 0, or -1 when it cannot
 * be (what it allocated given back, sip_alg_message_abort; counted by its class).
 */
static int
sip_alg_message_rewrite (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_per_thread_t *ptd,
			 sip_alg_ctx_t *c, const u8 *payload, u32 len, sip_xlate_t *xl, u32 n_xl,
			 sip_media_xlate_t *mx, u32 n_mx, u8 *out, u32 out_cap, u32 *out_len)
{
  sip_plan_t plan;
  /* the SDP's connection addresses: the media address of its pairs, if they have one */
  sip_rewrite_cfg_t cfg = { .xlate = xl,
			    .n_xlate = n_xl,
			    .media = mx,
			    .n_media = n_mx,
			    .site_mask = sip_alg_site_mask (c),
			    .media_ip = clib_net_to_host_u32 (c->media_addr.as_u32) };
  c->result = sip_rewrite_plan (payload, &c->msg, &c->info, &cfg, &plan, ptd->edits,
				SIP_ALG_MAX_EDITS);
  if (c->result == SIP_OK && plan.n_edits)
    c->result = sip_rewrite_apply (payload, len, &plan, out, out_cap, out_len);
  if (c->result != SIP_OK)
    {
      sip_alg_message_abort (sam, c, c->result);
      sip_alg_malformed (vm, sam, c, c->error);
      return -1;
    }
  c->n_edits = plan.n_edits;
  c->delta = plan.delta;
  c->error = plan.n_edits ? SIP_ALG_ERROR_REWRITTEN : SIP_ALG_ERROR_UNCHANGED;
  return 0;
}

/*
 * One SIP message at payload[0..len) (a datagram, or a message framed out of a TCP stream),
 * c's direction and endpoints filled: validation, parse, call state, the pinholes it needs,
 * and its rewrite into out[0..out_cap). Returns 0 with *out_len its new length (len and
 * c->n_edits 0 when nothing changes); c->error is its outcome counter. Then the caller
 * places the bytes and calls sip_alg_message_commit, or sip_alg_message_abort when it
 * cannot. Returns -1 when the message is not rewritten: it passes untouched (c->result
 * says why, c->error counts it), or c->drop is its verdict (c->error says which).
 */
int
sip_alg_message (vlib_main_t *vm, vlib_node_runtime_t *node, sip_alg_main_t *sam,
		 sip_alg_per_thread_t *ptd, sip_alg_ctx_t *c, const u8 *payload, u32 len,
		 sip_parse_mode_t mode, u8 *out, u32 out_cap, u32 *out_len)
{
  sip_alg_call_t *call = 0;
  u32 call_index = ~0;

  int r = sip_alg_message_read (vm, node, sam, ptd, c, payload, len, mode, out_len);
  if (r <= 0)
    return r;

  /* call state */
  int has_sdp = c->info.body_kind == SIP_BODY_SDP && c->info.sdp.n_media > 0;
  call = sip_alg_message_call (vm, sam, ptd, c, payload, &call_index);
  if (PREDICT_FALSE (c->drop))
    return -1;
  if (call)
    sip_alg_message_step (vm, sam, ptd, c, call, payload, has_sdp);

  /* media ports this message allocates are given back if it cannot be rewritten */
  c->n_media_before = call ? call->n_media : 0;

  /* translations: the sender's (in2out) or the receiver's (out2in) signaling address */
  sip_xlate_t xl[2 + SIP_ALG_CALL_MAX_MEDIA];
  u32 n_xl = 2;
  sip_media_xlate_t mx[SIP_SDP_MAX_MEDIA];
  u32 n_mx = 0;
  c->n_new_nat = c->dir == SIP_ALG_DIR_IN2OUT ?
		   sip_alg_message_in2out (vm, sam, ptd, c, call, payload, has_sdp, xl, &n_xl,
					   mx, &n_mx) :
		   sip_alg_message_out2in (sam, c, call, has_sdp, xl);
  c->call = call;
  c->call_index = call_index;

  /* rewrite */
  return sip_alg_message_rewrite (vm, sam, ptd, c, payload, len, xl, n_xl, mx, n_mx, out,
				  out_cap, out_len);
}

/*
 * Offer/answer (RFC 3264) for the inside party's media, once its message is on its way. An
 * offer of the inside party (INVITE, UPDATE) marks the streams it has OFFERED and keeps the
 * others until the answer: a 2xx from the outside releases what was not offered, a failure
 * (488, 491 glare, ...) what was offered anew. An answer of the inside party (in a response,
 * ACK or PRACK) is the session: streams not in it are released now. Released streams leave
 * the call record at once (a later offer gets new ports) and their pinholes go on the main
 * thread, which gives their ports back.
 */
static void
sip_alg_offer_answer (vlib_main_t *vm, sip_alg_ctx_t *c, sip_alg_call_t *call)
{
  const sip_msg_t *m = &c->msg;
  u32 release = 0; /* bits of the call's media */
  sip_alg_media_map_t *media =
    sip_alg_call_media (vec_elt_at_index (sip_alg_main.per_thread, vm->thread_index), call);

  if (c->inside_sdp)
    {
      if (m->is_request && (m->method == SIP_METHOD_INVITE || m->method == SIP_METHOD_UPDATE))
	{
	  for (u32 j = 0; j < call->n_media; j++)
	    if (c->sdp_media & (1 << j))
	      media[j].flags |= SIP_ALG_MEDIA_OFFERED;
	    else
	      media[j].flags &= ~SIP_ALG_MEDIA_OFFERED;
	  call->offer_cseq = m->cseq;
	  call->offer_method = m->method;
	}
      else
	{
	  for (u32 j = 0; j < call->n_media; j++)
	    if (c->sdp_media & (1 << j))
	      media[j].flags = SIP_ALG_MEDIA_LIVE;
	    else
	      release |= 1 << j;
	  call->offer_cseq = 0;
	}
    }
  else if (c->dir == SIP_ALG_DIR_OUT2IN && !m->is_request && call->offer_cseq &&
	   m->cseq == call->offer_cseq && m->cseq_method == call->offer_method &&
	   m->status >= 200 && !(c->actions & SIP_ACT_STALE))
    {
      int ok = m->status < 300;
      for (u32 j = 0; j < call->n_media; j++)
	{
	  sip_alg_media_map_t *mm = &media[j];
	  if (ok ? !(mm->flags & SIP_ALG_MEDIA_OFFERED) :
		   (mm->flags & (SIP_ALG_MEDIA_OFFERED | SIP_ALG_MEDIA_LIVE)) ==
		     SIP_ALG_MEDIA_OFFERED)
	    release |= 1 << j;
	  else if (ok)
	    mm->flags = SIP_ALG_MEDIA_LIVE;
	  else
	    mm->flags &= ~SIP_ALG_MEDIA_OFFERED;
	}
      call->offer_cseq = 0;
    }
  if (!release)
    return;

  u16 ports[SIP_ALG_CALL_MAX_MEDIA];
  ip4_address_t addrs[SIP_ALG_CALL_MAX_MEDIA];
  u32 n = 0;
  for (i32 j = call->n_media - 1; j >= 0; j--) /* from the end: removal moves the last */
    if (release & (1 << j))
      {
	addrs[n] = media[j].flags & SIP_ALG_MEDIA_OWN ?
		     c->pub_addr :
		     sip_alg_media_slot_addr (&sip_alg_main, media[j].slot, c->pub_addr);
	ports[n++] = media[j].pub_port;
	media[j] = media[--call->n_media];
      }
  sip_alg_request_release_media (vm->thread_index, c->call_index, call->epoch, addrs, ports,
				 n);
  vlib_node_increment_counter (vm, sip_alg_post_node.index, SIP_ALG_ERROR_MEDIA_RELEASED, n);
}

/*
 * The message is on its way: ask the main thread for its pinholes and closes. Returns 1
 * when it needs new NAT pinholes; with held_bi != ~0 that buffer is then held until they
 * exist (the main thread sends it on to next_node_index).
 */
int
sip_alg_message_commit (vlib_main_t *vm, sip_alg_ctx_t *c, u32 held_bi, u32 next_node_index)
{
  sip_alg_call_t *call = c->call;
  u32 thread = vm->thread_index;
  int hold = 0;

  if (c->n_ph || c->replace_outside)
    {
      hold = c->n_new_nat > 0;
      /* an inside phone resends a datagram it gets no answer to */
      u8 resendable = hold && held_bi != ~0 && !c->tcp && c->dir == SIP_ALG_DIR_IN2OUT;
      sip_alg_request_pinholes (thread, c->call_index, call ? call->epoch : 0, c->ph, c->n_ph,
				c->replace_outside, hold ? held_bi : ~0, next_node_index,
				c->peer_addr, c->peer_port, resendable);
    }
  if (call)
    sip_alg_offer_answer (vm, c, call);
  if (call && (c->actions & (SIP_ACT_CLOSE_MEDIA | SIP_ACT_CLOSE_CALL | SIP_ACT_UNBIND)))
    {
      int media_only = !(c->actions & (SIP_ACT_CLOSE_CALL | SIP_ACT_UNBIND));
      if (!media_only)
	call->closed = 1;
      sip_alg_request_close_call (thread, c->call_index, call->epoch, media_only);
    }
  return hold;
}
