/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Inline helpers the plugin's files share on the packet path (as nat44_ed_inlines.h is
 * nat44-ed's): the buffer's stash and fragment word, the keys of the gate's and the server
 * map's tables and their lookups, what sip-alg-pre looks at.
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
 * The inside end (addr, port, FIB) of an installed entry, in the same table as the gate
 * keys (bit 16 tells it from them; the FIB index's low 15 bits above it: tenants' VRFs may
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

/* Is (addr, port) a signaling endpoint of the server map? (any thread) */
static_always_inline int
sip_alg_is_sig_endpoint (sip_alg_main_t *sam, ip4_address_t addr, u16 port_net)
{
  if (!sam->sig_port_refs) /* no table before the ALG is first enabled */
    return 0;
  clib_bihash_kv_8_8_t kv = { .key = sip_alg_sig_key (addr, port_net) };
  return clib_bihash_search_inline_8_8 (&sam->sig_endpoints, &kv) == 0;
}

/* Is (addr, port) the public end of a REGISTER binding? (any thread) */
static_always_inline int
sip_alg_is_binding (sip_alg_main_t *sam, ip4_address_t addr, u16 port_net)
{
  if (!sam->sig_port_refs)
    return 0;
  clib_bihash_kv_8_8_t kv = { .key = sip_alg_sig_key (addr, port_net) };
  return clib_bihash_search_inline_8_8 (&sam->sig_endpoints, &kv) == 0 &&
	 (kv.value >> 32) > 0;
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
  clib_bihash_kv_8_8_t kv = { .key = sip_alg_gate_key (pub, port_net) };
  if (PREDICT_TRUE (!clib_bitmap_get_no_check (sam->gate_ports, port_net)) ||
      clib_bihash_search_inline_8_8 (&sam->pinholes, &kv))
    return 0;
  const sip_alg_smap_t *e = pool_elt_at_index (sam->smap, kv.value);
  return e->ph.in_addr.as_u32 != in.as_u32 || e->ph.in_port != in_port ||
	 e->ph.in_fib != in_fib;
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
  return (sam->media_inactivity | sam->one_way_media) != 0;
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
