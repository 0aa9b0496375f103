# SPDX-License-Identifier: Apache-2.0
"""The ALG's tables as an operator reads them, or as JSON for scripts."""

import os

APPS = {0: "sip", 1: "sip-rtp", 2: "sip-rtcp"}


def left_time(s):
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def server_map(c):
    """Entries as dicts, from sip_alg_server_map_get."""
    out = []
    for e in c.dump("sip_alg_server_map_get", cursor=0):
        inside = str(e.inside_address)
        out.append({
            "public": f"{e.public_address}:{e.public_port}",
            "inside": None if inside == "0.0.0.0" else f"{inside}:{e.inside_port}",
            "protocol": "tcp" if getattr(e, "tcp", False) else "udp",
            "app": APPS.get(int(e.app), str(e.app)),
            "left_time": e.left_time,
            "nat_mapping": bool(e.nat_mapping),
            "installed": bool(e.installed),
            "vpn": "public -> public",
        })
    return out


def format_server_map(entries):
    """In the shape of a firewall's `display firewall server-map aspf`."""
    lines = []
    for e in entries:
        inside = f"[{e['inside']}]" if e["inside"] else ""
        lines.append(f"Type: ASPF, ANY -> {e['public']}{inside}, Protocol: {e['protocol']}"
                     f"(Appro: {e['app']}), Left-Time: {left_time(e['left_time'])}, "
                     f"VPN: {e['vpn']}")
    return lines


PROTOCOLS = {17: "udp", 6: "tcp", 1: "icmp"}


def session_table(c):
    """NAT44-ED's live sessions (nat44_user_dump, then nat44_user_session_v3_dump per user),
    each tagged with the application (sip, sip-rtp, sip-rtcp) of the server-map entry it
    belongs to, else with its protocol: an inside party's entry (ANY -> public[inside]) when
    the session's public endpoint is the entry's public one or its inside endpoint the
    entry's inside one; an outside party's entry (ANY -> address:port) when the session's
    remote endpoint is that one."""
    tags = {}
    for e in server_map(c):
        if e["inside"]:
            tags.setdefault(("public", e["public"]), e["app"])
            tags.setdefault(("inside", e["inside"]), e["app"])
        else:
            tags.setdefault(("remote", e["public"]), e["app"])
    out = []
    for u in c.dump("nat44_user_dump"):
        for s in c.dump("nat44_user_session_v3_dump", ip_address=u.ip_address, vrf_id=u.vrf_id):
            if s.is_timed_out:
                continue  # expired, kept by NAT44-ED only until reused
            inside = f"{s.inside_ip_address}:{s.inside_port}"
            public = f"{s.outside_ip_address}:{s.outside_port}"
            remote = f"{s.ext_host_address}:{s.ext_host_port}"
            proto = PROTOCOLS.get(int(s.protocol), str(s.protocol))
            app = (tags.get(("public", public)) or tags.get(("inside", inside))
                   or tags.get(("remote", remote)))
            out.append({"app": app or proto, "alg": app is not None, "protocol": proto,
                        "remote": remote, "public": public, "inside": inside,
                        "vpn": "public --> public", "idle": int(s.time_since_last_heard),
                        "packets": s.total_pkts, "bytes": s.total_bytes})
    return out


def format_session_table(sessions):
    """In the shape of a firewall's `display firewall session-table` (app, VPN,
    inside[public] --> remote), then aligned columns: protocol, time since last heard,
    packets, bytes."""
    if not sessions:
        return ["no sessions"]
    heads = [f"{s['app']} VPN:{s['vpn']} {s['inside']}[{s['public']}] --> {s['remote']}"
             for s in sessions]
    rows = [{"session": h, "protocol": s["protocol"], "idle": left_time(s["idle"]),
             "packets": s["packets"], "bytes": s["bytes"]} for h, s in zip(heads, sessions)]
    w = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in rows[0]}
    right = ("packets", "bytes")
    out = ["  ".join(k.upper().rjust(w[k]) if k in right else k.upper().ljust(w[k])
                     for k in rows[0]).rstrip()]
    out += ["  ".join(str(r[k]).rjust(w[k]) if k in right else str(r[k]).ljust(w[k])
                      for k in r).rstrip() for r in rows]
    return out


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


def calls(c):
    """Call records as dicts, from sip_alg_calls_get. Seconds: age since the first message,
    idle since the last one, media_idle since the last media packet of an established call
    (None: not established, or no media entries), left_time before the record ends by its
    timers; epoch: the dialogs the record carried before this one (a new INVITE on the
    Call-ID, e.g. after a 401/407 challenge)."""
    return [{"thread": d.thread, "call_id": d.call_id.rstrip("\x00"),
             "state": d.state.rstrip("\x00"),
             "inside": f"{d.inside_address}:{d.inside_port}",
             "public": f"{d.public_address}:{d.public_port}",
             "peer": f"{d.peer_address}:{d.peer_port}", "messages": d.messages,
             "media": d.n_media, "age": d.age, "idle": d.idle,
             "media_idle": None if d.media_idle == NO_MEDIA else d.media_idle,
             "left_time": d.left_time, "epoch": d.epoch}
            for d in c.dump("sip_alg_calls_get", cursor=0)]


CALL_COLUMNS = ("thread", "call_id", "state", "inside", "public", "peer", "messages", "media",
                "age", "idle", "media_idle", "left_time", "epoch")


def format_calls(rows):
    """An aligned table, seconds as numbers; "-" for no media idle time."""
    return table([dict(r, media_idle="-" if r["media_idle"] is None else r["media_idle"])
                  for r in rows], CALL_COLUMNS)


def table(rows, cols):
    """Aligned text table."""
    if not rows:
        return []
    w = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in cols}
    out = ["  ".join(k.upper().ljust(w[k]) for k in cols)]
    out += ["  ".join(str(r[k]).ljust(w[k]) for k in cols) for r in rows]
    return out


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
