# SPDX-License-Identifier: Apache-2.0
"""Reconcile a configuration with a running VPP: read its state once (state.py), plan purely
(diff.py), apply the operations in order (ops.py).

Applying a config twice plans nothing; an item removed from the YAML is removed from VPP.
sipalgctl owns, on the interfaces of the config: their IPv4 table, addresses, admin state,
routes through them (in any table), NAT44-ED (pool, interface roles, static mappings except
the ALG's own pinholes) and the SIP ALG settings; the IPv4 tables the YAML names (vrfs) and
those a configured interface is in (one the YAML no longer names is deleted once nothing of
sipalgctl's is in it, unless an interface of others is); and, wherever they are, the
firewall's ACLs (those tagged "sipalgctl:", see acl.py), which it puts first in each
interface's ACL lists, keeping other ACLs bound after them in their order.
"""

from .diff import plan, plan_alg, plan_firewall
from .ops import (ADDRESS_FOUND, NO_SUCH_FIB, RSRC_IN_USE, UNSUPPORTED, AclAddReplace, AclDel,
                  AclInterface, AlgInterface, AlgLimits, AlgMedia, AlgPorts, AlgSecurity,
                  AlgServers, AlgTimeouts, AlgValidation, InterfaceAddress, InterfaceTable,
                  IpTable, NatAddress, NatEnable, NatInterface, NatStaticMapping, NoCli, Op,
                  RouteOp, SetInterfaceState, apply, exec_script, mask_methods, method_mask,
                  output_feature, validation_fields)
from .state import (CALL_TIMERS, HOST_LIMITS, IP_PROTO, LIMITS, MEDIA, MEDIA_ADDRESSES,
                    NAT_IS_INSIDE, NAT_IS_OUTSIDE, NO_VRF, PROTO_NAME, SECURITY, SERVERS,
                    TIMEOUTS, VALIDATION, Acl, MissingPlugin, PlanError, State, alg_config,
                    read_state)
