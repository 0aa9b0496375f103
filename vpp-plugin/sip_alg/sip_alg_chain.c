/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sip-alg-post off the path of every packet that is not SIP.
 *
 * sip-alg-post is a feature of ip4-unicast (registered, so it has its place in the arc: after
 * NAT44-ED's input nodes) but enabled on no interface. For each interface the ALG is on, the
 * main thread keeps a second feature configuration next to the interface's own: the same
 * features plus sip-alg-post. sip-alg-pre moves a packet it marks (SIP, STUN) onto that
 * second configuration at the same place (sip_alg_chain_post): up to where sip-alg-post is
 * inserted the two configuration strings are the same words, so the packet goes on through
 * the ACL and NAT44-ED exactly as before, and the feature before sip-alg-post (NAT44-ED)
 * then sends it there. Every other packet stays on the interface's configuration and never
 * meets sip-alg-post: the ALG costs one feature node on the path of the rest of the
 * traffic, not two.
 *
 * A configuration string (vnet/config.c) is one word per feature, the next index from the
 * feature before, then the feature's configuration data; a buffer's current_config_index is
 * an index into the strings' shared heap. The second string is made with
 * vnet_config_add_feature from the interface's; it is kept (one reference) until the
 * interface's configuration changes (any feature enabled or disabled on it: the feature
 * update callback) or the ALG is turned off there, then let go.
 */

#include <vnet/vnet.h>
#include <vnet/feature/feature.h>
#include <sip_alg/sip_alg.h>

static vnet_config_main_t *
sip_alg_chain_config_main (sip_alg_main_t *sam)
{
  return &feature_main.feature_config_mains[sam->arc_index].config_main;
}

static vnet_config_t *
sip_alg_chain_config (vnet_config_main_t *cm, u32 user_index)
{
  return pool_elt_at_index (cm->config_pool, cm->config_pool_index_by_user_index[user_index]);
}

/*
 * The interface's second configuration, made again from its current one (or let go where
 * the ALG is off). Main thread, under the barrier when workers run (feature changes are).
 */
void
sip_alg_chain_update (sip_alg_main_t *sam, u32 sw_if_index)
{
  vnet_feature_config_main_t *fcm = &feature_main.feature_config_mains[sam->arc_index];
  vnet_config_main_t *cm = sip_alg_chain_config_main (sam);
  sip_alg_chain_t none = { .start = ~0, .shadow = ~0 };

  vec_validate_init_empty (sam->chains, sw_if_index, none);
  sip_alg_chain_t *ch = vec_elt_at_index (sam->chains, sw_if_index);
  if (ch->shadow != ~0)
    vnet_config_del (cm, ch->shadow);
  *ch = none;
  if (!clib_bitmap_get (sam->if_enabled, sw_if_index) ||
      sw_if_index >= vec_len (fcm->config_index_by_sw_if_index))
    return;
  u32 start = fcm->config_index_by_sw_if_index[sw_if_index];
  if (start == ~0)
    return;
  /* vnet_config_add_feature lets go of one reference of the configuration it starts from:
     the interface's own must keep its */
  sip_alg_chain_config (cm, start)->reference_count++;
  u32 shadow = vnet_config_add_feature (vlib_get_main (), cm, start, sam->post_feature_index, 0, 0);
  if (shadow == ~0)
    {
      sip_alg_chain_config (cm, start)->reference_count--;
      return;
    }
  /* the pool may have moved: look both up now */
  u32 *a = sip_alg_chain_config (cm, start)->config_string_vector;
  u32 *b = sip_alg_chain_config (cm, shadow)->config_string_vector;
  u32 same = 0;
  while (same < vec_len (a) && same < vec_len (b) && a[same] == b[same])
    same++;
  ch->start = start;
  ch->shadow = shadow;
  ch->same = same;
}

void
sip_alg_chain_init (sip_alg_main_t *sam)
{
  sam->arc_index = vnet_get_feature_arc_index ("ip4-unicast");
  sam->post_feature_index = vnet_get_feature_index (sam->arc_index, "sip-alg-post");
}

/*
 * The features a packet sip-alg-pre marks goes through on the interface (its second
 * configuration), from sip-alg-pre on; other packets take the interface's own
 * (`show interface features`), without sip-alg-post.
 */
u8 *
format_sip_alg_chain (u8 *s, va_list *args)
{
  sip_alg_main_t *sam = va_arg (*args, sip_alg_main_t *);
  u32 sw_if_index = va_arg (*args, u32);
  vlib_main_t *vm = vlib_get_main ();

  if (sw_if_index >= vec_len (sam->chains) || sam->chains[sw_if_index].shadow == ~0)
    return format (s, "no path through sip-alg-post (passed untouched, counted: no_post)");
  vnet_config_main_t *cm = sip_alg_chain_config_main (sam);
  vnet_config_t *c = sip_alg_chain_config (cm, sam->chains[sw_if_index].shadow);
  vnet_config_feature_t *f;
  int n_shown = 0;
  vec_foreach (f, c->features)
    if (n_shown || f->node_index == sip_alg_pre_node.index)
      s = format (s, "%s%v", n_shown++ ? " " : "", vlib_get_node (vm, f->node_index)->name);
  return s;
}
