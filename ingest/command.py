"""`clearance ingest` and `clearance inspect`: arguments and settings in, a report and an exit code out.

Exit codes (contract): 0 nothing failed, 1 some file failed (the rest are indexed) or the index cannot
be used, 2 usage errors (bad manifest, bad source name, missing path, a run that would attach another root
or manifest to a source without --attach-root / --replace-manifest: ingest/binding.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from access_index.acl_provider import acl_provider
from access_index.embedder import Embedder, load_embedder, open_embedder
from access_index.errors import ConfigError, DocumentError, IndexUnavailableError
from access_index.index import ChunkIndex, index_exists, open_index
from access_index.links import check_uri_base
from access_index.manifest import Manifest, is_valid_tenant, load_manifest
from access_index.settings import Settings
from access_index.sources import (
    IngestRun,
    SourceRecord,
    check_source_name,
    list_sources,
    registry_lock,
    save_source,
    scan_sources,
)
from ingest.binding import LinkBase, bind, default_source_name
from ingest.discovery import FoundFile, discover, own_scopes
from ingest.explain import explain, render
from ingest.isolation.pool import WorkerPool
from ingest.limits import ParseLimits
from ingest.pipeline import run_job
from ingest.plan import IngestJob
from ingest.prepare import PreparedFile, prepare_file
from ingest.reading import PrivateFolder, open_found
from ingest.report import IngestReport, NoProgress, Progress, StreamProgress, render_summary
from ingest.state import load_state

DEFAULT_TENANT = "default"


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Ingest PATHs under the manifest's ACLs; print the summary (or one JSON object with --json).
    With --explain, print which rule each file would get instead, without the model and without writing."""
    manifest = load_manifest(Path(args.acl))  # ManifestError: a usage error (exit 2, access_index/cli.py)
    paths = tuple(Path(path) for path in args.paths)
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise ConfigError(f"no such file or directory: {', '.join(missing)}")
    tenant = args.tenant or manifest.tenant or DEFAULT_TENANT
    if not is_valid_tenant(tenant):
        raise ConfigError(f"invalid tenant {tenant!r}: use letters, digits, '.', '_' or '-' (--tenant ID)")
    records = list_sources(settings)
    source = check_source_name(args.source) if args.source else default_source_name(paths, tenant, records)
    link = requested_link(getattr(args, "uri_base", None), settings, manifest)
    flags = {"attach_root": bool(args.attach_root), "replace_manifest": bool(args.replace_manifest)}
    # Checked before the index and the model are opened, so a refused run fails in a moment.
    binding = bind(paths, Path(args.acl), tenant, source, records, link=link, **flags)
    # A `source: keycloak` manifest reads the model the last acl-sync compiled; none yet → no ACLs (no_acl).
    acls = acl_provider(manifest, settings.paths, source)
    if args.explain:
        print(render(explain(acls, binding.record, binding.scopes, binding.changes), bool(args.json)))
        return 0
    job = IngestJob(
        scopes=binding.scopes,
        acls=acls,
        source=source,
        tenant=tenant,
        policy=settings.hidden_text_policy,
        max_file_bytes=settings.max_file_bytes,
        quarantine_dir=settings.paths.quarantine_dir,
        delete_missing=bool(args.delete_missing),
        dry_run=bool(args.dry_run),
        batch_chunks=max(settings.embedding_batch_size * 4, 64),
        limits=ParseLimits.from_settings(settings),
    )
    progress: Progress = NoProgress() if args.json and not sys.stderr.isatty() else StreamProgress()
    if job.dry_run:
        report = _dry_run(job, settings, progress)
        notes = tuple(f"{change} (not recorded: dry run)" for change in binding.changes)
    else:
        # The index first (the shard, or `serve` holding it): a busy index fails before anything else.
        index = open_index(settings, role="ingest")
        try:
            # Name and dimension now, weights at the first chunk to embed: an unchanged tree never loads them.
            embedder = open_embedder(settings)
            index.ensure_collection(embedder.info)
            # Recorded before the first write, so that the index never holds documents of a source without a
            # record (acl-sync refuses those), and checked again under the lock against a concurrent ingest.
            with registry_lock(settings):
                binding = bind(paths, Path(args.acl), tenant, source, list_sources(settings), link=link, **flags)
                save_source(settings, binding.record)
            report = run_job(replace(job, scopes=binding.scopes), index, embedder, progress)
        finally:
            index.close()
        # What this run did, on the record as it is now (another ingest may have attached a root meanwhile).
        run = IngestRun(
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
            seconds=round(report.seconds, 3),
            counts=report.counts,
            chunks_written=report.chunks_written,
            index=report.index_route or "",
        )
        with registry_lock(settings):
            current = {record.key: record for record in list_sources(settings)}.get(binding.record.key, binding.record)
            save_source(settings, replace(current, last_ingest=run))
        notes = binding.changes
    notes = (*manifest.warnings, *notes)
    if notes:
        report = replace(report, notes=(*report.notes, *notes))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(render_summary(report))
    return 1 if report.failed else 0


def requested_link(flag: str | None, settings: Settings, manifest: Manifest) -> LinkBase | None:
    """The link base this run sets: --uri-base (empty: none), else CLEARANCE_URI_BASE, else the manifest's
    `uri_base`; None when none of them gives one (the recorded base stays)."""
    if flag is not None:
        return LinkBase(check_uri_base(flag, "--uri-base") if flag else None, "--uri-base")
    if settings.uri_base is not None:
        return LinkBase(settings.uri_base, "CLEARANCE_URI_BASE")
    if manifest.uri_base is not None:
        return LinkBase(manifest.uri_base, f"'uri_base' in {manifest.path}")
    return None


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
    """One JSON line per chunk (or per quarantined document); failures on stderr, exit 1 if any.

    Each file is read and parsed as ingest does it (ingest/prepare.py): opened once without following links,
    parsed in a worker process under the same limits."""
    discovery = discover(own_scopes([Path(path) for path in args.paths]))
    records = scan_sources(settings).records  # only to show links: an unreadable record is not inspect's concern
    embedder = load_embedder(settings)
    failed = 0
    for skipped in discovery.skipped:
        print(f"clearance inspect: skipped {skipped.relpath}: {skipped.reason}", file=sys.stderr)
    with PrivateFolder() as folder, WorkerPool(ParseLimits.from_settings(settings)) as pool:
        for found in discovery.files:
            document = str(found.path)
            where = _link(found.path, records)
            try:
                prepared = _inspect_one(found, folder, pool, settings, embedder)
            except DocumentError as error:
                failed += 1
                print(f"clearance inspect: {document}: {error}", file=sys.stderr)
                continue
            except OSError as error:
                failed += 1
                print(f"clearance inspect: {document}: cannot read: {error.strerror or error}", file=sys.stderr)
                continue
            findings = [finding.to_dict() for finding in prepared.findings]
            if prepared.quarantined:
                rejected: dict[str, Any] = {"document": document, **where, "quarantined": True, "findings": findings}
                print(json.dumps(rejected, ensure_ascii=False))
                continue
            for position, draft in enumerate(prepared.drafts):
                line: dict[str, Any] = {
                    "document": document,
                    **where,
                    "chunk_index": position,
                    "text": draft.text,
                    "findings": [dict(finding) for finding in draft.findings],
                    "section": draft.section,
                    "page": draft.page,
                }
                print(json.dumps(line, ensure_ascii=False))
    sys.stdout.flush()
    return 1 if failed else 0


def _link(path: Path, records: Sequence[SourceRecord]) -> dict[str, str | None]:
    """Where a search result of this file would link (`uri`), and the recorded source that decides it
    (`source`, "<tenant>/<name>"): the one whose root holds the file; none, or several, leave the file URI."""
    held = [(record, link) for record in records if (link := record.file_link(path)) is not None]
    if len(held) != 1:
        if held:
            names = ", ".join(f"{record.tenant}/{record.name}" for record, _ in held)
            print(f"clearance inspect: {path} lies in the roots of several sources ({names})", file=sys.stderr)
        return {"uri": path.as_uri(), "source": None}
    record, link = held[0]
    return {"uri": link, "source": f"{record.tenant}/{record.name}"}


def _inspect_one(
    found: FoundFile, folder: PrivateFolder, pool: WorkerPool, settings: Settings, embedder: Embedder
) -> PreparedFile:
    with open_found(found, settings.max_file_bytes) as opened:
        copy = opened.copy_into(folder, settings.max_file_bytes)
    try:
        # Inspect shows every finding next to the chunk it came from, removed ones with their text.
        return prepare_file(
            copy, found.path, settings.hidden_text_policy, settings.max_file_bytes, pool, embedder, redact=False
        )
    finally:
        copy.remove()
