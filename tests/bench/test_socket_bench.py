"""The socket benchmark says what it measured: its verdicts follow the targets' arithmetic, and the write it
times is one ingest batch."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "socket_bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("socket_bench", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["socket_bench"] = module
    spec.loader.exec_module(module)
    return module


def figures(direct: float, socket: float, idle_p99: float, busy_p99: float) -> dict[str, Any]:
    run = {"chunks": 100, "chunks_per_second": 0.0, "write_seconds": 1.0}
    search = {"requests": 10, "errors": 0, "p50_ms": 1.0, "per_second": 1.0}
    return {
        "docs": 5,
        "backend": "torch",
        "one socket write": {"chunks": 256, "frame_bytes": 10**6, "parse_ms": 1, "check_and_decode_ms": 1,
                             "build_points_ms": 1, "load before": "0 0 0"},
        "direct": {**run, "chunks_per_second": direct + 1},
        "direct again": {**run, "chunks_per_second": direct - 1},
        "socket": {**run, "chunks_per_second": socket},
        "socket+search": {**run, "chunks_per_second": socket},
        "idle search": {**search, "p99_ms": idle_p99},
        "search during ingest": {**search, "p99_ms": busy_p99},
        "direct load before": "0 0 0",
        "socket load before": "0 0 0",
        "socket+search load before": "0 0 0",
        "direct again load before": "0 0 0",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("numbers", "rate_met", "tail_met"),
    [((10.0, 9.0, 10.0, 30.0), True, True), ((10.0, 8.9, 10.0, 30.1), False, False)],
)
def test_verdicts_follow_the_targets(
    bench: ModuleType,
    capsys: pytest.CaptureFixture[str],
    numbers: tuple[float, float, float, float],
    rate_met: bool,
    tail_met: bool,
) -> None:
    bench.report(figures(*numbers))
    out = capsys.readouterr().out
    assert ("(target >= 0.90): met" in out) is rate_met
    assert ("(target <= 3): met" in out) is tail_met


def test_the_timed_write_is_one_ingest_batch(bench: ModuleType) -> None:
    cost = bench.write_cost(chunks=64, repeats=1)
    assert cost["chunks"] == 64
    assert 200_000 < cost["frame_bytes"] < 400_000  # ~4 KB per chunk: text, fields, base64 float32 vector
    assert min(cost["parse_ms"], cost["check_and_decode_ms"], cost["build_points_ms"]) > 0
