"""Search quality on a BEIR-format collection, through the real pipeline and the real service.

Each document of the collection is written as a text file (title, blank line, text) into one folder per
access group; `clearance ingest` indexes them (parsing, sanitizer, chunking, the ACL manifest that gives
folder g<k> to group:/g<k>, embedding); `clearance serve` (dev mode) answers the queries over HTTP in each
mode (all of them, or the first --http-queries), which gives the latency. Chunks are what is indexed: a
document's rank is that of its best chunk. Prints, per mode: nDCG@10, MRR@10 and Recall@50 of the service's
top 50 (top_k is at most 50) and Recall@100 of a deeper list, computed for every query in-process on the
same index with the same query objects, filter and limit as the service (the bench checks that these lists
equal the HTTP answers on the queries sent over HTTP), p50/p99 latency over HTTP; and a plain BM25 (bm25s,
Snowball stemmer, English stop words, k1 1.2, b 0.75) over the same document texts for comparison.

The access check: a caller in one group only must get exactly what the service gives when the index holds
that group's documents alone (the group's folders ingested into a separate data dir): the same chunks in
the same order with the same scores. In semantic mode that is also exactly the unrestricted ranking with the
unreadable documents removed; in keyword and hybrid mode BM25's IDF counts only what the caller may read
(what others hold never changes a score), so the check is against the group's own index, and the bench
prints the nDCG of both rankings to show what that costs.

    python bench/quality_bench.py ../shared/datasets/scifact-train --backends torch,onnx
    python bench/quality_bench.py PATH --backends onnx --fusions     # also compare fusions in-process

Any BEIR-format folder works: corpus.jsonl, queries.jsonl and qrels.tsv (or qrels/<split>.tsv).

    python bench/quality_bench.py --tiny --workdir /tmp/quality-tiny   # a generated 12-document collection,
                                                                        # every step once (CI runs it)
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from access_index.acl import Caller, build_access_filter  # noqa: E402
from access_index.embedder import load_embedder  # noqa: E402
from access_index.index import MODES, Mode, SearchQuery, hybrid, open_index  # noqa: E402
from access_index.settings import load_settings  # noqa: E402
from retrieval.dev_issuer import mint_token  # noqa: E402

SOURCE = "beir"
TENANT = "default"
HTTP_TOP_K = 50
DEEP_LIMIT = 300  # chunks read in-process for Recall@100 (documents have one to a few chunks)


@dataclass(frozen=True)
class Collection:
    documents: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: dict[str, str]  # only queries with judgements
    qrels: dict[str, dict[str, int]]


def load_collection(path: Path) -> Collection:
    documents = {}
    for row in _jsonl(path / "corpus.jsonl"):
        documents[str(row["_id"])] = (str(row.get("title") or ""), str(row.get("text") or ""))
    qrels_file = path / "qrels.tsv"
    if not qrels_file.exists():
        candidates = sorted((path / "qrels").glob("*.tsv"))
        if len(candidates) != 1:
            raise SystemExit(f"{path}: expected qrels.tsv or exactly one qrels/<split>.tsv")
        qrels_file = candidates[0]
    qrels: dict[str, dict[str, int]] = {}
    with qrels_file.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if int(row["score"]) > 0 and row["corpus-id"] in documents:
                qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries = {str(r["_id"]): str(r["text"]) for r in _jsonl(path / "queries.jsonl") if str(r["_id"]) in qrels}
    return Collection(documents, queries, {q: qrels[q] for q in queries})


TINY_TOPICS = (
    ("Parental leave", "Employees may take sixteen weeks of paid parental leave after a birth or an adoption."),
    ("Travel expenses", "Train tickets and hotel nights on business trips are refunded within thirty days."),
    ("Password policy", "Passwords are at least fourteen characters long and rotated when a breach is suspected."),
    ("Office plants", "The ferns on the third floor are watered every Monday by the facilities team."),
    ("Quarterly revenue", "Revenue grew by eight percent in the third quarter, driven by the retail segment."),
    ("Kubernetes upgrades", "Clusters are upgraded one minor version at a time after the staging rollout."),
    ("Incident review", "Every outage gets a blameless review with a timeline and follow-up actions."),
    ("Parking garage", "Visitors park on level minus two and register their plate at the front desk."),
    ("Salary bands", "Salary bands are reviewed each spring against market data for every role."),
    ("Backup schedule", "Databases are backed up every night and restores are tested once a month."),
    ("Onboarding checklist", "New hires receive a laptop, a badge and a buddy during their first week."),
    ("Vendor contracts", "Contracts above fifty thousand euros need a second signature from legal."),
)
TINY_QUERIES = {
    "q0": ("how long is paid leave after adopting a child", "d0"),
    "q1": ("refund of hotel costs for business travel", "d1"),
    "q2": ("minimum password length", "d2"),
    "q3": ("when are databases backed up", "d9"),
}


def write_tiny_collection(folder: Path) -> Path:
    """A 12-document BEIR-format collection with 4 judged queries: enough to run every step once."""
    folder.mkdir(parents=True, exist_ok=True)
    corpus = [{"_id": f"d{n}", "title": title, "text": text} for n, (title, text) in enumerate(TINY_TOPICS)]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(row) + "\n" for row in corpus), encoding="utf-8")
    queries = [{"_id": q, "text": text} for q, (text, _) in TINY_QUERIES.items()]
    (folder / "queries.jsonl").write_text("".join(json.dumps(row) + "\n" for row in queries), encoding="utf-8")
    qrels = "".join(f"{q}\t{document}\t1\n" for q, (_, document) in TINY_QUERIES.items())
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels, encoding="utf-8")
    return folder


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


# -- files, manifest, ingest ------------------------------------------------------------------------------
def file_name(document_id: str) -> str:
    """A file name that maps back to the BEIR id (ids may hold any character)."""
    return urllib.parse.quote(document_id, safe="") + ".txt"


def document_of(indexed_id: str) -> str:
    return urllib.parse.unquote(indexed_id.rsplit("/", 1)[-1].removesuffix(".txt"))


def group_of(document_id: str, groups: int) -> int:
    return sum(document_id.encode()) % groups


def write_corpus(collection: Collection, root: Path, groups: int) -> dict[int, set[str]]:
    members: dict[int, set[str]] = {g: set() for g in range(groups)}
    for document_id, (title, text) in collection.documents.items():
        group = group_of(document_id, groups)
        members[group].add(document_id)
        path = root / f"g{group}" / file_name(document_id)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{title}\n\n{text}\n" if title else f"{text}\n", encoding="utf-8")
    return members


def manifest(groups: int | None) -> str:
    if groups is None:
        return 'version: 1\nrules:\n  - paths: ["**"]\n    allow: ["authenticated"]\n'
    rules = "".join(f'  - paths: ["g{g}/**"]\n    allow: ["group:/g{g}"]\n' for g in range(groups))
    return f"version: 1\nrules:\n{rules}"


def environment(data_dir: Path, backend: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("CLEARANCE_")}
    return keep | {
        "CLEARANCE_DATA_DIR": str(data_dir),
        "CLEARANCE_EMBEDDING_BACKEND": backend,
        "CLEARANCE_DEV_MODE": "true",
        "CLEARANCE_ACL_SYNC_INTERVAL": "0",
        "CLEARANCE_RATE_LIMIT_PER_MINUTE": "100000000",
        "CLEARANCE_AGENT_RATE_LIMIT_PER_MINUTE": "100000000",
        "HF_HUB_OFFLINE": "1",
        "DO_NOT_TRACK": "1",
    }


def ingest(data_dir: Path, docs: Path, acl: Path, backend: str) -> dict[str, Any]:
    """`clearance ingest` as a user runs it; returns its --json summary and the wall time."""
    command = [sys.executable, "-m", "access_index.cli", "ingest", str(docs), "--acl", str(acl)]
    command += ["--source", SOURCE, "--tenant", TENANT, "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, env=environment(data_dir, backend), cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"ingest failed ({done.returncode}): {done.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(done.stdout)
    summary["bench_seconds"] = round(time.perf_counter() - started, 1)
    return summary


@contextmanager
def serving(data_dir: Path, backend: str) -> Iterator[str]:
    """`clearance serve` on a free port until the block ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    command = [sys.executable, "-m", "access_index.cli", "serve", "--port", str(port)]
    log = (data_dir / "serve.log").open("w")
    server = subprocess.Popen(command, env=environment(data_dir, backend), cwd=ROOT, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                raise SystemExit(f"serve exited; see {data_dir / 'serve.log'}")
            time.sleep(0.5)
        else:
            raise SystemExit("serve did not become ready")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


# -- running queries ---------------------------------------------------------------------------------------
Ranked = list[tuple[str, str, float]]  # (chunk id, indexed document id, score), best first


async def _ask_all(
    url: str, token: str, queries: Mapping[str, str], mode: Mode
) -> tuple[dict[str, Ranked], list[float]]:
    """One caller, one request at a time (the latency targets are for a single caller)."""
    results: dict[str, Ranked] = {}
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30) as client:
        for qid, text in queries.items():
            body = {"query": text[:2000], "top_k": HTTP_TOP_K, "mode": mode}
            started = time.perf_counter()
            response = await client.post(f"{url}/v1/search", json=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"search failed: {response.status_code} {response.text[:500]}")
            results[qid] = [(r["chunk_id"], r["document_id"], float(r["score"])) for r in response.json()["results"]]
    return results, latencies


def ask_all(url: str, token: str, queries: Mapping[str, str], mode: Mode) -> tuple[dict[str, Ranked], list[float]]:
    return asyncio.run(_ask_all(url, token, queries, mode))


def documents_ranked(ranked: Ranked) -> list[str]:
    """A document's rank is its best chunk's: the first time it appears in the chunk list."""
    seen: dict[str, None] = {}
    for _, indexed, _ in ranked:
        seen.setdefault(document_of(indexed), None)
    return list(seen)


# -- metrics -----------------------------------------------------------------------------------------------
def ndcg(ranking: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    gains = sum((2 ** relevant.get(doc, 0) - 1) / math.log2(rank + 2) for rank, doc in enumerate(ranking[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    best = sum((2**grade - 1) / math.log2(rank + 2) for rank, grade in enumerate(ideal))
    return gains / best if best else 0.0


def mrr(ranking: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    return next((1.0 / (rank + 1) for rank, doc in enumerate(ranking[:k]) if doc in relevant), 0.0)


def recall(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    return len(set(ranking[:k]) & set(relevant)) / len(relevant)


def scores(rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    ids = [q for q in rankings if qrels.get(q)]
    return {
        "ndcg@10": float(np.mean([ndcg(rankings[q], qrels[q]) for q in ids])),
        "mrr@10": float(np.mean([mrr(rankings[q], qrels[q]) for q in ids])),
        "recall@50": float(np.mean([recall(rankings[q], qrels[q], 50) for q in ids])),
        "recall@100": float(np.mean([recall(rankings[q], qrels[q], 100) for q in ids])),
    }


# -- plain BM25 --------------------------------------------------------------------------------------------
def plain_bm25(collection: Collection) -> dict[str, list[str]]:
    """bm25s over the whole documents (the text ingest was given), top 100 per query."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    ids = list(collection.documents)
    texts = [f"{title}\n\n{text}" for title, text in collection.documents.values()]
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="robertson")
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    qids = list(collection.queries)
    tokens = bm25s.tokenize([collection.queries[q] for q in qids], stopwords="en", stemmer=stemmer, show_progress=False)
    depth = min(100, len(ids))  # bm25s refuses a k beyond the corpus size
    found, _ = retriever.retrieve(tokens, k=depth, show_progress=False, n_threads=1)
    return {qid: [ids[int(i)] for i in row] for qid, row in zip(qids, found, strict=True)}


# -- in-process (deep lists, fusion variants, group-only indexes) -----------------------------------------
class InProcess:
    """The index of a data dir searched directly, with the service's own query objects and filter."""

    def __init__(self, data_dir: Path, backend: str) -> None:
        self.settings = load_settings(data_dir=data_dir, embedding_backend=backend)
        self.embedder = load_embedder(self.settings)
        self.index = open_index(self.settings, role="bench")
        self.index.ensure_collection(self.embedder.info)
        self._vectors: dict[str, tuple[float, ...]] = {}

    def embed(self, queries: Mapping[str, str]) -> None:
        # One query per call, as `serve` embeds a lone caller's query: int8 dynamic quantization scales
        # activations per batch, so a vector depends (slightly) on what else is in its batch.
        for qid, text in queries.items():
            if qid not in self._vectors:
                self._vectors[qid] = tuple(float(x) for x in self.embedder.embed([text[:2000]])[0])

    def search(self, qid: str, text: str, mode: Mode, caller: Caller, limit: int) -> Ranked:
        query = SearchQuery(text[:2000], mode, None if mode == "keyword" else self._vectors[qid])
        hits = self.index.search(query, build_access_filter(caller), limit)
        return [(h.chunk.point_id, h.chunk.document_id, h.score) for h in hits]

    def close(self) -> None:
        self.index.close()


FUSIONS: dict[str, tuple[hybrid.Fusion, int, int]] = {
    # name: (fusion, rrf k, candidates per branch)
    "dbsf, 100 per branch": ("dbsf", 60, 100),
    "dbsf, 200 per branch": ("dbsf", 60, 200),
    "rrf k=60, 100 per branch": ("rrf", 60, 100),
    "rrf k=2 (Qdrant's default), 100 per branch": ("rrf", 2, 100),
}


def compare_fusions(engine: InProcess, collection: Collection, caller: Caller) -> dict[str, dict[str, float]]:
    shipped = (hybrid.FUSION, hybrid.RRF_K, hybrid.BRANCH_CANDIDATES)
    out = {}
    try:
        for name, (fusion, k, depth) in FUSIONS.items():
            hybrid.FUSION, hybrid.RRF_K, hybrid.BRANCH_CANDIDATES = fusion, k, depth
            rankings = {
                q: documents_ranked(engine.search(q, t, "hybrid", caller, HTTP_TOP_K))
                for q, t in collection.queries.items()
            }
            out[name] = scores(rankings, collection.qrels)
            print(f"  fusion {name}: nDCG@10 {out[name]['ndcg@10']:.4f}", flush=True)
    finally:
        hybrid.FUSION, hybrid.RRF_K, hybrid.BRANCH_CANDIDATES = shipped
    return out


# -- BM25 parameters --------------------------------------------------------------------------------------
def chunk_texts(args: argparse.Namespace) -> tuple[list[str], np.ndarray]:
    """The chunk texts ingest produced (from the first backend's index) and the document of each."""
    from access_index.index import AnyOf, Filter

    settings = load_settings(data_dir=args.workdir / f"data-{args.backends.split(',')[0]}")
    index = open_index(settings, role="bench")
    try:
        chunks = list(index.scroll(Filter(must=(AnyOf("tenant", (TENANT,)),)), fields=["text"]))
    finally:
        index.close()
    return [c.text for c in chunks], np.array([document_of(c.document_id) for c in chunks])


def bm25_grid(args: argparse.Namespace, collection: Collection) -> dict[str, float]:
    """Keyword-mode nDCG@10 for a grid of (k1, b, average length), scored as Qdrant scores it (Qdrant's Bm25
    vectors, IDF ln(1 + (N - n + 0.5) / (n + 0.5)) over the chunks) on the chunks ingest produced."""
    import qdrant_edge as qe
    from scipy import sparse as sp

    texts, owners = chunk_texts(args)
    qids = list(collection.queries)
    out = {}
    for k1 in (0.9, 1.2, 1.5):
        for b in (0.5, 0.75):
            for average in (60.0, 100.0, 256.0):
                model = qe.Bm25(qe.Bm25Config(k=k1, b=b, avg_len=average, language="english"))
                columns: dict[int, int] = {}

                def matrix(vectors: list[Any], grow: bool, columns: dict[int, int] = columns) -> Any:
                    rows, cols, values = [], [], []
                    for row, vector in enumerate(vectors):
                        for term, value in zip(vector.indices, vector.values, strict=True):
                            if grow:
                                columns.setdefault(term, len(columns))
                            if term in columns:
                                rows.append(row)
                                cols.append(columns[term])
                                values.append(value)
                    return sp.csr_matrix(
                        (values, (rows, cols)), shape=(len(vectors), len(columns) + (1 if grow else 0))
                    )

                chunks = matrix([model.embed_document(t) for t in texts], grow=True)
                queries = matrix([model.embed_query(collection.queries[q][:2000]) for q in qids], grow=False)
                queries = sp.csr_matrix(queries, shape=(len(qids), chunks.shape[1]))
                frequency = np.asarray((chunks > 0).sum(axis=0)).ravel()
                idf = np.log(1 + (len(texts) - frequency + 0.5) / (frequency + 0.5))
                similarity = (queries @ sp.diags(idf) @ chunks.T).toarray()
                rankings = {}
                for row, qid in enumerate(qids):
                    order = np.argsort(-similarity[row], kind="stable")[:DEEP_LIMIT]
                    order = order[similarity[row, order] > 0]
                    rankings[qid] = list(dict.fromkeys(owners[order].tolist()))
                name = f"k1={k1} b={b} avg_len={average:g}"
                out[name] = scores(rankings, collection.qrels)["ndcg@10"]
                print(f"  BM25 {name}: nDCG@10 {out[name]:.4f}", flush=True)
    return out


# -- quantization recipes ------------------------------------------------------------------------------
def compare_recipes(args: argparse.Namespace, collection: Collection) -> dict[str, dict[str, float]]:
    """Dense-only nDCG@10 and embedding speed of torch fp32 and each int8 recipe on the same inputs: the chunk
    texts ingest produced (from the first backend's index), or with --recipe-docs N, N whole documents (every
    judged-relevant one, then others at random; the model reads the first 256 tokens)."""
    import random

    from access_index.embedder import SentenceTransformerEmbedder, bundled_model_path
    from access_index.onnx_embedder import RECIPES, OnnxEmbedder

    if args.recipe_docs:
        relevant = sorted({d for judged in collection.qrels.values() for d in judged})
        others = sorted(set(collection.documents) - set(relevant))
        picked = relevant + random.Random(7).sample(others, max(0, args.recipe_docs - len(relevant)))
        texts = [f"{collection.documents[d][0]}\n\n{collection.documents[d][1]}" for d in picked]
        owners = np.array(picked)
    else:
        texts, owners = chunk_texts(args)
    qids = list(collection.queries)
    models: dict[str, Any] = {"torch fp32": SentenceTransformerEmbedder()}
    for recipe in RECIPES:
        models[f"onnx int8 {recipe}"] = OnnxEmbedder(
            "all-MiniLM-L6-v2", bundled_model_path(), [args.workdir / "recipes"], recipe=recipe, min_cosine=0.0
        )
    out = {}
    for name, model in models.items():
        started = time.perf_counter()
        matrix = model.embed(texts)
        rate = len(texts) / (time.perf_counter() - started)
        queries = np.stack([model.embed([collection.queries[q][:2000]])[0] for q in qids])
        similarity = queries @ matrix.T
        rankings = {}
        for row, qid in enumerate(qids):
            order = np.argsort(-similarity[row], kind="stable")[:DEEP_LIMIT]
            rankings[qid] = list(dict.fromkeys(owners[order].tolist()))
        out[name] = scores(rankings, collection.qrels) | {
            "texts": len(texts),
            "texts_per_second": rate,
            "load": os.getloadavg()[0],
        }
        print(f"  {name}: nDCG@10 {out[name]['ndcg@10']:.4f}, {rate:.1f} texts/s", flush=True)
    return out


# -- the run of one backend ------------------------------------------------------------------------------
def everyone(groups: int) -> tuple[str, ...]:
    return tuple(f"/g{g}" for g in range(groups))


def run_backend(args: argparse.Namespace, collection: Collection, backend: str) -> dict[str, Any]:
    work: Path = args.workdir
    docs = work / "docs"
    members = write_corpus(collection, docs, args.groups)
    acl = work / "acl.yaml"
    acl.write_text(manifest(args.groups), encoding="utf-8")
    data_dir = work / f"data-{backend}"
    result: dict[str, Any] = {"backend": backend, "load_before": os.getloadavg()[0]}
    if not (data_dir / "ingested.json").exists():
        summary = ingest(data_dir, docs, acl, backend)
        (data_dir / "ingested.json").write_text(json.dumps(summary))
    result["ingest"] = json.loads((data_dir / "ingested.json").read_text())
    print(f"[{backend}] ingest: {result['ingest'].get('counts')} in {result['ingest']['bench_seconds']} s", flush=True)

    settings = load_settings(data_dir=data_dir, dev_mode=True)
    all_groups = everyone(args.groups)
    token = mint_token(settings, user="reader", groups=all_groups)
    group_tokens = {g: mint_token(settings, user=f"member{g}", groups=[f"/g{g}"]) for g in range(args.groups)}
    check_queries = dict(list(collection.queries.items())[: args.acl_queries])
    http: dict[str, dict[str, Ranked]] = {}
    group_http: dict[tuple[int, str], dict[str, Ranked]] = {}
    latency: dict[str, dict[str, float]] = {}
    sample = dict(list(collection.queries.items())[: args.http_queries])
    with serving(data_dir, backend) as url:
        ask_all(url, token, dict(list(collection.queries.items())[:20]), "hybrid")  # warm-up
        for mode in MODES:
            http[mode], seconds = ask_all(url, token, sample, mode)
            ms = np.array(seconds) * 1000
            latency[mode] = {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}
            print(f"[{backend}] {mode}: {latency[mode]}", flush=True)
        if args.acl_check:
            for g, group_token in group_tokens.items():
                for mode in MODES:
                    group_http[(g, mode)], _ = ask_all(url, group_token, check_queries, mode)
    result["latency"] = latency
    result["http_queries"] = len(sample)

    engine = InProcess(data_dir, backend)
    try:
        engine.embed(collection.queries)
        caller = Caller(TENANT, frozenset({"authenticated", "user:reader", *(f"group:{g}" for g in all_groups)}))
        # What the service returns (top_k 50), for every query: the same index, query objects, filter and
        # limit as over HTTP (checked below on the HTTP sample); and a deeper list for Recall@100.
        served: dict[str, dict[str, Ranked]] = {
            mode: {q: engine.search(q, t, mode, caller, HTTP_TOP_K) for q, t in collection.queries.items()}
            for mode in MODES
        }
        deep: dict[str, dict[str, Ranked]] = {
            mode: {q: engine.search(q, t, mode, caller, DEEP_LIMIT) for q, t in collection.queries.items()}
            for mode in MODES
        }
        result["quality"] = {
            mode: scores({q: documents_ranked(r) for q, r in served[mode].items()}, collection.qrels)
            | {
                "recall@100": scores({q: documents_ranked(r) for q, r in deep[mode].items()}, collection.qrels)[
                    "recall@100"
                ]
            }
            for mode in MODES
        }
        # The service over HTTP and the in-process search must agree (same index, same code, same limit: a
        # hybrid search's candidates per branch grow with the limit, so a deeper list fuses differently).
        result["http_equals_in_process"] = {
            mode: float(np.mean([_same(_keyed(http[mode][q]), _keyed(served[mode][q])) for q in sample]))
            for mode in MODES
        }
        if args.fusions:
            result["fusions"] = compare_fusions(engine, collection, caller)
    finally:
        engine.close()
    if args.acl_check:
        result["acl"] = acl_check(args, collection, backend, members, group_http, deep, check_queries)
    return result


def _same(a: Sequence[tuple[str, float]], b: Sequence[tuple[str, float]], tolerance: float = 1e-4) -> bool:
    """The same (key, score) lists: equal scores position by position, keys equal except among tied scores."""
    if len(a) != len(b) or any(abs(x[1] - y[1]) > tolerance for x, y in zip(a, b, strict=True)):
        return False
    cutoff = min((score for _, score in a), default=0.0)
    return {key for key, score in a if score > cutoff + tolerance} == {
        key for key, score in b if score > cutoff + tolerance
    } and all(x[0] == y[0] or abs(x[1] - y[1]) <= tolerance for x, y in zip(a, b, strict=True))


def _keyed(ranked: Ranked, by_document: bool = False) -> list[tuple[str, float]]:
    return [(document_of(doc) if by_document else chunk, score) for chunk, doc, score in ranked]


def copy_group(data_dir: Path, group_dir: Path, readable: set[str]) -> None:
    """An index holding only `readable`'s chunks: the very points of the main index (same dense vectors, same
    payloads), written into a fresh data dir through the same ChunkIndex.upsert (which computes BM25 again from
    the same text). Re-ingesting would re-embed, and int8 vectors depend slightly on their batch."""
    import qdrant_edge as qe

    from access_index.index import Chunk, ModelInfo

    if (group_dir / "copied.json").exists():
        return
    shutil.rmtree(group_dir, ignore_errors=True)
    main = load_settings(data_dir=data_dir).paths
    meta = json.loads(main.index_meta.read_text())
    shard = qe.EdgeShard.load(str(main.index_shard))
    chunks: list[Chunk] = []
    vectors: list[list[float]] = []
    offset: Any = None
    try:
        while True:
            request = qe.ScrollRequest(offset=offset, limit=1000, with_payload=True, with_vector=[""])
            records, offset = shard.scroll(request)
            for record in records:
                chunk = Chunk.from_payload(record.payload or {})
                if document_of(chunk.document_id) in readable:
                    chunks.append(chunk)
                    stored = record.vector
                    dense = stored[""] if isinstance(stored, dict) else stored
                    vectors.append(np.asarray(dense, dtype=np.float32).ravel().tolist())
            if offset is None:
                break
    finally:
        shard.close()
    index = open_index(load_settings(data_dir=group_dir), role="bench")
    try:
        index.ensure_collection(ModelInfo(meta["model"], int(meta["dimension"])))
        for start in range(0, len(chunks), 512):
            index.upsert(chunks[start : start + 512], vectors[start : start + 512])
    finally:
        index.close()
    models = data_dir / "models"
    if models.is_dir():  # the same local ONNX export for the queries
        shutil.copytree(models, group_dir / "models", dirs_exist_ok=True)
    (group_dir / "copied.json").write_text(json.dumps({"chunks": len(chunks)}))


def acl_check(
    args: argparse.Namespace,
    collection: Collection,
    backend: str,
    members: Mapping[int, set[str]],
    group_http: Mapping[tuple[int, str], dict[str, Ranked]],
    deep: Mapping[str, dict[str, Ranked]],
    queries: Mapping[str, str],
) -> dict[str, Any]:
    """Each group caller's results vs the group's own index, and vs the unrestricted ranking minus the rest."""
    report: dict[str, Any] = {"queries": len(queries), "groups": len(members), "modes": {}}
    leaks = 0
    own: dict[tuple[int, str], dict[str, Ranked]] = {}
    for g, readable in members.items():
        group_dir = args.workdir / f"group-{backend}-{g}"
        copy_group(args.workdir / f"data-{backend}", group_dir, readable)
        engine = InProcess(group_dir, backend)
        try:
            engine.embed(queries)
            reader = Caller(TENANT, frozenset({"authenticated", f"user:member{g}", f"group:/g{g}"}))
            for mode in MODES:
                own[(g, mode)] = {q: engine.search(q, t, mode, reader, HTTP_TOP_K) for q, t in queries.items()}
        finally:
            engine.close()
    for mode in MODES:
        same_as_own: list[bool] = []
        same_as_filtered: list[bool] = []
        ndcg_caller: list[float] = []
        ndcg_filtered: list[float] = []
        for g, readable in members.items():
            for q in queries:
                got = group_http[(g, mode)][q]
                leaks += sum(document_of(d) not in readable for _, d, _ in got)
                mine = own[(g, mode)][q]
                same_as_own.append(_same(_keyed(got, by_document=True), _keyed(mine, by_document=True)))
                filtered = [r for r in deep[mode][q] if document_of(r[1]) in readable]
                depth = min(len(got), len(filtered))
                same_as_filtered.append(_same(_keyed(got[:depth]), _keyed(filtered[:depth])))
                relevant = {d: v for d, v in collection.qrels[q].items() if d in readable}
                if relevant:
                    ndcg_caller.append(ndcg(documents_ranked(got), relevant))
                    ndcg_filtered.append(ndcg(documents_ranked(filtered), relevant))
        report["modes"][mode] = {
            "same_as_group_only_index": float(np.mean(same_as_own)),
            "same_as_unrestricted_minus_unreadable": float(np.mean(same_as_filtered)),
            "ndcg@10_caller": float(np.mean(ndcg_caller)),
            "ndcg@10_unrestricted_minus_unreadable": float(np.mean(ndcg_filtered)),
        }
    report["unreadable_results"] = leaks
    return report


def print_report(results: Sequence[dict[str, Any]], reference: Mapping[str, float], queries: int) -> None:
    print(f"\n{queries} queries; the service's top 50 (in-process, equal to HTTP on the sample); latency over HTTP")
    print("| backend | mode | nDCG@10 | MRR@10 | Recall@50 | Recall@100 | p50 ms | p99 ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for result in results:
        for mode in MODES:
            h, d, lat = result["quality"][mode], result["quality"][mode], result["latency"][mode]
            print(
                f"| {result['backend']} | {mode} | {h['ndcg@10']:.4f} | {h['mrr@10']:.4f} | {h['recall@50']:.4f} | "
                f"{d['recall@100']:.4f} | {lat['p50_ms']:.1f} | {lat['p99_ms']:.1f} |"
            )
    print(
        f"| plain BM25 (bm25s) | documents | {reference['ndcg@10']:.4f} | {reference['mrr@10']:.4f} | "
        f"{reference['recall@50']:.4f} | {reference['recall@100']:.4f} | | |"
    )
    for result in results:
        print(
            f"[{result['backend']}] HTTP top 50 == in-process top 50 on {result['http_queries']} queries: "
            f"{result['http_equals_in_process']}"
        )
        for name, figures in result.get("fusions", {}).items():
            print(f"[{result['backend']}] hybrid with {name}: nDCG@10 {figures['ndcg@10']:.4f}")
        if "acl" in result:
            acl = result["acl"]
            print(f"[{result['backend']}] access check: {acl['groups']} groups x {acl['queries']} queries")
            print(f"  results outside the caller's groups: {acl['unreadable_results']}")
            for mode, figures in acl["modes"].items():
                print(f"  {mode}: " + ", ".join(f"{k} {v:.4f}" for k, v in figures.items()))


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("collection", type=Path, nargs="?", help="a BEIR-format folder (not with --tiny)")
    parser.add_argument("--backends", default="onnx", help="comma-separated: torch, onnx ('' for --recipes alone)")
    parser.add_argument("--groups", type=int, default=4, help="access groups the corpus is split among")
    parser.add_argument("--queries", type=int, help="use only the first N judged queries")
    parser.add_argument("--http-queries", type=int, help="queries sent over HTTP per mode (latency; default all)")
    parser.add_argument("--acl-queries", type=int, default=200, help="queries of the access check")
    parser.add_argument("--no-acl-check", dest="acl_check", action="store_false")
    parser.add_argument("--fusions", action="store_true", help="compare fusions in-process (hybrid)")
    parser.add_argument("--recipes", action="store_true", help="compare int8 recipes with fp32 (dense only)")
    parser.add_argument("--bm25-grid", action="store_true", help="keyword nDCG@10 over BM25 parameters only")
    parser.add_argument("--recipe-docs", type=int, help="--recipes on N whole documents instead of the chunks")
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "quality")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument(
        "--tiny", action="store_true", help="a generated 12-document collection, torch, 2 groups (figures meaningless)"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.tiny:
        if args.collection is not None:
            parser.error("--tiny generates its own collection: give no COLLECTION")
        args.collection = write_tiny_collection(args.workdir / "tiny-collection")
        args.backends, args.groups, args.acl_queries = "torch", 2, 2
    elif args.collection is None:
        parser.error("give a BEIR-format COLLECTION folder (or --tiny)")
    collection = load_collection(args.collection)
    if args.queries:
        kept = list(collection.queries)[: args.queries]
        collection = Collection(
            collection.documents, {q: collection.queries[q] for q in kept}, {q: collection.qrels[q] for q in kept}
        )
    print(
        f"{args.collection}: {len(collection.documents)} documents, {len(collection.queries)} judged queries; "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    args.workdir.mkdir(parents=True, exist_ok=True)
    reference = scores(plain_bm25(collection), collection.qrels)
    print(f"plain BM25: {reference}", flush=True)
    if args.recipes and not args.backends:
        recipes = compare_recipes(args, collection)
        print(json.dumps(recipes, indent=2))
        return 0
    if args.bm25_grid:
        grid = bm25_grid(args, collection)
        best = max(grid, key=grid.__getitem__)
        print(f"best BM25 parameters: {best} (nDCG@10 {grid[best]:.4f})")
        return 0
    results = [run_backend(args, collection, backend) for backend in args.backends.split(",")]
    recipes = compare_recipes(args, collection) if args.recipes else {}
    print_report(results, reference, len(collection.queries))
    for name, figures in recipes.items():
        print(f"dense only, {name}: nDCG@10 {figures['ndcg@10']:.4f}, {figures['texts_per_second']:.1f} texts/s")
    if args.out:
        args.out.write_text(json.dumps({"reference": reference, "results": results, "recipes": recipes}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
