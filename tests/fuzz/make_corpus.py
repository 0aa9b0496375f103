#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write the fuzz seed corpus (tests/fuzz/corpus) from the messages the tests use:
RFC 4475 torture messages, RFC 3665 flows, the seed call, the parser tables and the
real-stack captures. Run from the repository root after changing those tests."""

import glob
import hashlib
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "core"))  # script, not a test: plain imports

import rfc4475  # noqa: E402
import test_parser  # noqa: E402
import test_rfc3665  # noqa: E402
import test_seed  # noqa: E402

out = os.path.join(HERE, "corpus")
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
msgs = list(rfc4475.load().values())
msgs += [c[1] for c in test_parser.CASES]
msgs += [step[0] for flow in test_rfc3665.FLOWS.values() for step in flow]
msgs += [test_seed.INVITE, test_seed.INVITE_OUT, test_seed.OK_200, test_seed.OK_200_IN]
msgs += [open(f, "rb").read() for f in glob.glob(os.path.join(HERE, "..", "data", "captures",
                                                             "*", "*.sip"))]
for m in msgs:
    open(os.path.join(out, hashlib.sha1(m).hexdigest()[:16]), "wb").write(m)
print(len(os.listdir(out)), "files in", out)
