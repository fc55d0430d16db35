"""Search API load test: `clearance serve` over 100k chunks, driven over HTTP from this (second) process.

Corpus: paragraphs of the Python standard library's docstrings (real English text) are embedded with the
real model; each vector is reused with small Gaussian perturbations (re-normalized) until 100k chunks, so
building the index takes minutes instead of ~30 min of embedding. Every chunk gets an ACL drawn from 40
groups (plus some `authenticated`), so every search runs the real access filter. Queries are real
sentences embedded by the server's real model. Prints p50/p99 latency and searches/s at 1, 8, 32 callers,
per search mode (hybrid, semantic, keyword; every chunk also has its BM25 vector).

`--mcp-calls N` then times the same searches over MCP and over REST against the same serve: one caller (one
token), the query and mode alike, the two transports alternating call by call; MCP calls go through the SDK's
own client (`ClientSession.call_tool`, one initialized stateless session kept open, as an agent host does).
It prints p50/p99 of each and the difference: the per-call cost of MCP over REST.

The audit's own cost per search is timed apart first (it is well under the noise of a loaded HTTP run):
`AuditLog.append` of the record a top_k=8 search writes, on the data dir's disk, for each
CLEARANCE_AUDIT_FSYNC setting, by one caller and by 8 threads at once. `--audit-fsync` sets the served
process's setting, so HTTP runs with fsync on and off can be compared as well.

    python bench/search_bench.py [--chunks 100000] [--seconds 20] [--modes hybrid,semantic,keyword]
                                 [--audit-fsync record|interval|never] [--mcp-calls 300]
    python bench/search_bench.py --audit-only
    python bench/search_bench.py --tiny --data-dir /tmp/search-tiny   # every step at a toy size (CI runs it)

The paragraphs come from whatever standard library this Python has: the queries are held out first (every
k-th paragraph), the base is the rest, capped at `--base`; too few paragraphs stop the run with a message.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from access_index.acl import Caller  # noqa: E402
from access_index.embedder import load_embedder  # noqa: E402
from access_index.index import Chunk, open_index  # noqa: E402
from access_index.index.edge import EdgeIndex  # noqa: E402
from access_index.paths import DataPaths  # noqa: E402
from access_index.settings import load_settings  # noqa: E402
from retrieval.audit import AuditLog, AuditOptions, RequestRef, search_record, verify_log  # noqa: E402
from retrieval.audit.keys import add_key, load_key_file  # noqa: E402
from retrieval.caller import Identity  # noqa: E402
from retrieval.dev_issuer import mint_token  # noqa: E402
from retrieval.search import Found  # noqa: E402

MODULES = [
    "json", "os", "re", "collections", "itertools", "functools", "pathlib", "subprocess", "socket", "asyncio",
    "threading", "logging", "argparse", "datetime", "decimal", "fractions", "statistics", "random", "hashlib",
    "http.client", "urllib.request", "email.message", "csv", "sqlite3", "zipfile", "tarfile", "shutil", "tempfile",
    "typing", "dataclasses", "enum", "inspect", "io", "struct", "textwrap", "string", "difflib", "heapq", "bisect",
    "contextlib", "abc", "unittest", "doctest", "pdb", "pickle", "copy", "pprint", "uuid", "ssl", "select",
]  # fmt: skip
GROUPS = [f"/org/dept-{d}/team-{t}" for d in range(8) for t in range(5)]


def stdlib_paragraphs(limit: int) -> list[str]:
    seen: set[str] = set()
    for name in MODULES:
        module = importlib.import_module(name)
        for _, member in inspect.getmembers(module):
            doc = inspect.getdoc(member) or ""
            for paragraph in re.split(r"\n\s*\n", doc):
                text = " ".join(paragraph.split())
                if 60 <= len(text) <= 600 and text not in seen:
                    seen.add(text)
                    if len(seen) >= limit:
                        return sorted(seen)
    return sorted(seen)


def split_texts(texts: list[str], base_count: int, query_count: int) -> tuple[list[str], list[str]]:
    """(base paragraphs, query paragraphs) from `texts`: the queries held out first, spread over the whole list
    (every k-th), the base the rest, capped at `base_count`. SystemExit when there are too few for both."""
    if len(texts) < 2 or base_count < 1 or query_count < 1:
        raise SystemExit(
            f"search_bench: {len(texts)} docstring paragraphs found on Python {sys.version.split()[0]}; "
            "need at least 2 (one base, one query) and --base >= 1"
        )
    step = max(2, len(texts) // query_count)
    held = set(range(0, len(texts), step)[:query_count])
    queries = [text for i, text in enumerate(texts) if i in held]
    base = [text for i, text in enumerate(texts) if i not in held][:base_count]
    if len(base) < base_count:
        print(f"base capped at {len(base)} paragraphs: that is what this Python's standard library has", flush=True)
    return base, queries


def build(data_dir: Path, chunks: int, base_count: int, query_count: int = 300) -> list[str]:
    """The index (reused when already built with these parameters); returns the query sentences."""
    marker = data_dir / "bench.json"
    base_texts, query_texts = split_texts(stdlib_paragraphs(base_count + query_count), base_count, query_count)
    queries = [t.split(". ")[0][:200] for t in query_texts]
    if marker.exists() and json.loads(marker.read_text()) == {"chunks": chunks, "base": len(base_texts)}:
        return queries
    settings = load_settings(data_dir=data_dir)
    embedder = load_embedder(settings)
    started = time.perf_counter()
    base = embedder.embed(base_texts)
    print(f"embedded {len(base_texts)} real paragraphs in {time.perf_counter() - started:.1f} s", flush=True)
    rng = np.random.default_rng(7)
    index = open_index(settings, role="bench")
    assert isinstance(index, EdgeIndex)
    index.ensure_collection(embedder.info)
    picker = random.Random(7)
    started = time.perf_counter()
    for start in range(0, chunks, 2000):
        ids = range(start, min(chunks, start + 2000))
        vectors = base[[i % len(base) for i in ids]] + rng.normal(0, 0.025, (len(ids), base.shape[1]))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        batch = []
        for i in ids:
            allow = picker.sample(GROUPS, picker.randint(1, 2)) + (["authenticated"] if picker.random() < 0.1 else [])
            batch.append(
                Chunk(
                    tenant="default",
                    document_id=f"stdlib/doc-{i // 4}",
                    source="stdlib",
                    chunk_index=i % 4,
                    chunk_count=4,
                    text=base_texts[i % len(base_texts)],
                    uri=f"file:///bench/doc-{i // 4}",
                    allow=[f"group:{g}" for g in allow],
                    labels={"classification": picker.choice(["public", "internal", "confidential"])},
                )
            )
        index.upsert(batch, vectors.astype(np.float32).tolist())
    index.flush()
    print(f"upserted {chunks} chunks in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    index.optimize()
    print(f"optimized (HNSW) in {time.perf_counter() - started:.1f} s", flush=True)
    index.close()
    marker.write_text(json.dumps({"chunks": chunks, "base": len(base_texts)}))
    return queries


def audit_cost(directory: Path, records: int) -> None:
    """Milliseconds per `AuditLog.append` of a top_k=8 search record, per fsync setting."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    key_file = directory / "keys.json"
    add_key(key_file, directory / "unused")
    identity = Identity(
        issuer="https://sso.example.org/realms/acme",
        subject="3f2b9c1e-7a4d-4e8b-9c2a-5d6e7f8a9b0c",
        agents=("support-assistant",),
        caller=Caller("default", frozenset({"user:alice", "group:/org/dept-1/team-2", "authenticated"})),
        directory_status=None,
    )
    found = [
        Found(Chunk("default", f"stdlib/doc-{n}", "stdlib", 0, 4, "text", f"file:///d{n}", ("group:/g",)), "group:/g")
        for n in range(8)
    ]
    print(f"audit append, {records} search records of top_k=8 each (load: {os.getloadavg()[0]:.1f})")
    print(f"{'fsync':>9} {'threads':>8} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'appends/s':>10}")
    for fsync in ("record", "interval", "never"):
        for threads in (1, 8):
            data = DataPaths(directory / f"data-{fsync}-{threads}")
            log = AuditLog(data, load_key_file(key_file, data.root), AuditOptions(fsync=fsync))
            timings: list[float] = []

            def append(count: int, log: AuditLog = log, timings: list[float] = timings) -> None:
                for _ in range(count):
                    ref = RequestRef(uuid.uuid4().hex, None, "rest")
                    record = search_record(ref, identity, "where is the payroll", 8, "semantic", found, False)
                    started = time.perf_counter()
                    log.append(record)
                    timings.append(time.perf_counter() - started)

            started = time.perf_counter()
            workers = [threading.Thread(target=append, args=(records // threads,)) for _ in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            wall = time.perf_counter() - started
            log.close()
            ms = np.array(timings) * 1000
            print(
                f"{fsync:>9} {threads:>8} {np.percentile(ms, 50):>8.2f} {np.percentile(ms, 99):>8.2f} "
                f"{ms.mean():>8.2f} {len(timings) / wall:>10.0f}",
                flush=True,
            )
    data = DataPaths(directory / "data-never-1")
    started = time.perf_counter()
    report = verify_log(data, load_key_file(key_file, data.root))
    wall = time.perf_counter() - started
    rate = report.records / wall
    print(f"audit verify: {report.records} records (ok={report.ok}) in {wall:.2f} s = {rate:.0f} records/s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_serve(env: dict[str, str], port: int, attempts: int = 300) -> tuple[subprocess.Popen[bytes], str]:
    """`clearance serve` on `port` with `env`, once /readyz answers 200; its process and base URL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "access_index.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(attempts):
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.terminate()
    raise SystemExit("serve did not become ready")


async def load(
    url: str, tokens: list[str], queries: list[str], callers: int, seconds: float, mode: str = "hybrid"
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=callers, max_keepalive_connections=callers)

    async def caller(number: int, client: httpx.AsyncClient) -> None:
        nonlocal errors
        picker = random.Random(number)
        while time.perf_counter() < deadline:
            body = {"query": picker.choice(queries), "top_k": 8, "mode": mode}
            headers = {"Authorization": f"Bearer {tokens[number % len(tokens)]}"}
            started = time.perf_counter()
            response = await client.post(f"{url}/v1/search", json=body, headers=headers)
            elapsed = time.perf_counter() - started
            if response.status_code == 200:
                latencies.append(elapsed)
            else:
                errors += 1

    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(*(caller(n, client) for n in range(callers)))
    return latencies, errors


async def transport_overhead(url: str, token: str, queries: list[str], calls: int, mode: str) -> dict[str, list[float]]:
    """Seconds per search over REST and over MCP, alternating, same caller, query and mode (one at a time)."""
    import httpx2
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"}
    timings: dict[str, list[float]] = {"rest": [], "mcp": []}
    picker = random.Random(7)
    async with (
        httpx.AsyncClient(timeout=30) as rest,
        httpx2.AsyncClient(headers=headers, timeout=30) as client,
        streamable_http_client(f"{url}/mcp", http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        await session.list_tools()  # the host lists once; call_tool then validates against the output schema
        for number in range(calls):
            body = {"query": picker.choice(queries), "top_k": 8, "mode": mode}
            order = ("rest", "mcp") if number % 2 == 0 else ("mcp", "rest")
            for transport in order:
                started = time.perf_counter()
                if transport == "rest":
                    response = await rest.post(f"{url}/v1/search", json=body, headers=headers)
                    ok = response.status_code == 200
                else:
                    result = await session.call_tool("search", body)
                    ok = not getattr(result, "is_error", True)
                if not ok:
                    raise SystemExit(f"a {transport} search failed")
                timings[transport].append(time.perf_counter() - started)
    return timings


def print_overhead(timings: dict[str, list[float]], mode: str) -> None:
    ms = {transport: np.array(values) * 1000 for transport, values in timings.items()}
    print(f"MCP over REST, {mode}, one caller, {len(ms['rest'])} searches each, load {os.getloadavg()[0]:.1f}")
    print(f"{'transport':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for transport in ("rest", "mcp"):
        print(f"{transport:>9} {np.percentile(ms[transport], 50):>8.1f} {np.percentile(ms[transport], 99):>8.1f}")
    p50 = np.percentile(ms["mcp"], 50) - np.percentile(ms["rest"], 50)
    p99 = np.percentile(ms["mcp"], 99) - np.percentile(ms["rest"], 99)
    print(f"{'mcp-rest':>9} {p50:>+8.1f} {p99:>+8.1f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--base", type=int, default=2000, help="real paragraphs embedded")
    parser.add_argument("--seconds", type=float, default=20.0, help="per concurrency level")
    parser.add_argument("--callers", default="1,8,32")
    parser.add_argument("--modes", default="hybrid,semantic,keyword")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "out" / "search")
    parser.add_argument("--backend", default="onnx", help="the server's CLEARANCE_EMBEDDING_BACKEND (torch, onnx)")
    parser.add_argument("--audit-fsync", default="record", choices=["record", "interval", "never"])
    parser.add_argument("--audit-records", type=int, default=2000, help="appends per setting in the audit timing")
    parser.add_argument("--audit-only", action="store_true", help="only the audit timing (no index, no server)")
    parser.add_argument("--mcp-calls", type=int, default=0, help="searches per transport in the MCP-over-REST timing")
    parser.add_argument(
        "--tiny", action="store_true", help="every step at a toy size, in seconds (figures meaningless)"
    )
    args = parser.parse_args()
    warm_up = 3.0
    if args.tiny:
        args.chunks, args.base, args.seconds, args.callers, args.audit_records, warm_up = 200, 20, 0.5, "1,2", 16, 0.5
    os.environ.update({"HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1"})
    audit_cost(args.data_dir.parent / "audit-cost", args.audit_records)
    if args.audit_only:
        return 0
    queries = build(args.data_dir, args.chunks, args.base, 10 if args.tiny else 300)
    shutil.rmtree(DataPaths(args.data_dir).audit_dir, ignore_errors=True)  # each run starts its own chain
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CLEARANCE_")},
        "CLEARANCE_DATA_DIR": str(args.data_dir),
        "CLEARANCE_DEV_MODE": "true",
        "CLEARANCE_ACL_SYNC_INTERVAL": "0",
        "CLEARANCE_EMBEDDING_BACKEND": args.backend,
        "CLEARANCE_AUDIT_FSYNC": args.audit_fsync,
        "CLEARANCE_RATE_LIMIT_PER_MINUTE": "10000000",
        "CLEARANCE_AGENT_RATE_LIMIT_PER_MINUTE": "10000000",
    }
    settings = load_settings(data_dir=args.data_dir, dev_mode=True)
    picker = random.Random(1)
    tokens = [mint_token(settings, user=f"user{i}", groups=picker.sample(GROUPS, 5)) for i in range(32)]
    server, url = start_serve(env, port)
    try:
        asyncio.run(load(url, tokens, queries, 4, warm_up))
        print(
            f"{args.chunks} chunks, top_k=8, ACL filter over 40 groups (caller in 5), {args.backend} model queries, "
            f"audit fsync {args.audit_fsync}, load {os.getloadavg()[0]:.1f}"
        )
        print(
            f"{'mode':>8} {'callers':>8} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8} {'searches/s':>11}"
        )
        for mode in args.modes.split(","):
            for callers in (int(c) for c in args.callers.split(",")):
                started = time.perf_counter()
                latencies, errors = asyncio.run(load(url, tokens, queries, callers, args.seconds, mode))
                wall = time.perf_counter() - started
                ms = np.array(latencies or [float("nan")]) * 1000  # nan when every search failed (errors)
                print(
                    f"{mode:>8} {callers:>8} {len(latencies):>9} {errors:>7} {np.percentile(ms, 50):>8.1f} "
                    f"{np.percentile(ms, 99):>8.1f} {len(latencies) / wall:>11.1f}",
                    flush=True,
                )
        if args.mcp_calls > 0:
            for mode in args.modes.split(","):
                print_overhead(asyncio.run(transport_overhead(url, tokens[0], queries, args.mcp_calls, mode)), mode)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
