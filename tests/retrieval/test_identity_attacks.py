"""Identity attacks through the real app (real tokens, both engines, ACLs from real manifests): who a
directory answers for, look-alike names, e-mail vs username, realm vs client roles (issue 10).

Each test is an attack that succeeded before: a globex user took acme-hannah's group; a look-alike or a
verified e-mail without '@' claimed kate's documents; a username shaped like an e-mail took that e-mail's
grants; a realm role `crm/reader` read what client crm's role `reader` may read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from access_index.directory import FileSnapshotStore
from access_index.document_acl import DocumentAcl
from access_index.errors import ConfigError
from access_index.index import ChunkIndex
from access_index.manifest import load_manifest
from access_index.settings import Settings
from acl_sync.sync import SyncOptions, sync_once
from retrieval.app import create_app
from tests.conftest import settings_for
from tests.retrieval.conftest import add_chunks, api_client, make_chunk
from tests.support.auth import bearer
from tests.support.hashing_embedder import HashingEmbedder
from tests.support.oidc_issuer import OidcIssuer, running_issuer

ACME_DIRECTORY = """\
version: 1
issuer: {issuer}
groups: [{{id: g-hr, path: /hr}}]
users:
  - {{username: hannah, email: hannah@acme.example, groups: [g-hr]}}
  - {{username: mallory, email: mallory@acme.example, enabled: false, groups: [g-hr]}}
"""


def documents(client: TestClient, token: str) -> set[str] | int:
    response = client.post("/v1/search", json={"query": "pay notes", "top_k": 50}, headers=bearer(token))
    if response.status_code != 200:
        return int(response.status_code)
    return {result["document_id"] for result in response.json()["results"]}


def chunks_from_manifest(tmp_path: Path, manifest: str, paths: dict[str, str], tenant: str = "default") -> list:
    """Chunks ACL-tagged exactly as ingest tags them: the manifest's rule for each path."""
    acl_file = tmp_path / f"acl-{tenant}.yaml"
    acl_file.write_text(manifest)
    loaded = load_manifest(acl_file)
    chunks = []
    for path, text in paths.items():
        rule = loaded.rule_for(path)
        assert rule is not None
        acl = DocumentAcl.from_rule(rule)
        chunks.append(make_chunk(path, text, acl.allow, acl.deny, tenant=tenant, source=path.split("/")[0]))
    return chunks


# --- a directory belongs to one issuer ----------------------------------------------------------------------


@contextmanager
def two_tenants(
    tmp_path: Path, index: ChunkIndex, embedder: HashingEmbedder, engine: str, acme: OidcIssuer, directory: str
) -> Iterator[tuple[TestClient, OidcIssuer, FileSnapshotStore, Settings]]:
    with running_issuer() as globex:
        path = tmp_path / "directory.yaml"
        path.write_text(directory)
        settings = settings_for(
            engine,
            tmp_path / "data",
            oidc_issuers=[acme.config | {"tenant": "acme"}, globex.config | {"tenant": "globex"}],
            directory_file=path,
        )
        add_chunks(
            index,
            embedder,
            [
                make_chunk("hr/pay.md", "acme pay notes", ["group:/hr"], tenant="acme"),
                make_chunk("all/pay.md", "acme pay notes for all", ["authenticated"], tenant="acme"),
                make_chunk("hr/pay.md", "globex pay notes", ["group:/hr"], tenant="globex"),
                make_chunk("all/pay.md", "globex pay notes for all", ["authenticated"], tenant="globex"),
            ],
        )
        store = FileSnapshotStore(tmp_path / "snapshot.json")
        with api_client(settings, index=index, embedder=embedder, directory_store=store) as client:
            yield client, globex, store, settings


def test_a_directory_answers_only_for_its_issuers_tokens(
    tmp_path: Path, index: ChunkIndex, embedder: HashingEmbedder, engine: str, issuer: OidcIssuer
) -> None:
    acme = issuer
    with two_tenants(tmp_path, index, embedder, engine, acme, ACME_DIRECTORY.format(issuer=acme.url)) as (
        client,
        globex,
        store,
        settings,
    ):
        # Before the first sync only the directory's own issuer waits; globex never consults it.
        assert documents(client, acme.token(preferred_username="hannah")) == 503
        assert documents(client, globex.token(preferred_username="hannah")) == {"all/pay.md"}
        assert sync_once(settings, None, SyncOptions(store=store)).outcome == "ok"
        # Observed attack: globex-hannah got acme-hannah's /hr inside globex; globex-mallory got 403.
        assert documents(client, globex.token(preferred_username="hannah")) == {"all/pay.md"}
        assert documents(client, globex.token(preferred_username="mallory")) == {"all/pay.md"}
        # Tokens of other issuers keep their own principals (CONTRACT.md, Identity).
        assert documents(client, globex.token(preferred_username="hannah", groups=["/hr"])) == {
            "hr/pay.md",
            "all/pay.md",
        }
        # For its own issuer the directory still decides.
        assert documents(client, acme.token(preferred_username="hannah")) == {"hr/pay.md", "all/pay.md"}
        assert documents(client, acme.token(preferred_username="mallory", groups=["/hr"])) == 403


def test_a_directory_file_without_issuer_among_several_issuers_is_a_start_up_error(
    tmp_path: Path, issuer: OidcIssuer
) -> None:
    path = tmp_path / "directory.yaml"
    path.write_text(ACME_DIRECTORY.format(issuer="X").replace("issuer: X\n", ""))
    with running_issuer() as other:
        settings = settings_for(
            "memory", tmp_path / "data", oidc_issuers=[issuer.config, other.config], directory_file=path
        )
        with pytest.raises(ConfigError, match="names no `issuer`"):
            create_app(settings, embedder=HashingEmbedder())
        report = sync_once(settings, None, SyncOptions(store=FileSnapshotStore(tmp_path / "s.json")))
        assert report.outcome == "failed" and "names no `issuer`" in report.errors[0].message
    # With exactly one trusted issuer the file belongs to it.
    one = settings_for("memory", tmp_path / "data", oidc_issuers=[issuer.config], directory_file=path)
    store = FileSnapshotStore(tmp_path / "one.json")
    assert sync_once(one, None, SyncOptions(store=store)).outcome == "ok"
    snapshot = store.load()
    assert snapshot is not None and snapshot.issuer == issuer.url


# --- look-alike names, e-mails and usernames ----------------------------------------------------------------

PEOPLE = """\
version: 1
rules:
  - paths: ["kate/**"]
    allow: ["user:kate"]
  - paths: ["alice/**"]
    allow: ["user:alice@acme.example"]
  - paths: ["crm/**"]
    allow: ["role:crm/reader"]
  - paths: ["svc/**"]
    allow: ["client:key"]
  - paths: ["**"]
    allow: ["authenticated"]
"""
PEOPLE_DOCS = {
    "kate/pay.md": "kate pay notes",
    "alice/pay.md": "alice pay notes",
    "crm/pay.md": "crm pay notes",
    "svc/pay.md": "service pay notes",
    "all/pay.md": "pay notes for all",
}


@pytest.fixture
def people(
    tmp_path: Path, index: ChunkIndex, embedder: HashingEmbedder, engine: str, issuer: OidcIssuer
) -> Iterator[TestClient]:
    add_chunks(index, embedder, chunks_from_manifest(tmp_path, PEOPLE, PEOPLE_DOCS))
    settings = settings_for(engine, tmp_path / "data", oidc_issuers=[issuer.config])
    with api_client(settings, index=index, embedder=embedder) as client:
        yield client


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"preferred_username": "\u212aate"}, id="KELVIN SIGN lower-cases to kate"),
        pytest.param({"preferred_username": "\u212aATE"}, id="KELVIN SIGN upper"),
        pytest.param({"preferred_username": "\uff4bate"}, id="fullwidth k"),
        pytest.param({"preferred_username": "mallory", "email": "kate", "email_verified": True}, id="email without @"),
        pytest.param({"preferred_username": "mallory", "email": "KATE", "email_verified": True}, id="email KATE"),
    ],
)
def test_look_alikes_do_not_claim_kates_documents(people: TestClient, issuer: OidcIssuer, claims: dict) -> None:
    assert documents(people, issuer.token(**claims)) == {"all/pay.md"}


def test_kate_herself_still_reads_them(people: TestClient, issuer: OidcIssuer) -> None:
    assert documents(people, issuer.token(preferred_username="Kate")) == {"kate/pay.md", "all/pay.md"}


def test_a_username_shaped_like_an_email_gets_nothing_of_that_emails_grants(
    people: TestClient, issuer: OidcIssuer
) -> None:
    # The manifest's `user:alice@acme.example` is the old spelling of alice's e-mail.
    squatter = issuer.token(preferred_username="alice@acme.example")
    assert documents(people, squatter) == {"all/pay.md"}
    unverified = issuer.token(preferred_username="eve", email="alice@acme.example", email_verified=False)
    assert documents(people, unverified) == {"all/pay.md"}
    alice = issuer.token(preferred_username="alice", email="Alice@Acme.Example", email_verified=True)
    assert documents(people, alice) == {"alice/pay.md", "all/pay.md"}


def test_a_realm_role_named_crm_slash_reader_is_not_client_crms_reader(people: TestClient, issuer: OidcIssuer) -> None:
    realm = issuer.token(preferred_username="ann", realm_access={"roles": ["crm/reader"]})
    assert documents(people, realm) == {"all/pay.md"}
    client = issuer.token(preferred_username="ann", resource_access={"crm": {"roles": ["reader"]}})
    assert documents(people, client) == {"crm/pay.md", "all/pay.md"}
    # Nor does a client whose id holds the '/' reach it.
    other = issuer.token(preferred_username="ann", resource_access={"crm/reader": {"roles": ["x"]}})
    assert documents(people, other) == {"all/pay.md"}


def test_a_look_alike_of_a_service_account_does_not_act_as_its_client(people: TestClient, issuer: OidcIssuer) -> None:
    # "\u212a" lower-cases to "k": compared loosely, this user would pass for client "key"'s service account.
    look_alike = issuer.token(preferred_username="service-account-\u212aey", azp="key")
    assert documents(people, look_alike) == {"all/pay.md"}
    service_account = issuer.token(preferred_username="service-account-key", azp="key")
    assert documents(people, service_account) == {"svc/pay.md", "all/pay.md"}
