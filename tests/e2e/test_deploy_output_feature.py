# SPDX-License-Identifier: Apache-2.0
"""Tier 2, deployment (issue 14): NAT44-ED's output feature. The ALG works with NAT44-ED
inside/outside interfaces only, and the YAML cannot configure the output feature; set by
hand on the seed's outside interface (brought up by `sipalgctl up`), sipalgctl says so:

- plan and apply stop (exit 3) naming the interface, before sending anything (NAT44-ED
  would refuse the outside role there, and the ALG the interface);
- the plugin refuses the ALG on such an interface with VNET_API_ERROR_UNSUPPORTED, which
  apply explains the same way (what plan.UNSUPPORTED stands for, checked here);
- with the output feature taken off again, apply brings the interface back."""

import pytest

from deploy import ExampleTopo
from topo import ctl

from sipalgctl import plan as P, vpp as V


def test_output_feature_interface(e2e_prefix, tmp_path):
    with ExampleTopo(e2e_prefix, str(tmp_path), "seed.yaml") as t:
        out = f"host-{t.if_out_vpp}"
        for cmd in (f"set sip-alg interface {out} disable", f"set interface nat44 out {out} del",
                    f"set interface nat44 out {out} output-feature"):
            t.vpp.cli_ok(cmd)
        why = P.output_feature(out)
        for cmd in ("plan", "apply"):
            r = ctl(cmd, t.cfg, check=False)
            assert (r.returncode, r.stdout, r.stderr) == \
                (3, "", f"sipalgctl: interfaces.outside: {why}\n"), (cmd, r)

        with V.Client(f"{t.run}/api.sock", e2e_prefix) as c:
            idx = P.read_state(c).sw_if_index[out]
            r = c.vpp.api.sip_alg_interface_enable_disable(sw_if_index=idx, enable=True)
            assert r.retval == P.UNSUPPORTED
            with pytest.raises(V.ApiError) as e:
                P.apply(c, [P.AlgInterface(out, idx, True)])
            assert str(e.value) == f"sip_alg_interface_enable_disable failed: retval " \
                                   f"{P.UNSUPPORTED}: {why}"
        assert "NAT44-ED output feature on it" in t.vpp.cli(f"set sip-alg interface {out}")

        t.vpp.cli_ok(f"set interface nat44 out {out} output-feature del")
        applied = ctl("apply", t.cfg).stdout.splitlines()
        assert [l.split("] ", 1)[1] for l in applied] == [
            f"set interface nat44 out {out}", f"set sip-alg interface {out}"]
        assert ctl("plan", t.cfg).stdout.strip() == "nothing to do"
        t.down()
