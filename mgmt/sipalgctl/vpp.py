# SPDX-License-Identifier: Apache-2.0
"""Finding VPP and talking to it: one thin vpp_papi client.

Every call's retval is checked; a non-zero retval becomes ApiError naming the message.
On connect the plugin's messages are checked against the running VPP (vpp_papi drops
messages whose CRC differs, so a missing message means a version mismatch)."""

import glob
import os
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PREFIXES = ("/usr", "/usr/local", "/opt/vpp")
REQUIRED = ("sip_alg_interface_enable_disable", "sip_alg_set_ports", "sip_alg_set_timeouts",
            "sip_alg_set_limits", "sip_alg_get_config", "sip_alg_interfaces_get",
            "sip_alg_server_map_get", "sip_alg_calls_get")


class Unreachable(Exception):
    """VPP (or its API socket) cannot be reached."""


class ApiError(Exception):
    def __init__(self, msg, retval, args=None):
        self.msg, self.retval = msg, retval
        super().__init__(f"{msg} failed: retval {retval}" + (f" ({args})" if args else ""))


def find_prefix(explicit=None):
    """The VPP install prefix: explicit, VPP_PREFIX, then the standard prefixes."""
    for p in (explicit, os.environ.get("VPP_PREFIX")) + PREFIXES:
        if p and os.access(os.path.join(p, "bin", "vpp"), os.X_OK):
            return p
    return None


def find_plugin_dir():
    return os.path.join(ROOT, "build", "plugin", "lib", "vpp_plugins")


def api_files(prefix, plugin_json=None):
    files = glob.glob(os.path.join(prefix, "share", "vpp", "api", "**", "*.api.json"),
                      recursive=True)
    plugin_json = plugin_json or os.path.join(ROOT, "build", "plugin", "sip_alg",
                                              "sip_alg.api.json")
    if os.path.exists(plugin_json):
        files.append(plugin_json)
    return files


class Client:
    """Context manager around VPPApiClient."""

    def __init__(self, socket, prefix, retries=10, delay=0.5, name="sipalgctl"):
        self.socket, self.prefix = socket, prefix
        self.retries, self.delay, self.name = retries, delay, name
        self.vpp = None

    def __enter__(self):
        try:
            from vpp_papi import VPPApiClient
        except ImportError as e:
            raise Unreachable(f"vpp_papi is not installed ({e})")
        if not self.prefix:
            raise Unreachable("VPP not found (VPP_PREFIX, /usr, /usr/local, /opt/vpp): "
                              "its API definitions are needed to talk to it")
        last = None
        for _ in range(self.retries):
            if os.path.exists(self.socket):
                try:
                    self.vpp = VPPApiClient(apifiles=api_files(self.prefix),
                                            server_address=self.socket, use_socket=True)
                    self.vpp.connect(self.name)
                    break
                except Exception as e:  # vpp_papi raises bare exceptions on connect
                    last = e
                    self.vpp = None
            else:
                last = f"no API socket at {self.socket}"
            time.sleep(self.delay)
        if not self.vpp:
            raise Unreachable(f"cannot reach VPP at {self.socket}: {last}")
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
