# SPDX-License-Identifier: Apache-2.0
"""sipalgctl: check, render, plan, apply, up, down, show, stats.

Exit codes: 0 ok, 1 invalid config, 2 VPP not installed or not reachable, 3 apply failed."""

import argparse
import json
import os
import sys
import time

from . import EXIT_APPLY_FAILED, EXIT_INVALID, EXIT_OK, EXIT_UNREACHABLE, __version__
from . import config as C
from . import plan as P
from . import render as R
from . import runner, show
from .vpp import API_JSON, BINARY, ApiError, Client, Unreachable, find_plugin, find_prefix, \
    installed_prefix, not_installed, not_running, shadowed, shadowing


def out(args, data, lines):
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        for line in lines:
            print(line)


def json_list(write, pages, level=0):
    """Write the list of the items of pages as json.dumps(items, indent=2) would (nested
    level deep), an item at a time, so that a long list is written as it arrives."""
    pad, first = "  " * level, True
    for page in pages:
        for item in page:
            text = json.dumps(item, indent=2, default=str).replace("\n", "\n" + pad + "  ")
            write(("[\n" if first else ",\n") + pad + "  " + text)
            first = False
    write("[]" if first else "\n" + pad + "]")


def out_pages(args, pages, lines):
    """out() for a table that comes a page at a time: --json writes the list of its rows
    (the same text as out() would), else lines(pages) is printed; either as it arrives."""
    if args.json:
        json_list(sys.stdout.write, pages)
        print()
    else:
        for line in lines(pages):
            print(line)


def load(args):
    cfg = C.load(args.config)
    if not (args.json and args.cmd == "check"):  # check --json puts them in its JSON
        for path, msg in cfg.warnings:
            print(f"{args.config}: {path}: warning: {msg}", file=sys.stderr)
    return cfg


def ops_json(ops):
    """Operations of a plan (or those apply sent) as plan --json lists them."""
    return [{"cli": o.cli(), "api": m, "args": a, "comment": o.comment()}
            for o, (m, a) in ((o, o.call()) for o in ops)]


def client(args, cfg=None, plugin=None):
    sock = args.socket or (cfg.vpp.api_socket if cfg else C.VppSettings().api_socket)
    explicit = cfg.vpp.prefix if cfg else None
    prefix = find_prefix(explicit, API_JSON)
    if not prefix:
        raise not_installed(explicit, API_JSON)
    return Client(sock, prefix, plugin=plugin, plugin_path=cfg.vpp.plugin_path if cfg else None)


def firewall_summary(fw):
    if not fw.enabled:
        return "firewall off"

    def pol(name, p):
        return f"{name} {p.default} + {len(p.rules)} rule{'' if len(p.rules) == 1 else 's'}"
    return f"firewall on: {pol('outbound', fw.outbound)}, {pol('inbound', fw.inbound)}"


def tcp_summary(alg):
    if not (alg.enabled and alg.tcp_ports):
        return "SIP over TCP off"
    return (f"SIP over TCP on {','.join(str(p) for p in alg.tcp_ports)} "
            f"(reassembly {alg.tcp_reassembly} bytes)")


def servers_summary(alg):
    """The published SIP servers and where they come from."""
    if not alg.servers:
        return "SIP servers none"
    return (f"SIP servers {' '.join(f'{a}:{p}' for a, p in alg.servers)} ("
            f"{'sip_alg.servers' if alg.servers_explicit else 'from nat44.static_mappings'})")


def vrfs_summary(cfg):
    """The VRF tables, when there are any."""
    if not cfg.vrfs:
        return ""
    return "VRFs " + ", ".join(f"{n} (table {t})" for n, t in cfg.vrfs.items()) + ", "


def cmd_check(args):
    """--json: {"ok", "file", "errors", "warnings", "summary"}, each error and warning
    {"file", "path", "line", "column", "message"} (C.Problem.as_json); exit 1 when not ok."""
    try:
        cfg = load(args)
    except (C.ConfigError, OSError) as e:
        if not args.json or (isinstance(e, OSError) and e.filename != args.config):
            raise
        errors = e.located if isinstance(e, C.ConfigError) else [C.Problem(None, e.strerror)]
        print(json.dumps({"ok": False, "file": args.config,
                          "errors": [p.as_json(args.config) for p in errors],
                          "warnings": [], "summary": None}, indent=2))
        return EXIT_INVALID
    n = len(cfg.interfaces)
    summary = (f"{n} interfaces, {vrfs_summary(cfg)}{len(cfg.nat.pool)} NAT "
               f"addresses, "
               f"{len(cfg.nat.static_mappings)} static mappings, SIP ALG "
               f"{'on ' + ', '.join(cfg.alg_interfaces()) if cfg.sip_alg.enabled else 'off'}; "
               f"{tcp_summary(cfg.sip_alg)}; "
               f"media-other-hosts {'on' if cfg.sip_alg.media_other_hosts else 'off'}; "
               f"{servers_summary(cfg.sip_alg)}; {firewall_summary(cfg.firewall)}")
    out(args, {"ok": True, "file": args.config, "errors": [],
               "warnings": [w.as_json(args.config) for w in cfg.located_warnings],
               "summary": summary},
        [f"{args.config}: ok ({summary})"])
    return EXIT_OK


def cmd_render(args):
    cfg = load(args)
    prefix = installed_prefix(cfg.vpp.prefix)
    plugin = find_plugin(cfg.vpp.plugin_path, prefix)
    so = shadowing(plugin, prefix)
    if so:
        print(f"sipalgctl: warning: {shadowed(plugin, prefix, so)}", file=sys.stderr)
    files = R.render(cfg, templates=args.templates or R.TEMPLATES, plugin_dir=plugin.dir)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        for name, text in files.items():
            with open(os.path.join(args.out, name), "w") as f:
                f.write(text)
        out(args, {"written": {n: os.path.join(args.out, n) for n in files}},
            [os.path.join(args.out, n) for n in files])
    elif args.json:
        out(args, {"files": files}, [])
    else:
        for name, text in files.items():
            print(f"# ---- {name}")
            print(text, end="")
    return EXIT_OK


def cmd_plan(args):
    cfg = load(args)
    with client(args, cfg) as c:
        ops = P.plan(cfg, P.read_state(c))
    calls = [o.call() for o in ops]
    lines = []
    for o in ops:
        lines.append(o.cli())
        if o.comment():
            lines.append(f"  # {o.comment()}")
    out(args, [{"cli": o.cli(), "api": m, "args": a, "comment": o.comment()}
               for o, (m, a) in zip(ops, calls)],
        lines or ["nothing to do"])
    return EXIT_OK


def do_apply(args, cfg, plugin=None):
    """Returns the operations sent (with the ACL indices VPP gave)."""
    sent = []

    def progress(n, t, o):
        sent.append(o)
        if not args.json:
            print(f"[{n}/{t}] {o.cli()}")
    with client(args, cfg, plugin) as c:
        ops = P.plan(cfg, P.read_state(c))
        P.apply(c, ops, progress=progress)
        if not ops and not args.json:
            print("nothing to do")
        remaining = P.plan(cfg, P.read_state(c))
        if remaining:
            raise ApiError("apply", 0, "still planned after apply: "
                           + "; ".join(o.cli() for o in remaining))
    return sent


def cmd_apply(args):
    """--json: {"applied": [...]}, the operations sent, as plan --json lists them."""
    ops = do_apply(args, load(args))
    if args.json:
        out(args, {"applied": ops_json(ops)}, [])
    return EXIT_OK


def cmd_up(args):
    cfg = load(args)
    prefix = find_prefix(cfg.vpp.prefix, BINARY)
    if not prefix:
        raise not_installed(cfg.vpp.prefix, BINARY)
    # everything VPP and sipalgctl will need, before VPP starts
    plugin = find_plugin(cfg.vpp.plugin_path, prefix)
    plugin.require_api_json()
    so = shadowing(plugin, prefix)
    if so:
        raise shadowed(plugin, prefix, so)
    try:
        runner.start(cfg, prefix, plugin_dir=plugin.dir,
                     log=lambda m: print(m, file=sys.stderr if args.json else sys.stdout))
    except RuntimeError as e:
        raise Unreachable(str(e))
    # the API socket comes up before VPP has run bootstrap.cli: wait for the interfaces
    with client(args, cfg, plugin) as c:
        want = {i.vpp_ifname for i in cfg.interfaces.values()}
        deadline = time.time() + 20
        while not want <= set(P.read_state(c).sw_if_index) and time.time() < deadline:
            time.sleep(0.2)
    ops = do_apply(args, cfg, plugin)
    out(args, {"pid": runner.running_pid(cfg), "api_socket": cfg.vpp.api_socket,
               "cli_socket": cfg.vpp.cli_socket, "applied": ops_json(ops)},
        [f"up: VPP running, API {cfg.vpp.api_socket}, CLI {cfg.vpp.cli_socket}"])
    return EXIT_OK


def cmd_down(args):
    cfg = load(args)
    pid = runner.stop(cfg)
    out(args, {"stopped": pid},  # the pid of the VPP stopped, null: none was running
        [f"down: VPP (pid {pid}) stopped" if pid else "down: VPP was not running"])
    return EXIT_OK


def cmd_show(args):
    """The tables are printed as VPP sends them, a page at a time (show.*_pages)."""
    cfg = load(args) if args.config else None
    with client(args, cfg) as c:
        if args.what == "server-map":
            out_pages(args, show.server_map_pages(c), show.server_map_lines)
        elif args.what == "session-table":
            pages = show.session_table_pages(c)
            if args.json:  # {"sessions": [...], "policy_verdicts": {...}}, sessions first
                sys.stdout.write('{\n  "sessions": ')
                json_list(sys.stdout.write, pages, level=1)
                verdicts = show.verdicts(stats_socket(args, cfg))
                print(',\n  "policy_verdicts": ' + json.dumps(verdicts, indent=2, default=str)
                      .replace("\n", "\n  ") + "\n}")
            else:
                for line in show.session_table_lines(pages):
                    print(line)
                for line in show.format_verdicts(show.verdicts(stats_socket(args, cfg))):
                    print(line)
        elif args.what == "calls":
            out_pages(args, show.calls_pages(c), show.calls_lines)
        else:
            data = show.config(c)
            out(args, data, show.config_lines(data))
    return EXIT_OK


def stats_socket(args, cfg):
    return args.stats_socket or (cfg.vpp.stats_socket if cfg else C.VppSettings().stats_socket)


def cmd_stats(args):
    cfg = load(args) if args.config else None
    sock = stats_socket(args, cfg)
    if not os.path.exists(sock):
        raise not_running(sock, "no stats socket there")
    data = show.stats(sock)
    out(args, data, [f"{k:16s} {v}" for k, v in sorted(data.items())])
    return EXIT_OK


CHECK_HELP = """validate a configuration (no VPP needed): every key known, every value in
range, references between sections; each error names its YAML path. Sections: vpp,
interfaces, routes, nat44, sip_alg (see mgmt/examples/seed.yaml), vrfs (see
mgmt/examples/tenants.yaml) and firewall (see mgmt/examples/firewall.yaml):

  vrfs:                        IPv4 tables other than the default one (0, "public")
    <name>: {table: N}         1-4294967294, each once; the name is VPP's for the table
  interfaces.<if>.vrf: <name>  its table (default: the default table)
  routes[].vrf: <name>         (default: its interface's table)
  nat44.pool: [a.b.c.d, {address: a.b.c.d, vrf: <name>}]   the latter: that table's only
  nat44.static_mappings[].vrf: <name>                      the local address's table

  firewall:
    enabled: true|false        default true when the section is there
    sessions: N                ACL plugin sessions, all interfaces (startup.conf; restart)
    outbound:                  input ACL of every role:inside interface (pre-NAT)
      default: permit          permit | permit+reflect | deny (default permit)
      rules: [...]             in order, first match wins
    inbound:                   input ACL of every role:outside interface (public addresses)
      default: deny            (default deny)
      rules: [...]
  a rule: {action: permit|permit+reflect|deny, src: PREFIX, dst: PREFIX,
           proto: udp|tcp|icmp|any|0-255, sport: N|A-B, dport: N|A-B (udp, tcp),
           icmp_type: N|A-B, icmp_code: N|A-B (icmp), tag: up to 32 characters}
  and always, on every outside interface, an output ACL permitting and reflecting
  everything that leaves, so its return traffic gets in."""

APPLY_HELP = """bring the running VPP to the configuration. sipalgctl owns, on the configured
interfaces, their IPv4 table, addresses, admin state, routes, NAT44-ED and the ALG's
settings; the IPv4 tables of vrfs (made before anything is put in them, deleted once
emptied when gone from the YAML, made again under a new name); and, wherever
they are, the ACLs tagged sipalgctl:outbound, sipalgctl:inbound and sipalgctl:reflect: it
creates them, replaces them in place when their rules change, puts them first in each
interface's ACL lists (ACLs of others stay bound after them, in their order, but no packet
reaches them: each of sipalgctl's ends in its default, any -> any) and deletes them
(unbound first) when the firewall is off or gone. Applying twice changes nothing."""


def parser():
    p = argparse.ArgumentParser(prog="sipalgctl", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=__version__)
    p.add_argument("--json", action="store_true", help="machine-readable output (before or "
                   "after the command)")
    p.add_argument("--socket", help="VPP API socket (default: from the config)")
    sub = p.add_subparsers(dest="cmd", required=True)

    def with_config(name, fn, help, optional=False, description=None):
        sp = sub.add_parser(name, help=help, description=description or help,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        sp.add_argument("config", nargs="?" if optional else None, help="YAML configuration")
        sp.set_defaults(fn=fn)
        return sp

    with_config("check", cmd_check, "validate a configuration (no VPP needed)",
                description=CHECK_HELP)
    r = with_config("render", cmd_render, "write startup.conf and bootstrap.cli",
                    description="write startup.conf and bootstrap.cli; startup.conf loads "
                    "acl_plugin.so when firewall.enabled, with `acl-plugin { connection count "
                    "max N }` when firewall.sessions is set")
    r.add_argument("--out", help="directory to write to (default: print)")
    r.add_argument("--templates", help="template directory (default: SIPALGCTL_TEMPLATES, "
                   "else the packaged ones, else the checkout's templates/)")
    with_config("plan", cmd_plan, "show what apply would change (read-only)",
                description="show what apply would change (read-only), as VPP CLI text; an "
                "ACL this plan creates is named by its tag (<sipalgctl:inbound>) until VPP "
                "gives it an index, and `# rules ...` says which YAML rule each ACL rule is")
    with_config("apply", cmd_apply, "bring the running VPP to the configuration",
                description=APPLY_HELP)
    with_config("up", cmd_up, "render, start VPP, apply")
    with_config("down", cmd_down, "stop the VPP started by up")
    s = sub.add_parser(
        "show", help="server-map, session-table, calls or config",
        description="server-map: the ALG's pinholes (sip, sip-rtp, sip-rtcp) with their "
        "left-time. session-table: NAT44-ED's sessions, each tagged with the application of the "
        "server-map entry it belongs to (else its protocol), with remote, public and inside "
        "endpoints, idle time, packets and bytes; then the policy verdicts of the ALG's gate "
        "(gate_pass: packets let past the firewall's inbound ACL by a live server-map entry, "
        "gate_miss: left to the ACL), from the stats segment. calls: the ALG's call records, with "
        "seconds since the first message (age), since the last (idle), since the last media "
        "packet of an established call (media_idle; -: not established or no media), before "
        "the record ends by its timers (left_time), and the dialogs the record carried before "
        "this one (epoch); under each call a Stream line per media stream (its RTP pinhole): "
        "packets inside->outside (in2out) and outside->inside (out2in), seconds since the last "
        "each way (-: none yet), and One-Way: the direction that alone had media for the "
        "plugin's one-way-media seconds since the call was answered (no: not flagged; --json: "
        "streams). Each row's VPN: its outside and inside IPv4 tables (public: the "
        "default table, else VPP's name of the table; --json: inside_vrf, outside_vrf, "
        "inside_vpn, outside_vpn). The tables are printed as VPP sends them, a page at a time (the "
        "first page sets the columns' widths). config: the running ALG's settings "
        "(sip_alg_get_config) as the YAML's sip_alg section, the published SIP servers, "
        "validation and the limits per inside host included.")
    s.add_argument("what", choices=["server-map", "session-table", "calls", "config"])
    s.add_argument("config", nargs="?", help="YAML configuration (for the socket paths)")
    s.add_argument("--stats-socket", help="VPP stats socket, for session-table's policy "
                   "verdicts (default: from the config)")
    s.set_defaults(fn=cmd_show)
    st = sub.add_parser("stats", help="the ALG's counters from the stats segment")
    st.add_argument("config", nargs="?")
    st.add_argument("--stats-socket")
    st.set_defaults(fn=cmd_stats)
    # --json after the command as well; SUPPRESS: when absent there, the one before it counts
    for sp in sub.choices.values():
        sp.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable output")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except C.ConfigError as e:
        for p in e.located:
            print(f"{args.config}: {p.text()}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as e:
        if getattr(args, "config", None) and e.filename == args.config:
            print(f"{args.config}: {e.strerror}", file=sys.stderr)
            return EXIT_INVALID
        print(f"sipalgctl: {e}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except (Unreachable, P.PlanError) as e:
        print(f"sipalgctl: {e}", file=sys.stderr)
        return EXIT_UNREACHABLE if isinstance(e, (Unreachable, P.MissingPlugin)) else \
            EXIT_APPLY_FAILED
    except ApiError as e:
        print(f"sipalgctl: apply failed: {e}", file=sys.stderr)
        return EXIT_APPLY_FAILED


if __name__ == "__main__":
    sys.exit(main())
