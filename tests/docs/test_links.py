"""The README is the front door and docs/ holds the reference: every relative link resolves.

A link is checked to its file (or folder) and, when it names an anchor, to a heading of the
target page, with the anchor spelt as GitHub spells it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tools.sam_translate import REPO_ROOT

README = REPO_ROOT / "README.md"
DOC_PAGES = sorted((REPO_ROOT / "docs").glob("*.md"))
PAGES = [README, *DOC_PAGES]

MARKDOWN = MarkdownIt("commonmark").enable("table")


def links(page: Path) -> list[str]:
    """Every link target of the page, as CommonMark reads it (code is no link)."""
    return [
        child.attrGet("href")
        for token in MARKDOWN.parse(page.read_text())
        if token.type == "inline"
        for child in token.children or []
        if child.type == "link_open"
    ]


def github_anchor(heading: str) -> str:
    """GitHub's heading id: lower case, punctuation dropped (hyphens and underscores kept), spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    tokens = MARKDOWN.parse(page.read_text())
    found: set[str] = set()
    for heading, inline in zip(tokens, tokens[1:]):
        if heading.type != "heading_open":
            continue
        anchor = github_anchor("".join(child.content for child in inline.children or [] if child.type in ("text", "code_inline")))
        suffix, unique = 0, anchor
        while unique in found:
            suffix += 1
            unique = f"{anchor}-{suffix}"
        found.add(unique)
    return found


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ... are not checked offline
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (resolved.suffix != ".md" or anchor not in anchors(resolved)):
            broken.append(f"{target}: no such heading")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO_ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_the_check_finds_a_missing_file_and_a_missing_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Real heading: with punctuation\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n[ok](other.md#real-heading-with-punctuation) [self](#page) [gone](missing.md)\n"
        "[bad anchor](other.md#nowhere) `[in code](not-checked.md)`\n\n```\n[in code](not-checked.md)\n```\n"
    )
    assert broken_links(page) == ["missing.md: no such file", "other.md#nowhere: no such heading"]


def test_the_front_door_is_short_and_shows_the_two_commands() -> None:
    readme = README.read_text()
    assert len(readme) < 15_000, f"README.md has {len(readme)} characters: move reference to docs/"
    assert "make demo" in readme and "make test" in readme
    linked = {target.partition("#")[0] for target in links(README)}
    assert [page.name for page in DOC_PAGES if f"docs/{page.name}" not in linked] == [], "every docs page linked from the README"
