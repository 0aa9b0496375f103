# SPDX-License-Identifier: Apache-2.0
"""The documentation holds together: every relative link (and image) of README.md,
CHANGELOG.md and docs/*.md leads to a file that exists, and a link to a heading of a
Markdown file (`file.md#anchor`, `#anchor`) to a heading that is there, by GitHub's anchor
rules; the README stays the short front door; and every counter the plugin declares is
explained in docs/troubleshooting.md."""

import glob
import os
import re
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
README_MAX_LINES = 160

DOCS = ["README.md", "CHANGELOG.md"] + sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))

FENCE = re.compile(r"^```.*?^```[^\n]*$", re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)


def _text(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def slug(heading):
    """GitHub's anchor of a heading's text: lower case, punctuation but `-` and `_` dropped,
    spaces to hyphens (code spans count by their text)."""
    h = heading.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", h).replace(" ", "-")


def anchors(path):
    """The anchors of a Markdown file's headings, the second of a name getting -1, ..."""
    out, seen = set(), {}
    for _, text in HEADING.findall(FENCE.sub("", _text(path))):
        s = slug(text)
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    return out


def links(path):
    """Relative link targets of a Markdown file, outside code blocks and code spans."""
    text = CODE.sub("", FENCE.sub("", _text(path)))
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def broken(path):
    """[(target, reason)] of a file's relative links that lead nowhere."""
    out = []
    here = os.path.dirname(os.path.join(ROOT, path))
    for t in links(path):
        target, _, anchor = t.partition("#")
        full = os.path.normpath(os.path.join(here, target)) if target else \
            os.path.join(ROOT, path)
        if not os.path.exists(full):
            out.append((t, "no such file"))
        elif anchor and full.endswith(".md") and \
                anchor not in anchors(os.path.relpath(full, ROOT)):
            out.append((t, f"no heading with anchor #{anchor}"))
    return out


@pytest.mark.parametrize("path", DOCS)
def test_relative_links_lead_somewhere(path):
    bad = broken(path)
    assert not bad, f"{path}: " + "; ".join(f"({t}): {why}" for t, why in bad)


def test_the_check_sees_a_broken_link(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", str(tmp_path))
    (tmp_path / "a.md").write_text("# Title\n\n## Two words\n\n[ok](#two-words) [ok](a.md) "
                                   "`[code](nowhere.md)` [bad](b.md) [bad](a.md#three)\n")
    assert broken("a.md") == [("b.md", "no such file"),
                              ("a.md#three", "no heading with anchor #three")]


def test_readme_is_the_short_front_door():
    n = _text("README.md").count("\n")
    assert n <= README_MAX_LINES, f"README.md has {n} lines, at most {README_MAX_LINES}: " \
                                  f"the rest belongs in docs/"


def test_every_counter_is_explained():
    api = _text("vpp-plugin/sip_alg/sip_alg.api")
    block = api[api.index("counters sip_alg {"):]
    counters = re.findall(r"^  (\w+) \{", block, re.M)
    assert len(counters) > 50
    doc = _text("docs/troubleshooting.md")
    missing = [c for c in counters if f"`{c}`" not in doc]
    assert not missing, f"docs/troubleshooting.md does not explain: {', '.join(missing)}"
