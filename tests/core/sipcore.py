# SPDX-License-Identifier: Apache-2.0
"""ctypes binding of the SIP/SDP core's host library (build/core/libsipalg_core.so).

The structures mirror vpp-plugin/sip_alg/core/*.h; test_abi.py checks every size against the
compiler's. The helpers return plain Python values so table-driven tests stay readable.
"""

import ctypes as C
import ipaddress
import os
import subprocess
from dataclasses import dataclass

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# SIPALG_CORE_LIB: another build of the library (tests/mutation/mutate.py loads mutants)
LIB_PATH = os.environ.get("SIPALG_CORE_LIB") or os.path.join(ROOT, "build", "core", "libsipalg_core.so")

MAX_HDRS = 128
MAX_SITES = 128
MAX_EDITS = 128
SDP_MAX_MEDIA = 8
N_HDR_IDS = 20


class Span(C.Structure):
    _fields_ = [("off", C.c_uint16), ("len", C.c_uint16)]


class Hdr(C.Structure):
    _fields_ = [("name", Span), ("value", Span), ("id", C.c_uint8), ("compact", C.c_uint8)]


class Msg(C.Structure):
    _fields_ = [
        ("is_request", C.c_uint8),
        ("method", C.c_uint8),
        ("cseq_method", C.c_uint8),
        ("lenient", C.c_uint8),
        ("status", C.c_uint16),
        ("method_tok", Span),
        ("ruri", Span),
        ("reason", Span),
        ("cseq", C.c_uint32),
        ("hdrs", C.POINTER(Hdr)),
        ("max_hdrs", C.c_uint16),
        ("n_hdrs", C.c_uint16),
        ("first", C.c_uint16 * N_HDR_IDS),
        ("start_off", C.c_uint16),
        ("body_off", C.c_uint16),
        ("body_len", C.c_uint16),
        ("msg_len", C.c_uint16),
        ("content_length", C.c_int32),
        ("expires", C.c_int64),
        ("clen_value", Span),
        ("call_id", Span),
        ("err_off", C.c_uint16),
    ]


class Site(C.Structure):
    _fields_ = [
        ("kind", C.c_uint8),
        ("host_type", C.c_uint8),
        ("media", C.c_uint8),
        ("flags", C.c_uint8),
        ("host", Span),
        ("port", Span),
        ("ip4", C.c_uint32),
        ("value", C.c_uint16),
        ("n_ports", C.c_uint16),
    ]


class SdpMedia(C.Structure):
    _fields_ = [
        ("type", C.c_uint8),
        ("addr_type", C.c_uint8),
        ("rtcp_mux", C.c_uint8),
        ("rtcp_attr", C.c_uint8),
        ("port", C.c_uint16),
        ("n_ports", C.c_uint16),
        ("rtcp_port", C.c_uint16),
        ("ip4", C.c_uint32),
        ("rtcp_ip4", C.c_uint32),
    ]


class Sdp(C.Structure):
    _fields_ = [
        ("n_media", C.c_uint8),
        ("session_addr_type", C.c_uint8),
        ("candidate_off", C.c_uint16),
        ("session_ip4", C.c_uint32),
        ("origin_ip4", C.c_uint32),
        ("media", SdpMedia * SDP_MAX_MEDIA),
    ]


class Info(C.Structure):
    _fields_ = [
        ("sites", C.POINTER(Site)),
        ("max_sites", C.c_uint16),
        ("n_sites", C.c_uint16),
        ("body_kind", C.c_uint8),
        ("contact_star", C.c_uint8),
        ("err_off", C.c_uint16),
        ("contact_expires", C.c_int64),
        ("sdp", Sdp),
    ]


class Xlate(C.Structure):
    _fields_ = [
        ("from_ip", C.c_uint32),
        ("to_ip", C.c_uint32),
        ("from_port", C.c_uint16),
        ("to_port", C.c_uint16),
    ]


class MediaXlate(C.Structure):
    _fields_ = [("rtp_port", C.c_uint16), ("rtcp_port", C.c_uint16)]


class RewriteCfg(C.Structure):
    _fields_ = [
        ("xlate", C.POINTER(Xlate)),
        ("n_xlate", C.c_uint32),
        ("media", C.POINTER(MediaXlate)),
        ("n_media", C.c_uint32),
        ("site_mask", C.c_uint32),
        ("media_ip", C.c_uint32),
    ]


class Edit(C.Structure):
    _fields_ = [
        ("off", C.c_uint16),
        ("old_len", C.c_uint16),
        ("new_len", C.c_uint8),
        ("site", C.c_uint8),
        ("text", C.c_char * 24),
    ]


class Plan(C.Structure):
    _fields_ = [
        ("edits", C.POINTER(Edit)),
        ("max_edits", C.c_uint16),
        ("n_edits", C.c_uint16),
        ("delta", C.c_int32),
        ("body_delta", C.c_int32),
    ]


class CallFsm(C.Structure):
    _fields_ = [
        ("state", C.c_uint8),
        ("confirmed_once", C.c_uint8),
        ("invite_pending", C.c_uint8, 2),
        ("bye_sent", C.c_uint8, 2),
        ("invite_sent", C.c_uint8, 2),
        ("invite_cseq", C.c_uint32 * 2),
        ("bye_cseq", C.c_uint32 * 2),
        ("register_cseq", C.c_uint32),
        ("cancel_cseq", C.c_uint32),
    ]


class CallEvent(C.Structure):
    _fields_ = [
        ("is_request", C.c_uint8),
        ("method", C.c_uint8),
        ("cseq_method", C.c_uint8),
        ("has_sdp", C.c_uint8),
        ("client_side", C.c_uint8),
        ("status", C.c_uint16),
        ("cseq", C.c_uint32),
        ("expires", C.c_int64),
    ]


class CallResult(C.Structure):
    _fields_ = [("actions", C.c_uint32), ("expires", C.c_uint32)]


ABI_TYPES = {
    "sip_hdr_t": Hdr,
    "sip_msg_t": Msg,
    "sip_site_t": Site,
    "sip_sdp_media_t": SdpMedia,
    "sip_sdp_t": Sdp,
    "sip_info_t": Info,
    "sip_xlate_t": Xlate,
    "sip_media_xlate_t": MediaXlate,
    "sip_rewrite_cfg_t": RewriteCfg,
    "sip_edit_t": Edit,
    "sip_plan_t": Plan,
    "sip_call_fsm_t": CallFsm,
    "sip_call_event_t": CallEvent,
    "sip_call_result_t": CallResult,
}

HOST_TYPES = ["none", "ip4", "ip6", "name"]
BODY_KINDS = ["none", "sdp", "multipart", "other"]
MEDIA_TYPES = ["audio", "video", "image", "application", "text", "message", "other"]
ACTIONS = [
    "open_media",
    "replace_media",
    "close_media",
    "close_call",
    "open_signal",
    "bind",
    "unbind",
    "retransmit",
    "stale",
]
DATAGRAM, STREAM = 0, 1
SITE_F_PORT = 1  # SIP_SITE_F_PORT: an explicit port (the port span is valid)


def ip2int(s):
    return int(ipaddress.IPv4Address(s))


def int2ip(v):
    return str(ipaddress.IPv4Address(v))


def _load():
    if not os.path.exists(LIB_PATH):
        subprocess.run(["make", "-C", ROOT, "core"], check=True)
    lib = C.CDLL(LIB_PATH)
    lib.sip_msg_parse.restype = C.c_int
    lib.sip_msg_parse.argtypes = [
        C.c_char_p, C.c_uint32, C.c_int, C.POINTER(Msg), C.POINTER(Hdr), C.c_uint16]
    lib.sip_sites_find.restype = C.c_int
    lib.sip_sites_find.argtypes = [
        C.c_char_p, C.POINTER(Msg), C.POINTER(Info), C.POINTER(Site), C.c_uint16]
    lib.sip_msg_read.restype = C.c_int
    lib.sip_msg_read.argtypes = [
        C.c_char_p, C.c_uint32, C.c_int, C.POINTER(Msg), C.POINTER(Hdr), C.c_uint16,
        C.POINTER(Info), C.POINTER(Site), C.c_uint16, C.POINTER(C.c_int)]
    lib.sip_rewrite_plan.restype = C.c_int
    lib.sip_rewrite_plan.argtypes = [
        C.c_char_p, C.POINTER(Msg), C.POINTER(Info), C.POINTER(RewriteCfg),
        C.POINTER(Plan), C.POINTER(Edit), C.c_uint16]
    lib.sip_rewrite_apply.restype = C.c_int
    lib.sip_rewrite_apply.argtypes = [
        C.c_char_p, C.c_uint32, C.POINTER(Plan), C.c_char_p, C.c_uint32,
        C.POINTER(C.c_uint32)]
    lib.sip_call_step.restype = CallResult
    lib.sip_call_step.argtypes = [C.POINTER(CallFsm), C.POINTER(CallEvent), C.POINTER(CallFsm)]
    lib.sip_call_event_from_msg.restype = None
    lib.sip_call_event_from_msg.argtypes = [C.POINTER(Msg), C.c_int, C.c_int64,
                                            C.POINTER(CallEvent)]
    for fn in ("sip_result_name", "sip_result_string", "sip_site_kind_name",
               "sip_method_name", "sip_hdr_name", "sip_call_state_name"):
        getattr(lib, fn).restype = C.c_char_p
        getattr(lib, fn).argtypes = [C.c_int]
    lib.sip_method_lookup.restype = C.c_int
    lib.sip_method_lookup.argtypes = [C.c_char_p, C.c_uint32]
    lib.sip_core_abi_sizeof.restype = C.c_size_t
    lib.sip_core_abi_sizeof.argtypes = [C.c_char_p]
    return lib


lib = _load()


def result_name(r):
    return lib.sip_result_name(r).decode()


METHODS = {lib.sip_method_name(i).decode(): i for i in range(16)}
STATES = {}
for _i in range(16):
    _n = lib.sip_call_state_name(_i).decode()
    if _n == "?":
        break
    STATES[_n] = _i
STATE_NAMES = {v: k for k, v in STATES.items()}


@dataclass
class Parsed:
    """A parsed message: the bytes, the C structures and decoded views of them."""

    data: bytes
    result: str
    msg: Msg
    hdrs: object
    buf: object = None  # the ctypes buffer C parsed (spans point into it)
    info: Info = None
    sites: object = None
    sites_result: str = None

    def text(self, span):
        return self.data[span.off:span.off + span.len]

    def headers(self):
        return [(self.text(h.name).decode("latin-1"), lib.sip_hdr_name(h.id).decode(),
                 self.text(h.value)) for h in self.hdrs[:self.msg.n_hdrs]]

    def site_list(self):
        out = []
        for s in self.sites[:self.info.n_sites]:
            out.append({
                "kind": lib.sip_site_kind_name(s.kind).decode(),
                "host": self.text(s.host).decode("latin-1"),
                "port": self.text(s.port).decode("latin-1"),
                "has_port": bool(s.flags & SITE_F_PORT),
                "host_type": HOST_TYPES[s.host_type],
                "ip": int2ip(s.ip4) if s.host_type == 1 else None,
                "value": s.value,
                "media": None if s.media == 0xff else s.media,
                "n_ports": s.n_ports,
            })
        return out

    def media(self):
        sdp = self.info.sdp
        out = []
        for m in sdp.media[:sdp.n_media]:
            out.append({
                "type": MEDIA_TYPES[m.type],
                "addr_type": HOST_TYPES[m.addr_type],
                "ip": int2ip(m.ip4) if m.addr_type == 1 else None,
                "port": m.port,
                "n_ports": m.n_ports,
                "rtcp_port": m.rtcp_port,
                "rtcp_ip": int2ip(m.rtcp_ip4) if m.addr_type == 1 else None,
                "rtcp_mux": bool(m.rtcp_mux),
                "rtcp_attr": bool(m.rtcp_attr),
            })
        return out


def _bytes(struct, ptr_field):
    """The bytes of a ctypes structure with its pointer field cleared (the two runs compared
    point into arrays of their own)."""
    x = type(struct).from_buffer_copy(struct)
    setattr(x, ptr_field, None)
    return bytes(x)


def read(data, mode=DATAGRAM, max_hdrs=MAX_HDRS, max_sites=MAX_SITES):
    """sip_msg_read, the one-pass parser and site finder: (result, sites result, msg, hdrs,
    info, sites)."""
    buf = C.create_string_buffer(data, len(data))
    hdrs = (Hdr * max(max_hdrs, 1))()
    sites = (Site * max(max_sites, 1))()
    msg, info, sr = Msg(), Info(), C.c_int(-1)
    r = lib.sip_msg_read(buf, len(data), mode, C.byref(msg), hdrs, max_hdrs, C.byref(info),
                         sites, max_sites, C.byref(sr))
    return result_name(r), result_name(sr.value), msg, hdrs, info, sites


def check_read(p, mode, max_hdrs, max_sites):
    """sip_msg_read gives what sip_msg_parse then sip_sites_find gave for p: the same parse
    result and message (every field, every header); when it parsed and the sites were
    found, the same sites result, info and sites."""
    r, sr, msg, hdrs, info, sites = read(p.data, mode, max_hdrs, max_sites)
    assert r == p.result, (p.data, r, p.result)
    assert _bytes(msg, "hdrs") == _bytes(p.msg, "hdrs"), p.data
    n = p.msg.n_hdrs
    assert bytes(hdrs)[:n * C.sizeof(Hdr)] == bytes(p.hdrs)[:n * C.sizeof(Hdr)], p.data
    if p.sites_result is not None:
        assert sr == p.sites_result, (p.data, sr, p.sites_result)
        assert _bytes(info, "sites") == _bytes(p.info, "sites"), p.data
        k = p.info.n_sites
        assert bytes(sites)[:k * C.sizeof(Site)] == bytes(p.sites)[:k * C.sizeof(Site)], p.data


def parse(data, mode=DATAGRAM, max_hdrs=MAX_HDRS, sites=True, max_sites=MAX_SITES):
    """Parse (and by default find the sites of) one message, by sip_msg_parse and
    sip_sites_find; checked against the one-pass sip_msg_read of the same message
    (check_read), so every test of the parser and the site finder tests both."""
    buf = C.create_string_buffer(data, len(data))
    hdrs = (Hdr * max(max_hdrs, 1))()
    msg = Msg()
    r = lib.sip_msg_parse(buf, len(data), mode, C.byref(msg), hdrs, max_hdrs)
    p = Parsed(data, result_name(r), msg, hdrs, buf)
    if r == 0 and sites:
        p.sites = (Site * max(max_sites, 1))()
        p.info = Info()
        r2 = lib.sip_sites_find(buf, C.byref(msg), C.byref(p.info), p.sites, max_sites)
        p.sites_result = result_name(r2)
    check_read(p, mode, max_hdrs, max_sites)
    return p


def analyze(data, mode=DATAGRAM):
    """Full pipeline result name: the first error of parse or site finding, else OK."""
    p = parse(data, mode)
    if p.result != "OK":
        return p.result, p
    return p.sites_result, p


GUARD = 16  # sentinel bytes past the output capacity handed to C
FILL = 0xA5


@dataclass
class Rewritten:
    """A plan and apply run: both result codes and the buffers exactly as C left them.

    out: the out_len bytes C wrote (None unless both calls returned OK); raw: the whole output
    buffer, cap bytes handed to C then GUARD bytes C was not given, all prefilled with FILL;
    in_before/in_after: the input buffer C read (the one the message was parsed in).
    """

    plan_result: str
    apply_result: str  # None when the plan failed and apply was not called
    plan: Plan
    in_len: int = 0
    cap: int = 0
    out_len: int = 0
    out: bytes = None
    raw: bytes = None
    in_before: bytes = None
    in_after: bytes = None

    @property
    def result(self):
        return self.plan_result if self.plan_result != "OK" else self.apply_result

    def _fail(self, what):
        raise AssertionError(f"rewrite ({self.plan_result}, {self.apply_result}): {what}")

    def written(self):
        """The bytes C wrote, after checking all a successful rewrite promises: plan and apply
        OK, out_len == msg_len + delta, nothing written past out_len (rest of the capacity and
        guard still FILL), the input buffer unchanged."""
        if (self.plan_result, self.apply_result) != ("OK", "OK"):
            self._fail("not OK")
        if self.out_len != self.in_len + self.plan.delta:
            self._fail(f"out_len {self.out_len} != {self.in_len} + delta {self.plan.delta}")
        tail = self.raw[self.out_len:]
        if tail != bytes([FILL]) * len(tail):
            bad = next(i for i, b in enumerate(tail) if b != FILL) + self.out_len
            self._fail(f"byte {bad} written past out_len {self.out_len} (cap {self.cap})")
        self.check_input_unchanged()
        return self.out

    def check_input_unchanged(self):
        if self.in_after != self.in_before:
            bad = next(i for i, (a, b) in enumerate(zip(self.in_before, self.in_after)) if a != b)
            self._fail(f"input buffer modified at {bad}")

    def check_refused(self, result):
        """The run failed with result and wrote nothing: output buffer all FILL, input as was."""
        if self.result != result:
            self._fail(f"expected {result}")
        if self.raw is not None and self.raw != bytes([FILL]) * len(self.raw):
            bad = next(i for i, b in enumerate(self.raw) if b != FILL)
            self._fail(f"refused, but byte {bad} of the output written")
        self.check_input_unchanged()


def rewrite(p, xlates=(), media=(), site_mask=None, out_cap=None, max_edits=MAX_EDITS,
            media_ip=None):
    """Plan and apply a rewrite of a Parsed message, in the buffer it was parsed in.

    The output capacity is out_cap, by default exactly msg_len + plan.delta; media_ip: the
    SDP connection sites' address (sip_rewrite_cfg_t.media_ip), None: 0."""
    xl = (Xlate * max(len(xlates), 1))()
    for i, (fi, fp, ti, tp) in enumerate(xlates):
        xl[i] = Xlate(ip2int(fi), ip2int(ti), fp, tp)
    mx = (MediaXlate * max(len(media), 1))()
    for i, (rtp, rtcp) in enumerate(media):
        mx[i] = MediaXlate(rtp, rtcp)
    cfg = RewriteCfg(xl, len(xlates), mx, len(media),
                     (1 << 17) - 1 if site_mask is None else site_mask,
                     ip2int(media_ip) if media_ip else 0)
    edits = (Edit * max(max_edits, 1))()
    plan = Plan()
    buf = p.buf
    before = buf.raw
    r = lib.sip_rewrite_plan(buf, C.byref(p.msg), C.byref(p.info), C.byref(cfg),
                             C.byref(plan), edits, max_edits)
    if r != 0:
        return Rewritten(result_name(r), None, plan, in_before=before, in_after=buf.raw)
    n = p.msg.msg_len
    cap = n + plan.delta if out_cap is None else out_cap
    out = C.create_string_buffer(bytes([FILL]) * (cap + GUARD), cap + GUARD)
    out_len = C.c_uint32(0xFFFFFFFF)  # C must set it on OK
    r = lib.sip_rewrite_apply(buf, n, C.byref(plan), out, cap, C.byref(out_len))
    rw = Rewritten("OK", result_name(r), plan, n, cap, out_len.value, None, out.raw, before,
                   buf.raw)
    if r == 0:
        rw.out = out.raw[:min(out_len.value, cap + GUARD)]
    return rw


INSIDE, OUTSIDE = 0, 1  # SIP_CALL_SIDE_*


def call_step(fsm, *, request=None, status=None, cseq=1, cseq_method=None, sdp=False,
              expires=-1, side=INSIDE):
    """One FSM step. fsm: CallFsm (updated in place). side: who sent the request (of a
    response: the request it answers); by default the inside party, the caller. Returns
    (actions set, expires)."""
    ev = CallEvent()
    ev.client_side = side
    if request is not None:
        ev.is_request = 1
        ev.method = METHODS[request]
        ev.cseq_method = METHODS[request]
    else:
        ev.status = status
        ev.cseq_method = METHODS[cseq_method]
    ev.cseq = cseq
    ev.has_sdp = int(sdp)
    ev.expires = expires
    res = lib.sip_call_step(C.byref(fsm), C.byref(ev), C.byref(fsm))
    acts = {a for i, a in enumerate(ACTIONS) if res.actions & (1 << i)}
    return acts, res.expires


def call_event(p, has_sdp=0, contact_expires=None):
    """The event sip_call_event_from_msg makes of a Parsed message p (sites found): has_sdp as
    the node passes it, contact_expires by default the one the site finder read (-1: none)."""
    if contact_expires is None:
        contact_expires = p.info.contact_expires
    ev = CallEvent()
    ev.client_side = 0xff  # the caller's to set: must come back 0
    lib.sip_call_event_from_msg(C.byref(p.msg), has_sdp, contact_expires, C.byref(ev))
    return ev
