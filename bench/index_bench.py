"""Index benchmark: ACL-filtered search on the embedded engine (Qdrant Edge) at 100k and 1M chunks.

Synthetic but shaped like a real deployment:
  * 384-d vectors that are clustered and anisotropic (a shared mean direction and a decaying spectrum,
    like sentence embeddings), normalized; queries are perturbed chunks, so neighbours are meaningful.
  * documents of 1-20 chunks; each document has one ACL (allow/deny) like ingest writes: ~20% open to
    `authenticated`, ~15% to one big department group, most to 1-4 groups picked with Zipf popularity
    out of ~400 groups (a hierarchy of departments and teams), some to users, ~8% with a deny list,
    two tenants; topics correlate with the owning group, as folders of one team do.
  * callers of four kinds: one selective principal (a small group), one common principal
    (`authenticated`), 50 principals of an ordinary employee (common), 50 principals that admit little.

Measured through access_index (open_index(settings, role="bench"), Chunk payloads, build_access_filter):
upsert throughput including optimize(), filtered query latency p50/p99, and recall@10 against an
independent oracle: brute-force numpy over exactly the chunks the same ACL rule admits.

    python bench/index_bench.py --chunks 100000
    nohup python bench/index_bench.py --chunks 1000000 > bench/out/index-1m.log 2>&1 &
    python bench/index_bench.py --tiny --out /tmp/index-tiny    # every step at a toy size (CI runs it)

Build knobs (--m, --ef-construct, --payload-m, --full-scan-threshold, --ef) override the constants of
access_index/index/hnsw.py for tuning runs; the defaults are the shipped values. Every chunk also gets its
BM25 vector (from its text), as ingest writes it; latency is measured per search mode (--modes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("DO_NOT_TRACK", "1")

from access_index.acl import Caller, build_access_filter
from access_index.index import MODES, Chunk, Mode, ModelInfo, SearchQuery, hnsw, open_index
from access_index.index import edge as edge_engine
from access_index.settings import load_settings

DIMENSION = 384
MODEL = ModelInfo(name="synthetic-384", dimension=DIMENSION)
TENANTS = ("acme", "globex")
TENANT_WEIGHTS = (0.85, 0.15)
DEPARTMENTS = ("eng", "sales", "hr", "finance", "legal", "ops", "marketing", "support", "research", "it")
BIG_DEPARTMENT = "group:/eng"
TOPICS = 2000
USERS = 5000
ROLES = 30
TOP_K = 10
UPSERT_BATCH = 256
# Chunk text gives payloads a realistic size (~800 bytes) and the BM25 vectors a realistic shape: 110 words
# drawn from a 30,000-word vocabulary with Zipf frequencies (about 70 distinct terms per chunk), 4,096
# distinct texts reused across chunks.
VOCABULARY_SIZE = 30_000
TEXTS = 4096
WORDS_PER_CHUNK = 110


@dataclass(frozen=True)
class Corpus:
    """Chunk vectors plus one ACL per document; chunk rows of document d are starts[d]:starts[d+1]."""

    vectors: np.ndarray  # (chunks, 384) float32, normalized
    starts: np.ndarray  # (documents + 1,) int64
    tenants: list[str]
    allows: list[frozenset[str]]
    denies: list[frozenset[str]]
    groups: list[str]  # every group path token, most popular first

    @property
    def documents(self) -> int:
        return len(self.allows)

    def admitted(self, caller: Caller) -> np.ndarray:
        """The oracle: a boolean row mask by the written rule (tenant, allow ∩ tokens, deny ∩ tokens)."""
        keep = np.fromiter(
            (
                tenant == caller.tenant and bool(allow & caller.tokens) and not (deny & caller.tokens)
                for tenant, allow, deny in zip(self.tenants, self.allows, self.denies, strict=True)
            ),
            dtype=bool,
            count=self.documents,
        )
        return np.repeat(keep, np.diff(self.starts))


@dataclass(frozen=True)
class ClassResult:
    """Figures for one kind of caller."""

    kind: str
    mode: str
    principals: int
    queries: int
    admitted_fraction: float  # median share of all chunks the caller may read
    p50_ms: float
    p99_ms: float
    recall_at_10: float


# -- synthetic data ---------------------------------------------------------------------------------------
def make_groups(rng: np.random.Generator) -> list[str]:
    """~400 group paths: departments, teams, sub-teams; shuffled into a popularity order (Zipf rank)."""
    paths = [f"/{department}" for department in DEPARTMENTS]
    for department in DEPARTMENTS:
        for team in range(8):
            paths.append(f"/{department}/team{team}")
            paths.extend(f"/{department}/team{team}/squad{squad}" for squad in range(4))
    order = rng.permutation(len(paths))
    return [f"group:{paths[i]}" for i in order]


def make_vectors(rng: np.random.Generator, topics_of_docs: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Clustered, anisotropic, normalized rows: mean direction + topic + document + chunk noise."""
    spectrum = (np.arange(1, DIMENSION + 1, dtype=np.float32) ** -0.6).astype(np.float32)
    basis = np.linalg.qr(rng.standard_normal((DIMENSION, DIMENSION)))[0].astype(np.float32)
    mean = rng.standard_normal(DIMENSION).astype(np.float32)
    mean *= 0.5 / np.linalg.norm(mean)

    def shaped(count: int, scale: float) -> np.ndarray:
        raw = rng.standard_normal((count, DIMENSION), dtype=np.float32) * spectrum
        shaped_rows: np.ndarray = (raw @ basis) * (scale / np.sqrt(float(np.sum(spectrum**2))))
        return shaped_rows

    topic_centers = mean + shaped(TOPICS, 1.0)
    doc_centers = topic_centers[topics_of_docs] + shaped(len(topics_of_docs), 0.45)
    rows = np.repeat(doc_centers, sizes, axis=0)
    for start in range(0, len(rows), 200_000):  # in slices: the noise matrix of 1M rows is 1.5 GB
        stop = min(start + 200_000, len(rows))
        rows[start:stop] += shaped(stop - start, 0.35)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows.astype(np.float32)


def make_corpus(chunks: int, seed: int) -> Corpus:
    rng = np.random.default_rng(seed)
    groups = make_groups(rng)
    popularity = 1.0 / np.arange(1, len(groups) + 1) ** 1.1
    popularity /= popularity.sum()
    group_topics = rng.integers(0, TOPICS, size=(len(groups), 5))

    sizes_list: list[int] = []
    total = 0
    while total < chunks:
        size = int(min(20, max(1, rng.geometric(1 / 8))))
        size = min(size, chunks - total)
        sizes_list.append(size)
        total += size
    sizes = np.array(sizes_list, dtype=np.int64)
    tenants: list[str] = []
    allows: list[frozenset[str]] = []
    denies: list[frozenset[str]] = []
    topics = np.empty(len(sizes), dtype=np.int64)
    for doc in range(len(sizes)):
        tenants.append(str(rng.choice(TENANTS, p=TENANT_WEIGHTS)))
        kind = rng.random()
        primary = int(rng.choice(len(groups), p=popularity))
        if kind < 0.20:
            allow = {"authenticated"}
        elif kind < 0.35:
            allow = {BIG_DEPARTMENT}
        elif kind < 0.90:
            picked = rng.choice(len(groups), size=int(rng.integers(1, 5)), p=popularity)
            allow = {groups[primary], *(groups[int(i)] for i in picked)}
            if rng.random() < 0.3:
                allow.add(f"role:role{int(rng.integers(ROLES))}")
        else:
            allow = {f"user:u{int(u)}" for u in rng.integers(0, USERS, size=int(rng.integers(1, 4)))}
        deny = {f"user:u{int(u)}" for u in rng.integers(0, USERS, size=2)} if rng.random() < 0.08 else set()
        allows.append(frozenset(allow))
        denies.append(frozenset(deny))
        # Half the documents are about one of their owning group's topics (a team's folder), half about anything.
        topics[doc] = group_topics[primary, rng.integers(5)] if rng.random() < 0.5 else rng.integers(TOPICS)
    vectors = make_vectors(rng, topics, sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    return Corpus(vectors, starts, tenants, allows, denies, groups)


def document_id(doc: int) -> str:
    return f"bench/dept{doc % 97}/doc{doc}.md"


def make_texts(seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, VOCABULARY_SIZE + 1) ** 1.05
    ranks = rng.choice(VOCABULARY_SIZE, size=(TEXTS, WORDS_PER_CHUNK), p=weights / weights.sum())
    return [" ".join(f"term{rank}" for rank in row) for row in ranks]


def text_row(corpus: Corpus, row: int) -> int:
    """Which of the texts chunk `row` holds (as chunks_of assigns them)."""
    doc = int(np.searchsorted(corpus.starts, row, side="right")) - 1
    return (doc + row - int(corpus.starts[doc])) % TEXTS


def chunks_of(corpus: Corpus, doc: int, texts: Sequence[str]) -> list[Chunk]:
    count = int(corpus.starts[doc + 1] - corpus.starts[doc])
    return [
        Chunk(
            tenant=corpus.tenants[doc],
            document_id=document_id(doc),
            source="bench",
            chunk_index=index,
            chunk_count=count,
            text=texts[(doc + index) % len(texts)],
            uri=f"file:///srv/docs/dept{doc % 97}/doc{doc}.md",
            allow=sorted(corpus.allows[doc]),
            deny=sorted(corpus.denies[doc]),
            title=f"Document {doc}",
            section=f"Section {index + 1}",
            labels={"classification": ("public", "internal", "confidential")[doc % 3]},
            content_hash=f"{doc:064x}",
            acl_hash=hashlib.sha256("\n".join(sorted(corpus.allows[doc])).encode()).hexdigest(),
            pipeline_version="bench",
        )
        for index in range(count)
    ]


# -- callers ---------------------------------------------------------------------------------------------
def employee_tokens(rng: np.random.Generator, corpus: Corpus, user: int, count: int, common: bool) -> frozenset[str]:
    """What an expanded caller holds: user ids, groups with their ancestors, roles; `count` in all."""
    tokens = {f"user:u{user}", f"user:u{user}@acme.example"}
    if common:
        tokens |= {"authenticated", BIG_DEPARTMENT}
    candidates = corpus.groups[40:] if not common else corpus.groups
    while len(tokens) < count:
        group = candidates[int(rng.integers(len(candidates)))]
        if not common and group == BIG_DEPARTMENT:
            continue
        path = group.removeprefix("group:").strip("/").split("/")
        for depth in range(len(path), 0, -1):
            ancestor = "group:/" + "/".join(path[:depth])
            if common or depth == len(path):  # a selective caller's memberships are leaf teams only
                tokens.add(ancestor)
        if rng.random() < 0.3:
            tokens.add(f"role:role{int(rng.integers(ROLES))}")
    return frozenset(sorted(tokens)[:count]) if len(tokens) > count else frozenset(tokens)


def make_callers(corpus: Corpus, per_kind: int, seed: int) -> dict[str, list[Caller]]:
    rng = np.random.default_rng(seed + 1)
    sizes = np.diff(corpus.starts)
    # A selective single principal: a small team group (0.05%-1% of chunks).
    coverage = dict.fromkeys(corpus.groups, 0)
    for doc, allow in enumerate(corpus.allows):
        if corpus.tenants[doc] == "acme":
            for token in allow:
                if token in coverage:
                    coverage[token] += int(sizes[doc])
    total = len(corpus.vectors)
    small = [g for g, c in coverage.items() if 0.0005 * total <= c <= 0.01 * total] or corpus.groups[-per_kind:]
    return {
        "1 principal, selective": [
            Caller("acme", frozenset({small[int(i)]})) for i in rng.integers(0, len(small), per_kind)
        ],
        "1 principal, common": [Caller("acme", frozenset({"authenticated"})) for _ in range(per_kind)],
        "50 principals, common": [
            Caller("acme", employee_tokens(rng, corpus, int(rng.integers(USERS)), 50, True)) for _ in range(per_kind)
        ],
        "50 principals, selective": [
            Caller(str(rng.choice(TENANTS)), employee_tokens(rng, corpus, int(rng.integers(USERS)), 50, False))
            for _ in range(per_kind)
        ],
    }


def make_queries(
    rng: np.random.Generator, corpus: Corpus, mask: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Queries near chunks the caller may read (what users ask about), perturbed and normalized; and the
    rows they were drawn near (their words make the keyword side of the query)."""
    rows = np.flatnonzero(mask)
    near = rng.choice(rows, size=count)
    base = corpus.vectors[near]
    noisy = base + rng.standard_normal(base.shape, dtype=np.float32) * (0.6 / np.sqrt(DIMENSION))
    queries: np.ndarray = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
    return queries, near


# -- measurement -----------------------------------------------------------------------------------------
def build_index(corpus: Corpus, data_dir: Path) -> dict[str, float]:
    if data_dir.exists():
        shutil.rmtree(data_dir)
    texts = make_texts(0)
    index = open_index(load_settings(data_dir=data_dir), role="bench")
    index.ensure_collection(MODEL)
    started = time.perf_counter()
    pending: list[Chunk] = []
    first_row = 0
    for doc in range(corpus.documents):
        pending.extend(chunks_of(corpus, doc, texts))
        if len(pending) >= UPSERT_BATCH or doc == corpus.documents - 1:
            rows = corpus.vectors[first_row : first_row + len(pending)]
            index.upsert(pending, rows.tolist())
            first_row += len(pending)
            pending = []
            if first_row // 100_000 > (first_row - len(rows)) // 100_000:
                print(f"  upserted {first_row:,} chunks ({time.perf_counter() - started:.0f} s)", flush=True)
    written = time.perf_counter()
    assert isinstance(index, edge_engine.EdgeIndex)
    index.optimize()
    index.flush()
    optimized = time.perf_counter()
    index.close()
    on_disk = sum(path.stat().st_size for path in data_dir.rglob("*") if path.is_file())
    return {
        "disk_bytes_per_chunk": on_disk / len(corpus.vectors),
        "upsert_seconds": written - started,
        "optimize_seconds": optimized - written,
        "chunks_per_second": len(corpus.vectors) / (optimized - started),
        "upsert_only_chunks_per_second": len(corpus.vectors) / (written - started),
    }


def fill_missing(data_dir: Path) -> None:
    """What `serve` fills in an index an earlier version built (BM25 vectors, IDF scopes), timed: with --reuse."""
    index = open_index(load_settings(data_dir=data_dir), role="bench")
    try:
        index.ensure_collection(MODEL)
        started, writes = time.perf_counter(), 0
        while count := index.fill_sparse(512):
            writes += count
        assert isinstance(index, edge_engine.EdgeIndex)  # the bench measures the embedded engine
        index.optimize()
        if writes:
            print(f"  filled {writes:,} chunk writes in {time.perf_counter() - started:.0f} s (with optimize)")
    finally:
        index.close()


def row_of(corpus: Corpus, doc_rows: dict[str, int], chunk: Chunk) -> int:
    return int(corpus.starts[doc_rows[chunk.document_id]]) + chunk.chunk_index


def measure(
    corpus: Corpus, data_dir: Path, per_kind: int, queries_per_caller: int, seed: int, modes: Sequence[Mode] = MODES
) -> list[ClassResult]:
    """Latency per caller kind and mode; recall@10 of the dense search against the oracle (semantic), and
    in every mode a check that no hit is outside the caller's ACL."""
    doc_rows = {document_id(doc): doc for doc in range(corpus.documents)}
    texts = make_texts(0)
    index = open_index(load_settings(data_dir=data_dir), role="bench")
    index.ensure_collection(MODEL)
    results = []
    try:
        warm, _ = make_queries(np.random.default_rng(seed), corpus, np.ones(len(corpus.vectors), dtype=bool), 20)
        everyone = build_access_filter(Caller("acme", frozenset({"authenticated"})))
        for vector in warm:
            index.search(SearchQuery("term1 term2", "hybrid", tuple(vector.tolist())), everyone, TOP_K)
        for mode in modes:
            rng = np.random.default_rng(seed + 2)  # the same callers and queries in every mode
            for kind, callers in make_callers(corpus, per_kind, seed).items():
                latencies: list[float] = []
                recalls: list[float] = []
                fractions: list[float] = []
                for caller in callers:
                    mask = corpus.admitted(caller)
                    fractions.append(float(mask.mean()))
                    if not mask.any():
                        continue
                    rows = np.flatnonzero(mask)
                    queries, near = make_queries(rng, corpus, mask, queries_per_caller)
                    exact = corpus.vectors[rows] @ queries.T  # the oracle sees only what the rule admits
                    depth = min(TOP_K, len(rows))
                    for column, vector in enumerate(queries):
                        words = texts[text_row(corpus, int(near[column]))].split()
                        text = " ".join(rng.choice(words, size=4))
                        query = SearchQuery(text, mode, None if mode == "keyword" else tuple(vector.tolist()))
                        began = time.perf_counter()
                        hits = index.search(query, build_access_filter(caller), TOP_K)
                        latencies.append(time.perf_counter() - began)
                        found = {row_of(corpus, doc_rows, hit.chunk) for hit in hits}
                        if found and not mask[list(found)].all():
                            raise SystemExit(f"ACL VIOLATION: {kind} received a chunk its rule does not admit")
                        if mode == "semantic":
                            truth = set(rows[np.argpartition(-exact[:, column], depth - 1)[:depth]].tolist())
                            recalls.append(len(found & truth) / depth)
                millis = np.array(latencies) * 1000
                results.append(
                    ClassResult(
                        kind=kind,
                        mode=mode,
                        principals=max(len(c.tokens) for c in callers),
                        queries=len(latencies),
                        admitted_fraction=float(np.median(fractions)),
                        p50_ms=float(np.percentile(millis, 50)),
                        p99_ms=float(np.percentile(millis, 99)),
                        recall_at_10=float(np.mean(recalls)) if recalls else float("nan"),
                    )
                )
                print(f"  {mode}, {kind}: {results[-1]}", flush=True)
    finally:
        index.close()
    return results


def table(chunks: int, build: dict[str, float], results: Sequence[ClassResult]) -> str:
    lines = [
        f"{chunks:,} chunks: upsert+optimize {build['chunks_per_second']:,.0f} chunks/s "
        f"(upsert {build['upsert_seconds']:.0f} s, optimize {build['optimize_seconds']:.0f} s), "
        f"{build.get('disk_bytes_per_chunk', 0) / 1024:.1f} KiB on disk per chunk",
        "",
        "| mode | caller | principals | admitted (median) | queries | p50 ms | p99 ms | recall@10 |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.mode} | {r.kind} | {r.principals} | {r.admitted_fraction:.2%} | {r.queries} | {r.p50_ms:.2f} | "
        f"{r.p99_ms:.2f} | {r.recall_at_10:.3f} |"
        for r in results
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--callers", type=int, default=20, help="callers per kind")
    parser.add_argument("--queries", type=int, default=10, help="queries per caller")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--reuse", action="store_true", help="query an index a previous run built (same args)")
    parser.add_argument("--m", type=int, default=hnsw.M)
    parser.add_argument("--ef-construct", type=int, default=hnsw.EF_CONSTRUCT)
    parser.add_argument("--payload-m", type=int, default=hnsw.PAYLOAD_M)
    parser.add_argument("--full-scan-threshold", type=int, default=hnsw.FULL_SCAN_THRESHOLD)
    parser.add_argument("--ef", type=int, default=hnsw.SEARCH_EF)
    parser.add_argument("--modes", default=",".join(MODES), help="search modes to measure")
    parser.add_argument("--tiny", action="store_true", help="3000 chunks, 2 callers per kind, 2 queries each")
    args = parser.parse_args(argv)
    if args.tiny:
        args.chunks, args.callers, args.queries = 3000, 2, 2
    hnsw.M, hnsw.EF_CONSTRUCT = args.m, args.ef_construct
    hnsw.PAYLOAD_M, hnsw.FULL_SCAN_THRESHOLD = args.payload_m, args.full_scan_threshold
    hnsw.SEARCH_EF = args.ef
    label = f"index-{args.chunks}-m{args.m}-efc{args.ef_construct}-pm{args.payload_m}-fst{args.full_scan_threshold}"
    data_dir = args.out / label
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {sys.version.split()[0]}")
    print(f"generating {args.chunks:,} chunks ...", flush=True)
    corpus = make_corpus(args.chunks, args.seed)
    print(f"{corpus.documents:,} documents, {len(corpus.groups)} groups", flush=True)
    build_file = args.out / f"{label}.build.json"
    if args.reuse:
        if not (build_file.exists() and data_dir.exists()):
            parser.error(f"--reuse: no index built with these parameters in {data_dir}")
        build = json.loads(build_file.read_text())
        fill_missing(data_dir)
    else:
        build = build_index(corpus, data_dir)
        args.out.mkdir(parents=True, exist_ok=True)
        build_file.write_text(json.dumps(build))
    print(f"build: {build}", flush=True)
    results = measure(corpus, data_dir, args.callers, args.queries, args.seed, args.modes.split(","))
    summary = table(args.chunks, build, results)
    settings = f"m={args.m} ef_construct={args.ef_construct} payload_m={args.payload_m} "
    settings += f"full_scan_threshold={args.full_scan_threshold} hnsw_ef={args.ef}"
    print(f"\n{settings}\n{summary}")
    (args.out / f"{label}-ef{args.ef}.json").write_text(
        json.dumps(
            {"settings": vars(args) | {"out": str(args.out)}, "build": build, "results": [asdict(r) for r in results]}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
