"""One ingest run, in the order a file travels:

    discover (ingest/discovery.py)     which files the paths hold, inside their roots
    → plan (ingest/plan.py)             per file, from the index's own state: skip, no ACL, or read
    → prepare (ingest/prepare.py)       on a reader thread: read once, then settle (unchanged, ACL rewrite)
                                        or build: parse → sanitize in a worker process, chunk here
    → write (ingest/write.py)           embed in cross-document batches and write, consistent at every instant
    → report (ingest/report.py)         one outcome per file, the contract's counts

Documents held back for hidden instructions get a report in ingest/quarantine.py.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence

from access_index.embedder import Embedder
from access_index.index import ChunkIndex
from ingest.discovery import FoundFile, discover
from ingest.extraction import Extractor
from ingest.isolation.pool import WorkerPool
from ingest.plan import Candidate, IngestJob, Settled, plan
from ingest.prepare import Prepared, prepare
from ingest.reading import PrivateFolder
from ingest.report import IngestReport, NoProgress, Outcome, Progress, StageTimes, Status
from ingest.state import IndexedDocument, load_state
from ingest.write import IndexWriter

_QUEUE_DOCUMENTS = 64  # prepared documents waiting for the writer: bounds memory, keeps the model busy


class _Outcomes:
    """The run's outcomes in order, each advancing the progress bar."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.items: list[Outcome] = []

    def add(self, outcome: Outcome) -> None:
        self.items.append(outcome)
        self.progress.advance(1, outcome.chunks if outcome.status in ("new", "updated") else 0)


def run_job(
    job: IngestJob,
    index: ChunkIndex | None,
    embedder: Embedder | None,
    progress: Progress | None = None,
    state: Mapping[str, IndexedDocument] | None = None,
    extractor: Extractor | None = None,
) -> IngestReport:
    """Run one ingest. Dry runs need neither an embedder nor a writable index (`index` may be None). Files are
    extracted by a worker pool under the job's limits unless another `extractor` is given (the benchmark)."""
    writer: IndexWriter | None = None
    times = StageTimes()
    if not job.dry_run:
        if index is None or embedder is None:
            raise ValueError("a real run needs an index and an embedder")
        writer = IndexWriter(job, index, embedder, times)
    started = time.perf_counter()
    discovery = discover(job.scopes)
    if state is None:
        state = load_state(index, job.tenant, job.source) if index is not None else {}
    outcomes = _Outcomes(progress or NoProgress())
    outcomes.progress.start(len(discovery.files))
    for skipped in discovery.skipped:
        outcomes.items.append(Outcome(job.document_id(skipped.relpath), "skipped", skipped.reason))

    decided = plan(job, discovery.files, state)
    if writer is not None:
        for document_id in decided.removals:
            writer.remove(document_id)
    for outcome in decided.settled:
        outcomes.add(outcome)
    with PrivateFolder() as folder, WorkerPool(job.limits) as pool:  # the pool starts a worker at its first file
        _read(job, decided.candidates, extractor or pool, folder, embedder, writer, times, outcomes)
    if job.delete_missing:
        _delete_missing(job, discovery.files, state, writer, outcomes)
    if writer is not None:
        writer.flush()
    outcomes.progress.finish()
    return IngestReport(
        source=job.source,
        tenant=job.tenant,
        dry_run=job.dry_run,
        outcomes=tuple(outcomes.items),
        seconds=time.perf_counter() - started,
        chunks_written=writer.chunks_written if writer is not None else 0,
        stage_seconds=dict(times.seconds),
        index_route=index.route if index is not None else None,
    )


def _delete_missing(
    job: IngestJob,
    files: Sequence[FoundFile],
    state: Mapping[str, IndexedDocument],
    writer: IndexWriter | None,
    outcomes: _Outcomes,
) -> None:
    """Remove the source's documents that this run should have found and did not. Only documents whose file
    lay under one of the run's PATHs are candidates: `ingest corpus/hr --delete-missing` must never take the
    rest of the source with it."""
    present = {job.document_id(found.relpath) for found in files}
    present_uris = {found.path.as_uri() for found in files}
    for document_id in sorted(set(state) - present):
        uri = state[document_id].uri
        if not job.covers(uri):
            continue
        if uri in present_uris:  # an id an older ingest derived from another root, beside the right one
            reason = "indexed under an id that is not its path from the source's root (an older ingest)"
        else:
            reason = "file no longer in the source"
        if writer is not None:
            writer.remove(document_id)
        outcomes.add(Outcome(document_id, "deleted", reason))


def _read(
    job: IngestJob,
    candidates: Sequence[Candidate],
    extractor: Extractor,
    folder: PrivateFolder,
    embedder: Embedder | None,
    writer: IndexWriter | None,
    times: StageTimes,
    outcomes: _Outcomes,
) -> None:
    """A reader thread reads and prepares documents; this thread applies what it settles, and embeds and
    writes what it prepares in cross-document batches."""
    if not candidates:
        return
    results: queue.Queue[Prepared | Settled | BaseException | None] = queue.Queue(maxsize=_QUEUE_DOCUMENTS)
    stop = threading.Event()

    def read_all() -> None:
        try:
            for candidate in candidates:
                if stop.is_set():
                    return
                results.put(prepare(job, candidate, extractor, folder, embedder, times))
            results.put(None)
        except BaseException as error:  # surfaced on the main thread; a reader crash must not look like "done"
            results.put(error)

    reader = threading.Thread(target=read_all, name="ingest-reader", daemon=True)
    reader.start()
    batch: list[Prepared] = []
    batch_chunks = 0
    try:
        for prepared in _drain(results):
            if isinstance(prepared, Settled):
                if writer is not None and prepared.acl_rewrite is not None:
                    writer.set_acl(prepared.outcome.document, prepared.acl_rewrite)
                outcomes.add(prepared.outcome)
                continue
            if writer is None or prepared.error is not None or prepared.quarantined:
                outcomes.add(_settle(job, writer, prepared))
                continue
            batch.append(prepared)
            batch_chunks += len(prepared.drafts)
            if batch_chunks >= job.batch_chunks:
                for outcome in writer.write(batch):
                    outcomes.add(outcome)
                batch, batch_chunks = [], 0
        if writer is not None:
            for outcome in writer.write(batch):
                outcomes.add(outcome)
    finally:
        stop.set()
        reader.join(timeout=5)


def _drain(results: queue.Queue[Prepared | Settled | BaseException | None]) -> Iterator[Prepared | Settled]:
    while True:
        item = results.get()
        if item is None:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def _settle(job: IngestJob, writer: IndexWriter | None, prepared: Prepared) -> Outcome:
    """A document that produces no chunks in this run: failed, quarantined, or anything in a dry run."""
    planned = prepared.planned
    findings = tuple(finding.to_dict() for finding in prepared.findings)
    if prepared.error is not None:
        existing = planned.existing
        if existing is not None and existing.acl_hash != planned.acl.acl_hash and writer is not None:
            # The old text stays searchable until the file parses again, but under today's ACL, never yesterday's.
            writer.set_acl(planned.document_id, planned.acl)
        return Outcome(planned.document_id, "failed", prepared.error, findings=findings)
    if prepared.quarantined:
        reason = "hidden text that reads like an instruction"
        if planned.existing is not None:
            reason += "; its indexed copy was removed" if writer is not None else "; its indexed copy would be removed"
        if writer is not None:
            if planned.existing is not None:
                writer.remove(planned.document_id)
            job.quarantine.save(planned.document_id, planned.found.path, planned.content_hash, prepared.findings)
        return Outcome(planned.document_id, "quarantined", reason, findings=findings)
    status: Status = "new" if planned.existing is None else "updated"
    repair = None if planned.existing is None or planned.existing.complete else "would repair an incomplete copy"
    return Outcome(planned.document_id, status, repair, findings=findings)
