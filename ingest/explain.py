"""`clearance ingest --explain PATH...`: which ACL each file would get, and why, without the model and
without writing anything (no index, no registry record, no quarantine report).

Files are found and named exactly as an ingest run would (ingest/discovery.py, ids relative to the source's
recorded root), and each is explained by its source's ACL provider (access_index/acl_provider.py, in the shape
of access_index/acl_explanation.py): for a manifest, the rule that decides (first match wins) and every earlier
rule that did not match; for `source: keycloak`, the resource and permission that gave the ACL, or why none did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from access_index.acl_explanation import AclExplanation
from access_index.acl_provider import AclProvider
from access_index.sources import SourceRecord
from ingest.discovery import Scope, discover
from ingest.formats import is_supported

Status = Literal["indexed", "no_acl", "skipped"]
_VISIBLE_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(32), 127)}


@dataclass(frozen=True)
class ExplainedFile:
    """One file as an ingest run would treat it: its document id, what would happen, and why."""

    document: str
    status: Status
    reason: str | None
    explanation: AclExplanation | None  # None: skipped before any rule is consulted (a symlink out of the root...)

    def to_dict(self) -> dict[str, Any]:
        return {
            "document": self.document,
            "status": self.status,
            "reason": self.reason,
            "acl": self.explanation.to_dict() if self.explanation is not None else None,
        }


@dataclass(frozen=True)
class Explanation:
    record: SourceRecord
    changes: tuple[str, ...]
    files: tuple[ExplainedFile, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.record.name,
            "tenant": self.record.tenant,
            "roots": list(self.record.roots),
            "manifest": self.record.manifest,
            "changes": list(self.changes),
            "files": [item.to_dict() for item in self.files],
        }


def explain(
    acls: AclProvider, record: SourceRecord, scopes: tuple[Scope, ...], changes: tuple[str, ...]
) -> Explanation:
    """Explain every file under `scopes` as a run of `record`'s source would see it."""
    discovery = discover(scopes)
    files: list[ExplainedFile] = [
        ExplainedFile(f"{record.name}/{skipped.relpath}", "skipped", skipped.reason, None)
        for skipped in discovery.skipped
    ]
    for found in discovery.files:
        document = f"{record.name}/{found.relpath}"
        decided = acls.explain(found.relpath)
        if not is_supported(found.path):
            reason = f"unsupported file type {found.path.suffix or '(none)'!r}"
            files.append(ExplainedFile(document, "skipped", reason, decided))
        elif decided.decision == "no_acl":
            why = "no rule matches" if decided.provider == "manifest" else acls.acl_for(found.relpath).reason
            files.append(ExplainedFile(document, "no_acl", f"{why}, so the file is not indexed", decided))
        else:
            files.append(ExplainedFile(document, "indexed", None, decided))
    files.sort(key=lambda item: item.document)
    return Explanation(record, changes, tuple(files))


def render(explanation: Explanation, as_json: bool) -> str:
    if as_json:
        return json.dumps(explanation.to_dict(), ensure_ascii=False)
    record = explanation.record
    keycloak = any(item.explanation and item.explanation.provider == "keycloak" for item in explanation.files)
    lines = [
        f"{record.label}: root {', '.join(record.roots)}; manifest {record.manifest}",
        "Keycloak resources whose URIs match <source>/<path> decide, when they agree"
        if keycloak
        else "rules are tried in order and the first whose glob matches the path (relative to the root) decides",
    ]
    lines.extend(f"note: {change} (nothing is recorded by --explain)" for change in explanation.changes)
    for item in explanation.files:
        lines.append(item.document.translate(_VISIBLE_CONTROLS))  # one line per name, even with a newline in it
        if item.status == "skipped":
            lines.append(f"    skipped: {item.reason}")
        acl = item.explanation
        if acl is None:
            continue
        if acl.decided_by is None and item.status == "no_acl":
            lines.append(f"    no_acl: {item.reason}")
        elif acl.decided_by is None:
            lines.append("    no_acl: no rule matches, so the file is not indexed")
        else:
            lines.append(f"    {acl.decided_by.label}: {acl.decided_by.reason}")
            granted = f"    allow {', '.join(acl.allow)}"
            if acl.deny:
                granted += f"; deny {', '.join(acl.deny)}"
            if acl.labels:
                granted += "; labels " + ", ".join(f"{key}={value}" for key, value in acl.labels.items())
            lines.append(granted)
        for candidate in acl.passed_over:
            lines.append(f"    not {candidate.label}: {candidate.reason}")
    return "\n".join(lines)
