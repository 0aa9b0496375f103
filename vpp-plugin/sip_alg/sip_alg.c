/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * The plugin's main thread: the requests workers queue for it (pinholes, closes, releases,
 * moves) and the process node that handles them in barrier batches and ages the server map
 * once a second; the plugin's init. The rest, by concern: sip_alg_pre.c and sip_alg_post.c
 * (the nodes), sip_alg_msg.c (a SIP message), sip_alg_tcp.c (SIP over TCP),
 * sip_alg_frag.c, sip_alg_smap.c (server map, aging), sip_alg_nat.c (NAT44-ED),
 * sip_alg_gate.c, sip_alg_config.c, sip_alg_ports.c, sip_alg_format.c, sip_alg_cli.c,
 * sip_alg_api.c; docs/architecture.md has the map.
 */

#include <vnet/vnet.h>
#include <vnet/feature/feature.h>
#include <vnet/plugin/plugin.h>
#include <vlib/threads.h>
#include <vpp/app/version.h>
#include <vnet/ip/ip4.h>
#include <vnet/ip/reass/ip4_full_reass.h>

#include <sip_alg/sip_alg_nat.h>
#include <sip_alg/sip_alg_smap.h>
#include <sip_alg/sip_alg_inlines.h>

sip_alg_main_t sip_alg_main;

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
  if (n) /* none: ph may be 0 (a held TCP segment's own request) */
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
sip_alg_request_release_media (u32 thread, u32 call_index, u32 epoch,
			       const ip4_address_t *pub_addrs, const u16 *pub_ports, u32 n)
{
  sip_alg_req_t req = { .kind = SIP_ALG_REQ_RELEASE,
			.thread = thread,
			.call_index = call_index,
			.epoch = epoch,
			.held_bi = ~0 };
  n = clib_min (n, ARRAY_LEN (req.ph));
  for (u32 i = 0; i < n; i++)
    {
      req.ph[i].pub_addr = pub_addrs[i];
      req.ph[i].pub_port = pub_ports[i];
    }
  req.n_ph = n;
  sip_alg_send_req (&req);
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

  /*
   * the budget, and the batch's time, from the barrier taken to its release (the wait for the
   * workers to reach it is not counted: they forward packets meanwhile), as an aging slice's
   */
  vlib_worker_thread_barrier_sync (vm);
  u64 t0 = clib_cpu_time_now ();
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
  u64 held = clib_cpu_time_now () - t0;
  vlib_worker_thread_barrier_release (vm);
  sam->mt.batches++;
  sam->mt.requests += n;
  sam->mt.batch_clocks += held;
  sam->mt.batch_max = clib_max (sam->mt.batch_max, held);

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

static uword
sip_alg_process (vlib_main_t *vm, vlib_node_runtime_t *rt, vlib_frame_t *f)
{
  uword *event_data = 0;
  f64 last_age = 0, age_s = 0;
  u32 aging = 0; /* an aging pass under way */

  while (1)
    {
      /*
       * requests left over by the barrier budget, or an aging pass under way: again after
       * as long as their slice took
       */
      f64 pause = 1.0;
      if (vec_len (sip_alg_reqs))
	pause = clib_max (1e-5, sip_alg_batch_s);
      if (aging)
	pause = clib_min (pause, clib_max (1e-5, age_s));
      vlib_process_wait_for_event_or_clock (vm, pause);
      vlib_process_get_events (vm, &event_data);
      vec_reset_length (event_data);
      sip_alg_take_incoming ();
      sip_alg_main.nat->tick (vm);
      if (vec_len (sip_alg_reqs))
	sip_alg_handle_requests (vm);
      /* a pass begins at most once a second, when none is under way */
      int start = vlib_time_now (vm) - last_age >= 1.0;
      if (start || aging)
	{
	  u64 budget = vm->clib_time.clocks_per_second * SIP_ALG_BARRIER_BUDGET_US * 1e-6;
	  f64 t0 = vlib_time_now (vm);
	  aging = sip_alg_age (vm, start, budget);
	  age_s = vlib_time_now (vm) - t0;
	  if (start)
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

/* --- init -------------------------------------------------------------------------------- */

/* Per-thread state, tables, the NAT backend, reassembly: when the ALG is first enabled. */
void
sip_alg_lazy_init (sip_alg_main_t *sam)
{
  vlib_thread_main_t *tm = vlib_get_thread_main ();
  u32 n_threads = tm->n_vlib_mains;

  if (sam->initialized)
    return;
  sip_alg_chain_init (sam);
  vec_validate_aligned (sam->per_thread, n_threads - 1, CLIB_CACHE_LINE_BYTES);
  sip_alg_ix_init (sam);
  vec_validate_init_empty (sam->sig_port_refs, 65535, 0);
  vec_validate_init_empty (sam->gate_port_refs, 65535, 0);
  vec_validate_init_empty (sam->inside_port_refs, 65535, 0);
  for (u32 i = 0; i < n_threads; i++)
    {
      sip_alg_per_thread_t *ptd = &sam->per_thread[i];
      vec_validate (ptd->call_ix, SIP_ALG_IX_MIN - 1);
      vec_validate (ptd->own_map, SIP_ALG_OWN_MAP_SIZE - 1);
      ptd->inbound_by_src = hash_create (0, sizeof (uword));
      ptd->calls_by_host = hash_create (0, sizeof (uword));
      for (u32 k = 0; k < SIP_ALG_N_RATES; k++)
	vec_validate_aligned (ptd->buckets[k], SIP_ALG_RATE_BUCKETS - 1, CLIB_CACHE_LINE_BYTES);
      ptd->tcp_by_key = hash_create_mem (0, sizeof (sip_alg_tcp_key_t), sizeof (uword));
      vec_validate (ptd->scratch, SIP_MAX_MSG_LEN + 64);
    }
  sip_alg_media_range_layout (sam, sam->limits.media_port_lo, sam->limits.media_port_hi,
			      sam->media.addrs, sam->media.n_addrs);
  sam->nat->init ();
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

static clib_error_t *
sip_alg_init (vlib_main_t *vm)
{
  sip_alg_main_t *sam = &sip_alg_main;
  u16 port = SIP_ALG_DEFAULT_PORT;
  u16 tcp_port = SIP_ALG_DEFAULT_TCP_PORT;

  sam->vlib_main = vm;
  clib_spinlock_init (&sip_alg_incoming_lock);
  sam->log_class = vlib_log_register_class ("sip-alg", 0);
  sam->nat = &sip_alg_nat44_ed; /* the NAT the ALG works with (sip_alg_nat.h) */
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
  sam->timeouts = (sip_alg_timeouts_t){
    .signaling = SIP_ALG_DEFAULT_SIGNALING,
    .media = SIP_ALG_DEFAULT_MEDIA,
    .call = SIP_ALG_DEFAULT_CALL,
    .media_inactivity = SIP_ALG_DEFAULT_MEDIA_INACTIVITY,
    .max_duration = SIP_ALG_DEFAULT_MAX_DURATION,
    .one_way_media = SIP_ALG_DEFAULT_ONE_WAY_MEDIA,
  };
  sam->limits = (sip_alg_limits_t){
    .max_calls = SIP_ALG_DEFAULT_MAX_CALLS,
    .max_held = SIP_ALG_DEFAULT_MAX_HELD,
    .media_port_lo = SIP_ALG_MEDIA_PORT_LO,
    .media_port_hi = SIP_ALG_MEDIA_PORT_HI,
    .tcp_reassembly = SIP_ALG_DEFAULT_TCP_REASSEMBLY,
  };
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
