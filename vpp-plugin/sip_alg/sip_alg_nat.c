/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * The NAT44-ED backend of the ALG's NAT interface (sip_alg_nat.h).
 */

#include <unistd.h>

#include <vnet/vnet.h>
#include <vnet/feature/feature.h>
#include <vlibapi/api.h>
#include <vlibmemory/api.h>
#include <nat/nat44-ed/nat44_ed.api_types.h>

#include <sip_alg/sip_alg_nat.h>

/* NAT44-ED's API as this backend uses it (main thread only) */
typedef struct
{
  u32 nat_msg_id;	/* nat44_add_del_static_mapping_v2, ~0: not there, CLI instead */
  u32 nat_reply_id;	/* ... and its reply */
  u32 nat_del_msg_id;	/* nat44_del_session, ~0: not there, CLI instead */
  u32 nat_del_reply_id; /* ... and its reply */
  u32 nat_client;	/* the internal API registration its replies go to */
  struct _svm_queue *nat_q;
  u32 nat_context;
  i32 nat_last_error;
} sip_alg_nat44_ed_t;

static sip_alg_nat44_ed_t sip_alg_nat44_ed_main = {
  .nat_msg_id = ~0,
  .nat_del_msg_id = ~0,
};

/* NAT44-ED's features on an interface where it translates out2in (outside, or in+out) */
static const char *sip_alg_nat_outside_features[] = {
  "nat-pre-out2in",
  "nat44-out2in-worker-handoff",
  "nat44-ed-classify",
  "nat44-handoff-classify",
};

/*
 * Pinholes are NAT44-ED static mappings, made by NAT's own binary-API handler for
 * nat44_add_del_static_mapping_v2, called in-process with a typed message: its functions
 * (nat44_ed_add_static_mapping and _del_) are not exported from nat_plugin.so, but its API
 * is, with a CRC that pins the message layout this plugin was built against. The reply
 * (NAT's own error code) comes back on a private queue of an internal API registration.
 * When the message is not there (a NAT plugin with another API), the CLI is the fallback.
 */
/*
 * The ids of a NAT44-ED message (name_crc) and its reply: *msg_id ~0 when either is not
 * there or the message has no handler.
 */
static void
sip_alg_nat_msg_ids (const char *name_crc, const char *reply_crc, u32 *msg_id, u32 *reply_id)
{
  *msg_id = vl_msg_api_get_msg_index ((u8 *) name_crc);
  *reply_id = vl_msg_api_get_msg_index ((u8 *) reply_crc);
  if (*msg_id == (u32) ~0 || *reply_id == (u32) ~0 ||
      !vl_api_get_msg_data (vlibapi_get_main (), *msg_id)->handler)
    *msg_id = ~0;
}

static void
sip_alg_nat_api_init (void)
{
  sip_alg_nat44_ed_t *nm = &sip_alg_nat44_ed_main;
  sip_alg_nat_msg_ids (VL_API_NAT44_ADD_DEL_STATIC_MAPPING_V2_CRC,
		       VL_API_NAT44_ADD_DEL_STATIC_MAPPING_V2_REPLY_CRC, &nm->nat_msg_id,
		       &nm->nat_reply_id);
  if (nm->nat_msg_id == (u32) ~0)
    {
      nm->nat_del_msg_id = ~0;
      clib_warning ("sip-alg: NAT44-ED has no %s: pinholes through the NAT CLI",
		    VL_API_NAT44_ADD_DEL_STATIC_MAPPING_V2_CRC);
      return;
    }
  sip_alg_nat_msg_ids (VL_API_NAT44_DEL_SESSION_CRC, VL_API_NAT44_DEL_SESSION_REPLY_CRC,
		       &nm->nat_del_msg_id, &nm->nat_del_reply_id);
  nm->nat_q = svm_queue_alloc_and_init (SIP_ALG_NAT_Q_LEN, sizeof (uword), getpid ());
  nm->nat_client = vl_api_memclnt_create_internal ("sip-alg", nm->nat_q);
}

/*
 * Empty the registration's queue: NAT's reply to the message with `context` gives *rv;
 * anything else (the API's keepalives to a quiet client) is freed. A reply's send waits
 * while the queue is full, so nothing may stay in it.
 */
static void
sip_alg_nat_api_drain (sip_alg_nat44_ed_t *nm, u32 context, int *rv)
{
  uword msg;
  while (!svm_queue_sub (nm->nat_q, (u8 *) &msg, SVM_Q_NOWAIT, 0))
    {
      vl_api_nat44_add_del_static_mapping_v2_reply_t *r = (void *) msg;
      /* the sender poisoned it once queued (AddressSanitizer builds); receivers unpoison */
      VL_MSG_API_UNPOISON (r);
      u16 id = clib_net_to_host_u16 (r->_vl_msg_id);
      /* both replies are autoreplies: the same layout */
      if (rv && (id == nm->nat_reply_id || id == nm->nat_del_reply_id) &&
	  r->context == context)
	*rv = (i32) clib_net_to_host_u32 (r->retval);
      vl_msg_api_free (r);
    }
}

/*
 * Keep the internal client heard from (the API's dead-client scan pings a client silent
 * for 10 s), and its queue empty. Main thread, from the process node.
 */
static void
sip_alg_nat_api_tick (vlib_main_t *vm)
{
  sip_alg_nat44_ed_t *nm = &sip_alg_nat44_ed_main;
  if (nm->nat_msg_id == (u32) ~0 || !nm->nat_q)
    return;
  vl_api_registration_t *reg = vl_api_client_index_to_registration (nm->nat_client);
  if (reg)
    reg->last_heard = vlib_time_now (vm);
  sip_alg_nat_api_drain (nm, 0, 0);
}

static void
sip_alg_cli_sink (uword arg, u8 *buffer, uword n)
{
  u8 **out = (u8 **) arg;
  vec_add (*out, buffer, n);
}

/* A NAT CLI command (the fallback), from the process node. Returns 0 on success. */
static int
sip_alg_nat_cli_run (vlib_main_t *vm, u8 *cmd)
{
  u8 *out = 0;
  unformat_input_t in;
  unformat_init_vector (&in, cmd); /* takes ownership of cmd */
  int rv = vlib_cli_input (vm, &in, sip_alg_cli_sink, (uword) &out);
  unformat_free (&in);
  if (rv == 0 && vec_len (out))
    rv = -1; /* NAT's static mapping and session commands print nothing on success */
  if (rv)
    clib_warning ("sip-alg: NAT refused: %v", out);
  vec_free (out);
  return rv;
}

static int
sip_alg_nat_cli (vlib_main_t *vm, const sip_alg_pinhole_t *ph, int is_add)
{
  return sip_alg_nat_cli_run (
    vm, format (0, "nat44 add static mapping udp local %U %u external %U %u vrf %u%s",
		format_ip4_address, &ph->in_addr, ph->in_port, format_ip4_address, &ph->pub_addr,
		ph->pub_port, sip_alg_fib_table_id (ph->in_fib), is_add ? "" : " del"));
}

/*
 * Hand a message (network order fields, context set) to NAT44-ED's own handler and return
 * its reply's error code. Main thread, barrier held (NAT's handlers are not mp-safe).
 */
static int
sip_alg_nat_call (sip_alg_nat44_ed_t *nm, void *mp, u32 msg_id, u32 context)
{
  vl_api_msg_data_t *m = vl_api_get_msg_data (vlibapi_get_main (), msg_id);
  int rv = VNET_API_ERROR_UNSPECIFIED;
  sip_alg_nat_api_drain (nm, 0, 0); /* room for the reply */
  if (m->is_autoendian)
    m->endian_handler (mp, 0 /* to host */);
  m->handler (mp);
  sip_alg_nat_api_drain (nm, context, &rv);
  if (rv == VNET_API_ERROR_UNSPECIFIED)
    clib_warning ("sip-alg: no reply from NAT44-ED's handler of message %u", msg_id);
  return rv;
}

/*
 * Add or delete the static mapping of a pinhole. Main thread, barrier held. Returns NAT's
 * error code (VNET_API_ERROR_*), 0 on success.
 */
static int
sip_alg_nat_mapping (vlib_main_t *vm, const sip_alg_pinhole_t *ph, int is_add)
{
  sip_alg_main_t *sam = &sip_alg_main;
  sip_alg_nat44_ed_t *nm = &sip_alg_nat44_ed_main;
  if (PREDICT_FALSE (nm->nat_msg_id == (u32) ~0))
    return sip_alg_nat_cli (vm, ph, is_add);

  vl_api_nat44_add_del_static_mapping_v2_t mp = {
    ._vl_msg_id = clib_host_to_net_u16 (nm->nat_msg_id),
    .client_index = nm->nat_client,
    .context = clib_host_to_net_u32 (++nm->nat_context),
    .is_add = is_add,
    .protocol = IP_PROTOCOL_UDP,
    .local_port = clib_host_to_net_u16 (ph->in_port),
    .external_port = clib_host_to_net_u16 (ph->pub_port),
    .external_sw_if_index = ~0,
    .vrf_id = clib_host_to_net_u32 (sip_alg_fib_table_id (ph->in_fib)),
  };
  clib_memcpy (mp.local_ip_address, &ph->in_addr, 4);
  clib_memcpy (mp.external_ip_address, &ph->pub_addr, 4);

  u64 t0 = clib_cpu_time_now ();
  int rv = sip_alg_nat_call (nm, &mp, nm->nat_msg_id, mp.context);
  if (is_add)
    sam->mt.nat_add++, sam->mt.nat_add_clocks += clib_cpu_time_now () - t0;
  else
    sam->mt.nat_del++, sam->mt.nat_del_clocks += clib_cpu_time_now () - t0;
  if (rv)
    {
      nm->nat_last_error = rv;
      vlib_log_notice (sam->log_class, "NAT44-ED refused %s %U:%u -> %U:%u: %U",
		      is_add ? "add" : "del", format_ip4_address, &ph->pub_addr, ph->pub_port,
		      format_ip4_address, &ph->in_addr, ph->in_port, format_vnet_api_errno, rv);
    }
  return rv;
}

/*
 * Delete NAT44-ED's UDP session of inside endpoint (in, in_port) with remote (peer,
 * peer_port), so the endpoint's next packet makes a new one (by a static mapping of it, if
 * there is one). Main thread, barrier held. Returns NAT's error code, 0 on success.
 */
static int
sip_alg_nat_del_session (vlib_main_t *vm, ip4_address_t in, u16 in_port, u32 in_fib,
			 ip4_address_t peer, u16 peer_port)
{
  sip_alg_nat44_ed_t *nm = &sip_alg_nat44_ed_main;
  if (PREDICT_FALSE (nm->nat_del_msg_id == (u32) ~0))
    return sip_alg_nat_cli_run (
      vm, format (0, "nat44 del session in %U:%u udp vrf %u external-host %U:%u",
		  format_ip4_address, &in, in_port, sip_alg_fib_table_id (in_fib),
		  format_ip4_address, &peer, peer_port));

  vl_api_nat44_del_session_t mp = {
    ._vl_msg_id = clib_host_to_net_u16 (nm->nat_del_msg_id),
    .client_index = nm->nat_client,
    .context = clib_host_to_net_u32 (++nm->nat_context),
    .protocol = IP_PROTOCOL_UDP,
    .port = clib_host_to_net_u16 (in_port),
    .vrf_id = clib_host_to_net_u32 (sip_alg_fib_table_id (in_fib)),
    .flags = NAT_IS_INSIDE | NAT_IS_EXT_HOST_VALID,
    .ext_host_port = clib_host_to_net_u16 (peer_port),
  };
  clib_memcpy (mp.address, &in, 4);
  clib_memcpy (mp.ext_host_address, &peer, 4);
  return sip_alg_nat_call (nm, &mp, nm->nat_del_msg_id, mp.context);
}

/* Does NAT44-ED translate out2in on the interface (outside, or in+out)? */
static int
sip_alg_nat_is_outside (u32 sw_if_index)
{
  for (u32 f = 0; f < ARRAY_LEN (sip_alg_nat_outside_features); f++)
    if (vnet_feature_is_enabled ("ip4-unicast", sip_alg_nat_outside_features[f], sw_if_index))
      return 1;
  return 0;
}

/*
 * Is NAT44-ED's output feature on the interface (NAT on a single-arm firewall: in2out on
 * ip4-output)? The ALG's nodes run on ip4-unicast around NAT44-ED's input nodes, so they
 * never see that translation: it refuses such an interface (issue 14) rather than let SIP
 * pass untranslated.
 */
static int
sip_alg_nat_output_feature (u32 sw_if_index)
{
  return vnet_feature_is_enabled ("ip4-output", "nat-pre-in2out-output", sw_if_index) == 1 ||
	 vnet_feature_is_enabled ("ip4-output", "nat44-in2out-output-worker-handoff",
				  sw_if_index) == 1;
}

/* How pinholes are made (`show sip-alg config`), and NAT44-ED's last refusal. */
static u8 *
format_sip_alg_nat_status (u8 *s, va_list *args)
{
  sip_alg_nat44_ed_t *nm = &sip_alg_nat44_ed_main;
  s = format (s, "%s",
	      nm->nat_msg_id != ~0 ? "by NAT44-ED's nat44_add_del_static_mapping_v2 "
				     "handler, in-process" :
				     "by NAT44-ED's CLI (its API message is not there)");
  if (nm->nat_last_error)
    s = format (s, ", last refusal: %U", format_vnet_api_errno, nm->nat_last_error);
  return s;
}

const sip_alg_nat_t sip_alg_nat44_ed = {
  .name = "NAT44-ED",
  .init = sip_alg_nat_api_init,
  .tick = sip_alg_nat_api_tick,
  .mapping = sip_alg_nat_mapping,
  .del_session = sip_alg_nat_del_session,
  .is_outside = sip_alg_nat_is_outside,
  .output_feature = sip_alg_nat_output_feature,
  .format_status = format_sip_alg_nat_status,
};
