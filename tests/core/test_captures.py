# SPDX-License-Identifier: Apache-2.0
"""Messages captured from real SIP stacks (tests/data/captures, made by capture.sh):
sipp UAC/UAS, a kamailio record-routing proxy, and baresip. The inside UA is
192.168.1.1:5070; the NAT's public side is 203.0.113.10:40000 for signaling and
203.0.113.10:41000.. for media.
"""

import glob
import os

import pytest

import sipcore

DIR = os.path.join(os.path.dirname(__file__), "..", "data", "captures")
FILES = sorted(glob.glob(os.path.join(DIR, "*", "*.sip")))
INSIDE, PUBLIC = ("192.168.1.1", 5070), ("203.0.113.10", 40000)
IN2OUT = [(INSIDE[0], INSIDE[1], PUBLIC[0], PUBLIC[1])]
OUT2IN = [(PUBLIC[0], PUBLIC[1], INSIDE[0], INSIDE[1])]


def ident(path):
    return os.path.relpath(path, DIR)


def test_every_stack_captured():
    stacks = {os.path.basename(os.path.dirname(f)) for f in FILES}
    assert stacks == {"sipp", "kamailio", "baresip"}
    for s in stacks:
        first = open(sorted(glob.glob(os.path.join(DIR, s, "*.sip")))[0], "rb").read()
        assert first.startswith(b"INVITE ")


@pytest.mark.parametrize("path", FILES, ids=ident)
def test_parses(path):
    data = open(path, "rb").read()
    assert sipcore.analyze(data)[0] == "OK"
    assert sipcore.analyze(data, sipcore.STREAM)[0] == "OK"


def media_map(p, base=41000):
    """in2out and out2in port translations of the inside party's media (0 keeps a port:
    the peer's media in a 200 OK is not translated)."""
    fwd, back = [], []
    for i, m in enumerate(p.media()):
        mine = m["ip"] == INSIDE[0]
        fwd.append((base + 2 * i, base + 2 * i + 1) if mine else (0, 0))
        back.append((m["port"], m["rtcp_port"]) if mine else (0, 0))
    return fwd, back


@pytest.mark.parametrize("path", FILES, ids=ident)
def test_inside_address_never_leaves(path):
    data = open(path, "rb").read()
    p = sipcore.parse(data)
    # every captured message belongs to the inside UA's dialog (its Via at least)
    assert [s for s in p.site_list() if s["ip"] == INSIDE[0]]
    fwd, _ = media_map(p)
    out = sipcore.rewrite(p, IN2OUT + [(INSIDE[0], 0, PUBLIC[0], 0)], fwd).written()
    q = sipcore.parse(out)
    assert (q.result, q.sites_result) == ("OK", "OK")
    assert q.msg.content_length in (-1, q.msg.body_len)
    assert [s for s in q.site_list() if s["ip"] == INSIDE[0]] == []
    for m, orig, (rtp, rtcp) in zip(q.media(), p.media(), fwd):
        if orig["ip"] == INSIDE[0]:
            assert (m["ip"], m["port"]) == (PUBLIC[0], rtp)
        else:
            assert (m["ip"], m["port"]) == (orig["ip"], orig["port"])


@pytest.mark.parametrize("path", FILES, ids=ident)
def test_round_trip_restores_original(path):
    data = open(path, "rb").read()
    p = sipcore.parse(data)
    fwd, back = media_map(p)
    out = sipcore.rewrite(p, IN2OUT + [(INSIDE[0], 0, PUBLIC[0], 0)], fwd).written()
    assert out != data
    q = sipcore.parse(out)
    assert (q.result, q.sites_result) == ("OK", "OK")
    back_out = sipcore.rewrite(q, OUT2IN + [(PUBLIC[0], 0, INSIDE[0], 0)], back).written()
    assert back_out == data


def test_baresip_sdp_details():
    p = sipcore.parse(open(os.path.join(DIR, "baresip", "00.sip"), "rb").read())
    m = p.media()[0]
    assert (m["type"], m["ip"], m["rtcp_port"]) == ("audio", INSIDE[0], m["port"] + 1)


def test_kamailio_record_route_and_two_vias():
    p = sipcore.parse(open(os.path.join(DIR, "kamailio", "02.sip"), "rb").read())
    kinds = [(s["kind"], s["host"]) for s in p.site_list()]
    assert ("record-route", "198.51.100.1") in kinds
    assert [k for k in kinds if k[0] == "via"] == [("via", "198.51.100.1"), ("via", INSIDE[0])]
