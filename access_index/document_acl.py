"""A document's access rules as stored on each of its chunks, and the hash that detects ACL changes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from access_index.index.chunk import acl_payload
from access_index.manifest import Rule


@dataclass(frozen=True)
class DocumentAcl:
    """Canonical allow/deny tokens (sorted) and labels of one document; `acl_hash` identifies them."""

    allow: tuple[str, ...]
    deny: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def from_rule(rule: Rule) -> DocumentAcl:
        return DocumentAcl(
            allow=rule.allow_tokens,
            deny=rule.deny_tokens,
            labels=dict(sorted(rule.labels.items())),
        )

    @property
    def acl_hash(self) -> str:
        canonical = json.dumps(
            {"allow": list(self.allow), "deny": list(self.deny), "labels": dict(sorted(self.labels.items()))},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def payload(self, tenant: str) -> dict[str, Any]:
        """The payload keys an ACL-only change rewrites on every chunk of the document (in `tenant`)."""
        return acl_payload(tenant, self.allow, self.deny, self.labels, self.acl_hash)
