"""The principle × format table of ingest/sanitize/README.md, cell by cell.

The table is read from the README itself: a cell either says why the principle cannot occur in the
format, or it has generated attacks and near misses (tests/fixtures/hidden_text/) that this module runs
through the format's scanner: every attack must be reported under the cell's principle, no near miss
may lose its visible text. The end-to-end run (parse → sanitize → score) of the same fixtures is in
test_pipeline.py."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from ingest.sanitize.instructions import InstructionDetector
from ingest.sanitize.perception import PRINCIPLES
from ingest.sanitize.pipeline import scanner_for
from tests.fixtures.hidden_text.base import Fixture
from tests.fixtures.hidden_text.registry import fixtures

README = Path(__file__).parents[3] / "ingest" / "sanitize" / "README.md"
COLUMNS = ("html", "docx", "pptx", "xlsx", "pdf", "text")
CANNOT_OCCUR = "cannot occur:"
DETECTOR = InstructionDetector()


def _table() -> dict[tuple[str, str], str]:
    """(principle, column) → the README cell."""
    cells: dict[tuple[str, str], str] = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        found = re.match(r"\|\s*\*\*(\w+)\*\*\s*\|", line)
        if not found or found.group(1) not in PRINCIPLES or line.count("|") != len(COLUMNS) + 2:
            continue
        row = [cell.strip() for cell in line.strip().strip("|").split("|")[1:]]
        for column, cell in zip(COLUMNS, row, strict=True):
            cells[(found.group(1), column)] = cell
    return cells


TABLE = _table()
ALL = fixtures(0)
MATRIX = [f for f in ALL if f.principle is not None]
CELLS = [(principle, column) for principle in PRINCIPLES for column in COLUMNS]


def _letters(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


def test_the_readme_table_has_every_principle_and_format() -> None:
    assert sorted(TABLE) == sorted(CELLS)


@pytest.mark.parametrize(("principle", "column"), CELLS, ids=[f"{p}-{c}" for p, c in CELLS])
def test_each_cell_is_tested_or_says_why_it_cannot_occur(principle: str, column: str) -> None:
    cell = TABLE[(principle, column)]
    attacks = [f.name for f in MATRIX if (f.principle, f.column, f.kind) == (principle, column, "attack")]
    near_misses = [f.name for f in MATRIX if (f.principle, f.column, f.kind) == (principle, column, "benign")]
    if cell.startswith(CANNOT_OCCUR):
        assert len(cell) > len(CANNOT_OCCUR) + 10, "say why"
        assert attacks == [] and near_misses == []
    else:
        assert attacks, f"no generated attack for {principle} in {column}"
        assert near_misses, f"no generated near miss for {principle} in {column}"


def test_every_technique_the_table_names_is_one_a_scanner_reports() -> None:
    sources = "".join(path.read_text(encoding="utf-8") for path in README.parent.glob("*.py"))
    named = {
        name
        for cell in TABLE.values()
        for name in re.findall(r"`((?:html|markdown|docx|pptx|xlsx|pdf)_[a-z_]+)`", cell)
    }
    assert named
    missing = sorted(name for name in named if f'"{name}"' not in sources and name != "markdown_*")
    assert missing == []


SCANNED = [f for f in MATRIX if f.column != "text"]
ATTACKS = [f for f in SCANNED if f.kind == "attack"]
NEAR_MISSES = [f for f in SCANNED if f.kind == "benign"]


@pytest.mark.parametrize("fixture", ATTACKS, ids=[f.technique for f in ATTACKS])
def test_an_attack_is_reported_under_its_principle(fixture: Fixture, built: dict[str, Path]) -> None:
    path = built[fixture.technique]
    scanner = scanner_for(path, DETECTOR)
    assert scanner is not None
    spans = scanner.scan(path)
    hidden = _letters(fixture.hidden[0])
    # A renderer may drop a letter of squeezed text: compare the first and last 12 letters.
    reported = [s for s in spans if hidden[:12] in _letters(s.text) or hidden[-12:] in _letters(s.text)]
    assert reported, [(s.technique, s.principle, s.text) for s in spans]
    assert fixture.principle in {s.principle for s in reported}, [(s.technique, s.principle) for s in reported]


@pytest.mark.parametrize("fixture", NEAR_MISSES, ids=[f.technique for f in NEAR_MISSES])
def test_a_near_miss_keeps_all_its_visible_text(fixture: Fixture, built: dict[str, Path]) -> None:
    path = built[fixture.technique]
    scanner = scanner_for(path, DETECTOR)
    assert scanner is not None
    spans = scanner.scan(path)
    visible = [_letters(line) for line in fixture.visible]
    touched = [(s.technique, s.text) for s in spans if any(_letters(s.text) and _letters(s.text) in v for v in visible)]
    lost = [(s.technique, s.text) for s in spans if any(v and v in _letters(s.text) for v in visible)]
    assert touched == [] and lost == []
