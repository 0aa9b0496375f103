/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * What the ALG needs from the NAT whose translations it follows: pinholes made as static
 * mappings of UDP (ANY -> public address and port [inside address and port]), a session of
 * a phone deleted (its signaling moved to a port of its own), and on which interfaces the
 * NAT translates. The data path needs nothing of it beyond the headers the NAT wrote.
 *
 * One backend implements it: NAT44-ED (sip_alg_nat.c), through its own binary-API
 * handlers called in-process, or its CLI where those messages are not there. Another NAT or
 * session table would implement the same functions and be the one sip_alg_init sets in
 * sip_alg_main.nat. Main thread only; mapping and del_session with the barrier held.
 */

#ifndef __included_sip_alg_nat_h__
#define __included_sip_alg_nat_h__

#include <sip_alg/sip_alg.h>

typedef struct sip_alg_nat
{
  const char *name;
  /* once, when the ALG is first enabled on an interface */
  void (*init) (void);
  /* at every turn of the process node (the backend's own housekeeping) */
  void (*tick) (vlib_main_t *vm);
  /* add or delete the static mapping of a pinhole: 0, or the NAT's VNET_API_ERROR_* */
  int (*mapping) (vlib_main_t *vm, const sip_alg_pinhole_t *ph, int is_add);
  /* delete the UDP session of inside (in, in_port) in FIB in_fib with remote (peer,
     peer_port), so the endpoint's next packet takes a static mapping: 0, or an error */
  int (*del_session) (vlib_main_t *vm, ip4_address_t in, u16 in_port, u32 in_fib,
		      ip4_address_t peer, u16 peer_port);
  /* does the NAT translate outside -> inside on the interface (the gate guards it)? */
  int (*is_outside) (u32 sw_if_index);
  /* does it translate on the interface's output, where the ALG's nodes cannot see it (the
     ALG refuses such an interface)? */
  int (*output_feature) (u32 sw_if_index);
  /* `show sip-alg config`: how pinholes are made, the NAT's last refusal */
  format_function_t *format_status;
} sip_alg_nat_t;

extern const sip_alg_nat_t sip_alg_nat44_ed;

#endif /* __included_sip_alg_nat_h__ */
