# SPDX-License-Identifier: Apache-2.0
"""sipalgctl: check, render, plan, apply, dump, up, down, show, stats.

Exit codes: 0 ok, 1 invalid config, 2 VPP not installed or not reachable, 3 apply failed."""

import argparse
import glob
import json
import os
import sys
import time

from . import EXIT_APPLY_FAILED, EXIT_INVALID, EXIT_OK, EXIT_UNREACHABLE, __version__
from . import config as C
from . import dump as DUMP
from . import plan as P
from . import render as R
from . import runner, show
from .vpp import API_JSON, BINARY, ApiError, Client, NotRunning, PluginNotFound, Unreachable, \
    find_plugin, find_prefix, installed_prefix, not_installed, not_running, plugin_dir_to_be, \
    shadowed, shadowing


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
    sock = args.socket or (cfg.vpp.api_socket if cfg else C.VppModel().api_socket)
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
    if not (alg.enabled and alg.ports.tcp):
        return "SIP over TCP off"
    return (f"SIP over TCP on {','.join(str(p) for p in alg.ports.tcp)} "
            f"(reassembly {alg.limits.tcp_reassembly} bytes)")


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
    return "VRFs " + ", ".join(f"{n} (table {v.table})" for n, v in cfg.vrfs.items()) + ", "


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
    summary = (f"{n} interfaces, {vrfs_summary(cfg)}{len(cfg.nat44.pool)} NAT "
               f"addresses, "
               f"{len(cfg.nat44.static_mappings)} static mappings, SIP ALG "
               f"{'on ' + ', '.join(cfg.alg_interfaces()) if cfg.sip_alg.enabled else 'off'}; "
               f"{tcp_summary(cfg.sip_alg)}; "
               f"media-other-hosts {'on' if cfg.sip_alg.media.other_hosts else 'off'}; "
               f"{servers_summary(cfg.sip_alg)}; {firewall_summary(cfg.firewall)}")
    out(args, {"ok": True, "file": args.config, "errors": [],
               "warnings": [w.as_json(args.config) for w in cfg.located_warnings],
               "summary": summary},
        [f"{args.config}: ok ({summary})"])
    return EXIT_OK


def render_plugin_dir(cfg):
    """The directory startup.conf's add-path names: the plugin's, found (vpp.find_plugin), with
    a warning when VPP would load another; else, with a warning naming where it was looked for,
    where it will be (vpp.plugin_dir_to_be): render needs no built plugin."""
    prefix = installed_prefix(cfg.vpp.prefix)
    try:
        plugin = find_plugin(cfg.vpp.plugin_path, prefix)
    except PluginNotFound as e:
        d, why = plugin_dir_to_be(cfg.vpp.plugin_path, prefix, cfg.vpp.prefix)
        print(f"sipalgctl: warning: {str(e).split('; ')[0]}; startup.conf names {d}, {why}",
              file=sys.stderr)
        return d
    so = shadowing(plugin, prefix)
    if so:
        print(f"sipalgctl: warning: {shadowed(plugin, prefix, so)}", file=sys.stderr)
    return plugin.dir


def cmd_render(args):
    cfg = load(args)
    files = R.render(cfg, templates=args.templates or R.TEMPLATES,
                     plugin_dir=render_plugin_dir(cfg))
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


def api_socket(args, cfg=None):
    return args.socket or (cfg.vpp.api_socket if cfg else C.VppModel().api_socket)


def write_out(path, text):
    """text to the file path ("-": stdout)."""
    if path == "-":
        sys.stdout.write(text)
        return
    with open(path, "w") as f:
        f.write(text)


EXEC_HEADER = """VPP CLI for `vppctl exec <this file, by its absolute path>`, written by
`sipalgctl plan {config} --exec-file`
from the state of the VPP at {socket}:
run it on that VPP as it was then (plan again if it has changed). VPP's exec stops at the
first command that fails (`vppctl exec` prints `exec: CLI line error: ...` and exits
0), but VPP's CLI does not report the failures of `set acl-plugin ...` commands: afterwards,
`sipalgctl plan` on the same configuration shows anything left to do."""


def cmd_plan(args):
    cfg = load(args)
    with client(args, cfg) as c:
        st = P.read_state(c)
        ops = P.plan(cfg, st)
    if args.exec_file:
        lines = P.exec_script(ops, st)  # PlanError, before anything is written
        head = EXEC_HEADER.format(config=args.config, socket=api_socket(args, cfg))
        write_out(args.exec_file, "".join(f"# {h}\n" for h in head.splitlines()) + "".join(
            f"{line}\n" for line in lines or ["# nothing to do"]))
        if args.exec_file == "-":
            return EXIT_OK
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


def wait_for_vpp(args, cfg, timeout):
    """Wait, up to timeout seconds, until VPP answers on its API socket and has the
    configuration's interfaces (startup.conf's bootstrap.cli makes them after the socket is
    there); Unreachable naming what is still missing after that. Anything but a socket that
    does not answer yet (VPP or the plugin not installed, the plugin not loaded) fails at
    once."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with client(args, cfg) as c:  # Client itself tries for 5 s
                have = P.read_state(c).sw_if_index
            missing = [i.vpp_ifname for i in cfg.interfaces.values()
                       if i.vpp_ifname not in have]
            if not missing:
                return
            why = (f"VPP has no interface {', '.join(missing)} (does it run the startup.conf "
                   f"and bootstrap.cli `sipalgctl render` wrote for {args.config}?)")
        except NotRunning as e:
            why = str(e)
        if time.monotonic() >= deadline:
            raise Unreachable(f"waited {timeout:g} s for VPP: {why}")
        time.sleep(1)


def config_files(path):
    """The configuration files apply takes from path: path itself, or every *.yaml in it when
    it is a directory, in the order of their names."""
    if not os.path.isdir(path):
        return [path]
    return sorted(glob.glob(os.path.join(path, "*.yaml")))


def cmd_apply(args):
    """Every file is loaded (and checked) before any is applied; two that are for the same VPP
    (API socket) are refused, each would undo what the other applies. --json:
    {"applied": [...]}, the operations sent (of every file), as plan --json lists them."""
    paths = config_files(args.config)
    if not paths:
        print(f"{args.config}: no *.yaml in it", file=sys.stderr)
        return EXIT_INVALID
    cfgs, seen = [], {}
    for path in paths:
        args.config = path  # for main()'s messages
        cfg = load(args)
        sock = api_socket(args, cfg)
        if sock in seen:
            raise C.ConfigError([("vpp.runtime_dir", f"the same VPP (API socket {sock}) as "
                                  f"{seen[sock]}: each would undo what the other applies")])
        seen[sock] = path
        cfgs.append((path, cfg))
    applied = []
    for path, cfg in cfgs:
        args.config = path
        if len(cfgs) > 1 and not args.json:
            print(f"== {path}")
        if args.wait:
            wait_for_vpp(args, cfg, args.wait)
        applied += ops_json(do_apply(args, cfg))
    if args.json:
        out(args, {"applied": applied}, [])
    return EXIT_OK


def cmd_dump(args):
    """The running configuration as YAML (dump.py), to --output or stdout; the YAML must pass
    check (else nothing is written, exit 1), and what plan would still do against it is
    warned about."""
    cfg = load(args) if args.config else None
    sock = api_socket(args, cfg)
    with client(args, cfg) as c:
        st = P.read_state(c)
        extra = DUMP.read_extra(c)
    data, warnings = DUMP.dump(st, extra, cfg, sock)
    vpp_from = f"the settings of {args.config}" if cfg else "sipalgctl's defaults"
    text = DUMP.to_yaml(data, [
        f"The running configuration of the VPP at {sock}, written by `sipalgctl dump`.",
        f"vpp: {vpp_from} (VPP does not report them), the runtime directory its API "
        f"socket's."])
    try:
        dumped = DUMP.check(text)
        left = P.plan(dumped, st)
    except (C.ConfigError, P.PlanError) as e:
        for path, msg in getattr(e, "problems", [("plan", str(e))]):
            print(f"sipalgctl: dump: {path}: {msg}", file=sys.stderr)
        print("sipalgctl: dump: the running configuration cannot be written as sipalgctl's "
              "YAML (above); nothing written", file=sys.stderr)
        return EXIT_INVALID
    warnings += [f"plan against the dump would still do: {o.cli()}" for o in left]
    for w in warnings:
        print(f"sipalgctl: dump: warning: {w}", file=sys.stderr)
    write_out(args.output, json.dumps(data, indent=2) + "\n" if args.json else text)
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
    return args.stats_socket or (cfg.vpp.stats_socket if cfg else C.VppModel().stats_socket)


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
(unbound first) when the firewall is off or gone. Applying twice changes nothing.

config may be a directory: every *.yaml in it, in the order of their names, each for its own
VPP (two for the same API socket are refused); all are checked before any is applied, and
apply stops at the first that fails. With --wait, apply first waits for VPP to answer and to
have the configuration's interfaces: the systemd unit sipalgctl.service runs `sipalgctl apply
--wait 120 /etc/sipalgctl` after vpp.service."""


DUMP_HELP = """write the running configuration of VPP as sipalgctl's YAML, which check accepts
and against which plan finds nothing to do (read-only): every interface with an IPv4 address
(af_packet for host-<x>, tap for tap0, tap1, ..., else existing), its table, NAT44-ED role and
address; the IPv4 tables in use (vrfs), routes through those interfaces, NAT44-ED's pool and
static mappings (not the ALG's pinholes), every SIP ALG setting and the interfaces it is on,
and the firewall from the ACLs tagged sipalgctl:. config (optional) gives the socket and the
vpp section, which VPP does not report. What the YAML cannot say is warned about on stderr,
with what plan would still do against the dump; when the running configuration is no valid
configuration (no NAT44-ED pool, no inside or outside interface), nothing is written (exit
1)."""


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
    pl = with_config("plan", cmd_plan, "show what apply would change (read-only)",
                     description="show what apply would change (read-only), as VPP CLI text; "
                     "an ACL this plan creates is named by its tag (<sipalgctl:inbound>) until "
                     "VPP gives it an index, and `# rules ...` says which YAML rule each ACL "
                     "rule is")
    pl.add_argument("--exec-file", metavar="FILE",
                    help="also write the plan to FILE ('-': stdout, instead of the plan) as "
                    "VPP CLI commands that `vppctl exec FILE` runs, one a line; refused, "
                    "writing nothing, when an operation has no CLI equivalent (deleting a route "
                    "or an IPv4 table)")
    ap = with_config("apply", cmd_apply, "bring the running VPP to the configuration",
                     description=APPLY_HELP)
    ap.add_argument("--wait", type=float, metavar="SECONDS", default=0,
                    help="first wait up to SECONDS for VPP to answer on its API socket and to "
                    "have the configuration's interfaces (for a VPP just started, as by the "
                    "systemd unit); default: do not wait")
    du = with_config("dump", cmd_dump, "write the running configuration as YAML (read-only)",
                     optional=True, description=DUMP_HELP)
    du.add_argument("-o", "--output", default="-", metavar="FILE",
                    help="write to FILE (default: stdout)")
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
