# SPDX-License-Identifier: Apache-2.0
"""The ALG's tables as an operator reads them, or as JSON for scripts.

The tables come a page at a time (vpp.Client.pages: a *_get that VPP cuts short is asked
again from its cursor), so that sipalgctl prints rows as VPP sends them: each *_pages
function yields lists of rows, each *_lines function turns pages into text lines as they
come. The list functions (server_map, calls, ...) are the same rows all at once.

Each row names its IPv4 tables, as the seed's VPN column does (outside -> inside): the
default table is "public", another one its name in VPP (ip_table_dump; `ip table add 10 name
tenant-a`, VPP's own name of an unnamed one is "ipv4-VRF:10"). In JSON, inside_vrf and
outside_vrf are the table ids, inside_vpn and outside_vpn their names."""

import os

import yaml

from . import defaults as D
from . import plan as P

APPS = {0: "sip", 1: "sip-rtp", 2: "sip-rtcp"}


def left_time(s):
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def flat(pages):
    return [r for page in pages for r in page]


def table_names(c):
    """IPv4 table id -> its name in the VPN column: public for the default table, else
    VPP's name of it (ip_table_dump)."""
    names = {d.table.table_id: d.table.name.rstrip("\x00") for d in c.dump("ip_table_dump")
             if not d.table.is_ip6}
    names[0] = D.DEFAULT_VPN
    return names


def vpn(names, table):
    """A table's name in the VPN column; a table VPP no longer has as the plugin names one
    without a name (vrf:N); None (not known): -."""
    if table is None:
        return "-"
    return names.get(table, f"vrf:{table}")


def vrf_fields(names, inside, outside, arrow="->"):
    """The tables of a row: ids, names, and the VPN column (outside -> inside)."""
    i, o = vpn(names, inside), vpn(names, outside)
    return {"vpn": f"{o} {arrow} {i}", "inside_vrf": inside, "outside_vrf": outside,
            "inside_vpn": i, "outside_vpn": o}


def _smap_entry(e, names):
    inside = str(e.inside_address)
    return {
        "public": f"{e.public_address}:{e.public_port}",
        "inside": None if inside == "0.0.0.0" else f"{inside}:{e.inside_port}",
        "protocol": "tcp" if getattr(e, "tcp", False) else "udp",
        "app": APPS.get(int(e.app), str(e.app)),
        "left_time": e.left_time,
        "nat_mapping": bool(e.nat_mapping),
        "installed": bool(e.installed),
        **vrf_fields(names, e.inside_vrf, e.outside_vrf),
    }


def server_map_pages(c):
    """Entries as dicts, from sip_alg_server_map_get, a page at a time; the tables' names
    are read first."""
    names = table_names(c)
    for page in c.pages("sip_alg_server_map_get", cursor=0):
        yield [_smap_entry(e, names) for e in page]


def server_map(c):
    return flat(server_map_pages(c))


def server_map_lines(pages):
    """In the shape of a firewall's `display firewall server-map aspf`, a line per entry."""
    for entries in pages:
        for e in entries:
            inside = f"[{e['inside']}]" if e["inside"] else ""
            yield (f"Type: ASPF, ANY -> {e['public']}{inside}, Protocol: {e['protocol']}"
                   f"(Appro: {e['app']}), Left-Time: {left_time(e['left_time'])}, "
                   f"VPN: {e['vpn']}")


def format_server_map(entries):
    return list(server_map_lines([entries]))


PROTOCOLS = {17: "udp", 6: "tcp", 1: "icmp"}


def nat_outside_table(c):
    """The table of NAT44-ED's outside interfaces when they are all in one, else None (a
    session's own outside table is not in NAT44-ED's session dump)."""
    tables = {c.call("sw_interface_get_table", sw_if_index=d.sw_if_index, is_ipv6=False).vrf_id
              for d in c.dump("nat44_interface_dump") if int(d.flags) & P.NAT_IS_OUTSIDE}
    return tables.pop() if len(tables) == 1 else None


def session_table_pages(c):
    """NAT44-ED's live sessions (nat44_user_dump, then nat44_user_session_v3_dump per user),
    each tagged with the application (sip, sip-rtp, sip-rtcp) of the server-map entry it
    belongs to, else with its protocol: an inside party's entry (ANY -> public[inside]) when
    the session's public endpoint is the entry's public one, or its inside endpoint the
    entry's inside one in the same table; an outside party's entry (ANY -> address:port) of
    the session's table when the session's remote endpoint is that one.

    A session's inside table: NAT44-ED's session dump gives none, and answers a user (inside
    address and table) with the sessions of that address in every table (each session is
    shown once). So it is the table of the entry of its public endpoint, else the tenant
    table of its public address (nat44.pool's vrf), else the user's table when that address
    is a user in one table only; else it is not known (None, "-"). The outside table: the
    entry's, else the one NAT44-ED's outside interfaces are in (- when they are in several).
    A page per NAT44-ED user, once the server map has been read."""
    names = table_names(c)
    tags = {}  # key -> (app, outside table, inside table)
    for e in flat(server_map_pages(c)):
        tag = (e["app"], e["outside_vrf"], e["inside_vrf"])
        if e["inside"]:
            tags.setdefault(("public", e["public"]), tag)
            tags.setdefault(("inside", e["inside_vrf"], e["inside"]), tag)
        else:
            tags.setdefault(("remote", e["inside_vrf"], e["public"]), tag)
    outside = nat_outside_table(c)
    tenant = {str(d.ip_address): d.vrf_id for d in c.dump("nat44_address_dump")
              if d.vrf_id != P.NO_VRF}
    users = c.dump("nat44_user_dump")
    tables = {}  # inside address -> the tables it is a user in
    for u in users:
        tables.setdefault(str(u.ip_address), set()).add(u.vrf_id)
    seen = set()
    for u in users:
        out = []
        for s in c.dump("nat44_user_session_v3_dump", ip_address=u.ip_address, vrf_id=u.vrf_id):
            if s.is_timed_out:
                continue  # expired, kept by NAT44-ED only until reused
            inside = f"{s.inside_ip_address}:{s.inside_port}"
            public = f"{s.outside_ip_address}:{s.outside_port}"
            remote = f"{s.ext_host_address}:{s.ext_host_port}"
            proto = PROTOCOLS.get(int(s.protocol), str(s.protocol))
            if (inside, public, remote, proto) in seen:
                continue  # another user's answer had it (the same address, another table)
            seen.add((inside, public, remote, proto))
            tag = tags.get(("public", public))
            if tag:
                table = tag[2]
            elif str(s.outside_ip_address) in tenant:
                table = tenant[str(s.outside_ip_address)]
            else:
                only = tables.get(str(s.inside_ip_address), set())
                table = next(iter(only)) if len(only) == 1 else None
            app, out_table, _ = (tag or tags.get(("inside", table, inside)) or
                                 tags.get(("remote", table, remote)) or (None, outside, None))
            out.append({"app": app or proto, "alg": app is not None, "protocol": proto,
                        "remote": remote, "public": public, "inside": inside,
                        **vrf_fields(names, table, out_table, "-->"),
                        "idle": int(s.time_since_last_heard),
                        "packets": s.total_pkts, "bytes": s.total_bytes})
        yield out


def session_table(c):
    return flat(session_table_pages(c))


SESSION_COLUMNS = ("session", "protocol", "idle", "packets", "bytes")


def session_table_lines(pages):
    """In the shape of a firewall's `display firewall session-table` (app, VPN,
    inside[public] --> remote), then aligned columns: protocol, time since last heard,
    packets, bytes (table_lines: the first page sets the widths)."""
    def rows(sessions):
        return [{"session": f"{s['app']} VPN:{s['vpn']} {s['inside']}[{s['public']}] --> "
                            f"{s['remote']}",
                 "protocol": s["protocol"], "idle": left_time(s["idle"]),
                 "packets": s["packets"], "bytes": s["bytes"]} for s in sessions]
    empty = True
    for line in table_lines((rows(p) for p in pages), SESSION_COLUMNS,
                            right=("packets", "bytes")):
        empty = False
        yield line
    if empty:
        yield "no sessions"


def format_session_table(sessions):
    return list(session_table_lines([sessions]))


GATE_COUNTERS = ("gate_pass", "gate_miss")


def verdicts(stats_socket):
    """The ALG gate's verdicts on packets entering outside interfaces, summed over threads and
    over the sip-alg nodes that count them: gate_pass (a live server-map entry let the packet
    past the firewall's inbound ACL), gate_miss (no live entry: left to the ACL). 0 when VPP
    does not count them (a plugin without the gate); None without a stats socket."""
    if not os.path.exists(stats_socket):
        return None
    from vpp_papi.vpp_stats import VPPStats
    s = VPPStats(socketname=stats_socket)
    s.connect()
    try:
        out = dict.fromkeys(GATE_COUNTERS, 0)
        for name in s.ls([r"^/err/sip-alg[^/]*/gate_(pass|miss)$"]):
            out[name.split("/")[-1]] += int(sum(s[name]))
        return out
    finally:
        s.disconnect()


def format_verdicts(v):
    if v is None:
        return ["policy verdicts: unknown (no stats socket; give --stats-socket or the config)"]
    return [f"policy verdicts: gate_pass {v['gate_pass']} (past the inbound ACL by a server-map "
            f"entry), gate_miss {v['gate_miss']} (left to the ACL)"]


NO_MEDIA = 0xFFFFFFFF  # sip_alg_calls_details.media_idle: not established or no media entries
NONE_YET = 0xFFFFFFFF  # sip_alg_stream.idle_in2out / idle_out2in: no packet that way yet


def _stream(s):
    """A sip_alg_stream: the RTP pinhole, packets and seconds since the last one each way
    (None: none yet), and one_way: the direction that alone had media for the plugin's
    one-way-media seconds (in2out, out2in), else None."""
    i2o, o2i = s.packets_in2out, s.packets_out2in
    return {"public": f"{s.public_address}:{s.public_port}",
            "inside": f"{s.inside_address}:{s.inside_port}",
            "packets_in2out": i2o, "packets_out2in": o2i,
            "idle_in2out": None if s.idle_in2out == NONE_YET else s.idle_in2out,
            "idle_out2in": None if s.idle_out2in == NONE_YET else s.idle_out2in,
            "one_way": (None if not s.one_way else "in2out" if i2o and not o2i else
                        "out2in" if o2i and not i2o else None)}


def _call(d, names):
    return {"thread": d.thread, "call_id": d.call_id.rstrip("\x00"),
            "state": d.state.rstrip("\x00"),
            "inside": f"{d.inside_address}:{d.inside_port}",
            "public": f"{d.public_address}:{d.public_port}",
            "peer": f"{d.peer_address}:{d.peer_port}", "messages": d.messages,
            "media": d.n_media, "age": d.age, "idle": d.idle,
            "media_idle": None if d.media_idle == NO_MEDIA else d.media_idle,
            "left_time": d.left_time, "epoch": d.epoch,
            **vrf_fields(names, d.inside_vrf, d.outside_vrf),
            "streams": [_stream(s) for s in d.streams[:d.n_streams]]}


def calls_pages(c):
    """Call records as dicts, from sip_alg_calls_get, a page at a time. Seconds: age since
    the first message, idle since the last one, media_idle since the last media packet of an
    established call (None: not established, or no media entries), left_time before the
    record ends by its timers; epoch: the dialogs the record carried before this one (a new
    INVITE on the Call-ID, e.g. after a 401/407 challenge); the tables (records are kept per
    inside table: two tenants' calls may have the same Call-ID); streams: its media streams
    (_stream), counted while the plugin's media inactivity timer or one-way check runs."""
    names = table_names(c)
    for page in c.pages("sip_alg_calls_get", cursor=0):
        yield [_call(d, names) for d in page]


def calls(c):
    return flat(calls_pages(c))


CALL_COLUMNS = ("thread", "call_id", "state", "inside", "public", "peer", "messages", "media",
                "age", "idle", "media_idle", "left_time", "epoch", "vpn")


def stream_line(s):
    """A call's media stream under its row, in the shape of `show sip-alg calls`' Stream
    line, seconds as numbers (-: no packet that way yet); One-Way: no when not flagged."""
    def idle(v):
        return "-" if v is None else v
    return (f"  Stream: {s['public']}[{s['inside']}], Packets: in2out {s['packets_in2out']} "
            f"out2in {s['packets_out2in']}, Idle: in2out {idle(s['idle_in2out'])} out2in "
            f"{idle(s['idle_out2in'])}, One-Way: {s['one_way'] or 'no'}")


def calls_lines(pages):
    """An aligned table (table_lines), seconds as numbers; "-" for no media idle time; under
    each call's row a line per media stream (stream_line)."""
    return table_lines(([dict(r, media_idle="-" if r["media_idle"] is None else
                              r["media_idle"]) for r in rows] for rows in pages),
                       CALL_COLUMNS, after=lambda r: map(stream_line, r.get("streams", ())))


def format_calls(rows):
    return list(calls_lines([rows]))


def table_lines(pages, cols, right=(), after=None):
    """An aligned text table of pages of rows, a line at a time: the heading and the column
    widths come with the first page that has rows, so that a large table is printed as it
    arrives; a value of a later page wider than its column pushes the rest of its row
    right. Columns in right are right-aligned. after(row): lines that follow a row's (the
    widths leave them out). Nothing for no rows."""
    w = None
    for rows in pages:
        if not rows:
            continue
        if w is None:
            w = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in cols}
            yield "  ".join(k.upper().rjust(w[k]) if k in right else k.upper().ljust(w[k])
                            for k in cols).rstrip()
        for r in rows:
            yield "  ".join(str(r[k]).rjust(w[k]) if k in right else str(r[k]).ljust(w[k])
                            for k in cols).rstrip()
            if after:
                yield from after(r)


def table(rows, cols):
    """Aligned text table."""
    return list(table_lines([rows], cols))


def _range(lo_hi):
    return f"{lo_hi[0]}-{lo_hi[1]}"


def config(c):
    """The running ALG's settings (sip_alg_get_config, sip_alg_get_limits) in the shape of
    the YAML's sip_alg section: ports, timeouts, limits, media (its addresses and
    other_hosts), servers (the published SIP servers, "inside-address:port"), security (the
    host limits included) and validation, each class's action and each rate's burst spelt
    out (all of it but enabled and interfaces, which get_config does not tell)."""
    a = P.alg_config(c.call("sip_alg_get_config"), c.call("sip_alg_get_limits"))
    sec = {f: a[k] for k, f in P.SECURITY.items()}
    sec["inside_media_ports"] = _range(sec["inside_media_ports"])
    return {
        "ports": {"udp": list(a["udp"]), "tcp": list(a["tcp"])},
        "timeouts": {f: a[k] for k, f in P.TIMEOUTS.items()},
        "limits": {**{f: a[k] for k, f in P.LIMITS.items()},
                   "media_ports": _range(a["media_ports"])},
        "media": {"addresses": list(a["media_addresses"]),
                  "other_hosts": a["media_other_hosts"]},
        "servers": [f"{addr}:{port}" for addr, port in a["servers"]],
        "security": sec,
        "validation": {
            "mode": "strict" if a["strict"] else "lenient",
            "actions": {k: "drop" if a[f"drop_{k}"] else "pass" for k in D.VALIDATION_CLASSES},
            "block_methods": list(P.mask_methods(a["block_methods"])),
            "rate_limits": {m: {"rate": a[f"{m}_rate"], "burst": a[f"{m}_burst"]}
                            for m in D.RATE_LIMITED}},
    }


def config_lines(cfg):
    """config() as the YAML sip_alg section it is (`sipalgctl check` takes it)."""
    return yaml.safe_dump({"sip_alg": cfg}, sort_keys=False,
                          default_flow_style=None).splitlines()


def stats(stats_socket):
    """The ALG's counters from the stats segment (/err/sip-alg-post/<counter>)."""
    from vpp_papi.vpp_stats import VPPStats
    s = VPPStats(socketname=stats_socket)
    s.connect()
    try:
        out = {}
        for name in s.ls(["^/err/sip-alg-post/"]):
            out[name.split("/")[-1]] = int(sum(s[name]))
        return out
    finally:
        s.disconnect()
