/* SPDX-License-Identifier: Apache-2.0
 * Copyright (c) 2026 vpp-sipalg authors */

/*
 * The main thread's side of sip-alg-pre's fast test and of the gate (sip_alg.h, "The
 * gate"): the port bitmaps (look, candidates), which interfaces the gate guards and how
 * sip-alg-pre reaches the feature after the ACL's input node, the pinhole table, and the
 * ALG's interfaces.
 */

#include <vnet/vnet.h>
#include <vnet/feature/feature.h>
#include <vlib/threads.h>

#include <sip_alg/sip_alg_nat.h>
#include <sip_alg/sip_alg_inlines.h>

/*
 * sip-alg-pre's fast test (sam->look): a UDP port is looked at when it is a candidate
 * (cand_ports), has a pinhole (gate_ports), is the inside end of a media pinhole while the
 * media inactivity timer or the one-way check runs (inside_ports: the inside party's media
 * are counted), or lies
 * in the media range while the gate guards one (gate_media: an outside interface with the
 * ACL's input node). Bitmaps keep their 65536 bits and are set in place: workers read them
 * without the barrier.
 */
static void
sip_alg_look_update (sip_alg_main_t *sam, u16 port_net)
{
  u16 port = clib_net_to_host_u16 (port_net);
  int on = clib_bitmap_get_no_check (sam->cand_ports, port_net) ||
	   clib_bitmap_get_no_check (sam->gate_ports, port_net) ||
	   (sip_alg_media_watched (sam) &&
	    clib_bitmap_get_no_check (sam->inside_ports, port_net)) ||
	   (sam->gate_media && port >= sam->limits.media_port_lo && port <= sam->limits.media_port_hi) ||
	   port == SIP_ALG_STUN_PORT;
  clib_bitmap_set_no_check (sam->look[IP_PROTOCOL_UDP], port_net, on);
}

void
sip_alg_look_rebuild (sip_alg_main_t *sam)
{
  for (u32 p = 0; p < 65536; p++)
    {
      sip_alg_look_update (sam, p);
      clib_bitmap_set_no_check (sam->look[IP_PROTOCOL_TCP], p,
				sip_alg_is_sip_tcp_port (sam, p) ||
				  p == clib_host_to_net_u16 (SIP_ALG_TLS_PORT));
    }
}

/*
 * Which interfaces the gate serves, and how sip-alg-pre reaches the nodes after the ACL's
 * input node. Main thread, after any feature change (the ACL plugin adding its node to an
 * interface adds nexts to it) and any change of the ALG's interfaces.
 */
static void
sip_alg_gate_update (sip_alg_main_t *sam)
{
  vlib_main_t *vm = vlib_get_main ();
  vlib_node_t *acl = vlib_get_node_by_name (vm, (u8 *) "acl-plugin-in-ip4-fa");
  uword *gate_if = 0;
  u32 *map = 0, pre_next_acl = ~0;
  u8 gate_media = 0;
  uword i;

  clib_bitmap_foreach (i, sam->if_enabled)
    {
      if (sam->nat->is_outside (i))
	{
	  gate_if = clib_bitmap_set (gate_if, i, 1);
	  gate_media |= acl && vnet_feature_is_enabled ("ip4-unicast", "acl-plugin-in-ip4-fa", i);
	}
    }
  if (acl) /* the ACL plugin is loaded */
    {
      pre_next_acl = vlib_node_add_next (vm, sip_alg_pre_node.index, acl->index);
      vec_validate_init_empty (map, vec_len (acl->next_nodes) - 1, ~0);
      for (u32 j = 0; j < vec_len (acl->next_nodes); j++)
	if (acl->next_nodes[j] != ~0)
	  map[j] = vlib_node_add_next (vm, sip_alg_pre_node.index, acl->next_nodes[j]);
    }
  if (clib_bitmap_is_equal (gate_if, sam->gate_if) && pre_next_acl == sam->pre_next_acl &&
      gate_media == sam->gate_media &&
      vec_len (map) == vec_len (sam->gate_next_by_acl_next) &&
      (!vec_len (map) ||
       !memcmp (map, sam->gate_next_by_acl_next, vec_len (map) * sizeof (map[0]))))
    {
      clib_bitmap_free (gate_if);
      vec_free (map);
      return;
    }
  /* workers read these without locks: swap them while they wait */
  vlib_worker_thread_barrier_sync (vm);
  uword *old_if = sam->gate_if;
  u32 *old_map = sam->gate_next_by_acl_next;
  sam->gate_if = gate_if;
  sam->gate_next_by_acl_next = map;
  sam->pre_next_acl = pre_next_acl;
  if (gate_media != sam->gate_media)
    {
      sam->gate_media = gate_media;
      sip_alg_look_rebuild (sam);
    }
  vlib_worker_thread_barrier_release (vm);
  clib_bitmap_free (old_if);
  vec_free (old_map);
}

void
sip_alg_feature_update (u32 sw_if_index, u8 arc_index, u8 is_enable, void *data)
{
  sip_alg_main_t *sam = &sip_alg_main;
  if (!sam->initialized)
    return;
  if (arc_index == sam->arc_index)
    sip_alg_chain_update (sam, sw_if_index);
  sip_alg_gate_update (sam);
  /* NAT's output feature turned on where the ALG already is: it cannot work there */
  if (is_enable && clib_bitmap_get (sam->if_enabled, sw_if_index) &&
      sam->nat->output_feature (sw_if_index))
    vlib_log_warn (sam->log_class,
		   "%U: NAT44-ED output feature on an interface with the SIP ALG: the ALG does "
		   "not work with output-feature NAT, SIP there passes untranslated",
		   format_vnet_sw_if_index_name, vnet_get_main (), sw_if_index);
}

/*
 * The gate's view of an installed pinhole (the entry is in the index by its public end
 * already: installed, it is the gate's), and its inside end for media activity (main
 * thread, barrier held).
 */
void
sip_alg_gate_add_del (sip_alg_main_t *sam, const sip_alg_smap_t *e, int is_add)
{
  u16 port_net = clib_host_to_net_u16 (e->ph.pub_port);
  u32 ei = e - sam->smap;
  sam->gate_port_refs[port_net] += is_add ? 1 : -1;
  clib_bitmap_set_no_check (sam->gate_ports, port_net, sam->gate_port_refs[port_net] > 0);
  sip_alg_look_update (sam, port_net);
  if (e->ph.app == SIP_ALG_APP_SIP)
    return; /* signaling is looked at anyway */
  port_net = clib_host_to_net_u16 (e->ph.in_port);
  if (is_add)
    {
      if (sip_alg_ix_inside (sam, e->ph.in_addr, port_net, e->ph.in_fib) != ~0)
	return; /* another entry's inside end (NAT refuses a second mapping of it anyway) */
      sip_alg_ix_add (sam, ei, SIP_ALG_IX_INSIDE);
    }
  else if (!sip_alg_ix_del (sam, ei, SIP_ALG_IX_INSIDE))
    return; /* another entry's inside end */
  sam->inside_port_refs[port_net] += is_add ? 1 : -1;
  clib_bitmap_set_no_check (sam->inside_ports, port_net, sam->inside_port_refs[port_net] > 0);
  sip_alg_look_update (sam, port_net);
}

int
sip_alg_interface_enable_disable (u32 sw_if_index, int enable)
{
  sip_alg_main_t *sam = &sip_alg_main;
  vnet_main_t *vnm = vnet_get_main ();

  if (pool_is_free_index (vnm->interface_main.sw_interfaces, sw_if_index))
    return VNET_API_ERROR_INVALID_SW_IF_INDEX;
  if (enable == clib_bitmap_get (sam->if_enabled, sw_if_index))
    return enable ? VNET_API_ERROR_FEATURE_ALREADY_ENABLED :
		    VNET_API_ERROR_FEATURE_ALREADY_DISABLED;
  if (enable && sam->nat->output_feature (sw_if_index))
    return VNET_API_ERROR_UNSUPPORTED;
  if (enable)
    sip_alg_lazy_init (sam);
  vnet_feature_enable_disable ("ip4-unicast", "sip-alg-pre", sw_if_index, enable, 0, 0);
  sam->if_enabled = clib_bitmap_set (sam->if_enabled, sw_if_index, enable);
  sip_alg_chain_update (sam, sw_if_index); /* sip-alg-post: for the packets pre marks */
  sip_alg_gate_update (sam);
  return 0;
}

/*
 * A port is a candidate while it is a configured SIP port or has a signaling endpoint. The
 * bitmap is set in place (it keeps its 65536 bits): workers read it without the barrier.
 */
void
sip_alg_cand_port_update (sip_alg_main_t *sam, u16 port_net)
{
  int on = sip_alg_is_sip_port (sam, port_net) ||
	   (sam->sig_port_refs && sam->sig_port_refs[port_net] > 0);
  clib_bitmap_set_no_check (sam->cand_ports, port_net, on);
  sip_alg_look_update (sam, port_net);
}
