/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * CLI: set sip-alg ..., show sip-alg ...
 */

#include <vnet/vnet.h>
#include <vlib/vlib.h>

#include <sip_alg/sip_alg_nat.h>
#include <sip_alg/sip_alg_inlines.h>
#include <sip_alg/sip_alg_smap.h>

static clib_error_t *
sip_alg_rv_error (int rv, const char *what)
{
  switch (rv)
    {
    case 0:
      return 0;
    case VNET_API_ERROR_FEATURE_ALREADY_ENABLED:
      return clib_error_return (0, "%s: already enabled", what);
    case VNET_API_ERROR_FEATURE_ALREADY_DISABLED:
      return clib_error_return (0, "%s: not enabled", what);
    case VNET_API_ERROR_INVALID_SW_IF_INDEX:
      return clib_error_return (0, "%s: no such interface", what);
    case VNET_API_ERROR_UNSUPPORTED:
      return clib_error_return (0,
				"%s: NAT44-ED output feature on it: the SIP ALG works with NAT44-ED "
				"inside/outside interfaces only, not with output-feature NAT",
				what);
    case VNET_API_ERROR_RSRC_IN_USE:
      return clib_error_return (0, "%s: media ports in use, close the calls first", what);
    default:
      return clib_error_return (0, "%s: invalid value (%d)", what, rv);
    }
}

/*
 * A setter's refusal as the CLI's error, what: the command's name. why (a vector naming the
 * field and the value, freed here) follows "invalid value"; media ports in use say so.
 */
static clib_error_t *
sip_alg_set_error (int rv, u8 *why, const char *what)
{
  clib_error_t *err;
  if (!rv || !why)
    err = sip_alg_rv_error (rv, what);
  else if (rv == VNET_API_ERROR_RSRC_IN_USE)
    err = clib_error_return (0, "%s: %v, close the calls first", what, why);
  else
    err = clib_error_return (0, "%s: invalid value: %v", what, why);
  vec_free (why);
  return err;
}

/* The timeouts: the given keywords over the current values, all through sip_alg_set_timeouts. */
static clib_error_t *
sip_alg_timeouts_command_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  sip_alg_timeouts_t t = sip_alg_main.timeouts;
  u8 *why = 0;

  while (unformat_check_input (input) != UNFORMAT_END_OF_INPUT)
    {
      if (unformat (input, "signaling %u", &t.signaling) ||
	  unformat (input, "media-inactivity %u", &t.media_inactivity) ||
	  unformat (input, "media %u", &t.media) || unformat (input, "call %u", &t.call) ||
	  unformat (input, "max-duration %u", &t.max_duration) ||
	  unformat (input, "one-way-media %u", &t.one_way_media))
	;
      else
	return clib_error_return (0, "unknown input '%U'", format_unformat_error, input);
    }
  int rv = sip_alg_set_timeouts (&t, &why); /* before why is read */
  return sip_alg_set_error (rv, why, "timeouts");
}

/*
 * ?? set sip-alg timeouts
 * The timers, in seconds; those not given keep their values. signaling, media, call:
 * 1-604800; media-inactivity (1-86400), max-duration (1-604800), one-way-media (1-3600):
 * 0 is off.
 */
VLIB_CLI_COMMAND (sip_alg_timeouts_command, static) = {
  .path = "set sip-alg timeouts",
  .short_help = "set sip-alg timeouts [signaling <s>] [media <s>] [call <s>] "
		"[media-inactivity <s>] [max-duration <s>] [one-way-media <s>]",
  .function = sip_alg_timeouts_command_fn,
};

/* lo-hi of 16-bit ports */
static uword
unformat_sip_alg_port_range (unformat_input_t *input, va_list *args)
{
  u16 *lo = va_arg (*args, u16 *), *hi = va_arg (*args, u16 *);
  u32 a, b;
  if (!unformat (input, "%u - %u", &a, &b) || a > 65535 || b > 65535)
    return 0;
  *lo = a;
  *hi = b;
  return 1;
}

/* The limits: the given keywords over the current values, all through sip_alg_set_limits. */
static clib_error_t *
sip_alg_limits_command_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  sip_alg_limits_t l = sip_alg_main.limits;
  u8 *why = 0;

  while (unformat_check_input (input) != UNFORMAT_END_OF_INPUT)
    {
      if (unformat (input, "max-calls %u", &l.max_calls) ||
	  unformat (input, "max-held %u", &l.max_held) ||
	  unformat (input, "media-ports %U", unformat_sip_alg_port_range, &l.media_port_lo,
		    &l.media_port_hi) ||
	  unformat (input, "tcp-reassembly %u", &l.tcp_reassembly))
	;
      else
	return clib_error_return (0, "unknown input '%U'", format_unformat_error, input);
    }
  int rv = sip_alg_set_limits (&l, &why); /* before why is read */
  return sip_alg_set_error (rv, why, "limits");
}

/*
 * ?? set sip-alg limits
 * Table sizes; those not given keep their values. max-calls: call records (and SIP over
 * TCP connections) per worker, 1-16777216. max-held: messages one thread may hold for their
 * pinholes, 1-1048576 (beyond: held_full). media-ports: the public media port range, an even
 * first port >= 1024, at least 4 ports; it changes only while no media port is in use.
 * tcp-reassembly: bytes of an incomplete SIP over TCP message kept per direction,
 * 1024-65535. The older commands `set sip-alg max-calls`, `max-held`, `media-ports` and
 * `tcp reassembly` set one of them each, the same way.
 */
VLIB_CLI_COMMAND (sip_alg_limits_command, static) = {
  .path = "set sip-alg limits",
  .short_help = "set sip-alg limits [max-calls <n>] [max-held <n>] [media-ports <lo>-<hi>] "
		"[tcp-reassembly <bytes>]",
  .function = sip_alg_limits_command_fn,
};

/* <address> ... | none, into m's addresses; 0 when it is not that */
static clib_error_t *
sip_alg_media_address_list (unformat_input_t *input, sip_alg_media_t *m, const char *what)
{
  ip4_address_t a;
  u32 n = 0;
  if (unformat (input, "none"))
    {
      m->n_addrs = 0;
      return 0;
    }
  while (unformat (input, "%U", unformat_ip4_address, &a))
    {
      if (n == SIP_ALG_MAX_MEDIA_ADDRS)
	{
	  while (unformat (input, "%U", unformat_ip4_address, &a))
	    n++;
	  return clib_error_return (0, "%s: %u addresses, at most %u", what, n + 1,
				    SIP_ALG_MAX_MEDIA_ADDRS);
	}
      m->addrs[n++] = a;
    }
  if (!n)
    return clib_error_return (0, "%s: expected an IPv4 address or none, got '%U'", what,
			      format_unformat_error, input);
  m->n_addrs = n;
  return 0;
}

/* The media section: the given keywords over the current values (sip_alg_set_media). */
static clib_error_t *
sip_alg_media_command_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  sip_alg_media_t m = sip_alg_main.media;
  clib_error_t *err;
  u8 *why = 0;

  while (unformat_check_input (input) != UNFORMAT_END_OF_INPUT)
    {
      if (unformat (input, "addresses"))
	{
	  if ((err = sip_alg_media_address_list (input, &m, "media addresses")))
	    return err;
	}
      else if (unformat (input, "other-hosts on"))
	m.other_hosts = 1;
      else if (unformat (input, "other-hosts off"))
	m.other_hosts = 0;
      else
	return clib_error_return (0, "unknown input '%U'", format_unformat_error, input);
    }
  int rv = sip_alg_set_media (&m, &why); /* before why is read */
  return sip_alg_set_error (rv, why, "media");
}

/*
 * ?? set sip-alg media
 * Where media pinholes are opened; what is not given stays. addresses: their public
 * addresses, at most 16; none (the default): the public address NAT44-ED gave the call's
 * signaling. Each address has the whole media port range, so the pool holds (addresses x
 * pairs); calls spread over them, a call's streams all on one. The SDP's connection
 * addresses (c=, a=rtcp) then carry the media address, Via and Contact the signaling one.
 * The list changes only while no media port is in use. The addresses must reach VPP's
 * outside interface: a route to the firewall for them. other-hosts on: media pinholes also
 * for other inside hosts an inside party's SDP names (default off). The older commands `set
 * sip-alg media-addresses` and `media-other-hosts` set one of them each, the same way.
 */
VLIB_CLI_COMMAND (sip_alg_media_command, static) = {
  .path = "set sip-alg media",
  .short_help = "set sip-alg media [addresses <address> [<address> ...] | addresses none] "
		"[other-hosts on|off]",
  .function = sip_alg_media_command_fn,
};

static clib_error_t *
sip_alg_interface_command_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  unformat_input_t _line, *line = &_line;
  vnet_main_t *vnm = vnet_get_main ();
  u32 sw_if_index = ~0;
  int enable = 1;
  clib_error_t *err = 0;

  if (!unformat_user (input, unformat_line_input, line))
    return clib_error_return (0, "expected: set sip-alg interface <interface> [disable]");
  while (unformat_check_input (line) != UNFORMAT_END_OF_INPUT)
    {
      if (unformat (line, "disable"))
	enable = 0;
      else if (unformat (line, "%U", unformat_vnet_sw_interface, vnm, &sw_if_index))
	;
      else
	{
	  err = clib_error_return (0, "unknown input '%U'", format_unformat_error, line);
	  goto done;
	}
    }
  if (sw_if_index == ~0)
    err = clib_error_return (0, "interface required");
  else
    err = sip_alg_rv_error (sip_alg_interface_enable_disable (sw_if_index, enable), "interface");
done:
  unformat_free (line);
  return err;
}

VLIB_CLI_COMMAND (sip_alg_interface_command, static) = {
  .path = "set sip-alg interface",
  .short_help = "set sip-alg interface <interface> [disable]",
  .function = sip_alg_interface_command_fn,
};

/* <port>[,<port>...] */
static clib_error_t *
sip_alg_port_list (unformat_input_t *input, u16 *ports, u32 *n)
{
  u32 p;
  *n = 0;
  while (unformat (input, "%u", &p))
    {
      if (p == 0 || p > 65535)
	return clib_error_return (0, "port %u out of range 1-65535", p);
      if (*n == SIP_ALG_MAX_PORTS)
	return clib_error_return (0, "at most %u ports", SIP_ALG_MAX_PORTS);
      ports[(*n)++] = p;
      if (!unformat (input, ","))
	break;
    }
  return 0;
}

static clib_error_t *
sip_alg_ports_command_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  u16 udp[SIP_ALG_MAX_PORTS], tcp[SIP_ALG_MAX_PORTS];
  u32 n_udp = 0, n_tcp = 0;
  int set_udp = 0, set_tcp = 0;
  clib_error_t *err;
  const char *usage = "expected: set sip-alg ports [udp <port>[,<port>...]] "
		      "[tcp <port>[,<port>...] | tcp none]";

  while (unformat_check_input (input) != UNFORMAT_END_OF_INPUT)
    {
      if (unformat (input, "udp"))
	{
	  if ((err = sip_alg_port_list (input, udp, &n_udp)))
	    return err;
	  if (!n_udp)
	    return clib_error_return (0, "%s", usage);
	  set_udp = 1;
	}
      else if (unformat (input, "tcp none"))
	set_tcp = 1, n_tcp = 0;
      else if (unformat (input, "tcp"))
	{
	  if ((err = sip_alg_port_list (input, tcp, &n_tcp)))
	    return err;
	  if (!n_tcp)
	    return clib_error_return (0, "%s", usage);
	  set_tcp = 1;
	}
      else
	return clib_error_return (0, "%s", usage);
    }
  if (!set_udp && !set_tcp)
    return clib_error_return (0, "%s", usage);
  if (set_udp && (err = sip_alg_rv_error (sip_alg_set_udp_ports (udp, n_udp), "ports udp")))
    return err;
  if (set_tcp)
    return sip_alg_rv_error (sip_alg_set_tcp_ports (tcp, n_tcp), "ports tcp");
  return 0;
}

VLIB_CLI_COMMAND (sip_alg_ports_command, static) = {
  .path = "set sip-alg ports",
  .short_help = "set sip-alg ports [udp <port>[,<port>...]] [tcp <port>[,<port>...] | tcp none]",
  .function = sip_alg_ports_command_fn,
};

static clib_error_t *
sip_alg_tcp_command_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  sip_alg_limits_t l = sip_alg_main.limits;
  u8 *why = 0;
  if (!unformat (input, "reassembly %u", &l.tcp_reassembly))
    return clib_error_return (0, "expected: set sip-alg tcp reassembly <bytes> (1024-65535)");
  int rv = sip_alg_set_limits (&l, &why); /* before why is read */
  return sip_alg_set_error (rv, why, "tcp reassembly");
}

/* ?? set sip-alg tcp: `set sip-alg limits tcp-reassembly` */
VLIB_CLI_COMMAND (sip_alg_tcp_command, static) = {
  .path = "set sip-alg tcp",
  .short_help = "set sip-alg tcp reassembly <bytes>",
  .function = sip_alg_tcp_command_fn,
};

static clib_error_t *
sip_alg_media_ports_command_fn (vlib_main_t *vm, unformat_input_t *input,
				vlib_cli_command_t *cmd)
{
  sip_alg_limits_t l = sip_alg_main.limits;
  u8 *why = 0;
  if (!unformat (input, "%U", unformat_sip_alg_port_range, &l.media_port_lo, &l.media_port_hi))
    return clib_error_return (0, "expected: set sip-alg media-ports <lo>-<hi> (1024-65535)");
  int rv = sip_alg_set_limits (&l, &why); /* before why is read */
  return sip_alg_set_error (rv, why, "media-ports");
}

/* ?? set sip-alg media-ports: `set sip-alg limits media-ports` */
VLIB_CLI_COMMAND (sip_alg_media_ports_command, static) = {
  .path = "set sip-alg media-ports",
  .short_help = "set sip-alg media-ports <lo>-<hi>",
  .function = sip_alg_media_ports_command_fn,
};

static clib_error_t *
sip_alg_media_addresses_command_fn (vlib_main_t *vm, unformat_input_t *input,
				    vlib_cli_command_t *cmd)
{
  sip_alg_media_t m = sip_alg_main.media;
  clib_error_t *err;
  u8 *why = 0;

  if ((err = sip_alg_media_address_list (input, &m, "media-addresses")))
    return err;
  if (unformat_check_input (input) != UNFORMAT_END_OF_INPUT)
    return clib_error_return (0, "media-addresses: expected an IPv4 address, got '%U'",
			      format_unformat_error, input);
  int rv = sip_alg_set_media (&m, &why);
  /* its messages as they were: the setter's why names the field, addresses, first */
  if (why && vec_len (why) > 11 && !memcmp (why, "addresses: ", 11))
    vec_delete (why, 11, 0);
  if (rv && why)
    err = clib_error_return (0, "media-addresses: %v%s", why,
			     rv == VNET_API_ERROR_RSRC_IN_USE ? ", close the calls first" : "");
  else
    err = sip_alg_rv_error (rv, "media-addresses");
  vec_free (why);
  return err;
}

/* ?? set sip-alg media-addresses: `set sip-alg media addresses` */
VLIB_CLI_COMMAND (sip_alg_media_addresses_command, static) = {
  .path = "set sip-alg media-addresses",
  .short_help = "set sip-alg media-addresses <address> [<address> ...] | none",
  .function = sip_alg_media_addresses_command_fn,
};

static clib_error_t *
sip_alg_media_policy_command_fn (vlib_main_t *vm, unformat_input_t *input,
				 vlib_cli_command_t *cmd)
{
  sip_alg_media_t m = sip_alg_main.media;
  u8 *why = 0;
  if (unformat (input, "on"))
    m.other_hosts = 1;
  else if (unformat (input, "off"))
    m.other_hosts = 0;
  else
    return clib_error_return (0, "expected: set sip-alg media-other-hosts on|off");
  if (unformat_check_input (input) != UNFORMAT_END_OF_INPUT)
    return clib_error_return (0, "unknown input '%U'", format_unformat_error, input);
  int rv = sip_alg_set_media (&m, &why); /* before why is read */
  return sip_alg_set_error (rv, why, "media-other-hosts");
}

/* ?? set sip-alg media-other-hosts: `set sip-alg media other-hosts` */
VLIB_CLI_COMMAND (sip_alg_media_policy_command, static) = {
  .path = "set sip-alg media-other-hosts",
  .short_help = "set sip-alg media-other-hosts on|off (media pinholes for other inside hosts "
		"an inside party's SDP names; default off)",
  .function = sip_alg_media_policy_command_fn,
};

static clib_error_t *
sip_alg_max_calls_command_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  sip_alg_limits_t l = sip_alg_main.limits;
  u8 *why = 0;
  if (!unformat (input, "%u", &l.max_calls))
    return clib_error_return (0, "expected: set sip-alg max-calls <n>");
  int rv = sip_alg_set_limits (&l, &why); /* before why is read */
  return sip_alg_set_error (rv, why, "max-calls");
}

/* ?? set sip-alg max-calls: `set sip-alg limits max-calls` */
VLIB_CLI_COMMAND (sip_alg_max_calls_command, static) = {
  .path = "set sip-alg max-calls",
  .short_help = "set sip-alg max-calls <n> (per worker)",
  .function = sip_alg_max_calls_command_fn,
};

static clib_error_t *
sip_alg_max_held_command_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  sip_alg_limits_t l = sip_alg_main.limits;
  u8 *why = 0;
  if (!unformat (input, "%u", &l.max_held))
    return clib_error_return (0, "expected: set sip-alg max-held <n>");
  int rv = sip_alg_set_limits (&l, &why); /* before why is read */
  return sip_alg_set_error (rv, why, "max-held");
}

/*
 * ?? set sip-alg max-held
 * `set sip-alg limits max-held`: messages one thread may have waiting for their pinholes
 * (each keeps its buffer until the main thread made the NAT44-ED static mappings). A message
 * that would start a call beyond it is dropped (UDP; its sender retransmits) or passes
 * without a record (TCP), counted as held_full. Default 512.
 */
VLIB_CLI_COMMAND (sip_alg_max_held_command, static) = {
  .path = "set sip-alg max-held",
  .short_help = "set sip-alg max-held <n> (per thread)",
  .function = sip_alg_max_held_command_fn,
};

static clib_error_t *
sip_alg_servers_command_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  ip4_address_t addr[SIP_ALG_MAX_SERVERS + 1];
  u16 port[SIP_ALG_MAX_SERVERS + 1];
  u32 n = 0, p;

  if (unformat (input, "none"))
    return sip_alg_rv_error (sip_alg_set_servers (addr, port, 0), "servers");
  while (unformat_check_input (input) != UNFORMAT_END_OF_INPUT)
    {
      if (n > SIP_ALG_MAX_SERVERS)
	return clib_error_return (0, "servers: at most %u", SIP_ALG_MAX_SERVERS);
      if (!unformat (input, "%U:%u", unformat_ip4_address, &addr[n], &p) || !p || p > 65535)
	return clib_error_return (0, "servers: expected <inside-address>:<port>, got '%U'",
				  format_unformat_error, input);
      port[n++] = p;
    }
  if (!n)
    return clib_error_return (0, "expected: set sip-alg servers <addr>:<port> ... | none");
  if (n > SIP_ALG_MAX_SERVERS)
    return clib_error_return (0, "servers: at most %u", SIP_ALG_MAX_SERVERS);
  return sip_alg_rv_error (sip_alg_set_servers (addr, port, n), "servers");
}

/*
 * ?? set sip-alg servers
 * Published SIP servers: inside endpoints (a PBX, an SBC) that an operator's NAT44-ED static
 * mapping publishes on the public side. An INVITE from outside to one starts a call, with
 * media pinholes both ways, as an INVITE to a registered phone does; to anything else it
 * passes without a record (inbound_refused). The ALG makes no signaling pinhole for them:
 * the operator's mapping is one. Replaces the list; `none` empties it. At most 16.
 */
VLIB_CLI_COMMAND (sip_alg_servers_command, static) = {
  .path = "set sip-alg servers",
  .short_help = "set sip-alg servers <inside-addr>:<port> ... | none",
  .function = sip_alg_servers_command_fn,
};

static clib_error_t *
sip_alg_security_command_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  sip_alg_security_t sec;
  u8 *why = 0;

  sip_alg_get_security (&sec);
  while (unformat_check_input (input) != UNFORMAT_END_OF_INPUT)
    {
      if (unformat (input, "max-inbound-calls %u", &sec.max_inbound_calls) ||
	  unformat (input, "max-inbound-per-source %u", &sec.max_inbound_per_source) ||
	  unformat (input, "max-binding-time %u", &sec.max_binding_time) ||
	  unformat (input, "max-entries-per-call %u", &sec.max_entries_per_call) ||
	  unformat (input, "max-entries-per-host %u", &sec.max_entries_per_host) ||
	  unformat (input, "max-calls-per-host %u", &sec.max_calls_per_host) ||
	  unformat (input, "max-entries %u", &sec.max_entries) ||
	  unformat (input, "inside-media-ports %U", unformat_sip_alg_port_range,
		    &sec.inside_port_lo, &sec.inside_port_hi))
	;
      else
	return clib_error_return (0, "unknown input '%U'", format_unformat_error, input);
    }
  int rv = sip_alg_set_security (&sec, &why); /* before why is read */
  return sip_alg_set_error (rv, why, "security");
}

VLIB_CLI_COMMAND (sip_alg_security_command, static) = {
  .path = "set sip-alg security",
  .short_help = "set sip-alg security [max-inbound-calls <n>] [max-inbound-per-source <n>] "
		"[max-binding-time <s>] [max-entries <n>] [max-entries-per-call <n>] "
		"[inside-media-ports <lo>-<hi>] [max-calls-per-host <n>] "
		"[max-entries-per-host <n>]",
  .function = sip_alg_security_command_fn,
};

static const char *sip_alg_class_names[SIP_ALG_N_CLASSES] = { "parse", "header", "sdp",
							      "too-many" };

/* A method's name as the block list takes it: INVITE ... PUBLISH, OTHER for the rest. */
static sip_method_t
sip_alg_method_by_name (const u8 *name, u32 len)
{
  if (len == 5 && !strncasecmp ((char *) name, "other", 5))
    return SIP_METHOD_OTHER;
  for (sip_method_t m = SIP_METHOD_INVITE; m < SIP_METHOD_OTHER; m++)
    {
      const char *n = sip_method_name (m);
      if (strlen (n) == len && !strncasecmp ((char *) name, n, len))
	return m;
    }
  return SIP_METHOD_NONE;
}

u8 *
format_sip_alg_methods (u8 *s, va_list *args)
{
  u32 mask = va_arg (*args, u32);
  int n = 0;
  for (sip_method_t m = SIP_METHOD_INVITE; m <= SIP_METHOD_OTHER; m++)
    if (mask & (1u << m))
      s = format (s, "%s%s", n++ ? "," : "", m == SIP_METHOD_OTHER ? "OTHER" : sip_method_name (m));
  if (!n)
    s = format (s, "none");
  return s;
}

static clib_error_t *
sip_alg_validation_command_fn (vlib_main_t *vm, unformat_input_t *input,
			       vlib_cli_command_t *cmd)
{
  sip_alg_validation_t v = sip_alg_main.val;
  u8 given[SIP_ALG_N_CLASSES] = {}, *list = 0;
  int mode = -1;
  u32 rate, burst;

  while (unformat_check_input (input) != UNFORMAT_END_OF_INPUT)
    {
      int cls = -1;
      if (unformat (input, "strict"))
	mode = 1;
      else if (unformat (input, "lenient"))
	mode = 0;
      else if (unformat (input, "invite-rate %u burst %u", &rate, &burst) ||
	       (unformat (input, "invite-rate %u", &rate) && ((burst = rate), 1)))
	v.rate[SIP_ALG_RATE_INVITE] = (sip_alg_rate_t){ rate, burst };
      else if (unformat (input, "register-rate %u burst %u", &rate, &burst) ||
	       (unformat (input, "register-rate %u", &rate) && ((burst = rate), 1)))
	v.rate[SIP_ALG_RATE_REGISTER] = (sip_alg_rate_t){ rate, burst };
      else if (unformat (input, "block %s", &list))
	{
	  v.block_methods = 0;
	  if (strcmp ((char *) list, "none"))
	    for (u8 *p = list, *e; *p; p = *e ? e + 1 : e)
	      {
		for (e = p; *e && *e != ','; e++)
		  ;
		sip_method_t m = sip_alg_method_by_name (p, e - p);
		if (m == SIP_METHOD_NONE)
		  {
		    clib_error_t *err =
		      clib_error_return (0, "block: unknown method '%.*s' (INVITE ... PUBLISH, "
					    "OTHER, or none)",
					 (int) (e - p), p);
		    vec_free (list);
		    return err;
		  }
		v.block_methods |= 1u << m;
	      }
	  vec_free (list);
	}
      else
	{
	  for (int i = 0; i < SIP_ALG_N_CLASSES && cls < 0; i++)
	    if (unformat (input, sip_alg_class_names[i]))
	      cls = i;
	  if (cls < 0)
	    return clib_error_return (0, "unknown input '%U'", format_unformat_error, input);
	  if (unformat (input, "pass"))
	    v.action[cls] = SIP_ALG_ACTION_PASS;
	  else if (unformat (input, "drop"))
	    v.action[cls] = SIP_ALG_ACTION_DROP;
	  else
	    return clib_error_return (0, "%s: want pass or drop, got '%U'",
				      sip_alg_class_names[cls], format_unformat_error, input);
	  given[cls] = 1;
	}
    }
  if (mode >= 0)
    {
      /* the mode's default for every class not given on this line */
      v.strict = mode;
      for (int i = 0; i < SIP_ALG_N_CLASSES; i++)
	if (!given[i])
	  v.action[i] = mode ? SIP_ALG_ACTION_DROP : SIP_ALG_ACTION_PASS;
    }
  return sip_alg_rv_error (sip_alg_set_validation (&v), "validation");
}

/*
 * ?? set sip-alg validation
 * Malformed messages, blocked methods and INVITE/REGISTER rates. `strict` (or `lenient`)
 * sets the mode and the action of every class not named on the same line (strict: drop,
 * lenient: pass). Rates are per source address and worker; `burst` defaults to the rate,
 * a rate of 0 turns the limit off.
 *   set sip-alg validation strict sdp pass block MESSAGE,SUBSCRIBE invite-rate 20 burst 40
 */
VLIB_CLI_COMMAND (sip_alg_validation_command, static) = {
  .path = "set sip-alg validation",
  .short_help = "set sip-alg validation [strict|lenient] [parse|header|sdp|too-many pass|drop] "
		"[block <METHOD>[,<METHOD>...]|none] [invite-rate <n> [burst <n>]] "
		"[register-rate <n> [burst <n>]]",
  .function = sip_alg_validation_command_fn,
};

static u64
sip_alg_counter_sum (vlib_main_t *vm, u32 counter)
{
  vlib_node_t *n = vlib_get_node (vm, sip_alg_post_node.index);
  u32 ci = n->error_heap_index + counter;
  u64 sum = 0;
  foreach_vlib_main ()
    {
      vlib_error_main_t *tem = &this_vlib_main->error_main;
      sum += tem->counters[ci];
      if (ci < vec_len (tem->counters_last_clear))
	sum -= tem->counters_last_clear[ci];
    }
  return sum;
}

/*
 * Sessions the ALG's entries let in, in the shape of a firewall's "display firewall
 * session-table": per installed entry and thread, the last outside party the gate let
 * through and the packets and bytes it passed, then the policy verdicts.
 */
static clib_error_t *
sip_alg_show_sessions_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  sip_alg_main_t *sam = &sip_alg_main;
  sip_alg_smap_t *e;
  u32 n = 0;

  pool_foreach (e, sam->smap)
    {
      u32 ei = e - sam->smap;
      if (!e->ph.installed)
	continue;
      for (u32 t = 0; t < vec_len (sam->per_thread); t++)
	{
	  sip_alg_per_thread_t *ptd = &sam->per_thread[t];
	  if (ei >= vec_len (ptd->gate_act) || !ptd->gate_act[ei].addr.as_u32)
	    continue;
	  sip_alg_gate_act_t *g = &ptd->gate_act[ei];
	  vlib_cli_output (vm,
			   "%U VPN: %U --> %U %U:%u --> %U:%u[%U:%u] thread %u "
			   "packets %llu bytes %llu",
			   format_sip_alg_app, (u32) e->ph.app, format_sip_alg_vpn, e->ph.out_fib,
			   format_sip_alg_vpn, e->ph.in_fib, format_ip4_address,
			   &g->addr, clib_net_to_host_u16 (g->port), format_ip4_address,
			   &e->ph.pub_addr, e->ph.pub_port, format_ip4_address, &e->ph.in_addr,
			   e->ph.in_port, t, g->packets, g->bytes);
	  n++;
	}
    }
  vlib_cli_output (vm, "%u session%s; policy verdicts: gate_pass %llu, gate_miss %llu", n,
		   n == 1 ? "" : "s", sip_alg_counter_sum (vm, SIP_ALG_ERROR_GATE_PASS),
		   sip_alg_counter_sum (vm, SIP_ALG_ERROR_GATE_MISS));
  return 0;
}

VLIB_CLI_COMMAND (sip_alg_show_sessions, static) = {
  .path = "show sip-alg sessions",
  .short_help = "show sip-alg sessions",
  .function = sip_alg_show_sessions_fn,
};

static clib_error_t *
sip_alg_show_server_map_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  sip_alg_main_t *sam = &sip_alg_main;
  sip_alg_smap_t *e;
  f64 now = vlib_time_now (vm);

  pool_foreach (e, sam->smap)
    vlib_cli_output (vm, "%U", format_sip_alg_smap, e, now);
  return 0;
}

VLIB_CLI_COMMAND (sip_alg_show_server_map, static) = {
  .path = "show sip-alg server-map",
  .short_help = "show sip-alg server-map",
  .function = sip_alg_show_server_map_fn,
};

static clib_error_t *
sip_alg_show_calls_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  sip_alg_main_t *sam = &sip_alg_main;
  f64 now = vlib_time_now (vm);

  /* not mp-safe: runs with the workers stopped, so their pools can be read */
  for (u32 t = 0; t < vec_len (sam->per_thread); t++)
    {
      sip_alg_call_t *c;
      pool_foreach (c, sam->per_thread[t].calls)
	{
	  vlib_cli_output (vm, "Thread: %u, %U", t, format_sip_alg_call, c, now);
	  /* its media streams, a line each */
	  sip_alg_stream_t st[SIP_ALG_CALL_MAX_MEDIA];
	  u32 n = sip_alg_call_streams (sam, c, st, ARRAY_LEN (st));
	  for (u32 k = 0; k < n; k++)
	    vlib_cli_output (vm, "  %U", format_sip_alg_stream, c, &st[k], now);
	}
    }
  return 0;
}

VLIB_CLI_COMMAND (sip_alg_show_calls, static) = {
  .path = "show sip-alg calls",
  .short_help = "show sip-alg calls",
  .function = sip_alg_show_calls_fn,
};

static clib_error_t *
sip_alg_show_counters_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  vlib_node_t *n = vlib_get_node (vm, sip_alg_post_node.index);

  for (u32 i = 0; i < n->n_errors; i++)
    vlib_cli_output (vm, "%-16s %12llu  %s", n->error_counters[i].name,
		     sip_alg_counter_sum (vm, i), n->error_counters[i].desc);
  return 0;
}

VLIB_CLI_COMMAND (sip_alg_show_counters, static) = {
  .path = "show sip-alg counters",
  .short_help = "show sip-alg counters",
  .function = sip_alg_show_counters_fn,
};

static clib_error_t *
sip_alg_show_config_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  sip_alg_main_t *sam = &sip_alg_main;
  vnet_main_t *vnm = vnet_get_main ();
  u8 *s = 0;
  for (int i = 0; i < sam->n_udp_ports; i++)
    s = format (s, "%s%u", i ? "," : "", clib_net_to_host_u16 (sam->udp_ports[i]));
  vlib_cli_output (vm, "ports udp %v", s);
  vec_reset_length (s);
  for (int i = 0; i < sam->n_tcp_ports; i++)
    s = format (s, "%s%u", i ? "," : "", clib_net_to_host_u16 (sam->tcp_ports[i]));
  if (!sam->n_tcp_ports)
    s = format (s, "none");
  vlib_cli_output (vm, "ports tcp %v (reassembly %u bytes per direction)", s,
		   sam->limits.tcp_reassembly);
  if (!sip_alg_is_sip_tcp_port (sam, clib_host_to_net_u16 (SIP_ALG_TLS_PORT)))
    vlib_cli_output (vm, "ports tls %u (encrypted: passed untouched, connections counted)",
		     SIP_ALG_TLS_PORT);
  vlib_cli_output (vm, "timeouts signaling %u media %u call %u media-inactivity %u max-duration %u",
		   sam->timeouts.signaling, sam->timeouts.media, sam->timeouts.call,
		   sam->timeouts.media_inactivity, sam->timeouts.max_duration);
  vlib_cli_output (vm, "one-way-media %u (s, 0: off)", sam->timeouts.one_way_media);
  /* the pool is built when the ALG is first enabled; count the range before that */
  vlib_cli_output (vm, "media-ports %u-%u (%u pairs %sshared by all threads, %u in use)",
		   sam->limits.media_port_lo, sam->limits.media_port_hi,
		   ((u32) sam->limits.media_port_hi - sam->limits.media_port_lo + 1) / 2,
		   sam->media.n_addrs ? "per media address " : "",
		   sip_alg_media_ports_in_use (sam));
  vec_reset_length (s);
  for (u32 i = 0; i < sam->media.n_addrs; i++)
    s = format (s, " %U (%u in use)", format_ip4_address, &sam->media.addrs[i],
		sip_alg_media_slot_in_use (sam, i + 1));
  if (!sam->media.n_addrs)
    s = format (s, " none (the signaling's public address)");
  vlib_cli_output (vm, "media-addresses%v", s);
  vlib_cli_output (vm, "media-other-hosts %s", sam->media.other_hosts ? "on" : "off");
  vlib_cli_output (vm, "max-calls %u per worker", sam->limits.max_calls);
  u32 held = 0;
  for (u32 t = 0; t < vec_len (sam->per_thread); t++)
    held += sam->per_thread[t].n_held;
  vlib_cli_output (vm, "max-held %u per thread (%u held now)", sam->limits.max_held, held);
  u8 *servers = 0;
  for (u32 i = 0; i < sam->n_servers; i++)
    servers = format (servers, " %U:%u", format_ip4_address, &sam->server_addr[i],
		      sam->server_port[i]);
  if (!servers)
    servers = format (0, " none");
  vlib_cli_output (vm, "servers%v", servers);
  vec_free (servers);
  vlib_cli_output (vm,
		   "security max-inbound-calls %u max-inbound-per-source %u (per worker) "
		   "max-binding-time %u max-entries %u (%u in use) max-entries-per-call %u "
		   "inside-media-ports %u-%u",
		   sam->sec.max_inbound_calls, sam->sec.max_inbound_per_source, sam->sec.max_binding_time,
		   sam->sec.max_entries, pool_elts (sam->smap), sam->sec.max_entries_per_call,
		   sam->sec.inside_port_lo, sam->sec.inside_port_hi);
  vlib_cli_output (vm, "host limits max-calls-per-host %u (per worker) max-entries-per-host %u "
		       "(0: off)",
		   sam->sec.max_calls_per_host, sam->sec.max_entries_per_host);
  vec_reset_length (s);
  for (int i = 0; i < SIP_ALG_N_CLASSES; i++)
    s = format (s, " %s %s", sip_alg_class_names[i],
		sam->val.action[i] == SIP_ALG_ACTION_DROP ? "drop" : "pass");
  vlib_cli_output (vm, "validation %s%v block %U", sam->val.strict ? "strict" : "lenient", s,
		   format_sip_alg_methods, sam->val.block_methods);
  vlib_cli_output (vm, "rate-limits invite %u/s burst %u register %u/s burst %u "
		       "(per source and worker, 0: off)",
		   sam->val.rate[SIP_ALG_RATE_INVITE].rate, sam->val.rate[SIP_ALG_RATE_INVITE].burst,
		   sam->val.rate[SIP_ALG_RATE_REGISTER].rate,
		   sam->val.rate[SIP_ALG_RATE_REGISTER].burst);
  if (sam->initialized)
    vlib_cli_output (vm, "pinholes %U", sam->nat->format_status);
  uword i;
  clib_bitmap_foreach (i, sam->if_enabled)
    {
      vlib_cli_output (vm, "interface %U%s", format_vnet_sw_if_index_name, vnm, i,
		       clib_bitmap_get (sam->gate_if, i) ?
			 (sam->pre_next_acl != ~0 ? " (NAT outside: gate before the input ACL)" :
						    " (NAT outside: no ACL plugin, no gate)") :
			 "");
      vlib_cli_output (vm, "  SIP packets: %U", format_sip_alg_chain, sam, i);
    }
  vec_free (s);
  return 0;
}

VLIB_CLI_COMMAND (sip_alg_show_config, static) = {
  .path = "show sip-alg config",
  .short_help = "show sip-alg config",
  .function = sip_alg_show_config_fn,
};

/* Bytes a vector or pool holds on the heap (0 for none). */
static uword
sip_alg_vec_bytes (void *v)
{
  return v ? vec_mem_size (v) : 0;
}

/* A row of `show sip-alg memory`: a structure, its heap bytes, how many it holds. */
typedef struct
{
  const char *name;
  u64 bytes;
  u64 n;
} sip_alg_mem_row_t;

static void
sip_alg_mem_add (sip_alg_mem_row_t *rows, u32 i, const char *name, u64 bytes, u64 n)
{
  rows[i].name = name;
  rows[i].bytes += bytes;
  rows[i].n += n;
}

/*
 * What the ALG's state holds: the variable part (call records and their Call-ID keys and
 * hashes, TCP connections, the server map, its index, the per-thread gate and media
 * records) by structure, and the per-call figure. Heap bytes are allocated sizes (pools,
 * hashes and vectors grow in steps). Fixed tables (port bitmaps, rate buckets, STUN
 * mappings, recently closed calls, the media port pool) are not counted.
 */
static clib_error_t *
sip_alg_show_memory_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  sip_alg_main_t *sam = &sip_alg_main;
  sip_alg_mem_row_t r[12] = {};
  u64 calls = 0;
  sip_alg_per_thread_t *ptd;
  sip_alg_call_t *c;
  sip_alg_tcp_conn_t *tc;

  if (!sam->initialized)
    return clib_error_return (0, "sip-alg is not enabled on any interface");
  vec_foreach (ptd, sam->per_thread)
    {
      u64 keys = 0, tcp = 0;
      calls += pool_elts (ptd->calls);
      sip_alg_mem_add (r, 0, "call records (pools)", sip_alg_vec_bytes (ptd->calls),
		       pool_elts (ptd->calls));
      pool_foreach (c, ptd->calls)
	keys += sip_alg_vec_bytes (c->call_id);
      sip_alg_mem_add (r, 1, "Call-ID keys", keys, pool_elts (ptd->calls));
      sip_alg_mem_add (r, 2, "Call-ID index (slots)", sip_alg_vec_bytes (ptd->call_ix),
		       ptd->call_ix_n);
      sip_alg_mem_add (r, 10, "call side parts (pools)", sip_alg_vec_bytes (ptd->call_ext),
		       pool_elts (ptd->call_ext));
      sip_alg_mem_add (r, 3, "calls per host and source hashes",
		       hash_bytes (ptd->inbound_by_src) + hash_bytes (ptd->calls_by_host),
		       hash_elts (ptd->inbound_by_src) + hash_elts (ptd->calls_by_host));
      tcp += sip_alg_vec_bytes (ptd->tcp_conns) + hash_bytes (ptd->tcp_by_key);
      pool_foreach (tc, ptd->tcp_conns)
	tcp += sizeof (*tc->key) + sip_alg_tcp_conn_bytes (tc);
      sip_alg_mem_add (r, 4, "tcp connections", tcp, pool_elts (ptd->tcp_conns));
      sip_alg_mem_add (r, 7, "per-thread gate records", sip_alg_vec_bytes (ptd->gate_act),
		       vec_len (ptd->gate_act));
      sip_alg_mem_add (r, 8, "per-thread media records", sip_alg_vec_bytes (ptd->media_act),
		       vec_len (ptd->media_act));
    }
  sip_alg_mem_add (r, 5, "server-map entries (pool)", sip_alg_vec_bytes (sam->smap),
		   pool_elts (sam->smap));
  sip_alg_mem_add (r, 6, "server-map index (slots)", sip_alg_vec_bytes (sam->ix), sam->ix_n);
  sip_alg_mem_add (r, 9, "entries per host, moved phones hashes",
		   hash_bytes (sam->entries_by_host) + hash_bytes (sam->moved_by_in),
		   hash_elts (sam->entries_by_host) + hash_elts (sam->moved_by_in));

  u64 rec = r[0].bytes + r[10].bytes, keys = r[1].bytes;
  u64 hashes = r[2].bytes + r[3].bytes, tcp = r[4].bytes;
  u64 smap = r[5].bytes + r[7].bytes + r[8].bytes + r[9].bytes, total = 0;
  for (u32 i = 0; i < ARRAY_LEN (r); i++)
    total += r[i].bytes;
  vlib_cli_output (vm, "call records %llu: %llu bytes (%u each), Call-ID keys %llu, hashes %llu",
		   calls, rec, (u32) sizeof (sip_alg_call_t), keys, hashes);
  vlib_cli_output (vm, "server map %u entries: %llu bytes (%u each, with per-thread records)",
		   pool_elts (sam->smap), smap, (u32) sizeof (sip_alg_smap_t));
  vlib_cli_output (vm, "server-map index: %llu bytes (%u slots, %u in use)", r[6].bytes,
		   vec_len (sam->ix), sam->ix_n);
  vlib_cli_output (vm, "tcp connections: %llu bytes", tcp);
  vlib_cli_output (vm, "total %llu bytes%s", total, calls ? "" : ", no call records");
  if (calls)
    vlib_cli_output (vm, "per call record %llu bytes", total / calls);
  vlib_cli_output (vm, "by structure (bytes, held, bytes per call record):");
  for (u32 i = 0; i < ARRAY_LEN (r); i++)
    if (r[i].name)
      vlib_cli_output (vm, "  %-40s %10llu %8llu %8.1f", r[i].name, r[i].bytes, r[i].n,
		       calls ? (f64) r[i].bytes / calls : 0.0);
  return 0;
}

VLIB_CLI_COMMAND (sip_alg_show_memory, static) = {
  .path = "show sip-alg memory",
  .short_help = "show sip-alg memory",
  .function = sip_alg_show_memory_fn,
};

/* The main thread's share of the work: request batches and NAT44-ED static mappings. */
static clib_error_t *
sip_alg_show_main_thread_fn (vlib_main_t *vm, unformat_input_t *input, vlib_cli_command_t *cmd)
{
  sip_alg_main_t *sam = &sip_alg_main;
  f64 us = 1e6 / vm->clib_time.clocks_per_second;
#define _(n, c) (c) * us, (n) ? (c) * us / (n) : 0.0
  vlib_cli_output (vm, "request batches %llu (one barrier each, held for), requests %llu: "
		       "%.0f us (%.1f us a batch, %.0f us at most); %llu batches cut at the "
		       "barrier budget",
		   sam->mt.batches, sam->mt.requests, _(sam->mt.batches, sam->mt.batch_clocks),
		   sam->mt.batch_max * us, sam->mt.deferred);
  vlib_cli_output (vm, "server-map index resized %llu times (all at once): %.0f us (%.0f us at "
		       "most)",
		   sam->mt.ix_resizes, sam->mt.ix_resize_clocks * us, sam->mt.ix_resize_max * us);
  vlib_cli_output (vm, "NAT44-ED static mappings added %llu: %.0f us (%.1f us each)",
		   sam->mt.nat_add, _(sam->mt.nat_add, sam->mt.nat_add_clocks));
  vlib_cli_output (vm, "NAT44-ED static mappings deleted %llu: %.0f us (%.1f us each)",
		   sam->mt.nat_del, _(sam->mt.nat_del, sam->mt.nat_del_clocks));
  vlib_cli_output (vm, "aging passes %llu, in %llu slices (one barrier each, held for): %.0f us "
		       "(%.1f us a slice, %.0f us at most); %u expired waiting",
		   sam->mt.ages, sam->mt.age_slices, _(sam->mt.age_slices, sam->mt.age_clocks),
		   sam->mt.age_max * us, sip_alg_age_backlog ());
#undef _
  return 0;
}

VLIB_CLI_COMMAND (sip_alg_show_main_thread, static) = {
  .path = "show sip-alg main-thread",
  .short_help = "show sip-alg main-thread",
  .function = sip_alg_show_main_thread_fn,
};
