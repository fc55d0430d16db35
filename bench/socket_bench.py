"""The three jobs at once: search latency while an ingest writes through `serve`'s index socket, and the
ingest's rate through the socket next to the same ingest holding the shard itself.

    python bench/socket_bench.py [--docs 500] [--chunks 20000] [--seconds 20] [--backend torch]
    python bench/socket_bench.py --tiny --workdir /tmp/socket-tiny   # each path once, at a toy size (CI runs it)

1. A search index (bench/search_bench.py's: real paragraphs, ACLs over 40 groups) and a corpus of `--docs`
   mixed documents (bench/ingest_bench.py's generator) in `--workdir`.
2. direct: the corpus ingested into a copy of that index, no `serve` running (the shard held directly).
3. `clearance serve` on the index; 8 callers search for `--seconds`: idle p50/p99.
4. socket: the same corpus (another source name) ingested while serve runs and nobody searches.
5. socket + search: the corpus again (a third source) while 8 callers search the whole time: p50/p99.
6. direct again, serve stopped: with step 2 it brackets the socket runs; rates are compared to their mean.
Each ingest runs in its own process (this file's `worker`), which loads the model before it starts the
clock, so the rates compare the writing paths, not model loading. Load averages are printed with each phase,
and first what `serve` spends on one 256-chunk write arriving on the socket.
Targets (issue 11): socket rate >= 90% of direct; search p99 during the ingest <= 3x idle p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CALLERS = 8


def worker(args: argparse.Namespace) -> int:
    """One ingest of the corpus, timed from the first file to the last write; one JSON line on stdout."""
    from access_index.acl_provider import ManifestAcls
    from access_index.embedder import load_embedder
    from access_index.index import open_index
    from access_index.manifest import load_manifest
    from access_index.settings import load_settings
    from ingest.discovery import own_scopes
    from ingest.limits import ParseLimits
    from ingest.pipeline import run_job
    from ingest.plan import IngestJob

    settings = load_settings(data_dir=args.data_dir, embedding_backend=args.backend)
    embedder = load_embedder(settings)
    embedder.embed(["warm up"])
    index = open_index(settings, role="ingest")
    try:
        index.ensure_collection(embedder.info)
        job = IngestJob(
            scopes=own_scopes([args.corpus]),
            acls=ManifestAcls(load_manifest(args.corpus.parent / "acl.yaml")),
            source=args.source,
            tenant="bench",
            policy="quarantine",
            max_file_bytes=settings.max_file_bytes,
            quarantine_dir=args.data_dir / "quarantine",
            batch_chunks=max(settings.embedding_batch_size * 4, 64),
            limits=ParseLimits.from_settings(settings),
        )
        print("ingesting", file=sys.stderr, flush=True)
        report = run_job(job, index, embedder)
    finally:
        index.close()
    print(
        json.dumps(
            {
                "route": report.index_route,
                "chunks": report.chunks_written,
                "seconds": round(report.seconds, 2),
                "chunks_per_second": round(report.chunks_written / report.seconds, 2),
                "embed_seconds": round(report.stage_seconds.get("embed", 0.0), 2),
                "write_seconds": round(report.stage_seconds.get("write", 0.0), 2),
                "failed": report.counts["failed"],
            }
        ),
        flush=True,
    )
    return 0


def write_cost(chunks: int = 256, dimension: int = 384, repeats: int = 5) -> dict[str, Any]:
    """What `serve` does for one ingest batch arriving on the socket, median of `repeats`: parse the frame,
    check and decode it, build the points (the step a direct write does in the ingest process)."""
    from access_index.index import Chunk
    from access_index.index.chunk import prepare_points
    from access_index.index.wire import METHODS

    rng = np.random.default_rng(0)
    batch = [
        Chunk(
            tenant="bench",
            document_id=f"bench/doc-{i // 4}.md",
            source="bench",
            chunk_index=i % 4,
            chunk_count=4,
            text=" ".join(rng.choice(["policy", "budget", "release", "warehouse"], 160)),
            uri=f"file:///bench/doc-{i // 4}.md",
            allow=("group:/eng", "group:/hr"),
            deny=("user:mallory",),
            title="A title",
            section="A section",
            labels={"classification": "internal"},
            content_hash="c" * 64,
            acl_hash="a" * 64,
            pipeline_version="p",
        )
        for i in range(chunks)
    ]
    vectors = rng.normal(size=(chunks, dimension)).astype(np.float32)
    upsert = METHODS["upsert"]
    body = json.dumps({"call": "upsert", "args": upsert.encode_args([batch, list(vectors)])}).encode()
    parse, decode, build = [], [], []
    for _ in range(repeats):
        started = time.perf_counter()
        request = json.loads(body)
        parsed = time.perf_counter()
        args = upsert.decode_args(request["args"])
        decoded = time.perf_counter()
        prepare_points(*args)
        parse.append(parsed - started)
        decode.append(decoded - parsed)
        build.append(time.perf_counter() - decoded)
    return {
        "chunks": chunks,
        "frame_bytes": len(body),
        "parse_ms": round(float(np.median(parse)) * 1000, 1),
        "check_and_decode_ms": round(float(np.median(decode)) * 1000, 1),
        "build_points_ms": round(float(np.median(build)) * 1000, 1),
        "load before": load_average(),
    }


def start_worker(data_dir: Path, corpus: Path, source: str, backend: str) -> subprocess.Popen[str]:
    command = [sys.executable, __file__, "worker", "--data-dir", str(data_dir), "--corpus", str(corpus)]
    return subprocess.Popen(
        [*command, "--source", source, "--backend", backend],
        cwd=ROOT,
        env=bench_env(data_dir, backend),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_worker(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=7200)
    if process.returncode != 0:
        raise SystemExit(f"ingest worker failed ({process.returncode}): {err[-3000:]}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def wait_until_ingesting(process: subprocess.Popen[str]) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        if line.strip() == "ingesting":
            return
    raise SystemExit("the ingest worker ended before it started ingesting")


def bench_env(data_dir: Path, backend: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CLEARANCE_")},
        "CLEARANCE_DATA_DIR": str(data_dir),
        "CLEARANCE_DEV_MODE": "true",
        "CLEARANCE_ACL_SYNC_INTERVAL": "0",
        "CLEARANCE_EMBEDDING_BACKEND": backend,
        "CLEARANCE_RATE_LIMIT_PER_MINUTE": "10000000",
        "CLEARANCE_AGENT_RATE_LIMIT_PER_MINUTE": "10000000",
        "HF_HUB_OFFLINE": "1",
        "DO_NOT_TRACK": "1",
        "PYTHONPATH": str(ROOT),
    }


def percentiles(latencies: list[float]) -> tuple[float, float]:
    if not latencies:  # every search of the window failed (they are counted as errors): no latency to give
        return float("nan"), float("nan")
    ms = np.array(latencies) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def load_average() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=500)
    parser.add_argument("--chunks", type=int, default=20_000, help="chunks in the searched index")
    parser.add_argument("--base", type=int, default=500, help="real paragraphs embedded for the searched index")
    parser.add_argument("--seconds", type=float, default=20.0, help="idle search measurement")
    parser.add_argument("--backend", default="onnx", choices=["torch", "onnx"])
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "socket")
    parser.add_argument(
        "--tiny", action="store_true", help="3 documents, each ingest path once (figures meaningless; CI runs it)"
    )
    args = parser.parse_args()
    warm_up = 3.0
    if args.tiny:
        args.docs, args.chunks, args.base, args.seconds, args.backend, warm_up = 3, 200, 20, 0.5, "torch", 0.5
    os.environ.update({"HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1"})

    from access_index.settings import load_settings
    from bench import ingest_bench, search_bench
    from retrieval.dev_issuer import mint_token

    workdir: Path = args.workdir
    corpus, searched = workdir / "corpus", workdir / "searched"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "acl.yaml").write_text(ingest_bench.MANIFEST, encoding="utf-8")
    if not corpus.exists():
        ingest_bench.generate(corpus, args.docs)
    queries = search_bench.build(searched, args.chunks, args.base, 10 if args.tiny else 300)
    figures: dict[str, Any] = {"machine": f"{os.cpu_count()} cores", "backend": args.backend, "docs": args.docs}
    figures["one socket write"] = write_cost()
    for path in corpus.rglob("*"):  # the first run must not be the only one reading from disk
        if path.is_file():
            path.read_bytes()

    figures["direct load before"] = load_average()
    figures["direct"] = direct_run(searched, workdir / "direct", corpus, args.backend)

    # 3.-5. beside serve, on a copy of the searched index (the original stays clean for the next run).
    served = workdir / "served"
    shutil.rmtree(served, ignore_errors=True)
    shutil.copytree(searched, served)
    port = search_bench.free_port()
    settings = load_settings(data_dir=served, dev_mode=True)
    picker = random.Random(1)
    groups = search_bench.GROUPS
    tokens = [mint_token(settings, user=f"user{i}", groups=picker.sample(groups, 5)) for i in range(32)]
    server, url = search_bench.start_serve(bench_env(served, args.backend), port, attempts=600)
    try:
        asyncio.run(search_bench.load(url, tokens, queries, 4, warm_up))

        figures["idle search load before"] = load_average()
        latencies, errors = asyncio.run(search_bench.load(url, tokens, queries, CALLERS, args.seconds))
        figures["idle search"] = summary(latencies, errors, args.seconds)

        figures["socket load before"] = load_average()
        if not args.tiny:  # a tiny run takes the socket path once, in the phase below
            figures["socket"] = finish_worker(start_worker(served, corpus, "bench-socket", args.backend))

        figures["socket+search load before"] = load_average()
        ingesting = start_worker(served, corpus, "bench-socket-search", args.backend)
        wait_until_ingesting(ingesting)
        latencies, errors, started = [], 0, time.perf_counter()
        while ingesting.poll() is None:
            window, failed = asyncio.run(search_bench.load(url, tokens, queries, CALLERS, 2.0))
            latencies += window
            errors += failed
        figures["search during ingest"] = summary(latencies, errors, time.perf_counter() - started)
        figures["socket+search"] = finish_worker(ingesting)
        figures.setdefault("socket", figures["socket+search"])
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(served, ignore_errors=True)
    # Direct again, after: the two direct runs bracket the socket runs, so a drifting load shows (a tiny run,
    # whose figures mean nothing, does not repeat it).
    figures["direct again load before"] = load_average()
    figures["direct again"] = (
        figures["direct"] if args.tiny else direct_run(searched, workdir / "direct", corpus, args.backend)
    )
    figures["load after"] = load_average()

    report(figures)
    return 0


def direct_run(searched: Path, data_dir: Path, corpus: Path, backend: str) -> dict[str, Any]:
    """The corpus into a copy of the searched index, with no `serve`: the ingest holds the shard itself."""
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.copytree(searched, data_dir)
    try:
        return finish_worker(start_worker(data_dir, corpus, "bench-direct", backend))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def summary(latencies: list[float], errors: int, seconds: float) -> dict[str, Any]:
    p50, p99 = percentiles(latencies)
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        "per_second": round(len(latencies) / seconds, 1),
    }


def report(figures: dict[str, Any]) -> None:
    print(json.dumps(figures, indent=2))
    socket_idle = figures["socket"]
    idle, during = figures["idle search"], figures["search during ingest"]
    direct = (figures["direct"]["chunks_per_second"] + figures["direct again"]["chunks_per_second"]) / 2
    print(f"\n{figures['docs']} documents, {figures['direct']['chunks']} chunks, {figures['backend']} model")
    print(f"{'ingest':<34} {'chunks/s':>9} {'vs direct':>10} {'write s':>8} {'load before':>16}")
    for name, key in (
        ("direct (no serve)", "direct"),
        ("through serve's socket", "socket"),
        ("through the socket, 8 searching", "socket+search"),
        ("direct again, after", "direct again"),
    ):
        run = figures[key]
        ratio = run["chunks_per_second"] / direct
        print(
            f"{name:<34} {run['chunks_per_second']:>9.1f} {ratio:>9.0%} {run['write_seconds']:>8.1f} "
            f"{figures[key + ' load before']:>16}"
        )
    print("(vs direct: against the mean of the two direct runs)")
    cost = figures["one socket write"]
    print(
        f"one socket write of {cost['chunks']} chunks ({cost['frame_bytes'] / 1e6:.2f} MB) in serve: parse "
        f"{cost['parse_ms']} ms, check and decode {cost['check_and_decode_ms']} ms, build points "
        f"{cost['build_points_ms']} ms (load {cost['load before']})"
    )
    print(f"\n{'search, 8 callers':<34} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7}")
    for name, row in (("idle", idle), ("during the socket ingest", during)):
        print(
            f"{name:<34} {row['requests']:>9} {row['errors']:>7} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} "
            f"{row['per_second']:>7.1f}"
        )
    rate = socket_idle["chunks_per_second"] / direct
    tail = during["p99_ms"] / idle["p99_ms"]
    print(f"\nsocket rate / direct rate = {rate:.2f} (target >= 0.90): {'met' if rate >= 0.9 else 'NOT met'}")
    print(f"p99 during / idle p99 = {tail:.2f} (target <= 3): {'met' if tail <= 3 else 'NOT met'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        parser = argparse.ArgumentParser()
        parser.add_argument("worker")
        parser.add_argument("--data-dir", type=Path, required=True)
        parser.add_argument("--corpus", type=Path, required=True)
        parser.add_argument("--source", required=True)
        parser.add_argument("--backend", default="onnx")
        raise SystemExit(worker(parser.parse_args()))
    raise SystemExit(main())
