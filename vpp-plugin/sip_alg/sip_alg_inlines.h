/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Inline helpers the plugin's files share on the packet path (as nat44_ed_inlines.h is
 * nat44-ed's): the buffer's stash and fragment word, the keys of the server map's index
 * and its lookups, the per-thread records, what sip-alg-pre looks at.
 */

#ifndef __included_sip_alg_inlines_h__
#define __included_sip_alg_inlines_h__

#include <sip_alg/sip_alg.h>

static_always_inline sip_alg_stash_t *
sip_alg_stash (vlib_buffer_t *b)
{
  return (sip_alg_stash_t *) vnet_buffer2 (b)->unused;
}

static_always_inline void
sip_alg_frag_mark (vlib_buffer_t *b)
{
  ip4_header_t *ip = vlib_buffer_get_current (b);
  vnet_buffer2 (b)->unused[SIP_ALG_FRAG_WORD] =
    (u32) ip->fragment_id << 16 | clib_net_to_host_u16 (ip->length);
}

static_always_inline u16
sip_alg_frag_mark_id (vlib_buffer_t *b)
{
  return vnet_buffer2 (b)->unused[SIP_ALG_FRAG_WORD] >> 16;
}

static_always_inline u16
sip_alg_frag_mark_len (vlib_buffer_t *b)
{
  return vnet_buffer2 (b)->unused[SIP_ALG_FRAG_WORD] & 0xffff;
}

/* bi and the fragments linked after it (sip_alg_frag_split) into to[], at most max */
static_always_inline u32
sip_alg_frag_collect (vlib_main_t *vm, u32 bi, u32 *to, u32 max)
{
  u32 n = 0;
  while (bi != ~0 && n < max)
    {
      vlib_buffer_t *b = vlib_get_buffer (vm, bi);
      to[n++] = bi;
      bi = sip_alg_stash (b)->frag_list ? vnet_buffer2 (b)->unused[SIP_ALG_FRAG_WORD] : ~0;
    }
  return n;
}

static_always_inline u32
sip_alg_own_map_slot (ip4_address_t pub, u16 pub_port)
{
  return (clib_net_to_host_u32 (pub.as_u32) * 2654435761u ^ pub_port * 40503u) &
	 (SIP_ALG_OWN_MAP_SIZE - 1);
}

/*
 * Media activity's clock: the whole seconds of vlib time, plus 1 (0 is "none", and vlib
 * time starts at 0). A stamp is the end of the second the packet came in.
 */
static_always_inline u32
sip_alg_media_clock (vlib_main_t *vm)
{
  return (u32) vlib_time_now (vm) + 1;
}

static_always_inline int
sip_alg_is_sip_port (sip_alg_main_t *sam, u16 port_net)
{
  for (int i = 0; i < sam->n_udp_ports; i++)
    if (sam->udp_ports[i] == port_net)
      return 1;
  return 0;
}

static_always_inline int
sip_alg_is_sip_tcp_port (sip_alg_main_t *sam, u16 port_net)
{
  for (int i = 0; i < sam->n_tcp_ports; i++)
    if (sam->tcp_ports[i] == port_net)
      return 1;
  return 0;
}

/* Gate key: a public address and UDP port (network order) */
static_always_inline u64
sip_alg_gate_key (ip4_address_t addr, u16 port_net)
{
  return ((u64) addr.as_u32 << 32) | port_net;
}

/*
 * The inside end (addr, port, FIB) of an installed media entry (the index's INSIDE key; bit
 * 16 tells it from the public keys; the FIB index's low 15 bits above it: tenants' VRFs may
 * hold the same inside addresses).
 */
static_always_inline u64
sip_alg_inside_key (ip4_address_t addr, u16 port_net, u32 fib)
{
  return ((u64) addr.as_u32 << 32) | ((u64) (fib & 0x7fff) << 17) | (1 << 16) | port_net;
}

/* An inside host or endpoint in its VRF, for the tables keyed by it (hash keys). */
static_always_inline uword
sip_alg_host_key (ip4_address_t addr, u32 fib)
{
  return ((u64) fib << 32) | addr.as_u32;
}

/* The IPv4 FIB index of a packet's RX interface. */
static_always_inline u32
sip_alg_rx_fib (vlib_buffer_t *b)
{
  return vec_elt (ip4_main.fib_index_by_sw_if_index, vnet_buffer (b)->sw_if_index[VLIB_RX]);
}

static_always_inline u64
sip_alg_sig_key (ip4_address_t addr, u16 port_net)
{
  return ((u64) addr.as_u32 << 32) | port_net;
}

/*
 * Server-map key: a NAT pinhole is unique by its public address and port (NAT44-ED has one
 * static mapping per external address and port), an outside party's endpoint by its
 * address, port, app and the inside party's VRF.
 */
static_always_inline u64
sip_alg_smap_key (const sip_alg_pinhole_t *ph)
{
  u64 k = ((u64) ph->pub_addr.as_u32 << 32) | ((u64) ph->pub_port << 16);
  if (ph->nat_mapping)
    return k | ((u64) ph->tcp << 8) | 0xff;
  /* a record is kept per tenant (the inside party's VRF); app < 3, so never 0xff */
  return k | ((ph->in_fib & 0x1fff) << 3) | ((u64) ph->tcp << 2) | ph->app;
}

/* A signaling endpoint entry: a `sip` pinhole realised as a NAT mapping, or over TCP. */
static_always_inline int
sip_alg_ix_is_sig (const sip_alg_pinhole_t *ph)
{
  return ph->app == SIP_ALG_APP_SIP && (ph->nat_mapping || ph->tcp);
}

/* The index's hash of a key (a 64-bit finalizer: every bit of the key reaches the high bits
   a slot is picked by and the low six, the slot's tag) */
static_always_inline u32
sip_alg_ix_hash (u64 key)
{
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdULL;
  key ^= key >> 33;
  return (u32) key;
}

/* The key an entry has in the index as kind (SIP_ALG_IX_*); SIG_IN shares PUB's form. */
static_always_inline u64
sip_alg_ix_entry_key (const sip_alg_smap_t *e, u32 kind)
{
  if (kind == SIP_ALG_IX_PUB)
    return sip_alg_gate_key (e->ph.pub_addr, clib_host_to_net_u16 (e->ph.pub_port));
  u16 in_net = clib_host_to_net_u16 (e->ph.in_port);
  if (kind == SIP_ALG_IX_INSIDE)
    return sip_alg_inside_key (e->ph.in_addr, in_net, e->ph.in_fib);
  return sip_alg_sig_key (e->ph.in_addr, in_net);
}

/*
 * The slots under a key's hash, in probe order: the next one whose tag is the key's (any
 * kind), 0 at the end. A slot's entry is (slot >> 8) - 1, its kind slot & 3.
 */
typedef struct
{
  u32 pos, tag;
} sip_alg_ix_iter_t;

static_always_inline u32
sip_alg_ix_next (sip_alg_main_t *sam, sip_alg_ix_iter_t *it)
{
  u32 *ix = sam->ix, n = vec_len (ix);
  for (;;)
    {
      u32 s = ix[it->pos];
      it->pos = it->pos + 1 == n ? 0 : it->pos + 1;
      if (!s || (s & 0xfc) == it->tag)
	return s;
    }
}

static_always_inline u32
sip_alg_ix_first (sip_alg_main_t *sam, sip_alg_ix_iter_t *it, u64 key)
{
  if (PREDICT_FALSE (!sam->ix)) /* no index before the ALG is first enabled */
    return 0;
  u32 h = sip_alg_ix_hash (key);
  it->pos = sip_alg_ix_home (h, vec_len (sam->ix));
  it->tag = (h & 63) << 2;
  return sip_alg_ix_next (sam, it);
}

#define sip_alg_ix_foreach(sam, it, key, s)                                                   \
  for (u32 s = sip_alg_ix_first (sam, &(it), key); s; s = sip_alg_ix_next (sam, &(it)))

static_always_inline sip_alg_smap_t *
sip_alg_ix_entry (sip_alg_main_t *sam, u32 slot)
{
  return sam->smap + (slot >> 8) - 1;
}

/* The installed entry whose public end is (addr, port): the gate's. Its index, ~0: none. */
static_always_inline u32
sip_alg_ix_gate (sip_alg_main_t *sam, ip4_address_t addr, u16 port_net)
{
  sip_alg_ix_iter_t it;
  u16 port = clib_net_to_host_u16 (port_net);
  sip_alg_ix_foreach (sam, it, sip_alg_gate_key (addr, port_net), s)
    {
      sip_alg_smap_t *e = sip_alg_ix_entry (sam, s);
      if ((s & 3) == SIP_ALG_IX_PUB && e->ph.installed && e->ph.pub_port == port &&
	  e->ph.pub_addr.as_u32 == addr.as_u32)
	return (s >> 8) - 1;
    }
  return ~0;
}

/* The installed media entry whose inside end is (addr, port, fib). Its index, ~0: none. */
static_always_inline u32
sip_alg_ix_inside (sip_alg_main_t *sam, ip4_address_t addr, u16 port_net, u32 fib)
{
  sip_alg_ix_iter_t it;
  u64 key = sip_alg_inside_key (addr, port_net, fib);
  sip_alg_ix_foreach (sam, it, key, s)
    if ((s & 3) == SIP_ALG_IX_INSIDE &&
	sip_alg_ix_entry_key (sip_alg_ix_entry (sam, s), SIP_ALG_IX_INSIDE) == key)
      return (s >> 8) - 1;
  return ~0;
}

/*
 * Is (addr, port) an end of a signaling entry (bound: of a REGISTER binding's)? Its public
 * end (PUB) or its inside end (SIG_IN), both under the same key.
 */
static_always_inline int
sip_alg_ix_sig (sip_alg_main_t *sam, ip4_address_t addr, u16 port_net, int bound)
{
  sip_alg_ix_iter_t it;
  u16 port = clib_net_to_host_u16 (port_net);
  sip_alg_ix_foreach (sam, it, sip_alg_sig_key (addr, port_net), s)
    {
      sip_alg_smap_t *e = sip_alg_ix_entry (sam, s);
      if ((s & 3) == SIP_ALG_IX_INSIDE || !sip_alg_ix_is_sig (&e->ph) || (bound && !e->ph.bound))
	continue;
      if ((s & 3) == SIP_ALG_IX_PUB ?
	    e->ph.pub_port == port && e->ph.pub_addr.as_u32 == addr.as_u32 :
	    e->ph.in_port == port && e->ph.in_addr.as_u32 == addr.as_u32)
	return 1;
    }
  return 0;
}

/* Is (addr, port) a signaling endpoint of the server map? (any thread) */
static_always_inline int
sip_alg_is_sig_endpoint (sip_alg_main_t *sam, ip4_address_t addr, u16 port_net)
{
  return sip_alg_ix_sig (sam, addr, port_net, 0);
}

/* Is (addr, port) the public end of a REGISTER binding? (any thread) */
static_always_inline int
sip_alg_is_binding (sip_alg_main_t *sam, ip4_address_t addr, u16 port_net)
{
  return sip_alg_ix_sig (sam, addr, port_net, 1);
}

/*
 * Does the public end of a phone's NAT session (pub, port) lead somewhere else: is it the
 * public end of an installed pinhole to another inside endpoint? NAT44-ED picks dynamic
 * ports without looking at static mappings (its sessions are endpoint-dependent), so a
 * phone's session can land on a port a media pinhole holds; the phone's own signaling
 * pinhole could then not be made. Any thread (the server map changes under the barrier).
 */
static_always_inline int
sip_alg_pub_port_taken (sip_alg_main_t *sam, ip4_address_t pub, u16 port, ip4_address_t in,
			u16 in_port, u32 in_fib)
{
  u16 port_net = clib_host_to_net_u16 (port);
  if (PREDICT_TRUE (!clib_bitmap_get_no_check (sam->gate_ports, port_net)))
    return 0;
  u32 i = sip_alg_ix_gate (sam, pub, port_net);
  if (i == ~0)
    return 0;
  const sip_alg_smap_t *e = pool_elt_at_index (sam->smap, i);
  return e->ph.in_addr.as_u32 != in.as_u32 || e->ph.in_port != in_port ||
	 e->ph.in_fib != in_fib;
}

/*
 * A thread's gate and media records of a server-map entry, its vectors grown to it on the
 * thread's first packet of it (sip_alg_gate_act_t).
 */
static_always_inline sip_alg_gate_act_t *
sip_alg_gate_act (sip_alg_per_thread_t *ptd, u32 entry)
{
  if (PREDICT_FALSE (entry >= vec_len (ptd->gate_act)))
    sip_alg_vec_grow ((void **) &ptd->gate_act, entry + 1, sizeof (sip_alg_gate_act_t), 0);
  return ptd->gate_act + entry;
}

static_always_inline sip_alg_media_act_t *
sip_alg_media_act (sip_alg_per_thread_t *ptd, u32 entry)
{
  if (PREDICT_FALSE (entry >= vec_len (ptd->media_act)))
    sip_alg_vec_grow ((void **) &ptd->media_act, entry + 1, sizeof (sip_alg_media_act_t),
		      CLIB_CACHE_LINE_BYTES);
  return ptd->media_act + entry;
}

/* Is (addr, port) a published SIP server (port in host order)? (any thread) */
static_always_inline int
sip_alg_is_server (sip_alg_main_t *sam, ip4_address_t addr, u16 port)
{
  for (u32 i = 0; i < sam->n_servers; i++)
    if (sam->server_addr[i].as_u32 == addr.as_u32 && sam->server_port[i] == port)
      return 1;
  return 0;
}

/* Is this UDP packet (pre-NAT) SIP to inspect? */
static_always_inline int
sip_alg_is_sip_udp (sip_alg_main_t *sam, const ip4_header_t *ip, const udp_header_t *udp)
{
  if (PREDICT_TRUE (!clib_bitmap_get_no_check (sam->cand_ports, udp->dst_port) &&
		    !clib_bitmap_get_no_check (sam->cand_ports, udp->src_port)))
    return 0;
  return sip_alg_is_sip_port (sam, udp->dst_port) || sip_alg_is_sip_port (sam, udp->src_port) ||
	 sip_alg_is_sig_endpoint (sam, ip->dst_address, udp->dst_port) ||
	 sip_alg_is_sig_endpoint (sam, ip->src_address, udp->src_port);
}

/*
 * Does sip-alg-pre look at media (count each media packet of an installed entry)? While
 * the media inactivity timer or the one-way check runs.
 */
static_always_inline int
sip_alg_media_watched (sip_alg_main_t *sam)
{
  return (sam->timeouts.media_inactivity | sam->timeouts.one_way_media) != 0;
}

/*
 * A packet sip-alg-pre marked, to its interface's second feature configuration at the same
 * place (sip_alg_chain.c). 0: there is none it can go on (the interface's configuration
 * changed unseen): it passes the rest of the arc as any packet, untouched by the ALG.
 */
static_always_inline int
sip_alg_chain_post (sip_alg_chain_t *chains, vlib_buffer_t *b)
{
  u32 rx = vnet_buffer (b)->sw_if_index[VLIB_RX];
  if (PREDICT_FALSE (rx >= vec_len (chains)))
    return 0;
  sip_alg_chain_t *ch = chains + rx;
  u32 off = b->current_config_index - ch->start; /* before the start: wraps, so too large */
  if (PREDICT_FALSE (ch->shadow == ~0 || off > ch->same))
    return 0;
  b->current_config_index = ch->shadow + off;
  return 1;
}

#endif /* __included_sip_alg_inlines_h__ */
