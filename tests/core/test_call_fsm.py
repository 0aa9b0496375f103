# SPDX-License-Identifier: Apache-2.0
"""Call state machine: sequences of (message) -> (actions, state)."""

import pytest

import sipcore

R = lambda m, cseq=1, sdp=False, expires=-1: dict(request=m, cseq=cseq, sdp=sdp, expires=expires)


def S(status, method, cseq=1, sdp=False, expires=-1):
    return dict(status=status, cseq_method=method, cseq=cseq, sdp=sdp, expires=expires)


SEQUENCES = [
    ("basic call", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (R("INVITE", 1, True), {"retransmit"}, "inviting"),
        (S(100, "INVITE"), set(), "inviting"),
        (S(183, "INVITE", sdp=True), {"open_media"}, "early"),
        (S(200, "INVITE", sdp=True), {"open_media"}, "confirmed"),
        (S(200, "INVITE", sdp=True), {"retransmit"}, "confirmed"),
        (R("ACK"), set(), "confirmed"),
        (R("BYE", 2), {"close_media"}, "terminating"),
        (R("BYE", 2), {"retransmit"}, "terminating"),
        (S(200, "BYE", 2), {"close_call"}, "closed"),
    ]),
    ("cancelled call", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(180, "INVITE"), set(), "early"),
        (R("CANCEL", 1), {"close_media"}, "cancelling"),
        (S(200, "CANCEL", 1), set(), "cancelling"),
        (S(487, "INVITE", 1), {"close_media", "close_call"}, "closed"),
    ]),
    ("cancel racing a 200", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (R("CANCEL", 1), {"close_media"}, "cancelling"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
    ]),
    ("busy", [
        (R("INVITE", 5, True), {"open_signal", "open_media"}, "inviting"),
        (S(486, "INVITE", 5), {"close_media", "close_call"}, "closed"),
    ]),
    ("response to another cseq ignored", [
        (R("INVITE", 5, True), {"open_signal", "open_media"}, "inviting"),
        (S(486, "INVITE", 4), set(), "inviting"),
    ]),
    ("re-INVITE replaces media, failed re-INVITE keeps the call", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (R("INVITE", 2, True), {"replace_media"}, "confirmed"),
        (S(200, "INVITE", 2, sdp=True), {"replace_media"}, "confirmed"),
        (R("INVITE", 3, True), {"replace_media"}, "confirmed"),
        (S(488, "INVITE", 3), set(), "confirmed"),
    ]),
    ("481 or 408 to a re-INVITE: the dialog is gone (RFC 5057)", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (R("INVITE", 2, True), {"replace_media"}, "confirmed"),
        (S(481, "INVITE", 2), {"close_media", "close_call"}, "closed"),
    ]),
    ("408 to a re-INVITE", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (R("INVITE", 2, True), {"replace_media"}, "confirmed"),
        (S(408, "INVITE", 2), {"close_media", "close_call"}, "closed"),
    ]),
    ("crossing BYEs: the first 200 to the first BYE ends the call", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (R("BYE", 2), {"close_media"}, "terminating"),
        (R("BYE", 9), set(), "terminating"),
        (S(200, "BYE", 9), set(), "terminating"),
        (S(200, "BYE", 2), {"close_call"}, "closed"),
    ]),
    ("late offer: answer in ACK", [
        (R("INVITE", 1), {"open_signal"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (R("ACK", 1, True), {"open_media"}, "confirmed"),
    ]),
    ("UPDATE with SDP", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (R("UPDATE", 2, True), {"replace_media"}, "inviting"),
        (S(200, "UPDATE", 2, sdp=True), {"replace_media"}, "inviting"),
    ]),
    ("BYE outside a call", [
        (R("BYE", 1), set(), "idle"),
    ]),
    ("register, challenge, bind, refresh, unbind", [
        (R("REGISTER", 1), set(), "registering"),
        (S(401, "REGISTER", 1), set(), "idle"),
        (R("REGISTER", 2, expires=600), set(), "registering"),
        (S(200, "REGISTER", 2, expires=600), {"bind"}, "registered"),
        (R("REGISTER", 3, expires=600), set(), "registered"),
        (S(200, "REGISTER", 3, expires=300), {"bind"}, "registered"),
        (R("REGISTER", 4, expires=0), set(), "registered"),
        (S(200, "REGISTER", 4, expires=0), {"unbind"}, "closed"),
    ]),
    ("new INVITE on a closed record starts a new call", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(603, "INVITE", 1), {"close_media", "close_call"}, "closed"),
        (R("INVITE", 2, True), {"open_signal", "open_media"}, "inviting"),
    ]),
]


@pytest.mark.parametrize("name,steps", SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_sequence(name, steps):
    f = sipcore.CallFsm()
    for i, (ev, actions, state) in enumerate(steps):
        got, _ = sipcore.call_step(f, **ev)
        assert (got, sipcore.STATE_NAMES[f.state]) == (actions, state), f"step {i}: {ev}"


def test_bind_expiry_reported():
    f = sipcore.CallFsm()
    sipcore.call_step(f, request="REGISTER", cseq=1)
    assert sipcore.call_step(f, status=200, cseq_method="REGISTER", cseq=1, expires=1800) == \
        ({"bind"}, 1800)
    sipcore.call_step(f, request="REGISTER", cseq=2)
    # no expiry in the 2xx: RFC 3261 default of 3600 s
    assert sipcore.call_step(f, status=200, cseq_method="REGISTER", cseq=2) == ({"bind"}, 3600)


def test_step_is_pure():
    f = sipcore.CallFsm()
    sipcore.call_step(f, request="INVITE", cseq=1, sdp=True)
    snapshot = bytes(f)
    g = sipcore.CallFsm.from_buffer_copy(snapshot)
    a1 = sipcore.call_step(f, status=200, cseq_method="INVITE", cseq=1, sdp=True)
    a2 = sipcore.call_step(g, status=200, cseq_method="INVITE", cseq=1, sdp=True)
    assert a1 == a2 and bytes(f) == bytes(g)
