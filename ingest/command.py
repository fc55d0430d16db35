"""`clearance ingest` and `clearance inspect`: arguments and settings in, a report and an exit code out.

Exit codes (contract): 0 nothing failed, 1 some file failed (the rest are indexed) or the index cannot
be used, 2 usage errors (bad manifest, bad source name, missing path).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from access_index.embedder import load_embedder, open_embedder
from access_index.errors import ConfigError, DocumentError, IndexUnavailableError
from access_index.index import ChunkIndex, index_exists, open_index
from access_index.manifest import is_valid_tenant, load_manifest
from access_index.settings import Settings
from access_index.sources import IngestRun, SourceRecord, check_source_name, save_source
from ingest.discovery import discover
from ingest.pipeline import run_job
from ingest.plan import IngestJob
from ingest.prepare import prepare_file
from ingest.report import IngestReport, NoProgress, Progress, StreamProgress, render_summary
from ingest.state import load_state

DEFAULT_TENANT = "default"


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Ingest PATHs under the manifest's ACLs; print the summary (or one JSON object with --json)."""
    manifest = load_manifest(Path(args.acl))  # ManifestError: a usage error (exit 2, access_index/cli.py)
    paths = tuple(Path(path) for path in args.paths)
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise ConfigError(f"no such file or directory: {', '.join(missing)}")
    source = check_source_name(args.source or paths[0].resolve().name)
    tenant = args.tenant or manifest.tenant or DEFAULT_TENANT
    if not is_valid_tenant(tenant):
        raise ConfigError(f"invalid tenant {tenant!r}: use letters, digits, '.', '_' or '-' (--tenant ID)")
    job = IngestJob(
        paths=paths,
        manifest=manifest,
        source=source,
        tenant=tenant,
        policy=settings.hidden_text_policy,
        max_file_bytes=settings.max_file_bytes,
        quarantine_dir=settings.paths.quarantine_dir,
        delete_missing=bool(args.delete_missing),
        dry_run=bool(args.dry_run),
        batch_chunks=max(settings.embedding_batch_size * 4, 64),
    )
    progress: Progress = NoProgress() if args.json and not sys.stderr.isatty() else StreamProgress()
    if job.dry_run:
        report = _dry_run(job, settings, progress)
    else:
        # The index first (the shard, or `serve` holding it): a busy index fails before anything else.
        index = open_index(settings, role="ingest")
        try:
            # Name and dimension now, weights at the first chunk to embed: an unchanged tree never loads them.
            embedder = open_embedder(settings)
            index.ensure_collection(embedder.info)
            report = run_job(job, index, embedder, progress)
        finally:
            index.close()
        save_source(
            settings,
            SourceRecord(
                name=source,
                tenant=tenant,
                roots=tuple(str((path if path.is_dir() else path.parent).resolve()) for path in paths),
                manifest=str(Path(args.acl).resolve()),
                last_ingest=IngestRun(
                    finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
                    seconds=round(report.seconds, 3),
                    counts=report.counts,
                    chunks_written=report.chunks_written,
                    index=report.index_route or "",
                ),
            ),
        )
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(render_summary(report))
    return 1 if report.failed else 0


def _dry_run(job: IngestJob, settings: Settings, progress: Progress) -> IngestReport:
    """Reads the index when it exists (to tell new from changed); never creates or writes it."""
    index: ChunkIndex | None = None
    notes: list[str] = []
    if index_exists(settings):
        index = open_index(settings, role="ingest")
    try:
        try:
            state = load_state(index, job.tenant, job.source) if index is not None else {}
        except IndexUnavailableError as error:
            state = {}
            notes.append(f"the index could not be read ({error}); every file is shown as new")
        report = run_job(job, None, None, progress, state=state)
    finally:
        if index is not None:
            index.close()
    if notes:
        report = replace(report, notes=tuple(notes))
    return report


def run_inspect(args: argparse.Namespace, settings: Settings) -> int:
    """One JSON line per chunk (or per quarantined document); failures on stderr, exit 1 if any."""
    discovery = discover([Path(path) for path in args.paths])
    embedder = load_embedder(settings)
    failed = 0
    for skipped in discovery.skipped:
        print(f"clearance inspect: skipped {skipped.relpath}: {skipped.reason}", file=sys.stderr)
    for found in discovery.files:
        document = str(found.path)
        try:
            # Inspect shows every finding next to the chunk it came from, removed ones with their text.
            prepared = prepare_file(
                found.path, settings.hidden_text_policy, settings.max_file_bytes, embedder, redact=False
            )
        except DocumentError as error:
            failed += 1
            print(f"clearance inspect: {document}: {error}", file=sys.stderr)
            continue
        findings = [finding.to_dict() for finding in prepared.findings]
        if prepared.quarantined:
            print(json.dumps({"document": document, "quarantined": True, "findings": findings}, ensure_ascii=False))
            continue
        for position, draft in enumerate(prepared.drafts):
            line = {
                "document": document,
                "chunk_index": position,
                "text": draft.text,
                "findings": [dict(finding) for finding in draft.findings],
                "section": draft.section,
                "page": draft.page,
            }
            print(json.dumps(line, ensure_ascii=False))
    sys.stdout.flush()
    return 1 if failed else 0
