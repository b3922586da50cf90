"""The README and ``docs/`` point only at what a clone has: every relative link (and every
``*.md`` file named in backticks) resolves to a file of the repository, and every ``#anchor`` to
a heading of its page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *ROOT.glob("CHANGELOG.md")])
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
NAMED_PAGE = re.compile(r"`([^`\s]+\.md)`")
EXTERNAL = ("http://", "https://", "mailto:")


def prose(page: Path) -> str:
    """The page without its fenced code blocks (commands there are not links)."""
    return FENCE.sub("", page.read_text(encoding="utf-8"))


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for the page's headings: lower case, punctuation dropped, spaces
    become hyphens; a repeated heading gets ``-1``, ``-2``, ..."""
    seen: dict[str, int] = {}
    result = set()
    for line in prose(page).splitlines():
        if not line.startswith("#"):
            continue
        text = line.lstrip("#").strip().replace("`", "").lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def relative_links(page: Path) -> list[str]:
    return [t for t in LINK.findall(prose(page)) if not t.startswith(EXTERNAL)]


def test_there_are_pages_to_check() -> None:
    assert ROOT / "README.md" in PAGES
    assert len(PAGES) > 1, "docs/ holds the contract and the design"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file_of_the_repository(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists() or ROOT not in (file, *file.parents):
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")

    assert broken == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_page_named_in_backticks_exists_in_the_repository(page: Path) -> None:
    missing = [
        name
        for name in NAMED_PAGE.findall(prose(page))
        if not (page.parent / name).exists() and not (ROOT / name).exists()
    ]

    assert missing == []


BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
# `python` / `python3` as a command word: at the start of a line, after `;`, `&&`, `|`, `$(`,
# or after leading VAR=value assignments; `python3 -c` one-liners need only the standard library.
BARE_PYTHON = re.compile(r"(?:^|[;&|(]\s*|^(?:\w+=\S*\s+)+)python3?\s+(?!-c\s)", re.MULTILINE)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_commands_run_the_projects_python_not_whatever_is_on_path(page: Path) -> None:
    """A fresh machine's ``python`` lacks the dependencies (``No module named
    'pythonjsonlogger'``): commands call ``.venv/bin/python``, which ``make run`` creates."""
    blocks = BASH_BLOCK.findall(page.read_text(encoding="utf-8"))
    bare = [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if BARE_PYTHON.search(line.split("#", 1)[0])
    ]

    assert bare == []
