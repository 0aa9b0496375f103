/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Configuration: the setters the CLI and the binary API call (main thread), one per section
 * of settings (sip_alg_timeouts_t, sip_alg_limits_t, sip_alg_security_t, sip_alg_media_t),
 * each taking the whole section. They are the only place a value is accepted or refused:
 * out of its bounds (SIP_ALG_*_MIN, _MAX in sip_alg.h) it is refused with
 * VNET_API_ERROR_INVALID_VALUE and a message naming the field and the value, and nothing
 * changes. What workers read without locks changes with them stopped at the barrier.
 */

#include <vnet/vnet.h>
#include <vlib/threads.h>

#include <sip_alg/sip_alg.h>

int
sip_alg_set_udp_ports (const u16 *ports, u32 n)
{
  sip_alg_main_t *sam = &sip_alg_main;
  if (n == 0 || n > SIP_ALG_MAX_PORTS)
    return VNET_API_ERROR_INVALID_VALUE;
  for (u32 i = 0; i < n; i++)
    if (ports[i] == 0)
      return VNET_API_ERROR_INVALID_VALUE;
  u16 old[SIP_ALG_MAX_PORTS];
  u32 n_old = sam->n_udp_ports;
  clib_memcpy (old, sam->udp_ports, sizeof (old));
  vlib_worker_thread_barrier_sync (vlib_get_main ());
  for (u32 i = 0; i < n; i++)
    sam->udp_ports[i] = clib_host_to_net_u16 (ports[i]);
  sam->n_udp_ports = n;
  for (u32 i = 0; i < n_old; i++)
    sip_alg_cand_port_update (sam, old[i]);
  for (u32 i = 0; i < n; i++)
    sip_alg_cand_port_update (sam, sam->udp_ports[i]);
  vlib_worker_thread_barrier_release (vlib_get_main ());
  return 0;
}

/* SIP over TCP ports (0 ports: none inspected). Workers read them without the barrier. */
int
sip_alg_set_tcp_ports (const u16 *ports, u32 n)
{
  sip_alg_main_t *sam = &sip_alg_main;
  if (n > SIP_ALG_MAX_PORTS)
    return VNET_API_ERROR_INVALID_VALUE;
  for (u32 i = 0; i < n; i++)
    if (ports[i] == 0)
      return VNET_API_ERROR_INVALID_VALUE;
  vlib_worker_thread_barrier_sync (vlib_get_main ());
  for (u32 i = 0; i < n; i++)
    sam->tcp_ports[i] = clib_host_to_net_u16 (ports[i]);
  sam->n_tcp_ports = n;
  sip_alg_look_rebuild (sam);
  vlib_worker_thread_barrier_release (vlib_get_main ());
  return 0;
}

/* why (when given): a vector saying what was refused */
#define SIP_ALG_REFUSE(rv, ...)                                                                \
  do                                                                                           \
    {                                                                                          \
      if (why)                                                                                 \
	*why = format (0, __VA_ARGS__);                                                        \
      return (rv);                                                                             \
    }                                                                                          \
  while (0)

/* v within lo..hi, or 0 when off_ok: 0, else INVALID_VALUE naming it */
static int
sip_alg_check (u8 **why, const char *name, u32 v, u32 lo, u32 hi, int off_ok)
{
  if ((off_ok && !v) || (v >= lo && v <= hi))
    return 0;
  SIP_ALG_REFUSE (VNET_API_ERROR_INVALID_VALUE, "%s %u: want %s%u..%u", name, v,
		  off_ok ? "0 (off) or " : "", lo, hi);
}

int
sip_alg_set_timeouts (const sip_alg_timeouts_t *t, u8 **why)
{
  sip_alg_main_t *sam = &sip_alg_main;
  int rv;
  if ((rv = sip_alg_check (why, "signaling", t->signaling, SIP_ALG_TIMEOUT_MIN,
			   SIP_ALG_TIMEOUT_MAX, 0)) ||
      (rv = sip_alg_check (why, "media", t->media, SIP_ALG_TIMEOUT_MIN, SIP_ALG_TIMEOUT_MAX, 0)) ||
      (rv = sip_alg_check (why, "call", t->call, SIP_ALG_TIMEOUT_MIN, SIP_ALG_TIMEOUT_MAX, 0)) ||
      (rv = sip_alg_check (why, "media_inactivity", t->media_inactivity, 1,
			   SIP_ALG_MEDIA_INACTIVITY_MAX, 1)) ||
      (rv = sip_alg_check (why, "max_duration", t->max_duration, 1, SIP_ALG_MAX_DURATION_MAX,
			   1)) ||
      (rv = sip_alg_check (why, "one_way_media", t->one_way_media, 1, SIP_ALG_ONE_WAY_MEDIA_MAX,
			   1)))
    return rv;
  /*
   * Media is looked at while the media inactivity timer or the one-way check runs (the
   * inside ends of media pinholes, sip_alg_media_looked): on or off, the bitmaps again.
   */
  int look = !(t->media_inactivity | t->one_way_media) !=
	     !(sam->timeouts.media_inactivity | sam->timeouts.one_way_media);
  if (look)
    vlib_worker_thread_barrier_sync (vlib_get_main ());
  sam->timeouts = *t;
  if (look)
    {
      sip_alg_look_rebuild (sam);
      vlib_worker_thread_barrier_release (vlib_get_main ());
    }
  return 0;
}

/*
 * The media pool: the port range's pairs on each media address (n of addrs, and the
 * signaling's), laid out again with the addresses only while no media port is allocated
 * (main thread; workers stopped at the barrier), else RSRC_IN_USE.
 */
int
sip_alg_media_range_layout (sip_alg_main_t *sam, u16 lo, u16 hi, const ip4_address_t *addrs,
			    u32 n)
{
  vlib_worker_thread_barrier_sync (vlib_get_main ());
  if (sam->media_words && sip_alg_media_ports_in_use (sam))
    {
      vlib_worker_thread_barrier_release (vlib_get_main ());
      return VNET_API_ERROR_RSRC_IN_USE;
    }
  if (addrs != sam->media.addrs)
    {
      clib_memset (sam->media.addrs, 0, sizeof (sam->media.addrs));
      clib_memcpy (sam->media.addrs, addrs, n * sizeof (addrs[0]));
      sam->media.n_addrs = n;
    }
  sip_alg_media_pool_layout (sam, lo, hi, n);
  sip_alg_look_rebuild (sam);
  vlib_worker_thread_barrier_release (vlib_get_main ());
  return 0;
}

int
sip_alg_set_limits (const sip_alg_limits_t *l, u8 **why)
{
  sip_alg_main_t *sam = &sip_alg_main;
  u16 lo = l->media_port_lo, hi = l->media_port_hi;
  int rv;
  if ((rv = sip_alg_check (why, "max_calls", l->max_calls, 1, SIP_ALG_MAX_CALLS_MAX, 0)) ||
      (rv = sip_alg_check (why, "max_held", l->max_held, 1, SIP_ALG_MAX_HELD_MAX, 0)) ||
      (rv = sip_alg_check (why, "tcp_reassembly", l->tcp_reassembly, SIP_ALG_TCP_REASSEMBLY_MIN,
			   SIP_MAX_MSG_LEN, 0)))
    return rv;
  /* RTP on the even port, RTCP on the odd one above: the range starts on an even port */
  if (lo < SIP_ALG_MEDIA_PORT_MIN || (lo & 1) || hi <= lo ||
      ((u32) hi - lo + 1) < SIP_ALG_MEDIA_PORTS_MIN_COUNT)
    SIP_ALG_REFUSE (VNET_API_ERROR_INVALID_VALUE,
		    "media_ports %u-%u: want an even first port, %u <= lo < hi <= 65535, "
		    "at least %u ports",
		    lo, hi, SIP_ALG_MEDIA_PORT_MIN, SIP_ALG_MEDIA_PORTS_MIN_COUNT);
  if ((lo != sam->limits.media_port_lo || hi != sam->limits.media_port_hi) &&
      (rv = sip_alg_media_range_layout (sam, lo, hi, sam->media.addrs, sam->media.n_addrs)))
    SIP_ALG_REFUSE (rv, "media_ports %u-%u: media ports in use (%u pairs)", lo, hi,
		    sip_alg_media_ports_in_use (sam));
  sam->limits = *l; /* the range as laid out */
  return 0;
}

int
sip_alg_set_security (const sip_alg_security_t *s, u8 **why)
{
  sip_alg_main_t *sam = &sip_alg_main;
  int rv;
  if ((rv = sip_alg_check (why, "max_inbound_calls", s->max_inbound_calls, 1, ~0u, 0)) ||
      (rv = sip_alg_check (why, "max_inbound_per_source", s->max_inbound_per_source, 1, ~0u,
			   0)) ||
      (rv = sip_alg_check (why, "max_binding_time", s->max_binding_time, 1, ~0u, 0)) ||
      (rv = sip_alg_check (why, "max_entries", s->max_entries, 1, ~0u, 0)) ||
      (rv = sip_alg_check (why, "max_entries_per_call", s->max_entries_per_call,
			   SIP_ALG_MIN_PER_CALL, ~0u, 0)))
    return rv;
  if (s->inside_port_lo < SIP_ALG_INSIDE_PORT_LO || s->inside_port_hi < s->inside_port_lo)
    SIP_ALG_REFUSE (VNET_API_ERROR_INVALID_VALUE,
		    "inside_media_ports %u-%u: want %u <= lo <= hi <= 65535", s->inside_port_lo,
		    s->inside_port_hi, SIP_ALG_INSIDE_PORT_LO);
  /* max_calls_per_host, max_entries_per_host: any, 0 is off */
  sam->sec = *s;
  return 0;
}

/*
 * The public addresses of media pinholes (at most SIP_ALG_MAX_MEDIA_ADDRS; none: the
 * signaling's public address, which NAT44-ED gave the call's signaling), and whether other
 * inside hosts an SDP names get media pinholes. Each address has the whole media port
 * range; a call's pairs are all on one, the calls spread over them (sip_alg_media_pair).
 * The addresses are unicast (not 0.0.0.0/8, loopback, multicast, 240.0.0.0/4 or the
 * broadcast), each once. The same list again changes nothing; another only while no media
 * port is allocated (RSRC_IN_USE).
 */
int
sip_alg_set_media (const sip_alg_media_t *m, u8 **why)
{
  sip_alg_main_t *sam = &sip_alg_main;
  u32 n = m->n_addrs;
  int rv;

  if (n > SIP_ALG_MAX_MEDIA_ADDRS)
    SIP_ALG_REFUSE (VNET_API_ERROR_TABLE_TOO_BIG, "addresses: %u, at most %u", n,
		    SIP_ALG_MAX_MEDIA_ADDRS);
  if (m->other_hosts > 1)
    SIP_ALG_REFUSE (VNET_API_ERROR_INVALID_VALUE, "other_hosts %u: want 0 or 1",
		    m->other_hosts);
  for (u32 i = 0; i < n; i++)
    {
      const ip4_address_t *a = &m->addrs[i];
      u8 first = a->as_u8[0];
      const char *bad = first == 0	  ? "not a host's address (0.0.0.0/8)" :
			first == 127	  ? "a loopback address" :
			first >= 224 && first < 240 ? "a multicast address" :
			a->as_u32 == ~0u  ? "the broadcast address" :
			first >= 240	  ? "a reserved address (240.0.0.0/4)" :
					    0;
      for (u32 k = 0; k < i && !bad; k++)
	if (m->addrs[k].as_u32 == a->as_u32)
	  bad = "listed twice";
      if (bad)
	SIP_ALG_REFUSE (VNET_API_ERROR_INVALID_VALUE, "addresses: %U: %s", format_ip4_address,
			a, bad);
    }
  if (n != sam->media.n_addrs || memcmp (m->addrs, sam->media.addrs, n * sizeof (m->addrs[0])))
    {
      if ((rv = sip_alg_media_range_layout (sam, sam->limits.media_port_lo,
					    sam->limits.media_port_hi, m->addrs, n)))
	SIP_ALG_REFUSE (rv, "addresses: %u media port pairs in use",
			sip_alg_media_ports_in_use (sam));
    }
  sam->media.other_hosts = m->other_hosts;
  return 0;
}

/* Main thread (API, CLI). Returns VNET_API_ERROR_* or 0. */
int
sip_alg_set_servers (const ip4_address_t *addr, const u16 *port, u32 n)
{
  sip_alg_main_t *sam = &sip_alg_main;
  if (n > SIP_ALG_MAX_SERVERS)
    return VNET_API_ERROR_TABLE_TOO_BIG;
  for (u32 i = 0; i < n; i++)
    if (!addr[i].as_u32 || !port[i])
      return VNET_API_ERROR_INVALID_VALUE;
  vlib_worker_thread_barrier_sync (vlib_get_main ());
  clib_memcpy (sam->server_addr, addr, n * sizeof (addr[0]));
  clib_memcpy (sam->server_port, port, n * sizeof (port[0]));
  sam->n_servers = n;
  vlib_worker_thread_barrier_release (vlib_get_main ());
  return 0;
}

/* Main thread, barrier held (API, CLI): the buckets start full under the new rates. */
int
sip_alg_set_validation (const sip_alg_validation_t *v)
{
  sip_alg_main_t *sam = &sip_alg_main;
  for (u32 i = 0; i < SIP_ALG_N_CLASSES; i++)
    if (v->action[i] > SIP_ALG_ACTION_DROP)
      return VNET_API_ERROR_INVALID_VALUE;
  for (u32 k = 0; k < SIP_ALG_N_RATES; k++)
    if (v->rate[k].rate && v->rate[k].burst < 1)
      return VNET_API_ERROR_INVALID_VALUE;
  if (v->block_methods & ~(((2u << SIP_METHOD_OTHER) - 1) & ~1u))
    return VNET_API_ERROR_INVALID_VALUE;
  sam->val = *v;
  for (u32 t = 0; t < vec_len (sam->per_thread); t++)
    for (u32 k = 0; k < SIP_ALG_N_RATES; k++)
      if (sam->per_thread[t].buckets[k])
	clib_memset (sam->per_thread[t].buckets[k], 0,
		     vec_len (sam->per_thread[t].buckets[k]) * sizeof (sip_alg_bucket_t));
  return 0;
}

/* Per-host counts (sip_alg_host_key -> n): +1 / -1, the key gone at 0. */
void
sip_alg_host_count (uword **h, uword key, int delta)
{
  uword *p = hash_get (*h, key);
  uword n = (p ? p[0] : 0) + delta;
  if (n && n < (uword) 1 << 32)
    hash_set (*h, key, n);
  else if (p)
    hash_unset (*h, key);
}

void
sip_alg_get_security (sip_alg_security_t *s)
{
  *s = sip_alg_main.sec;
}
