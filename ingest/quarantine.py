"""Documents held back for hidden instruction-like text: one JSON report each, for a human to review.

Reports live in the data dir's `quarantine/<tenant>/<source>/`, named by a hash of the document id. A
later run that finds the same bytes under the same pipeline says "quarantined" again without parsing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.report import Outcome
from ingest.sanitize import Finding


@dataclass(frozen=True)
class QuarantineRecords:
    """The quarantine reports of one (tenant, source) under one pipeline version."""

    directory: Path
    pipeline_version: str

    def path(self, document_id: str, name: str) -> Path:
        digest = hashlib.sha256(document_id.encode("utf-8")).hexdigest()[:16]
        return self.directory / f"{digest}-{name}.json"

    def save(self, document_id: str, path: Path, content_hash: str, findings: Sequence[Finding]) -> None:
        """Write (or overwrite) the report of one held-back document, atomically."""
        target = self.path(document_id, path.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "document": document_id,
            "path": str(path),
            "content_hash": content_hash,
            "pipeline_version": self.pipeline_version,
            "quarantined_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "findings": [finding.to_dict() for finding in findings],
        }
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        temporary.replace(target)

    def held(self, document_id: str, name: str, content_hash: str) -> Outcome | None:
        """The same bytes under the same pipeline were quarantined before: say so again without re-parsing."""
        try:
            saved = json.loads(self.path(document_id, name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if saved.get("content_hash") != content_hash or saved.get("pipeline_version") != self.pipeline_version:
            return None
        findings = tuple(finding for finding in saved.get("findings", ()) if isinstance(finding, dict))
        return Outcome(
            document_id, "quarantined", "hidden text that reads like an instruction (unchanged)", 0, findings
        )
