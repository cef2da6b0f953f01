"""The docs hold together: every relative link of the README and docs/ reaches a file (and a
heading, where it names one), every page is reached from the README, and docs/contracts/ holds
the contracts the project is built to, verbatim, so that a clone stands alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
CONTRACTS = ("weights-format.md", "json-output.md", "python-api.md")
SHARED = ROOT.parent / "shared"  # CI clones beside it; a bare clone has no such folder


def prose(text: str) -> str:
    """A page without its code blocks and code spans, where `](` and `#` are not Markdown's."""
    return re.sub(r"`[^`\n]*`", "", re.sub(r"^```.*?^```$", "", text, flags=re.S | re.M))


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as -."""
    headings = re.findall(r"^#+ (.*)$", re.sub(r"^```.*?^```$", "", page.read_text(), flags=re.S | re.M), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


LINKS = [
    (page, target)
    for page in PAGES
    for target in re.findall(r"\]\(([^)\s]+)\)", prose(page.read_text()))
    if not re.match(r"[a-z]+:", target)  # https:, mailto: are not the repository's
]


@pytest.mark.parametrize(("page", "target"), LINKS, ids=[f"{p.relative_to(ROOT)}: {t}" for p, t in LINKS])
def test_every_relative_link_reaches_a_file(page: Path, target: str) -> None:
    path, _, anchor = target.partition("#")
    reached = (page.parent / path).resolve() if path else page
    assert reached.is_file() and reached.is_relative_to(ROOT), f"{page.relative_to(ROOT)}: {target} is no file"
    if anchor:
        assert anchor in anchors(reached), f"{page.relative_to(ROOT)}: {target}: no such heading"


def test_the_pages_link_to_each_other() -> None:
    assert len(LINKS) >= 30
    assert {target.partition("#")[0] for page, target in LINKS if page.parent == DOCS} >= {"names.md", "checking.md"}


def test_the_anchors_are_githubs() -> None:
    assert "a-weights-file-to-start-from-encoder-init" in anchors(DOCS / "weights-format.md")
    assert "worksheets-the-exercise-its-template-and-its-key" in anchors(DOCS / "checking.md")


def test_every_page_is_reached_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for page in PAGES[1:]:
        assert f"]({page.relative_to(ROOT).as_posix()})" in readme, page


@pytest.mark.parametrize("name", CONTRACTS)
def test_each_contract_is_copied_whole(name: str) -> None:
    """The copy is there and whole: its title, its code blocks closed, its last line ended; and
    where the shared specs sit beside the clone (CI, a worker's tree), it is theirs byte for
    byte. A bare clone has only its copies, checked as far as they can be."""
    copy = (DOCS / "contracts" / name).read_bytes()
    text = copy.decode()
    assert re.match(r"# .+ \(contract\)\n\n", text) and text.endswith("\n") and text.count("```") % 2 == 0
    if SHARED.exists():
        spec = SHARED / "spec" / name
        assert spec.is_file(), f"{spec} is missing beside the clone"
        assert copy == spec.read_bytes(), f"docs/contracts/{name} differs from {spec}; copy it again"


def test_every_shared_contract_is_copied() -> None:
    copied = sorted(path.name for path in (DOCS / "contracts").glob("*.md"))
    assert copied == sorted(CONTRACTS)
    if SHARED.exists():
        assert sorted(path.name for path in (SHARED / "spec").glob("*.md")) == copied
