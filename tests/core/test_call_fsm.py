# SPDX-License-Identifier: Apache-2.0
"""Call state machine: sequences of (message) -> (actions, state)."""

import pytest

import sipcore

IN, OUT = sipcore.INSIDE, sipcore.OUTSIDE


def R(m, cseq=1, sdp=False, expires=-1, side=IN):
    """A request sent by side (by default the inside party)."""
    return dict(request=m, cseq=cseq, sdp=sdp, expires=expires, side=side)


def S(status, method, cseq=1, sdp=False, expires=-1, side=IN):
    """A response to a request of side (by default the inside party's)."""
    return dict(status=status, cseq_method=method, cseq=cseq, sdp=sdp, expires=expires,
                side=side)


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
        (S(486, "INVITE", 4), {"stale"}, "inviting"),
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
    ("crossing BYEs: the answer to either one ends the call (RFC 3261 15.1.2)", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (R("BYE", 2), {"close_media"}, "terminating"),
        (R("BYE", 9, side=OUT), set(), "terminating"),
        (R("BYE", 9, side=OUT), {"retransmit"}, "terminating"),
        (S(200, "BYE", 9, side=OUT), {"close_call"}, "closed"),
        (S(200, "BYE", 2), {"stale"}, "closed"),
        (R("BYE", 2), {"retransmit"}, "closed"),
    ]),
    ("crossing BYEs, the first one's answer first", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (R("BYE", 2), {"close_media"}, "terminating"),
        (R("BYE", 9, side=OUT), set(), "terminating"),
        (S(200, "BYE", 2), {"close_call"}, "closed"),
        (S(200, "BYE", 9, side=OUT), {"stale"}, "closed"),
    ]),
    ("crossing BYEs with the same CSeq number (each side's own)", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (R("BYE", 2), {"close_media"}, "terminating"),
        (R("BYE", 2, side=OUT), set(), "terminating"),
        (S(481, "BYE", 2, side=OUT), {"close_call"}, "closed"),
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
    ("the same INVITE again on a closed record (no new CSeq after a challenge)", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(401, "INVITE", 1), {"close_media", "close_call"}, "closed"),
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
    ]),
    # loss, duplication, reordering, late retransmissions: stale messages change nothing
    ("a challenge resent after the retry was answered", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(407, "INVITE", 1), {"close_media", "close_call"}, "closed"),
        (R("ACK", 1), set(), "closed"),
        (R("INVITE", 2, True), {"open_signal", "open_media"}, "inviting"),
        (S(407, "INVITE", 1), {"stale"}, "inviting"),
        (R("ACK", 1), {"stale"}, "inviting"),
        (S(200, "INVITE", 2, sdp=True), {"open_media"}, "confirmed"),
        (R("ACK", 2), set(), "confirmed"),
        (S(407, "INVITE", 1), {"stale"}, "confirmed"),
        (R("ACK", 1), {"stale"}, "confirmed"),
        (S(401, "INVITE", 1), {"stale"}, "confirmed"),
        (R("BYE", 3), {"close_media"}, "terminating"),
        (S(407, "INVITE", 1), {"stale"}, "terminating"),
        (S(200, "BYE", 3), {"close_call"}, "closed"),
    ]),
    ("a late 2xx: after a re-INVITE, after the BYE, after the close", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (S(200, "INVITE", 1, sdp=True), {"retransmit"}, "confirmed"),
        (R("INVITE", 2, True), {"replace_media"}, "confirmed"),
        (S(200, "INVITE", 1, sdp=True), {"stale"}, "confirmed"),
        (S(200, "INVITE", 2, sdp=True), {"replace_media"}, "confirmed"),
        (S(200, "INVITE", 1, sdp=True), {"stale"}, "confirmed"),
        (S(200, "INVITE", 2, sdp=True), {"retransmit"}, "confirmed"),
        (R("ACK", 1), {"stale"}, "confirmed"),
        (R("ACK", 2), set(), "confirmed"),
        (R("BYE", 3), {"close_media"}, "terminating"),
        (S(200, "INVITE", 2, sdp=True), {"stale"}, "terminating"),
        (S(200, "BYE", 3), {"close_call"}, "closed"),
        (S(200, "INVITE", 2, sdp=True), {"stale"}, "closed"),
        (S(200, "BYE", 3), {"stale"}, "closed"),
    ]),
    ("an 18x after the 2xx", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(180, "INVITE", 1), set(), "early"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (S(183, "INVITE", 1, sdp=True), {"stale"}, "confirmed"),
        (S(180, "INVITE", 1), {"stale"}, "confirmed"),
    ]),
    ("a late copy of an INVITE, and an older one", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (R("INVITE", 1, True), {"stale"}, "confirmed"),
        (R("INVITE", 3, True), {"replace_media"}, "confirmed"),
        (S(488, "INVITE", 3), set(), "confirmed"),
        (R("INVITE", 3, True), {"stale"}, "confirmed"),
        (R("INVITE", 2, True), {"stale"}, "confirmed"),
        (R("BYE", 4), {"close_media"}, "terminating"),
        (R("INVITE", 3, True), {"stale"}, "terminating"),
    ]),
    ("lost ACK: the 2xx again, then the ACK", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (S(200, "INVITE", 1, sdp=True), {"retransmit"}, "confirmed"),
        (S(200, "INVITE", 1, sdp=True), {"retransmit"}, "confirmed"),
        (R("ACK", 1), set(), "confirmed"),
        (R("ACK", 1), set(), "confirmed"),
    ]),
    ("lost ACK of an inbound call: the callee's 2xx again while its re-INVITE of the same "
     "CSeq number is out", [
        (R("INVITE", 1, True, side=OUT), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True, side=OUT), {"open_media"}, "confirmed"),
        (R("INVITE", 1, True), {"replace_media"}, "confirmed"),
        (S(200, "INVITE", 1, sdp=True, side=OUT), {"retransmit"}, "confirmed"),
        (R("ACK", 1, side=OUT), set(), "confirmed"),
        (S(200, "INVITE", 1, sdp=True), {"replace_media"}, "confirmed"),
        (R("ACK", 1), set(), "confirmed"),
    ]),
    ("CANCEL racing the 200, the CANCEL and the 200 resent", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(180, "INVITE", 1), set(), "early"),
        (R("CANCEL", 1), {"close_media"}, "cancelling"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (R("CANCEL", 1), set(), "confirmed"),
        (S(481, "CANCEL", 1), set(), "confirmed"),
        (S(200, "INVITE", 1, sdp=True), {"retransmit"}, "confirmed"),
        (R("ACK", 1), set(), "confirmed"),
        (R("BYE", 2), {"close_media"}, "terminating"),
        (S(200, "BYE", 2), {"close_call"}, "closed"),
    ]),
    ("CANCEL, the 487 before the CANCEL's 200, both resent", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (R("CANCEL", 1), {"close_media"}, "cancelling"),
        (R("CANCEL", 1), {"retransmit"}, "cancelling"),
        (S(487, "INVITE", 1), {"close_media", "close_call"}, "closed"),
        (S(200, "CANCEL", 1), set(), "closed"),
        (S(487, "INVITE", 1), {"stale"}, "closed"),
        (R("ACK", 1), set(), "closed"),
        (R("CANCEL", 1), set(), "closed"),
    ]),
    ("a CANCEL of the challenged INVITE leaves the retry alone", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(407, "INVITE", 1), {"close_media", "close_call"}, "closed"),
        (R("INVITE", 2, True), {"open_signal", "open_media"}, "inviting"),
        (R("CANCEL", 1), {"stale"}, "inviting"),
        (R("CANCEL", 2), {"close_media"}, "cancelling"),
    ]),
    ("CANCEL from outside (an inbound call)", [
        (R("INVITE", 7, True, side=OUT), {"open_signal", "open_media"}, "inviting"),
        (R("CANCEL", 7), {"stale"}, "inviting"),
        (R("CANCEL", 7, side=OUT), {"close_media"}, "cancelling"),
        (S(487, "INVITE", 7, side=OUT), {"close_media", "close_call"}, "closed"),
    ]),
    ("re-INVITE glare with losses", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (R("INVITE", 2, True), {"replace_media"}, "confirmed"),
        (R("INVITE", 9, True, side=OUT), {"replace_media"}, "confirmed"),
        (S(491, "INVITE", 9, side=OUT), set(), "confirmed"),
        (R("INVITE", 9, True, side=OUT), {"stale"}, "confirmed"),  # the 491 lost after VPP
        (S(491, "INVITE", 9, side=OUT), {"stale"}, "confirmed"),
        (R("ACK", 9, side=OUT), set(), "confirmed"),
        (S(491, "INVITE", 2), set(), "confirmed"),
        (S(491, "INVITE", 2), {"stale"}, "confirmed"),  # its ACK lost
        (R("ACK", 2), set(), "confirmed"),
        (R("INVITE", 2, True), {"stale"}, "confirmed"),  # a late copy
        (R("INVITE", 3, True), {"replace_media"}, "confirmed"),
        (S(491, "INVITE", 2), {"stale"}, "confirmed"),
        (S(200, "INVITE", 3, sdp=True), {"replace_media"}, "confirmed"),
        (S(200, "INVITE", 3, sdp=True), {"retransmit"}, "confirmed"),
        (R("ACK", 3), set(), "confirmed"),
        (R("BYE", 4), {"close_media"}, "terminating"),
        (S(200, "BYE", 4), {"close_call"}, "closed"),
    ]),
    ("glare resolved the other way: B's re-INVITE accepted after A's 491", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (R("INVITE", 2, True), {"replace_media"}, "confirmed"),
        (R("INVITE", 9, True, side=OUT), {"replace_media"}, "confirmed"),
        (S(491, "INVITE", 2), set(), "confirmed"),
        (S(200, "INVITE", 9, sdp=True, side=OUT), {"replace_media"}, "confirmed"),
        (R("ACK", 9, side=OUT), set(), "confirmed"),
    ]),
]


@pytest.mark.parametrize("name,steps", SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_sequence(name, steps):
    f = sipcore.CallFsm()
    for i, (ev, actions, state) in enumerate(steps):
        got, _ = sipcore.call_step(f, **ev)
        assert (got, sipcore.STATE_NAMES[f.state]) == (actions, state), f"step {i}: {ev}"


@pytest.mark.parametrize("name,steps", SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_duplicates_and_stale_messages_change_nothing(name, steps):
    """At every step of every sequence: the same message again leaves the machine as it
    was, and a message found stale leaves it as it found it."""
    f = sipcore.CallFsm()
    for i, (ev, _, _) in enumerate(steps):
        before = bytes(f)
        got, _ = sipcore.call_step(f, **ev)
        if "stale" in got:
            assert bytes(f) == before, f"step {i}: {ev}"
        after = bytes(f)
        again, _ = sipcore.call_step(f, **ev)
        assert bytes(f) == after, f"step {i} again: {ev}"
        assert not again & {"open_signal", "close_media", "close_call"}, f"step {i}: {again}"


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
