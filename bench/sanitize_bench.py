"""Hidden-text sanitizer bench: per principle (size, contrast, position, occlusion, formatting) and per
principle × format cell, attacks caught and benign documents kept whole; per technique the detail;
pages/s. Runs on the generated fixtures (tests/fixtures/hidden_text/), parsed as ingest parses them.

    PYTHONPATH=. python bench/sanitize_bench.py --variants 12

Pages/s times the sanitize step only (scanning the original file, mapping, Unicode, instruction rules),
in one process on one core, as wall-clock and as CPU time (the latter is what a shared, loaded machine
distorts least); parsing is timed separately. HTML, Markdown, email and text count one page
per file, a slide or a sheet one page.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ingest.sanitize import sanitize
from ingest.sanitize.perception import PRINCIPLES
from tests.fixtures.hidden_text import Fixture, all_fixtures
from tests.fixtures.parsing import parse
from tests.fixtures.scoring import Outcome, score, texts_of


@dataclass
class Tally:
    attacks: int = 0
    caught: int = 0
    benign: int = 0
    false_positives: int = 0
    visible_kept: int = 0
    visible_total: int = 0
    pages: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def add(self, fixture: Fixture, outcome: Outcome, seconds: float, cpu_seconds: float = 0.0) -> None:
        if fixture.kind == "attack":
            self.attacks += 1
            self.caught += outcome.caught
        else:
            self.benign += 1
            self.false_positives += outcome.false_positive
        self.visible_kept += outcome.visible_kept
        self.visible_total += outcome.visible_total
        self.pages += fixture.pages
        self.seconds += seconds
        self.cpu_seconds += cpu_seconds


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _ratio(part: int, whole: int) -> str:
    return f"{part}/{whole} {_pct(part, whole)}" if whole else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=12, help="documents per technique")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the parsers' per-file notices would drown the table
    corpus = all_fixtures(args.variants)
    by_technique: dict[str, Tally] = defaultdict(Tally)
    families: dict[str, Tally] = defaultdict(Tally)
    principles: dict[str, Tally] = defaultdict(Tally)
    cells: dict[tuple[str, str], Tally] = defaultdict(Tally)
    misses: list[str] = []
    parse_seconds = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for fixture in corpus:
            path = fixture.build(Path(folder))
            start = time.perf_counter()
            elements = parse(path)
            parse_seconds += time.perf_counter() - start
            before = texts_of(elements)
            start, cpu_start = time.perf_counter(), time.process_time()
            result = sanitize(path, elements, "strip")
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            outcome = score(fixture, before, result.elements, quarantined=False)
            by_technique[f"{fixture.format}:{fixture.technique}"].add(fixture, outcome, seconds)
            principle = fixture.principle or "general (no one principle)"
            principles[principle].add(fixture, outcome, seconds)
            cells[(principle, fixture.column)].add(fixture, outcome, seconds)
            if fixture.kind == "attack":
                family = (
                    "deterministic attacks"
                    if fixture.deterministic
                    else "heuristic attacks (colour/cover/tiny/off-page)"
                )
            elif "_near_miss_" in fixture.technique:
                family = "benign near misses (principle table)"
            else:
                family = "benign hard cases (earlier set)"
            families[family].add(fixture, outcome, seconds, cpu)
            families["pdf (rendered)" if fixture.format == "pdf" else "markup (html/md/eml/txt/docx/pptx/xlsx)"].add(
                fixture, outcome, seconds, cpu
            )
            if (fixture.kind == "attack" and not outcome.caught) or outcome.false_positive:
                misses.append(fixture.name)
    header = f"{'technique':52} {'caught':>12} {'visible kept':>14} {'benign FP':>10} {'pages/s':>8}"
    print(header)
    print("-" * len(header))
    for name in sorted(by_technique):
        t = by_technique[name]
        caught = f"{t.caught}/{t.attacks}" if t.attacks else "-"
        fp = f"{t.false_positives}/{t.benign}" if t.benign else "-"
        print(f"{name:52} {caught:>12} {_pct(t.visible_kept, t.visible_total):>14} {fp:>10} {t.pages / t.seconds:8.1f}")
    print()
    print(f"{'principle':28} {'attacks caught':>18} {'benign kept whole':>20} {'visible kept':>13}")
    for name in [*PRINCIPLES, "general (no one principle)"]:
        t = principles[name]
        print(
            f"{name:28} {_ratio(t.caught, t.attacks):>18} {_ratio(t.benign - t.false_positives, t.benign):>20} "
            f"{_pct(t.visible_kept, t.visible_total):>13}"
        )
    print()
    columns = ("html", "docx", "pptx", "xlsx", "pdf", "text")
    print("attacks caught / benign kept whole, by principle × format:")
    print(f"{'':12}" + "".join(f"{column:>22}" for column in columns))
    for name in PRINCIPLES:
        row = []
        for column in columns:
            t = cells[(name, column)]
            row.append(f"{_pct(t.caught, t.attacks)} / {_pct(t.benign - t.false_positives, t.benign)}")
        print(f"{name:12}" + "".join(f"{cell:>22}" for cell in row))
    print()
    for name in sorted(families):
        t = families[name]
        print(
            f"{name:48} caught {_pct(t.caught, t.attacks):>7}  "
            f"visible kept {_pct(t.visible_kept, t.visible_total):>7}  "
            f"benign FP {_pct(t.false_positives, t.benign):>6}  {t.pages / t.seconds:7.1f} pages/s "
            f"({t.pages / max(t.cpu_seconds, 1e-9):.1f} per CPU-second)"
        )
    total = sum(t.pages for t in by_technique.values())
    print(f"\n{len(corpus)} documents, {total} pages; parsing took {parse_seconds:.1f}s (not in pages/s)")
    print("misses:", ", ".join(misses) if misses else "none")


if __name__ == "__main__":
    main()
