#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Run the core microbenchmark: wall-clock ns and TSC cycles per message (best of 7 runs of
200k messages), then instructions per message under callgrind, which does not depend on
machine load: Ir(N messages) - Ir(0 messages), divided by N."""

import re
import shutil
import subprocess
import sys
import tempfile

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/perf/core_bench"
N = 2000


def callgrind_ir(case, op, n):
    with tempfile.NamedTemporaryFile() as f:
        r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={f.name}",
                            BIN, case, op, str(n)], capture_output=True, text=True, check=True)
    m = re.search(r"Collected : (\d+)", r.stderr)
    return int(m.group(1))


def main():
    print(subprocess.run([BIN], capture_output=True, text=True, check=True).stdout, end="")
    if not shutil.which("valgrind"):
        print("valgrind not installed: no instruction counts")
        return
    print(f"\ninstructions per message (callgrind, {N} messages minus 0):")
    for case in ("small", "large"):
        for op in ("parse", "rewrite"):
            base = callgrind_ir(case, op, 0)
            ir = callgrind_ir(case, op, N)
            print(f"  {case:6s} {('parse' if op == 'parse' else 'parse+rewrite'):14s}"
                  f" {(ir - base) / N:10.0f}")


if __name__ == "__main__":
    main()
