#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Find the TRex server (`_t-rex-64`), built from its public source outside this repository.

TREX_PATH, when set, is the only place looked at (as VPP_PREFIX is for VPP); else the
standard places below, in order. A place may be TRex's `scripts/` directory or the directory
above it. Standard library only: .ci/run calls this with the system python.

Usage: perf/trex/locate.py    prints the scripts directory and exits 0, or prints
                              "TRex not found (<where it looked>)" and exits 1
"""

import os
import sys

PLACES = ("/opt/trex", "/opt/src/trex-core", "/usr/local/trex", "/usr/local/src/trex-core",
          "/opt/trex-core")
BINARY = "_t-rex-64"


def places():
    """(the places looked at, whether TREX_PATH chose them)."""
    env = os.environ.get("TREX_PATH")
    return ((env,), True) if env else (PLACES, False)


def find_trex():
    """(scripts directory, None) or (None, reason naming where it looked)."""
    where, from_env = places()
    for p in where:
        for d in (p, os.path.join(p, "scripts")):
            exe = os.path.join(d, BINARY)
            # os.path.exists follows the symlink that a source build leaves here
            if os.path.isfile(exe) and os.access(exe, os.X_OK):
                return os.path.abspath(d), None
    looked = f"TREX_PATH={where[0]}" if from_env else "TREX_PATH unset, " + ", ".join(where)
    return None, f"TRex not found ({looked}; each with or without scripts/, for {BINARY})"


if __name__ == "__main__":
    path, why = find_trex()
    print(path or why)
    sys.exit(0 if path else 1)
