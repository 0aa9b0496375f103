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
    ("a call whose INVITE has CSeq 0 (RFC 3261 8.1.1.5 allows it)", [
        (R("INVITE", 0, True), {"open_signal", "open_media"}, "inviting"),
        (R("INVITE", 0, True), {"retransmit"}, "inviting"),
        (S(200, "INVITE", 0, sdp=True), {"open_media"}, "confirmed"),
        (R("ACK", 0), set(), "confirmed"),
        (R("INVITE", 0, True), {"stale"}, "confirmed"),
        (R("INVITE", 1, True), {"replace_media"}, "confirmed"),
        (S(200, "INVITE", 1, sdp=True), {"replace_media"}, "confirmed"),
        (R("ACK", 0), {"stale"}, "confirmed"),
        (R("BYE", 2), {"close_media"}, "terminating"),
    ]),
    ("an ACK from a party that sent no INVITE answers nothing", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (R("ACK", 0, side=OUT), {"stale"}, "confirmed"),
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
    ("a provisional response to a BYE, or one to a BYE never sent, ends nothing "
     "(RFC 3261 15.1.1: the final response does)", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True), {"open_media"}, "confirmed"),
        (R("BYE", 2), {"close_media"}, "terminating"),
        (S(100, "BYE", 2), set(), "terminating"),
        (S(200, "BYE", 3), set(), "terminating"),
        (S(200, "BYE", 2, side=OUT), set(), "terminating"),
        (S(200, "BYE", 2), {"close_call"}, "closed"),
    ]),
    ("a stray BYE on a closed record is not recorded: not resent, its 481 changes nothing "
     "(RFC 3261 15.1.2)", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(486, "INVITE", 1), {"close_media", "close_call"}, "closed"),
        (R("BYE", 4, side=OUT), set(), "closed"),
        (R("BYE", 4, side=OUT), set(), "closed"),
        (S(481, "BYE", 4, side=OUT), set(), "closed"),
    ]),
    ("the callee's first own request may carry CSeq 0 (RFC 3261 8.1.1.5, 12.2.1.1): "
     "a re-INVITE", [
        (R("INVITE", 1, True, side=OUT), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True, side=OUT), {"open_media"}, "confirmed"),
        (R("ACK", 1, side=OUT), set(), "confirmed"),
        (R("INVITE", 0, True), {"replace_media"}, "confirmed"),
        (S(200, "INVITE", 0, sdp=True), {"replace_media"}, "confirmed"),
        (R("ACK", 0), set(), "confirmed"),
    ]),
    ("the callee's first own request may carry CSeq 0: a BYE", [
        (R("INVITE", 1, True, side=OUT), {"open_signal", "open_media"}, "inviting"),
        (S(200, "INVITE", 1, sdp=True, side=OUT), {"open_media"}, "confirmed"),
        (R("ACK", 1, side=OUT), set(), "confirmed"),
        (R("BYE", 0), {"close_media"}, "terminating"),
        (R("BYE", 0), {"retransmit"}, "terminating"),
        (S(200, "BYE", 0), {"close_call"}, "closed"),
    ]),
    ("PRACK and UPDATE: their SDP replaces media in a live dialog only; a 2xx without SDP "
     "opens nothing (RFC 3262, RFC 3311, RFC 3264)", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(183, "INVITE", 1, sdp=True), {"open_media"}, "early"),
        (R("PRACK", 2), set(), "early"),
        (S(200, "PRACK", 2), set(), "early"),
        (R("UPDATE", 3, True), {"replace_media"}, "early"),
        (S(200, "UPDATE", 3, sdp=True), {"replace_media"}, "early"),
        (S(200, "INVITE", 1), set(), "confirmed"),  # the answer came in the 183
        (R("ACK", 1), set(), "confirmed"),
        (R("UPDATE", 4), set(), "confirmed"),
        (S(200, "UPDATE", 4), set(), "confirmed"),
        (R("BYE", 5), {"close_media"}, "terminating"),
        (S(200, "BYE", 5), {"close_call"}, "closed"),
        (R("UPDATE", 6, True), set(), "closed"),
        (S(200, "UPDATE", 6, sdp=True), set(), "closed"),
        (R("PRACK", 7, True), set(), "closed"),
    ]),
    ("REGISTER resent while unanswered, then timed out and sent anew with a new CSeq "
     "(RFC 3261 10.2.4, 17.1.2.2): only the answer to the last one binds", [
        (R("REGISTER", 1, expires=600), set(), "registering"),
        (R("REGISTER", 1, expires=600), {"retransmit"}, "registering"),
        (S(100, "REGISTER", 1), set(), "registering"),
        (R("REGISTER", 2, expires=600), set(), "registering"),
        (S(200, "REGISTER", 1, expires=600), set(), "registering"),
        (S(200, "REGISTER", 2, expires=600), {"bind"}, "registered"),
    ]),
    ("a 300 is a final failure, not a success (RFC 3261 21.3)", [
        (R("INVITE", 1, True), {"open_signal", "open_media"}, "inviting"),
        (S(300, "INVITE", 1), {"close_media", "close_call"}, "closed"),
        (R("REGISTER", 2), set(), "registering"),
        (S(300, "REGISTER", 2), set(), "idle"),
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


@pytest.mark.parametrize("status", [300, 301, 302, 380, 399, 400, 500, 600, 699])
def test_non_2xx_final_is_no_success(status):
    """A final response outside 200-299 accepts nothing (RFC 3261 7.2, 21): an initial
    INVITE's call closes, a REGISTER binds nothing."""
    f = sipcore.CallFsm()
    sipcore.call_step(f, request="INVITE", cseq=1, sdp=True)
    got, _ = sipcore.call_step(f, status=status, cseq_method="INVITE", cseq=1, sdp=True)
    assert (got, sipcore.STATE_NAMES[f.state]) == ({"close_media", "close_call"}, "closed")
    g = sipcore.CallFsm()
    sipcore.call_step(g, request="REGISTER", cseq=1, expires=600)
    got, _ = sipcore.call_step(g, status=status, cseq_method="REGISTER", cseq=1, expires=600)
    assert (got, sipcore.STATE_NAMES[g.state]) == (set(), "idle")


UNTRACKED = ["OPTIONS", "INFO", "SUBSCRIBE", "NOTIFY", "MESSAGE", "REFER", "PUBLISH", "OTHER"]


@pytest.mark.parametrize("method", UNTRACKED)
def test_other_methods_change_nothing(method):
    """Only INVITE, ACK, BYE, CANCEL (RFC 3261 13-15), PRACK, UPDATE (RFC 3262, 3311) and
    REGISTER drive a call: any other request or response in a call, with a body or not,
    takes no action and leaves the state as it was."""
    f = sipcore.CallFsm()
    sipcore.call_step(f, request="INVITE", cseq=1, sdp=True)
    for setup in (dict(status=183, cseq_method="INVITE", sdp=True),
                  dict(status=200, cseq_method="INVITE", sdp=True)):
        sipcore.call_step(f, cseq=1, **setup)
        for side in (IN, OUT):
            for sdp in (False, True):
                before = bytes(f)
                assert sipcore.call_step(f, request=method, cseq=5, sdp=sdp, side=side) == \
                    (set(), 0)
                assert sipcore.call_step(f, status=200, cseq_method=method, cseq=5, sdp=sdp,
                                         side=side) == (set(), 0)
                assert bytes(f) == before, (method, side, sdp)


@pytest.mark.parametrize("expires,actions,lifetime", [
    (1, {"bind"}, 1),
    (600, {"bind"}, 600),
    (4294967295, {"bind"}, 4294967295),
    (-1, {"bind"}, 3600),  # none given: RFC 3261 10.2.1.1 default
    (0, {"unbind"}, 0),    # RFC 3261 10.2.2: removes the binding
])
def test_register_2xx_lifetime(expires, actions, lifetime):
    """The binding a REGISTER 2xx grants lasts the expiry it carries, any positive number of
    seconds (RFC 3261 10.2.1.1, 10.3 step 8); 0 removes it."""
    f = sipcore.CallFsm()
    sipcore.call_step(f, request="REGISTER", cseq=1, expires=expires)
    assert sipcore.call_step(f, status=200, cseq_method="REGISTER", cseq=1, expires=expires) \
        == (actions, lifetime)


def _register_ok(contact_param, expires_hdr):
    lines = [b"SIP/2.0 200 OK",
             b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1",
             b"From: <sip:a@example.com>;tag=1",
             b"To: <sip:a@example.com>;tag=2",
             b"Call-ID: r1@192.0.2.1",
             b"CSeq: 7 REGISTER",
             b"Contact: <sip:a@192.0.2.1:5060>" + contact_param]
    if expires_hdr is not None:
        lines.append(b"Expires: " + expires_hdr)
    return b"\r\n".join(lines + [b"Content-Length: 0", b"", b""])


@pytest.mark.parametrize("contact_param,expires_hdr,expires", [
    (b";expires=0", b"3600", 0),      # the binding removed, whatever the header says
    (b";expires=120", b"3600", 120),
    (b";expires=1", None, 1),
    (b"", b"3600", 3600),             # no parameter: the Expires header
    (b"", b"0", 0),
    (b"", None, -1),                  # neither: none (the machine applies the default)
])
def test_event_expires_contact_parameter_over_header(contact_param, expires_hdr, expires):
    """The expires parameter of a Contact overrides the Expires header for its binding, 0
    included (RFC 3261 10.2.1.1, 10.2.2); without it the header applies."""
    p = sipcore.parse(_register_ok(contact_param, expires_hdr))
    assert (p.result, p.sites_result) == ("OK", "OK")
    ev = sipcore.call_event(p)
    assert ev.expires == expires
    assert (ev.is_request, ev.status, ev.cseq, ev.cseq_method, ev.client_side) == \
        (0, 200, 7, sipcore.METHODS["REGISTER"], 0)


@pytest.mark.parametrize("has_sdp,flag", [(0, 0), (1, 1), (2, 1), (255, 1), (-1, 1)])
def test_event_has_sdp_is_a_flag(has_sdp, flag):
    """has_sdp is a truth value (the node passes a count or a flag); the event carries 0 or 1
    (sip_call.h: has_sdp), and the request fields of the message."""
    data = (b"INVITE sip:b@198.51.100.2 SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
            b"From: <sip:a@192.0.2.1>;tag=1\r\nTo: <sip:b@198.51.100.2>\r\n"
            b"Call-ID: c1@192.0.2.1\r\nCSeq: 42 INVITE\r\nContent-Length: 0\r\n\r\n")
    p = sipcore.parse(data)
    ev = sipcore.call_event(p, has_sdp=has_sdp)
    assert ev.has_sdp == flag
    assert (ev.is_request, ev.method, ev.cseq_method, ev.cseq, ev.expires) == \
        (1, sipcore.METHODS["INVITE"], sipcore.METHODS["INVITE"], 42, -1)
