/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Configuration: the setters the CLI and the binary API call (main thread). Each refuses a
 * value out of its bounds with VNET_API_ERROR_INVALID_VALUE; what workers read without
 * locks changes with them stopped at the barrier.
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

int
sip_alg_set_tcp_reassembly (u32 bytes)
{
  if (bytes < 1024 || bytes > SIP_MAX_MSG_LEN)
    return VNET_API_ERROR_INVALID_VALUE;
  sip_alg_main.tcp_reassembly = bytes;
  return 0;
}

int
sip_alg_set_timeouts (u32 signaling, u32 media, u32 call)
{
  sip_alg_main_t *sam = &sip_alg_main;
  if (!signaling || !media || !call)
    return VNET_API_ERROR_INVALID_VALUE;
  sam->timeout_signaling = signaling;
  sam->timeout_media = media;
  sam->timeout_call = call;
  return 0;
}

int
sip_alg_set_call_timers (u32 media_inactivity, u32 max_duration)
{
  sip_alg_main_t *sam = &sip_alg_main;
  /* media is looked at while either runs */
  int look = !media_inactivity != !sam->media_inactivity && !sam->one_way_media;
  if (look)
    vlib_worker_thread_barrier_sync (vlib_get_main ());
  sam->media_inactivity = media_inactivity;
  sam->max_duration = max_duration;
  if (look)
    {
      /* the inside ends of media pinholes are looked at only while the timer runs */
      sip_alg_look_rebuild (sam);
      vlib_worker_thread_barrier_release (vlib_get_main ());
    }
  return 0;
}

/*
 * The one-way check (seconds, 0: off): a stream of an established call whose media came
 * one way only for this long is flagged (sip_alg_stream_one_way), counted once
 * (media_one_way). Media is counted while it or the media inactivity timer runs.
 */
int
sip_alg_set_one_way_media (u32 seconds)
{
  sip_alg_main_t *sam = &sip_alg_main;
  int look = !seconds != !sam->one_way_media && !sam->media_inactivity;
  if (look)
    vlib_worker_thread_barrier_sync (vlib_get_main ());
  sam->one_way_media = seconds;
  if (look)
    {
      sip_alg_look_rebuild (sam);
      vlib_worker_thread_barrier_release (vlib_get_main ());
    }
  return 0;
}

int
sip_alg_set_max_calls (u32 max_calls)
{
  /* the calls dump's cursor holds a pool index in 24 bits */
  if (!max_calls || max_calls > 1 << 24)
    return VNET_API_ERROR_INVALID_VALUE;
  sip_alg_main.max_calls = max_calls;
  return 0;
}

int
sip_alg_set_max_held (u32 max_held)
{
  if (!max_held || max_held > 1 << 20)
    return VNET_API_ERROR_INVALID_VALUE;
  sip_alg_main.max_held = max_held;
  return 0;
}

int
sip_alg_set_media_policy (int other_hosts)
{
  sip_alg_main.media_other_hosts = other_hosts != 0;
  return 0;
}

int
sip_alg_set_security (const sip_alg_security_t *s)
{
  sip_alg_main_t *sam = &sip_alg_main;
  if (!s->max_inbound_calls || !s->max_inbound_per_source || !s->max_binding_time ||
      !s->max_entries || s->max_entries_per_call < 4 || s->inside_port_lo < 1024 ||
      s->inside_port_hi < s->inside_port_lo)
    return VNET_API_ERROR_INVALID_VALUE;
  sam->sec = *s;
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

/*
 * The media port range: public port pairs shared by all threads, on each media address.
 * Only allowed while no media port is allocated (main thread, workers stopped at the
 * barrier).
 */
int
sip_alg_set_media_ports (u16 lo, u16 hi)
{
  sip_alg_main_t *sam = &sip_alg_main;

  lo &= ~1;
  if (lo < 1024 || hi <= lo || ((u32) hi - lo + 1) < 4)
    return VNET_API_ERROR_INVALID_VALUE;

  vlib_worker_thread_barrier_sync (vlib_get_main ());
  if (sip_alg_media_ports_in_use (sam))
    {
      vlib_worker_thread_barrier_release (vlib_get_main ());
      return VNET_API_ERROR_RSRC_IN_USE;
    }
  sip_alg_media_pool_layout (sam, lo, hi, sam->n_media_addrs);
  sip_alg_look_rebuild (sam);
  vlib_worker_thread_barrier_release (vlib_get_main ());
  return 0;
}

/*
 * The public addresses of media pinholes (at most SIP_ALG_MAX_MEDIA_ADDRS; none: the
 * signaling's public address, which NAT44-ED gave the call's signaling). Each has the
 * whole media port range; a call's pairs are all on one, the calls spread over them
 * (sip_alg_media_pair). The only place they are checked: unicast addresses (not 0.0.0.0/8,
 * loopback, multicast, 240.0.0.0/4 or the broadcast), each once. The same list again
 * changes nothing; another only while no media port is allocated (main thread).
 * Returns VNET_API_ERROR_*, with *why (when why is given) a vector naming the bad input.
 */
int
sip_alg_set_media_addresses (const ip4_address_t *addr, u32 n, u8 **why)
{
  sip_alg_main_t *sam = &sip_alg_main;

  if (n > SIP_ALG_MAX_MEDIA_ADDRS)
    {
      if (why)
	*why = format (0, "%u addresses, at most %u", n, SIP_ALG_MAX_MEDIA_ADDRS);
      return VNET_API_ERROR_TABLE_TOO_BIG;
    }
  for (u32 i = 0; i < n; i++)
    {
      u8 first = addr[i].as_u8[0];
      const char *bad = first == 0	  ? "not a host's address (0.0.0.0/8)" :
			first == 127	  ? "a loopback address" :
			first >= 224 && first < 240 ? "a multicast address" :
			addr[i].as_u32 == ~0u ? "the broadcast address" :
			first >= 240	  ? "a reserved address (240.0.0.0/4)" :
					    0;
      for (u32 k = 0; k < i && !bad; k++)
	if (addr[k].as_u32 == addr[i].as_u32)
	  bad = "listed twice";
      if (bad)
	{
	  if (why)
	    *why = format (0, "%U: %s", format_ip4_address, &addr[i], bad);
	  return VNET_API_ERROR_INVALID_VALUE;
	}
    }
  if (n == sam->n_media_addrs && !memcmp (addr, sam->media_addrs, n * sizeof (addr[0])))
    return 0; /* as it is: nothing to lay out again */

  vlib_worker_thread_barrier_sync (vlib_get_main ());
  if (sam->media_words && sip_alg_media_ports_in_use (sam))
    {
      vlib_worker_thread_barrier_release (vlib_get_main ());
      if (why)
	*why = format (0, "%u media port pairs in use", sip_alg_media_ports_in_use (sam));
      return VNET_API_ERROR_RSRC_IN_USE;
    }
  clib_memset (sam->media_addrs, 0, sizeof (sam->media_addrs));
  clib_memcpy (sam->media_addrs, addr, n * sizeof (addr[0]));
  sam->n_media_addrs = n;
  sip_alg_media_pool_layout (sam, sam->media_port_lo, sam->media_port_hi, n);
  vlib_worker_thread_barrier_release (vlib_get_main ());
  return 0;
}
