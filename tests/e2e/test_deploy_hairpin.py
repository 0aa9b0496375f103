# SPDX-License-Identifier: Apache-2.0
"""Tier 2, deployment (issue 14, item 2): hairpin. Two inside phones, 192.168.1.1 (alice)
and 192.168.1.3 (bob), each at SIP port 2000 and RTP port 6000 of its own address, register
with the outside Kamailio registrar (tests/data/kamailio-registrar.cfg.in) and call each
other through it, with 0 and 2 VPP workers: the signaling goes out to the registrar and
comes back in to the other phone through its REGISTER binding, and the media between the
two phones hairpins through NAT44-ED: each sends to the other's public media port, which is
a NAT44-ED static mapping (the ALG's pinhole), and NAT44-ED turns it around inside
(nat44_ed_in2out.c: a destination that is a static mapping's external endpoint makes a
hairpinning session). Asserted: what each phone sees in the SDP it receives (the NAT
address and the other's public port, as the server map has them), RTP arriving at each
phone from the NAT address, the hairpin session in NAT44-ED, no media outside."""

import pytest

from deploy import PHONE3, add_inside_host, check_hairpin, check_hairpin_media, hairpin_call
from topo import Topo, topo_fixture


class HairpinTopo(Topo):
    """topo.py's topology and VPP, plus the second inside phone's address."""

    def _setup(self):
        super()._setup()
        add_inside_host(self, PHONE3)


@pytest.fixture(params=(0, 2), ids=("0w", "2w"))
def hairpin(e2e_prefix, request):
    yield from topo_fixture(e2e_prefix, request, cls=HairpinTopo, workers=request.param)


def test_hairpin_call_between_inside_phones(hairpin, tmp_path):
    t, tmp = hairpin, str(tmp_path)
    hp = hairpin_call(t, tmp)
    check_hairpin(t, hp, tmp)
    check_hairpin_media(t, hp)
