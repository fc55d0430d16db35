"""The search bench derives its inputs from the Python it runs on: queries are held out first, the base is
capped at what is left, and too little text stops it with a message instead of an IndexError mid-run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "search_bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("search_bench", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["search_bench"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("available", "base", "queries"), [(1996, 2000, 300), (2300, 2000, 300), (50, 2000, 300)])
def test_queries_are_held_out_and_the_base_is_capped(
    bench: ModuleType, available: int, base: int, queries: int
) -> None:
    texts = [f"paragraph {n}" for n in range(available)]
    base_texts, query_texts = bench.split_texts(texts, base, queries)
    assert query_texts and base_texts
    assert not set(base_texts) & set(query_texts)
    assert len(query_texts) <= queries and len(base_texts) == min(base, available - len(query_texts))
    # Spread over the whole list, not the tail that a larger standard library would have added.
    assert texts.index(query_texts[-1]) > available // 2


def test_too_little_text_stops_with_a_message(bench: ModuleType) -> None:
    with pytest.raises(SystemExit, match="docstring paragraphs"):
        bench.split_texts(["only one"], 2000, 300)


def test_this_python_has_enough_for_the_default_sizes_to_run(bench: ModuleType) -> None:
    base_texts, query_texts = bench.split_texts(bench.stdlib_paragraphs(2300), 2000, 300)
    assert len(query_texts) >= 100 and len(base_texts) >= 1000
