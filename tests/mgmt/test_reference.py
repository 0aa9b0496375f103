# SPDX-License-Identifier: Apache-2.0
"""docs/configuration.md is what sipalgctl.reference generates from the configuration models
(`make docs`): a key, type, default, bound or description changed in config.py without the
reference regenerated fails here, with the difference. And the generator documents every key
of every section, each with a description, so nothing reaches the YAML undocumented."""

import difflib
import os
import re

import pytest

from sipalgctl import config as C, reference as R

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DOC = os.path.join(ROOT, "docs", "configuration.md")


def test_reference_matches_the_models():
    want = R.render()
    with open(DOC) as f:
        have = f.read()
    if have != want:
        diff = "".join(difflib.unified_diff(
            have.splitlines(True), want.splitlines(True), "docs/configuration.md",
            "generated from mgmt/sipalgctl/config.py", n=1))
        pytest.fail("docs/configuration.md differs from what the models generate; run "
                    "`make docs` (python -m sipalgctl.reference > docs/configuration.md):\n"
                    + diff[:4000])


def _models(model, seen):
    if model in seen:
        return
    seen.append(model)
    for f in model.model_fields.values():
        c = R._child(f)
        if c:
            _models(c[0], seen)


def test_every_section_and_key_is_in_the_reference():
    text = R.render()
    models = []
    _models(C.ConfigModel, models)
    sections = [m for _, m in R.sections()]
    assert set(sections) == set(models)
    for paths, model in R.sections():
        if paths == [""]:
            part = text.split("## Top level\n", 1)[1]
        else:
            head = "## " + " / ".join(f"`{p}`" for p in paths) + "\n"
            assert head in text, head
            part = text.split(head, 1)[1]
        part = part.split("\n## ", 1)[0]
        rows = re.findall(r"^\| `(\w+)` \|", part, re.M)
        assert rows == list(model.model_fields), (paths, rows)
        for name, f in model.model_fields.items():
            assert f.description and f.description in part.replace("\\|", "|"), (paths, name)


def test_a_changed_description_changes_the_reference(monkeypatch):
    f = C.TimeoutsModel.model_fields["one_way_media"]
    before = R.render()
    monkeypatch.setattr(f, "description", "a different text")
    after = R.render()
    assert before != after and "a different text" in after and "a different text" not in before


def test_a_key_without_description_is_refused(monkeypatch):
    monkeypatch.setattr(C.LimitsModel.model_fields["max_calls"], "description", None)
    with pytest.raises(ValueError, match=r"LimitsModel\.max_calls: no description"):
        R.render()


def test_a_validator_the_generator_does_not_know_is_refused(monkeypatch):
    monkeypatch.delitem(R.TYPES, "_endpoint")
    with pytest.raises(KeyError, match=r"config\._endpoint: a validator with no entry"):
        R.render()


def test_types_bounds_and_defaults_come_from_the_models():
    text = R.render()
    assert "| `media_inactivity` | integer | `120` | 0 (off) or 1-86400 |" in text
    assert "| `media_ports` | port range | `40000-59999` | lo-hi: 1024 <= lo < hi <= 65535, " \
           "at least 4 ports |" in text
    assert "| `udp` | list of integer | `[5060]` | 1-65535; at least one; at most 8; none " \
           "twice |" in text
    assert "| `proto` | protocol | `any` |" in text
    assert "| `nat44` | [section](#nat44) | required |" in text
    assert "| `max_entries_per_call` | integer | `24` | 4-4294967295 |" in text
