"""The compiled Keycloak Authorization Services model: what `source: keycloak` manifests take their ACLs from.

acl-sync pulls a resource server's resources, permissions and policies (acl_sync/authz_pull.py), compiles
them into one ACL per resource, or none with the reason (acl_sync/authz_compile.py, the mapping table in
docs/acl-semantics.md), and saves the result here as the last good model (`DataPaths.authz_model`). Ingest and
the sync's source refresh read it; ingest never pulls from Keycloak itself, so without a saved model a
delegating source's files get no ACL (fail closed) and the message says to run acl-sync.

A resource's `uris` are globs (access_index/globs.py) over the document id `<source>/<path>`; a leading '/',
as Keycloak's console writes URIs, is read as that namespace's root. A document takes the ACL of the resources
whose URIs match it only when they all agree: no resource, an unsupported resource, or resources that give
different ACLs → no ACL, never a guess.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from access_index.document_acl import DocumentAcl
from access_index.errors import DirectoryError
from access_index.globs import Glob, parse_glob, split_path

MODEL_VERSION = 1


def uri_glob(uri: str) -> Glob:
    """A resource URI as a glob over `<source>/<path>`; ValueError (with the fix) when it is not one."""
    return parse_glob(uri[1:] if uri.startswith("/") else uri)


def _literal_prefix(glob: Glob) -> tuple[str, ...]:
    """The leading segments that are plain names: only documents under them can match."""
    prefix: list[str] = []
    for segment in glob.segments:
        literal = getattr(segment, "literal", None)
        if literal is None:
            break
        prefix.append(literal)
    return tuple(prefix)


@dataclass(frozen=True)
class CompiledResource:
    """One resource: its URIs, and the ACL its permissions compile to (None: unsupported, with the reason)."""

    id: str
    name: str
    uris: tuple[str, ...]
    permissions: tuple[str, ...]  # the names of the permissions that cover it
    acl: DocumentAcl | None
    reason: str  # how the ACL was derived, or why there is none ("permission 'x': ...")

    @property
    def label(self) -> str:
        permissions = ", ".join(repr(name) for name in self.permissions) or "none"
        return f"resource {self.name!r} (permissions {permissions})"

    def to_dict(self) -> dict[str, Any]:
        acl = self.acl
        return {
            "id": self.id,
            "name": self.name,
            "uris": list(self.uris),
            "permissions": list(self.permissions),
            "acl": None if acl is None else {"allow": list(acl.allow), "deny": list(acl.deny), "labels": acl.labels},
            "reason": self.reason,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> CompiledResource:
        acl = data["acl"]
        return CompiledResource(
            id=str(data["id"]),
            name=str(data["name"]),
            uris=tuple(str(uri) for uri in data["uris"]),
            permissions=tuple(str(name) for name in data["permissions"]),
            acl=None
            if acl is None
            else DocumentAcl(
                allow=tuple(str(p) for p in acl["allow"]),
                deny=tuple(str(p) for p in acl["deny"]),
                labels={str(k): str(v) for k, v in dict(acl["labels"]).items()},
            ),
            reason=str(data["reason"]),
        )


@dataclass(frozen=True)
class AuthzModel:
    """The last good compiled model of one resource server, and an index of its URIs by literal prefix."""

    client: str  # the resource server's clientId (CLEARANCE_KEYCLOAK_AUTHZ_CLIENT)
    pulled_at: str  # ISO time of the pull it was compiled from
    resources: tuple[CompiledResource, ...]
    _by_prefix: dict[tuple[str, ...], list[tuple[CompiledResource, Glob]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # Matching every document against every URI is resources × documents; the literal prefix of a glob
        # ("wiki/hr" of "wiki/hr/**") narrows each document to the few resources that can match it.
        for resource in self.resources:
            for uri in resource.uris:
                glob = uri_glob(uri)  # checked at compile time: a model never holds an invalid URI
                self._by_prefix.setdefault(_literal_prefix(glob), []).append((resource, glob))

    def matching(self, document_id: str) -> list[CompiledResource]:
        """The resources one of whose URIs matches `<source>/<path>`, each once, by name."""
        parts = split_path(document_id)
        found: dict[str, CompiledResource] = {}
        for length in range(len(parts) + 1):
            for resource, glob in self._by_prefix.get(parts[:length], ()):
                if resource.id not in found and glob.matches_parts(parts):
                    found[resource.id] = resource
        return sorted(found.values(), key=lambda resource: (resource.name, resource.id))

    @property
    def unsupported(self) -> tuple[CompiledResource, ...]:
        return tuple(resource for resource in self.resources if resource.acl is None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": MODEL_VERSION,
            "client": self.client,
            "pulled_at": self.pulled_at,
            "resources": [resource.to_dict() for resource in self.resources],
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> AuthzModel:
        if data.get("version") != MODEL_VERSION:
            raise ValueError(f"model version {data.get('version')!r}, expected {MODEL_VERSION}")
        resources: Iterable[dict[str, Any]] = data["resources"]
        return AuthzModel(
            str(data["client"]), str(data["pulled_at"]), tuple(CompiledResource.from_dict(r) for r in resources)
        )


def save_authz_model(path: Path, model: AuthzModel) -> None:
    """Replace the saved model atomically (temp file + rename): readers see the old one or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(model.to_dict(), sort_keys=True), encoding="utf-8")
    os.replace(temporary, path)


def load_authz_model(path: Path) -> AuthzModel | None:
    """The saved model, None when acl-sync has not saved one; DirectoryError when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise DirectoryError(f"{path}: cannot read the compiled Keycloak authorization model: {error}") from None
    try:
        return AuthzModel.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError) as error:
        raise DirectoryError(
            f"{path}: not a compiled Keycloak authorization model ({error}): remove it and run "
            "`clearance acl-sync --once` to compile it again"
        ) from None
