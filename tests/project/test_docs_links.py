"""Every relative link and image in README.md and docs/*.md resolves: the file exists, and
an `#anchor` into a Markdown page names one of its headings (GitHub's slugs). No server:
the pages are parsed with markdown-it, so links inside code are not links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from itertools import pairwise
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_MD = MarkdownIt("commonmark").enable("table")


def _tokens(page: Path) -> list[Token]:
    return _MD.parse(page.read_text(encoding="utf-8"))


def _plain(inline: Token) -> str:
    return "".join(c.content for c in inline.children or [] if c.type in {"text", "code_inline"})


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@cache
def _anchors(page: Path) -> frozenset[str]:
    tokens = _tokens(page)
    seen: dict[str, int] = {}
    for opening, inline in pairwise(tokens):
        if opening.type == "heading_open":
            slug = _slug(_plain(inline))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            if count:
                seen[f"{slug}-{count}"] = 1
    return frozenset(seen)


def _targets(page: Path) -> Iterator[str]:
    for token in _tokens(page):
        for child in token.children or []:
            if child.type == "link_open":
                yield str(child.attrs.get("href", ""))
            elif child.type == "image":
                yield str(child.attrs.get("src", ""))


def _broken(page: Path, target: str, root: Path = ROOT) -> str | None:
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None  # http(s), mailto: not checked offline
    path = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
    if not path.exists():
        return "no such file"
    if root not in path.parents and path != root:
        return "outside the repository"
    if parts.fragment and path.suffix == ".md" and parts.fragment not in _anchors(path):
        return f"no heading #{parts.fragment}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken = [f"{target}: {why}" for target in _targets(page) if (why := _broken(page, target))]
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_every_docs_page_is_linked_from_the_readme() -> None:
    readme = ROOT / "README.md"
    linked = {(ROOT / urlsplit(t).path).resolve() for t in _targets(readme) if urlsplit(t).path}
    orphans = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert not orphans, f"docs pages the README does not link: {orphans}"


def test_the_checker_sees_links_and_anchors(tmp_path: Path) -> None:
    """The checker itself: a good link, a missing file and a missing heading told apart."""
    (tmp_path / "a.md").write_text("# Title (`x_y`)\n\n## Title (`x_y`)\n", encoding="utf-8")
    page = tmp_path / "b.md"
    page.write_text("[ok](a.md#title-x_y) [dup](a.md#title-x_y-1) `[code](nope.md)`\n")
    assert list(_targets(page)) == ["a.md#title-x_y", "a.md#title-x_y-1"]
    assert all(_broken(page, t, tmp_path) is None for t in _targets(page))
    assert _broken(page, "missing.md", tmp_path) == "no such file"
    assert _broken(page, "a.md#nothing", tmp_path) == "no heading #nothing"
    assert _broken(page, "../elsewhere.md", tmp_path / "sub") == "no such file"
