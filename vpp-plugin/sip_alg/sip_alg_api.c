/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Binary API handlers: convert and validate, then call the core functions.
 */

#include <vnet/vnet.h>
#include <vlibmemory/api.h>
#include <vnet/plugin/plugin.h>

#include <sip_alg/sip_alg.h>
#include <sip_alg/sip_alg.api_enum.h>
#include <sip_alg/sip_alg.api_types.h>

#define REPLY_MSG_ID_BASE sip_alg_main.msg_id_base
#include <vlibapi/api_helper_macros.h>

static void
vl_api_sip_alg_interface_enable_disable_t_handler (
  vl_api_sip_alg_interface_enable_disable_t *mp)
{
  vl_api_sip_alg_interface_enable_disable_reply_t *rmp;
  int rv;

  VALIDATE_SW_IF_INDEX_END (mp);
  rv = sip_alg_interface_enable_disable (mp->sw_if_index, mp->enable);
  BAD_SW_IF_INDEX_LABEL;
  REPLY_MACRO_END (VL_API_SIP_ALG_INTERFACE_ENABLE_DISABLE_REPLY);
}

#include <sip_alg/sip_alg.api.c>

static clib_error_t *
sip_alg_api_init (vlib_main_t *vm)
{
  sip_alg_main.msg_id_base = setup_message_id_table ();
  return 0;
}

VLIB_INIT_FUNCTION (sip_alg_api_init);
