/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * The reference check of the rewriter, shared by the C robustness driver (test_core.c) and
 * the fuzz target (tests/fuzz/fuzz_core.c): out[0..out_len) must be in[0..len) with exactly
 * the plan's edits applied, nothing more.
 */
#ifndef __included_plan_check_h__
#define __included_plan_check_h__

#include <string.h>

#include "sip_rewrite.h"

/* NULL when out is in with the plan applied, else what differs (*edit: the edit, or -1). */
static const char *
plan_check_applied (const uint8_t *in, uint32_t len, const sip_plan_t *plan, const uint8_t *out,
		    uint32_t out_len, int *edit)
{
  uint32_t ip = 0, op = 0;
  *edit = -1;
  for (int i = 0; i < plan->n_edits; i++)
    {
      const sip_edit_t *e = &plan->edits[i];
      uint32_t keep = e->off - ip;
      *edit = i;
      if (op + keep + e->new_len > out_len)
	return "output too short";
      if (memcmp (out + op, in + ip, keep))
	return "bytes before the edit differ";
      op += keep;
      if (memcmp (out + op, e->text, e->new_len))
	return "edit not applied";
      op += e->new_len;
      ip = (uint32_t) e->off + e->old_len;
    }
  *edit = -1;
  if (op + (len - ip) != out_len)
    return "output length differs";
  if (memcmp (out + op, in + ip, len - ip))
    return "bytes after the last edit differ";
  return 0;
}

#endif /* __included_plan_check_h__ */
