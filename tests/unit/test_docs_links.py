"""Every relative link in the README, the changelog, docs/ and examples/ names a file of this
repository (and, with a #fragment, a heading of it); nothing points outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [REPO / "README.md", REPO / "CHANGELOG.md", *REPO.glob("docs/*.md"), *REPO.glob("examples/*/README.md")]
)
# [text](target) and [text](target "title"), outside code spans and fenced blocks.
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
CODE = re.compile(r"`[^`\n]*`")
EXTERNAL = ("http://", "https://", "mailto:")


def prose(text: str) -> str:
    return CODE.sub("", FENCE.sub("", text))


def anchors(page: Path) -> set[str]:
    """GitHub's heading slugs: lower case, punctuation dropped, spaces to hyphens, -N for repeats."""
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*$", FENCE.sub("", page.read_text()), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        out.add(slug if count == 0 else f"{slug}-{count}")
    return out


def links(page: Path) -> list[str]:
    return [t for t in LINK.findall(prose(page.read_text())) if not t.startswith(EXTERNAL)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve_inside_the_repository(page: Path) -> None:
    broken = []
    for target in links(page):
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.is_relative_to(REPO) or not resolved.exists():
            broken.append(f"{target}: no such file in the repository")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{target}: no heading #{fragment} in {resolved.relative_to(REPO)}")
    assert not broken, broken


def test_no_page_points_at_files_outside_the_repository() -> None:
    for page in PAGES:
        text = page.read_text()
        for outside in ("/work/", "shared/design.md", "design.md §"):
            assert outside not in text, f"{page.relative_to(REPO)} mentions {outside!r}"


def test_the_link_checker_finds_broken_links(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Title here\n[ok](#title-here) [bad](#nope) [file](missing.md)\n"
        "`[not a link](nowhere.md)`\n```\n[fenced](nowhere.md)\n```\n[web](https://example.com)\n"
    )
    assert links(page) == ["#title-here", "#nope", "missing.md"]
    assert anchors(page) == {"title-here"}


def test_readme_links_every_docs_page() -> None:
    readme = (REPO / "README.md").read_text()
    for page in sorted(REPO.glob("docs/*.md")):
        assert f"(docs/{page.name})" in readme, f"README does not link docs/{page.name}"
