"""HNSW parameters of both engines, in one place (bench/index_bench.py measured them; docs/benchmarks.md).

`payload_m` adds per-value links so that filtered searches stay on the graph; below `full_scan_threshold`
KiB of matching vectors a filter is answered exactly. At 1M chunks, ACLs that admit 1-10% of the chunks
through 50 principals need `search_ef` 384 for recall@10 ≥ 0.95 (128 gave 0.91).
"""

from __future__ import annotations

M = 16
EF_CONSTRUCT = 128
PAYLOAD_M = 16
FULL_SCAN_THRESHOLD = 10_000
SEARCH_EF = 384


def search_ef(limit: int) -> int:
    """The beam width of one query: never narrower than the number of results asked for."""
    return max(SEARCH_EF, limit)
