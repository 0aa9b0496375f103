# SPDX-License-Identifier: Apache-2.0
"""Finding VPP and talking to it: one thin vpp_papi client.

VPP is looked for in one place when one is given (vpp.prefix in the YAML, else the
VPP_PREFIX environment variable), so that a wrong prefix is reported rather than another
VPP used; else in /usr, /usr/local, /opt/vpp, in that order. Talking to VPP needs its API
definitions (<prefix>/share/vpp/api/**/*.api.json); starting it needs <prefix>/bin/vpp.
Both failures are Unreachable (exit 2): NotInstalled names where it looked, NotRunning the
socket it could not reach.

Every call's retval is checked; a non-zero retval becomes ApiError naming the message.
On connect the plugin's messages are checked against the running VPP (vpp_papi drops
messages whose CRC differs, so a missing message means a version mismatch)."""

import glob
import os
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PREFIXES = ("/usr", "/usr/local", "/opt/vpp")
REQUIRED = ("sip_alg_interface_enable_disable", "sip_alg_set_ports", "sip_alg_set_timeouts",
            "sip_alg_set_limits", "sip_alg_set_media_policy", "sip_alg_get_config",
            "sip_alg_interfaces_get", "sip_alg_server_map_get", "sip_alg_calls_get")


class Unreachable(Exception):
    """VPP (or its API socket) cannot be reached."""


class NotInstalled(Unreachable):
    """No VPP where it was looked for."""


class NotRunning(Unreachable):
    """VPP is installed, but nothing answers on its socket."""


class ApiError(Exception):
    def __init__(self, msg, retval, args=None):
        self.msg, self.retval = msg, retval
        super().__init__(f"{msg} failed: retval {retval}" + (f" ({args})" if args else ""))


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


def find_plugin_dir():
    return os.path.join(ROOT, "build", "plugin", "lib", "vpp_plugins")


def api_files(prefix, plugin_json=None):
    files = core_api_files(prefix)
    plugin_json = plugin_json or os.path.join(ROOT, "build", "plugin", "sip_alg",
                                              "sip_alg.api.json")
    if os.path.exists(plugin_json):
        files.append(plugin_json)
    return files


class Client:
    """Context manager around VPPApiClient; prefix: from find_prefix(..., API_JSON)."""

    def __init__(self, socket, prefix, retries=10, delay=0.5, name="sipalgctl"):
        self.socket, self.prefix = socket, prefix
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
        last = None
        for _ in range(self.retries):
            if os.path.exists(self.socket):
                try:
                    vpp = VPPApiClient(apifiles=api_files(self.prefix),
                                       server_address=self.socket, use_socket=True)
                except Exception as e:  # the JSON files, not VPP: no use retrying
                    raise NotInstalled(f"VPP's API definitions under {self.prefix} cannot be "
                                       f"loaded: {e}; reinstall VPP")
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
            raise Unreachable("the running VPP does not offer " + ", ".join(missing) +
                              ": sip_alg plugin not loaded, or built from another sip_alg.api")
        return self

    def __exit__(self, *exc):
        if self.vpp:
            self.vpp.disconnect()

    def call(self, msg, **kw):
        r = getattr(self.vpp.api, msg)(**kw)
        rv = getattr(r, "retval", 0)
        if rv != 0:
            raise ApiError(msg, rv, kw)
        return r

    def dump(self, msg, **kw):
        """A *_dump (list of details) or a cursor-based *_get (reply, details)."""
        r = getattr(self.vpp.api, msg)(**kw)
        if isinstance(r, tuple):
            reply, details = r
            if reply.retval not in (0,):
                raise ApiError(msg, reply.retval, kw)
            return list(details)
        return list(r)
