"""Role names Keycloak 26 accepts, through the real python-keycloak client and the fake server (which reads
a URL as Keycloak does: '#' and '?' end the path on the client side, ';' starts matrix parameters, each
segment is percent-decoded). Observed attack on the sync: one such role anywhere in the realm made every
pull fail, so revocations stopped and search failed closed after CLEARANCE_DIRECTORY_MAX_AGE."""

from __future__ import annotations

import pytest
import requests

from access_index.directory import build_snapshot
from access_index.errors import PullError
from tests.acl_sync.conftest import Realm, source_for
from tests.support.fake_keycloak import FakeKeycloak, Fault

# Realm role names Keycloak accepts that an HTTP URL does not carry as they are.
AWKWARD = ["a#b", "what?", "50%", "pct%41", "pct%2Fslash", "x;y=1"]


def test_awkward_role_names_do_not_stop_the_sync_and_reach_their_holders(keycloak: FakeKeycloak, realm: Realm) -> None:
    r = keycloak.realm
    # Decoys at the paths an unencoded request would reach instead ('#'/'?' cut the path, '%41' decodes).
    for decoy in ("a", "what", "pctA", "pct/slash"):
        r.map_user_role(realm.carol, r.add_realm_role(decoy))
    for name in AWKWARD:
        r.map_user_role(realm.alice, r.add_realm_role(name))
    r.add_client("crm")
    r.map_group_role(realm.hr, r.add_client_role("crm", "team/reader"))  # '/' in a client role
    r.add_client("https://sp.example/saml")  # a SAML client: its clientId is a URL
    r.map_user_role(realm.bob, r.add_client_role("https://sp.example/saml", "viewer"))
    data = source_for(keycloak).pull()
    snapshot = build_snapshot(data, None)
    alice = snapshot.resolve("alice", None).tokens
    assert {"role:a#b", "role:what?", "role:50%25", "role:pct%2541", "role:pct%252Fslash"} <= alice
    assert not {"role:a", "role:what", "role:pctA", "role:pct%2Fslash"} & alice
    carol = snapshot.resolve("carol", None).tokens
    assert {"role:a", "role:what", "role:pctA", "role:pct%2Fslash"} <= carol
    assert not {"role:a#b", "role:what?", "role:pct%2541"} & carol
    bob = snapshot.resolve("bob", None).tokens
    assert {"client-role:crm/team%2Freader", "client-role:https:%2F%2Fsp.example%2Fsaml/viewer"} <= bob
    # 'x;y=1' is read, but a ';' can never be in a principal: it grants nothing, and says so.
    assert any("role:x;y=1" in warning for warning in data.warnings)
    assert not data.unreadable_roles


def test_a_role_keycloak_will_not_address_is_skipped_with_a_warning_not_the_pull(
    keycloak: FakeKeycloak, realm: Realm
) -> None:
    r = keycloak.realm
    r.map_user_role(realm.alice, r.add_realm_role("proxied/away"))
    r.map_user_role(realm.alice, r.add_realm_role(".."))  # a dot segment no HTTP client sends as it is
    r.map_user_role(realm.alice, r.add_realm_role("fine"))
    # A proxy in front of Keycloak that refuses encoded slashes, as Apache does by default.
    with keycloak.fault(Fault("proxied%2Faway", status=404)):
        data = source_for(keycloak).pull()
    assert data.unreadable_roles == {"role:proxied%2Faway", "role:.."}
    assert sum("proxied%2Faway" in w for w in data.warnings) == 1 and any("'role:..'" in w for w in data.warnings)
    assert "role:fine" in build_snapshot(data, None).resolve("alice", None).tokens
    # Never a request that dot-segment removal would send elsewhere.
    assert not any("/roles/../" in path or path.endswith("/roles/..") for path in keycloak.requests)


def test_a_server_error_on_one_role_still_fails_the_pull(keycloak: FakeKeycloak, realm: Realm) -> None:
    """Only "this role cannot be addressed" (400/404) is skipped; anything else may be transient: retry."""
    keycloak.realm.add_realm_role("flaky")
    with keycloak.fault(Fault("/roles/flaky/", status=503)), pytest.raises(PullError) as caught:
        source_for(keycloak).pull()
    assert caught.value.retryable


def test_the_fake_reads_urls_as_keycloak_does(keycloak: FakeKeycloak, realm: Realm) -> None:
    """Unencoded names reach another resource; encoded ones reach the role (the reason for the encoding)."""
    r = keycloak.realm
    r.map_user_role(realm.carol, r.add_realm_role("a"))
    r.map_user_role(realm.alice, r.add_realm_role("a#b"))
    r.map_user_role(realm.bob, r.add_realm_role("x;y"))
    form = {
        "grant_type": "client_credentials",
        "client_id": keycloak.sync_client.client_id,
        "client_secret": keycloak.sync_client.secret,
    }
    headers = {"Authorization": f"Bearer {keycloak.token_response(form)[1]['access_token']}"}

    def get(path: str) -> requests.Response:
        return requests.get(f"{keycloak.url}admin/realms/acme/roles/{path}", headers=headers, timeout=5)

    assert get("a#b/users").json()["name"] == "a"  # the path ends at '#': role "a" itself, not its users
    assert [user["username"] for user in get("a%23b/users").json()] == ["alice"]
    assert get("x;y/users").status_code == 404  # ';' starts matrix parameters: role "x", which does not exist
    assert [user["username"] for user in get("x%3By/users").json()] == ["bob"]
