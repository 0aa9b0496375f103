/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * Formats of the plugin's state (CLI, logs): server-map entries in a firewall's shape, call
 * records and their media streams, applications, VRFs.
 */

#include <vnet/vnet.h>
#include <vnet/ip/ip4.h>
#include <vnet/fib/fib_table.h>

#include <sip_alg/sip_alg.h>

u8 *
format_sip_alg_app (u8 *s, va_list *args)
{
  u32 app = va_arg (*args, u32);
  static const char *names[] = { "sip", "sip-rtp", "sip-rtcp" };
  return format (s, "%s", app < SIP_ALG_N_APPS ? names[app] : "?");
}

static u8 *
format_sip_alg_left_time (u8 *s, va_list *args)
{
  f64 left = va_arg (*args, f64);
  u64 t = left > 0 ? (u64) (left + 0.5) : 0;
  return format (s, "%02llu:%02llu:%02llu", t / 3600, (t / 60) % 60, t % 60);
}

/* One line per entry, in the shape of a firewall's "display firewall server-map aspf". */
u8 *
format_sip_alg_smap (u8 *s, va_list *args)
{
  sip_alg_smap_t *e = va_arg (*args, sip_alg_smap_t *);
  f64 now = va_arg (*args, f64);

  s = format (s, "Type: ASPF, ANY -> %U:%u", format_ip4_address, &e->ph.pub_addr,
	      e->ph.pub_port);
  if (e->ph.in_addr.as_u32)
    s = format (s, "[%U:%u]", format_ip4_address, &e->ph.in_addr, e->ph.in_port);
  s = format (s, ", Protocol: %s(Appro: %U), Left-Time: %U, VPN: %U -> %U",
	      e->ph.tcp ? "tcp" : "udp", format_sip_alg_app, (u32) e->ph.app,
	      format_sip_alg_left_time, e->expires - now, format_sip_alg_vpn, e->ph.out_fib,
	      format_sip_alg_vpn, e->ph.in_fib);
  return s;
}

/* The table id of an IPv4 FIB index (NAT44-ED's vrf_id), 0 for an index that is gone. */
u32
sip_alg_fib_table_id (u32 fib_index)
{
  if (pool_is_free_index (ip4_main.fibs, fib_index))
    return 0;
  return fib_table_get (fib_index, FIB_PROTOCOL_IP4)->ft_table_id;
}

/*
 * The seed's VPN column for an IPv4 FIB index: "public" for the default table, else the
 * table's name (`ip table add N [name ...]`; VPP names an unnamed one "ipv4-VRF:N").
 */
u8 *
format_sip_alg_vpn (u8 *s, va_list *args)
{
  u32 fib_index = va_arg (*args, u32);
  if (pool_is_free_index (ip4_main.fibs, fib_index))
    return format (s, "-");
  fib_table_t *ft = fib_table_get (fib_index, FIB_PROTOCOL_IP4);
  if (ft->ft_table_id == 0)
    return format (s, "public");
  if (ft->ft_desc)
    return format (s, "%v", ft->ft_desc);
  return format (s, "vrf:%u", ft->ft_table_id);
}

u8 *
format_sip_alg_call (u8 *s, va_list *args)
{
  sip_alg_main_t *sam = &sip_alg_main;
  sip_alg_call_t *c = va_arg (*args, sip_alg_call_t *);
  f64 now = va_arg (*args, f64);
  u32 media_idle = sip_alg_call_media_idle (sam, c, now);
  s = format (s, "Call-ID: %.*s, State: %s, Inside: %U:%u[%U:%u], Peer: %U:%u, Messages: %u, "
		 "Media: %u, Age: %U, Idle: %U, Media-Idle: ",
	      (int) (vec_len (c->call_id) - SIP_ALG_CALL_KEY_FIB),
	      c->call_id + SIP_ALG_CALL_KEY_FIB,
	      sip_call_state_name (c->fsm.state), format_ip4_address, &c->in_addr,
	      c->in_port, format_ip4_address, &c->pub_addr, c->pub_port, format_ip4_address,
	      &c->peer_addr, c->peer_port, c->n_msgs, c->n_media, format_sip_alg_left_time,
	      now - c->created, format_sip_alg_left_time, now - c->last_seen);
  if (media_idle == ~0)
    s = format (s, "-");
  else
    s = format (s, "%U", format_sip_alg_left_time, (f64) media_idle);
  s = format (s, ", Left-Time: %U, Epoch: %u, VPN: %U -> %U", format_sip_alg_left_time,
	      sip_alg_call_deadline (sam, c) - now, c->epoch, format_sip_alg_vpn, c->out_fib,
	      format_sip_alg_vpn, sip_alg_call_in_fib (c));
  return s;
}

/*
 * A media stream of call c, in the call's shape: its RTP pinhole, packets and seconds since
 * the last one each way (- : none yet), and One-Way: the direction that alone has had media
 * for one-way-media seconds (in2out, out2in), no, or off (the check is off).
 */
u8 *
format_sip_alg_stream (u8 *s, va_list *args)
{
  sip_alg_main_t *sam = &sip_alg_main;
  sip_alg_call_t *c = va_arg (*args, sip_alg_call_t *);
  sip_alg_stream_t *st = va_arg (*args, sip_alg_stream_t *);
  f64 now = va_arg (*args, f64);
  static const char *dirs[] = { "in2out", "out2in" };
  sip_alg_smap_t *e = pool_elt_at_index (sam->smap, st->rtp);

  s = format (s, "Stream: %U:%u[%U:%u], Packets: in2out %llu out2in %llu, Idle:",
	      format_ip4_address, &e->ph.pub_addr, e->ph.pub_port, format_ip4_address,
	      &e->ph.in_addr, e->ph.in_port, st->packets[SIP_ALG_MEDIA_IN2OUT],
	      st->packets[SIP_ALG_MEDIA_OUT2IN]);
  for (int d = 0; d < 2; d++)
    {
      s = format (s, " %s ", dirs[d]);
      if (st->last[d])
	s = format (s, "%U", format_sip_alg_left_time, now - (st->last[d] - 1));
      else
	s = format (s, "-");
    }
  int one_way = sip_alg_stream_one_way (sam, c, st, now);
  return format (s, ", One-Way: %s",
		 !sam->timeouts.one_way_media ? "off" : one_way ? dirs[one_way - 1] : "no");
}
