# SPDX-License-Identifier: Apache-2.0
"""Finding VPP and the plugin, and talking to VPP: one thin vpp_papi client.

VPP is looked for in one place when one is given (vpp.prefix in the YAML, else the
VPP_PREFIX environment variable), so that a wrong prefix is reported rather than another
VPP used; else in /usr, /usr/local, /opt/vpp, in that order. Talking to VPP needs its API
definitions (<prefix>/share/vpp/api/**/*.api.json); starting it needs <prefix>/bin/vpp.
Both failures are Unreachable (exit 2): NotInstalled names where it looked, NotRunning the
socket it could not reach.

The plugin (sip_alg_plugin.so, and its sip_alg.api.json to talk to it) is looked for in one
place when one is given (vpp.plugin_path, else SIPALGCTL_PLUGIN_PATH); else in the build of
the checkout sipalgctl runs from (`make plugin`), when it runs from one: build/plugin for a VPP
in a standard prefix, build/plugin-<prefix> for another (checkout_build); else in VPP's own
plugin directory (<prefix>/lib*/vpp_plugins or <prefix>/lib*/*/vpp_plugins, with the API JSON
in <prefix>/share/vpp/api/plugins/: `make install-plugin`), which is how an installed
sipalgctl finds it. Not found is PluginNotFound (exit 2), naming where it looked.

Every call's retval is checked; a non-zero retval becomes ApiError naming the message.
On connect the plugin's messages are checked against the running VPP (vpp_papi drops
messages whose CRC differs, so a missing message means a version mismatch)."""

import filecmp
import glob
import json
import os
import time
from dataclasses import dataclass
from typing import Optional, Tuple

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PREFIXES = ("/usr", "/usr/local", "/opt/vpp")
# prefixes whose plugin build is build/plugin (the Makefile's STD_PREFIXES); any other VPP
# prefix has a build of its own (checkout_build)
BUILD_PREFIXES = ("/usr", "/usr/local", "/opt/vpp")
REQUIRED = ("sip_alg_interface_enable_disable", "sip_alg_set_ports", "sip_alg_get_config",
            "sip_alg_interfaces_get", "sip_alg_server_map_get", "sip_alg_calls_get",
            "sip_alg_sessions_get",
            # API 0.7.0: validation verdicts, in get_config too
            "sip_alg_set_validation",
            "sip_alg_set_servers",  # API 0.8.0: published SIP servers, in get_config too
            # API 0.11.0: media on several public addresses, in get_config too
            "sip_alg_get_media_addresses",
            # API 0.12.0: one set/get message pair per section of settings
            "sip_alg_set_timeouts_v2", "sip_alg_get_timeouts", "sip_alg_set_limits_v2",
            "sip_alg_get_limits", "sip_alg_set_security_v2", "sip_alg_get_security",
            "sip_alg_set_media", "sip_alg_get_media")
# API 0.9.0: inside_vrf and outside_vrf in the server-map, calls and sessions details
# API 0.10.0: media streams in the calls details
# the plugin's API version that has every message of REQUIRED and every field sipalgctl reads
API_NEEDED = "0.12.0"


class Unreachable(Exception):
    """VPP (or its API socket) cannot be reached."""


class NotInstalled(Unreachable):
    """No VPP where it was looked for."""


class NotRunning(Unreachable):
    """VPP is installed, but nothing answers on its socket."""


class ApiError(Exception):
    """A non-zero retval; why: what it means, when known (else the call's arguments)."""

    def __init__(self, msg, retval, args=None, why=None):
        self.msg, self.retval = msg, retval
        super().__init__(f"{msg} failed: retval {retval}" + (f": {why}" if why else
                                                               f" ({args})" if args else ""))


BINARY = "executable (bin/vpp)"
API_JSON = "API definitions (share/vpp/api/**/*.api.json)"
START = "start it with `sipalgctl up <config.yaml>`"


def search(explicit=None):
    """(prefixes to look in, the setting that named them or None for the standard ones)."""
    if explicit:
        return (explicit,), "vpp.prefix"
    if os.environ.get("VPP_PREFIX"):
        return (os.environ["VPP_PREFIX"],), "VPP_PREFIX"
    return PREFIXES, None


def core_api_files(prefix):
    return glob.glob(os.path.join(prefix, "share", "vpp", "api", "**", "*.api.json"),
                     recursive=True)


def has(prefix, what):
    if what == BINARY:
        return os.access(os.path.join(prefix, "bin", "vpp"), os.X_OK)
    return bool(core_api_files(prefix))


def find_prefix(explicit=None, what=BINARY):
    """The first prefix searched (see search()) that has what: BINARY, to start VPP, or
    API_JSON, to talk to it; None if there is none."""
    for p in search(explicit)[0]:
        if has(p, what):
            return p
    return None


def not_installed(explicit=None, what=BINARY):
    """NotInstalled, saying where VPP's `what` was looked for and what to do."""
    prefixes, setting = search(explicit)
    where = ", ".join(prefixes) + (f" ({setting})" if setting else "")
    todo = (f"install VPP there or set {setting} to where it is installed" if setting else
            "install VPP, or set VPP_PREFIX (or vpp.prefix in the YAML) to where it is")
    return NotInstalled(f"VPP is not installed: no {what} under {where}; {todo}")


def not_running(socket, why):
    return NotRunning(f"cannot reach VPP at {socket}: {why}; is it running? {START}")


def installed_prefix(explicit=None):
    """The VPP that is started (bin/vpp) or, failing that, talked to (API definitions)."""
    return find_prefix(explicit, BINARY) or find_prefix(explicit, API_JSON)


# --- the plugin -------------------------------------------------------------------------------

PLUGIN_SO = "sip_alg_plugin.so"
PLUGIN_JSON = "sip_alg.api.json"
PLUGIN_ENV = "SIPALGCTL_PLUGIN_PATH"


class PluginNotFound(NotInstalled):
    """No sip_alg_plugin.so, or no API JSON beside it, where it was looked for."""


class PluginShadowed(NotInstalled):
    """Another sip_alg_plugin.so in VPP's own plugin directory would be loaded instead."""


@dataclass(frozen=True)
class Plugin:
    dir: str  # holds sip_alg_plugin.so: what startup.conf adds to VPP's plugin path
    api_json: Optional[str]  # its sip_alg.api.json; None: not found where looked
    origin: str  # what named it: vpp.plugin_path, SIPALGCTL_PLUGIN_PATH, "this checkout", ...
    json_looked: Tuple[str, ...] = ()

    @property
    def so(self):
        return os.path.join(self.dir, PLUGIN_SO)

    def require_api_json(self):
        """The API JSON, needed to talk to the plugin; PluginNotFound without it."""
        if self.api_json:
            return self.api_json
        if self.origin == "this checkout":
            todo = "build the plugin again (make plugin)"
        elif self.origin.startswith("VPP in "):
            todo = "install the plugin again (make install-plugin)"
        else:
            todo = ("put it beside the plugin, or keep the plugin in its build tree or install "
                    "prefix")
        raise PluginNotFound(f"sip_alg plugin API definitions not found: no {PLUGIN_JSON} at "
                             f"{', '.join(self.json_looked)} (for {self.so}, {self.origin}); "
                             f"{todo}")


def checkout():
    """The root of the vpp-sipalg checkout this package runs from (pip install -e mgmt, or
    python -m with mgmt/ on the path), or None when it is installed (a wheel)."""
    return ROOT if os.path.isfile(os.path.join(ROOT, "vpp-plugin", "sip_alg", "sip_alg.api")) \
        else None


def checkout_build(root, prefix=None):
    """The directory `make plugin` builds into for the VPP in prefix: build/plugin for a
    standard prefix (BUILD_PREFIXES) or none, else build/plugin-<prefix with / as -> (the
    Makefile's plugin_build), so that builds against several VPPs coexist in one checkout and
    a plugin built against one VPP is never loaded into another."""
    p = os.path.abspath(prefix) if prefix else None
    return os.path.join(root, "build", "plugin" if p in (None,) + BUILD_PREFIXES else
                        "plugin" + p.replace("/", "-"))


def checkout_plugin(root, prefix=None):
    """(plugin directory, API JSON) where `make plugin` builds them for the VPP in prefix."""
    build = checkout_build(root, prefix)
    return os.path.join(build, "lib", "vpp_plugins"), os.path.join(build, "sip_alg", PLUGIN_JSON)


def vpp_plugin_dirs(prefix):
    """VPP's own plugin directories under prefix (<prefix>/<lib dir>/vpp_plugins, the lib dir
    being lib, lib64 or lib/<multiarch>): VPP searches them before any add-path, and
    `cmake --install` (make install-plugin) puts plugins there."""
    pats = (os.path.join(prefix, "lib*", "vpp_plugins"),
            os.path.join(prefix, "lib*", "*", "vpp_plugins"))
    return sorted({d for p in pats for d in glob.glob(p) if os.path.isdir(d)})


def vpp_plugin_json(prefix):
    return os.path.join(prefix, "share", "vpp", "api", "plugins", PLUGIN_JSON)


def _json_near(d):
    """Where the API JSON of a plugin in directory d can be: beside it; in its build tree
    (<build>/lib/vpp_plugins -> <build>/sip_alg/); in its install prefix
    (<prefix>/lib/vpp_plugins or <prefix>/lib/<multiarch>/vpp_plugins ->
    <prefix>/share/vpp/api/plugins/)."""
    d = os.path.abspath(d)
    up2 = os.path.dirname(os.path.dirname(d))
    return (os.path.join(d, PLUGIN_JSON), os.path.join(up2, "sip_alg", PLUGIN_JSON),
            vpp_plugin_json(up2), vpp_plugin_json(os.path.dirname(up2)))


def _plugin(d, looked, origin):
    return Plugin(d, next((j for j in looked if os.path.isfile(j)), None), origin, tuple(looked))


def find_plugin(explicit=None, prefix=None):
    """The plugin VPP is to load, a Plugin; PluginNotFound if there is none. explicit:
    vpp.plugin_path; prefix: the VPP found (installed_prefix()), or None."""
    setting = "vpp.plugin_path" if explicit else PLUGIN_ENV if os.environ.get(PLUGIN_ENV) \
        else None
    if setting:
        d = explicit or os.environ[PLUGIN_ENV]
        if not os.path.isfile(os.path.join(d, PLUGIN_SO)):
            raise PluginNotFound(f"sip_alg plugin not found: no {PLUGIN_SO} in {d} ({setting}); "
                                 f"set {setting} to the directory that has it")
        return _plugin(d, _json_near(d), setting)
    root = checkout()
    if root:
        d, j = checkout_plugin(root, prefix)
        if os.path.isfile(os.path.join(d, PLUGIN_SO)):
            return _plugin(d, (j,), "this checkout")
    if prefix:
        for d in vpp_plugin_dirs(prefix):
            if os.path.isfile(os.path.join(d, PLUGIN_SO)):
                return _plugin(d, (vpp_plugin_json(prefix),), f"VPP in {prefix}")
    where = [f"{checkout_plugin(root, prefix)[0]} (this checkout)"] if root else []
    where.append(f"{prefix}/lib*/vpp_plugins, {prefix}/lib*/*/vpp_plugins (VPP's plugin "
                 f"directories)" if prefix else "VPP's plugin directories (no VPP found)")
    todo = ("build it (make plugin) or install it into VPP (make install-plugin)" if root else
            "install it into VPP (make install-plugin, in a vpp-sipalg checkout)")
    raise PluginNotFound(
        f"sip_alg plugin not found: no {PLUGIN_SO} in {' or '.join(where)}; {todo}, or set "
        f"vpp.plugin_path (or {PLUGIN_ENV}) to the directory that has it")


def multiarch():
    """The Debian multiarch triplet of this machine (x86_64-linux-gnu): VPP's libraries and
    plugins are under <prefix>/lib/<triplet>."""
    import platform
    import sysconfig
    return sysconfig.get_config_var("MULTIARCH") or f"{platform.machine()}-linux-gnu"


def plugin_dir_to_be(explicit=None, prefix=None, vpp_prefix=None):
    """(directory, why there) where the plugin will be when find_plugin finds none: the one
    vpp.plugin_path (explicit) or SIPALGCTL_PLUGIN_PATH names; else the plugin directory of the
    VPP in prefix (installed_prefix()), which holds VPP's own plugins and where `make
    install-plugin` and the plugin's package put it; else, no VPP being installed, where that
    directory will be: <vpp_prefix>/lib/<multiarch>/vpp_plugins, vpp_prefix being vpp.prefix,
    else VPP_PREFIX, else /usr (FD.io's packages)."""
    setting = "vpp.plugin_path" if explicit else PLUGIN_ENV if os.environ.get(PLUGIN_ENV) \
        else None
    if setting:
        return explicit or os.environ[PLUGIN_ENV], f"which {setting} names"
    if prefix:
        dirs = vpp_plugin_dirs(prefix)
        own = [d for d in dirs if glob.glob(os.path.join(d, "*_plugin.so"))]
        if own or dirs:
            return (own or dirs)[0], (f"VPP's plugin directory in {prefix}, where `make "
                                      f"install-plugin` and the plugin's package put it")
    named = vpp_prefix or os.environ.get("VPP_PREFIX")
    base = search(vpp_prefix)[0][0] if named else "/usr"
    d = os.path.join(base, "lib", multiarch(), "vpp_plugins")
    return d, (f"VPP's plugin directory once VPP is installed in {base}"
               + ("" if named else " (FD.io's packages)"))


def shadowing(plugin, prefix):
    """The sip_alg_plugin.so VPP loads instead of plugin, or None: VPP searches its own plugin
    directories before an add-path and loads the first plugin of a name, so an installed copy
    that differs from plugin wins."""
    if not prefix:
        return None
    for d in vpp_plugin_dirs(prefix):
        so = os.path.join(d, PLUGIN_SO)
        if os.path.isfile(so):
            if os.path.samefile(so, plugin.so) or filecmp.cmp(so, plugin.so, shallow=False):
                return None
            return so
    return None


def shadowed(plugin, prefix, so):
    return PluginShadowed(
        f"VPP in {prefix} would load {so}, not {plugin.so} ({plugin.origin}): VPP searches its "
        f"own plugin directory before add-path; install this plugin there "
        f"(make install-plugin) or remove {so}")


def api_files(prefix, plugin_json):
    """VPP's API definitions and the plugin's; a sip_alg.api.json installed with VPP is left
    out (plugin_json is the one of the plugin VPP loads)."""
    return [f for f in core_api_files(prefix)
            if os.path.basename(f) != PLUGIN_JSON] + [plugin_json]


def api_version(api_json):
    """The `option version` of an API JSON file, or None."""
    try:
        with open(api_json) as f:
            return json.load(f).get("options", {}).get("version")
    except (OSError, ValueError, AttributeError):
        return None


class Client:
    """Context manager around VPPApiClient; prefix: from find_prefix(..., API_JSON); plugin: a
    Plugin, else found (find_plugin(plugin_path, prefix)) once the socket is there."""

    def __init__(self, socket, prefix, plugin=None, plugin_path=None, retries=10, delay=0.5,
                 name="sipalgctl"):
        self.socket, self.prefix = socket, prefix
        self.plugin, self.plugin_path = plugin, plugin_path
        self.retries, self.delay, self.name = retries, delay, name
        self.vpp = None

    def __enter__(self):
        if not self.prefix:
            raise not_installed(what=API_JSON)
        try:
            from vpp_papi import VPPApiClient
        except ImportError as e:
            raise Unreachable(f"vpp_papi is not installed ({e}): pip install vpp-papi, "
                              "a dependency of sipalgctl")
        last, plugin_json = None, None
        for _ in range(self.retries):
            if os.path.exists(self.socket):
                if not plugin_json:
                    plugin = self.plugin or find_plugin(self.plugin_path, self.prefix)
                    plugin_json = plugin.require_api_json()
                try:
                    vpp = VPPApiClient(apifiles=api_files(self.prefix, plugin_json),
                                       server_address=self.socket, use_socket=True)
                except Exception as e:  # the JSON files, not VPP: no use retrying
                    raise NotInstalled(f"VPP's API definitions under {self.prefix} or the "
                                       f"plugin's ({plugin_json}) cannot be loaded: {e}; "
                                       "reinstall VPP or the plugin")
                try:
                    self.vpp = vpp
                    self.vpp.connect(self.name)
                    break
                except Exception as e:  # vpp_papi raises bare exceptions on connect
                    last = e
                    self.vpp = None
            else:
                last = None
            time.sleep(self.delay)
        if not self.vpp:
            waited = f"{self.retries * self.delay:g} s"
            raise not_running(self.socket, f"no API socket there after {waited}"
                              if last is None else f"{last} (tried for {waited})")
        missing = [m for m in REQUIRED if not hasattr(self.vpp.api, m)]
        if missing:
            self.vpp.disconnect()
            version = api_version(plugin_json)
            raise Unreachable("the running VPP does not offer " + ", ".join(missing) +
                              ": sip_alg plugin not loaded, or built from another sip_alg.api "
                              f"than {plugin_json}" +
                              (f" (API {version})" if version else "") +
                              f"; this sipalgctl needs the plugin's API {API_NEEDED} or later: "
                              "build and install the plugin again (make plugin, or make "
                              "install-plugin) and restart VPP")
        return self

    def __exit__(self, *exc):
        if self.vpp:
            self.vpp.disconnect()

    def has(self, msg):
        """Whether the running VPP offers msg (a plugin it did not load offers nothing)."""
        return hasattr(self.vpp.api, msg)

    def call(self, msg, **kw):
        r = getattr(self.vpp.api, msg)(**kw)
        rv = getattr(r, "retval", 0)
        if rv != 0:
            # the sections' set messages say what they refused (API 0.12.0)
            why = str(getattr(r, "error", "") or "").rstrip("\x00")
            raise ApiError(msg, rv, kw, why=why or None)
        return r

    EAGAIN = -165  # VNET_API_ERROR_EAGAIN: a *_get stopped to let VPP run; go on from cursor

    def pages(self, msg, **kw):
        """The details of a *_dump (one page) or of a cursor-based *_get, a page (a list) at
        a time, each as soon as VPP has sent it. A *_get that VPP cut short (EAGAIN: its main
        thread had other work, or the client's queue was full) is asked again from the cursor
        it returned, until a reply says it is complete; another retval is ApiError."""
        r = getattr(self.vpp.api, msg)(**kw)
        if not isinstance(r, tuple):
            yield list(r)
            return
        while True:
            reply, details = r
            if reply.retval not in (0, self.EAGAIN):
                raise ApiError(msg, reply.retval, kw)
            yield list(details)
            if reply.retval == 0:
                return
            if reply.cursor == kw.get("cursor"):
                # to go on from where it started: asking again would loop forever
                raise ApiError(msg, reply.retval, dict(kw, stuck="EAGAIN without progress"))
            kw = dict(kw, cursor=reply.cursor)
            r = getattr(self.vpp.api, msg)(**kw)

    def stream(self, msg, **kw):
        """pages(), one detail at a time."""
        for page in self.pages(msg, **kw):
            yield from page

    def dump(self, msg, **kw):
        """Every detail of a *_dump or a cursor-based *_get (pages()), as one list."""
        return list(self.stream(msg, **kw))
