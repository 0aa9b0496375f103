/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * The media port pool: one bit per public port pair of the media range (sip_alg_main_t:
 * media_pairs), shared by all threads. Workers take pairs for the SDP they rewrite, the
 * main thread gives them back with their entries; sip_alg_set_media_ports
 * (sip_alg_config.c) lays it out.
 */

#include <vnet/vnet.h>

#include <sip_alg/sip_alg_inlines.h>

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
