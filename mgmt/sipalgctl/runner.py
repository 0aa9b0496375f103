# SPDX-License-Identifier: Apache-2.0
"""`up`: render, start VPP, wait for its API socket, apply. `down`: stop it."""

import os
import signal
import subprocess
import time

from .render import render


def pidfile(cfg):
    return os.path.join(cfg.vpp.runtime_dir, "vpp.pid")


def running_pid(cfg):
    try:
        pid = int(open(pidfile(cfg)).read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def start(cfg, prefix, plugin_dir=None, wait=30.0, log=print):
    """Write startup.conf + bootstrap.cli to the runtime dir and start VPP in the background.
    plugin_dir: the plugin's directory (None: found for the VPP in prefix)."""
    d = cfg.vpp.runtime_dir
    os.makedirs(d, exist_ok=True)
    pid = running_pid(cfg)
    if pid:
        raise RuntimeError(f"VPP already running (pid {pid}, {pidfile(cfg)}): sipalgctl down first")
    for name, text in render(cfg, prefix=prefix, plugin_dir=plugin_dir).items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    for sock in (cfg.vpp.api_socket, cfg.vpp.cli_socket):
        if os.path.exists(sock):
            os.unlink(sock)
    out = open(os.path.join(d, "vpp.out"), "w")
    p = subprocess.Popen([os.path.join(prefix, "bin", "vpp"), "-c",
                          os.path.join(d, "startup.conf")], stdout=out, stderr=subprocess.STDOUT,
                         start_new_session=True)
    with open(pidfile(cfg), "w") as f:
        f.write(f"{p.pid}\n")
    log(f"VPP started (pid {p.pid}), waiting for {cfg.vpp.api_socket}")
    deadline = time.time() + wait
    while time.time() < deadline:
        if p.poll() is not None:
            os.unlink(pidfile(cfg))
            raise RuntimeError(f"VPP exited with {p.returncode}: "
                               + open(out.name).read()[-1500:])
        if os.path.exists(cfg.vpp.api_socket):
            return p.pid
        time.sleep(0.2)
    raise RuntimeError(f"no API socket after {wait:.0f} s (see {out.name})")


def stop(cfg, wait=15.0):
    """Stop the VPP `up` started; returns its pid or None if none was running."""
    pid = running_pid(cfg)
    if not pid:
        if os.path.exists(pidfile(cfg)):
            os.unlink(pidfile(cfg))
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + wait
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    os.unlink(pidfile(cfg))
    return pid
