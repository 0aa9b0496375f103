/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * The plugin's two indexes of 32-bit slots: the server map's (sip_alg.h, SIP_ALG_IX_*; main
 * thread, the barrier held, workers read it and the entries without locks) and each
 * worker's Call-ID index (sip_alg_per_thread_t.call_ix: the worker adds, the main thread
 * deletes with the barrier held). Linear probing with deletion by backward shift (no
 * tombstones); a table grows by half above 3/4 full and shrinks by a third below 1/8, so a
 * key costs 4 bytes over 1.3-2 slots whatever the number of entries. A slot's key is read
 * from what it names (an entry, a record), so that leaves the index before it is freed,
 * and its keyed fields never change while it is in.
 */

#include <vnet/vnet.h>

#include <sip_alg/sip_alg_inlines.h>

/* The hash of what a slot names, and how to tell its tag (the slot's low bits). */
typedef u32 (sip_alg_slot_hash_t) (void *ctx, u32 slot);
/* A prefetch of what a slot names (its key's fields). */
typedef void (sip_alg_slot_prefetch_t) (void *ctx, u32 slot);

/* One index's kind: its slots' hash, their prefetch (or 0), and whether its resizes are
 * timed in sip_alg_main.mt (the server map's: main thread, the barrier held). */
typedef struct
{
  sip_alg_slot_hash_t *hash;
  sip_alg_slot_prefetch_t *prefetch;
  int timed;
} sip_alg_ix_kind_t;

static_always_inline u32
sip_alg_ix_wrap (u32 i, u32 n)
{
  return i == n ? 0 : i;
}

static void
sip_alg_ix_put (u32 *ix, u32 slot, u32 h)
{
  u32 n = vec_len (ix);
  for (u32 i = sip_alg_ix_home (h, n);; i = sip_alg_ix_wrap (i + 1, n))
    if (!ix[i])
      {
	ix[i] = slot;
	return;
      }
}

/*
 * The table *ixp with n_slots slots, every slot placed again, the barrier held: with
 * 300,000 entries a plain loop took ~20 ms, most of it waiting for memory (each slot's entry
 * read for its key, at random across the pool, then a random slot of the new table). So it
 * is a pipeline: slot i is placed, slot i + AHEAD's hash taken (its entry prefetched AHEAD
 * slots earlier) and its new home prefetched, slot i + 2 AHEAD's entry prefetched.
 */
#define SIP_ALG_IX_AHEAD 16 /* a power of 2 */

static void
sip_alg_ix_resize (u32 **ixp, u32 n_slots, const sip_alg_ix_kind_t *kind, void *ctx)
{
  sip_alg_slot_hash_t *hash = kind->hash;
  sip_alg_slot_prefetch_t *prefetch = kind->prefetch;
  const u32 d = SIP_ALG_IX_AHEAD;
  u32 *old = *ixp, *ix = 0, n_old = vec_len (old);
  u32 h[SIP_ALG_IX_AHEAD]; /* the hashes of slots i .. i + d - 1, at their index mod d */

  vec_validate (ix, n_slots - 1); /* a new vector: exactly n_slots, zeroed */
  for (u32 j = 0; j < n_old && j < 2 * d; j++)
    if (old[j] && j < d)
      h[j] = hash (ctx, old[j]);
    else if (old[j] && prefetch)
      prefetch (ctx, old[j]);
  for (u32 i = 0; i < n_old; i++)
    {
      u32 j = i + d, k = i + 2 * d;
      if (old[i])
	sip_alg_ix_put (ix, old[i], h[i & (d - 1)]);
      if (j < n_old && old[j])
	{
	  h[j & (d - 1)] = hash (ctx, old[j]);
	  CLIB_PREFETCH (ix + sip_alg_ix_home (h[j & (d - 1)], n_slots), sizeof (u32), STORE);
	}
      if (prefetch && k < n_old && old[k])
	prefetch (ctx, old[k]);
    }
  *ixp = ix;
  vec_free (old);
}

/*
 * The table *ixp with n_slots slots; for a timed kind (the server map's index: the barrier
 * held, every entry's key read again) its time is counted (show sip-alg main-thread).
 */
static void
sip_alg_ix_resize_timed (u32 **ixp, u32 n_slots, const sip_alg_ix_kind_t *kind, void *ctx)
{
  if (!kind->timed)
    {
      sip_alg_ix_resize (ixp, n_slots, kind, ctx);
      return;
    }
  sip_alg_main_t *sam = &sip_alg_main;
  u64 t0 = clib_cpu_time_now ();
  sip_alg_ix_resize (ixp, n_slots, kind, ctx);
  u64 dt = clib_cpu_time_now () - t0;
  sam->mt.ix_resizes++;
  sam->mt.ix_resize_clocks += dt;
  sam->mt.ix_resize_max = clib_max (sam->mt.ix_resize_max, dt);
}

/* Room for one more slot in *ixp holding *n_used. */
static void
sip_alg_ix_room (u32 **ixp, u32 n_used, const sip_alg_ix_kind_t *kind, void *ctx)
{
  u32 n = vec_len (*ixp);
  if ((n_used + 1) * 4 > n * 3)
    sip_alg_ix_resize_timed (ixp, n + n / 2, kind, ctx);
}

/* Slot `slot` (whose hash is h) out of *ixp. Returns 1, 0 when it was not there. */
static int
sip_alg_ix_remove (u32 **ixp, u32 *n_used, u32 slot, u32 h, const sip_alg_ix_kind_t *kind,
		   void *ctx)
{
  u32 *ix = *ixp, n = vec_len (ix);
  u32 hole = sip_alg_ix_home (h, n);

  for (; ix[hole] != slot; hole = sip_alg_ix_wrap (hole + 1, n))
    if (!ix[hole])
      return 0;
  /* the slots after it that may move back to the hole do (their home is not between) */
  for (u32 j = sip_alg_ix_wrap (hole + 1, n); ix[j]; j = sip_alg_ix_wrap (j + 1, n))
    {
      u32 home = sip_alg_ix_home (kind->hash (ctx, ix[j]), n);
      if ((j + n - home) % n >= (j + n - hole) % n)
	{
	  ix[hole] = ix[j];
	  hole = j;
	}
    }
  ix[hole] = 0;
  (*n_used)--;
  if (n > SIP_ALG_IX_MIN && *n_used * 8 < n)
    sip_alg_ix_resize_timed (ixp, clib_max (SIP_ALG_IX_MIN, n * 2 / 3), kind, ctx);
  return 1;
}

/* --- the server map's index --------------------------------------------------------------- */

static u32
sip_alg_ix_slot_hash (void *ctx, u32 slot)
{
  sip_alg_main_t *sam = ctx;
  return sip_alg_ix_hash (sip_alg_ix_entry_key (sip_alg_ix_entry (sam, slot), slot & 3));
}

/* the fields of an entry's keys: its pinhole's first 24 bytes (addresses, ports, in_fib) */
static void
sip_alg_ix_slot_prefetch (void *ctx, u32 slot)
{
  sip_alg_main_t *sam = ctx;
  sip_alg_smap_t *e = sip_alg_ix_entry (sam, slot);
  CLIB_PREFETCH (&e->ph, STRUCT_OFFSET_OF (sip_alg_pinhole_t, out_fib), LOAD);
}

static const sip_alg_ix_kind_t sip_alg_ix_kind = {
  .hash = sip_alg_ix_slot_hash,
  .prefetch = sip_alg_ix_slot_prefetch,
  .timed = 1,
};

void
sip_alg_ix_init (sip_alg_main_t *sam)
{
  sam->ix_n = 0;
  vec_free (sam->ix);
  vec_validate (sam->ix, SIP_ALG_IX_MIN - 1);
}

/* Entry `entry` under its key of `kind`. */
void
sip_alg_ix_add (sip_alg_main_t *sam, u32 entry, u32 kind)
{
  ASSERT (entry <= SIP_ALG_IX_MAX_ENTRY);
  sip_alg_ix_room (&sam->ix, sam->ix_n, &sip_alg_ix_kind, sam);
  u32 slot = (entry + 1) << 8 | kind;
  u32 h = sip_alg_ix_slot_hash (sam, slot);
  sip_alg_ix_put (sam->ix, slot | (h & 63) << 2, h);
  sam->ix_n++;
}

/* Entry `entry` no longer under its key of `kind`. Returns 1, 0 when it was not. */
int
sip_alg_ix_del (sip_alg_main_t *sam, u32 entry, u32 kind)
{
  u32 slot = (entry + 1) << 8 | kind;
  u32 h = sip_alg_ix_slot_hash (sam, slot);
  return sip_alg_ix_remove (&sam->ix, &sam->ix_n, slot | (h & 63) << 2, h, &sip_alg_ix_kind,
			    sam);
}

/* --- pools that grow with calls ---------------------------------------------------------- */

/*
 * Pool *pp, full, with room for an eighth more elements (at least 256): a new allocation of
 * exactly that many, the elements and the free lists moved into it (as pool_dup copies a
 * pool). VPP's growth (_vec_realloc_internal) allocates half again what it needs, so up to
 * a third of a large pool would lie unused. The copy is what any growth costs.
 */
void
sip_alg_pool_grow (void **pp, uword elt_sz, uword align)
{
  void *old = *pp;
  uword len = vec_len (old);
  const vec_attr_t va = { .hdr_sz = sizeof (pool_header_t), .elt_sz = elt_sz, .align = align };
  void *n = _vec_alloc_internal (len + clib_max (len / 8, 256), &va);
  pool_header_t *nph = pool_header (n);

  clib_memset_u8 (nph, 0, sizeof (pool_header_t));
  if (old)
    {
      pool_header_t *ph = pool_header (old);
      u32 *fi;
      vec_foreach (fi, ph->free_indices)
	clib_mem_unpoison (old + elt_sz * fi[0], elt_sz);
      clib_memcpy_fast (n, old, len * elt_sz);
      vec_foreach (fi, ph->free_indices)
	clib_mem_poison (n + elt_sz * fi[0], elt_sz);
      nph->free_bitmap = ph->free_bitmap;
      nph->free_indices = ph->free_indices;
      ph->free_bitmap = 0;
      ph->free_indices = 0;
      pool_free (old);
    }
  _vec_set_len (n, len, elt_sz);
  *pp = n;
}

/*
 * Vector *vp at least n long (new elements zeroed), with room for an eighth more: an exact
 * allocation, as sip_alg_pool_grow (the per-thread records of server-map entries).
 */
void
sip_alg_vec_grow (void **vp, uword n, uword elt_sz, uword align)
{
  void *old = *vp;
  uword len = vec_len (old);
  const vec_attr_t va = { .elt_sz = elt_sz, .align = align };
  void *v = _vec_alloc_internal (n + n / 8, &va); /* zeroed */
  if (len)
    clib_memcpy_fast (v, old, len * elt_sz);
  _vec_set_len (v, n, elt_sz);
  vec_free (old);
  *vp = v;
}

/* --- a worker's Call-ID index ------------------------------------------------------------- */

static_always_inline u32
sip_alg_call_ix_hash (const u8 *key, u32 len)
{
  return (u32) hash_memory ((void *) key, len, 0);
}

static u32
sip_alg_call_ix_slot_hash (void *ctx, u32 slot)
{
  sip_alg_per_thread_t *ptd = ctx;
  sip_alg_call_t *c = ptd->calls + (slot >> 6) - 1;
  return sip_alg_call_ix_hash (c->call_id, vec_len (c->call_id));
}

/* a worker's Call-ID index: resized on the worker (adds) or the main thread (deletes) */
static const sip_alg_ix_kind_t sip_alg_call_ix_kind = {
  .hash = sip_alg_call_ix_slot_hash,
};

u32
sip_alg_call_ix_find (sip_alg_per_thread_t *ptd, const u8 *key, u32 len)
{
  u32 *ix = ptd->call_ix, n = vec_len (ix);
  u32 h = sip_alg_call_ix_hash (key, len), tag = h & 63;
  if (PREDICT_FALSE (!n))
    return ~0;
  for (u32 i = sip_alg_ix_home (h, n);; i = sip_alg_ix_wrap (i + 1, n))
    {
      u32 s = ix[i];
      if (!s)
	return ~0;
      if ((s & 63) != tag)
	continue;
      sip_alg_call_t *c = ptd->calls + (s >> 6) - 1;
      if (vec_len (c->call_id) == len && !memcmp (c->call_id, key, len))
	return (s >> 6) - 1;
    }
}

void
sip_alg_call_ix_add (sip_alg_per_thread_t *ptd, u32 call_index)
{
  ASSERT (call_index <= SIP_ALG_CALL_IX_MAX);
  if (!ptd->call_ix)
    vec_validate (ptd->call_ix, SIP_ALG_IX_MIN - 1);
  sip_alg_ix_room (&ptd->call_ix, ptd->call_ix_n, &sip_alg_call_ix_kind, ptd);
  u32 slot = (call_index + 1) << 6;
  u32 h = sip_alg_call_ix_slot_hash (ptd, slot);
  sip_alg_ix_put (ptd->call_ix, slot | (h & 63), h);
  ptd->call_ix_n++;
}

void
sip_alg_call_ix_del (sip_alg_per_thread_t *ptd, u32 call_index)
{
  u32 slot = (call_index + 1) << 6;
  u32 h = sip_alg_call_ix_slot_hash (ptd, slot);
  sip_alg_ix_remove (&ptd->call_ix, &ptd->call_ix_n, slot | (h & 63), h, &sip_alg_call_ix_kind,
		     ptd);
}
