/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Core functions of the plugin: configuration, the server map (main thread), pinholes as
 * NAT44-ED static mappings, aging, and the worker -> main thread request path.
 */

#include <vnet/vnet.h>
#include <vnet/feature/feature.h>
#include <vnet/plugin/plugin.h>
#include <vlib/threads.h>
#include <vpp/app/version.h>
#include <vnet/ip/ip4.h>
#include <vnet/ip/reass/ip4_full_reass.h>
#include <vnet/fib/fib_table.h>
#include <vlibapi/api.h>
#include <vlibmemory/api.h>
#include <nat/nat44-ed/nat44_ed.api_types.h>

#include <sip_alg/sip_alg.h>

#include <vppinfra/bihash_template.c>

sip_alg_main_t sip_alg_main;

/* Requests queued by the RPC for the process node (main thread only). */
typedef struct
{
  u8 kind; /* SIP_ALG_REQ_* */
  u8 media_only;
  u8 replace_outside; /* PINHOLES: the outside party's media records become these */
  u32 epoch;	      /* the call record's dialog it is for */
  u16 thread;
  u32 call_index;
  u32 held_bi; /* ~0: nothing held */
  u32 next_node_index;
  ip4_address_t peer_addr; /* the remote end of the message's NAT session */
  u16 peer_port;
  u8 resendable; /* the held message is a datagram of an inside phone, which resends it */
  u16 drop_held; /* set by the main thread: the held message is dropped with this error */
  u32 n_ph;
  sip_alg_pinhole_t ph[2 * SIP_ALG_CALL_MAX_MEDIA + 2];
} sip_alg_req_t;

enum
{
  SIP_ALG_REQ_PINHOLES = 1,
  SIP_ALG_REQ_CLOSE,
  SIP_ALG_REQ_RELEASE, /* media the session no longer has: ph[].pub_addr/pub_port (RTP) */
  SIP_ALG_REQ_MOVE,    /* a phone's signaling to a pool port: ph[0] its NAT session's ends */
};

enum
{
  SIP_ALG_EVENT_REQ = 1,
};

static sip_alg_req_t *sip_alg_reqs; /* the process node's queue (main thread) */

/*
 * Requests from the threads that run the data path: appended under a spinlock, then the
 * main thread's sip-alg-wake node is set pending (an interrupt: cross-thread safe, no
 * barrier), which wakes the process node. An RPC to the main thread would cost a barrier
 * per batch on top of the process node's own.
 */
static sip_alg_req_t *sip_alg_incoming;
static clib_spinlock_t sip_alg_incoming_lock;

static void
sip_alg_count (u32 counter, u64 n)
{
  vlib_node_increment_counter (vlib_get_main (), sip_alg_post_node.index, counter, n);
}

/* --- configuration ------------------------------------------------------------------ */

static void sip_alg_nat_api_init (sip_alg_main_t *sam);

static void
sip_alg_lazy_init (sip_alg_main_t *sam)
{
  vlib_thread_main_t *tm = vlib_get_thread_main ();
  u32 n_threads = tm->n_vlib_mains;

  if (sam->initialized)
    return;
  sip_alg_chain_init (sam);
  vec_validate_aligned (sam->per_thread, n_threads - 1, CLIB_CACHE_LINE_BYTES);
  clib_bihash_init_8_8 (&sam->sig_endpoints, "sip-alg signaling endpoints", 1024, 4 << 20);
  clib_bihash_init_8_8 (&sam->pinholes, "sip-alg pinholes", 4096, 16 << 20);
  clib_bihash_init_8_8 (&sam->smap_by_key, "sip-alg server map", 4096, 16 << 20);
  vec_validate_init_empty (sam->sig_port_refs, 65535, 0);
  vec_validate_init_empty (sam->gate_port_refs, 65535, 0);
  vec_validate_init_empty (sam->inside_port_refs, 65535, 0);
  for (u32 i = 0; i < n_threads; i++)
    {
      sip_alg_per_thread_t *ptd = &sam->per_thread[i];
      ptd->call_by_id = hash_create_vec (64, sizeof (u8), sizeof (uword));
      vec_validate (ptd->own_map, SIP_ALG_OWN_MAP_SIZE - 1);
      ptd->inbound_by_src = hash_create (0, sizeof (uword));
      ptd->calls_by_host = hash_create (0, sizeof (uword));
      for (u32 k = 0; k < SIP_ALG_N_RATES; k++)
	vec_validate_aligned (ptd->buckets[k], SIP_ALG_RATE_BUCKETS - 1, CLIB_CACHE_LINE_BYTES);
      ptd->tcp_by_key = hash_create_mem (0, sizeof (sip_alg_tcp_key_t), sizeof (uword));
      vec_validate (ptd->scratch, SIP_MAX_MSG_LEN + 64);
    }
  sip_alg_set_media_ports (sam->media_port_lo, sam->media_port_hi);
  sip_alg_nat_api_init (sam);
  /*
   * SIP datagrams over the MTU arrive as fragments: sip-alg-pre sends fragments (only
   * them) to VPP's full reassembly, whose whole datagram starts over at ip4-input. Not
   * the reassembly feature on the interface: it costs every packet ~30 clocks.
   */
  sam->reass_custom_next = ip4_full_reass_custom_register_next_node (ip4_input_node.index);
  sam->pre_next_reass =
    vlib_node_add_named_next (sam->vlib_main, sip_alg_pre_node.index, "ip4-full-reassembly-custom");
  vlib_process_signal_event (sam->vlib_main, sam->process_node_index, 0, 0);
  sam->initialized = 1;
}

/* --- the gate (see sip_alg.h) ----------------------------------------------------------- */

/* NAT44-ED's features on an interface where it translates out2in (outside, or in+out) */
static const char *sip_alg_nat_outside_features[] = {
  "nat-pre-out2in",
  "nat44-out2in-worker-handoff",
  "nat44-ed-classify",
  "nat44-handoff-classify",
};

/*
 * sip-alg-pre's fast test (sam->look): a UDP port is looked at when it is a candidate
 * (cand_ports), has a pinhole (gate_ports), is the inside end of a media pinhole while the
 * media inactivity timer or the one-way check runs (inside_ports: the inside party's media
 * are counted), or lies
 * in the media range while the gate guards one (gate_media: an outside interface with the
 * ACL's input node). Bitmaps keep their 65536 bits and are set in place: workers read them
 * without the barrier.
 */
static void
sip_alg_look_update (sip_alg_main_t *sam, u16 port_net)
{
  u16 port = clib_net_to_host_u16 (port_net);
  int on = clib_bitmap_get_no_check (sam->cand_ports, port_net) ||
	   clib_bitmap_get_no_check (sam->gate_ports, port_net) ||
	   (sip_alg_media_watched (sam) &&
	    clib_bitmap_get_no_check (sam->inside_ports, port_net)) ||
	   (sam->gate_media && port >= sam->media_port_lo && port <= sam->media_port_hi) ||
	   port == SIP_ALG_STUN_PORT;
  clib_bitmap_set_no_check (sam->look[IP_PROTOCOL_UDP], port_net, on);
}

static void
sip_alg_look_rebuild (sip_alg_main_t *sam)
{
  for (u32 p = 0; p < 65536; p++)
    {
      sip_alg_look_update (sam, p);
      clib_bitmap_set_no_check (sam->look[IP_PROTOCOL_TCP], p,
				sip_alg_is_sip_tcp_port (sam, p) ||
				  p == clib_host_to_net_u16 (SIP_ALG_TLS_PORT));
    }
}

/*
 * Which interfaces the gate serves, and how sip-alg-pre reaches the nodes after the ACL's
 * input node. Main thread, after any feature change (the ACL plugin adding its node to an
 * interface adds nexts to it) and any change of the ALG's interfaces.
 */
static void
sip_alg_gate_update (sip_alg_main_t *sam)
{
  vlib_main_t *vm = vlib_get_main ();
  vlib_node_t *acl = vlib_get_node_by_name (vm, (u8 *) "acl-plugin-in-ip4-fa");
  uword *gate_if = 0;
  u32 *map = 0, pre_next_acl = ~0;
  u8 gate_media = 0;
  uword i;

  clib_bitmap_foreach (i, sam->if_enabled)
    {
      for (u32 f = 0; f < ARRAY_LEN (sip_alg_nat_outside_features); f++)
	if (vnet_feature_is_enabled ("ip4-unicast", sip_alg_nat_outside_features[f], i))
	  {
	    gate_if = clib_bitmap_set (gate_if, i, 1);
	    gate_media |= acl && vnet_feature_is_enabled ("ip4-unicast", "acl-plugin-in-ip4-fa", i);
	    break;
	  }
    }
  if (acl) /* the ACL plugin is loaded */
    {
      pre_next_acl = vlib_node_add_next (vm, sip_alg_pre_node.index, acl->index);
      vec_validate_init_empty (map, vec_len (acl->next_nodes) - 1, ~0);
      for (u32 j = 0; j < vec_len (acl->next_nodes); j++)
	if (acl->next_nodes[j] != ~0)
	  map[j] = vlib_node_add_next (vm, sip_alg_pre_node.index, acl->next_nodes[j]);
    }
  if (clib_bitmap_is_equal (gate_if, sam->gate_if) && pre_next_acl == sam->pre_next_acl &&
      gate_media == sam->gate_media &&
      vec_len (map) == vec_len (sam->gate_next_by_acl_next) &&
      (!vec_len (map) ||
       !memcmp (map, sam->gate_next_by_acl_next, vec_len (map) * sizeof (map[0]))))
    {
      clib_bitmap_free (gate_if);
      vec_free (map);
      return;
    }
  /* workers read these without locks: swap them while they wait */
  vlib_worker_thread_barrier_sync (vm);
  uword *old_if = sam->gate_if;
  u32 *old_map = sam->gate_next_by_acl_next;
  sam->gate_if = gate_if;
  sam->gate_next_by_acl_next = map;
  sam->pre_next_acl = pre_next_acl;
  if (gate_media != sam->gate_media)
    {
      sam->gate_media = gate_media;
      sip_alg_look_rebuild (sam);
    }
  vlib_worker_thread_barrier_release (vm);
  clib_bitmap_free (old_if);
  vec_free (old_map);
}

/*
 * Is NAT44-ED's output feature on the interface (NAT on a single-arm firewall: in2out on
 * ip4-output)? The ALG's nodes run on ip4-unicast around NAT44-ED's input nodes, so they
 * never see that translation: it refuses such an interface (issue 14) rather than let SIP
 * pass untranslated.
 */
int
sip_alg_nat_output_feature (u32 sw_if_index)
{
  return vnet_feature_is_enabled ("ip4-output", "nat-pre-in2out-output", sw_if_index) == 1 ||
	 vnet_feature_is_enabled ("ip4-output", "nat44-in2out-output-worker-handoff",
				  sw_if_index) == 1;
}

static void
sip_alg_feature_update (u32 sw_if_index, u8 arc_index, u8 is_enable, void *data)
{
  sip_alg_main_t *sam = &sip_alg_main;
  if (!sam->initialized)
    return;
  if (arc_index == sam->arc_index)
    sip_alg_chain_update (sam, sw_if_index);
  sip_alg_gate_update (sam);
  /* NAT's output feature turned on where the ALG already is: it cannot work there */
  if (is_enable && clib_bitmap_get (sam->if_enabled, sw_if_index) &&
      sip_alg_nat_output_feature (sw_if_index))
    vlib_log_warn (sam->log_class,
		   "%U: NAT44-ED output feature on an interface with the SIP ALG: the ALG does "
		   "not work with output-feature NAT, SIP there passes untranslated",
		   format_vnet_sw_if_index_name, vnet_get_main (), sw_if_index);
}

/*
 * The gate's view of an installed pinhole, and its inside end for media activity (main
 * thread, barrier held).
 */
static void
sip_alg_gate_add_del (sip_alg_main_t *sam, const sip_alg_smap_t *e, int is_add)
{
  u16 port_net = clib_host_to_net_u16 (e->ph.pub_port);
  clib_bihash_kv_8_8_t kv = { .key = sip_alg_gate_key (e->ph.pub_addr, port_net),
			      .value = e - sam->smap };
  if (clib_bihash_add_del_8_8 (&sam->pinholes, &kv, is_add) == 0)
    {
      sam->gate_port_refs[port_net] += is_add ? 1 : -1;
      clib_bitmap_set_no_check (sam->gate_ports, port_net, sam->gate_port_refs[port_net] > 0);
      sip_alg_look_update (sam, port_net);
    }
  if (e->ph.app == SIP_ALG_APP_SIP)
    return; /* signaling is looked at anyway */
  port_net = clib_host_to_net_u16 (e->ph.in_port);
  kv.key = sip_alg_inside_key (e->ph.in_addr, port_net, e->ph.in_fib);
  clib_bihash_kv_8_8_t v;
  int there = clib_bihash_search_8_8 (&sam->pinholes, &kv, &v) == 0;
  if (is_add ? there : !there || v.value != kv.value)
    return; /* another entry's inside end (NAT refuses a second mapping of it anyway) */
  clib_bihash_add_del_8_8 (&sam->pinholes, &kv, is_add);
  sam->inside_port_refs[port_net] += is_add ? 1 : -1;
  clib_bitmap_set_no_check (sam->inside_ports, port_net, sam->inside_port_refs[port_net] > 0);
  sip_alg_look_update (sam, port_net);
}

int
sip_alg_interface_enable_disable (u32 sw_if_index, int enable)
{
  sip_alg_main_t *sam = &sip_alg_main;
  vnet_main_t *vnm = vnet_get_main ();

  if (pool_is_free_index (vnm->interface_main.sw_interfaces, sw_if_index))
    return VNET_API_ERROR_INVALID_SW_IF_INDEX;
  if (enable == clib_bitmap_get (sam->if_enabled, sw_if_index))
    return enable ? VNET_API_ERROR_FEATURE_ALREADY_ENABLED :
		    VNET_API_ERROR_FEATURE_ALREADY_DISABLED;
  if (enable && sip_alg_nat_output_feature (sw_if_index))
    return VNET_API_ERROR_UNSUPPORTED;
  if (enable)
    sip_alg_lazy_init (sam);
  vnet_feature_enable_disable ("ip4-unicast", "sip-alg-pre", sw_if_index, enable, 0, 0);
  sam->if_enabled = clib_bitmap_set (sam->if_enabled, sw_if_index, enable);
  sip_alg_chain_update (sam, sw_if_index); /* sip-alg-post: for the packets pre marks */
  sip_alg_gate_update (sam);
  return 0;
}

/*
 * A port is a candidate while it is a configured SIP port or has a signaling endpoint. The
 * bitmap is set in place (it keeps its 65536 bits): workers read it without the barrier.
 */
static void
sip_alg_cand_port_update (sip_alg_main_t *sam, u16 port_net)
{
  int on = sip_alg_is_sip_port (sam, port_net) ||
	   (sam->sig_port_refs && sam->sig_port_refs[port_net] > 0);
  clib_bitmap_set_no_check (sam->cand_ports, port_net, on);
  sip_alg_look_update (sam, port_net);
}

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

/* Forget a SIP over TCP connection (its worker, or the main thread with the barrier). */
void
sip_alg_tcp_conn_free (sip_alg_per_thread_t *ptd, sip_alg_tcp_conn_t *tc)
{
  for (int d = 0; d < 2; d++)
    {
      vec_free (tc->half[d].pending);
      vec_free (tc->half[d].unit);
    }
  hash_unset_mem (ptd->tcp_by_key, tc->key);
  clib_mem_free (tc->key);
  pool_put (ptd->tcp_conns, tc);
  clib_atomic_fetch_sub_relax (&ptd->n_tcp_conns, 1);
  vlib_node_increment_counter (vlib_get_main (), sip_alg_post_node.index,
			       SIP_ALG_ERROR_TCP_CLOSED, 1);
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
 * The media port range: public port pairs shared by all threads. Only allowed while no media
 * port is allocated (main thread, workers stopped at the barrier).
 */
int
sip_alg_set_media_ports (u16 lo, u16 hi)
{
  sip_alg_main_t *sam = &sip_alg_main;

  lo &= ~1;
  if (lo < 1024 || hi <= lo || ((u32) hi - lo + 1) < 4)
    return VNET_API_ERROR_INVALID_VALUE;

  u32 n_pairs = ((u32) hi - lo + 1) / 2;
  u32 n_words = (n_pairs + 63) / 64;
  vlib_worker_thread_barrier_sync (vlib_get_main ());
  if (sip_alg_media_ports_in_use (sam))
    {
      vlib_worker_thread_barrier_release (vlib_get_main ());
      return VNET_API_ERROR_RSRC_IN_USE;
    }
  vec_free (sam->media_pairs);
  vec_validate_init_empty_aligned (sam->media_pairs, n_words - 1, 0, CLIB_CACHE_LINE_BYTES);
  if (n_pairs % 64)
    sam->media_pairs[n_words - 1] = ~0ULL << (n_pairs % 64); /* past the range: taken */
  sam->n_media_pairs = n_pairs;
  sam->media_port_lo = lo;
  sam->media_port_hi = hi;
  /* threads start their search at different places of the range */
  for (u32 i = 0; i < vec_len (sam->per_thread); i++)
    sam->per_thread[i].media_next = (u64) n_pairs * i / vec_len (sam->per_thread);
  sip_alg_look_rebuild (sam);
  vlib_worker_thread_barrier_release (vlib_get_main ());
  return 0;
}

/*
 * An even public port (RTP; RTCP is the next one) from the shared range, 0 when none is
 * left. Lock-free: a compare-and-swap on the word of the pair. Each thread moves round
 * robin from where it took the last pair, so a port just given back is not reused at once.
 */
u16
sip_alg_media_port_alloc (sip_alg_main_t *sam, sip_alg_per_thread_t *ptd)
{
  u32 n_words = vec_len (sam->media_pairs);
  u32 cur = ptd->media_next < sam->n_media_pairs ? ptd->media_next : 0;

  if (PREDICT_FALSE (!n_words))
    return 0; /* no range yet */

  /* n_words + 1 visits: the first word again, below the cursor, at the end */
  for (u32 k = 0; k <= n_words; k++)
    {
      u32 w = (cur / 64 + k) % n_words;
      u64 below = k == 0 ? (1ULL << (cur % 64)) - 1 : 0;
      u64 *wp = &sam->media_pairs[w];
      u64 old = clib_atomic_load_relax_n (wp);
      while ((old | below) != ~0ULL)
	{
	  u32 bit = count_trailing_zeros (~(old | below));
	  if (clib_atomic_cmp_and_swap_acq_relax_n (wp, &old, old | (1ULL << bit), 0))
	    {
	      u32 pair = w * 64 + bit;
	      ptd->media_next = pair + 1;
	      return sam->media_port_lo + 2 * pair;
	    }
	  /* another thread changed the word: old holds its new value, try again */
	}
    }
  return 0;
}

/*
 * A media port pair from the pool whose ports are not a phone's signaling pinhole: NAT44-ED
 * gives phones' sessions dynamic ports anywhere, the media range included, and the ALG makes
 * them pinholes. A pair passed over goes back after a few tries; should the pair still clash
 * (a pinhole made meanwhile), the main thread finds it (sip_alg_smap_add). 0: none left.
 */
u16
sip_alg_media_pair (sip_alg_main_t *sam, sip_alg_per_thread_t *ptd, ip4_address_t pub)
{
  u16 skipped[4], port;
  u32 n = 0;
  while ((port = sip_alg_media_port_alloc (sam, ptd)) && n < ARRAY_LEN (skipped) &&
	 (sip_alg_is_sig_endpoint (sam, pub, clib_host_to_net_u16 (port)) ||
	  sip_alg_is_sig_endpoint (sam, pub, clib_host_to_net_u16 (port + 1))))
    skipped[n++] = port;
  for (u32 i = 0; i < n; i++)
    sip_alg_media_port_free (sam, skipped[i]);
  return port;
}

void
sip_alg_media_port_free (sip_alg_main_t *sam, u16 pub_port)
{
  if (pub_port < sam->media_port_lo || pub_port > sam->media_port_hi)
    return;
  u32 pair = (pub_port - sam->media_port_lo) / 2;
  if (pair >= sam->n_media_pairs)
    return;
  clib_atomic_fetch_and (&sam->media_pairs[pair / 64], ~(1ULL << (pair % 64)));
}

u32
sip_alg_media_ports_in_use (sip_alg_main_t *sam)
{
  u32 n = 0, n_words = vec_len (sam->media_pairs);
  for (u32 w = 0; w < n_words; w++)
    n += count_set_bits (clib_atomic_load_relax_n (&sam->media_pairs[w]));
  if (sam->n_media_pairs % 64)
    n -= 64 - sam->n_media_pairs % 64; /* the bits past the range */
  return n;
}

/* --- worker -> main thread ------------------------------------------------------------ */

static uword
sip_alg_wake (vlib_main_t *vm, vlib_node_runtime_t *rt, vlib_frame_t *f)
{
  vlib_process_signal_event (vm, sip_alg_main.process_node_index, SIP_ALG_EVENT_REQ, 0);
  return 0;
}

VLIB_REGISTER_NODE (sip_alg_wake_node) = {
  .function = sip_alg_wake,
  .type = VLIB_NODE_TYPE_INPUT,
  .name = "sip-alg-wake",
  .state = VLIB_NODE_STATE_INTERRUPT,
};

static void
sip_alg_send_req (sip_alg_req_t *req)
{
  clib_spinlock_lock (&sip_alg_incoming_lock);
  vec_add1 (sip_alg_incoming, *req);
  clib_spinlock_unlock (&sip_alg_incoming_lock);
  vlib_node_set_interrupt_pending (vlib_get_main_by_index (0), sip_alg_wake_node.index);
}

/* Main thread: the requests that came in, after the ones still queued. */
static void
sip_alg_take_incoming (void)
{
  clib_spinlock_lock (&sip_alg_incoming_lock);
  vec_append (sip_alg_reqs, sip_alg_incoming);
  vec_reset_length (sip_alg_incoming);
  clib_spinlock_unlock (&sip_alg_incoming_lock);
}

void
sip_alg_request_pinholes (u32 thread, u32 call_index, u32 epoch, const sip_alg_pinhole_t *ph,
			  u32 n, u8 replace_outside, u32 held_bi, u32 next_node_index,
			  ip4_address_t peer_addr, u16 peer_port, u8 resendable)
{
  sip_alg_req_t req = { .kind = SIP_ALG_REQ_PINHOLES,
			.peer_addr = peer_addr,
			.peer_port = peer_port,
			.resendable = resendable,
			.thread = thread,
			.call_index = call_index,
			.epoch = epoch,
			.replace_outside = replace_outside,
			.held_bi = held_bi,
			.next_node_index = next_node_index };
  n = clib_min (n, ARRAY_LEN (req.ph));
  clib_memcpy_fast (req.ph, ph, n * sizeof (ph[0]));
  req.n_ph = n;
  if (held_bi != ~0)
    clib_atomic_fetch_add_relax (&sip_alg_main.per_thread[thread].n_held, 1);
  sip_alg_send_req (&req);
}

void
sip_alg_request_close_call (u32 thread, u32 call_index, u32 epoch, u8 media_only)
{
  sip_alg_req_t req = { .kind = SIP_ALG_REQ_CLOSE,
			.thread = thread,
			.call_index = call_index,
			.epoch = epoch,
			.media_only = media_only,
			.held_bi = ~0 };
  sip_alg_send_req (&req);
}

void
sip_alg_request_move (u32 thread, ip4_address_t pub_addr, u16 pub_port, ip4_address_t in_addr,
		      u16 in_port, u32 in_fib, u32 out_fib, ip4_address_t peer_addr, u16 peer_port)
{
  sip_alg_req_t req = { .kind = SIP_ALG_REQ_MOVE,
			.thread = thread,
			.call_index = ~0,
			.held_bi = ~0,
			.peer_addr = peer_addr,
			.peer_port = peer_port,
			.n_ph = 1 };
  req.ph[0] = (sip_alg_pinhole_t){ .pub_addr = pub_addr,
				   .pub_port = pub_port,
				   .in_addr = in_addr,
				   .in_port = in_port,
				   .in_fib = in_fib,
				   .out_fib = out_fib };
  sip_alg_send_req (&req);
}

void
sip_alg_request_release_media (u32 thread, u32 call_index, u32 epoch, ip4_address_t pub_addr,
			       const u16 *pub_ports, u32 n)
{
  sip_alg_req_t req = { .kind = SIP_ALG_REQ_RELEASE,
			.thread = thread,
			.call_index = call_index,
			.epoch = epoch,
			.held_bi = ~0 };
  n = clib_min (n, ARRAY_LEN (req.ph));
  for (u32 i = 0; i < n; i++)
    {
      req.ph[i].pub_addr = pub_addr;
      req.ph[i].pub_port = pub_ports[i];
    }
  req.n_ph = n;
  sip_alg_send_req (&req);
}

/* --- NAT44-ED static mappings ---------------------------------------------------------- */

/*
 * Pinholes are NAT44-ED static mappings, made by NAT's own binary-API handler for
 * nat44_add_del_static_mapping_v2, called in-process with a typed message: its functions
 * (nat44_ed_add_static_mapping and _del_) are not exported from nat_plugin.so, but its API
 * is, with a CRC that pins the message layout this plugin was built against. The reply
 * (NAT's own error code) comes back on a private queue of an internal API registration.
 * When the message is not there (a NAT plugin with another API), the CLI is the fallback.
 */
/*
 * The ids of a NAT44-ED message (name_crc) and its reply: *msg_id ~0 when either is not
 * there or the message has no handler.
 */
static void
sip_alg_nat_msg_ids (const char *name_crc, const char *reply_crc, u32 *msg_id, u32 *reply_id)
{
  *msg_id = vl_msg_api_get_msg_index ((u8 *) name_crc);
  *reply_id = vl_msg_api_get_msg_index ((u8 *) reply_crc);
  if (*msg_id == (u32) ~0 || *reply_id == (u32) ~0 ||
      !vl_api_get_msg_data (vlibapi_get_main (), *msg_id)->handler)
    *msg_id = ~0;
}

static void
sip_alg_nat_api_init (sip_alg_main_t *sam)
{
  sip_alg_nat_msg_ids (VL_API_NAT44_ADD_DEL_STATIC_MAPPING_V2_CRC,
		       VL_API_NAT44_ADD_DEL_STATIC_MAPPING_V2_REPLY_CRC, &sam->nat_msg_id,
		       &sam->nat_reply_id);
  if (sam->nat_msg_id == (u32) ~0)
    {
      sam->nat_del_msg_id = ~0;
      clib_warning ("sip-alg: NAT44-ED has no %s: pinholes through the NAT CLI",
		    VL_API_NAT44_ADD_DEL_STATIC_MAPPING_V2_CRC);
      return;
    }
  sip_alg_nat_msg_ids (VL_API_NAT44_DEL_SESSION_CRC, VL_API_NAT44_DEL_SESSION_REPLY_CRC,
		       &sam->nat_del_msg_id, &sam->nat_del_reply_id);
  sam->nat_q = svm_queue_alloc_and_init (SIP_ALG_NAT_Q_LEN, sizeof (uword), getpid ());
  sam->nat_client = vl_api_memclnt_create_internal ("sip-alg", sam->nat_q);
}

/*
 * Empty the registration's queue: NAT's reply to the message with `context` gives *rv;
 * anything else (the API's keepalives to a quiet client) is freed. A reply's send waits
 * while the queue is full, so nothing may stay in it.
 */
static void
sip_alg_nat_api_drain (sip_alg_main_t *sam, u32 context, int *rv)
{
  uword msg;
  while (!svm_queue_sub (sam->nat_q, (u8 *) &msg, SVM_Q_NOWAIT, 0))
    {
      vl_api_nat44_add_del_static_mapping_v2_reply_t *r = (void *) msg;
      /* the sender poisoned it once queued (AddressSanitizer builds); receivers unpoison */
      VL_MSG_API_UNPOISON (r);
      u16 id = clib_net_to_host_u16 (r->_vl_msg_id);
      /* both replies are autoreplies: the same layout */
      if (rv && (id == sam->nat_reply_id || id == sam->nat_del_reply_id) &&
	  r->context == context)
	*rv = (i32) clib_net_to_host_u32 (r->retval);
      vl_msg_api_free (r);
    }
}

/*
 * Keep the internal client heard from (the API's dead-client scan pings a client silent
 * for 10 s), and its queue empty. Main thread, from the process node.
 */
static void
sip_alg_nat_api_tick (vlib_main_t *vm, sip_alg_main_t *sam)
{
  if (sam->nat_msg_id == (u32) ~0 || !sam->nat_q)
    return;
  vl_api_registration_t *reg = vl_api_client_index_to_registration (sam->nat_client);
  if (reg)
    reg->last_heard = vlib_time_now (vm);
  sip_alg_nat_api_drain (sam, 0, 0);
}

static void
sip_alg_cli_sink (uword arg, u8 *buffer, uword n)
{
  u8 **out = (u8 **) arg;
  vec_add (*out, buffer, n);
}

/* A NAT CLI command (the fallback), from the process node. Returns 0 on success. */
static int
sip_alg_nat_cli_run (vlib_main_t *vm, u8 *cmd)
{
  u8 *out = 0;
  unformat_input_t in;
  unformat_init_vector (&in, cmd); /* takes ownership of cmd */
  int rv = vlib_cli_input (vm, &in, sip_alg_cli_sink, (uword) &out);
  unformat_free (&in);
  if (rv == 0 && vec_len (out))
    rv = -1; /* NAT's static mapping and session commands print nothing on success */
  if (rv)
    clib_warning ("sip-alg: NAT refused: %v", out);
  vec_free (out);
  return rv;
}

static int
sip_alg_nat_cli (vlib_main_t *vm, const sip_alg_pinhole_t *ph, int is_add)
{
  return sip_alg_nat_cli_run (
    vm, format (0, "nat44 add static mapping udp local %U %u external %U %u vrf %u%s",
		format_ip4_address, &ph->in_addr, ph->in_port, format_ip4_address, &ph->pub_addr,
		ph->pub_port, sip_alg_fib_table_id (ph->in_fib), is_add ? "" : " del"));
}

/*
 * Hand a message (network order fields, context set) to NAT44-ED's own handler and return
 * its reply's error code. Main thread, barrier held (NAT's handlers are not mp-safe).
 */
static int
sip_alg_nat_call (sip_alg_main_t *sam, void *mp, u32 msg_id, u32 context)
{
  vl_api_msg_data_t *m = vl_api_get_msg_data (vlibapi_get_main (), msg_id);
  int rv = VNET_API_ERROR_UNSPECIFIED;
  sip_alg_nat_api_drain (sam, 0, 0); /* room for the reply */
  if (m->is_autoendian)
    m->endian_handler (mp, 0 /* to host */);
  m->handler (mp);
  sip_alg_nat_api_drain (sam, context, &rv);
  if (rv == VNET_API_ERROR_UNSPECIFIED)
    clib_warning ("sip-alg: no reply from NAT44-ED's handler of message %u", msg_id);
  return rv;
}

/*
 * Add or delete the static mapping of a pinhole. Main thread, barrier held. Returns NAT's
 * error code (VNET_API_ERROR_*), 0 on success.
 */
static int
sip_alg_nat_mapping (vlib_main_t *vm, const sip_alg_pinhole_t *ph, int is_add)
{
  sip_alg_main_t *sam = &sip_alg_main;
  if (PREDICT_FALSE (sam->nat_msg_id == (u32) ~0))
    return sip_alg_nat_cli (vm, ph, is_add);

  vl_api_nat44_add_del_static_mapping_v2_t mp = {
    ._vl_msg_id = clib_host_to_net_u16 (sam->nat_msg_id),
    .client_index = sam->nat_client,
    .context = clib_host_to_net_u32 (++sam->nat_context),
    .is_add = is_add,
    .protocol = IP_PROTOCOL_UDP,
    .local_port = clib_host_to_net_u16 (ph->in_port),
    .external_port = clib_host_to_net_u16 (ph->pub_port),
    .external_sw_if_index = ~0,
    .vrf_id = clib_host_to_net_u32 (sip_alg_fib_table_id (ph->in_fib)),
  };
  clib_memcpy (mp.local_ip_address, &ph->in_addr, 4);
  clib_memcpy (mp.external_ip_address, &ph->pub_addr, 4);

  u64 t0 = clib_cpu_time_now ();
  int rv = sip_alg_nat_call (sam, &mp, sam->nat_msg_id, mp.context);
  if (is_add)
    sam->mt.nat_add++, sam->mt.nat_add_clocks += clib_cpu_time_now () - t0;
  else
    sam->mt.nat_del++, sam->mt.nat_del_clocks += clib_cpu_time_now () - t0;
  if (rv)
    {
      sam->nat_last_error = rv;
      vlib_log_notice (sam->log_class, "NAT44-ED refused %s %U:%u -> %U:%u: %U",
		      is_add ? "add" : "del", format_ip4_address, &ph->pub_addr, ph->pub_port,
		      format_ip4_address, &ph->in_addr, ph->in_port, format_vnet_api_errno, rv);
    }
  return rv;
}

/*
 * Delete NAT44-ED's UDP session of inside endpoint (in, in_port) with remote (peer,
 * peer_port), so the endpoint's next packet makes a new one (by a static mapping of it, if
 * there is one). Main thread, barrier held. Returns NAT's error code, 0 on success.
 */
static int
sip_alg_nat_del_session (vlib_main_t *vm, ip4_address_t in, u16 in_port, u32 in_fib,
			 ip4_address_t peer, u16 peer_port)
{
  sip_alg_main_t *sam = &sip_alg_main;
  if (PREDICT_FALSE (sam->nat_del_msg_id == (u32) ~0))
    return sip_alg_nat_cli_run (
      vm, format (0, "nat44 del session in %U:%u udp vrf %u external-host %U:%u",
		  format_ip4_address, &in, in_port, sip_alg_fib_table_id (in_fib),
		  format_ip4_address, &peer, peer_port));

  vl_api_nat44_del_session_t mp = {
    ._vl_msg_id = clib_host_to_net_u16 (sam->nat_del_msg_id),
    .client_index = sam->nat_client,
    .context = clib_host_to_net_u32 (++sam->nat_context),
    .protocol = IP_PROTOCOL_UDP,
    .port = clib_host_to_net_u16 (in_port),
    .vrf_id = clib_host_to_net_u32 (sip_alg_fib_table_id (in_fib)),
    .flags = NAT_IS_INSIDE | NAT_IS_EXT_HOST_VALID,
    .ext_host_port = clib_host_to_net_u16 (peer_port),
  };
  clib_memcpy (mp.address, &in, 4);
  clib_memcpy (mp.ext_host_address, &peer, 4);
  return sip_alg_nat_call (sam, &mp, sam->nat_del_msg_id, mp.context);
}

/* --- server map (main thread) ----------------------------------------------------------- */

/*
 * One more (delta 1) or one less (-1) reference to a signaling endpoint, by a REGISTER
 * binding (bound) or not. Main thread.
 */
static void
sip_alg_sig_endpoint_ref (sip_alg_main_t *sam, ip4_address_t addr, u16 port, int delta,
			  int bound)
{
  u16 port_net = clib_host_to_net_u16 (port);
  clib_bihash_kv_8_8_t kv = { .key = sip_alg_sig_key (addr, port_net) }, v;
  u64 n = clib_bihash_search_8_8 (&sam->sig_endpoints, &kv, &v) == 0 ? v.value : 0;
  u64 d = bound ? SIP_ALG_SIG_BOUND + 1 : 1;

  if (delta < 0 && (u32) n == 0)
    return;
  if (delta < 0 && bound && !(n >> 32))
    d = 1; /* no binding reference to drop */
  n = delta > 0 ? n + d : n - d;
  kv.value = n;
  clib_bihash_add_del_8_8 (&sam->sig_endpoints, &kv, (u32) n > 0 /* is_add */);
  sam->sig_port_refs[port_net] += delta;
  sip_alg_cand_port_update (sam, port_net);
}

/* The signaling endpoints of a `sip` pinhole realised as a NAT mapping. */
static void
sip_alg_sig_endpoints (sip_alg_main_t *sam, const sip_alg_pinhole_t *ph, int delta)
{
  if (ph->app != SIP_ALG_APP_SIP || !(ph->nat_mapping || ph->tcp))
    return;
  sip_alg_sig_endpoint_ref (sam, ph->in_addr, ph->in_port, delta, ph->bound);
  sip_alg_sig_endpoint_ref (sam, ph->pub_addr, ph->pub_port, delta, ph->bound);
}

/* moved_by_in: a phone's inside endpoint in its VRF. */
static uword
sip_alg_moved_key (const sip_alg_pinhole_t *ph)
{
  return ((u64) ph->in_addr.as_u32 << 32) | ((u64) (ph->in_fib & 0xffff) << 16) | ph->in_port;
}

/*
 * Server-map key: a NAT pinhole is unique by its public address and port (NAT44-ED has one
 * static mapping per external address and port), an outside party's endpoint by its
 * address, port, app and the inside party's VRF.
 */
static u64
sip_alg_smap_key (const sip_alg_pinhole_t *ph)
{
  u64 k = ((u64) ph->pub_addr.as_u32 << 32) | ((u64) ph->pub_port << 16);
  if (ph->nat_mapping)
    return k | ((u64) ph->tcp << 8) | 0xff;
  /* a record is kept per tenant (the inside party's VRF); app < 3, so never 0xff */
  return k | ((ph->in_fib & 0x1fff) << 3) | ((u64) ph->tcp << 2) | ph->app;
}

static sip_alg_smap_t *
sip_alg_smap_find (const sip_alg_pinhole_t *ph)
{
  sip_alg_main_t *sam = &sip_alg_main;
  clib_bihash_kv_8_8_t kv = { .key = sip_alg_smap_key (ph) };
  if (clib_bihash_search_8_8 (&sam->smap_by_key, &kv, &kv))
    return 0;
  return pool_elt_at_index (sam->smap, kv.value);
}

/* The call record (thread, index), or 0 when it is gone. Barrier held. */
static sip_alg_call_t *
sip_alg_call_at (u32 thread, u32 call_index)
{
  sip_alg_main_t *sam = &sip_alg_main;
  if (thread >= vec_len (sam->per_thread) ||
      pool_is_free_index (sam->per_thread[thread].calls, call_index))
    return 0;
  return pool_elt_at_index (sam->per_thread[thread].calls, call_index);
}

/*
 * An entry belongs to the call record (thread, index) and dialog (epoch) that asked for it
 * last: counted in its n_entries and linked in its list (entries, smap_t.call_next), so
 * closing a call touches its own entries only. Barrier held.
 */
static void
sip_alg_smap_tie (sip_alg_main_t *sam, sip_alg_smap_t *e, u16 thread, u32 call_index,
		  u32 epoch)
{
  sip_alg_call_t *c = sip_alg_call_at (thread, call_index);
  e->call_thread = thread;
  e->call_index = call_index;
  e->call_epoch = epoch;
  e->counted = c != 0;
  e->call_next = ~0;
  if (c)
    {
      c->n_entries++;
      e->call_next = c->entries;
      c->entries = e - sam->smap;
    }
}

static void
sip_alg_smap_untie (sip_alg_main_t *sam, sip_alg_smap_t *e)
{
  sip_alg_call_t *c = e->counted ? sip_alg_call_at (e->call_thread, e->call_index) : 0;
  u32 idx = e - sam->smap;
  e->counted = 0;
  if (!c)
    return;
  if (c->n_entries)
    c->n_entries--;
  for (u32 *p = &c->entries; *p != ~0; p = &sam->smap[*p].call_next)
    if (*p == idx)
      {
	*p = e->call_next;
	break;
      }
}

/* The record of an entry's dialog, 0 when the record is gone or has moved on. */
static sip_alg_call_t *
sip_alg_smap_call (const sip_alg_smap_t *e)
{
  sip_alg_call_t *c = e->counted ? sip_alg_call_at (e->call_thread, e->call_index) : 0;
  return c && c->epoch == e->call_epoch ? c : 0;
}

/* A media port pair the call will not use: back to the pool, and out of the call. */
static void
sip_alg_media_forget (sip_alg_main_t *sam, sip_alg_call_t *c, u16 pub_port, u8 own)
{
  for (u32 j = 0; c && j < c->n_media; j++)
    if (c->media[j].pub_port == pub_port)
      {
	c->media[j] = c->media[--c->n_media];
	break;
      }
  if (!own) /* the phone's own NAT mapping was never the pool's */
    sip_alg_media_port_free (sam, pub_port);
}

/* Barrier held. */
static void
sip_alg_smap_del (vlib_main_t *vm, sip_alg_smap_t *e, u32 counter)
{
  sip_alg_main_t *sam = &sip_alg_main;
  if (e->ph.bound && e->refs)
    {
      /* a binding ends while calls still use its entry: it lives on as their signaling */
      sip_alg_sig_endpoints (sam, &e->ph, -1);
      e->ph.bound = 0;
      e->ph.shared = 1;
      sip_alg_sig_endpoints (sam, &e->ph, 1);
      sip_alg_smap_untie (sam, e);
      e->call_index = ~0;
      return;
    }
  if (e->installed)
    {
      sip_alg_gate_add_del (sam, e, 0);
      sip_alg_nat_mapping (vm, &e->ph, 0);
    }
  /*
   * The pair goes back to the pool, so the call (if it lives on, e.g. its media went
   * silent) must forget it: a later offer gets a new pair and a new pinhole instead of
   * announcing a port another call may hold by then.
   */
  if (e->ph.nat_mapping && e->ph.app == SIP_ALG_APP_RTP)
    sip_alg_media_forget (sam, e->ph.bound ? 0 : sip_alg_smap_call (e), e->ph.pub_port,
			  e->ph.own);
  if (e->ph.moved)
    {
      hash_unset (sam->moved_by_in, sip_alg_moved_key (&e->ph));
      sip_alg_media_port_free (sam, e->ph.pub_port);
    }
  sip_alg_smap_untie (sam, e);
  clib_bihash_kv_8_8_t kv = { .key = sip_alg_smap_key (&e->ph) };
  clib_bihash_add_del_8_8 (&sam->smap_by_key, &kv, 0);
  sip_alg_sig_endpoints (sam, &e->ph, -1);
  if (e->ph.in_addr.as_u32)
    sip_alg_host_count (&sam->entries_by_host, sip_alg_host_key (e->ph.in_addr, e->ph.in_fib),
			-1);
  sip_alg_count (counter, 1);
  pool_put (sam->smap, e);
}

/* The call record c no longer holds its shared signaling entry: the last one deletes it. */
static void
sip_alg_sig_unref (vlib_main_t *vm, sip_alg_call_t *c)
{
  sip_alg_main_t *sam = &sip_alg_main;
  u32 i = c->sig_entry;
  c->sig_entry = ~0;
  if (i == ~0 || pool_is_free_index (sam->smap, i))
    return;
  sip_alg_smap_t *e = pool_elt_at_index (sam->smap, i);
  if (e->gen != c->sig_gen || !e->refs)
    return; /* gone meanwhile (a binding's expiry), the index is another entry's */
  if (--e->refs == 0 && !e->ph.bound)
    sip_alg_smap_del (vm, e, SIP_ALG_ERROR_PINHOLE_REMOVED);
}

static void
sip_alg_sig_ref (vlib_main_t *vm, sip_alg_call_t *c, sip_alg_smap_t *e)
{
  sip_alg_main_t *sam = &sip_alg_main;
  u32 i = e - sam->smap;
  if (c->sig_entry == i && c->sig_gen == e->gen)
    return; /* held already (the record's next dialog, a retransmission) */
  if (c->sig_entry != ~0)
    sip_alg_sig_unref (vm, c); /* the phone's public port changed */
  e->refs++;
  c->sig_entry = i;
  c->sig_gen = e->gen;
  c->pub_port = e->ph.pub_port; /* where the record's signaling leaves (the node reads it) */
}

static sip_alg_smap_t *sip_alg_sig_move (vlib_main_t *vm, sip_alg_req_t *req,
					  const sip_alg_pinhole_t *from);

/*
 * A pinhole of a held datagram of an inside phone (req->resendable) clashes with another
 * inside endpoint's pinhole on its public port: NAT44-ED gave the phone's session a dynamic
 * port that is already a pinhole, or a media pair was taken from the pool while a phone's
 * session was given one of its ports. The datagram goes no further (req->drop_held), so
 * nothing outside learns the port, and the phone's retransmission finds it solved: its
 * signaling moved to a port of its own, or its media given back (the retransmission takes
 * another pair). Returns 0 when the entry the phone will use exists.
 */
static int
sip_alg_clash (vlib_main_t *vm, sip_alg_req_t *req, const sip_alg_pinhole_t *ph,
	       sip_alg_call_t *owner)
{
  sip_alg_main_t *sam = &sip_alg_main;
  /* counted by error-drop, as the node's own drops */
  if (ph->app == SIP_ALG_APP_SIP)
    {
      req->drop_held = SIP_ALG_ERROR_SIG_MOVED;
      return sip_alg_sig_move (vm, req, ph) ? 0 : -1;
    }
  req->drop_held = SIP_ALG_ERROR_PORT_CLASH;
  u16 rtp_port = ph->app == SIP_ALG_APP_RTCP ? ph->pub_port - 1 : ph->pub_port;
  sip_alg_pinhole_t rtp = { .pub_addr = ph->pub_addr,
			    .pub_port = rtp_port,
			    .nat_mapping = 1,
			    .app = SIP_ALG_APP_RTP };
  sip_alg_smap_t *e = ph->app == SIP_ALG_APP_RTCP ? sip_alg_smap_find (&rtp) : 0;
  if (e && e->ph.app == SIP_ALG_APP_RTP && owner && sip_alg_smap_call (e) == owner)
    sip_alg_smap_del (vm, e, SIP_ALG_ERROR_PINHOLE_REMOVED); /* the pair's RTP: it goes back */
  else
    sip_alg_media_forget (sam, owner, rtp_port, 0);
  return -1;
}

/* Returns 0, or -1 when the entry could not be made. */
static int
sip_alg_smap_add (vlib_main_t *vm, sip_alg_req_t *req, const sip_alg_pinhole_t *ph)
{
  sip_alg_main_t *sam = &sip_alg_main;
  f64 now = vlib_time_now (vm);
  sip_alg_smap_t *e = sip_alg_smap_find (ph);
  sip_alg_call_t *call = sip_alg_call_at (req->thread, req->call_index);
  /* a media port of the request's dialog: given back when its entry cannot be made */
  sip_alg_call_t *owner = call && call->epoch == req->epoch ? call : 0;
  int media_port = ph->nat_mapping && ph->app == SIP_ALG_APP_RTP && !ph->bound;

  if (e && e->ph.nat_mapping &&
      (e->ph.in_addr.as_u32 != ph->in_addr.as_u32 || e->ph.in_port != ph->in_port ||
       e->ph.in_fib != ph->in_fib))
    {
      /* that public port leads to another inside endpoint: NAT has one mapping per port */
      if (req->resendable && !ph->moved && !ph->bound && !ph->own && req->held_bi != ~0)
	return sip_alg_clash (vm, req, ph, owner);
      sip_alg_count (SIP_ALG_ERROR_PINHOLE_FAILED, 1);
      vlib_log_notice (sam->log_class,
		       "pinhole %U:%u -> %U:%u (%U) refused: it leads to %U:%u (%U)",
		       format_ip4_address, &ph->pub_addr, ph->pub_port, format_ip4_address,
		       &ph->in_addr, ph->in_port, format_sip_alg_app, (u32) ph->app,
		       format_ip4_address, &e->ph.in_addr, e->ph.in_port, format_sip_alg_app,
		       (u32) e->ph.app);
      if (media_port)
	sip_alg_media_forget (sam, owner, ph->pub_port, ph->own);
      return -1;
    }
  if (e)
    {
      /*
       * A retransmission, a refresh, or the same endpoint in another record. A REGISTER
       * binding keeps the entry: the calls of the registered contact share its pinhole,
       * and their end must not remove it.
       */
      if (ph->bound && !e->ph.bound)
	{
	  /* the call's signaling entry becomes the binding: its endpoints count as one */
	  sip_alg_sig_endpoints (sam, &e->ph, -1);
	  e->ph.bound = 1;
	  sip_alg_sig_endpoints (sam, &e->ph, 1);
	}
      if (ph->bound)
	e->expires = now + ph->timeout; /* the registrar's expiry, also when shorter */
      else
	e->expires = clib_max (e->expires, now + ph->timeout);
      if (ph->shared)
	{
	  if (call)
	    sip_alg_sig_ref (vm, call, e);
	  return 0;
	}
      if ((ph->bound || (!e->ph.bound && !e->ph.shared)) &&
	  (!e->counted || e->call_index != req->call_index || e->call_thread != req->thread ||
	   e->call_epoch != req->epoch))
	{
	  /* re-pointed: the entry counts against its new record */
	  sip_alg_smap_untie (sam, e);
	  sip_alg_smap_tie (sam, e, req->thread, req->call_index, req->epoch);
	}
      return 0;
    }
  if (pool_elts (sam->smap) >= sam->sec.max_entries ||
      (call && !ph->shared && call->n_entries >= sam->sec.max_entries_per_call))
    {
      sip_alg_count (SIP_ALG_ERROR_SMAP_FULL, 1);
      if (media_port)
	sip_alg_media_forget (sam, owner, ph->pub_port, ph->own);
      return -1;
    }
  if (ph->in_addr.as_u32 && sam->sec.max_entries_per_host)
    {
      uword *n = hash_get (sam->entries_by_host, sip_alg_host_key (ph->in_addr, ph->in_fib));
      if (n && n[0] >= sam->sec.max_entries_per_host)
	{
	  sip_alg_count (SIP_ALG_ERROR_HOST_SMAP_FULL, 1);
	  if (media_port)
	    sip_alg_media_forget (sam, owner, ph->pub_port, ph->own);
	  return -1;
	}
    }
  pool_get_zero (sam->smap, e);
  if (ph->in_addr.as_u32)
    sip_alg_host_count (&sam->entries_by_host, sip_alg_host_key (ph->in_addr, ph->in_fib), 1);
  e->ph = *ph;
  e->gen = ++sam->smap_gen;
  sip_alg_sig_endpoints (sam, ph, 1);
  if (ph->shared)
    {
      e->call_index = ~0;
      if (call)
	sip_alg_sig_ref (vm, call, e);
    }
  else
    sip_alg_smap_tie (sam, e, req->thread, req->call_index, req->epoch);
  e->expires = now + ph->timeout;
  clib_bihash_kv_8_8_t kv = { .key = sip_alg_smap_key (ph), .value = e - sam->smap };
  clib_bihash_add_del_8_8 (&sam->smap_by_key, &kv, 1);
  vlib_validate_combined_counter (&sam->gate_counters, e - sam->smap);
  vlib_zero_combined_counter (&sam->gate_counters, e - sam->smap);
  for (u32 t = 0; t < vec_len (sam->per_thread); t++)
    {
      sip_alg_per_thread_t *ptd = &sam->per_thread[t];
      vec_validate (ptd->gate_remote, e - sam->smap);
      ptd->gate_remote[e - sam->smap] = (sip_alg_gate_remote_t){};
      vec_validate_aligned (ptd->media_act, e - sam->smap, CLIB_CACHE_LINE_BYTES);
      ptd->media_act[e - sam->smap] = (sip_alg_media_act_t){};
    }
  /* a new entry counts as active: media inactivity runs from its making at the latest */
  e->made = (u32) now;
  if (ph->nat_mapping)
    {
      if (sip_alg_nat_mapping (vm, ph, 1) == 0)
	{
	  e->installed = 1;
	  sip_alg_gate_add_del (sam, e, 1);
	}
      else
	sip_alg_count (SIP_ALG_ERROR_PINHOLE_FAILED, 1);
    }
  sip_alg_count (SIP_ALG_ERROR_PINHOLE_ADDED, 1);
  return 0;
}

/*
 * A phone's signaling moves to a port of its own: its NAT session landed on a public port
 * that is another inside endpoint's pinhole (from, the phone's ends of that session). The
 * port comes from the media pool (given back with the entry); the entry is a `sip` pinhole,
 * a NAT static mapping of the phone's endpoint, held by the request's call if it has one;
 * and NAT's session is deleted, so the phone's next packet (its retransmission) leaves by
 * the mapping, as every later session of the endpoint does. The entry lives like any
 * phone's signaling entry: while a REGISTER binding or a call holds it, else it expires.
 * Returns the entry, 0 when it could not be made (counted; the phone's next retransmission
 * tries again).
 */
static sip_alg_smap_t *
sip_alg_sig_move (vlib_main_t *vm, sip_alg_req_t *req, const sip_alg_pinhole_t *from)
{
  sip_alg_main_t *sam = &sip_alg_main;
  sip_alg_call_t *call = sip_alg_call_at (req->thread, req->call_index);
  uword key = sip_alg_moved_key (from);
  uword *p = hash_get (sam->moved_by_in, key);
  sip_alg_smap_t *e = 0;

  if (p)
    {
      /* moved already: a datagram that left by the old session meanwhile */
      e = pool_elt_at_index (sam->smap, p[0]);
      if (call && call->epoch == req->epoch)
	sip_alg_sig_ref (vm, call, e);
    }
  else
    {
      sip_alg_pinhole_t ph = { .pub_addr = from->pub_addr,
			       .in_addr = from->in_addr,
			       .in_port = from->in_port,
			       .app = SIP_ALG_APP_SIP,
			       .nat_mapping = 1,
			       .shared = 1,
			       .moved = 1,
			       .timeout = sam->timeout_signaling,
			       .in_fib = from->in_fib,
			       .out_fib = from->out_fib };
      /*
       * The pool passes over a few pairs that clash with phones' signaling, then hands one
       * out unchecked (sip_alg_media_pair): here every entry is known, and a port that is
       * one is passed over too (its pinhole would be refused), given back after.
       */
      u16 port = 0, skipped[8];
      u32 n_skipped = 0;
      while (n_skipped < ARRAY_LEN (skipped) &&
	     (port = sip_alg_media_pair (sam, &sam->per_thread[0], from->pub_addr)))
	{
	  ph.pub_port = port;
	  if (!sip_alg_smap_find (&ph))
	    break;
	  skipped[n_skipped++] = port;
	  port = 0;
	}
      for (u32 i = 0; i < n_skipped; i++)
	sip_alg_media_port_free (sam, skipped[i]);
      if (!port)
	{
	  sip_alg_count (SIP_ALG_ERROR_NO_MEDIA_PORT, 1);
	  return 0;
	}
      int rv = sip_alg_smap_add (vm, req, &ph);
      e = sip_alg_smap_find (&ph);
      if (rv || !e || !e->installed)
	{
	  if (e && e->ph.moved)
	    sip_alg_smap_del (vm, e, SIP_ALG_ERROR_PINHOLE_REMOVED); /* gives the port back */
	  else
	    sip_alg_media_port_free (sam, port);
	  return 0;
	}
      hash_set (sam->moved_by_in, key, e - sam->smap);
      vlib_log_notice (sam->log_class, "signaling of %U:%u moved from %U:%u to %U:%u",
		     format_ip4_address, &from->in_addr, from->in_port, format_ip4_address,
		     &from->pub_addr, from->pub_port, format_ip4_address, &ph.pub_addr, port);
    }
  sip_alg_nat_del_session (vm, from->in_addr, from->in_port, from->in_fib, req->peer_addr,
			   req->peer_port);
  return e;
}

/*
 * The outside party's records (its Contact and media) of the call's dialog become those of
 * this request (the description that now holds: the answer of the dialog that was
 * answered, a new offer or answer in it), so the records of forks that were not answered
 * and of media the outside party no longer uses go.
 */
static void
sip_alg_replace_outside (vlib_main_t *vm, const sip_alg_req_t *req)
{
  sip_alg_main_t *sam = &sip_alg_main;
  sip_alg_call_t *c = sip_alg_call_at (req->thread, req->call_index);
  u32 del[64], n_del = 0;

  if (!c || c->epoch != req->epoch)
    return;
  for (u32 i = c->entries; i != ~0 && n_del < ARRAY_LEN (del); i = sam->smap[i].call_next)
    {
      sip_alg_smap_t *e = &sam->smap[i];
      if (e->ph.nat_mapping || e->ph.in_addr.as_u32 || e->call_epoch != req->epoch)
	continue; /* not an outside party's record of this dialog */
      u64 key = sip_alg_smap_key (&e->ph), keep = 0;
      for (u32 k = 0; k < req->n_ph && !keep; k++)
	keep = sip_alg_smap_key (&req->ph[k]) == key;
      if (!keep)
	del[n_del++] = i;
    }
  for (u32 i = 0; i < n_del; i++)
    sip_alg_smap_del (vm, pool_elt_at_index (sam->smap, del[i]), SIP_ALG_ERROR_PINHOLE_REMOVED);
}

/* Media the call's session no longer has (offer/answer): their pinholes go. */
static void
sip_alg_release (vlib_main_t *vm, const sip_alg_req_t *req)
{
  for (u32 i = 0; i < req->n_ph; i++)
    for (u32 k = 0; k < 2; k++)
      {
	sip_alg_pinhole_t ph = { .pub_addr = req->ph[i].pub_addr,
				 .pub_port = req->ph[i].pub_port + k,
				 .nat_mapping = 1 };
	sip_alg_smap_t *e = sip_alg_smap_find (&ph);
	if (e && e->counted && e->call_thread == req->thread &&
	    e->call_index == req->call_index && e->call_epoch == req->epoch &&
	    e->ph.app != SIP_ALG_APP_SIP)
	  sip_alg_smap_del (vm, e, SIP_ALG_ERROR_PINHOLE_REMOVED);
      }
}

/*
 * Delete the entries of the record's list for which keep () is false. Done again while
 * a list is longer than del[].
 */
static void
sip_alg_call_entries_del (vlib_main_t *vm, sip_alg_call_t *c, u32 epoch, int any_epoch,
			  int media_only, u32 counter)
{
  sip_alg_main_t *sam = &sip_alg_main;
  u32 del[64], n_del;
  do
    {
      n_del = 0;
      for (u32 i = c ? c->entries : ~0; i != ~0 && n_del < ARRAY_LEN (del);
	   i = sam->smap[i].call_next)
	if ((any_epoch || sam->smap[i].call_epoch == epoch) &&
	    (!media_only || sam->smap[i].ph.app != SIP_ALG_APP_SIP))
	  del[n_del++] = i;
      for (u32 i = 0; i < n_del; i++)
	sip_alg_smap_del (vm, pool_elt_at_index (sam->smap, del[i]), counter);
    }
  while (n_del == ARRAY_LEN (del));
}

static void
sip_alg_call_free (vlib_main_t *vm, u16 thread, u32 call_index)
{
  sip_alg_call_t *c = sip_alg_call_at (thread, call_index);
  if (!c)
    return;
  sip_alg_per_thread_t *ptd = &sip_alg_main.per_thread[thread];
  /* what is left of it: an earlier dialog's entries whose close did not come */
  sip_alg_call_entries_del (vm, c, 0, 1 /* any epoch */, 0, SIP_ALG_ERROR_PINHOLE_REMOVED);
  sip_alg_sig_unref (vm, c);
  if (c->inbound)
    {
      uword *p = hash_get (ptd->inbound_by_src, c->peer_addr.as_u32);
      if (p && p[0] > 1)
	hash_set (ptd->inbound_by_src, c->peer_addr.as_u32, p[0] - 1);
      else if (p)
	hash_unset (ptd->inbound_by_src, c->peer_addr.as_u32);
      ptd->n_inbound--;
    }
  sip_alg_host_count (&ptd->calls_by_host, sip_alg_host_key (c->in_addr, c->in_fib), -1);
  if (c->fsm.invite_cseq[0] || c->fsm.invite_cseq[1])
    {
      /* the barrier is held: the worker that owns the table is stopped */
      u64 h = hash_memory (c->call_id, vec_len (c->call_id), 0);
      sip_alg_closed_t *cl = &ptd->closed[h & (SIP_ALG_CLOSED_N - 1)];
      cl->hash = h;
      cl->cseq = clib_max (c->fsm.invite_cseq[0], c->fsm.invite_cseq[1]);
      cl->until = (u32) vlib_time_now (vm) + SIP_ALG_CLOSED_TTL;
    }
  hash_unset_mem (ptd->call_by_id, c->call_id);
  vec_free (c->call_id);
  pool_put (ptd->calls, c);
  clib_atomic_fetch_sub_relax (&ptd->n_calls, 1);
  sip_alg_count (SIP_ALG_ERROR_CALLS_CLOSED, 1);
}

/*
 * A call's dialog ends (media_only: its media only). When the record has moved on to a
 * later dialog (a new INVITE on the same Call-ID came first), only the entries of the
 * dialog that ended go, and the record stays.
 */
static void
sip_alg_close (vlib_main_t *vm, const sip_alg_req_t *req, u32 counter)
{
  sip_alg_call_t *c = sip_alg_call_at (req->thread, req->call_index);

  if (!c)
    return;
  sip_alg_call_entries_del (vm, c, req->epoch, 0, req->media_only, counter);
  if (c->epoch != req->epoch)
    return; /* the record has moved on: only the ended dialog's entries go */
  if (!req->media_only)
    sip_alg_call_free (vm, req->thread, req->call_index);
  else
    c->n_media = 0; /* media of the call is gone: the worker allocates anew on the next offer */
}

/*
 * Send a held buffer on to the node after sip-alg-post, with the fragments the worker split
 * its datagram into (sip_alg_frag_split).
 */
static void
sip_alg_release_held (vlib_main_t *vm, u32 bi, u32 next_node_index)
{
  vlib_frame_t *f = vlib_get_frame_to_node (vm, next_node_index);
  u32 *to = vlib_frame_vector_args (f);
  f->n_vectors = sip_alg_frag_collect (vm, bi, to, SIP_ALG_FRAG_MAX_N);
  vlib_put_frame_to_node (vm, next_node_index, f);
}

/*
 * A held message that goes no further: to error-drop, which counts it by the error set
 * (as sip-alg-post's own drops) and frees it. (Freeing it here would inline VPP's buffer
 * free into the process node, whose stack an AddressSanitizer build's frame of it, near
 * 100 KB, does not fit.)
 */
static void
sip_alg_drop_held (vlib_main_t *vm, u32 bi, u16 error)
{
  u32 to[SIP_ALG_FRAG_MAX_N], n = sip_alg_frag_collect (vm, bi, to, SIP_ALG_FRAG_MAX_N);
  for (u32 i = 0; i < n; i++)
    vlib_get_buffer (vm, to[i])->error =
      vlib_node_get_runtime (vm, sip_alg_post_node.index)->errors[error];
  sip_alg_release_held (vm, bi, sip_alg_main.error_drop_node_index);
}

/*
 * Requests from the workers, in order, with the barrier held for at most about
 * SIP_ALG_BARRIER_BUDGET_US (a NAT44-ED static mapping delete walks NAT's session pool:
 * ~100 us with 30k sessions, so a burst of call ends would otherwise stop the workers for
 * tens of milliseconds). What is left waits for the next turn of the process node, after
 * the graph ran once.
 */
#define SIP_ALG_BARRIER_BUDGET_US 1000

/*
 * How long the last batch took (s). A batch cut short by the budget is followed by a pause
 * as long as itself before the next, so that however many requests wait, the workers run
 * at least half of the time (they wait at the barrier meanwhile: packets queue in the
 * receive rings, and a burst of new calls must not cost the media of established ones).
 */
static f64 sip_alg_batch_s;

static void
sip_alg_handle_requests (vlib_main_t *vm)
{
  sip_alg_main_t *sam = &sip_alg_main;
  sip_alg_req_t *reqs = sip_alg_reqs, *req;
  u64 budget = vm->clib_time.clocks_per_second * SIP_ALG_BARRIER_BUDGET_US * 1e-6;
  u32 n = 0;
  sip_alg_reqs = 0;

  u64 t0 = clib_cpu_time_now ();
  vlib_worker_thread_barrier_sync (vm);
  while (n < vec_len (reqs))
    {
      req = &reqs[n++];
      if (req->kind == SIP_ALG_REQ_PINHOLES)
	{
	  if (req->replace_outside)
	    sip_alg_replace_outside (vm, req);
	  for (u32 i = 0; i < req->n_ph; i++)
	    {
	      const sip_alg_pinhole_t *ph = &req->ph[i];
	      /* no RTCP pinhole on a pair whose RTP pinhole failed: the pair went back */
	      if (sip_alg_smap_add (vm, req, ph) && ph->nat_mapping &&
		  ph->app == SIP_ALG_APP_RTP && i + 1 < req->n_ph &&
		  req->ph[i + 1].app == SIP_ALG_APP_RTCP &&
		  req->ph[i + 1].pub_port == ph->pub_port + 1)
		i++;
	    }
	}
      else if (req->kind == SIP_ALG_REQ_CLOSE)
	sip_alg_close (vm, req, SIP_ALG_ERROR_PINHOLE_REMOVED);
      else if (req->kind == SIP_ALG_REQ_RELEASE)
	sip_alg_release (vm, req);
      else if (req->kind == SIP_ALG_REQ_MOVE)
	sip_alg_sig_move (vm, req, &req->ph[0]); /* the worker counted the drop */
      if (clib_cpu_time_now () - t0 > budget)
	break;
    }
  vlib_worker_thread_barrier_release (vm);
  sam->mt.batches++;
  sam->mt.requests += n;
  sam->mt.batch_clocks += clib_cpu_time_now () - t0;
  sam->mt.batch_max = clib_max (sam->mt.batch_max, clib_cpu_time_now () - t0);

  /* the pinholes exist now: let the messages that announce them go */
  for (u32 i = 0; i < n; i++)
    if (reqs[i].held_bi != ~0)
      {
	if (reqs[i].drop_held)
	  sip_alg_drop_held (vm, reqs[i].held_bi, reqs[i].drop_held);
	else
	  sip_alg_release_held (vm, reqs[i].held_bi, reqs[i].next_node_index);
	clib_atomic_fetch_sub_relax (&sam->per_thread[reqs[i].thread].n_held, 1);
      }
  sip_alg_batch_s = (f64) (clib_cpu_time_now () - t0) / vm->clib_time.clocks_per_second;
  if (n < vec_len (reqs))
    {
      /* the rest first, then whatever came in meanwhile */
      vec_delete (reqs, n, 0);
      vec_append (reqs, sip_alg_reqs);
      vec_free (sip_alg_reqs);
      sip_alg_reqs = reqs;
      sam->mt.deferred++;
      return;
    }
  vec_free (reqs);
}

/*
 * The last packet (vlib time, s) of an established call's media: the newest of its media
 * pinholes' last packets either way on any thread (or their making), and not before the
 * call was answered.
 */
static f64
sip_alg_call_media_seen (sip_alg_main_t *sam, sip_alg_call_t *c, int *n_media)
{
  *n_media = 0;
  if (!c->confirmed_at)
    return 0;
  f64 last = c->confirmed_at;
  for (u32 i = c->entries; i != ~0; i = sam->smap[i].call_next)
    {
      sip_alg_smap_t *e = &sam->smap[i];
      if (!e->installed || e->ph.app == SIP_ALG_APP_SIP || e->call_epoch != c->epoch)
	continue;
      (*n_media)++;
      last = clib_max (last, (f64) e->made);
      for (u32 t = 0; t < vec_len (sam->per_thread); t++)
	{
	  sip_alg_media_act_t *a = &sam->per_thread[t].media_act[i];
	  /* the start of the second of the last packet */
	  last = clib_max (last, (f64) clib_max (a->last[0], a->last[1]) - 1);
	}
    }
  return last;
}

/* One entry's media on every thread, added to a stream's. */
static void
sip_alg_stream_add (sip_alg_main_t *sam, sip_alg_stream_t *s, u32 i)
{
  for (u32 t = 0; t < vec_len (sam->per_thread); t++)
    {
      sip_alg_per_thread_t *ptd = &sam->per_thread[t];
      if (i >= vec_len (ptd->media_act))
	continue;
      sip_alg_media_act_t *a = &ptd->media_act[i];
      for (int d = 0; d < 2; d++)
	{
	  s->packets[d] += a->packets[d];
	  if (a->first[d] && (!s->first[d] || a->first[d] < s->first[d]))
	    s->first[d] = a->first[d];
	  s->last[d] = clib_max (s->last[d], a->last[d]);
	}
    }
}

/* Is entry i a stream of call c: an installed RTP pinhole of its current dialog? */
static_always_inline int
sip_alg_is_stream (sip_alg_main_t *sam, sip_alg_call_t *c, u32 i)
{
  sip_alg_smap_t *e = &sam->smap[i];
  return e->installed && e->ph.app == SIP_ALG_APP_RTP && e->call_epoch == c->epoch;
}

/* The stream of call c whose RTP entry is i: it and the RTCP entry of its pair, summed. */
static void
sip_alg_stream_get (sip_alg_main_t *sam, sip_alg_call_t *c, u32 i, sip_alg_stream_t *s)
{
  sip_alg_smap_t *e = &sam->smap[i];
  *s = (sip_alg_stream_t){ .rtp = i, .rtcp = ~0 };
  sip_alg_stream_add (sam, s, i);
  for (u32 k = c->entries; k != ~0; k = sam->smap[k].call_next)
    {
      sip_alg_smap_t *r = &sam->smap[k];
      if (r->installed && r->ph.app == SIP_ALG_APP_RTCP && r->call_epoch == c->epoch &&
	  r->ph.pub_addr.as_u32 == e->ph.pub_addr.as_u32 && r->ph.pub_port == e->ph.pub_port + 1)
	{
	  s->rtcp = k;
	  sip_alg_stream_add (sam, s, k);
	  return;
	}
    }
}

/*
 * The media streams of a call's current dialog (at most max): each installed RTP pinhole
 * of the inside party with the RTCP pinhole of its pair, their media summed (main thread,
 * or the barrier held). Returns how many.
 */
u32
sip_alg_call_streams (sip_alg_main_t *sam, sip_alg_call_t *c, sip_alg_stream_t *s, u32 max)
{
  u32 n = 0;
  for (u32 i = c->entries; i != ~0 && n < max; i = sam->smap[i].call_next)
    if (sip_alg_is_stream (sam, c, i))
      sip_alg_stream_get (sam, c, i, &s[n++]);
  return n;
}

/*
 * Is a stream one-way: while the check runs, in an established call, media came one way
 * (RTP or RTCP) for one_way_media seconds or more since the call was answered, and none
 * ever the other way? (first is the end of the second the first packet came in: never
 * early, at most a second late.) Returns 1 + the direction that has media (SIP_ALG_MEDIA_IN2OUT or
 * _OUT2IN), 0: not one-way. A call on hold (a=sendonly) whose phones send no RTCP is one
 * way too.
 */
int
sip_alg_stream_one_way (sip_alg_main_t *sam, sip_alg_call_t *c, const sip_alg_stream_t *s,
			f64 now)
{
  if (!sam->one_way_media || c->fsm.state != SIP_CALL_CONFIRMED || !c->confirmed_at)
    return 0;
  for (int d = 0; d < 2; d++)
    if (s->packets[d] && !s->packets[!d] &&
	now - clib_max ((f64) s->first[d], c->confirmed_at) >= sam->one_way_media)
      return 1 + d;
  return 0;
}

/* When the maximum duration ends the record (vlib time), 0: never (off, or a binding). */
static f64
sip_alg_call_max_end (sip_alg_main_t *sam, sip_alg_call_t *c)
{
  if (!sam->max_duration || c->fsm.state == SIP_CALL_REGISTERED ||
      c->fsm.state == SIP_CALL_REGISTERING)
    return 0;
  return c->created + sam->max_duration;
}

/* When the record ends by its timers (vlib time); also what `show sip-alg calls` shows. */
f64
sip_alg_call_deadline (sip_alg_main_t *sam, sip_alg_call_t *c)
{
  f64 idle = c->fsm.state == SIP_CALL_CONFIRMED	 ? sam->timeout_call :
	     c->fsm.state == SIP_CALL_REGISTERED ? c->bind_expires :
						   sam->timeout_signaling;
  f64 end = c->last_seen + idle;
  if (c->closed)
    end = c->last_seen + 2;
  f64 max_end = sip_alg_call_max_end (sam, c);
  if (max_end)
    end = clib_min (end, max_end);
  return end;
}

/* Seconds since the last media packet of an established call, ~0: not established, or no
   media entries (main thread). */
u32
sip_alg_call_media_idle (sip_alg_main_t *sam, sip_alg_call_t *c, f64 now)
{
  int n_media;
  f64 last = sip_alg_call_media_seen (sam, c, &n_media);
  return n_media ? (u32) clib_max (now - last, 0) : ~0;
}

/* Aging: one pass per second over the server map and the call records. */
static void
sip_alg_age (vlib_main_t *vm)
{
  sip_alg_main_t *sam = &sip_alg_main;
  f64 now = vlib_time_now (vm);
  sip_alg_smap_t *e;
  u32 *del = 0, *quiet = 0;

  if (!sam->initialized)
    return;
  /* nothing to age: no barrier (the workers keep running) */
  u32 n_calls = 0;
  for (u32 t = 0; t < vec_len (sam->per_thread); t++)
    n_calls += clib_atomic_load_relax_n (&sam->per_thread[t].n_calls) +
	       clib_atomic_load_relax_n (&sam->per_thread[t].n_tcp_conns);
  if (!n_calls && !pool_elts (sam->smap))
    return;
  u64 t0 = clib_cpu_time_now ();
  vlib_worker_thread_barrier_sync (vm);
  pool_foreach (e, sam->smap)
    {
      if (e->refs && !e->ph.bound)
	{
	  /* a phone's signaling entry lives while a call holds it */
	  e->expires = clib_max (e->expires, now + sam->timeout_signaling);
	  continue;
	}
      /*
       * entries of a live dialog live with it: while it rings, and while it is up. An
       * entry is extended when its own time is about to run out (aging runs every second),
       * so its Left-Time counts down from its own timeout first, as the seed shows media
       * entries of a ringing call (00:00:50 beside signaling's 00:02:00).
       */
      sip_alg_call_t *c = e->ph.bound || e->expires > now + 2 ? 0 : sip_alg_smap_call (e);
      if (c)
	{
	  f64 t = 0;
	  if (c->fsm.state == SIP_CALL_CONFIRMED)
	    t = sam->timeout_call;
	  else if (c->fsm.state == SIP_CALL_INVITING || c->fsm.state == SIP_CALL_EARLY)
	    t = sam->timeout_signaling;
	  else if (e->ph.app == SIP_ALG_APP_SIP)
	    t = sam->timeout_signaling;
	  if (t && c->last_seen + t > e->expires)
	    e->expires = c->last_seen + t;
	}
      if (e->expires <= now)
	vec_add1 (del, e - sam->smap);
    }
  for (u32 i = 0; i < vec_len (del); i++)
    if (!pool_is_free_index (sam->smap, del[i])) /* a binding's end may have taken two */
      sip_alg_smap_del (vm, pool_elt_at_index (sam->smap, del[i]),
			SIP_ALG_ERROR_PINHOLE_EXPIRED);
  vec_reset_length (del);

  /* call records: idle or over their maximum duration, with what is left of them; the
     media of established calls whose media went silent */
  for (u32 t = 0; t < vec_len (sam->per_thread); t++)
    {
      sip_alg_per_thread_t *ptd = &sam->per_thread[t];
      sip_alg_call_t *c;
      pool_foreach (c, ptd->calls)
	{
	  if (sip_alg_call_deadline (sam, c) <= now)
	    {
	      vec_add1 (del, c - ptd->calls);
	      continue;
	    }
	  if (c->fsm.state != SIP_CALL_CONFIRMED)
	    continue;
	  /*
	   * each stream found one-way is counted once; one with media both ways never can
	   * be, and is not looked at again (most streams: one look each)
	   */
	  for (u32 i = c->entries; sam->one_way_media && i != ~0; i = sam->smap[i].call_next)
	    {
	      sip_alg_stream_t st;
	      if (sam->smap[i].one_way_done || !sip_alg_is_stream (sam, c, i))
		continue;
	      sip_alg_stream_get (sam, c, i, &st);
	      if (st.packets[0] && st.packets[1])
		sam->smap[i].one_way_done = 1;
	      else if (sip_alg_stream_one_way (sam, c, &st, now))
		{
		  sam->smap[i].one_way_done = 1;
		  sip_alg_count (SIP_ALG_ERROR_MEDIA_ONE_WAY, 1);
		}
	    }
	  if (!sam->media_inactivity)
	    continue;
	  int n_media;
	  f64 seen = sip_alg_call_media_seen (sam, c, &n_media);
	  if (n_media && seen + sam->media_inactivity <= now)
	    vec_add1 (quiet, c - ptd->calls);
	}
      for (u32 i = 0; i < vec_len (del); i++)
	{
	  c = pool_elt_at_index (ptd->calls, del[i]);
	  sip_alg_req_t req = { .kind = SIP_ALG_REQ_CLOSE,
				.thread = t,
				.call_index = del[i],
				.epoch = c->epoch };
	  f64 max_end = sip_alg_call_max_end (sam, c);
	  if (!c->closed && max_end && max_end <= now)
	    sip_alg_count (SIP_ALG_ERROR_MAX_DURATION, 1);
	  sip_alg_close (vm, &req, SIP_ALG_ERROR_PINHOLE_EXPIRED);
	}
      for (u32 i = 0; i < vec_len (quiet); i++)
	{
	  c = pool_elt_at_index (ptd->calls, quiet[i]);
	  sip_alg_req_t req = { .kind = SIP_ALG_REQ_CLOSE,
				.thread = t,
				.call_index = quiet[i],
				.epoch = c->epoch,
				.media_only = 1 };
	  sip_alg_close (vm, &req, SIP_ALG_ERROR_PINHOLE_EXPIRED);
	  sip_alg_count (SIP_ALG_ERROR_MEDIA_INACTIVE, 1);
	}
      vec_reset_length (del);
      vec_reset_length (quiet);

      /* SIP over TCP connections: closed ones a little after their end (a retransmitted
	 FIN or the last ACK still needs its offsets), idle ones after the call timeout */
      sip_alg_tcp_conn_t *tc;
      pool_foreach (tc, ptd->tcp_conns)
	if ((tc->closing && tc->last_seen + 10 <= now) ||
	    tc->last_seen + sam->timeout_call <= now)
	  vec_add1 (del, tc - ptd->tcp_conns);
      for (u32 i = 0; i < vec_len (del); i++)
	sip_alg_tcp_conn_free (ptd, pool_elt_at_index (ptd->tcp_conns, del[i]));
      vec_reset_length (del);
    }
  vlib_worker_thread_barrier_release (vm);
  sam->mt.ages++;
  sam->mt.age_clocks += clib_cpu_time_now () - t0;
  vec_free (del);
  vec_free (quiet);
}

static uword
sip_alg_process (vlib_main_t *vm, vlib_node_runtime_t *rt, vlib_frame_t *f)
{
  uword *event_data = 0;
  f64 last_age = 0;

  while (1)
    {
      /* requests left over by the barrier budget: again after as long as their batch took */
      vlib_process_wait_for_event_or_clock (
	vm, vec_len (sip_alg_reqs) ? clib_max (1e-5, sip_alg_batch_s) : 1.0);
      vlib_process_get_events (vm, &event_data);
      vec_reset_length (event_data);
      sip_alg_take_incoming ();
      sip_alg_nat_api_tick (vm, &sip_alg_main);
      if (vec_len (sip_alg_reqs))
	sip_alg_handle_requests (vm);
      if (vlib_time_now (vm) - last_age >= 1.0)
	{
	  sip_alg_age (vm);
	  last_age = vlib_time_now (vm);
	}
    }
  return 0;
}

/*
 * The process calls NAT44-ED's static mapping handler (and the FIB below it) from its own
 * stack: 128 KB, not the default 32 KB, which an AddressSanitizer build overflowed on its
 * first server-map entry (redzones grow every frame).
 */
VLIB_REGISTER_NODE (sip_alg_process_node) = {
  .function = sip_alg_process,
  .type = VLIB_NODE_TYPE_PROCESS,
  .process_log2_n_stack_bytes = 17,
  .name = "sip-alg-process",
};

/* --- formats ---------------------------------------------------------------------------- */

u8 *
format_sip_alg_app (u8 *s, va_list *args)
{
  u32 app = va_arg (*args, u32);
  static const char *names[] = { "sip", "sip-rtp", "sip-rtcp" };
  return format (s, "%s", app < SIP_ALG_N_APPS ? names[app] : "?");
}

static u8 *
format_sip_alg_left_time (u8 *s, va_list *args)
{
  f64 left = va_arg (*args, f64);
  u64 t = left > 0 ? (u64) (left + 0.5) : 0;
  return format (s, "%02llu:%02llu:%02llu", t / 3600, (t / 60) % 60, t % 60);
}

/* One line per entry, in the shape of a firewall's "display firewall server-map aspf". */
u8 *
format_sip_alg_smap (u8 *s, va_list *args)
{
  sip_alg_smap_t *e = va_arg (*args, sip_alg_smap_t *);
  f64 now = va_arg (*args, f64);

  s = format (s, "Type: ASPF, ANY -> %U:%u", format_ip4_address, &e->ph.pub_addr,
	      e->ph.pub_port);
  if (e->ph.in_addr.as_u32)
    s = format (s, "[%U:%u]", format_ip4_address, &e->ph.in_addr, e->ph.in_port);
  s = format (s, ", Protocol: %s(Appro: %U), Left-Time: %U, VPN: %U -> %U",
	      e->ph.tcp ? "tcp" : "udp", format_sip_alg_app, (u32) e->ph.app,
	      format_sip_alg_left_time, e->expires - now, format_sip_alg_vpn, e->ph.out_fib,
	      format_sip_alg_vpn, e->ph.in_fib);
  return s;
}

/* The table id of an IPv4 FIB index (NAT44-ED's vrf_id), 0 for an index that is gone. */
u32
sip_alg_fib_table_id (u32 fib_index)
{
  if (pool_is_free_index (ip4_main.fibs, fib_index))
    return 0;
  return fib_table_get (fib_index, FIB_PROTOCOL_IP4)->ft_table_id;
}

/*
 * The seed's VPN column for an IPv4 FIB index: "public" for the default table, else the
 * table's name (`ip table add N [name ...]`; VPP names an unnamed one "ipv4-VRF:N").
 */
u8 *
format_sip_alg_vpn (u8 *s, va_list *args)
{
  u32 fib_index = va_arg (*args, u32);
  if (pool_is_free_index (ip4_main.fibs, fib_index))
    return format (s, "-");
  fib_table_t *ft = fib_table_get (fib_index, FIB_PROTOCOL_IP4);
  if (ft->ft_table_id == 0)
    return format (s, "public");
  if (ft->ft_desc)
    return format (s, "%v", ft->ft_desc);
  return format (s, "vrf:%u", ft->ft_table_id);
}

u8 *
format_sip_alg_call (u8 *s, va_list *args)
{
  sip_alg_main_t *sam = &sip_alg_main;
  sip_alg_call_t *c = va_arg (*args, sip_alg_call_t *);
  f64 now = va_arg (*args, f64);
  u32 media_idle = sip_alg_call_media_idle (sam, c, now);
  s = format (s, "Call-ID: %.*s, State: %s, Inside: %U:%u[%U:%u], Peer: %U:%u, Messages: %u, "
		 "Media: %u, Age: %U, Idle: %U, Media-Idle: ",
	      (int) (vec_len (c->call_id) - SIP_ALG_CALL_KEY_FIB),
	      c->call_id + SIP_ALG_CALL_KEY_FIB,
	      sip_call_state_name (c->fsm.state), format_ip4_address, &c->in_addr,
	      c->in_port, format_ip4_address, &c->pub_addr, c->pub_port, format_ip4_address,
	      &c->peer_addr, c->peer_port, c->n_msgs, c->n_media, format_sip_alg_left_time,
	      now - c->created, format_sip_alg_left_time, now - c->last_seen);
  if (media_idle == ~0)
    s = format (s, "-");
  else
    s = format (s, "%U", format_sip_alg_left_time, (f64) media_idle);
  s = format (s, ", Left-Time: %U, Epoch: %u, VPN: %U -> %U", format_sip_alg_left_time,
	      sip_alg_call_deadline (sam, c) - now, c->epoch, format_sip_alg_vpn, c->out_fib,
	      format_sip_alg_vpn, c->in_fib);
  return s;
}

/*
 * A media stream of call c, in the call's shape: its RTP pinhole, packets and seconds since
 * the last one each way (- : none yet), and One-Way: the direction that alone has had media
 * for one-way-media seconds (in2out, out2in), no, or off (the check is off).
 */
u8 *
format_sip_alg_stream (u8 *s, va_list *args)
{
  sip_alg_main_t *sam = &sip_alg_main;
  sip_alg_call_t *c = va_arg (*args, sip_alg_call_t *);
  sip_alg_stream_t *st = va_arg (*args, sip_alg_stream_t *);
  f64 now = va_arg (*args, f64);
  static const char *dirs[] = { "in2out", "out2in" };
  sip_alg_smap_t *e = pool_elt_at_index (sam->smap, st->rtp);

  s = format (s, "Stream: %U:%u[%U:%u], Packets: in2out %llu out2in %llu, Idle:",
	      format_ip4_address, &e->ph.pub_addr, e->ph.pub_port, format_ip4_address,
	      &e->ph.in_addr, e->ph.in_port, st->packets[SIP_ALG_MEDIA_IN2OUT],
	      st->packets[SIP_ALG_MEDIA_OUT2IN]);
  for (int d = 0; d < 2; d++)
    {
      s = format (s, " %s ", dirs[d]);
      if (st->last[d])
	s = format (s, "%U", format_sip_alg_left_time, now - (st->last[d] - 1));
      else
	s = format (s, "-");
    }
  int one_way = sip_alg_stream_one_way (sam, c, st, now);
  return format (s, ", One-Way: %s",
		 !sam->one_way_media ? "off" : one_way ? dirs[one_way - 1] : "no");
}

/* --- init -------------------------------------------------------------------------------- */

static clib_error_t *
sip_alg_init (vlib_main_t *vm)
{
  sip_alg_main_t *sam = &sip_alg_main;
  u16 port = SIP_ALG_DEFAULT_PORT;
  u16 tcp_port = SIP_ALG_DEFAULT_TCP_PORT;

  sam->vlib_main = vm;
  clib_spinlock_init (&sip_alg_incoming_lock);
  sam->log_class = vlib_log_register_class ("sip-alg", 0);
  sam->nat_msg_id = sam->nat_del_msg_id = ~0;
  sam->udp_ports[0] = clib_host_to_net_u16 (port);
  sam->n_udp_ports = 1;
  sam->tcp_ports[0] = clib_host_to_net_u16 (tcp_port);
  sam->n_tcp_ports = 1;
  clib_bitmap_alloc (sam->cand_ports, 65536); /* full size once: workers read it */
  clib_bitmap_alloc (sam->gate_ports, 65536);
  clib_bitmap_alloc (sam->inside_ports, 65536);
  clib_bitmap_alloc (sam->look_none, 65536);
  clib_bitmap_alloc (sam->look[IP_PROTOCOL_UDP], 65536);
  clib_bitmap_alloc (sam->look[IP_PROTOCOL_TCP], 65536);
  for (u32 i = 0; i < ARRAY_LEN (sam->look); i++)
    if (!sam->look[i])
      sam->look[i] = sam->look_none;
  sip_alg_cand_port_update (sam, sam->udp_ports[0]);
  sam->timeout_signaling = SIP_ALG_DEFAULT_SIGNALING;
  sam->timeout_media = SIP_ALG_DEFAULT_MEDIA;
  sam->timeout_call = SIP_ALG_DEFAULT_CALL;
  sam->media_inactivity = SIP_ALG_DEFAULT_MEDIA_INACTIVITY;
  sam->one_way_media = SIP_ALG_DEFAULT_ONE_WAY_MEDIA;
  sam->max_duration = SIP_ALG_DEFAULT_MAX_DURATION;
  sam->max_calls = SIP_ALG_DEFAULT_MAX_CALLS;
  sam->max_held = SIP_ALG_DEFAULT_MAX_HELD;
  sam->media_port_lo = SIP_ALG_MEDIA_PORT_LO;
  sam->media_port_hi = SIP_ALG_MEDIA_PORT_HI;
  sam->tcp_reassembly = SIP_ALG_DEFAULT_TCP_REASSEMBLY;
  sam->sec = (sip_alg_security_t){
    .max_inbound_calls = SIP_ALG_DEFAULT_MAX_INBOUND,
    .max_inbound_per_source = SIP_ALG_DEFAULT_MAX_INBOUND_SRC,
    .max_binding_time = SIP_ALG_DEFAULT_MAX_BINDING,
    .max_entries = SIP_ALG_DEFAULT_MAX_ENTRIES,
    .max_entries_per_call = SIP_ALG_DEFAULT_MAX_PER_CALL,
    .inside_port_lo = SIP_ALG_INSIDE_PORT_LO,
    .inside_port_hi = SIP_ALG_INSIDE_PORT_HI,
  };
  sip_alg_look_rebuild (sam); /* the ports 5060 (UDP and TCP) and 5061, the media range */
  sam->pre_next_acl = ~0;
  sam->pre_next_reass = ~0;
  sam->gate_counters.name = "sip-alg gate";
  sam->gate_counters.stat_segment_name = "/sip-alg/gate";
  vnet_feature_register (sip_alg_feature_update, 0);
  sam->process_node_index = sip_alg_process_node.index;
  sam->error_drop_node_index = vlib_get_node_by_name (vm, (u8 *) "error-drop")->index;
  return 0;
}

VLIB_INIT_FUNCTION (sip_alg_init);

VLIB_PLUGIN_REGISTER () = {
  .version = VPP_BUILD_VER,
  .description = "SIP ALG for NAT44-ED",
};
