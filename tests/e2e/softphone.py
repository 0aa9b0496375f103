# SPDX-License-Identifier: Apache-2.0
"""Real softphones for the e2e tier (issue 22, item 6): baresip user agents and a coturn STUN
server in the namespaces of topo.py, packet captures that must stay alive, and the RTP and
SDP read back from those captures.

- Baresip: one baresip in a namespace with a config directory of its own (config and
  accounts written by the test): G.711 only, a sine tone as its microphone (ausine, which
  needs 48 kHz stereo), no audio player (received audio is decoded and dropped: a null
  sink), media NAT by the stun or ice module when the account asks for it. It is driven
  through ctrl_tcp (JSON in netstrings on 127.0.0.1:4444 of its namespace; the test's socket
  is opened inside that namespace), whose events (REGISTER_OK, CALL_ESTABLISHED,
  CALL_RTPESTAB, CALL_CLOSED, ...) are what the test waits for.
- Coturn: turnserver in STUN-only mode, ready once it answers a Binding request.
- Capture (capture.py): tcpdump, ready once it says it listens; stop() fails when it died or
  the kernel dropped packets.
- rtp_streams / sdps: what the captures hold, by RTP SSRC and by SIP message.

Every wait is bounded in time; the processes are the topology's (ended at its teardown)."""

import collections
import ctypes
import json
import os
import re
import socket
import struct
import subprocess
import threading
import time

from capture import Capture, settle, wait_for  # noqa: F401 (test_softphones uses them)

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

STUN_PORT = 3478
CTRL_PORT = 4444


def in_netns(ns, fn):
    """fn() run in a thread that has entered network namespace ns (the one `ip netns add`
    made): the sockets it creates live in that namespace. Returns fn's result."""
    out = {}

    def run():
        fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns {ns}")
            out["value"] = fn()
        except BaseException as e:  # handed to the caller's thread
            out["error"] = e
        finally:
            os.close(fd)

    th = threading.Thread(target=run, name=f"netns-{ns}")
    th.start()
    th.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


# ---------------------------------------------------------------------------------------
# the outside phone's own host


class PhoneHost:
    """The outside phone B on a host of its own: namespace ns_b (named like the topology's
    outside namespace, so that remove_leftovers finds it after a killed run) with B's
    address 198.51.100.2 on a veth to the outside namespace, which routes between it and
    VPP. B's sockets are wildcard-bound (baresip's RTP, STUN and ICE): on the outside
    namespace itself, with the proxy's and STUN server's addresses on its loopback, the
    kernel would give them whichever source address the route names, and a STUN server
    there would see B come from its own address. ns_out keeps 198.51.100.254 on the link."""

    LINK = "198.51.100.254"

    def __init__(self, t):
        self.t = t
        m = re.match(r"^sipalg-out-(\d+)-(\d+)$", t.ns_out)
        self.ns = f"sipalg-out-{m.group(1)}-{100 + int(m.group(2))}"

    def __enter__(self):
        t, ns = self.t, self.ns
        try:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True)
            t.run_in(ns, "ip", "link", "set", "lo", "up")
            # both ends made inside the namespaces: nothing of it stays in the root one
            t.run_in(t.ns_out, "ip", "link", "add", "phoneb", "type", "veth", "peer", "name",
                     "eth0", "netns", ns)
            t.run_in(t.ns_out, "ip", "addr", "del", f"{t.B}/32", "dev", "lo")
            t.run_in(t.ns_out, "ip", "addr", "add", f"{self.LINK}/24", "dev", "phoneb")
            t.run_in(t.ns_out, "ip", "link", "set", "phoneb", "up")
            t.run_in(t.ns_out, "ethtool", "-K", "phoneb", "tx", "off")
            t.run_in(t.ns_out, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            t.run_in(ns, "ip", "addr", "add", f"{t.B}/24", "dev", "eth0")
            t.run_in(ns, "ip", "link", "set", "eth0", "up")
            t.run_in(ns, "ethtool", "-K", "eth0", "tx", "off")
            t.run_in(ns, "ip", "route", "add", "default", "via", self.LINK)
            wait_for("phone B reaching VPP's public address through the outside namespace",
                     lambda: t.run_in(ns, "ping", "-c1", "-W1", t.GW_OUT,
                                      check=False).returncode == 0, 15, 0.2)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)


# ---------------------------------------------------------------------------------------
# captures


Dgram = collections.namedtuple("Dgram", "src sport dst dport payload time")


def read_pcap(path):
    """The IPv4/UDP datagrams of a capture, in order (Dgram: addresses, ports, payload and
    capture time)."""
    from scapy.all import IP, UDP, rdpcap
    if not os.path.exists(path) or os.path.getsize(path) <= 24:
        return []
    return [Dgram(p[IP].src, p[UDP].sport, p[IP].dst, p[UDP].dport, bytes(p[UDP].payload),
                  float(p.time)) for p in rdpcap(path) if IP in p and UDP in p]


def is_rtp(payload, pt=0):
    """An RTP packet (version 2) of payload type pt (PCMU: 0)."""
    return len(payload) >= 12 and payload[0] >> 6 == 2 and payload[1] & 0x7f == pt


def rtp_streams(dgrams):
    """RTP packets of payload type PCMU by SSRC: {ssrc: [(src, sport, dst, dport), ...]}."""
    out = {}
    for src, sport, dst, dport, pl, _ in dgrams:
        if is_rtp(pl):
            ssrc = struct.unpack("!I", pl[8:12])[0]
            out.setdefault(ssrc, []).append((src, sport, dst, dport))
    return out


def is_stun(payload):
    return len(payload) >= 20 and payload[0] >> 6 == 0 and payload[4:8] == b"\x21\x12\xa4\x42"


def stun_mapped(payload):
    """The XOR-MAPPED-ADDRESS (IPv4) of a STUN Binding success response, as (ip, port);
    None for any other datagram."""
    if not is_stun(payload) or payload[:2] != b"\x01\x01":
        return None
    i = 20
    while i + 4 <= len(payload):
        typ, ln = struct.unpack("!HH", payload[i:i + 4])
        v = payload[i + 4:i + 4 + ln]
        if typ == 0x0020 and ln >= 8 and v[1] == 1:
            p = struct.unpack("!H", v[2:4])[0] ^ 0x2112
            a = struct.unpack("!I", v[4:8])[0] ^ 0x2112A442
            return socket.inet_ntoa(struct.pack("!I", a)), p
        i += 4 + ln + (-ln % 4)
    return None


def sip_messages(dgrams, ports=(5060, 5080)):
    """SIP messages of a capture: (src:sport, dst:dport, first line, body)."""
    out = []
    for src, sport, dst, dport, pl, _ in dgrams:
        if (sport in ports or dport in ports) and not is_stun(pl) and not is_rtp(pl) and \
                b"SIP/2.0" in pl[:200]:
            head, _, body = pl.partition(b"\r\n\r\n")
            first = head.split(b"\r\n", 1)[0].decode(errors="replace")
            out.append((f"{src}:{sport}", f"{dst}:{dport}", first,
                        body.decode(errors="replace")))
    return out


def sdp_summary(body):
    """The lines of an SDP body that tell where media go: c=, m=, a=rtcp, a=candidate (and
    a=ice-ufrag, which says the phone does ICE)."""
    return [l for l in body.splitlines()
            if l.startswith(("c=", "m=", "a=rtcp", "a=candidate", "a=ice-ufrag"))]


def describe_sdps(dgrams):
    """Each SIP message with SDP of a capture, in order, with its media lines (for the
    assertion messages: what each phone sent and received)."""
    out = []
    for src, dst, first, body in sip_messages(dgrams):
        if "v=0" in body:
            out.append(f"  {src} -> {dst} {first}\n" +
                       "\n".join("      " + l for l in sdp_summary(body)))
    return "\n".join(out)


# ---------------------------------------------------------------------------------------
# coturn


def stun_binding(ns, server, port=STUN_PORT, timeout=0.5, src=None):
    """A STUN Binding request from namespace ns (from the address and port src, if given)
    to server; the mapped address it answers with (XOR-MAPPED-ADDRESS) as (ip, port), or
    None without an answer in timeout."""
    def probe():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        tid = os.urandom(12)
        try:
            if src:
                s.bind(src)
            s.sendto(struct.pack("!HHI", 0x0001, 0, 0x2112A442) + tid, (server, port))
            data = s.recv(2048)
        except (socket.timeout, OSError):
            return None
        finally:
            s.close()
        return stun_mapped(data) if data[8:20] == tid else None
    return in_netns(ns, probe)


def start_coturn(t, ns, addr, tmp):
    """coturn as a plain STUN server (no TURN, no TLS, no CLI) on addr:3478 in namespace
    ns; returns once it answers a Binding request."""
    log = os.path.join(tmp, "coturn.log")
    p = t.popen_in(ns, "turnserver", "-n", "--stun-only", "-L", addr, "-p", str(STUN_PORT),
                   "--no-tcp", "--no-tls", "--no-dtls", "--no-cli", "--no-rfc5780",
                   "--no-software-attribute", "--simple-log", "-l", "stdout",
                   "--pidfile", os.path.join(tmp, "coturn.pid"), log=log)
    deadline = time.time() + 15
    while True:
        assert p.poll() is None, "coturn exited:\n" + open(log).read()[-2000:]
        if stun_binding(ns, addr):
            return p
        assert time.time() < deadline, "coturn does not answer STUN:\n" + open(log).read()[-2000:]


# ---------------------------------------------------------------------------------------
# baresip

BARESIP_MODULE_PATH = "/usr/lib/baresip/modules"
BARESIP_MODULES = ("g711", "ausine", "stun", "ice", "account", "menu", "ctrl_tcp")

CONFIG = """\
poll_method             epoll
sip_listen              {addr}:{sip_port}
net_interface           {addr}
dns_server              127.0.0.1:53
call_local_timeout      60
call_max_calls          4
audio_buffer            20-160
audio_source            ausine,{tone}
ausrc_srate             48000
ausrc_channels          2
audio_level             no
ausrc_format            s16
auplay_format           s16
auenc_format            s16
audec_format            s16
rtp_tos                 0
rtp_ports               {rtp_lo}-{rtp_hi}
rtcp_mux                no
jitter_buffer_delay     5-10
rtp_stats               no
module_path             {module_path}
module                  g711.so
module                  ausine.so
module                  stun.so
module                  ice.so
module_tmp              account.so
module_app              menu.so
module_app              ctrl_tcp.so
ctrl_tcp_listen         127.0.0.1:{ctrl_port}
"""


class Baresip:
    """One baresip in namespace ns. aor: the account's address of record (sip:user@host);
    params: the account's parameters (answermode, medianat, stunserver, regint, ...)."""

    def __init__(self, t, ns, name, tmp, addr, aor, params=(), sip_port=5060,
                 rtp=(10000, 10999), tone=440):
        self.t, self.ns, self.name, self.addr = t, ns, name, addr
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write(CONFIG.format(addr=addr, sip_port=sip_port, tone=tone, rtp_lo=rtp[0],
                                  rtp_hi=rtp[1], ctrl_port=CTRL_PORT,
                                  module_path=BARESIP_MODULE_PATH))
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write(f"<{aor}>" + "".join(f";{p}" for p in params) + "\n")
        self.log = os.path.join(tmp, name + ".log")
        self.events = []
        self.responses = {}
        self.cv = threading.Condition()
        self.sock = None
        self.closed = False
        self._token = 0

    def start(self, timeout=15):
        """Starts baresip; returns once its control socket takes commands (ctrl_tcp is an
        application module: its socket listens only after the SIP stack and the accounts
        are up)."""
        self.proc = self.t.popen_in(self.ns, "baresip", "-f", self.dir, "-v", log=self.log)

        def connect():
            try:
                return in_netns(self.ns, lambda: socket.create_connection(
                    ("127.0.0.1", CTRL_PORT), timeout=1))
            except OSError:
                assert self.proc.poll() is None, f"{self.name} exited:\n{self.log_tail()}"
                return None
        self.sock = wait_for(f"{self.name}'s control socket", connect, timeout, 0.1)
        self.sock.settimeout(None)
        self.reader = threading.Thread(target=self._read, name=f"ctrl-{self.name}",
                                       daemon=True)
        self.reader.start()
        self.command("reginfo", timeout=5)  # answers: the command loop runs
        return self

    def log_tail(self, n=3000):
        return open(self.log, errors="replace").read()[-n:] if os.path.exists(self.log) else ""

    def _read(self):
        buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                with self.cv:
                    self.closed = True
                    self.cv.notify_all()
                return
            buf += data
            while True:
                colon = buf.find(b":")
                if colon < 0:
                    break
                n = int(buf[:colon])
                if len(buf) < colon + 1 + n + 1:
                    break
                msg = json.loads(buf[colon + 1:colon + 1 + n])
                buf = buf[colon + 2 + n:]
                with self.cv:
                    if msg.get("response"):
                        self.responses[msg.get("token")] = msg
                    else:
                        msg["at"] = time.time()
                        self.events.append(msg)
                    self.cv.notify_all()

    def command(self, cmd, params="", timeout=10):
        """A command of baresip's (dial, hangup, quit, ...) and its response (a dict with ok
        and data)."""
        self._token += 1
        tok = f"t{self._token}"
        msg = {"command": cmd, "token": tok}
        if params:
            msg["params"] = params
        body = json.dumps(msg).encode()
        self.sock.sendall(b"%d:%s," % (len(body), body))
        with self.cv:
            ok = self.cv.wait_for(lambda: tok in self.responses or self.closed, timeout)
        assert ok and tok in self.responses, \
            f"{self.name}: no response to {cmd} {params}\n{self.log_tail()}"
        return self.responses.pop(tok)

    def wait_event(self, typ, timeout, after=0.0):
        """The first event of type typ that arrived at or after time `after`; None when
        none comes within timeout seconds."""
        def find():
            for e in self.events:
                if e.get("type") == typ and e["at"] >= after:
                    return e
            return None
        with self.cv:
            self.cv.wait_for(lambda: find() is not None or self.closed, timeout)
            return find()

    def registered(self):
        """Whether the account's registration stands (`reginfo` shows its 200 OK: the
        REGISTER_OK event may have gone before the test's control connection)."""
        data = re.sub(r"\x1b\[[0-9;]*m", "", self.command("reginfo")["data"])
        return re.search(r"\bOK\b", data) is not None

    def types(self):
        with self.cv:
            return [e.get("type") for e in self.events]

    def stop(self, timeout=5):
        """quit; it must exit by itself in timeout seconds (the topology's teardown ends it
        otherwise)."""
        if self.proc.poll() is None and not self.closed:
            try:
                self.command("quit", timeout=timeout)
            except (AssertionError, OSError):
                pass
        try:
            self.proc.wait(timeout)
        except Exception:
            self.proc.terminate()
        if self.sock:
            self.sock.close()
