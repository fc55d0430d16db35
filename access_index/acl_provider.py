"""Where a source's document ACLs come from: its manifest's rules, or Keycloak Authorization Services.

Ingest (ingest/plan.py, ingest/explain.py) and the sync's source refresh (acl_sync/source_acls.py) ask a source's
`AclProvider` for each document's ACL and never which kind it is. `acl_provider` picks it from the manifest:
rules → `ManifestAcls` (first match wins); `source: keycloak` → `KeycloakAcls` over the last good compiled
model acl-sync saved (access_index/authz_model.py), read, never pulled, so ingest needs no IAM credentials and a
missing model fails closed: every file gets no ACL, with a message that says to run acl-sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from access_index.acl_explanation import AclExplanation, Candidate, RefValue
from access_index.authz_model import AuthzModel, CompiledResource, load_authz_model
from access_index.document_acl import DocumentAcl
from access_index.manifest import Manifest
from access_index.paths import DataPaths


@dataclass(frozen=True)
class AclVerdict:
    """A document's ACL, or None and why it has none (it is then not indexed, or matches nobody)."""

    acl: DocumentAcl | None
    reason: str | None = None


class AclProvider(Protocol):
    """Answers, per path relative to the source's root, the ACL a document gets, and why."""

    @property
    def warnings(self) -> tuple[str, ...]: ...

    def acl_for(self, relpath: str) -> AclVerdict:
        """The ACL of one document (the fast path: ingest and every sync call it per document)."""

    def explain(self, relpath: str) -> AclExplanation:
        """The same decision with what decided it and what did not (`ingest --explain`)."""


@dataclass(frozen=True)
class ManifestAcls:
    """A manifest's rules: the first rule whose glob matches decides."""

    manifest: Manifest

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.manifest.warnings

    def acl_for(self, relpath: str) -> AclVerdict:
        rule = self.manifest.rule_for(relpath)
        if rule is None:
            return AclVerdict(None, "no ACL rule matches this path")
        return AclVerdict(DocumentAcl.from_rule(rule))

    def explain(self, relpath: str) -> AclExplanation:
        return self.manifest.explain(relpath)


NO_MODEL = (
    "no compiled Keycloak authorization model in {path}: run `clearance acl-sync --once` with "
    "CLEARANCE_KEYCLOAK_AUTHZ_CLIENT set, then ingest again"
)


@dataclass(frozen=True)
class KeycloakAcls:
    """A `source: keycloak` source: the resources whose URIs match `<source>/<path>` decide, when they agree."""

    model: AuthzModel | None
    source: str
    model_path: str  # named in the message when there is no model yet

    @property
    def warnings(self) -> tuple[str, ...]:
        return ()

    def acl_for(self, relpath: str) -> AclVerdict:
        if self.model is None:
            return AclVerdict(None, NO_MODEL.format(path=self.model_path))
        return _decide(self.model.matching(f"{self.source}/{relpath}"))

    def explain(self, relpath: str) -> AclExplanation:
        if self.model is None:
            missing = Candidate("no model", {}, NO_MODEL.format(path=self.model_path))
            return AclExplanation("keycloak", relpath, None, passed_over=(missing,))
        matching = self.model.matching(f"{self.source}/{relpath}")
        verdict = _decide(matching)
        candidates = tuple(_candidate(resource, verdict, len(matching)) for resource in matching)
        acl = verdict.acl
        if acl is None:
            why = candidates or (Candidate("no resource", {}, verdict.reason or ""),)
            return AclExplanation("keycloak", relpath, None, passed_over=why)
        return AclExplanation(
            "keycloak",
            relpath,
            candidates[0],
            allow=acl.allow,
            deny=acl.deny,
            labels=dict(acl.labels),
            passed_over=candidates[1:],
        )


def _decide(matching: list[CompiledResource]) -> AclVerdict:
    if not matching:
        return AclVerdict(None, "no Keycloak resource's URIs match this path")
    for resource in matching:
        if resource.acl is None:
            return AclVerdict(None, f"{resource.label} has no ACL Clearance can express: {resource.reason}")
    if len({resource.acl.acl_hash for resource in matching if resource.acl is not None}) > 1:
        names = ", ".join(repr(resource.name) for resource in matching)
        return AclVerdict(
            None, f"resources {names} all match this path and give different ACLs: Clearance never picks one"
        )
    return AclVerdict(matching[0].acl)


def _candidate(resource: CompiledResource, verdict: AclVerdict, matched: int) -> Candidate:
    ref: dict[str, RefValue] = {"resource": resource.name, "resource_id": resource.id, "uris": resource.uris}
    ref["permissions"] = resource.permissions
    if verdict.acl is None:
        reason = verdict.reason or resource.reason
    elif matched > 1:
        reason = f"its URIs match, as do {matched - 1} other resource(s) with the same ACL: {resource.reason}"
    else:
        reason = f"its URIs match: {resource.reason}"
    return Candidate(resource.label, ref, reason)


def acl_provider(manifest: Manifest, paths: DataPaths, source: str) -> AclProvider:
    """The provider of one source's ACLs (DirectoryError: a saved model that cannot be read)."""
    if manifest.delegate == "keycloak":
        return KeycloakAcls(load_authz_model(paths.authz_model), source, str(paths.authz_model))
    return ManifestAcls(manifest)
