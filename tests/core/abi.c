/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Test support linked into the host library only: struct sizes and field offsets, so the
 * Python (ctypes) mirror of the core's types is checked against the compiler's layout.
 */

#include <stddef.h>

#include "sip_msg.h"
#include "sip_sites.h"
#include "sip_rewrite.h"
#include "sip_call.h"

#define foreach_abi_type                                                                      \
  _ (sip_hdr_t)                                                                               \
  _ (sip_msg_t)                                                                               \
  _ (sip_site_t)                                                                              \
  _ (sip_sdp_media_t)                                                                         \
  _ (sip_sdp_t)                                                                               \
  _ (sip_info_t)                                                                              \
  _ (sip_xlate_t)                                                                             \
  _ (sip_media_xlate_t)                                                                       \
  _ (sip_rewrite_cfg_t)                                                                       \
  _ (sip_edit_t)                                                                              \
  _ (sip_plan_t)                                                                              \
  _ (sip_call_fsm_t)                                                                          \
  _ (sip_call_event_t)                                                                        \
  _ (sip_call_result_t)

static const struct
{
  const char *name;
  size_t size;
} abi_sizes[] = {
#define _(t) { #t, sizeof (t) },
  foreach_abi_type
#undef _
};

/* Size of a core type by name, 0 if unknown. */
size_t
sip_core_abi_sizeof (const char *name)
{
  for (size_t i = 0; i < sizeof (abi_sizes) / sizeof (abi_sizes[0]); i++)
    {
      const char *a = abi_sizes[i].name, *b = name;
      while (*a && *a == *b)
	a++, b++;
      if (*a == 0 && *b == 0)
	return abi_sizes[i].size;
    }
  return 0;
}

size_t
sip_core_abi_offsetof_msg_content_length (void)
{
  return offsetof (sip_msg_t, content_length);
}

size_t
sip_core_abi_offsetof_info_sdp (void)
{
  return offsetof (sip_info_t, sdp);
}
