"""The index benchmark measures what it claims: its oracle applies the ACL rule, and its corpus is shaped
like the description (common and selective principals, deny lists, two tenants, normalized vectors)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from access_index.acl import Caller, is_readable

BENCH = Path(__file__).resolve().parents[2] / "bench" / "index_bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("index_bench", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["index_bench"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus(bench: ModuleType) -> Any:
    return bench.make_corpus(6000, seed=3)


def test_oracle_applies_the_written_acl_rule(bench: ModuleType, corpus: Any) -> None:
    """The recall oracle is independent of the index; it must agree with access_index's rule, deny included."""
    callers = [caller for group in bench.make_callers(corpus, 4, seed=3).values() for caller in group]
    denied = next(doc for doc, deny in enumerate(corpus.denies) if deny)
    victim = sorted(corpus.denies[denied])[0]
    callers.append(Caller(corpus.tenants[denied], frozenset({victim, *corpus.allows[denied]})))
    for caller in callers:
        mask = corpus.admitted(caller)
        for doc in range(corpus.documents):
            expected = is_readable(caller, corpus.tenants[doc], corpus.allows[doc], corpus.denies[doc])
            rows = slice(int(corpus.starts[doc]), int(corpus.starts[doc + 1]))
            assert bool(mask[rows].all()) == expected and bool(mask[rows].any()) == expected
    assert not corpus.admitted(callers[-1])[corpus.starts[denied]]


def test_corpus_has_common_and_selective_principals(bench: ModuleType, corpus: Any) -> None:
    callers = bench.make_callers(corpus, 6, seed=3)
    share = {kind: np.median([corpus.admitted(c).mean() for c in group]) for kind, group in callers.items()}
    assert share["1 principal, selective"] < 0.02 < share["1 principal, common"]
    assert share["50 principals, selective"] < share["50 principals, common"]
    assert all(len(c.tokens) == 50 for c in callers["50 principals, common"])
    assert any(corpus.denies) and set(corpus.tenants) == {"acme", "globex"}
    assert len(corpus.groups) >= 300


def test_vectors_are_normalized_and_clustered(corpus: Any) -> None:
    vectors = corpus.vectors
    assert vectors.shape[1] == 384 and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    sample = vectors[:500] @ vectors[:500].T
    # Sentence embeddings share a mean direction: random pairs are positively correlated, unlike uniform noise.
    assert 0.05 < float(np.median(sample)) < 0.6


def test_small_run_is_exact_and_leaks_nothing(bench: ModuleType, tmp_path: Path) -> None:
    """End to end through open_index: below the full-scan threshold every filtered search is exact."""
    small = bench.make_corpus(3000, seed=5)
    build = bench.build_index(small, tmp_path / "index")
    assert build["chunks_per_second"] > 0
    results = bench.measure(small, tmp_path / "index", per_kind=3, queries_per_caller=3, seed=5)
    assert {result.kind for result in results} == set(bench.make_callers(small, 1, seed=5))
    assert {result.mode for result in results} == {"hybrid", "semantic", "keyword"}
    for result in results:
        assert result.queries > 0
        if result.mode == "semantic":
            assert result.recall_at_10 == pytest.approx(1.0), result
