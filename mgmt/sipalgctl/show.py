# SPDX-License-Identifier: Apache-2.0
"""The ALG's tables as an operator reads them, or as JSON for scripts."""

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
            "protocol": "udp",
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


def session_table(c):
    """NAT44-ED sessions, each tagged with the application of the server-map entry that
    matches its inside or public endpoint (sip, sip-rtp, sip-rtcp) or its protocol."""
    tags = {}
    for e in server_map(c):
        if e["inside"]:
            tags[e["inside"]] = e["app"]
            tags[e["public"]] = e["app"]
        else:
            tags[e["public"]] = e["app"]
    out = []
    for u in c.dump("nat44_user_dump"):
        for s in c.dump("nat44_user_session_v3_dump", ip_address=u.ip_address, vrf_id=u.vrf_id):
            inside = f"{s.inside_ip_address}:{s.inside_port}"
            public = f"{s.outside_ip_address}:{s.outside_port}"
            ext = f"{s.ext_host_address}:{s.ext_host_port}"
            proto = {17: "udp", 6: "tcp", 1: "icmp"}.get(int(s.protocol), str(s.protocol))
            app = tags.get(inside) or tags.get(public) or tags.get(ext) or proto
            out.append({"app": app, "protocol": proto, "inside": inside, "public": public,
                        "remote": ext, "vpn": "public --> public",
                        "packets": s.total_pkts, "bytes": s.total_bytes,
                        "idle": round(s.time_since_last_heard, 1) if hasattr(
                            s, "time_since_last_heard") else None})
    return out


def format_session_table(sessions):
    """In the shape of a firewall's `display firewall session-table`."""
    return [f"{s['app']} VPN:{s['vpn']} {s['inside']}[{s['public']}] --> {s['remote']}"
            for s in sessions]


def calls(c):
    return [{"thread": d.thread, "call_id": d.call_id.rstrip("\x00"),
             "state": d.state.rstrip("\x00"),
             "inside": f"{d.inside_address}:{d.inside_port}",
             "public": f"{d.public_address}:{d.public_port}",
             "peer": f"{d.peer_address}:{d.peer_port}", "messages": d.messages,
             "media": d.n_media, "age": d.age}
            for d in c.dump("sip_alg_calls_get", cursor=0)]


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
