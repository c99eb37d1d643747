"""The user docs: every relative link resolves, and they speak to users (no dates of past
measurements, no issue numbers, no description of the machine a figure came from)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists() or (
            anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved)
        ):
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_project_history(page: Path) -> None:
    text = page.read_text().replace('"Version": "2012-10-17"', "")  # IAM's policy grammar
    assert not re.findall(r"\b20\d\d-\d\d-\d\d\b", text), "a date of a past measurement"
    assert not re.findall(
        r"\bissue \d+|issue's\b|\bthis (shared )?box\b", text, flags=re.IGNORECASE
    )


def test_readme_stays_short() -> None:
    """The README is the way in: what it is, the quick start, the first setup, links."""
    assert len((ROOT / "README.md").read_bytes()) <= 12 * 1024
