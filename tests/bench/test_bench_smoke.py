"""Every bench in bench/ runs, at its tiny size, as a process started from outside the repository: it exits 0
and prints its figures. A bench whose imports or steps rotted (a renamed function, an input this Python's
standard library is too small for) fails here instead of on the day someone measures with it.

The runs overlap two at a time (most of their time is loading the model and the parsers); the whole module
takes about two minutes on an idle 2-core machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

# One xdist worker runs the whole module, so the benches run once (`--dist loadgroup`, scripts/test.sh).
pytestmark = [pytest.mark.model, pytest.mark.slow, pytest.mark.xdist_group("bench-smoke")]

BENCH = Path(__file__).resolve().parents[2] / "bench"

# bench file → (arguments after --tiny; {work} is a fresh folder), strings its output must hold (its figures)
TINY: dict[str, tuple[list[str], list[str]]] = {
    "acl_sync_bench.py": ([], ["full_sync_s", "payload_updates_per_s", "revocation_latency_s"]),
    "index_bench.py": (["--out", "{work}"], ["recall", "1 principal, selective", "keyword"]),
    "ingest_bench.py": (["--workdir", "{work}"], ['"docs_per_second"', '"stage_share"']),
    "quality_bench.py": (["--workdir", "{work}"], ["nDCG@10", "results outside the caller's groups: 0"]),
    "sanitize_bench.py": ([], ["caught", "principle", "pages/s"]),
    "search_bench.py": (["--data-dir", "{work}"], ["audit verify", "searches/s", "keyword"]),
    "socket_bench.py": (["--workdir", "{work}"], ["socket rate / direct rate", "p99 during / idle p99"]),
}

# Benches whose tiny run a test of their own already makes (and checks more closely).
TINY_ELSEWHERE = {"authz_bench.py": "tests/bench/test_authz_bench.py"}


@dataclass(frozen=True)
class BenchRun:
    returncode: int
    output: str
    seconds: float


def run_tiny(name: str, root: Path) -> BenchRun:
    extra, _ = TINY[name]
    work = root / name.removesuffix(".py")
    work.mkdir()
    args = [argument.replace("{work}", str(work / "out")) for argument in extra]
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLEARANCE_")}
    env.update(HF_HUB_OFFLINE="1", DO_NOT_TRACK="1")
    env.pop("PYTHONPATH", None)  # each bench finds the repository itself
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(BENCH / name), "--tiny", *args],
        cwd=work,  # not the repository: nothing may depend on the working directory
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return BenchRun(done.returncode, done.stdout + done.stderr, time.monotonic() - started)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BenchRun]:
    root = tmp_path_factory.mktemp("bench-smoke")
    # The longest first, so that the two lanes finish close together.
    order = ["socket_bench.py", "quality_bench.py", *sorted(set(TINY) - {"socket_bench.py", "quality_bench.py"})]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(run_tiny, name, root) for name in order}
        results = {name: future.result() for name, future in futures.items()}
    # Shown with `pytest -s`: what each tiny run costs.
    print("bench smoke seconds:", {name: round(run.seconds, 1) for name, run in results.items()})
    return results


def test_every_bench_has_a_tiny_run() -> None:
    assert {path.name for path in BENCH.glob("*.py")} == set(TINY) | set(TINY_ELSEWHERE)
    for test in TINY_ELSEWHERE.values():
        assert "--tiny" in (BENCH.parent / test).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(TINY))
def test_the_bench_runs_at_its_tiny_size_and_prints_its_figures(name: str, runs: dict[str, BenchRun]) -> None:
    run = runs[name]
    assert run.returncode == 0, run.output[-4000:]
    missing = [figure for figure in TINY[name][1] if figure not in run.output]
    assert not missing, f"{name} did not print {missing}:\n{run.output[-4000:]}"
