"""ACL providers: a `source: keycloak` manifest takes each document's ACL from the saved compiled model; without
one, or where resources disagree or cannot be expressed, a document gets no ACL (fail closed)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from access_index.acl_provider import KeycloakAcls, ManifestAcls, acl_provider
from access_index.authz_model import AuthzModel, CompiledResource, load_authz_model, save_authz_model, uri_glob
from access_index.document_acl import DocumentAcl
from access_index.errors import DirectoryError, ManifestError
from access_index.globs import split_path
from access_index.manifest import load_manifest
from access_index.paths import DataPaths

HR = DocumentAcl(("group:/hr",), ("user:mallory",), {"classification": "confidential"})
ENG = DocumentAcl(("group:/eng",), ())


def resource(rid: str, uris: tuple[str, ...], acl: DocumentAcl | None, reason: str = "ok") -> CompiledResource:
    return CompiledResource(rid, rid, uris, (f"{rid}-read",), acl, reason)


MODEL = AuthzModel(
    "docs",
    "2026-01-01T00:00:00+00:00",
    (
        resource("hr", ("/wiki/hr/**",), HR),
        resource("eng", ("wiki/eng/**", "wiki/shared/*.md"), ENG),
        resource("eng-copy", ("wiki/shared/**",), ENG),
        resource("secret", ("wiki/hr/secret/**",), None, "permission 'x': policy 'y' (time): ..."),
        resource("board", ("wiki/board/**",), HR),
        resource("board-too", ("wiki/*/minutes.md",), ENG),
    ),
)


def keycloak_manifest(tmp_path: Path) -> Path:
    path = tmp_path / "acl.yaml"
    path.write_text("version: 1\ntenant: acme\nsource: keycloak\n", encoding="utf-8")
    return path


def test_a_delegating_manifest_loads_and_refuses_rules_or_other_sources(tmp_path: Path) -> None:
    manifest = load_manifest(keycloak_manifest(tmp_path))
    assert manifest.delegate == "keycloak" and manifest.tenant == "acme" and manifest.rules == ()
    both = tmp_path / "both.yaml"
    both.write_text('version: 1\nsource: keycloak\nrules:\n  - paths: ["**"]\n    allow: [authenticated]\n')
    with pytest.raises(ManifestError, match="remove 'rules'"):
        load_manifest(both)
    other = tmp_path / "other.yaml"
    other.write_text("version: 1\nsource: ldap\n")
    with pytest.raises(ManifestError, match="'ldap' is unknown"):
        load_manifest(other)


def test_without_a_saved_model_every_file_gets_no_acl_and_the_fix(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path / "data")
    provider = acl_provider(load_manifest(keycloak_manifest(tmp_path)), paths, "wiki")
    verdict = provider.acl_for("hr/a.md")
    assert verdict.acl is None and verdict.reason is not None and "clearance acl-sync --once" in verdict.reason
    assert provider.explain("hr/a.md").decision == "no_acl"


def test_the_saved_model_round_trips_and_a_bad_one_is_an_error(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path / "data")
    save_authz_model(paths.authz_model, MODEL)
    assert load_authz_model(paths.authz_model) == MODEL
    provider = acl_provider(load_manifest(keycloak_manifest(tmp_path)), paths, "wiki")
    assert isinstance(provider, KeycloakAcls)
    assert provider.acl_for("hr/handbook.md").acl == HR
    paths.authz_model.write_text('{"version": 1, "client": "docs"}', encoding="utf-8")
    with pytest.raises(DirectoryError, match="acl-sync --once"):
        load_authz_model(paths.authz_model)


def test_the_document_id_is_what_the_uris_match() -> None:
    acls = KeycloakAcls(MODEL, "wiki", "model")
    assert acls.acl_for("hr/handbook.md").acl == HR
    assert acls.acl_for("eng/x/y.md").acl == ENG
    other_source = KeycloakAcls(MODEL, "notes", "model")
    assert other_source.acl_for("hr/handbook.md").acl is None  # notes/hr/... is no resource's


def test_attack_an_unsupported_resource_overlapping_a_supported_one_gives_no_acl() -> None:
    # The broad HR resource would otherwise hand hr/secret/ to its readers, whom the time policy restricts.
    verdict = KeycloakAcls(MODEL, "wiki", "model").acl_for("hr/secret/plan.md")
    assert verdict.acl is None and verdict.reason is not None and "'secret'" in verdict.reason


def test_attack_overlapping_resources_with_different_acls_are_never_resolved_by_picking_one() -> None:
    acls = KeycloakAcls(MODEL, "wiki", "model")
    verdict = acls.acl_for("board/minutes.md")
    assert verdict.acl is None and verdict.reason is not None and "different ACLs" in verdict.reason
    same = acls.acl_for("shared/notes.md")  # two resources, the same ACL: no ambiguity
    assert same.acl == ENG


def test_explain_names_the_resource_and_permission() -> None:
    explained = KeycloakAcls(MODEL, "wiki", "model").explain("hr/handbook.md")
    assert explained.provider == "keycloak" and explained.decided_by is not None
    assert explained.decided_by.ref["resource"] == "hr" and explained.decided_by.ref["permissions"] == ("hr-read",)
    assert explained.allow == HR.allow and explained.deny == HR.deny
    refused = KeycloakAcls(MODEL, "wiki", "model").explain("hr/secret/plan.md")
    assert refused.decided_by is None and any("time" in c.reason for c in refused.passed_over)


def test_manifest_provider_is_the_first_matching_rule(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text('version: 1\nrules:\n  - paths: ["hr/**"]\n    allow: ["group:/hr"]\n', encoding="utf-8")
    acls = ManifestAcls(load_manifest(path))
    assert acls.acl_for("hr/a.md").acl == DocumentAcl(("group:/hr",), ())
    assert acls.acl_for("eng/a.md").acl is None


def test_the_prefix_index_finds_exactly_what_matching_every_uri_finds() -> None:
    """Differential: the literal-prefix index against the plain scan over every URI, on random paths."""
    rng = random.Random(17)
    names = ["a", "b", "hr", "x.md", "y.txt", "[", "*"]
    uris = ["a/**", "a/b/*.md", "**/x.md", "hr/?/**", "a/[ab]/**", "*/b/**", "a", "/b/**", "**"]
    resources = tuple(resource(f"r{i}", (uri,), ENG) for i, uri in enumerate(uris))
    model = AuthzModel("docs", "t", resources)
    for _ in range(2000):
        path = "/".join(rng.choice(names) for _ in range(rng.randint(1, 5)))
        expected = {r.id for r in resources if any(uri_glob(u).matches_parts(split_path(path)) for u in r.uris)}
        assert {r.id for r in model.matching(path)} == expected, path
