"""Why a document gets the ACL it gets: the answer `clearance ingest --explain` prints.

Provider-neutral on purpose: a manifest fills it with its rules (`Manifest.explain`), and a provider that
delegates to the IAM (Keycloak Authorization Services, `source: keycloak`) fills the same shape with its
resources and permissions. A `Candidate` is one thing that could decide a document's ACL, named by `label`
for people and by `ref` (provider-specific keys) for programs; candidates are tried in order and the first
that applies decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

RefValue = str | int | tuple[str, ...]
Decision = Literal["acl", "no_acl"]


@dataclass(frozen=True)
class Candidate:
    """One rule (or resource/permission) considered for a document, and what came of it."""

    label: str  # e.g. "rule 2 (line 7)"; a Keycloak provider: "resource 'HR' / permission 'hr-read'"
    ref: Mapping[str, RefValue]  # e.g. {"rule": 2, "line": 7, "globs": ("hr/**",), "glob": "hr/**"}
    reason: str  # why it applies, or why it does not

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "ref": {key: list(value) if isinstance(value, tuple) else value for key, value in self.ref.items()},
            "reason": self.reason,
        }


@dataclass(frozen=True)
class AclExplanation:
    """The decision for one path: the candidate that decided (None: no ACL, the file is not indexed), the ACL
    it gives, and the earlier candidates that did not apply, in the order they were tried."""

    provider: str  # "manifest"; "keycloak" for a delegated source (issue 17)
    relpath: str
    decided_by: Candidate | None
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    passed_over: tuple[Candidate, ...] = ()

    @property
    def decision(self) -> Decision:
        return "acl" if self.decided_by is not None else "no_acl"

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "path": self.relpath,
            "decision": self.decision,
            "decided_by": self.decided_by.to_dict() if self.decided_by is not None else None,
            "allow": list(self.allow),
            "deny": list(self.deny),
            "labels": dict(self.labels),
            "passed_over": [candidate.to_dict() for candidate in self.passed_over],
        }
