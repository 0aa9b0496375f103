#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Source mutation run over the SIP core (vpp-plugin/sip_alg/core/*.c): does the suite
notice when a decision in the code is wrong?

Each mutant changes one token of one file: a comparison (== and !=, < and <=, > and >=), a
logical operator (&& and ||), a negation dropped (!x -> x), a small integer constant off by
one (in a comparison, an index or an addition), or a constant return value (return 0 and
return 1, return -1 and return 0). Comments, strings, character literals and preprocessor
lines are never touched. For each mutant the core is built four times (the host library
that tests/core's pytest loads through ctypes, the C driver tests/core/test_core.c, with and
without SIMD, and tests/core/test_tcp.c) in a scratch directory, then the tests run, fastest first,
stopping at the first failure:

  1. pytest tests/core (about 500 tables and RFC flows, under a second), with
     SIPALG_CORE_LIB naming the mutant's library;
  2. the C driver over the corpus (tests/fuzz/corpus, tests/fuzz/found): every message
     parsed, planned, rewritten into an exact-size buffer and checked edit by edit;
  3. the SIP over TCP stream engine's tests (tests/core/test_tcp.c);
  4. the C driver again, built with SIP_NO_SIMD (the core's byte loops instead of its SSE2
     scans).

A mutant is "killed" when a test fails or runs over --timeout (an endless loop), "survived"
when every test passes, "invalid" when it does not compile (-Werror). The score is
killed / (killed + survived). Survivors are listed with file, line, the change and the line,
so each can be killed by a new test or explained (an equivalent mutant: the change cannot
alter behaviour).

Usage: tests/mutation/mutate.py [--files F ...] [--sample N --seed S] [--json OUT] [--list]
The tree is never modified: mutants are written into a scratch copy.
"""

import argparse
import glob
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CORE = os.path.join(ROOT, "vpp-plugin", "sip_alg", "core")
WARN = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wpointer-arith",
        "-Wstrict-prototypes"]
OPT = ["-O1", "-g0"]


def mask(src):
    """src with comments, string and character literals and preprocessor lines blanked
    (same length, newlines kept), so operators are found in code only."""
    out = list(src)
    i, n = 0, len(src)
    line_start = True
    while i < n:
        c = src[i]
        if line_start and c in " \t":
            i += 1
            continue
        if line_start and c == "#":  # a preprocessor line, with its continuations
            while i < n and not (src[i] == "\n" and src[i - 1] != "\\"):
                out[i] = " "
                i += 1
            continue
        line_start = c == "\n"
        if src.startswith("/*", i):
            j = src.index("*/", i + 2) + 2
            for k in range(i, j):
                if src[k] != "\n":
                    out[k] = " "
            i = j
        elif src.startswith("//", i):
            while i < n and src[i] != "\n":
                out[i] = " "
                i += 1
        elif c in "\"'":
            j = i + 1
            while src[j] != c:
                j += 2 if src[j] == "\\" else 1
            for k in range(i, j + 1):
                out[k] = " "
            i = j + 1
        else:
            i += 1
    return "".join(out)


# (regex on the masked text, replacement function, kind); every match is one mutant
SWAP = {"==": "!=", "!=": "==", "<=": "<", ">=": ">", "&&": "||", "||": "&&"}
RULES = [
    (re.compile(r"==|!=|&&|\|\||<=|>="), lambda m: SWAP[m.group()], "operator"),
    # < and > alone: not <<, >>, ->, <=, >=
    (re.compile(r"(?<![<>\-])<(?![<=])"), lambda m: "<=", "operator"),
    (re.compile(r"(?<![<>\-])>(?![>=])"), lambda m: ">=", "operator"),
    # a negation of an expression (not !=)
    (re.compile(r"!(?!=)"), lambda m: "", "negation"),
    # small constants where off by one matters: after a comparison, in an index, added
    (re.compile(r"(?<=[<>=] )\d+\b(?![.xXuUlL])|(?<=\[)\d+(?=\])|(?<=[+-] )\d+\b(?![.xX])"),
     lambda m: str(int(m.group()) + 1), "constant"),
    (re.compile(r"\breturn (-1|0|1);"),
     lambda m: {"-1": "return 0;", "0": "return 1;", "1": "return 0;"}[m.group(1)],
     "return"),
]


def mutants(path):
    """[(path, offset, length, replacement, kind, line number, original line)]"""
    src = open(path).read()
    m_src = mask(src)
    found = []
    for rx, repl, kind in RULES:
        for m in rx.finditer(m_src):
            start, end = m.span()
            new = repl(m)
            if m.group() == new:
                continue
            if kind == "constant" and int(m.group()) > 1024:
                continue  # a buffer size or a table constant: not a decision
            line_no = src.count("\n", 0, start) + 1
            line = src.splitlines()[line_no - 1].strip()
            found.append((path, start, end - start, new, kind, line_no, line))
    found.sort(key=lambda x: (x[0], x[1]))
    return found


def build(core, out, cc):
    """The host library and the C driver from core/ (a scratch copy); None on success,
    else the compiler's first error line."""
    srcs = sorted(glob.glob(os.path.join(core, "*.c")))
    for cmd in ([cc, *WARN, *OPT, "-fPIC", "-shared", f"-I{core}", *srcs,
                 os.path.join(ROOT, "tests", "core", "abi.c"), "-o", os.path.join(out, "lib.so")],
                [cc, *WARN, *OPT, f"-I{core}", f"-I{os.path.join(ROOT, 'tests', 'core')}", *srcs,
                 os.path.join(ROOT, "tests", "core", "test_core.c"),
                 "-o", os.path.join(out, "test_core")],
                [cc, *WARN, *OPT, f"-I{core}", *srcs, os.path.join(ROOT, "tests", "core", "test_tcp.c"),
                 "-o", os.path.join(out, "test_tcp")],
                [cc, *WARN, *OPT, "-DSIP_NO_SIMD", f"-I{core}",
                 f"-I{os.path.join(ROOT, 'tests', 'core')}", *srcs,
                 os.path.join(ROOT, "tests", "core", "test_core.c"),
                 "-o", os.path.join(out, "test_core_scalar")]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            return (r.stderr.strip().splitlines() or ["?"])[0]
    return None


def run_tests(out, timeout, py):
    """'killed: <which>' or 'survived'."""
    env = dict(os.environ, SIPALG_CORE_LIB=os.path.join(out, "lib.so"))
    steps = [
        ("pytest tests/core", [py, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                               "-p", "no:randomly", os.path.join(ROOT, "tests", "core")]),
        ("test_core", [os.path.join(out, "test_core"), os.path.join(ROOT, "tests", "fuzz", "corpus"),
                       os.path.join(ROOT, "tests", "fuzz", "found")]),
        ("test_tcp", [os.path.join(out, "test_tcp")]),
        ("test_core (byte loops)", [os.path.join(out, "test_core_scalar"),
                                    os.path.join(ROOT, "tests", "fuzz", "corpus"),
                                    os.path.join(ROOT, "tests", "fuzz", "found")]),
    ]
    for name, cmd in steps:
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env, cwd=ROOT)
        except subprocess.TimeoutExpired:
            return f"killed: {name} (timeout)"
        if r.returncode:
            return f"killed: {name}"
    return "survived"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", nargs="*", help="core .c files (default: all of core/*.c)")
    ap.add_argument("--sample", type=int, help="run N mutants drawn at random (--seed)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--json", help="write every mutant's result here")
    ap.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    a = ap.parse_args()
    files = a.files or sorted(glob.glob(os.path.join(CORE, "*.c")))
    todo = [m for f in files for m in mutants(os.path.abspath(f))]
    if a.sample and a.sample < len(todo):
        todo = sorted(random.Random(a.seed).sample(todo, a.sample), key=lambda x: (x[0], x[1]))
    if a.list:
        for path, _, _, new, kind, line_no, line in todo:
            print(f"{os.path.relpath(path, ROOT)}:{line_no}: {kind} -> {new!r}: {line}")
        print(f"{len(todo)} mutants")
        return 0
    py = sys.executable
    results = []
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="sipalg-mutate-") as tmp:
        core = os.path.join(tmp, "core")
        shutil.copytree(CORE, core)
        out = os.path.join(tmp, "out")
        os.makedirs(out)
        err = build(core, out, a.cc)
        if err:
            print(f"the unmutated core does not build: {err}")
            return 2
        base = run_tests(out, a.timeout, py)
        if base != "survived":
            print(f"the unmutated core fails its tests ({base}): no mutation run")
            return 2
        originals = {}
        for i, (path, off, ln, new, kind, line_no, line) in enumerate(todo):
            name = os.path.basename(path)
            src = originals.setdefault(name, open(path).read())
            with open(os.path.join(core, name), "w") as f:
                f.write(src[:off] + new + src[off + ln:])
            err = build(core, out, a.cc)
            verdict = "invalid" if err else run_tests(out, a.timeout, py)
            with open(os.path.join(core, name), "w") as f:
                f.write(src)
            rel = os.path.relpath(path, ROOT)
            results.append({"file": rel, "line": line_no, "kind": kind, "from": src[off:off + ln],
                            "to": new, "code": line, "result": verdict})
            print(f"[{i + 1}/{len(todo)}] {rel}:{line_no} {src[off:off + ln]!r} -> {new!r}: "
                  f"{verdict}", flush=True)
            if a.json and (i % 20 == 19):  # a long run interrupted keeps what it found
                report(a.json, results, t0)
    report(a.json, results, t0, final=True)
    return 0


def report(path, results, t0, final=False):
    """The summary (printed at the end) and, when path is given, every result as JSON."""
    killed = sum(r["result"].startswith("killed") for r in results)
    survived = [r for r in results if r["result"] == "survived"]
    invalid = sum(r["result"] == "invalid" for r in results)
    score = killed / (killed + len(survived)) if killed + len(survived) else 0.0
    summary = {"mutants": len(results), "killed": killed, "survived": len(survived),
               "invalid": invalid, "score": round(score, 4), "seconds": round(time.time() - t0)}
    if final:
        print(json.dumps(summary))
        for r in survived:
            print(f"survived: {r['file']}:{r['line']} {r['from']!r} -> {r['to']!r}: {r['code']}")
    if path:
        with open(path, "w") as f:
            json.dump({"summary": summary, "mutants": results}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
