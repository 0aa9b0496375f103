#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Run the core microbenchmark (perf/core_bench.c): per message and stage, wall-clock ns and
TSC cycles (the best of 31 runs of 20,000 messages), user-space instructions per message and
per byte from the CPU's counter (perf_event_open; "n/a" where there is none, e.g. a VM without
a virtual PMU, with the reason below the table), and the same two from callgrind, which
counts without a hardware counter and does not depend on machine load: Ir(N messages) -
Ir(0 messages), divided by N."""

import re
import shutil
import subprocess
import sys
import tempfile

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/perf/core_bench"
N = 2000


def callgrind_ir(case, stage, n):
    with tempfile.NamedTemporaryFile() as f:
        r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={f.name}",
                            BIN, case, stage, str(n)], capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", r.stderr).group(1))


def main():
    out = subprocess.run([BIN], capture_output=True, text=True, check=True).stdout.splitlines()
    rows = [l.split() for l in out[1:] if l and not l.startswith("instructions")]
    notes = [l for l in out[1:] if l.startswith("instructions")]
    grind = shutil.which("valgrind")
    print(f"{out[0]}  {'callgrind instr/msg':>19s} {'instr/byte':>10s}")
    for case, nbytes, stage, *rest in rows:
        line = f"{case:6s} {nbytes:>6s} {stage:7s} {rest[0]:>9s} {rest[1]:>11s} {rest[2]:>10s} " \
               f"{rest[3]:>11s}"
        if grind:
            ir = (callgrind_ir(case, stage, N) - callgrind_ir(case, stage, 0)) / N
            line += f"  {ir:19.0f} {ir / int(nbytes):10.2f}"
        print(line)
    for n in notes:
        print(n)
    if not grind:
        print("valgrind not installed: no callgrind instruction counts")


if __name__ == "__main__":
    main()
