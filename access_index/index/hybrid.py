"""How a hybrid search fuses its keyword (BM25) and semantic (dense) branches: the same on both engines.

Each branch takes its best `branch_limit(limit)` readable chunks (the access filter in both branches and
in the fused query); Qdrant fuses the two lists inside the same query. The fusion was chosen by nDCG@10 on
the SciFact train queries (bench/quality_bench.py, docs/benchmarks.md):

- `dbsf` (distribution-based score fusion): each branch's scores are scaled by that list's own
  mean ± 3 standard deviations to [0, 1] and summed, so a hybrid score lies in [0, 2]; a chunk strong in
  one branch and absent from the other keeps its strong half. Scores compare within one response only.
- `rrf` (reciprocal rank fusion): the score is Σ 1 / (RRF_K + rank) over the branches that found the chunk.
"""

from __future__ import annotations

from typing import Literal

Fusion = Literal["dbsf", "rrf"]

FUSION: Fusion = "dbsf"
RRF_K = 60
# Candidates each branch hands to the fusion: enough that a chunk ranked well by one branch only is still
# in the other's list when it is there at all, few enough to keep a search within a few milliseconds.
BRANCH_CANDIDATES = 100


def branch_limit(limit: int) -> int:
    """How many chunks each branch of a hybrid search returns for a final list of `limit`."""
    return max(limit, BRANCH_CANDIDATES)
