"""Ingest benchmark: a generated corpus of mixed documents through the real pipeline and the real model.

Prints docs/s and chunks/s end to end, the share of parse / sanitize / chunk / embed / write time,
peak RSS (and RSS at each quarter of the run, to see whether memory stays flat), then the time of a
second run over the unchanged corpus relative to the first.

    python bench/ingest_bench.py --docs 2000 --backend onnx
    python bench/ingest_bench.py --docs 10000 --backend onnx --no-second-run   # memory over a long run
    python bench/ingest_bench.py --docs 500 --read-only --isolation none       # what parsing in a worker costs:
    python bench/ingest_bench.py --docs 500 --read-only --isolation process    # compare these two
    python bench/ingest_bench.py --docs 100 --overhead 3   # the same files both ways, alternated, per file
    python bench/ingest_bench.py --tiny                    # 4 documents, torch, one run: seconds (CI runs it)

`--isolation none` parses in the ingest process itself (ingest.extraction.InProcessExtractor), which ingest
never does: it is here only to measure the worker process's cost. `--read-only` is a dry run: read, parse
and sanitize every file, no chunking, embedding or writing, so that cost is not hidden under the model's.

Parse, sanitize and chunk run on the reader thread while the main thread embeds and writes, so the
stage shares add up to more than the wall time; they say where the work is, not the critical path.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

os.environ.setdefault("DO_NOT_TRACK", "1")

from access_index.acl_provider import ManifestAcls
from access_index.embedder import load_embedder
from access_index.index import open_index, source_filter
from access_index.manifest import load_manifest
from access_index.settings import Settings, load_settings
from ingest.discovery import own_scopes
from ingest.extraction import Extractor, InProcessExtractor
from ingest.isolation.pool import WorkerPool
from ingest.limits import ParseLimits
from ingest.pipeline import run_job
from ingest.plan import IngestJob

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("public", "hr", "payroll", "finance", "engineering", "board")
_WORD_TEXT = (
    "policy quarterly revenue onboarding incident kubernetes contract salary review roadmap customer invoice "
    "audit deployment benefits vacation escalation pipeline forecast security training release architecture "
    "compliance warehouse parcel region approval budget manager employee office travel expense report team"
)
WORDS = _WORD_TEXT.split()
MANIFEST = """\
version: 1
tenant: bench
rules:
  - paths: ["board/**"]
    allow: ["group:/board"]
  - paths: ["hr/**", "payroll/**"]
    allow: ["group:/hr", "role:hr-admin"]
    deny: ["user:mallory"]
  - paths: ["finance/**"]
    allow: ["group:/finance"]
  - paths: ["engineering/**"]
    allow: ["group:/eng"]
  - paths: ["public/**"]
    allow: ["authenticated"]
"""


def _builders() -> ModuleType:
    spec = importlib.util.spec_from_file_location("acme_builders", REPO / "examples" / "build_examples.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 22))
    return (" ".join(words)).capitalize() + "."


def _sections(rng: random.Random) -> list[tuple[str, list[str]]]:
    """1-6 sections of 1-4 paragraphs: documents of one to ~10 chunks, a few chunks on average."""
    return [
        (
            f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)}",
            [" ".join(_sentence(rng) for _ in range(rng.randint(2, 6))) for _ in range(rng.randint(1, 4))],
        )
        for _ in range(rng.randint(1, 6))
    ]


def generate(root: Path, count: int, seed: int = 7) -> dict[str, int]:
    """`count` documents: 85% text formats (txt, md, html, csv, eml), 15% office files and PDFs."""
    rng = random.Random(seed)
    builders = _builders()
    formats: dict[str, int] = {}
    for n in range(count):
        folder = root / FOLDERS[n % len(FOLDERS)] / f"batch-{n // 200:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        kind = rng.choices(
            ["txt", "md", "html", "csv", "eml", "docx", "pptx", "xlsx", "pdf"], [30, 25, 15, 5, 10, 5, 3, 2, 5]
        )[0]
        formats[kind] = formats.get(kind, 0) + 1
        sections = _sections(rng)
        title = f"Document {n}: {rng.choice(WORDS)} {rng.choice(WORDS)}"
        path = folder / f"doc-{n:05d}.{kind}"
        if kind == "txt":
            body = "\n\n".join(f"{heading}\n\n" + "\n\n".join(paras) for heading, paras in sections)
            path.write_text(f"{title}\n\n{body}\n", encoding="utf-8")
        elif kind == "md":
            body = "\n\n".join(f"## {heading}\n\n" + "\n\n".join(paras) for heading, paras in sections)
            path.write_text(f"# {title}\n\n{body}\n", encoding="utf-8")
        elif kind == "html":
            body = "".join(f"<h2>{heading}</h2>" + "".join(f"<p>{p}</p>" for p in paras) for heading, paras in sections)
            path.write_text(f"<html><body><h1>{title}</h1>{body}</body></html>", encoding="utf-8")
        elif kind == "csv":
            rows = [f"{rng.choice(WORDS)},{rng.randint(1, 9999)},{_sentence(rng)}" for _ in range(rng.randint(5, 40))]
            path.write_text("item,amount,note\n" + "\n".join(rows) + "\n", encoding="utf-8")
        elif kind == "eml":
            body = "\n\n".join(p for _, paras in sections for p in paras)
            builders.write_eml(path, "a@bench.example", "b@bench.example", title, body)
        elif kind == "docx":
            builders.write_docx(path, title, sections)
        elif kind == "pptx":
            builders.write_pptx(path, title, [(h, [s[:120] for s in paras]) for h, paras in sections])
        elif kind == "xlsx":
            table: list[tuple[object, ...]] = [("item", "amount")]
            table += [(rng.choice(WORDS), rng.randint(1, 9999)) for _ in range(30)]
            builders.write_xlsx(path, {"Sheet": table})
        else:
            builders.write_pdf(path, title, sections)
    return formats


class RssProgress:
    """Samples RSS at each quarter of the files, to see whether memory grows with the corpus."""

    def __init__(self) -> None:
        self.total = 0
        self.files = 0
        self.samples: list[tuple[int, float]] = []

    def start(self, total_files: int) -> None:
        self.total = total_files

    def advance(self, files: int, chunks: int) -> None:
        before = self.files * 4 // max(self.total, 1)
        self.files += files
        if self.files * 4 // max(self.total, 1) != before:
            self.samples.append((self.files, _rss_mib()))

    def finish(self) -> None:
        pass


def _rss_mib() -> float:
    """Current resident set size, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def read_once(corpus: Path, data_dir: Path, isolation: str) -> dict[str, Any]:
    """A dry run: every file read, parsed and sanitized (in a worker or in this process), nothing else.

    A first dry run over a small separate corpus loads the parsers (and starts the worker), so the measured
    run is the steady state, per file; the warm-up's time is reported apart."""
    settings = load_settings(data_dir=data_dir)
    limits = ParseLimits.from_settings(settings)
    warm_corpus = corpus.parent / "warm-up"
    if not warm_corpus.exists():
        generate(warm_corpus, 30, seed=11)
    extractor: Extractor = InProcessExtractor(limits) if isolation == "none" else WorkerPool(limits)
    try:
        runs = [
            run_job(_job(path, data_dir, settings, dry_run=True), None, None, state={}, extractor=extractor)
            for path in (warm_corpus, corpus)
        ]
    finally:
        if isinstance(extractor, WorkerPool):
            extractor.close()
    warm_up, report = runs
    stages = report.stage_seconds
    return {
        "isolation": isolation,
        "warm_up_seconds": round(warm_up.seconds, 2),
        "seconds": round(report.seconds, 2),
        "docs_per_second": round(len(report.outcomes) / report.seconds, 1),
        "read_parse_sanitize_seconds": {stage: round(stages[stage], 2) for stage in ("hash", "parse", "sanitize")},
        "counts": report.counts,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def overhead(corpus: Path, rounds: int) -> dict[str, Any]:
    """Per-file cost of the worker: the same files extracted in this process and through the worker pool,
    alternately, `rounds` times after a warm-up, so that machine load hits both sides alike."""
    limits = ParseLimits.defaults()
    files = sorted(path for path in corpus.rglob("*") if path.is_file())
    in_process, pool = InProcessExtractor(limits), WorkerPool(limits)
    seconds: dict[str, list[float]] = {"none": [], "process": []}
    try:
        for round_number in range(rounds + 1):
            for path in files:
                for mode, extractor in (("none", in_process), ("process", pool)):
                    started = time.perf_counter()
                    extractor.extract(path, "quarantine", 100 * 1024 * 1024)
                    if round_number:  # round 0 loads the parsers on both sides
                        seconds[mode].append(time.perf_counter() - started)
    finally:
        pool.close()
    total = {mode: sum(values) for mode, values in seconds.items()}
    return {
        "files": len(files),
        "rounds": rounds,
        "mean_ms_per_file": {mode: round(1000 * value / len(seconds[mode]), 2) for mode, value in total.items()},
        "process_over_none": round(total["process"] / total["none"], 3),
    }


def _job(corpus: Path, data_dir: Path, settings: Settings, dry_run: bool = False) -> IngestJob:
    return IngestJob(
        scopes=own_scopes([corpus]),
        acls=ManifestAcls(load_manifest(data_dir.parent / "acl.yaml")),
        source="bench",
        tenant="bench",
        policy="quarantine",
        max_file_bytes=settings.max_file_bytes,
        quarantine_dir=data_dir / "quarantine",
        dry_run=dry_run,
        batch_chunks=max(settings.embedding_batch_size * 4, 64),
        limits=ParseLimits.from_settings(settings),
    )


def run_once(corpus: Path, data_dir: Path, backend: str, isolation: str) -> dict[str, Any]:
    settings = load_settings(data_dir=data_dir, embedding_backend=backend)
    started = time.perf_counter()
    embedder = load_embedder(settings)
    model_seconds = time.perf_counter() - started
    index = open_index(settings, role="bench")
    index.ensure_collection(embedder.info)
    job = _job(corpus, data_dir, settings)
    extractor = InProcessExtractor(job.limits) if isolation == "none" else None
    progress = RssProgress()
    try:
        report = run_job(job, index, embedder, progress, extractor=extractor)
        # The model alone on the same chunk texts: what end-to-end throughput is measured against.
        sample = [
            chunk.text for _, chunk in zip(range(512), index.scroll(source_filter("bench", "bench")), strict=False)
        ]
        started = time.perf_counter()
        embedder.embed(sample)
        model_alone = len(sample) / (time.perf_counter() - started) if sample else 0.0
        tokens = sum(embedder.count_tokens(text) for text in sample) / max(len(sample), 1)
    finally:
        index.close()
    return {
        "model_alone_chunks_per_second": round(model_alone, 1),
        "mean_tokens_per_chunk": round(tokens),
        "model_load_seconds": round(model_seconds, 2),
        "report": report,
        "rss_mib_by_files": [(files, round(rss)) for files, rss in progress.samples],
        "quality": getattr(embedder, "quality", None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--backend", choices=["torch", "onnx"], default="onnx")
    parser.add_argument("--workdir", type=Path, help="keep corpus and index here (default: a temp dir)")
    parser.add_argument("--no-second-run", action="store_true")
    parser.add_argument("--isolation", choices=["process", "none"], default="process", help="see above")
    parser.add_argument("--read-only", action="store_true", help="a dry run: read, parse, sanitize only")
    parser.add_argument("--overhead", type=int, metavar="ROUNDS", help="per-file cost of the worker, alternated")
    parser.add_argument("--tiny", action="store_true", help="4 documents, torch, one run (figures meaningless)")
    args = parser.parse_args()
    if args.tiny:
        args.docs, args.backend, args.no_second_run = 4, "torch", True
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    corpus, data_dir = workdir / "corpus", workdir / "data"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "acl.yaml").write_text(MANIFEST, encoding="utf-8")
    if not corpus.exists():
        started = time.perf_counter()
        formats = generate(corpus, args.docs)
        print(f"generated {args.docs} documents {formats} in {time.perf_counter() - started:.1f} s", flush=True)
    if args.overhead or args.read_only:
        load = os.getloadavg()[0]
        timing = overhead(corpus, args.overhead) if args.overhead else read_once(corpus, data_dir, args.isolation)
        after = os.getloadavg()[0]
        timing["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} → {after:.1f}"
        print(json.dumps(timing, indent=2))
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        return
    # Export (onnx) or warm the model files in a separate process, so peak RSS is that of ingest alone.
    warm = (
        "from access_index.embedder import load_embedder; from access_index.settings import load_settings; "
        f"load_embedder(load_settings(data_dir={str(data_dir)!r}, embedding_backend={args.backend!r}))"
    )
    if not args.tiny:
        subprocess.run([sys.executable, "-c", warm], check=True, capture_output=True)
    load_before = os.getloadavg()
    first = run_once(corpus, data_dir, args.backend, args.isolation)
    report = first["report"]
    chunks = report.chunks_written
    stages = report.stage_seconds
    busy = sum(stages.values()) or 1.0
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average before {load_before[0]:.1f}",
        "backend": args.backend,
        "isolation": args.isolation,
        "embedding_quality_vs_fp32": first["quality"],
        "documents": args.docs,
        "counts": report.counts,
        "chunks": chunks,
        "model_load_seconds": first["model_load_seconds"],
        "model_alone_chunks_per_second": first["model_alone_chunks_per_second"],
        "mean_tokens_per_chunk": first["mean_tokens_per_chunk"],
        "first_run_seconds": round(report.seconds, 1),
        "docs_per_second": round(args.docs / report.seconds, 1),
        "chunks_per_second": round(chunks / report.seconds, 1),
        "stage_share": {stage: round(value / busy, 3) for stage, value in stages.items()},
        "stage_seconds": {stage: round(value, 1) for stage, value in stages.items()},
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_mib_by_files": first["rss_mib_by_files"],
    }
    if not args.no_second_run:
        second = run_once(corpus, data_dir, args.backend, args.isolation)["report"]
        result["second_run_seconds"] = round(second.seconds, 2)
        result["second_run_unchanged"] = second.counts["unchanged"]
        result["second_over_first"] = round(second.seconds / report.seconds, 3)
    print(json.dumps(result, indent=2))
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
