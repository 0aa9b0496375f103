# SPDX-License-Identifier: Apache-2.0
"""TRex STL profile: the non-SIP UDP baseline, many flows from the inside through NAT44-ED.

Port 0 (inside) sends UDP to 198.51.100.1:9 from `hosts` inside addresses (192.168.1.10 up)
times `ports` source ports (1024 up): hosts x ports flows, each a NAT44-ED session, the
tuple generator walking them in turn (CSIT's unidirectional NAT44-ED method; stateless TRex
cannot learn the translations for a reply direction). Frame sizes count the FCS (64 B = 60
bytes built). For the ALG these are non-SIP packets: they measure what it costs on traffic
that is not its own. Flow-stats group PG_UDP.

ONE_SEGMENT: TRex builds a frame over 128 B whose field engine writes end more than 64 bytes
before its end from two buffers (the written head, a shared constant tail), and the memif
driver of TRex v3.08's DPDK never clears the descriptor chain flag it sets on a ring slot for
such a frame: after the ring was once full, later frames through those slots arrive at VPP
merged pairwise (half of them lost, for the rest of the TRex run). So larger frames get a
write into their last two bytes (the source port again, in the payload), which keeps every
frame in one buffer.

Tunables (STLProfile.load_py(path, port_id=0, size=64, ...), or `-t` in trex-console):
  --size N      frame size with FCS (default 64)
  --hosts N     inside source addresses (default 100, at most 118)
  --ports N     source ports per address (default 10)
  --pps N       rate (default 1000; run.py sets it per trial)
"""

import argparse

from trex.stl.api import (IP, UDP, Ether, STLFlowStats, STLPktBuilder, STLStream, STLTXCont,
                          STLVM)

FIRST_HOST, FIRST_PORT = "192.168.1.10", 1024
DST, DPORT = "198.51.100.1", 9
PG_UDP = 1


class UdpFlows:
    def get_streams(self, port_id=0, direction=0, tunables=(), **kwargs):
        p = argparse.ArgumentParser(prog="udp_flows.py")
        p.add_argument("--size", type=int, default=64)
        p.add_argument("--hosts", type=int, default=100)
        p.add_argument("--ports", type=int, default=10)
        p.add_argument("--pps", type=float, default=1000.0)
        args = p.parse_args(tunables)
        if not 1 <= args.hosts <= 118:  # 192.168.1.10-127; SIP calls use .128 up
            p.error("--hosts must be 1-118")
        if port_id != 0:
            return []
        base = Ether() / IP(src=FIRST_HOST, dst=DST) / UDP(sport=FIRST_PORT, dport=DPORT, chksum=0)
        pkt = base / bytes(max(args.size - 4 - len(base), 0))
        last = FIRST_HOST.rsplit(".", 1)[0] + "." + str(10 + args.hosts - 1)
        vm = STLVM()
        vm.tuple_var(name="t", ip_min=FIRST_HOST, ip_max=last, port_min=FIRST_PORT,
                     port_max=FIRST_PORT + args.ports - 1)
        vm.write(fv_name="t.ip", pkt_offset="IP.src")
        vm.write(fv_name="t.port", pkt_offset="UDP.sport")
        if len(pkt) > 128:  # one buffer per frame, see ONE_SEGMENT
            vm.write(fv_name="t.port", pkt_offset=len(pkt) - 2)
        vm.fix_chksum()
        return [STLStream(packet=STLPktBuilder(pkt=pkt, vm=vm), mode=STLTXCont(pps=args.pps),
                          flow_stats=STLFlowStats(pg_id=PG_UDP))]


def register():
    return UdpFlows()
