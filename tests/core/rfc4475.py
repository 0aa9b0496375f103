# SPDX-License-Identifier: Apache-2.0
"""RFC 4475 torture messages, expanded from tests/data/rfc4475/messages.txt.

The file writes each message the way RFC 4475 section 2.2 does: one line per line of the
message (each ends in CRLF), non-printable bytes as <hex>..</hex>. The messages were
transcribed from the RFC; test_rfc4475.py checks each expansion against the SHA-256 of the
corresponding file of the RFC's own tarball (Appendix B), so they are byte-exact.
"""

import os
import re

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "rfc4475", "messages.txt")
_HEX = re.compile(r"<hex>([0-9A-F]*)</hex>")


def _expand_line(line):
    out = bytearray()
    pos = 0
    for m in _HEX.finditer(line):
        out += line[pos:m.start()].encode("ascii")
        out += bytes.fromhex(m.group(1))
        pos = m.end()
    out += line[pos:].encode("ascii")
    return bytes(out)


def load():
    """{file name: message bytes}"""
    msgs, name, lines = {}, None, []
    with open(DATA, encoding="ascii") as f:
        for raw in f.read().split("\n")[:-1]:
            if raw.startswith("%%%% "):
                if name:
                    msgs[name] = b"".join(l + b"\r\n" for l in lines)
                name, lines = raw[5:], []
            else:
                lines.append(_expand_line(raw))
    if name:
        msgs[name] = b"".join(l + b"\r\n" for l in lines)
    return msgs
