"""Which source an ingest run writes to, and where each of its PATHs lies in it (docs/acl-semantics.md,
"Source identity").

A source is (tenant, --source name) and keeps the roots and the manifest of its first ingest
(access_index/sources.py). A later run's PATHs must lie inside a recorded root and its --acl must be the
recorded manifest; each PATH is then walked with ids relative to the root it lies in, whatever PATH was given
(a file, a subfolder). Attaching another root (`--attach-root`) or another manifest (`--replace-manifest`) is
refused unless asked for. And within a tenant, one manifest file serves one tree: a source whose root nests
with the root of another source using the same manifest is refused, since that manifest's globs were written
for one of the two roots and the other would give the same file another path (and another rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from access_index.errors import SourceConflictError
from access_index.sources import SourceRecord, check_source_name
from ingest.discovery import Scope, locate, own_scopes

ATTACH_ROOT = "--attach-root"
REPLACE_MANIFEST = "--replace-manifest"


@dataclass(frozen=True)
class Binding:
    """A run's source as it stands after the run, the PATHs to walk with their roots, and what the run
    changes in the record (empty when nothing; a new source says so)."""

    record: SourceRecord
    scopes: tuple[Scope, ...]
    changes: tuple[str, ...]


def default_source_name(paths: Sequence[Path], tenant: str, records: Sequence[SourceRecord]) -> str:
    """Without --source: the tenant's source whose roots hold every PATH (so `ingest corpus/hr` updates the
    source of `corpus`), else the name of the first PATH."""
    located = [locate(path) for path in paths]
    holders = [
        record
        for record in records
        if record.tenant == tenant and all(_root_of(place, record.roots) is not None for place in located)
    ]
    if len(holders) == 1:
        return holders[0].name
    return check_source_name(paths[0].resolve().name)


def bind(
    paths: Sequence[Path],
    manifest: Path,
    tenant: str,
    name: str,
    records: Sequence[SourceRecord],
    *,
    attach_root: bool = False,
    replace_manifest: bool = False,
) -> Binding:
    """Check a run against the registry's records; SourceConflictError says what is recorded, what was given
    and which flag would allow it."""
    manifest_path = str(manifest.resolve())
    existing = next((record for record in records if record.key == (tenant, name)), None)
    if existing is None:
        roots = _outermost([str(scope.root) for scope in own_scopes(paths)])
        record = SourceRecord(name=name, tenant=tenant, roots=roots, manifest=manifest_path)
        changes: list[str] = [f"new {record.label}: root {', '.join(roots)}, manifest {manifest_path}"]
    else:
        record, changes = _admit(existing, paths, manifest_path, attach_root, replace_manifest)
    if changes:
        _check_one_tree_per_manifest(record, records)
    scopes = []
    for path in paths:
        place = locate(path)
        root = _root_of(place, record.roots)
        assert root is not None  # every PATH lies in a root of the record by now
        scopes.append(Scope(Path(root), place))
    return Binding(record, tuple(scopes), tuple(changes))


def _admit(
    existing: SourceRecord, paths: Sequence[Path], manifest: str, attach_root: bool, replace_manifest: bool
) -> tuple[SourceRecord, list[str]]:
    roots = list(existing.roots)
    changes: list[str] = []
    for path in paths:
        place = locate(path)
        if _root_of(place, roots) is not None:
            continue
        new_root = str(place if path.is_dir() else place.parent)
        if not attach_root:
            raise SourceConflictError(
                f"{place} is outside the root of {existing.label} ({', '.join(roots)}), to which its document "
                f"ids are relative. Give a PATH inside it; or pass {ATTACH_ROOT} to add {new_root} as another "
                "root of this source (ids relative to it); or ingest it as another source with --source NAME"
                + _legacy_hint(existing)
            )
        nested = [root for root in roots if Path(root).is_relative_to(new_root)]
        if nested:
            raise SourceConflictError(
                f"{ATTACH_ROOT}: {new_root} would contain {nested[0]}, already a root of {existing.label}, and "
                "one file would get two ids: attach a folder that lies outside the source's roots, or ingest "
                f"{new_root} as another source (--source NAME) with a manifest written for it" + _legacy_hint(existing)
            )
        roots.append(new_root)
        changes.append(f"root {new_root} attached to {existing.label} ({ATTACH_ROOT})")
    recorded_manifest = existing.manifest
    if manifest != recorded_manifest:
        if not replace_manifest:
            raise SourceConflictError(
                f"{existing.label} was ingested with the manifest {recorded_manifest}, and --acl gives "
                f"{manifest}. Edit the recorded manifest (acl-sync applies it to every document of the source); "
                f"or pass {REPLACE_MANIFEST} to make {manifest} this source's manifest from now on, for all of "
                "its documents; or ingest under another --source NAME" + _legacy_hint(existing)
            )
        changes.append(f"manifest of {existing.label} replaced: {recorded_manifest} → {manifest} ({REPLACE_MANIFEST})")
    record = replace(existing, roots=tuple(roots), manifest=manifest, legacy=False)
    return record, changes


def _legacy_hint(record: SourceRecord) -> str:
    if not record.legacy:
        return ""
    return (
        f". The record is of the old layout (sources/{record.name}.json in the data dir), which kept only the last "
        "ingest of that name, whatever its root: if that root is wrong, remove the file and ingest the source again "
        "from its right root with --delete-missing (acl-sync names the documents left under other roots)"
    )


def _check_one_tree_per_manifest(record: SourceRecord, records: Sequence[SourceRecord]) -> None:
    for other in records:
        if other.key == record.key or other.tenant != record.tenant or other.manifest != record.manifest:
            continue
        for root in record.roots:
            for other_root in other.roots:
                if Path(root).is_relative_to(other_root) or Path(other_root).is_relative_to(root):
                    raise SourceConflictError(
                        f"{root} nests with {other_root}, the root of {other.label}, which uses the same manifest "
                        f"{record.manifest}: its globs are relative to one root, and the same file would get "
                        f"another path (and maybe another rule) here. Ingest it as --source {other.name}, or "
                        "write a manifest for this root"
                    )


def _root_of(place: Path, roots: Sequence[str]) -> str | None:
    """The recorded root a located PATH lies in (roots of one source never nest, so at most one)."""
    for root in roots:
        if place.is_relative_to(root):
            return root
    return None


def _outermost(roots: Sequence[str]) -> tuple[str, ...]:
    """A first ingest's roots without those inside another (PATHs `corpus` and `corpus/hr` make one root)."""
    unique = sorted(set(roots))
    return tuple(
        root for root in unique if not any(other != root and Path(root).is_relative_to(other) for other in unique)
    )
