/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * libFuzzer target on the core: parser (datagram and stream), site finder and SDP decoder,
 * rewrite planner and applier, call FSM. Built with ASan+UBSan; the output buffer is
 * malloc'ed at exactly the planned size, not a byte more, so a write past it is reported;
 * one byte less must be refused with nothing written. Invariants that must hold for any
 * input abort the run.
 */

#include <stdlib.h>
#include <string.h>

#include "sip_msg.h"
#include "sip_sites.h"
#include "sip_rewrite.h"
#include "sip_call.h"
#include "../core/plan_check.h"

#define REQUIRE(c)                                                                            \
  do                                                                                          \
    {                                                                                         \
      if (!(c))                                                                               \
	__builtin_trap ();                                                                    \
    }                                                                                         \
  while (0)

/* out[0..out_len) is in[0..len) with exactly the plan's edits applied. */
static void
require_applied (const uint8_t *in, uint32_t len, const sip_plan_t *plan, const uint8_t *out,
		 uint32_t out_len)
{
  int edit;
  REQUIRE (!plan_check_applied (in, len, plan, out, out_len, &edit));
}

static void
fuzz_rewrite (const uint8_t *data, const sip_msg_t *m, const sip_info_t *info, uint8_t knob)
{
  sip_xlate_t xl[2];
  sip_media_xlate_t mx[SIP_SDP_MAX_MEDIA];
  sip_edit_t edits[64];
  sip_plan_t plan;
  uint32_t n_xl = 0, out_len;

  for (int i = 0; i < info->n_sites && !n_xl; i++)
    if (info->sites[i].host_type == SIP_HOST_IP4)
      {
	/* knob picks growth (long public address, 5-digit port) or shrink (short) */
	uint32_t to = (knob & 1) ? 0xcb00710a : 0x01010101;
	xl[0] = (sip_xlate_t){ info->sites[i].ip4, to, info->sites[i].value,
			       (uint16_t) ((knob & 2) ? 65535 : 1) };
	xl[1] = (sip_xlate_t){ info->sites[i].ip4, to, 0, 7 };
	n_xl = 2;
      }
  for (int i = 0; i < SIP_SDP_MAX_MEDIA; i++)
    mx[i] = (sip_media_xlate_t){ (uint16_t) ((knob & 4) ? 65000 + i : 9),
				 (uint16_t) ((knob & 4) ? 65100 + i : 8) };
  sip_rewrite_cfg_t cfg = { .xlate = xl, .n_xlate = n_xl, .media = mx,
			    .n_media = SIP_SDP_MAX_MEDIA, .site_mask = SIP_SITE_MASK_ALL };
  if (sip_rewrite_plan (data, m, info, &cfg, &plan, edits, 64) != SIP_OK)
    return;
  int64_t need = (int64_t) m->msg_len + plan.delta;
  REQUIRE (need >= 0);
  /* exactly need bytes (ASan gives malloc (0) a zero-byte region): any write past is caught */
  uint8_t *out = malloc ((size_t) need);
  REQUIRE (out);
  memset (out, 0xa5, (size_t) need);
  if (need > 0)
    {
      REQUIRE (sip_rewrite_apply (data, m->msg_len, &plan, out, (uint32_t) need - 1, &out_len) ==
	       SIP_ERR_NO_SPACE);
      for (int64_t i = 0; i < need; i++)
	REQUIRE (out[i] == 0xa5); /* refused: nothing written */
    }
  REQUIRE (sip_rewrite_apply (data, m->msg_len, &plan, out, (uint32_t) need, &out_len) ==
	   SIP_OK);
  REQUIRE (out_len == (uint32_t) need);
  require_applied (data, m->msg_len, &plan, out, out_len);
  free (out);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  sip_hdr_t hdrs[64];
  sip_site_t sites[64];
  sip_msg_t m;
  sip_info_t info;

  if (size > SIP_MAX_MSG_LEN + 16)
    return 0;
  /* the input is the message itself; a copy of exactly its size so ASan sees any over-read
   * (of an empty input too: malloc (0) is a zero-byte region) */
  uint8_t *buf = malloc (size);
  REQUIRE (buf);
  if (size)
    memcpy (buf, data, size);

  for (int mode = 0; mode < 2; mode++)
    {
      sip_result_t r = sip_msg_parse (buf, (uint32_t) size, (sip_parse_mode_t) mode, &m, hdrs, 64);
      if (r != SIP_OK)
	{
	  REQUIRE (r < SIP_N_RESULTS);
	  continue;
	}
      REQUIRE (m.msg_len <= size && m.body_off + m.body_len == m.msg_len);
      r = sip_sites_find (buf, &m, &info, sites, 64);
      REQUIRE (r < SIP_N_RESULTS);
      if (r != SIP_OK)
	continue;
      for (int i = 0; i < info.n_sites; i++)
	REQUIRE (sites[i].host.off + sites[i].host.len <= m.msg_len &&
		 sites[i].port.off + sites[i].port.len <= m.msg_len);
      fuzz_rewrite (buf, &m, &info, size ? data[size / 2] : 0);

      sip_call_fsm_t f = { 0 };
      sip_call_event_t ev;
      sip_call_event_from_msg (&m, info.body_kind == SIP_BODY_SDP, info.contact_expires, &ev);
      sip_call_step (&f, &ev, &f);
      REQUIRE (f.state < SIP_CALL_N_STATES);
    }
  free (buf);
  return 0;
}
