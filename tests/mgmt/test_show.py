# SPDX-License-Identifier: Apache-2.0
"""`sipalgctl show session-table` on fake dumps: NAT44-ED sessions joined with the server map
in Python (each tagged with its entry's application, else its protocol), the table in the
seed's shape with aligned columns, and the gate's policy verdicts from the stats segment (0
when the plugin does not count them, unknown without a stats socket)."""

import ipaddress
import json
import os
import re
from types import SimpleNamespace

import pytest
import yaml

from sipalgctl import cli, show

SEED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "mgmt", "examples",
                    "seed.yaml")

PUB, A, B, PROXY = "203.0.113.10", "192.168.1.1", "198.51.100.2", "198.51.100.1"


def entry(public, port, app, inside="0.0.0.0", inside_port=0, inside_vrf=0, outside_vrf=0):
    return SimpleNamespace(public_address=public, public_port=port, inside_address=inside,
                           inside_port=inside_port, app=app, left_time=50, nat_mapping=1,
                           installed=1, inside_vrf=inside_vrf, outside_vrf=outside_vrf)


def table(table_id, name, is_ip6=False):
    """An ip_table_details as vpp_papi gives it (the name NUL-padded)."""
    return SimpleNamespace(table=SimpleNamespace(table_id=table_id, is_ip6=is_ip6,
                                                 name=name + "\x00" * 3))


# VPP's tables: its own names for table 0 (IPv4 and IPv6), which the VPN column calls public
TABLES = [table(0, "ipv4-VRF:0"), table(0, "ipv6-VRF:0", True)]


def session(inside, public, remote, proto=17, idle=3, pkts=10, nbytes=1720, timed_out=False):
    (ia, ip), (pa, pp), (ra, rp) = (x.split(":") for x in (inside, public, remote))
    return SimpleNamespace(inside_ip_address=ia, inside_port=int(ip), outside_ip_address=pa,
                           outside_port=int(pp), ext_host_address=ra, ext_host_port=int(rp),
                           protocol=proto, time_since_last_heard=idle, total_pkts=pkts,
                           total_bytes=nbytes, is_timed_out=timed_out)


class OnePage:
    """vpp.Client.pages() of a fake whose dump() has the whole answer: one page; VPP's tables
    (TABLES) and the table of each interface (OUTSIDE, NAT44-ED's outside interface: 0)."""

    TABLES = TABLES
    IF_TABLE = {2: 0}
    OUTSIDE = [SimpleNamespace(sw_if_index=2, flags=0x10)]
    POOL = [SimpleNamespace(ip_address=PUB, vrf_id=0xFFFFFFFF)]  # NAT44-ED's addresses

    def pages(self, msg, **kw):
        yield self.dump(msg, **kw)

    def tables(self, msg, **kw):
        """The answer to the table messages, None for other messages."""
        if msg == "ip_table_dump":
            return self.TABLES
        if msg == "nat44_interface_dump":
            return self.OUTSIDE
        if msg == "nat44_address_dump":
            return self.POOL
        return None

    def call(self, msg, **kw):
        assert msg == "sw_interface_get_table" and not kw["is_ipv6"], (msg, kw)
        return SimpleNamespace(retval=0, vrf_id=self.IF_TABLE[kw["sw_if_index"]])


class FakeClient(OnePage):
    """The seed call mid-call: A's entries (signaling, RTP, RTCP) and B's, A's sessions."""

    SERVER_MAP = [entry(PUB, 5060, 0, A, 5060), entry(PUB, 40000, 1, A, 6000),
                  entry(PUB, 40001, 2, A, 6001), entry(B, 7000, 1), entry(B, 7001, 2)]
    SESSIONS = [
        session(f"{A}:5060", f"{PUB}:5060", f"{PROXY}:5060", pkts=6, nbytes=4812),
        session(f"{A}:6000", f"{PUB}:40000", f"{B}:7000", idle=0, pkts=250, nbytes=43000),
        session(f"{A}:6001", f"{PUB}:40001", f"{B}:7001", idle=4, pkts=2, nbytes=160),
        # media from another port of A to B's RTP: B's entry names it
        session(f"{A}:6010", f"{PUB}:1025", f"{B}:7000", pkts=1, nbytes=172),
        session(f"{A}:1", f"{PUB}:63000", "192.0.2.7:1", proto=1, idle=61, pkts=1, nbytes=84),
        session(f"{A}:5353", f"{PUB}:5353", "192.0.2.9:53", timed_out=True),
    ]

    def dump(self, msg, **kw):
        if self.tables(msg) is not None:
            return self.tables(msg)
        if msg == "sip_alg_server_map_get":
            return self.SERVER_MAP
        if msg == "nat44_user_dump":
            return [SimpleNamespace(ip_address=A, vrf_id=0)]
        assert msg == "nat44_user_session_v3_dump", msg
        assert kw == {"ip_address": A, "vrf_id": 0}
        return self.SESSIONS


def test_sessions_are_tagged_with_their_entry():
    s = show.session_table(FakeClient())
    assert [(x["app"], x["alg"], x["inside"], x["public"], x["remote"]) for x in s] == [
        ("sip", True, f"{A}:5060", f"{PUB}:5060", f"{PROXY}:5060"),
        ("sip-rtp", True, f"{A}:6000", f"{PUB}:40000", f"{B}:7000"),
        ("sip-rtcp", True, f"{A}:6001", f"{PUB}:40001", f"{B}:7001"),
        ("sip-rtp", True, f"{A}:6010", f"{PUB}:1025", f"{B}:7000"),
        ("icmp", False, f"{A}:1", f"{PUB}:63000", "192.0.2.7:1"),
    ]  # the timed-out session is not shown
    assert s[1]["packets"] == 250 and s[1]["bytes"] == 43000 and s[1]["idle"] == 0
    assert s[0]["protocol"] == "udp" and s[4]["protocol"] == "icmp"


def test_session_table_text():
    lines = show.format_session_table(show.session_table(FakeClient()))
    assert lines[0].split() == ["SESSION", "PROTOCOL", "IDLE", "PACKETS", "BYTES"]
    assert lines[1].startswith(f"sip VPN:public --> public {A}:5060[{PUB}:5060] --> "
                               f"{PROXY}:5060 ")
    assert lines[1].split()[-4:] == ["udp", "00:00:03", "6", "4812"]
    assert lines[2].startswith(f"sip-rtp VPN:public --> public {A}:6000[{PUB}:40000] --> "
                               f"{B}:7000 ")
    assert lines[5].split()[-4:] == ["icmp", "00:01:01", "1", "84"]
    # aligned: every column starts where its heading does
    for col in ("PROTOCOL", "IDLE"):
        at = lines[0].index(col)
        assert all(l[at - 2:at] == "  " and l[at] != " " for l in lines[1:])
    assert len({len(l) for l in lines}) == 1  # numbers right-aligned to the last column
    assert show.format_session_table([]) == ["no sessions"]


class FakeStats:
    counters = {}

    def __init__(self, socketname):
        pass

    def connect(self):
        pass

    def disconnect(self):
        pass

    def ls(self, patterns):
        import re
        return [k for k in self.counters if any(re.match(p, k) for p in patterns)]

    def __getitem__(self, name):
        return self.counters[name]


@pytest.fixture
def stats(monkeypatch, tmp_path):
    from vpp_papi import vpp_stats  # a dependency of sipalgctl: no skip
    monkeypatch.setattr(vpp_stats, "VPPStats", FakeStats)
    sock = tmp_path / "stats.sock"
    sock.write_text("")
    return str(sock)


def test_verdicts_summed_over_threads_and_nodes(stats, monkeypatch):
    monkeypatch.setattr(FakeStats, "counters", {
        "/err/sip-alg-post/gate_pass": [3, 4, 0], "/err/sip-alg-post/gate_miss": [1, 0, 0],
        "/err/sip-alg-gate/gate_pass": [2], "/err/sip-alg-post/sip": [9],
        "/err/acl-plugin-in-ip4-fa/gate_pass": [100]})
    assert show.verdicts(stats) == {"gate_pass": 9, "gate_miss": 1}


def test_verdicts_absent_are_0(stats, monkeypatch):
    monkeypatch.setattr(FakeStats, "counters", {"/err/sip-alg-post/sip": [9]})
    assert show.verdicts(stats) == {"gate_pass": 0, "gate_miss": 0}
    assert show.format_verdicts(show.verdicts(stats)) == [
        "policy verdicts: gate_pass 0 (past the inbound ACL by a server-map entry), gate_miss 0 "
        "(left to the ACL)"]


def test_verdicts_without_stats_socket(tmp_path):
    assert show.verdicts(str(tmp_path / "none.sock")) is None
    assert show.format_verdicts(None)[0].startswith("policy verdicts: unknown")


def test_show_session_table_json(stats, monkeypatch, capsys):
    monkeypatch.setattr(FakeStats, "counters", {"/err/sip-alg-post/gate_pass": [5]})

    class Client(FakeClient):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(cli, "client", lambda args, cfg=None, plugin=None: Client())
    assert cli.main(["--json", "show", "session-table", "--stats-socket", stats]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["policy_verdicts"] == {"gate_pass": 5, "gate_miss": 0}
    assert data["sessions"][0] == {
        "app": "sip", "alg": True, "protocol": "udp", "remote": f"{PROXY}:5060",
        "public": f"{PUB}:5060", "inside": f"{A}:5060", "vpn": "public --> public",
        "inside_vrf": 0, "outside_vrf": 0, "inside_vpn": "public", "outside_vpn": "public",
        "idle": 3, "packets": 6, "bytes": 4812}
    assert cli.main(["show", "session-table", "--stats-socket", stats]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("policy verdicts: gate_pass 5 ")


def stream(port=0, i2o=0, o2i=0, idle_i2o=0xFFFFFFFF, idle_o2i=0xFFFFFFFF, one_way=False,
           inside=A, inside_port=0):
    """A sip_alg_stream as vpp_papi gives it (port 0: an unused element of the array)."""
    return SimpleNamespace(public_address=PUB if port else "0.0.0.0", public_port=port,
                           inside_address=inside if port else "0.0.0.0",
                           inside_port=inside_port, packets_in2out=i2o, packets_out2in=o2i,
                           idle_in2out=idle_i2o, idle_out2in=idle_o2i, one_way=one_way)


def call(call_id, state, thread=0, index=0, messages=5, n_media=2, age=40, idle=3,
         media_idle=0xFFFFFFFF, left_time=117, epoch=0, inside_vrf=0, outside_vrf=0,
         streams=()):
    """A sip_alg_calls_details as vpp_papi gives it (strings NUL-padded, the streams array
    full length, n_streams of it used)."""
    return SimpleNamespace(thread=thread, index=index, call_id=call_id + "\x00" * 4,
                           state=state + "\x00\x00", inside_address=A, inside_port=5060,
                           public_address=PUB, public_port=5060, peer_address=PROXY,
                           peer_port=5060, messages=messages, n_media=n_media, age=age,
                           idle=idle, media_idle=media_idle, left_time=left_time, epoch=epoch,
                           inside_vrf=inside_vrf, outside_vrf=outside_vrf,
                           n_streams=len(streams),
                           streams=list(streams) + [stream()] * (8 - len(streams)))


class CallsClient(OnePage):
    """Three calls: ringing (no media idle time), established with media flowing, and
    established after a 407 challenge (epoch 1) with media silent for 95 s; and one with
    every counter at its largest."""

    CALLS = [call("a84b4c76e66710", "early", idle=1, left_time=119),
             call("843817637684230", "confirmed", thread=1, index=7, messages=9, age=3600,
                  idle=1790, media_idle=0, left_time=39600, epoch=0),
             call("1j9FpLxk3uxtm8tn", "confirmed", index=8, messages=12, age=200, idle=95,
                  media_idle=95, left_time=7105, epoch=1),
             call("x", "confirmed", thread=65535, index=0xFFFFFFFE, messages=0xFFFFFFFF,
                  n_media=255, age=0xFFFFFFFF, idle=0xFFFFFFFF, media_idle=0xFFFFFFFE,
                  left_time=0xFFFFFFFF, epoch=0xFFFFFFFF)]

    def dump(self, msg, **kw):
        if self.tables(msg) is not None:
            return self.tables(msg)
        assert (msg, kw) == ("sip_alg_calls_get", {"cursor": 0})
        return self.CALLS

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def test_calls():
    """The call timers' fields: idle, media idle (None: not established or no media), left
    time, epoch; 0xfffffffe is a time like any other."""
    c = show.calls(CallsClient())
    assert c[0] == {"thread": 0, "call_id": "a84b4c76e66710", "state": "early",
                    "inside": f"{A}:5060", "public": f"{PUB}:5060", "peer": f"{PROXY}:5060",
                    "messages": 5, "media": 2, "age": 40, "idle": 1, "media_idle": None,
                    "left_time": 119, "epoch": 0, "vpn": "public -> public", "inside_vrf": 0,
                    "outside_vrf": 0, "inside_vpn": "public", "outside_vpn": "public",
                    "streams": []}
    assert [(x["idle"], x["media_idle"], x["left_time"], x["epoch"]) for x in c] == [
        (1, None, 119, 0), (1790, 0, 39600, 0), (95, 95, 7105, 1),
        (0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFF)]


def test_calls_table():
    lines = show.format_calls(show.calls(CallsClient()))
    assert lines[0].split() == ["THREAD", "CALL_ID", "STATE", "INSIDE", "PUBLIC", "PEER",
                                "MESSAGES", "MEDIA", "AGE", "IDLE", "MEDIA_IDLE", "LEFT_TIME",
                                "EPOCH", "VPN"]
    assert all(l.endswith("  public -> public") for l in lines[1:])
    assert [l.split()[-7:-3] for l in lines[1:]] == [
        ["1", "-", "119", "0"], ["1790", "0", "39600", "0"], ["95", "95", "7105", "1"],
        ["4294967295", "4294967294", "4294967295", "4294967295"]]
    assert lines[1].split()[:3] == ["0", "a84b4c76e66710", "early"]
    # aligned: every column starts where its heading does
    for col in ("CALL_ID", "AGE", "IDLE", "MEDIA_IDLE", "LEFT_TIME", "EPOCH", "VPN"):
        at = re.search(rf"(?:^| ){col}(?: |$)", lines[0]).start() + 1
        assert all(l[at - 2:at] == "  " and l[at] != " " for l in lines[1:]), col
    assert show.format_calls([]) == []


def test_show_calls_json_and_text(monkeypatch, capsys):
    monkeypatch.setattr(cli, "client", lambda args, cfg=None, plugin=None: CallsClient())
    assert cli.main(["--json", "show", "calls"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["media_idle"] is None and data[0]["idle"] == 1
    assert {k: data[2][k] for k in ("idle", "media_idle", "left_time", "epoch")} == \
        {"idle": 95, "media_idle": 95, "left_time": 7105, "epoch": 1}
    assert cli.main(["show", "calls"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == show.format_calls(show.calls(CallsClient()))
    assert out[1].split()[-6] == "-"


class StreamsClient(CallsClient):
    """A ringing call with early media from outside, an answered one whose audio comes from
    outside only (flagged) and whose video flows both ways, and one with no stream."""

    CALLS = [call("ring@192.168.1.1", "early", n_media=1,
                  streams=[stream(40000, o2i=150, idle_o2i=0, inside_port=3000)]),
             call("oneway@192.168.1.1", "confirmed", thread=1, index=3, media_idle=0,
                  streams=[stream(40002, o2i=2 ** 33, idle_o2i=0, one_way=True,
                                  inside_port=3002),
                           stream(40004, i2o=900, o2i=880, idle_i2o=1, idle_o2i=0xFFFFFFFE,
                                  inside_port=3004)]),
             call("bare@192.168.1.1", "inviting", index=4, n_media=0)]


def test_calls_streams():
    """Each call's streams (n_streams of the array): the RTP pinhole, packets and seconds
    since the last packet each way (None: none yet), one_way: the direction that alone has
    media when the plugin flags the stream, else None."""
    rows = show.calls(StreamsClient())
    assert [len(r["streams"]) for r in rows] == [1, 2, 0]
    assert rows[0]["streams"] == [{
        "public": f"{PUB}:40000", "inside": f"{A}:3000", "packets_in2out": 0,
        "packets_out2in": 150, "idle_in2out": None, "idle_out2in": 0, "one_way": None}]
    flagged, both = rows[1]["streams"]
    assert (flagged["one_way"], flagged["packets_out2in"], flagged["idle_in2out"]) == \
        ("out2in", 2 ** 33, None)
    assert (both["one_way"], both["idle_in2out"], both["idle_out2in"]) == (None, 1, 0xFFFFFFFE)


def test_calls_table_stream_lines():
    """Under each call's row, a line per stream in the shape of `show sip-alg calls`'; the
    rows and the columns' widths are those of the table without the streams."""
    rows = show.calls(StreamsClient())
    head, ring, oneway, bare = show.format_calls([dict(r, streams=[]) for r in rows])
    assert show.format_calls(rows) == [
        head, ring,
        f"  Stream: {PUB}:40000[{A}:3000], Packets: in2out 0 out2in 150, Idle: in2out - "
        f"out2in 0, One-Way: no",
        oneway,
        f"  Stream: {PUB}:40002[{A}:3002], Packets: in2out 0 out2in 8589934592, Idle: "
        f"in2out - out2in 0, One-Way: out2in",
        f"  Stream: {PUB}:40004[{A}:3004], Packets: in2out 900 out2in 880, Idle: in2out 1 "
        f"out2in 4294967294, One-Way: no",
        bare]
    assert [l.split()[1] for l in (ring, oneway, bare)] == \
        ["ring@192.168.1.1", "oneway@192.168.1.1", "bare@192.168.1.1"]


def test_show_calls_streams_json_and_text(monkeypatch, capsys):
    monkeypatch.setattr(cli, "client", lambda args, cfg=None, plugin=None: StreamsClient())
    assert cli.main(["--json", "show", "calls"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == show.calls(StreamsClient())
    assert data[1]["streams"][0]["one_way"] == "out2in" and data[2]["streams"] == []
    assert cli.main(["show", "calls"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == show.format_calls(data)
    assert sum("One-Way: out2in" in l for l in out) == 1


# --- streaming: the tables are printed as VPP sends them ------------------------------------

class _Reply:
    def __init__(self, retval, cursor):
        self.retval, self.cursor = retval, cursor


def paged(monkeypatch, answers):
    """Make `sipalgctl show` talk to a vpp.Client (its real pages()) whose VPP answers each
    *_get of answers ({msg: [page, ...]}) a page per request: EAGAIN with a cursor for all
    but the last. Returns (log, stdout): log gets, at each request, (msg, cursor, what
    stdout held then)."""
    import io
    import sys
    from sipalgctl import vpp as V
    stdout, log = io.StringIO(), []
    monkeypatch.setattr(sys, "stdout", stdout)

    def get(msg):
        if msg == "ip_table_dump":  # a *_dump: all at once
            return staticmethod(lambda **kw: TABLES)
        pages = answers[msg]

        def answer(cursor):
            log.append((msg, cursor, stdout.getvalue()))
            n = 0 if cursor == 0 else cursor - 100  # cursors 101, 102, ... for pages 1, 2
            last = n == len(pages) - 1
            return (_Reply(0 if last else V.Client.EAGAIN, 0xFFFFFFFF if last else 101 + n),
                    pages[n])
        return staticmethod(answer)

    class Client(V.Client):
        def __init__(self):
            self.vpp = type("P", (), {"api": type("A", (), {
                m: get(m) for m in (*answers, "ip_table_dump")})})

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(cli, "client", lambda args, cfg=None, plugin=None: Client())
    return log, stdout


CALL_PAGES = [CallsClient.CALLS[:2], CallsClient.CALLS[2:3], CallsClient.CALLS[3:]]


def test_show_calls_streams_pages(monkeypatch):
    """`show calls` over three pages (EAGAIN twice): each page's rows are printed before the
    next page is asked for; the table's widths come from the first page; every row once."""
    log, stdout = paged(monkeypatch, {"sip_alg_calls_get": CALL_PAGES})
    assert cli.main(["show", "calls"]) == 0
    assert [(m, c) for m, c, _ in log] == [("sip_alg_calls_get", 0),
                                           ("sip_alg_calls_get", 101),
                                           ("sip_alg_calls_get", 102)]
    out = stdout.getvalue().splitlines()
    first = show.format_calls(show.calls(CallsClient())[:2])
    assert out[:3] == first  # heading and page 1, as the table of page 1 alone
    assert log[1][2].splitlines() == first  # printed before page 2 was asked for
    assert log[2][2].splitlines() == out[:4]  # page 2's row before page 3 was asked for
    assert [l.split()[1] for l in out[1:]] == [c.call_id.rstrip("\x00")
                                              for c in CallsClient.CALLS]
    # later pages keep page 1's widths: a longer value pushes the rest of its row right
    assert out[3].split()[-7:-3] == ["95", "95", "7105", "1"]
    assert out[4].split()[-7:-3] == ["4294967295", "4294967294", "4294967295", "4294967295"]
    assert out[4].index("confirmed") == out[2].index("confirmed")  # "x" fits its column


def test_show_calls_json_streams_pages(monkeypatch):
    """--json over three pages: the same text as json.dumps of the whole list, each row
    written before the next page is asked for."""
    log, stdout = paged(monkeypatch, {"sip_alg_calls_get": CALL_PAGES})
    assert cli.main(["--json", "show", "calls"]) == 0
    rows = show.calls(CallsClient())
    assert stdout.getvalue() == json.dumps(rows, indent=2) + "\n"
    assert '"call_id": "843817637684230"' in log[1][2]
    assert '"call_id": "1j9FpLxk3uxtm8tn"' in log[2][2] and '"call_id": "x"' not in log[2][2]


def test_show_server_map_streams_pages(monkeypatch):
    smap = FakeClient.SERVER_MAP
    log, stdout = paged(monkeypatch, {"sip_alg_server_map_get": [smap[:1], smap[1:4], smap[4:]]})
    assert cli.main(["show", "server-map"]) == 0
    lines = stdout.getvalue().splitlines()
    assert lines == show.format_server_map(show.server_map(FakeClient()))
    assert [c for _, c, _ in log] == [0, 101, 102]
    assert log[1][2].splitlines() == lines[:1] and log[2][2].splitlines() == lines[:4]


def test_show_session_table_json_streams(monkeypatch, tmp_path):
    """The session table's JSON is json.dumps of {"sessions": [...], "policy_verdicts": ...}
    to the byte, the sessions written as they come."""
    smap = FakeClient.SERVER_MAP
    log, stdout = paged(monkeypatch, {"sip_alg_server_map_get": [smap[:2], smap[2:]]})
    users = [SimpleNamespace(ip_address=A, vrf_id=0), SimpleNamespace(ip_address=B, vrf_id=0)]
    real = cli.client(None)

    class Client(type(real)):
        def dump(self, msg, **kw):
            if msg == "nat44_user_dump":
                return users
            if msg == "nat44_interface_dump":
                return OnePage.OUTSIDE
            if msg == "nat44_address_dump":
                return OnePage.POOL
            if msg == "nat44_user_session_v3_dump":
                log.append((msg, kw["ip_address"], stdout.getvalue()))
                return FakeClient.SESSIONS if kw["ip_address"] == A else []
            return super().dump(msg, **kw)

        def call(self, msg, **kw):
            return OnePage.call(OnePage(), msg, **kw)

    monkeypatch.setattr(cli, "client", lambda args, cfg=None, plugin=None: Client())
    none = str(tmp_path / "none.sock")
    assert cli.main(["--json", "show", "session-table", "--stats-socket", none]) == 0
    want = {"sessions": show.session_table(FakeClient()), "policy_verdicts": None}
    assert stdout.getvalue() == json.dumps(want, indent=2, default=str) + "\n"
    stdout.truncate(0)
    stdout.seek(0)
    assert cli.main(["show", "session-table", "--stats-socket", none]) == 0
    assert stdout.getvalue().splitlines() == show.format_session_table(want["sessions"]) + \
        show.format_verdicts(None)


@pytest.mark.parametrize("pages", [[], [[]], [[], []], [[1]], [[{"a": [1, {"b": None}]}], [],
                                                                  ["x", 2.5]],
                                   [[{"k": "v"}, {}], [[]], [{"n": {"m": [1, 2]}}]]])
@pytest.mark.parametrize("level", [0, 1, 2])
def test_json_list_is_json_dumps(pages, level):
    """json_list writes what json.dumps(indent=2) would, nested level deep."""
    import io
    f = io.StringIO()
    cli.json_list(f.write, pages, level)
    items = [x for p in pages for x in p]
    want = json.dumps({"k": items} if level == 1 else {"k": {"l": items}} if level == 2
                      else items, indent=2)
    if level == 1:
        want = want[len('{\n  "k": '):-len("\n}")]
    elif level == 2:
        want = want[len('{\n  "k": {\n    "l": '):-len("\n  }\n}")]
    assert f.getvalue() == want


def test_table_lines_widths_from_the_first_page():
    cols = ("a", "bb")
    assert list(show.table_lines([], cols)) == list(show.table_lines([[], []], cols)) == []
    lines = list(show.table_lines([[], [{"a": 1, "bb": "x"}], [{"a": 12345, "bb": "y"}]], cols))
    assert lines == ["A  BB", "1  x", "12345  y"]
    assert list(show.session_table_lines([[], []])) == ["no sessions"]


# --- show config ------------------------------------------------------------------------------

class ConfigClient:
    """A running VPP's sip_alg_get_config, validation and limits per host set."""

    def __init__(self, **fields):
        self.reply = SimpleNamespace(**dict(dict(
            n_udp_ports=2, udp_ports=[5060, 5080] + [0] * 6, n_tcp_ports=1,
            tcp_ports=[5060] + [0] * 7, signaling=120, media=60, call=7200, max_calls=10000,
            media_port_lo=40000, media_port_hi=59999, media_other_hosts=False,
            max_inbound_calls=1000, max_inbound_per_source=20, max_binding_time=3600,
            max_entries=65536, max_entries_per_call=24, inside_port_lo=1024,
            inside_port_hi=65535, tcp_reassembly=16384, media_inactivity=120,
            max_duration=43200, one_way_media=5, max_calls_per_host=8,
            max_entries_per_host=64, strict=True,
            drop_parse=1, drop_header=1, drop_sdp=0, drop_too_many=1,
            block_methods=1 << 12 | 1 << 15, invite_rate=20, invite_burst=40, register_rate=0,
            register_burst=0, n_servers=2,
            server_address=[ipaddress.IPv4Address(a) for a in ("192.168.1.5", "192.168.1.6")]
            + [ipaddress.IPv4Address("0.0.0.0")] * 14,
            server_port=[5060, 5080] + [0] * 14, n_media_addresses=2,
            media_addresses=[ipaddress.IPv4Address(a) for a in ("203.0.113.21", "203.0.113.20")]
            + [ipaddress.IPv4Address("0.0.0.0")] * 14), **fields))
        self.limits = SimpleNamespace(max_calls=10000, max_held=64, media_port_lo=40000,
                                      media_port_hi=59999, tcp_reassembly=16384)

    def call(self, msg, **kw):
        if msg == "sip_alg_get_limits":  # max_held (API 0.12.0)
            return self.limits
        assert msg == "sip_alg_get_config"
        return self.reply

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def test_show_config(monkeypatch, capsys):
    """`show config`: the running settings as the YAML's sip_alg section (text) or the same
    as JSON; validation spelt out in the YAML's terms."""
    monkeypatch.setattr(cli, "client", lambda args, cfg=None, plugin=None: ConfigClient())
    assert cli.main(["--json", "show", "config"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["validation"] == {
        "mode": "strict",
        "actions": {"parse": "drop", "header": "drop", "sdp": "pass", "too_many": "drop"},
        "block_methods": ["MESSAGE", "OTHER"],
        "rate_limits": {"invite": {"rate": 20, "burst": 40}, "register": {"rate": 0, "burst": 0}}}
    assert data["security"]["max_calls_per_host"] == 8
    assert data["security"]["max_entries_per_host"] == 64
    assert data["security"]["inside_media_ports"] == "1024-65535"
    assert data["ports"] == {"udp": [5060, 5080], "tcp": [5060]}
    assert data["servers"] == ["192.168.1.5:5060", "192.168.1.6:5080"]
    assert data["media"] == {"addresses": ["203.0.113.21", "203.0.113.20"],  # in order
                             "other_hosts": False}
    assert data["limits"] == {"max_calls": 10000, "max_held": 64, "media_ports": "40000-59999",
                              "tcp_reassembly": 16384}
    assert data["timeouts"] == {"signaling": 120, "media": 60, "call": 7200,
                                "media_inactivity": 120, "max_duration": 43200,
                                "one_way_media": 5}
    assert cli.main(["show", "config"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("sip_alg:\n  ports:\n    udp: [5060, 5080]\n")
    assert "    other_hosts: false\n  servers: ['192.168.1.5:5060', '192.168.1.6:5080']\n" \
        in text
    assert "  validation:\n    mode: strict\n    actions: {parse: drop, header: drop, sdp: pass, " \
           "too_many: drop}\n    block_methods: [MESSAGE, OTHER]\n" in text
    assert yaml.safe_load(text) == {"sip_alg": data}


def test_show_config_is_a_sip_alg_section():
    """The text of show config, put in a YAML in place of its sip_alg section, is valid and
    is what the running VPP has: its plan sets none of the ALG's settings."""
    from sipalgctl import config, plan as P
    c = ConfigClient()
    data = yaml.safe_load(open(SEED))
    data["sip_alg"] = yaml.safe_load("\n".join(show.config_lines(show.config(c))))["sip_alg"]
    cfg = config.parse(data)
    assert cfg.sip_alg.validation.block_methods == ("MESSAGE", "OTHER")
    assert cfg.sip_alg.servers_explicit and [f"{a}:{p}" for a, p in cfg.sip_alg.servers] == \
        ["192.168.1.5:5060", "192.168.1.6:5080"]
    st = P.State(sw_if_index={"host-sipalg-in": 1, "host-sipalg-out": 2},
                 alg_interfaces={1, 2}, alg=P.alg_config(c.reply, c.limits))
    assert not [o for o in P.plan(cfg, st) if o.cli().startswith("set sip-alg")]


def test_show_config_old_plugin(monkeypatch, capsys):
    """A plugin without the validation fields (API 0.6.0): exit 2, saying so."""
    c = ConfigClient()
    del c.reply.strict
    monkeypatch.setattr(cli, "client", lambda args, cfg=None, plugin=None: c)
    assert cli.main(["show", "config"]) == 2
    assert "sip_alg_get_config_reply has no strict: it is older than this sipalgctl" in \
        capsys.readouterr().err


# --- VRF tables: the VPN column ------------------------------------------------------------------

PUB_B = "203.0.113.11"


class TenantsClient(OnePage):
    """Two tenants (tables 10 tenant-a and 20 tenant-b) with the same phone 192.168.1.1,
    also in a third table VPP named itself (30), and host 192.168.1.7 in table 30 only; the
    outside in the default table; NAT addresses: tenant-a's, tenant-b's and 203.0.113.12 of
    any table. Server map: each tenant's RTP pinhole of 192.168.1.1:6000, B's RTP endpoint
    in tenant-a's table only, an entry of a table VPP no longer has (40). NAT44-ED answers
    each user with the sessions of its address in every table, as VPP does."""

    TABLES = TABLES + [table(10, "tenant-a"), table(20, "tenant-b"), table(30, "ipv4-VRF:30"),
                       table(10, "ipv6-VRF:10", True)]
    POOL = [SimpleNamespace(ip_address=PUB, vrf_id=10), SimpleNamespace(ip_address=PUB_B,
                                                                       vrf_id=20),
            SimpleNamespace(ip_address="203.0.113.12", vrf_id=0xFFFFFFFF)]
    SERVER_MAP = [entry(PUB, 40000, 1, A, 6000, inside_vrf=10),
                  entry(PUB_B, 40002, 1, A, 6000, inside_vrf=20),
                  entry(B, 7000, 1, inside_vrf=10),
                  entry(PUB, 40004, 0, A, 5060, inside_vrf=40)]
    USERS = [SimpleNamespace(ip_address=A, vrf_id=v) for v in (10, 20, 30)] + [
        SimpleNamespace(ip_address="192.168.1.7", vrf_id=30)]
    SESSIONS = {A: [
        session(f"{A}:6000", f"{PUB}:40000", f"{B}:7000"),  # its entry's table, 10
        session(f"{A}:6010", f"{PUB}:1025", f"{B}:7000"),  # tenant-a's address: B's entry
        session(f"{A}:6000", f"{PUB_B}:999", "192.0.2.5:9"),  # tenant-b's: its inside entry
        session(f"{A}:6010", f"{PUB_B}:1025", f"{B}:7000"),  # no entry of B's in 20
        session(f"{A}:6000", "203.0.113.12:998", "192.0.2.5:9"),  # any table's, A in three
    ], "192.168.1.7": [session("192.168.1.7:6000", "203.0.113.12:997", "192.0.2.5:9")]}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def dump(self, msg, **kw):
        if self.tables(msg) is not None:
            return self.tables(msg)
        if msg == "sip_alg_server_map_get":
            return self.SERVER_MAP
        if msg == "nat44_user_dump":
            return self.USERS
        assert msg == "nat44_user_session_v3_dump" and kw["vrf_id"] in (10, 20, 30), (msg, kw)
        return self.SESSIONS[kw["ip_address"]]


def test_server_map_vpn_column():
    """public -> the inside table's name (VPP's own for a table named by nobody, vrf:N for a
    table VPP no longer has); IPv6 tables of the same id do not count."""
    lines = show.format_server_map(show.server_map(TenantsClient()))
    assert [l.split(", VPN: ")[1] for l in lines] == [
        "public -> tenant-a", "public -> tenant-b", "public -> tenant-a", "public -> vrf:40"]
    assert lines[1] == (f"Type: ASPF, ANY -> {PUB_B}:40002[{A}:6000], Protocol: udp(Appro: "
                        f"sip-rtp), Left-Time: 00:00:50, VPN: public -> tenant-b")
    e = show.server_map(TenantsClient())[1]
    assert {k: e[k] for k in ("inside_vrf", "outside_vrf", "inside_vpn", "outside_vpn",
                              "vpn")} == {
        "inside_vrf": 20, "outside_vrf": 0, "inside_vpn": "tenant-b", "outside_vpn": "public",
        "vpn": "public -> tenant-b"}


def test_server_map_json(monkeypatch, capsys):
    monkeypatch.setattr(cli, "client", lambda args, cfg=None, plugin=None: TenantsClient())
    assert cli.main(["--json", "show", "server-map"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(d["inside"], d["inside_vrf"], d["inside_vpn"]) for d in data] == [
        (f"{A}:6000", 10, "tenant-a"), (f"{A}:6000", 20, "tenant-b"), (None, 10, "tenant-a"),
        (f"{A}:5060", 40, "vrf:40")]


def test_sessions_tagged_per_table():
    """Each session once, in its table: its entry's, else its tenant address's, else its
    user's when the inside address is a user in one table only (else not known: -); tagged
    by an entry of that table only (the same inside endpoint, or the same outside party, in
    another table is another tenant's); the outside table the entry's, else the outside
    interfaces'."""
    s = show.session_table(TenantsClient())
    assert [(x["inside_vrf"], x["inside"], x["public"].split(":")[0], x["remote"], x["app"],
             x["vpn"]) for x in s] == [
        (10, f"{A}:6000", PUB, f"{B}:7000", "sip-rtp", "public --> tenant-a"),
        (10, f"{A}:6010", PUB, f"{B}:7000", "sip-rtp", "public --> tenant-a"),
        (20, f"{A}:6000", PUB_B, "192.0.2.5:9", "sip-rtp", "public --> tenant-b"),
        (20, f"{A}:6010", PUB_B, f"{B}:7000", "udp", "public --> tenant-b"),
        (None, f"{A}:6000", "203.0.113.12", "192.0.2.5:9", "udp", "public --> -"),
        (30, "192.168.1.7:6000", "203.0.113.12", "192.0.2.5:9", "udp",
         "public --> ipv4-VRF:30")]
    lines = show.format_session_table(s)
    assert lines[3].startswith(f"sip-rtp VPN:public --> tenant-b {A}:6000[{PUB_B}:999] --> "
                               f"192.0.2.5:9 ")


def test_sessions_outside_tables_unknown():
    """NAT44-ED's outside interfaces in two tables: a session no entry tags has no known
    outside table (-, null in JSON); a tagged one has its entry's."""
    class Two(TenantsClient):
        IF_TABLE = {2: 0, 5: 7}
        OUTSIDE = OnePage.OUTSIDE + [SimpleNamespace(sw_if_index=5, flags=0x10),
                                     SimpleNamespace(sw_if_index=6, flags=0x20)]
    s = show.session_table(Two())
    assert [(x["app"], x["outside_vrf"], x["vpn"]) for x in s][2:] == [
        ("sip-rtp", 0, "public --> tenant-b"), ("udp", None, "- --> tenant-b"),
        ("udp", None, "- --> -"), ("udp", None, "- --> ipv4-VRF:30")]


def test_calls_vpn_column(monkeypatch, capsys):
    """Two tenants' calls with the same Call-ID: one record each, the VPN column says
    whose."""
    class Calls(TenantsClient):
        CALLS = [call("same@192.168.1.1", "confirmed", inside_vrf=10),
                 call("same@192.168.1.1", "confirmed", thread=1, inside_vrf=20)]

        def dump(self, msg, **kw):
            if msg == "sip_alg_calls_get":
                return self.CALLS
            return super().dump(msg, **kw)
    lines = show.format_calls(show.calls(Calls()))
    assert lines[0].split()[-1] == "VPN"
    assert [l.split("  ")[-1] for l in lines[1:]] == ["public -> tenant-a", "public -> tenant-b"]
    monkeypatch.setattr(cli, "client", lambda args, cfg=None, plugin=None: Calls())
    assert cli.main(["--json", "show", "calls"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(d["call_id"], d["inside_vrf"], d["outside_vrf"], d["inside_vpn"], d["vpn"])
            for d in data] == [("same@192.168.1.1", 10, 0, "tenant-a", "public -> tenant-a"),
                               ("same@192.168.1.1", 20, 0, "tenant-b", "public -> tenant-b")]
