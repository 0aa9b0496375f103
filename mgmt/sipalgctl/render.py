# SPDX-License-Identifier: Apache-2.0
"""startup.conf and the bootstrap CLI from templates/ (jinja2, StrictUndefined).

Templates get a prepared view model and contain no logic beyond loops."""

import os

import jinja2

from .vpp import find_plugin, installed_prefix

HERE = os.path.dirname(os.path.abspath(__file__))


def templates_dir():
    """SIPALGCTL_TEMPLATES; else the copy built into the package (pip install ./mgmt, a
    wheel, an sdist: see mgmt/setup.py); else the templates/ of the checkout this package
    runs from (pip install -e mgmt), so that edits there show up."""
    explicit = os.environ.get("SIPALGCTL_TEMPLATES")
    if explicit:
        return explicit
    packaged = os.path.join(HERE, "templates")
    if os.path.isdir(packaged):
        return packaged
    return os.path.normpath(os.path.join(HERE, "..", "..", "templates"))


TEMPLATES = templates_dir()
FILES = {"startup.conf": "startup.conf.j2", "bootstrap.cli": "bootstrap.cli.j2"}


def view(cfg, prefix=None, plugin_dir=None):
    """The values the templates use, already formatted. plugin_dir: the directory with
    sip_alg_plugin.so; None: found (vpp.find_plugin) for the VPP in prefix, or the one found.
    When that is VPP's own plugin directory, adding it again changes nothing (VPP loads the
    first plugin of a name)."""
    v = cfg.vpp
    if not plugin_dir:
        plugin_dir = find_plugin(v.plugin_path, prefix or installed_prefix(v.prefix)).dir
    return {
        "runtime_dir": v.runtime_dir,
        "api_socket": v.api_socket,
        "cli_socket": v.cli_socket,
        "stats_socket": v.stats_socket,
        "main_core": v.main_core,
        "workers": v.workers,
        "use_pthreads": v.use_pthreads and v.workers > 0,
        "buffers": v.buffers,
        "main_heap": v.main_heap,
        "plugin_dir": plugin_dir,
        "bootstrap": f"{v.runtime_dir}/bootstrap.cli",
        "af_packet": [{"host_if": i.host_if} for i in cfg.interfaces.values()
                      if i.type == "af_packet"],
        "taps": [{"id": i.tap_id, "host_if": i.host_if} for i in cfg.interfaces.values()
                 if i.type == "tap"],
        # the firewall's ACLs need acl_plugin.so; sessions: its stateful connection table
        "acl_plugin": cfg.firewall.enabled,
        "acl_sessions": cfg.firewall.sessions if cfg.firewall.enabled else None,
    }


def render(cfg, templates=TEMPLATES, prefix=None, plugin_dir=None):
    """{file name: text}"""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    model = view(cfg, prefix=prefix, plugin_dir=plugin_dir)
    return {name: env.get_template(t).render(**model) for name, t in FILES.items()}
