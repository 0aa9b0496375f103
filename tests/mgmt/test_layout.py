# SPDX-License-Identifier: Apache-2.0
"""pytest imports test files by their basename (rootdir mode, no __init__.py): two test files
of one name in different tiers stop the whole run at collection ("import file mismatch"),
which a run of one tier does not show. Checked here, in a tier that runs everywhere."""

import collections
import os

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def test_test_file_names_are_unique():
    seen = collections.defaultdict(list)
    for d, _, files in os.walk(os.path.join(ROOT, "tests")):
        for f in files:
            if f.startswith("test_") and f.endswith(".py"):
                seen[f].append(os.path.relpath(os.path.join(d, f), ROOT))
    assert not {k: v for k, v in seen.items() if len(v) > 1}
