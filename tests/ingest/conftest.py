"""Ingest fixtures: real documents of every format, written by the repo's own builders, and helpers
to run the pipeline against the real index engines with a counting test embedder."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType

import pytest

from access_index.acl_provider import ManifestAcls
from access_index.embedder import Vectors
from access_index.index import ChunkIndex
from access_index.manifest import load_manifest
from ingest.discovery import own_scopes
from ingest.extraction import Extractor
from ingest.isolation.pool import WorkerPool
from ingest.limits import ParseLimits
from ingest.pipeline import run_job
from ingest.plan import IngestJob
from ingest.report import IngestReport
from tests.support.examples import load_builders
from tests.support.hashing_embedder import HashingEmbedder

REPO = Path(__file__).resolve().parents[2]

MANIFEST = """\
version: 1
tenant: acme
rules:
  - paths: ["board/**"]
    allow: ["group:/board"]
    labels: {classification: restricted}
  - paths: ["hr/**"]
    allow: ["group:/hr", "role:hr-admin"]
    deny: ["user:mallory"]
  - paths: ["public/**"]
    allow: ["authenticated"]
"""


@pytest.fixture(scope="session")
def builders() -> ModuleType:
    return load_builders()


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, counting what it is asked to embed (to prove what was not re-embedded)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        self.texts += len(texts)
        return super().embed(texts)


@pytest.fixture
def counting_embedder() -> CountingEmbedder:
    return CountingEmbedder()


def write_every_format(root: Path, builders: ModuleType) -> dict[str, str]:
    """One real file per supported format; returns relpath → a phrase its text must contain."""
    expected: dict[str, str] = {}

    def text(relpath: str, content: str, phrase: str, encoding: str = "utf-8") -> None:
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode(encoding))
        expected[relpath] = phrase

    text("public/notes-utf8.txt", "Kitchen rules\n\nThe espresso machine is descaled every Friday.\n", "descaled")
    text(
        "public/notes-latin1.txt",
        "Munich office\n\nThe café in München serves Käsespätzle on Thursdays.\n",
        "Käsespätzle",
        encoding="latin-1",
    )
    text("public/guide.md", "# Guide\n\n## Parking\n\nVisitors park in the orange zone.\n", "orange zone")
    text(
        "public/page.html",
        "<html><body><h1>Canteen</h1><p>The canteen opens at half past eleven.</p></body></html>",
        "half past eleven",
    )
    text("public/rota.csv", "day,person\nMonday,Ingrid\nTuesday,Oskar\n", "Oskar")
    builders.write_eml(
        root / "public/mail.eml", "it@acme.example", "all@acme.example", "Printer", "The third floor printer moved."
    )
    expected["public/mail.eml"] = "printer moved"
    builders.write_pdf(root / "public/report.pdf", "Quarterly report", [("Revenue", ["Revenue grew by nine percent."])])
    expected["public/report.pdf"] = "nine percent"
    builders.write_docx(root / "hr/policy.docx", "Leave", [("Annual leave", ["Everyone gets 27 days of leave."])])
    expected["hr/policy.docx"] = "27 days"
    builders.write_pptx(root / "public/deck.pptx", "All hands", [("Goals", ["Ship the tram planner"])])
    expected["public/deck.pptx"] = "tram planner"
    builders.write_xlsx(root / "board/numbers.xlsx", {"Plan": [("item", "amount"), ("Falcon", 42)]})
    expected["board/numbers.xlsx"] = "Falcon"
    return expected


@pytest.fixture
def manifest_path(tmp_path: Path) -> Path:
    path = tmp_path / "acl.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


JobRunner = Callable[..., IngestReport]


@pytest.fixture(scope="session")
def worker_pool() -> Iterator[WorkerPool]:
    """One worker pool under the default limits for the session: a worker loads the parsers once."""
    with WorkerPool(ParseLimits.defaults()) as pool:
        yield pool


@pytest.fixture
def ingest(
    tmp_path: Path,
    manifest_path: Path,
    index: ChunkIndex,
    counting_embedder: CountingEmbedder,
    worker_pool: WorkerPool,
) -> JobRunner:
    """Run one ingest of `root` into the test index (both engines); keyword arguments tune the job. Files are
    parsed in the session's worker pool unless an `extractor` is given."""

    def run(root: Path, extractor: Extractor | None = None, **overrides: object) -> IngestReport:
        settings: dict[str, object] = {
            "scopes": own_scopes([root]),
            "acls": ManifestAcls(load_manifest(Path(str(overrides.pop("manifest", manifest_path))))),
            "source": "docs",
            "tenant": "acme",
            "policy": "quarantine",
            "max_file_bytes": 10_000_000,
            "quarantine_dir": tmp_path / "quarantine",
        }
        settings.update(overrides)
        job = IngestJob(**settings)  # type: ignore[arg-type]
        return run_job(job, index, counting_embedder, extractor=extractor or worker_pool)

    return run
