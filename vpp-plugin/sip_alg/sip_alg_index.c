/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * The server map's index (sip_alg.h, SIP_ALG_IX_*): the main thread's side. Linear probing
 * with deletion by backward shift (no tombstones), grown to twice its slots above 3/4
 * full and halved below 1/8, so a key costs 4 bytes over 1.3-2.7 slots whatever the
 * number of entries. A slot's key is read from its entry, so an entry leaves the index
 * before it is freed and its keyed fields never change while it is in. Main thread, the
 * barrier held (workers read the index and the entries without locks).
 */

#include <vnet/vnet.h>

#include <sip_alg/sip_alg_inlines.h>

static_always_inline u32
sip_alg_ix_slot_hash (sip_alg_main_t *sam, u32 slot)
{
  return sip_alg_ix_hash (sip_alg_ix_entry_key (sip_alg_ix_entry (sam, slot), slot & 3));
}

static void
sip_alg_ix_put (u32 *ix, u32 slot, u32 h)
{
  u32 mask = vec_len (ix) - 1;
  for (u32 i = h;; i++)
    if (!ix[i & mask])
      {
	ix[i & mask] = slot;
	return;
      }
}

static void
sip_alg_ix_resize (sip_alg_main_t *sam, u32 n_slots)
{
  u32 *old = sam->ix, *ix = 0;
  vec_validate (ix, n_slots - 1); /* a new vector: exactly n_slots, zeroed */
  for (u32 i = 0; i < vec_len (old); i++)
    if (old[i])
      sip_alg_ix_put (ix, old[i], sip_alg_ix_slot_hash (sam, old[i]));
  sam->ix = ix;
  vec_free (old);
}

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
  if ((sam->ix_n + 1) * 4 > vec_len (sam->ix) * 3)
    sip_alg_ix_resize (sam, vec_len (sam->ix) * 2);
  u32 slot = (entry + 1) << 8 | kind;
  u32 h = sip_alg_ix_slot_hash (sam, slot);
  sip_alg_ix_put (sam->ix, slot | (h >> 26) << 2, h);
  sam->ix_n++;
}

/* Entry `entry` no longer under its key of `kind`. Returns 1, 0 when it was not. */
int
sip_alg_ix_del (sip_alg_main_t *sam, u32 entry, u32 kind)
{
  u32 *ix = sam->ix, mask = vec_len (ix) - 1;
  u32 slot = (entry + 1) << 8 | kind;
  u32 h = sip_alg_ix_slot_hash (sam, slot), hole = h & mask;

  slot |= (h >> 26) << 2;
  for (; ix[hole] != slot; hole = (hole + 1) & mask)
    if (!ix[hole])
      return 0;
  /* the slots after it that may move back to the hole do (their home is not between) */
  for (u32 j = (hole + 1) & mask; ix[j]; j = (j + 1) & mask)
    {
      u32 home = sip_alg_ix_slot_hash (sam, ix[j]) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask))
	{
	  ix[hole] = ix[j];
	  hole = j;
	}
    }
  ix[hole] = 0;
  sam->ix_n--;
  if (vec_len (ix) > SIP_ALG_IX_MIN && sam->ix_n * 8 < vec_len (ix))
    sip_alg_ix_resize (sam, vec_len (ix) / 2);
  return 1;
}

/*
 * The Call-ID index of a worker (sip_alg_per_thread_t.call_ix): the same open addressing,
 * a slot (call index + 1) << 6 | tag naming a record whose key is compared. The worker
 * adds (a new record), the main thread deletes (the record freed, the barrier held).
 */
static_always_inline u32
sip_alg_call_ix_hash (const u8 *key, u32 len)
{
  return (u32) hash_memory ((void *) key, len, 0);
}

static_always_inline u32
sip_alg_call_ix_slot_hash (sip_alg_per_thread_t *ptd, u32 slot)
{
  sip_alg_call_t *c = ptd->calls + (slot >> 6) - 1;
  return sip_alg_call_ix_hash (c->call_id, vec_len (c->call_id));
}

static void
sip_alg_call_ix_resize (sip_alg_per_thread_t *ptd, u32 n_slots)
{
  u32 *old = ptd->call_ix, *ix = 0;
  vec_validate (ix, n_slots - 1);
  for (u32 i = 0; i < vec_len (old); i++)
    if (old[i])
      sip_alg_ix_put (ix, old[i], sip_alg_call_ix_slot_hash (ptd, old[i]));
  ptd->call_ix = ix;
  vec_free (old);
}

u32
sip_alg_call_ix_find (sip_alg_per_thread_t *ptd, const u8 *key, u32 len)
{
  u32 *ix = ptd->call_ix, mask = vec_len (ix) - 1;
  u32 h = sip_alg_call_ix_hash (key, len), tag = h >> 26;
  if (PREDICT_FALSE (!ix))
    return ~0;
  for (u32 i = h;; i++)
    {
      u32 s = ix[i & mask];
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
  if ((ptd->call_ix_n + 1) * 4 > vec_len (ptd->call_ix) * 3)
    sip_alg_call_ix_resize (ptd, vec_len (ptd->call_ix) * 2);
  u32 slot = (call_index + 1) << 6;
  u32 h = sip_alg_call_ix_slot_hash (ptd, slot);
  sip_alg_ix_put (ptd->call_ix, slot | h >> 26, h);
  ptd->call_ix_n++;
}

void
sip_alg_call_ix_del (sip_alg_per_thread_t *ptd, u32 call_index)
{
  u32 *ix = ptd->call_ix, mask = vec_len (ix) - 1;
  u32 slot = (call_index + 1) << 6;
  u32 h = sip_alg_call_ix_slot_hash (ptd, slot), hole = h & mask;

  slot |= h >> 26;
  for (; ix[hole] != slot; hole = (hole + 1) & mask)
    if (!ix[hole])
      return;
  for (u32 j = (hole + 1) & mask; ix[j]; j = (j + 1) & mask)
    {
      u32 home = sip_alg_call_ix_slot_hash (ptd, ix[j]) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask))
	{
	  ix[hole] = ix[j];
	  hole = j;
	}
    }
  ix[hole] = 0;
  ptd->call_ix_n--;
  if (vec_len (ix) > SIP_ALG_IX_MIN && ptd->call_ix_n * 8 < vec_len (ix))
    sip_alg_call_ix_resize (ptd, vec_len (ix) / 2);
}
