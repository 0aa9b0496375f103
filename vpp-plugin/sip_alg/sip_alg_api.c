/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Binary API handlers: convert and validate, then call the core functions.
 */

#include <vnet/vnet.h>
#include <vlibmemory/api.h>
#include <vnet/plugin/plugin.h>

#include <vnet/ip/ip_types_api.h>
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

static void
vl_api_sip_alg_set_ports_t_handler (vl_api_sip_alg_set_ports_t *mp)
{
  vl_api_sip_alg_set_ports_reply_t *rmp;
  int rv;

  if (mp->n_udp_ports > ARRAY_LEN (mp->udp_ports) || mp->n_tcp_ports > ARRAY_LEN (mp->tcp_ports))
    rv = VNET_API_ERROR_INVALID_VALUE;
  else if (!(rv = sip_alg_set_udp_ports (mp->udp_ports, mp->n_udp_ports)))
    rv = sip_alg_set_tcp_ports (mp->tcp_ports, mp->n_tcp_ports);
  REPLY_MACRO_END (VL_API_SIP_ALG_SET_PORTS_REPLY);
}

/*
 * The sections' set messages: each fills its section's struct and calls its setter, which
 * alone accepts or refuses the values. The deprecated messages that set part of a section
 * fill the rest from the current values.
 */

/* Notes a refusal's why in the log (the deprecated messages' replies have no room for it). */
static int
sip_alg_api_refused (int rv, u8 *why, const char *msg)
{
  if (why)
    vlib_log_notice (sip_alg_main.log_class, "%s refused: %v", msg, why);
  vec_free (why);
  return rv;
}

/* The reply's error string: why (a vector, freed), "" when none. */
static void
sip_alg_api_error (u8 *dst, u32 size, u8 *why)
{
  u32 n = clib_min (vec_len (why), size - 1);
  clib_memcpy (dst, why, n);
  dst[n] = 0;
  vec_free (why);
}

static void
vl_api_sip_alg_set_timeouts_t_handler (vl_api_sip_alg_set_timeouts_t *mp)
{
  vl_api_sip_alg_set_timeouts_reply_t *rmp;
  sip_alg_timeouts_t t = sip_alg_main.timeouts;
  u8 *why = 0;
  t.signaling = mp->signaling;
  t.media = mp->media;
  t.call = mp->call;
  int rv = sip_alg_set_timeouts (&t, &why); /* before why is read */
  rv = sip_alg_api_refused (rv, why, "sip_alg_set_timeouts");
  REPLY_MACRO_END (VL_API_SIP_ALG_SET_TIMEOUTS_REPLY);
}

static void
vl_api_sip_alg_set_call_timers_t_handler (vl_api_sip_alg_set_call_timers_t *mp)
{
  vl_api_sip_alg_set_call_timers_reply_t *rmp;
  sip_alg_timeouts_t t = sip_alg_main.timeouts;
  u8 *why = 0;
  t.media_inactivity = mp->media_inactivity;
  t.max_duration = mp->max_duration;
  int rv = sip_alg_set_timeouts (&t, &why); /* before why is read */
  rv = sip_alg_api_refused (rv, why, "sip_alg_set_call_timers");
  REPLY_MACRO_END (VL_API_SIP_ALG_SET_CALL_TIMERS_REPLY);
}

static void
vl_api_sip_alg_set_one_way_media_t_handler (vl_api_sip_alg_set_one_way_media_t *mp)
{
  vl_api_sip_alg_set_one_way_media_reply_t *rmp;
  sip_alg_timeouts_t t = sip_alg_main.timeouts;
  u8 *why = 0;
  t.one_way_media = mp->one_way_media;
  int rv = sip_alg_set_timeouts (&t, &why); /* before why is read */
  rv = sip_alg_api_refused (rv, why, "sip_alg_set_one_way_media");
  REPLY_MACRO_END (VL_API_SIP_ALG_SET_ONE_WAY_MEDIA_REPLY);
}

static void
vl_api_sip_alg_set_timeouts_v2_t_handler (vl_api_sip_alg_set_timeouts_v2_t *mp)
{
  vl_api_sip_alg_set_timeouts_v2_reply_t *rmp;
  sip_alg_timeouts_t t = {
    .signaling = mp->signaling,
    .media = mp->media,
    .call = mp->call,
    .media_inactivity = mp->media_inactivity,
    .max_duration = mp->max_duration,
    .one_way_media = mp->one_way_media,
  };
  u8 *why = 0;
  int rv = sip_alg_set_timeouts (&t, &why);
  REPLY_MACRO2_END (VL_API_SIP_ALG_SET_TIMEOUTS_V2_REPLY,
		    ({ sip_alg_api_error (rmp->error, sizeof (rmp->error), why); }));
}

static void
vl_api_sip_alg_get_timeouts_t_handler (vl_api_sip_alg_get_timeouts_t *mp)
{
  const sip_alg_timeouts_t *t = &sip_alg_main.timeouts;
  vl_api_sip_alg_get_timeouts_reply_t *rmp;
  int rv = 0;
  REPLY_MACRO2_END (VL_API_SIP_ALG_GET_TIMEOUTS_REPLY, ({
		      rmp->signaling = t->signaling;
		      rmp->media = t->media;
		      rmp->call = t->call;
		      rmp->media_inactivity = t->media_inactivity;
		      rmp->max_duration = t->max_duration;
		      rmp->one_way_media = t->one_way_media;
		    }));
}

static void
vl_api_sip_alg_set_limits_t_handler (vl_api_sip_alg_set_limits_t *mp)
{
  vl_api_sip_alg_set_limits_reply_t *rmp;
  sip_alg_limits_t l = sip_alg_main.limits;
  u8 *why = 0;
  l.max_calls = mp->max_calls;
  l.media_port_lo = mp->media_port_lo;
  l.media_port_hi = mp->media_port_hi;
  int rv = sip_alg_set_limits (&l, &why); /* before why is read */
  rv = sip_alg_api_refused (rv, why, "sip_alg_set_limits");
  REPLY_MACRO_END (VL_API_SIP_ALG_SET_LIMITS_REPLY);
}

static void
vl_api_sip_alg_set_tcp_t_handler (vl_api_sip_alg_set_tcp_t *mp)
{
  vl_api_sip_alg_set_tcp_reply_t *rmp;
  sip_alg_limits_t l = sip_alg_main.limits;
  u8 *why = 0;
  l.tcp_reassembly = mp->reassembly;
  int rv = sip_alg_set_limits (&l, &why); /* before why is read */
  rv = sip_alg_api_refused (rv, why, "sip_alg_set_tcp");
  REPLY_MACRO_END (VL_API_SIP_ALG_SET_TCP_REPLY);
}

static void
vl_api_sip_alg_set_limits_v2_t_handler (vl_api_sip_alg_set_limits_v2_t *mp)
{
  vl_api_sip_alg_set_limits_v2_reply_t *rmp;
  sip_alg_limits_t l = {
    .max_calls = mp->max_calls,
    .max_held = mp->max_held,
    .media_port_lo = mp->media_port_lo,
    .media_port_hi = mp->media_port_hi,
    .tcp_reassembly = mp->tcp_reassembly,
  };
  u8 *why = 0;
  int rv = sip_alg_set_limits (&l, &why);
  REPLY_MACRO2_END (VL_API_SIP_ALG_SET_LIMITS_V2_REPLY,
		    ({ sip_alg_api_error (rmp->error, sizeof (rmp->error), why); }));
}

static void
vl_api_sip_alg_get_limits_t_handler (vl_api_sip_alg_get_limits_t *mp)
{
  const sip_alg_limits_t *l = &sip_alg_main.limits;
  vl_api_sip_alg_get_limits_reply_t *rmp;
  int rv = 0;
  REPLY_MACRO2_END (VL_API_SIP_ALG_GET_LIMITS_REPLY, ({
		      rmp->max_calls = l->max_calls;
		      rmp->max_held = l->max_held;
		      rmp->media_port_lo = l->media_port_lo;
		      rmp->media_port_hi = l->media_port_hi;
		      rmp->tcp_reassembly = l->tcp_reassembly;
		    }));
}

static void
vl_api_sip_alg_set_security_t_handler (vl_api_sip_alg_set_security_t *mp)
{
  vl_api_sip_alg_set_security_reply_t *rmp;
  sip_alg_security_t sec;
  u8 *why = 0;
  sip_alg_get_security (&sec); /* the host limits stay */
  sec.max_inbound_calls = mp->max_inbound_calls;
  sec.max_inbound_per_source = mp->max_inbound_per_source;
  sec.max_binding_time = mp->max_binding_time;
  sec.max_entries = mp->max_entries;
  sec.max_entries_per_call = mp->max_entries_per_call;
  sec.inside_port_lo = mp->inside_port_lo;
  sec.inside_port_hi = mp->inside_port_hi;
  int rv = sip_alg_set_security (&sec, &why); /* before why is read */
  rv = sip_alg_api_refused (rv, why, "sip_alg_set_security");
  REPLY_MACRO_END (VL_API_SIP_ALG_SET_SECURITY_REPLY);
}

static void
vl_api_sip_alg_set_host_limits_t_handler (vl_api_sip_alg_set_host_limits_t *mp)
{
  vl_api_sip_alg_set_host_limits_reply_t *rmp;
  sip_alg_security_t sec;
  u8 *why = 0;
  sip_alg_get_security (&sec);
  sec.max_calls_per_host = mp->max_calls_per_host;
  sec.max_entries_per_host = mp->max_entries_per_host;
  int rv = sip_alg_set_security (&sec, &why); /* before why is read */
  rv = sip_alg_api_refused (rv, why, "sip_alg_set_host_limits");
  REPLY_MACRO_END (VL_API_SIP_ALG_SET_HOST_LIMITS_REPLY);
}

static void
vl_api_sip_alg_set_security_v2_t_handler (vl_api_sip_alg_set_security_v2_t *mp)
{
  vl_api_sip_alg_set_security_v2_reply_t *rmp;
  sip_alg_security_t sec = {
    .max_inbound_calls = mp->max_inbound_calls,
    .max_inbound_per_source = mp->max_inbound_per_source,
    .max_binding_time = mp->max_binding_time,
    .max_entries = mp->max_entries,
    .max_entries_per_call = mp->max_entries_per_call,
    .inside_port_lo = mp->inside_port_lo,
    .inside_port_hi = mp->inside_port_hi,
    .max_calls_per_host = mp->max_calls_per_host,
    .max_entries_per_host = mp->max_entries_per_host,
  };
  u8 *why = 0;
  int rv = sip_alg_set_security (&sec, &why);
  REPLY_MACRO2_END (VL_API_SIP_ALG_SET_SECURITY_V2_REPLY,
		    ({ sip_alg_api_error (rmp->error, sizeof (rmp->error), why); }));
}

static void
vl_api_sip_alg_get_security_t_handler (vl_api_sip_alg_get_security_t *mp)
{
  vl_api_sip_alg_get_security_reply_t *rmp;
  sip_alg_security_t sec;
  int rv = 0;
  sip_alg_get_security (&sec);
  REPLY_MACRO2_END (VL_API_SIP_ALG_GET_SECURITY_REPLY, ({
		      rmp->max_inbound_calls = sec.max_inbound_calls;
		      rmp->max_inbound_per_source = sec.max_inbound_per_source;
		      rmp->max_binding_time = sec.max_binding_time;
		      rmp->max_entries = sec.max_entries;
		      rmp->max_entries_per_call = sec.max_entries_per_call;
		      rmp->inside_port_lo = sec.inside_port_lo;
		      rmp->inside_port_hi = sec.inside_port_hi;
		      rmp->max_calls_per_host = sec.max_calls_per_host;
		      rmp->max_entries_per_host = sec.max_entries_per_host;
		    }));
}

static void
vl_api_sip_alg_set_media_policy_t_handler (vl_api_sip_alg_set_media_policy_t *mp)
{
  vl_api_sip_alg_set_media_policy_reply_t *rmp;
  sip_alg_media_t m = sip_alg_main.media;
  u8 *why = 0;
  m.other_hosts = mp->other_hosts != 0;
  int rv = sip_alg_set_media (&m, &why); /* before why is read */
  rv = sip_alg_api_refused (rv, why, "sip_alg_set_media_policy");
  REPLY_MACRO_END (VL_API_SIP_ALG_SET_MEDIA_POLICY_REPLY);
}

/* The media section from a message's n_addresses, addresses[]: 0, or TABLE_TOO_BIG. */
static int
sip_alg_api_media_addresses (sip_alg_media_t *m, u32 n, vl_api_ip4_address_t *addresses,
			     u8 **why)
{
  if (n > SIP_ALG_MAX_MEDIA_ADDRS)
    {
      *why = format (0, "addresses: %u, at most %u", n, SIP_ALG_MAX_MEDIA_ADDRS);
      return VNET_API_ERROR_TABLE_TOO_BIG;
    }
  clib_memset (m->addrs, 0, sizeof (m->addrs));
  for (u32 i = 0; i < n; i++)
    ip4_address_decode (addresses[i], &m->addrs[i]);
  m->n_addrs = n;
  return 0;
}

static void
vl_api_sip_alg_set_media_addresses_t_handler (vl_api_sip_alg_set_media_addresses_t *mp)
{
  vl_api_sip_alg_set_media_addresses_reply_t *rmp;
  sip_alg_media_t m = sip_alg_main.media;
  u8 *why = 0;
  int rv = sip_alg_api_media_addresses (&m, mp->n_addresses, mp->addresses, &why);
  if (!rv)
    rv = sip_alg_set_media (&m, &why);
  rv = sip_alg_api_refused (rv, why, "sip_alg_set_media_addresses");
  REPLY_MACRO_END (VL_API_SIP_ALG_SET_MEDIA_ADDRESSES_REPLY);
}

static void
vl_api_sip_alg_set_media_t_handler (vl_api_sip_alg_set_media_t *mp)
{
  vl_api_sip_alg_set_media_reply_t *rmp;
  sip_alg_media_t m = { .other_hosts = mp->other_hosts };
  u8 *why = 0;
  int rv = sip_alg_api_media_addresses (&m, mp->n_addresses, mp->addresses, &why);
  if (!rv)
    rv = sip_alg_set_media (&m, &why);
  REPLY_MACRO2_END (VL_API_SIP_ALG_SET_MEDIA_REPLY,
		    ({ sip_alg_api_error (rmp->error, sizeof (rmp->error), why); }));
}

static void
vl_api_sip_alg_get_media_t_handler (vl_api_sip_alg_get_media_t *mp)
{
  const sip_alg_media_t *m = &sip_alg_main.media;
  vl_api_sip_alg_get_media_reply_t *rmp;
  int rv = 0;
  REPLY_MACRO2_END (VL_API_SIP_ALG_GET_MEDIA_REPLY, ({
		      rmp->other_hosts = m->other_hosts;
		      rmp->n_addresses = m->n_addrs;
		      for (u32 i = 0; i < m->n_addrs; i++)
			ip4_address_encode (&m->addrs[i], rmp->addresses[i]);
		    }));
}

static void
vl_api_sip_alg_set_servers_t_handler (vl_api_sip_alg_set_servers_t *mp)
{
  vl_api_sip_alg_set_servers_reply_t *rmp;
  ip4_address_t addr[SIP_ALG_MAX_SERVERS];
  u16 port[SIP_ALG_MAX_SERVERS];
  u32 n = mp->n_servers;
  int rv = 0;
  if (n > SIP_ALG_MAX_SERVERS)
    rv = VNET_API_ERROR_TABLE_TOO_BIG;
  else
    {
      for (u32 i = 0; i < n; i++)
	{
	  ip4_address_decode (mp->address[i], &addr[i]);
	  port[i] = mp->port[i];
	}
      rv = sip_alg_set_servers (addr, port, n);
    }
  REPLY_MACRO_END (VL_API_SIP_ALG_SET_SERVERS_REPLY);
}

static void
vl_api_sip_alg_get_media_addresses_t_handler (vl_api_sip_alg_get_media_addresses_t *mp)
{
  sip_alg_main_t *sam = &sip_alg_main;
  vl_api_sip_alg_get_media_addresses_reply_t *rmp;
  int rv = 0;
  REPLY_MACRO2_END (VL_API_SIP_ALG_GET_MEDIA_ADDRESSES_REPLY, ({
		      rmp->pairs = ((u32) sam->limits.media_port_hi - sam->limits.media_port_lo + 1) / 2;
		      rmp->n_addresses = sam->media.n_addrs;
		      for (u32 i = 0; i < sam->media.n_addrs; i++)
			{
			  ip4_address_encode (&sam->media.addrs[i], rmp->addresses[i]);
			  rmp->in_use[i] = sip_alg_media_slot_in_use (sam, i + 1);
			}
		      rmp->in_use_signaling = sip_alg_media_slot_in_use (sam, 0);
		    }));
}

static void
vl_api_sip_alg_set_validation_t_handler (vl_api_sip_alg_set_validation_t *mp)
{
  vl_api_sip_alg_set_validation_reply_t *rmp;
  sip_alg_validation_t v = {
    .strict = mp->strict,
    .action = { [SIP_ALG_CLASS_PARSE] = mp->drop_parse,
		[SIP_ALG_CLASS_HEADER] = mp->drop_header,
		[SIP_ALG_CLASS_SDP] = mp->drop_sdp,
		[SIP_ALG_CLASS_TOO_MANY] = mp->drop_too_many },
    .block_methods = mp->block_methods,
    .rate = { [SIP_ALG_RATE_INVITE] = { mp->invite_rate, mp->invite_burst },
	      [SIP_ALG_RATE_REGISTER] = { mp->register_rate, mp->register_burst } },
  };
  int rv = sip_alg_set_validation (&v);
  REPLY_MACRO_END (VL_API_SIP_ALG_SET_VALIDATION_REPLY);
}

static void
vl_api_sip_alg_get_config_t_handler (vl_api_sip_alg_get_config_t *mp)
{
  sip_alg_main_t *sam = &sip_alg_main;
  vl_api_sip_alg_get_config_reply_t *rmp;
  sip_alg_security_t sec;
  int rv = 0;

  sip_alg_get_security (&sec);

  REPLY_MACRO2_END (VL_API_SIP_ALG_GET_CONFIG_REPLY, ({
		      rmp->n_udp_ports = sam->n_udp_ports;
		      for (int i = 0; i < sam->n_udp_ports; i++)
			rmp->udp_ports[i] = clib_net_to_host_u16 (sam->udp_ports[i]);
		      rmp->n_tcp_ports = sam->n_tcp_ports;
		      for (int i = 0; i < sam->n_tcp_ports; i++)
			rmp->tcp_ports[i] = clib_net_to_host_u16 (sam->tcp_ports[i]);
		      rmp->tcp_reassembly = sam->limits.tcp_reassembly;
		      rmp->signaling = sam->timeouts.signaling;
		      rmp->media = sam->timeouts.media;
		      rmp->call = sam->timeouts.call;
		      rmp->media_inactivity = sam->timeouts.media_inactivity;
		      rmp->max_duration = sam->timeouts.max_duration;
		      rmp->max_calls = sam->limits.max_calls;
		      rmp->media_port_lo = sam->limits.media_port_lo;
		      rmp->media_port_hi = sam->limits.media_port_hi;
		      rmp->media_other_hosts = sam->media.other_hosts;
		      rmp->max_inbound_calls = sec.max_inbound_calls;
		      rmp->max_inbound_per_source = sec.max_inbound_per_source;
		      rmp->max_binding_time = sec.max_binding_time;
		      rmp->max_entries = sec.max_entries;
		      rmp->max_entries_per_call = sec.max_entries_per_call;
		      rmp->inside_port_lo = sec.inside_port_lo;
		      rmp->inside_port_hi = sec.inside_port_hi;
		      rmp->max_calls_per_host = sec.max_calls_per_host;
		      rmp->max_entries_per_host = sec.max_entries_per_host;
		      rmp->strict = sam->val.strict;
		      rmp->drop_parse = sam->val.action[SIP_ALG_CLASS_PARSE];
		      rmp->drop_header = sam->val.action[SIP_ALG_CLASS_HEADER];
		      rmp->drop_sdp = sam->val.action[SIP_ALG_CLASS_SDP];
		      rmp->drop_too_many = sam->val.action[SIP_ALG_CLASS_TOO_MANY];
		      rmp->block_methods = sam->val.block_methods;
		      rmp->invite_rate = sam->val.rate[SIP_ALG_RATE_INVITE].rate;
		      rmp->invite_burst = sam->val.rate[SIP_ALG_RATE_INVITE].burst;
		      rmp->register_rate = sam->val.rate[SIP_ALG_RATE_REGISTER].rate;
		      rmp->register_burst = sam->val.rate[SIP_ALG_RATE_REGISTER].burst;
		      rmp->n_servers = sam->n_servers;
		      for (u32 i = 0; i < sam->n_servers; i++)
			{
			  ip4_address_encode (&sam->server_addr[i], rmp->server_address[i]);
			  rmp->server_port[i] = sam->server_port[i];
			}
		      rmp->one_way_media = sam->timeouts.one_way_media;
		      rmp->n_media_addresses = sam->media.n_addrs;
		      for (u32 i = 0; i < sam->media.n_addrs; i++)
			ip4_address_encode (&sam->media.addrs[i], rmp->media_addresses[i]);
		    }));
}

static void
vl_api_sip_alg_interfaces_get_t_handler (vl_api_sip_alg_interfaces_get_t *mp)
{
  sip_alg_main_t *sam = &sip_alg_main;
  vl_api_registration_t *rp = vl_api_client_index_to_registration (mp->client_index);
  int rv = 0;
  uword i;

  if (!rp)
    return;
  clib_bitmap_foreach (i, sam->if_enabled)
    {
      vl_api_sip_alg_interfaces_details_t *rmp;
      u32 context = mp->context; /* the macro's parameter is spelled "context" */
      if (i < mp->cursor && mp->cursor != ~0)
	continue;
      REPLY_MACRO_DETAILS4_END (VL_API_SIP_ALG_INTERFACES_DETAILS, rp, context,
				({ rmp->sw_if_index = i; }));
    }
  vl_api_sip_alg_interfaces_get_reply_t *rmp;
  REPLY_MACRO2_END (VL_API_SIP_ALG_INTERFACES_GET_REPLY, ({ rmp->cursor = ~0; }));
}

static void
sip_alg_send_smap_details (u32 index, vl_api_registration_t *rp, u32 context, f64 now)
{
  sip_alg_main_t *sam = &sip_alg_main;
  sip_alg_smap_t *e = pool_elt_at_index (sam->smap, index);
  vl_api_sip_alg_server_map_details_t *rmp;
  vlib_counter_t gate = {};

  /* the gate's packets and bytes, every thread's */
  for (u32 t = 0; t < vec_len (sam->per_thread); t++)
    if (index < vec_len (sam->per_thread[t].gate_act))
      {
	gate.packets += sam->per_thread[t].gate_act[index].packets;
	gate.bytes += sam->per_thread[t].gate_act[index].bytes;
      }

  REPLY_MACRO_DETAILS4_END (VL_API_SIP_ALG_SERVER_MAP_DETAILS, rp, context, ({
			      clib_memcpy (rmp->public_address, &e->ph.pub_addr, 4);
			      rmp->public_port = e->ph.pub_port;
			      clib_memcpy (rmp->inside_address, &e->ph.in_addr, 4);
			      rmp->inside_port = e->ph.in_port;
			      rmp->app = e->ph.app;
			      rmp->nat_mapping = e->ph.nat_mapping;
			      rmp->installed = e->ph.installed;
			      rmp->bound = e->ph.bound;
			      rmp->left_time =
				e->expires > now ? (u32) (e->expires - now + 0.5) : 0;
			      rmp->call_thread = e->ph.call_thread;
			      rmp->call_index = e->call_index;
			      rmp->gate_packets = gate.packets;
			      rmp->gate_bytes = gate.bytes;
			      rmp->tcp = e->ph.tcp;
			      rmp->inside_vrf = sip_alg_fib_table_id (e->ph.in_fib);
			      rmp->outside_vrf = sip_alg_fib_table_id (e->ph.out_fib);
			    }));
}

/* The first index of pool p at or after i that is in use, ~0 for none. */
static u32
sip_alg_pool_from (void *p, u32 i)
{
  if (i == ~0)
    i = 0; /* ~0 asks for the start, as it does of VPP's REPLY_AND_DETAILS_MACRO */
  if (i < vec_len (p) && !pool_is_free_index (p, i))
    return i;
  return pool_next_index (p, i);
}

/*
 * The *_get dumps send details from a cursor until VPP's API process should let the rest of
 * the main thread run (the client's queue is full, or VL_API_MAX_TIME_IN_HANDLER has gone
 * by); then the reply is EAGAIN with the cursor to go on from, and the client asks again.
 * The barrier (these handlers read worker state) is held for one page at a time, and an
 * entry or call that went between pages is skipped, not an error.
 */
static void
vl_api_sip_alg_server_map_get_t_handler (vl_api_sip_alg_server_map_get_t *mp)
{
  sip_alg_main_t *sam = &sip_alg_main;
  vl_api_registration_t *rp = vl_api_client_index_to_registration (mp->client_index);
  vlib_main_t *vm = vlib_get_main ();
  f64 now = vlib_time_now (vm);
  u32 cursor = ~0;
  int rv = 0;

  if (!rp)
    return;
  for (u32 i = sip_alg_pool_from (sam->smap, mp->cursor); i != ~0;
       i = pool_next_index (sam->smap, i))
    {
      sip_alg_send_smap_details (i, rp, mp->context, now);
      if (vl_api_process_may_suspend (vm, rp, now))
	{
	  cursor = pool_next_index (sam->smap, i);
	  break;
	}
    }
  if (cursor != ~0)
    rv = VNET_API_ERROR_EAGAIN;
  vl_api_sip_alg_server_map_get_reply_t *rmp;
  REPLY_MACRO2_END (VL_API_SIP_ALG_SERVER_MAP_GET_REPLY, ({ rmp->cursor = cursor; }));
}

/* A call's media streams into its details (seconds since the last packet, ~0: none). */
static void
sip_alg_streams_details (sip_alg_main_t *sam, sip_alg_call_t *c, f64 now,
			 vl_api_sip_alg_calls_details_t *rmp)
{
  sip_alg_stream_t st[ARRAY_LEN (rmp->streams)];
  u32 n = sip_alg_call_streams (sam, c, st, ARRAY_LEN (st));
  clib_memset (rmp->streams, 0, sizeof (rmp->streams)); /* the message is not zeroed */
  rmp->n_streams = n;
  for (u32 k = 0; k < n; k++)
    {
      const sip_alg_smap_t *e = pool_elt_at_index (sam->smap, st[k].rtp);
      vl_api_sip_alg_stream_t *d = &rmp->streams[k];
      clib_memcpy (d->public_address, &e->ph.pub_addr, 4);
      d->public_port = e->ph.pub_port;
      clib_memcpy (d->inside_address, &e->ph.in_addr, 4);
      d->inside_port = e->ph.in_port;
      d->packets_in2out = st[k].packets[SIP_ALG_MEDIA_IN2OUT];
      d->packets_out2in = st[k].packets[SIP_ALG_MEDIA_OUT2IN];
      for (int dir = 0; dir < 2; dir++)
	{
	  /* from the start of the second of the last packet (the clock's stamp minus 1) */
	  u32 last = st[k].last[dir];
	  u32 idle = last ? (u32) clib_max (now - (last - 1), 0) : ~0;
	  if (dir == SIP_ALG_MEDIA_IN2OUT)
	    d->idle_in2out = idle;
	  else
	    d->idle_out2in = idle;
	}
      d->one_way = sip_alg_stream_one_way (sam, c, &st[k], now) != 0;
    }
}

/* Calls live in per-thread pools: the cursor is thread << 24 | pool index. */
static void
vl_api_sip_alg_calls_get_t_handler (vl_api_sip_alg_calls_get_t *mp)
{
  sip_alg_main_t *sam = &sip_alg_main;
  vl_api_registration_t *rp = vl_api_client_index_to_registration (mp->client_index);
  f64 now = vlib_time_now (vlib_get_main ());
  u32 start = mp->cursor == ~0 ? 0 : mp->cursor;
  int rv = 0;

  vlib_main_t *vm = vlib_get_main ();
  u32 cursor = ~0, n_threads = vec_len (sam->per_thread);

  if (!rp)
    return;
  for (u32 t = start >> 24, from = start & 0xffffff; t < n_threads && cursor == ~0;
       t++, from = 0)
    {
      sip_alg_call_t *pool = sam->per_thread[t].calls;
      for (u32 index = sip_alg_pool_from (pool, from); index != ~0;
	   index = pool_next_index (pool, index))
	{
	  sip_alg_call_t *c = pool_elt_at_index (pool, index);
	  vl_api_sip_alg_calls_details_t *rmp;
	  u32 context = mp->context; /* the macro's parameter is spelled "context" */
	  REPLY_MACRO_DETAILS4_END (
	    VL_API_SIP_ALG_CALLS_DETAILS, rp, context, ({
	      clib_memset (rmp->call_id, 0, sizeof (rmp->call_id) + sizeof (rmp->state));
	      rmp->thread = t;
	      rmp->index = index;
	      /* the key's FIB index first, then the Call-ID */
	      clib_memcpy (rmp->call_id, c->call_id + SIP_ALG_CALL_KEY_FIB,
			   clib_min (vec_len (c->call_id) - SIP_ALG_CALL_KEY_FIB,
				     sizeof (rmp->call_id) - 1));
	      strncpy ((char *) rmp->state, sip_call_state_name (c->fsm.state),
		       sizeof (rmp->state) - 1);
	      clib_memcpy (rmp->inside_address, &c->in_addr, 4);
	      rmp->inside_port = c->in_port;
	      clib_memcpy (rmp->public_address, &c->pub_addr, 4);
	      rmp->public_port = c->pub_port;
	      clib_memcpy (rmp->peer_address, &c->peer_addr, 4);
	      rmp->peer_port = c->peer_port;
	      rmp->messages = c->n_msgs;
	      rmp->n_media = c->n_media;
	      rmp->age = (u32) (now - c->created);
	      rmp->idle = (u32) (now - c->last_seen);
	      rmp->media_idle = sip_alg_call_media_idle (sam, c, now);
	      f64 left = sip_alg_call_deadline (sam, c) - now;
	      rmp->left_time = left > 0 ? (u32) (left + 0.5) : 0;
	      rmp->epoch = c->epoch;
	      rmp->inside_vrf = sip_alg_fib_table_id (sip_alg_call_in_fib (c));
	      rmp->outside_vrf = sip_alg_fib_table_id (c->out_fib);
	      sip_alg_streams_details (sam, c, now, rmp);
	    }));
	  if (vl_api_process_may_suspend (vm, rp, now))
	    {
	      u32 next = pool_next_index (pool, index);
	      cursor = next != ~0 ? t << 24 | next : t + 1 < n_threads ? (t + 1) << 24 : ~0;
	      break;
	    }
	}
    }
  if (cursor != ~0)
    rv = VNET_API_ERROR_EAGAIN;
  vl_api_sip_alg_calls_get_reply_t *rmp;
  REPLY_MACRO2_END (VL_API_SIP_ALG_CALLS_GET_REPLY, ({ rmp->cursor = cursor; }));
}

/* Per installed entry and thread: the cursor is entry index << 8 | thread. */
static void
vl_api_sip_alg_sessions_get_t_handler (vl_api_sip_alg_sessions_get_t *mp)
{
  sip_alg_main_t *sam = &sip_alg_main;
  vl_api_registration_t *rp = vl_api_client_index_to_registration (mp->client_index);
  u32 start = mp->cursor == ~0 ? 0 : mp->cursor;
  vlib_main_t *vm = vlib_get_main ();
  f64 now = vlib_time_now (vm);
  u32 cursor = ~0, n_threads = vec_len (sam->per_thread);
  int rv = 0;

  if (!rp)
    return;
  for (u32 ei = sip_alg_pool_from (sam->smap, start >> 8), t0 = start & 0xff;
       ei != ~0 && cursor == ~0; ei = pool_next_index (sam->smap, ei), t0 = 0)
    {
      sip_alg_smap_t *e = pool_elt_at_index (sam->smap, ei);
      if (!e->ph.installed)
	continue;
      for (u32 t = ei == (start >> 8) ? t0 : 0; t < n_threads; t++)
	{
	  sip_alg_per_thread_t *ptd = &sam->per_thread[t];
	  if (ei >= vec_len (ptd->gate_act) || !ptd->gate_act[ei].addr.as_u32)
	    continue;
	  sip_alg_gate_act_t *g = &ptd->gate_act[ei];
	  vl_api_sip_alg_sessions_details_t *rmp;
	  u32 context = mp->context; /* the macro's parameter is spelled "context" */
	  REPLY_MACRO_DETAILS4_END (VL_API_SIP_ALG_SESSIONS_DETAILS, rp, context, ({
				      rmp->thread = t;
				      rmp->app = e->ph.app;
				      clib_memcpy (rmp->remote_address,
						   &g->addr, 4);
				      rmp->remote_port =
					clib_net_to_host_u16 (g->port);
				      clib_memcpy (rmp->public_address, &e->ph.pub_addr, 4);
				      rmp->public_port = e->ph.pub_port;
				      clib_memcpy (rmp->inside_address, &e->ph.in_addr, 4);
				      rmp->inside_port = e->ph.in_port;
				      rmp->packets = g->packets;
				      rmp->bytes = g->bytes;
				      rmp->inside_vrf = sip_alg_fib_table_id (e->ph.in_fib);
				      rmp->outside_vrf = sip_alg_fib_table_id (e->ph.out_fib);
				    }));
	  if (vl_api_process_may_suspend (vm, rp, now))
	    {
	      /* go on with the next thread of this entry, or the next entry */
	      u32 next = pool_next_index (sam->smap, ei);
	      cursor = t + 1 < n_threads ? ei << 8 | (t + 1) : next != ~0 ? next << 8 : ~0;
	      break;
	    }
	}
    }
  if (cursor != ~0)
    rv = VNET_API_ERROR_EAGAIN;
  vl_api_sip_alg_sessions_get_reply_t *rmp;
  REPLY_MACRO2_END (VL_API_SIP_ALG_SESSIONS_GET_REPLY, ({ rmp->cursor = cursor; }));
}

#include <vnet/format_fns.h>
#include <sip_alg/sip_alg.api.c>

static clib_error_t *
sip_alg_api_init (vlib_main_t *vm)
{
  sip_alg_main.msg_id_base = setup_message_id_table ();
  return 0;
}

VLIB_INIT_FUNCTION (sip_alg_api_init);
