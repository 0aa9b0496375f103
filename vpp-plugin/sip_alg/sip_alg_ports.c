/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * The media port pool: one bit per public address and port pair of the media range
 * (sip_alg_main_t: media_pairs, a slot of media_words words per address), shared by all
 * threads. Workers take pairs for the SDP they rewrite, the main thread gives them back
 * with their entries; sip_alg_media_pool_layout lays it out (sip_alg_set_media_ports and
 * sip_alg_set_media_addresses, sip_alg_config.c).
 */

#include <vnet/vnet.h>

#include <sip_alg/sip_alg_inlines.h>

/*
 * An even public port (RTP; RTCP is the next one) of pool slot `slot`, 0 when none is
 * left. Lock-free: a compare-and-swap on the word of the pair. Each thread moves round
 * robin from where it took the last pair, so a port just given back is not reused at once.
 */
u16
sip_alg_media_port_alloc (sip_alg_main_t *sam, sip_alg_per_thread_t *ptd, u32 slot)
{
  u32 n_words = sam->media_words;
  u32 cur = ptd->media_next < sam->n_media_pairs ? ptd->media_next : 0;

  if (PREDICT_FALSE (!n_words || (slot + 1) * n_words > vec_len (sam->media_pairs)))
    return 0; /* no range yet, or no such slot */

  u64 *words = sam->media_pairs + slot * n_words;
  /* n_words + 1 visits: the first word again, below the cursor, at the end */
  for (u32 k = 0; k <= n_words; k++)
    {
      u32 w = (cur / 64 + k) % n_words;
      u64 below = k == 0 ? (1ULL << (cur % 64)) - 1 : 0;
      u64 *wp = &words[w];
      u64 old = clib_atomic_load_relax_n (wp);
      while ((old | below) != ~0ULL)
	{
	  u32 bit = count_trailing_zeros (~(old | below));
	  if (clib_atomic_cmp_and_swap_acq_relax_n (wp, &old, old | (1ULL << bit), 0))
	    {
	      u32 pair = w * 64 + bit;
	      ptd->media_next = pair + 1;
	      return sam->limits.media_port_lo + 2 * pair;
	    }
	  /* another thread changed the word: old holds its new value, try again */
	}
    }
  return 0;
}

/*
 * A pair of one slot whose ports are not a phone's signaling pinhole on that slot's
 * address: NAT44-ED gives phones' sessions dynamic ports anywhere, the media range
 * included, and the ALG makes them pinholes. A pair passed over goes back after a few
 * tries; should the pair still clash (a pinhole made meanwhile), the main thread finds it
 * (sip_alg_smap_add). 0: none left.
 */
static u16
sip_alg_media_pair_of (sip_alg_main_t *sam, sip_alg_per_thread_t *ptd, u32 slot,
		       ip4_address_t pub)
{
  u16 skipped[4], port;
  u32 n = 0;
  while ((port = sip_alg_media_port_alloc (sam, ptd, slot)) && n < ARRAY_LEN (skipped) &&
	 (sip_alg_is_sig_endpoint (sam, pub, clib_host_to_net_u16 (port)) ||
	  sip_alg_is_sig_endpoint (sam, pub, clib_host_to_net_u16 (port + 1))))
    skipped[n++] = port;
  for (u32 i = 0; i < n; i++)
    sip_alg_media_port_free (sam, slot, skipped[i]);
  return port;
}

/*
 * A media port pair for a call whose signaling leaves by public address sig_pub. *slot:
 * the pool slot to take it from (a call's streams are all on one address: the slot of the
 * ones it has), or SIP_ALG_MEDIA_SLOT_ANY for a call with none: without media addresses
 * slot 0 (sig_pub), with them the address after the one this thread's last call took,
 * then the next while one is used up. *slot gets the slot taken. 0: none left.
 */
u16
sip_alg_media_pair (sip_alg_main_t *sam, sip_alg_per_thread_t *ptd, u8 *slot,
		    ip4_address_t sig_pub)
{
  u32 n = sam->media.n_addrs;
  if (*slot != SIP_ALG_MEDIA_SLOT_ANY)
    return sip_alg_media_pair_of (sam, ptd, *slot,
				  sip_alg_media_slot_addr (sam, *slot, sig_pub));
  if (!n)
    {
      *slot = 0;
      return sip_alg_media_pair_of (sam, ptd, 0, sig_pub);
    }
  for (u32 k = 0; k < n; k++)
    {
      u32 s = 1 + (ptd->media_slot_next + k) % n;
      u16 port = sip_alg_media_pair_of (sam, ptd, s, sam->media.addrs[s - 1]);
      if (port)
	{
	  ptd->media_slot_next = s % n; /* the next call: the next address */
	  *slot = s;
	  return port;
	}
    }
  return 0;
}

void
sip_alg_media_port_free (sip_alg_main_t *sam, u32 slot, u16 pub_port)
{
  if (pub_port < sam->limits.media_port_lo || pub_port > sam->limits.media_port_hi)
    return;
  u32 pair = (pub_port - sam->limits.media_port_lo) / 2;
  if (pair >= sam->n_media_pairs || (slot + 1) * sam->media_words > vec_len (sam->media_pairs))
    return;
  clib_atomic_fetch_and (&sam->media_pairs[slot * sam->media_words + pair / 64],
			 ~(1ULL << (pair % 64)));
}

/* Pairs taken in pool slot `slot`. */
u32
sip_alg_media_slot_in_use (sip_alg_main_t *sam, u32 slot)
{
  u32 n = 0, n_words = sam->media_words;
  if ((slot + 1) * n_words > vec_len (sam->media_pairs))
    return 0;
  u64 *words = sam->media_pairs + slot * n_words;
  for (u32 w = 0; w < n_words; w++)
    n += count_set_bits (clib_atomic_load_relax_n (&words[w]));
  if (sam->n_media_pairs % 64)
    n -= 64 - sam->n_media_pairs % 64; /* the bits past the range */
  return n;
}

/* Pairs taken in the whole pool, every address. */
u32
sip_alg_media_ports_in_use (sip_alg_main_t *sam)
{
  u32 n = 0;
  for (u32 s = 0; sam->media_words && s < vec_len (sam->media_pairs) / sam->media_words; s++)
    n += sip_alg_media_slot_in_use (sam, s);
  return n;
}

/*
 * Lay the pool out for the range lo..hi (lo even) and n_addrs media addresses: 1 + n_addrs
 * slots (sip_alg_main_t.media_pairs), all free. Barrier held, no pair in use.
 */
int
sip_alg_media_pool_layout (sip_alg_main_t *sam, u16 lo, u16 hi, u32 n_addrs)
{
  u32 n_pairs = ((u32) hi - lo + 1) / 2;
  u32 n_words = (n_pairs + 63) / 64;
  u32 n_slots = 1 + n_addrs;
  vec_free (sam->media_pairs);
  vec_validate_init_empty_aligned (sam->media_pairs, n_slots * n_words - 1, 0,
				   CLIB_CACHE_LINE_BYTES);
  if (n_pairs % 64)
    for (u32 s = 0; s < n_slots; s++)
      sam->media_pairs[s * n_words + n_words - 1] = ~0ULL << (n_pairs % 64); /* past it */
  sam->n_media_pairs = n_pairs;
  sam->media_words = n_words;
  sam->limits.media_port_lo = lo;
  sam->limits.media_port_hi = hi;
  /* threads start their search at different places of the range, and addresses */
  for (u32 i = 0; i < vec_len (sam->per_thread); i++)
    {
      sam->per_thread[i].media_next = (u64) n_pairs * i / vec_len (sam->per_thread);
      sam->per_thread[i].media_slot_next = n_addrs ? i % n_addrs : 0;
    }
  return 0;
}
