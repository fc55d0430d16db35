"""The quality benchmark measures what it claims: BEIR files are read as the format says, documents map back
from indexed ids, and the metrics agree with hand-computed values."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "quality_bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("quality_bench", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["quality_bench"] = module
    spec.loader.exec_module(module)
    return module


def test_reads_a_beir_folder_and_keeps_judged_queries_only(bench: ModuleType, tmp_path: Path) -> None:
    rows = [{"_id": "d1", "title": "T", "text": "x"}, {"_id": "d/2", "title": "", "text": "y"}]
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    queries = [{"_id": "q1", "text": "a"}, {"_id": "q2", "text": "b"}]
    (tmp_path / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td/2\t1\nq2\td1\t0\nq1\tgone\t1\n")
    collection = bench.load_collection(tmp_path)
    assert collection.queries == {"q1": "a"}  # q2 has no positive judgement, `gone` is not in the corpus
    assert collection.qrels == {"q1": {"d/2": 1}}


@pytest.mark.parametrize("document_id", ["4983", "a/b c", "x%2Fy", "ünï.txt"])
def test_file_names_map_back_to_document_ids(bench: ModuleType, document_id: str) -> None:
    name = bench.file_name(document_id)
    assert "/" not in name
    assert bench.document_of(f"beir/g1/{name}") == document_id


def test_a_document_ranks_where_its_best_chunk_does(bench: ModuleType) -> None:
    ranked = [("c1", "beir/g0/b.txt", 0.9), ("c2", "beir/g1/a.txt", 0.8), ("c3", "beir/g0/b.txt", 0.7)]
    assert bench.documents_ranked(ranked) == ["b", "a"]


def test_metrics_match_hand_computed_values(bench: ModuleType) -> None:
    relevant = {"a": 1, "c": 1}
    ranking = ["b", "a", "d", "c"]
    ideal = 1 + 1 / math.log2(3)
    assert bench.ndcg(ranking, relevant) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)
    assert bench.mrr(ranking, relevant) == pytest.approx(0.5)
    assert bench.recall(ranking, relevant, 2) == pytest.approx(0.5)
    assert bench.ndcg(["x"], relevant) == 0.0


def test_the_manifest_gives_each_folder_to_its_group(bench: ModuleType, tmp_path: Path) -> None:
    from access_index.manifest import load_manifest

    (tmp_path / "acl.yaml").write_text(bench.manifest(3))
    rule = load_manifest(tmp_path / "acl.yaml").rule_for("g2/x.txt")
    assert rule is not None
    assert {str(p) for p in rule.allow} == {"group:/g2"}
