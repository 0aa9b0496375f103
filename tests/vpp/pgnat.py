# SPDX-License-Identifier: Apache-2.0
"""Tier 1 topology: a private VPP with NAT44-ED and the ALG on two packet-generator
interfaces (pg0 inside 192.168.1.0/24, pg1 outside 203.0.113.0/24, NAT address 203.0.113.10),
with any number of workers."""

import os
import re
import time

import pytest

import sipmsgs as S
import vpp_harness as h

from scapy.all import Ether, IP, UDP, Raw, rdpcap, wrpcap  # noqa: E402


class PgNat:
    """VPP + NAT44-ED + SIP ALG between pg0 (inside) and pg1 (outside)."""

    INSIDE_GW, OUTSIDE_GW = "192.168.1.254", "203.0.113.1"
    A_MAC, ROUTER_MAC = "02:00:00:00:01:01", "02:00:00:00:02:02"

    def __init__(self, prefix, workers=0, alg=True, sessions=10000, buffer_pages="4k",
                 nat_plugin_dir=None, main_heap="512M"):
        self.vpp = h.VPP(prefix, workers=workers, buffer_pages=buffer_pages,
                         nat_plugin_dir=nat_plugin_dir, main_heap=main_heap)
        self.workers = workers
        self.alg = alg
        self.sessions = sessions
        self.n = 0

    def __enter__(self):
        v = self.vpp
        v.start()
        for c in [
            "create packet-generator interface pg0",
            "create packet-generator interface pg1",
            f"set int ip address pg0 {self.INSIDE_GW}/24",
            f"set int ip address pg1 {self.OUTSIDE_GW}/24",
            "set int state pg0 up",
            "set int state pg1 up",
            f"ip neighbor pg0 {S.A} {self.A_MAC}",
            f"ip neighbor pg0 {S.A2} {self.A_MAC}",
            f"ip neighbor pg1 203.0.113.2 {self.ROUTER_MAC}",
            "ip route add 198.51.100.0/24 via 203.0.113.2 pg1",
            f"nat44 plugin enable sessions {self.sessions}",
            f"nat44 add address {S.PUB}",
            "set interface nat44 in pg0 out pg1",
        ] + (["set sip-alg interface pg0", "set sip-alg interface pg1"] if self.alg else []):
            v.cli_ok(c)
        self.mac = {i: self._mac(i) for i in ("pg0", "pg1")}
        return self

    def __exit__(self, *exc):
        h.finish(self.vpp, failed=exc[0] is not None or self.failed)

    failed = False  # set by the fixture from the test's outcome

    def _mac(self, ifname):
        hw = self.vpp.cli(f"show hardware-interfaces {ifname}")
        return re.search(r"Ethernet address (\S+)", hw).group(1)

    def udp(self, iface, src, sport, dst, dport, payload):
        peer_mac = self.A_MAC if iface == "pg0" else self.ROUTER_MAC
        return (Ether(dst=self.mac[iface], src=peer_mac) / IP(src=src, dst=dst) /
                UDP(sport=sport, dport=dport) / Raw(payload))

    # after the expected packets arrived, how long more may come (a duplicate the ALG made
    # leaves in the same dispatch or the next one); with nothing expected, how long to look
    SETTLE, QUIET = 0.05, 0.3

    def send(self, iface, pkts, out_iface, count, timeout=5.0, worker=None):
        """Send pkts on iface; return every packet out_iface sent until count of them came
        and SETTLE passed (QUIET when count is 0), so that a packet that should have been
        dropped, and one more than expected, are both seen. The capture is armed for more
        than count and disabled before the file is read. worker: the pg stream's thread
        (with workers)."""
        return self.send_streams([(iface, pkts)], out_iface, count, timeout, worker)

    def send_streams(self, streams, out_iface, count, timeout=5.0, worker=None):
        """send() for several pg streams [(iface, pkts)] started by one command: pg-input
        sends them in one dispatch."""
        self.n += 1
        d, n = self.vpp.dir, self.n
        out = f"{d}/out{n}.pcap"
        room = count + sum(len(p) for _, p in streams) + 64
        self.vpp.cli_ok(f"packet-generator capture {out_iface} pcap {out} count {room}")
        on = f" worker {worker}" if worker is not None and self.workers else ""
        names = []
        for i, (iface, pkts) in enumerate(streams):
            names.append(f"s{n}_{i}")
            wrpcap(f"{d}/in{n}_{i}.pcap", pkts)
            self.vpp.cli_ok(f"packet-generator new pcap {d}/in{n}_{i}.pcap source {iface} "
                            f"name {names[-1]}{on}")
        if len(names) == 1:
            self.vpp.cli_ok(f"packet-generator enable-stream {names[0]}")
        else:
            self.vpp.cli_ok("packet-generator enable")

        def read():
            # pg output writes the file at the end of each frame it sends
            return rdpcap(out) if os.path.exists(out) and os.path.getsize(out) > 24 else []

        got = []
        deadline = time.time() + timeout
        while count and time.time() < deadline:
            got = read()
            if len(got) >= count:
                break
            time.sleep(0.02)
        time.sleep(self.QUIET if not count else self.SETTLE if len(got) >= count else 0)
        self.vpp.cli_ok(f"packet-generator capture {out_iface} disable")
        got = read()
        for name in names:
            self.vpp.cli_ok(f"packet-generator delete {name}")
        return list(got)

    def counters(self):
        return self.vpp.counters()

    def buffers_used(self):
        """VPP's buffers in use, summed over its pools (`show buffers`, column Used: neither
        free in the pool nor in a thread's cache). With no packet in flight or held it is 0,
        so a buffer the plugin leaked, or one still linked somewhere after it was freed,
        shows here."""
        out = self.vpp.cli("show buffers").splitlines()
        cols = out[0].split()
        col = cols.index("Used") - len(cols)  # from the end: a pool name may hold spaces
        return sum(int(l.split()[col]) for l in out[1:] if l.strip())

    def thread_counters(self):
        """{(thread name, counter description): value} of sip-alg-post, per thread, from
        `show errors verbose`."""
        out, thread = {}, None
        for line in self.vpp.cli("show errors verbose").splitlines():
            if line.startswith("Total:"):
                break
            m = re.match(r"Thread (\d+) \((\S+)\)", line)
            if m:
                thread = m.group(2)
                continue
            m = re.match(r"\s*(\d+)\s+sip-alg-post\s+(.+?)\s{2,}", line + "  ")
            if m and thread:
                out[(thread, m.group(2).strip())] = int(m.group(1))
        return out

    def server_map(self):
        return self.vpp.server_map()

    def static_mappings(self):
        return self.vpp.static_mappings()


def pgnat_fixture(prefix, request, workers, cls=PgNat):
    """A fixture's topology (cls: PgNat or a variant) with that many workers: skipped with
    the reason where they cannot run; its VPP's logs kept when the test failed."""
    why = h.workers_unavailable(workers)
    if why:
        pytest.skip(why)
    with cls(prefix, workers=workers) as t:
        yield t
        t.failed = h.failed_test(request)
