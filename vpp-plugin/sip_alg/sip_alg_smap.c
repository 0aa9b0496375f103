/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * The server map (main thread): the entries the workers' requests make (pinholes, the
 * outside party's records, REGISTER bindings), their references from call records, the
 * signaling endpoints and the gate's view of them, a phone's signaling moved to a port of
 * its own; closing a call; and aging, once a second: entries, call records (timers, media
 * inactivity, one-way media), SIP over TCP connections.
 */

#include <vnet/vnet.h>
#include <vnet/ip/ip4.h>
#include <vlib/threads.h>

#include <sip_alg/sip_alg_smap.h>
#include <sip_alg/sip_alg_nat.h>
#include <sip_alg/sip_alg_inlines.h>

/* One more (delta 1) or one less (-1) signaling endpoint on a port. Main thread. */
static void
sip_alg_sig_port_ref (sip_alg_main_t *sam, u16 port, int delta)
{
  u16 port_net = clib_host_to_net_u16 (port);
  sam->sig_port_refs[port_net] += delta;
  sip_alg_cand_port_update (sam, port_net);
}

/*
 * The signaling endpoints of a `sip` pinhole realised as a NAT mapping or over TCP: the
 * index finds them by the entry (PUB, SIG_IN); their ports are candidates while one has
 * them.
 */
static void
sip_alg_sig_endpoints (sip_alg_main_t *sam, const sip_alg_pinhole_t *ph, int delta)
{
  if (!sip_alg_ix_is_sig (ph))
    return;
  sip_alg_sig_port_ref (sam, ph->in_port, delta);
  sip_alg_sig_port_ref (sam, ph->pub_port, delta);
}

/* moved_by_in: a phone's inside endpoint in its VRF. */
static uword
sip_alg_moved_key (const sip_alg_pinhole_t *ph)
{
  return ((u64) ph->in_addr.as_u32 << 32) | ((u64) (ph->in_fib & 0xffff) << 16) | ph->in_port;
}

/* The entry of a pinhole's server-map key (the index's PUB slots of its public end). */
static sip_alg_smap_t *
sip_alg_smap_find (const sip_alg_pinhole_t *ph)
{
  sip_alg_main_t *sam = &sip_alg_main;
  sip_alg_ix_iter_t it;
  u64 key = sip_alg_smap_key (ph);
  sip_alg_ix_foreach (sam, it,
		      sip_alg_gate_key (ph->pub_addr, clib_host_to_net_u16 (ph->pub_port)), s)
    {
      sip_alg_smap_t *e = sip_alg_ix_entry (sam, s);
      if ((s & 3) == SIP_ALG_IX_PUB && sip_alg_smap_key (&e->ph) == key)
	return e;
    }
  return 0;
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
  e->ph.call_thread = thread;
  e->call_index = call_index;
  e->call_epoch = epoch;
  e->ph.counted = c != 0;
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
  sip_alg_call_t *c = e->ph.counted ? sip_alg_call_at (e->ph.call_thread, e->call_index) : 0;
  u32 idx = e - sam->smap;
  e->ph.counted = 0;
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
  sip_alg_call_t *c = e->ph.counted ? sip_alg_call_at (e->ph.call_thread, e->call_index) : 0;
  return c && c->epoch == e->call_epoch ? c : 0;
}

/*
 * A media port pair (pub_addr:pub_port) the call (of thread `thread`) will not use: back
 * to the pool (the slot of its address), and out of the call.
 */
static void
sip_alg_media_forget (sip_alg_main_t *sam, u32 thread, sip_alg_call_t *c,
		      ip4_address_t pub_addr, u16 pub_port, u8 own)
{
  u32 slot = own ? 0 : sip_alg_media_slot (sam, pub_addr);
  sip_alg_media_map_t *media = c ? sip_alg_call_media (&sam->per_thread[thread], c) : 0;
  for (u32 j = 0; c && j < c->n_media; j++)
    if (media[j].pub_port == pub_port && !(media[j].flags & SIP_ALG_MEDIA_OWN) == !own &&
	(own || media[j].slot == slot))
      {
	media[j] = media[--c->n_media];
	break;
      }
  if (!own) /* the phone's own NAT mapping was never the pool's */
    sip_alg_media_port_free (sam, slot, pub_port);
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
  if (e->ph.installed)
    {
      sip_alg_gate_add_del (sam, e, 0);
      sam->nat->mapping (vm, &e->ph, 0);
    }
  /*
   * The pair goes back to the pool, so the call (if it lives on, e.g. its media went
   * silent) must forget it: a later offer gets a new pair and a new pinhole instead of
   * announcing a port another call may hold by then.
   */
  if (e->ph.nat_mapping && e->ph.app == SIP_ALG_APP_RTP)
    sip_alg_media_forget (sam, e->ph.call_thread, e->ph.bound ? 0 : sip_alg_smap_call (e),
			  e->ph.pub_addr,
			  e->ph.pub_port, e->ph.own);
  if (e->ph.moved)
    {
      hash_unset (sam->moved_by_in, sip_alg_moved_key (&e->ph));
      sip_alg_media_port_free (sam, sip_alg_media_slot (sam, e->ph.pub_addr), e->ph.pub_port);
    }
  sip_alg_smap_untie (sam, e);
  sip_alg_ix_del (sam, e - sam->smap, SIP_ALG_IX_PUB);
  if (sip_alg_ix_is_sig (&e->ph))
    sip_alg_ix_del (sam, e - sam->smap, SIP_ALG_IX_SIG_IN);
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
    sip_alg_media_forget (sam, req->thread, owner, ph->pub_addr, rtp_port, 0);
  return -1;
}

/* A pinhole whose entry exists (e, of the same inside endpoint). Returns 0. */
static int
sip_alg_smap_refresh (vlib_main_t *vm, sip_alg_main_t *sam, sip_alg_req_t *req,
		      const sip_alg_pinhole_t *ph, sip_alg_smap_t *e, sip_alg_call_t *call,
		      f64 now)
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
      (!e->ph.counted || e->call_index != req->call_index || e->ph.call_thread != req->thread ||
       e->call_epoch != req->epoch))
    {
      /* re-pointed: the entry counts against its new record */
      sip_alg_smap_untie (sam, e);
      sip_alg_smap_tie (sam, e, req->thread, req->call_index, req->epoch);
    }
  return 0;
}

/* Returns 0, or -1 when the entry could not be made. */
int
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
	sip_alg_media_forget (sam, req->thread, owner, ph->pub_addr, ph->pub_port, ph->own);
      return -1;
    }
  if (e)
    return sip_alg_smap_refresh (vm, sam, req, ph, e, call, now);
  if (pool_elts (sam->smap) >= clib_min (sam->sec.max_entries, SIP_ALG_IX_MAX_ENTRY) ||
      (call && !ph->shared && call->n_entries >= sam->sec.max_entries_per_call))
    {
      sip_alg_count (SIP_ALG_ERROR_SMAP_FULL, 1);
      if (media_port)
	sip_alg_media_forget (sam, req->thread, owner, ph->pub_addr, ph->pub_port, ph->own);
      return -1;
    }
  if (ph->in_addr.as_u32 && sam->sec.max_entries_per_host)
    {
      uword *n = hash_get (sam->entries_by_host, sip_alg_host_key (ph->in_addr, ph->in_fib));
      if (n && n[0] >= sam->sec.max_entries_per_host)
	{
	  sip_alg_count (SIP_ALG_ERROR_HOST_SMAP_FULL, 1);
	  if (media_port)
	    sip_alg_media_forget (sam, req->thread, owner, ph->pub_addr, ph->pub_port, ph->own);
	  return -1;
	}
    }
  sip_alg_pool_get_zero (sam->smap, e);
  if (ph->in_addr.as_u32)
    sip_alg_host_count (&sam->entries_by_host, sip_alg_host_key (ph->in_addr, ph->in_fib), 1);
  e->ph = *ph;
  e->ph.counted = e->ph.installed = e->ph.one_way_done = 0; /* the entry's own */
  e->ph.call_thread = 0;
  /* a new entry counts as active: media inactivity runs from its making at the latest */
  e->ph.made = (u32) now;
  e->gen = ++sam->smap_gen;
  u32 ei = e - sam->smap;
  sip_alg_ix_add (sam, ei, SIP_ALG_IX_PUB);
  if (sip_alg_ix_is_sig (ph))
    sip_alg_ix_add (sam, ei, SIP_ALG_IX_SIG_IN);
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
  /* a thread's records of the entry, where its vectors reach (they grow on its packets) */
  for (u32 t = 0; t < vec_len (sam->per_thread); t++)
    {
      sip_alg_per_thread_t *ptd = &sam->per_thread[t];
      if (ei < vec_len (ptd->gate_act))
	ptd->gate_act[ei] = (sip_alg_gate_act_t){};
      if (ei < vec_len (ptd->media_act))
	ptd->media_act[ei] = (sip_alg_media_act_t){};
    }
  if (ph->nat_mapping)
    {
      if (sam->nat->mapping (vm, ph, 1) == 0)
	{
	  e->ph.installed = 1;
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
sip_alg_smap_t *
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
			       .timeout = sam->timeouts.signaling,
			       .in_fib = from->in_fib,
			       .out_fib = from->out_fib };
      /*
       * The pool passes over a few pairs that clash with phones' signaling, then hands one
       * out unchecked (sip_alg_media_pair): here every entry is known, and a port that is
       * one is passed over too (its pinhole would be refused), given back after.
       */
      u16 port = 0, skipped[8];
      u32 n_skipped = 0;
      /* on its own address: that address's slot of the pool (0 unless a media address) */
      u8 slot = sip_alg_media_slot (sam, from->pub_addr);
      while (n_skipped < ARRAY_LEN (skipped) &&
	     (port = sip_alg_media_pair (sam, &sam->per_thread[0], &slot, from->pub_addr)))
	{
	  ph.pub_port = port;
	  if (!sip_alg_smap_find (&ph))
	    break;
	  skipped[n_skipped++] = port;
	  port = 0;
	}
      for (u32 i = 0; i < n_skipped; i++)
	sip_alg_media_port_free (sam, slot, skipped[i]);
      if (n_skipped)
	sip_alg_count (SIP_ALG_ERROR_MOVE_SKIPPED, n_skipped);
      if (!port)
	{
	  sip_alg_count (SIP_ALG_ERROR_NO_MEDIA_PORT, 1);
	  return 0;
	}
      int rv = sip_alg_smap_add (vm, req, &ph);
      e = sip_alg_smap_find (&ph);
      if (rv || !e || !e->ph.installed)
	{
	  if (e && e->ph.moved)
	    sip_alg_smap_del (vm, e, SIP_ALG_ERROR_PINHOLE_REMOVED); /* gives the port back */
	  else
	    sip_alg_media_port_free (sam, slot, port);
	  return 0;
	}
      hash_set (sam->moved_by_in, key, e - sam->smap);
      vlib_log_notice (sam->log_class, "signaling of %U:%u moved from %U:%u to %U:%u",
		     format_ip4_address, &from->in_addr, from->in_port, format_ip4_address,
		     &from->pub_addr, from->pub_port, format_ip4_address, &ph.pub_addr, port);
    }
  sam->nat->del_session (vm, from->in_addr, from->in_port, from->in_fib, req->peer_addr,
			 req->peer_port);
  return e;
}

/*
 * The outside party's records (its Contact and media) of the call's dialog become those of
 * this request (the description that now holds: the answer of the dialog that was
 * answered, a new offer or answer in it), so the records of forks that were not answered
 * and of media the outside party no longer uses go.
 */
void
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
void
sip_alg_release (vlib_main_t *vm, const sip_alg_req_t *req)
{
  for (u32 i = 0; i < req->n_ph; i++)
    for (u32 k = 0; k < 2; k++)
      {
	sip_alg_pinhole_t ph = { .pub_addr = req->ph[i].pub_addr,
				 .pub_port = req->ph[i].pub_port + k,
				 .nat_mapping = 1 };
	sip_alg_smap_t *e = sip_alg_smap_find (&ph);
	if (e && e->ph.counted && e->ph.call_thread == req->thread &&
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
  sip_alg_host_count (&ptd->calls_by_host,
		      sip_alg_host_key (c->in_addr, sip_alg_call_in_fib (c)), -1);
  if (c->fsm.invite_sent)
    {
      /* the barrier is held: the worker that owns the table is stopped */
      u64 h = hash_memory (c->call_id, vec_len (c->call_id), 0);
      sip_alg_closed_t *cl = &ptd->closed[h & (SIP_ALG_CLOSED_N - 1)];
      cl->hash = h;
      cl->cseq = 0;
      for (u32 side = 0; side < 2; side++)
	if (c->fsm.invite_sent & (1 << side))
	  cl->cseq = clib_max (cl->cseq, c->fsm.invite_cseq[side]);
      cl->until = (u32) vlib_time_now (vm) + SIP_ALG_CLOSED_TTL;
    }
  sip_alg_call_ix_del (ptd, c - ptd->calls);
  sip_alg_call_ext_put (ptd, c);
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
void
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

/* --- aging ------------------------------------------------------------------------------ */

/*
 * The last packet (vlib time, s) of an established call's media: the newest of its media
 * pinholes' last packets either way on any thread (or their making), and not before the
 * call was answered.
 */
static f64
sip_alg_call_media_seen (sip_alg_main_t *sam, sip_alg_call_t *c, int *n_media)
{
  *n_media = 0;
  f64 last = sip_alg_call_confirmed (c);
  if (!last)
    return 0;
  for (u32 i = c->entries; i != ~0; i = sam->smap[i].call_next)
    {
      sip_alg_smap_t *e = &sam->smap[i];
      if (!e->ph.installed || e->ph.app == SIP_ALG_APP_SIP || e->call_epoch != c->epoch)
	continue;
      (*n_media)++;
      last = clib_max (last, (f64) e->ph.made);
      for (u32 t = 0; t < vec_len (sam->per_thread); t++)
	{
	  sip_alg_per_thread_t *ptd = &sam->per_thread[t];
	  if (i >= vec_len (ptd->media_act))
	    continue; /* no packet of it on that thread */
	  sip_alg_media_act_t *a = &ptd->media_act[i];
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
  return e->ph.installed && e->ph.app == SIP_ALG_APP_RTP && e->call_epoch == c->epoch;
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
      if (r->ph.installed && r->ph.app == SIP_ALG_APP_RTCP && r->call_epoch == c->epoch &&
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
  f64 confirmed = sip_alg_call_confirmed (c);
  if (!sam->timeouts.one_way_media || c->fsm.state != SIP_CALL_CONFIRMED || !confirmed)
    return 0;
  for (int d = 0; d < 2; d++)
    if (s->packets[d] && !s->packets[!d] &&
	now - clib_max ((f64) s->first[d], confirmed) >= sam->timeouts.one_way_media)
      return 1 + d;
  return 0;
}

/* When the maximum duration ends the record (vlib time), 0: never (off, or a binding). */
static f64
sip_alg_call_max_end (sip_alg_main_t *sam, sip_alg_call_t *c)
{
  if (!sam->timeouts.max_duration || c->fsm.state == SIP_CALL_REGISTERED ||
      c->fsm.state == SIP_CALL_REGISTERING)
    return 0;
  return c->created + sam->timeouts.max_duration;
}

/* When the record ends by its timers (vlib time); also what `show sip-alg calls` shows. */
f64
sip_alg_call_deadline (sip_alg_main_t *sam, sip_alg_call_t *c)
{
  f64 idle = c->fsm.state == SIP_CALL_CONFIRMED	 ? sam->timeouts.call :
	     c->fsm.state == SIP_CALL_REGISTERED ? c->bind_expires :
						   sam->timeouts.signaling;
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

/*
 * Aging works in slices, as the requests do (sip_alg.c): a pass scans the server map and
 * the call records for what has expired, then deletes it, at most SIP_ALG_BARRIER_BUDGET_US
 * of barrier at a time, the rest in the process node's next turns. With stock NAT44-ED each
 * static mapping delete walks NAT's session pool, so a second's worth of expiries at
 * 100,000 calls would otherwise hold the workers for tens of seconds, and the scan itself
 * of 100,000 calls' records and entries takes tens of milliseconds. No new pass while one
 * is under way: nothing is found twice. What a slice deletes is checked again first: it may
 * have come back to life (a packet of its call) or gone otherwise since the scan.
 */
typedef struct
{
  u32 call_index;
  u32 epoch;
  u16 thread;
  u8 media_only;
} sip_alg_age_close_t;

static u32 *sip_alg_age_expired;		   /* expired entries, by index */
static sip_alg_age_close_t *sip_alg_age_closes; /* call records, and media, to end */

/*
 * Whether entry e has expired at now; an entry of a live dialog is extended first. An
 * entry lives while a call holds it (a phone's signaling), and while its dialog rings or is
 * up: it is extended when its own time is about to run out (aging runs every second), so
 * its Left-Time counts down from its own timeout first, as the seed shows media entries of
 * a ringing call (00:00:50 beside signaling's 00:02:00).
 */
static int
sip_alg_entry_expired (sip_alg_main_t *sam, sip_alg_smap_t *e, f64 now)
{
  if (e->refs && !e->ph.bound)
    {
      e->expires = clib_max (e->expires, now + sam->timeouts.signaling);
      return 0;
    }
  sip_alg_call_t *c = e->ph.bound || e->expires > now + 2 ? 0 : sip_alg_smap_call (e);
  if (c)
    {
      f64 t = 0;
      if (c->fsm.state == SIP_CALL_CONFIRMED)
	t = sam->timeouts.call;
      else if (c->fsm.state == SIP_CALL_INVITING || c->fsm.state == SIP_CALL_EARLY)
	t = sam->timeouts.signaling;
      else if (e->ph.app == SIP_ALG_APP_SIP)
	t = sam->timeouts.signaling;
      if (t && c->last_seen + t > e->expires)
	e->expires = c->last_seen + t;
    }
  return e->expires <= now;
}

/*
 * Whether the media of established call c has been silent for media_inactivity (it has
 * media entries).
 */
static int
sip_alg_call_quiet (sip_alg_main_t *sam, sip_alg_call_t *c, f64 now)
{
  int n_media;
  if (!sam->timeouts.media_inactivity || c->fsm.state != SIP_CALL_CONFIRMED)
    return 0;
  f64 seen = sip_alg_call_media_seen (sam, c, &n_media);
  return n_media && seen + sam->timeouts.media_inactivity <= now;
}

/*
 * Call record c of thread t, in the backlog when it is idle or over its maximum duration,
 * or when it is established and its media went silent; its one-way streams counted.
 */
static void
sip_alg_age_call (sip_alg_main_t *sam, u32 t, sip_alg_call_t *c, f64 now)
{
  sip_alg_per_thread_t *ptd = &sam->per_thread[t];
  sip_alg_age_close_t a = { .call_index = c - ptd->calls, .epoch = c->epoch, .thread = t };

  if (sip_alg_call_deadline (sam, c) <= now)
    {
      vec_add1 (sip_alg_age_closes, a);
      return;
    }
  if (c->fsm.state != SIP_CALL_CONFIRMED)
    return;
  /*
   * each stream found one-way is counted once; one with media both ways never can be, and
   * is not looked at again (most streams: one look each)
   */
  for (u32 i = c->entries; sam->timeouts.one_way_media && i != ~0; i = sam->smap[i].call_next)
    {
      sip_alg_stream_t st;
      if (sam->smap[i].ph.one_way_done || !sip_alg_is_stream (sam, c, i))
	continue;
      sip_alg_stream_get (sam, c, i, &st);
      if (st.packets[0] && st.packets[1])
	sam->smap[i].ph.one_way_done = 1;
      else if (sip_alg_stream_one_way (sam, c, &st, now))
	{
	  sam->smap[i].ph.one_way_done = 1;
	  sip_alg_count (SIP_ALG_ERROR_MEDIA_ONE_WAY, 1);
	}
    }
  if (sip_alg_call_quiet (sam, c, now))
    {
      a.media_only = 1;
      vec_add1 (sip_alg_age_closes, a);
    }
}

/* A call of the backlog ended, or its media, when that is still due. */
static void
sip_alg_age_close (vlib_main_t *vm, sip_alg_main_t *sam, const sip_alg_age_close_t *a, f64 now)
{
  sip_alg_call_t *c = sip_alg_call_at (a->thread, a->call_index);
  if (!c || c->epoch != a->epoch)
    return; /* ended otherwise, or the slot holds another record */
  sip_alg_req_t req = {
    .kind = SIP_ALG_REQ_CLOSE,
    .thread = a->thread,
    .call_index = a->call_index,
    .epoch = a->epoch,
    .media_only = a->media_only,
  };
  if (!a->media_only)
    {
      if (sip_alg_call_deadline (sam, c) > now)
	return; /* a message of it came since */
      f64 max_end = sip_alg_call_max_end (sam, c);
      if (!c->closed && max_end && max_end <= now)
	sip_alg_count (SIP_ALG_ERROR_MAX_DURATION, 1);
      sip_alg_close (vm, &req, SIP_ALG_ERROR_PINHOLE_EXPIRED);
    }
  else if (sip_alg_call_quiet (sam, c, now))
    {
      sip_alg_close (vm, &req, SIP_ALG_ERROR_PINHOLE_EXPIRED);
      sip_alg_count (SIP_ALG_ERROR_MEDIA_INACTIVE, 1);
    }
}

/* The SIP over TCP connections of a thread (del: scratch). */
static void
sip_alg_age_tcp (sip_alg_main_t *sam, sip_alg_per_thread_t *ptd, f64 now, u32 **del_v)
{
  u32 *del = *del_v;

  /* SIP over TCP connections: closed ones a little after their end (a retransmitted
     FIN or the last ACK still needs its offsets), idle ones after the call timeout */
  sip_alg_tcp_conn_t *tc;
  pool_foreach (tc, ptd->tcp_conns)
    if ((tc->stream.closing && tc->last_seen + 10 <= now) ||
	tc->last_seen + sam->timeouts.call <= now)
      vec_add1 (del, tc - ptd->tcp_conns);
  for (u32 i = 0; i < vec_len (del); i++)
    sip_alg_tcp_conn_free (ptd, pool_elt_at_index (ptd->tcp_conns, del[i]));
  vec_reset_length (del);
  *del_v = del;
}

/* Entries and calls the last scan found, not deleted yet. */
u32
sip_alg_age_backlog (void)
{
  return vec_len (sip_alg_age_expired) + vec_len (sip_alg_age_closes);
}

/*
 * Where an aging pass is: idle; scanning the server map (next: its pool index), then each
 * thread's call records and TCP connections (thread, next); deleting what the scan found.
 * A pass goes on over as many slices as it needs.
 */
enum
{
  SIP_ALG_AGE_IDLE = 0,
  SIP_ALG_AGE_ENTRIES,
  SIP_ALG_AGE_CALLS,
  SIP_ALG_AGE_DELETE,
};

static struct
{
  u8 phase;
  u32 thread;
  u32 next;
} sip_alg_age_at;

/* objects scanned between two looks at the clock */
#define SIP_ALG_AGE_STEP 32

/*
 * Aging, from the process node, one slice: with start (once a second) and no pass under
 * way, a pass begins. A slice scans the server map, then the call records and the TCP
 * connections, for what has expired (entries, calls, silent media: into the backlog), and
 * deletes the backlog, each where the last slice stopped, until budget (CPU clocks) is
 * spent. Returns whether the pass goes on (the process node calls again, without start,
 * after a pause as long as the slice).
 */
u32
sip_alg_age (vlib_main_t *vm, int start, u64 budget)
{
  sip_alg_main_t *sam = &sip_alg_main;
  typeof (sip_alg_age_at) *at = &sip_alg_age_at;
  f64 now = vlib_time_now (vm);
  u32 *del = 0;

  if (!sam->initialized)
    return 0;
  if (at->phase == SIP_ALG_AGE_IDLE)
    {
      if (!start)
	return 0;
      /* nothing to age: no barrier (the workers keep running) */
      u32 n_calls = 0;
      for (u32 t = 0; t < vec_len (sam->per_thread); t++)
	n_calls += clib_atomic_load_relax_n (&sam->per_thread[t].n_calls) +
		   clib_atomic_load_relax_n (&sam->per_thread[t].n_tcp_conns);
      if (!n_calls && !pool_elts (sam->smap))
	return 0;
      *at = (typeof (*at)){ .phase = SIP_ALG_AGE_ENTRIES };
      sam->mt.ages++;
    }

  /* the budget, and the slice's time, from the barrier taken to its release */
  vlib_worker_thread_barrier_sync (vm);
  u64 t0 = clib_cpu_time_now ();
#define SIP_ALG_AGE_OVER(i)                                                                   \
  ((i) % SIP_ALG_AGE_STEP == SIP_ALG_AGE_STEP - 1 && clib_cpu_time_now () - t0 > budget)

  if (at->phase == SIP_ALG_AGE_ENTRIES)
    {
      u32 i, n = vec_len (sam->smap);
      for (i = at->next; i < n; i++)
	{
	  if (!pool_is_free_index (sam->smap, i) &&
	      sip_alg_entry_expired (sam, pool_elt_at_index (sam->smap, i), now))
	    vec_add1 (sip_alg_age_expired, i);
	  if (SIP_ALG_AGE_OVER (i))
	    {
	      i++;
	      break;
	    }
	}
      at->next = i;
      if (i >= n)
	*at = (typeof (*at)){ .phase = SIP_ALG_AGE_CALLS };
    }
  while (at->phase == SIP_ALG_AGE_CALLS && clib_cpu_time_now () - t0 <= budget)
    {
      sip_alg_per_thread_t *ptd = &sam->per_thread[at->thread];
      u32 i, n = vec_len (ptd->calls);
      for (i = at->next; i < n; i++)
	{
	  if (!pool_is_free_index (ptd->calls, i))
	    sip_alg_age_call (sam, at->thread, pool_elt_at_index (ptd->calls, i), now);
	  if (SIP_ALG_AGE_OVER (i))
	    {
	      i++;
	      break;
	    }
	}
      at->next = i;
      if (i < n)
	break;
      sip_alg_age_tcp (sam, ptd, now, &del);
      at->next = 0;
      if (++at->thread >= vec_len (sam->per_thread))
	at->phase = SIP_ALG_AGE_DELETE;
    }
#undef SIP_ALG_AGE_OVER
  if (at->phase == SIP_ALG_AGE_DELETE)
    {
      /* the entries first, then the calls (whose own entries go with them) */
      while (vec_len (sip_alg_age_expired) && clib_cpu_time_now () - t0 <= budget)
	{
	  u32 i = vec_pop (sip_alg_age_expired);
	  /* gone since (a binding's end takes two, a call's end its own), or alive again */
	  if (!pool_is_free_index (sam->smap, i) &&
	      sip_alg_entry_expired (sam, pool_elt_at_index (sam->smap, i), now))
	    sip_alg_smap_del (vm, pool_elt_at_index (sam->smap, i),
			      SIP_ALG_ERROR_PINHOLE_EXPIRED);
	}
      while (!vec_len (sip_alg_age_expired) && vec_len (sip_alg_age_closes) &&
	     clib_cpu_time_now () - t0 <= budget)
	{
	  sip_alg_age_close_t a = vec_pop (sip_alg_age_closes);
	  sip_alg_age_close (vm, sam, &a, now);
	}
      if (!sip_alg_age_backlog ())
	at->phase = SIP_ALG_AGE_IDLE;
    }
  u64 clocks = clib_cpu_time_now () - t0;
  vlib_worker_thread_barrier_release (vm);
  sam->mt.age_slices++;
  sam->mt.age_clocks += clocks;
  sam->mt.age_max = clib_max (sam->mt.age_max, clocks);
  vec_free (del);
  return at->phase != SIP_ALG_AGE_IDLE;
}
