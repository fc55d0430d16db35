"""Step 3: what reaches the index. Embeds prepared documents in cross-document batches and writes them so
that the index is consistent at every instant, and applies the plan's ACL rewrites and removals.

A changed document is written upsert-first (same point ids overwrite in place), then the ids beyond its new
length are deleted: a search never sees the document missing, and a crash in between leaves a mix that the
next run's state (ingest/state.py) detects as incomplete and rebuilds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from access_index.document_acl import DocumentAcl
from access_index.embedder import Embedder
from access_index.errors import IndexUnavailableError, WriteInterruptedError
from access_index.index import Chunk, ChunkIndex, document_filter, point_id
from ingest.plan import IngestJob
from ingest.prepare import Prepared
from ingest.report import Outcome, StageTimes, Status


class IndexWriter:
    """Every write of one run goes through here (a dry run never builds one)."""

    def __init__(self, job: IngestJob, index: ChunkIndex, embedder: Embedder, times: StageTimes) -> None:
        self.job = job
        self.index = index
        self.embedder = embedder
        self.times = times
        self.chunks_written = 0

    def write(self, batch: Sequence[Prepared]) -> list[Outcome]:
        """Embed and write a batch of prepared documents; one outcome per document."""
        if not batch:
            return []
        started = time.perf_counter()
        vectors = self.embedder.embed([draft.text for prepared in batch for draft in prepared.drafts])
        self.times.add("embed", started)
        started = time.perf_counter()
        chunks = [chunk for prepared in batch for chunk in self._chunks(prepared)]
        with self._writing([prepared.planned.document_id for prepared in batch]):
            self.index.upsert(chunks, [row.tolist() for row in vectors])
            for prepared in batch:
                existing = prepared.planned.existing
                if existing is not None:
                    stale = sorted(existing.chunk_indexes - set(range(len(prepared.drafts))))
                    document_id = prepared.planned.document_id
                    self.index.delete_points([point_id(self.job.tenant, document_id, i) for i in stale])
        self.times.add("write", started)
        self.chunks_written += len(chunks)
        outcomes = []
        for prepared in batch:
            planned = prepared.planned
            status: Status = "new" if planned.existing is None else "updated"
            reason = None
            if planned.existing is not None and not planned.existing.complete:
                reason = "repaired an incomplete copy (interrupted run)"
            findings = tuple(finding.to_dict() for finding in prepared.findings)
            outcomes.append(Outcome(planned.document_id, status, reason, len(prepared.drafts), findings))
        return outcomes

    def remove(self, document_id: str) -> None:
        """Delete every chunk of a document."""
        started = time.perf_counter()
        with self._writing([document_id]):
            self.index.delete_where(document_filter(self.job.tenant, document_id))
        self.times.add("write", started)

    def set_acl(self, document_id: str, acl: DocumentAcl) -> None:
        """Rewrite a document's ACL on every chunk, without touching text or vectors."""
        started = time.perf_counter()
        with self._writing([document_id]):
            self.index.set_payload_where(document_filter(self.job.tenant, document_id), acl.payload(self.job.tenant))
        self.times.add("write", started)

    def flush(self) -> None:
        with self._writing([]):
            self.index.flush()

    @contextmanager
    def _writing(self, document_ids: Sequence[str]) -> Iterator[None]:
        """An index that stops taking writes ends the run with the documents it was writing and what to do."""
        try:
            yield
        except WriteInterruptedError:
            raise
        except IndexUnavailableError as error:
            shown = ", ".join(document_ids[:3]) + (
                f" and {len(document_ids) - 3} more" if len(document_ids) > 3 else ""
            )
            where = f" while writing {shown}" if shown else " while flushing the last writes"
            raise WriteInterruptedError(
                f"{error} The ingest stopped{where}. Every document written before is complete and kept: run the "
                "same `clearance ingest` again (beside a running `clearance serve` or alone); it skips the complete "
                "documents and rewrites what this run left incomplete."
            ) from error

    def _chunks(self, prepared: Prepared) -> list[Chunk]:
        job, planned = self.job, prepared.planned
        count = len(prepared.drafts)
        return [
            Chunk(
                tenant=job.tenant,
                document_id=planned.document_id,
                source=job.source,
                chunk_index=position,
                chunk_count=count,
                text=draft.text,
                uri=planned.found.path.as_uri(),
                allow=planned.acl.allow,
                deny=planned.acl.deny,
                title=prepared.title,
                page=draft.page,
                section=draft.section,
                labels=planned.acl.labels,
                findings=draft.findings,
                content_hash=planned.content_hash,
                acl_hash=planned.acl.acl_hash,
                pipeline_version=job.pipeline_version,
            )
            for position, draft in enumerate(prepared.drafts)
        ]
