"""Fixtures of the ACL-sync tests: a fake Keycloak on 127.0.0.1 with a small realm, and settings for it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from access_index.settings import Settings
from acl_sync.keycloak_source import KeycloakSource
from tests.conftest import settings_for
from tests.support.fake_keycloak import FakeKeycloak


@dataclass(frozen=True)
class Realm:
    """Ids of the small realm built by `keycloak`."""

    eng: str
    backend: str
    hr: str
    alice: str
    bob: str
    carol: str


@pytest.fixture
def keycloak() -> Iterator[FakeKeycloak]:
    server = FakeKeycloak().start()
    yield server
    server.stop()


@pytest.fixture
def realm(keycloak: FakeKeycloak) -> Realm:
    """/eng, /eng/backend, /hr; alice in /eng/backend, bob in /hr, carol in /eng/backend (disabled later)."""
    r = keycloak.realm
    eng = r.add_group("eng")
    backend = r.add_group("backend", eng)
    hr = r.add_group("hr")
    alice = r.add_user("alice", "alice@acme.example")
    bob = r.add_user("bob", "bob@acme.example")
    carol = r.add_user("carol", "carol@acme.example")
    r.add_member(backend, alice)
    r.add_member(hr, bob)
    r.add_member(backend, carol)
    return Realm(eng, backend, hr, alice, bob, carol)


def keycloak_settings(keycloak: FakeKeycloak, data_dir: Path, engine: str = "edge", **overrides: object) -> Settings:
    return settings_for(
        engine,
        data_dir,
        keycloak_url=keycloak.url,
        keycloak_realm=keycloak.realm.name,
        keycloak_client_id=keycloak.sync_client.client_id,
        keycloak_client_secret=keycloak.sync_client.secret,
        **overrides,
    )


def source_for(keycloak: FakeKeycloak, timeout: float = 5.0) -> KeycloakSource:
    return KeycloakSource(
        keycloak.url, keycloak.realm.name, keycloak.sync_client.client_id, keycloak.sync_client.secret, timeout
    )
