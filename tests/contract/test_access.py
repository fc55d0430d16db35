"""Who sees what (CONTRACT.md, Principals, ACL manifest, Identity): each caller's view is compared in full."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.contract import corpus
from tests.contract.conftest import World
from tests.contract.harness import SEARCH_ALL, document_id_of, search, visible
from tests.support.auth import bearer
from tests.support.readiness import wait_for

pytestmark = [pytest.mark.model, pytest.mark.slow]  # `clearance` processes end to end, with the real model

PUBLIC = set(corpus.PUBLIC_MARKERS)
RESTRICTED = "MKENGRESTRICTED"  # allow authenticated, deny group:/eng


def corpus_query() -> dict[str, Any]:
    return dict(SEARCH_ALL)


def token_for(world: World, username: str, **claims: Any) -> str:
    return world.issuer.token(preferred_username=username, **claims)


# --- the main service: a directory file is authoritative -----------------------------------------------------


@pytest.mark.parametrize(
    ("username", "extra"),
    [
        # /eng/backend implies /eng; auditor → viewer → basic composites; a deny of an ancestor group applies.
        ("alice", {"MKBACKEND", "MKENG", "MKAUDIT", "MKBASIC", "MKALICE"}),
        ("bob", {"MKHRSALARY", RESTRICTED}),
        ("mallory", {RESTRICTED}),  # deny user:mallory wins over allow group:/hr
        ("hank", {"MKHRSALARY", RESTRICTED}),  # role:hr-admin
        ("dave", {RESTRICTED}),  # only authenticated
    ],
)
def test_directory_user_sees_exactly_what_the_acls_allow(world: World, username: str, extra: set[str]) -> None:
    assert visible(world.server("main"), token_for(world, username)) == PUBLIC | extra


def test_verified_email_is_an_email_principal(world: World) -> None:
    token = token_for(world, "alice", email="alice.private@mail.example", email_verified=True)
    assert "MKALICEMAIL" in visible(world.server("main"), token)


def test_unverified_email_is_not_an_email_principal(world: World) -> None:
    token = token_for(world, "eve", email="alice.private@mail.example", email_verified=False)
    assert visible(world.server("main"), token) == PUBLIC | {RESTRICTED}


def test_a_username_shaped_like_an_email_is_not_that_email(world: World) -> None:
    assert visible(world.server("main"), token_for(world, "alice.private@mail.example")) == PUBLIC | {RESTRICTED}


def test_nothing_unindexed_or_unreadable_is_ever_found(world: World) -> None:
    """No ACL (no rule), quarantined, and ACLs naming only unknown principals: nobody finds them."""
    everyone = set()
    for username in ("alice", "bob", "mallory", "hank", "dave", "zoe"):
        everyone |= visible(world.server("main"), token_for(world, username))
    assert everyone.isdisjoint({corpus.NO_ACL_MARKER, corpus.INJECTED_MARKER, "MKGHOST", corpus.ACME_MARKER})


def test_unknown_principals_match_nobody(world: World) -> None:
    # The ACL of odd/ names a group, a role and a user that the directory does not know.
    claims = {"groups": ["/ghosts"], "realm_access": {"roles": ["ghost-role"]}}
    assert "MKGHOST" not in visible(world.server("main"), token_for(world, "zoe", **claims))


def test_directory_overrides_token_memberships(world: World) -> None:
    """Once synced, memberships come from the directory: claims in the token grant nothing more."""
    claims = {"groups": ["/hr", "/eng"], "realm_access": {"roles": ["hr-admin", "viewer"]}}
    assert visible(world.server("main"), token_for(world, "dave", **claims)) == PUBLIC | {RESTRICTED}


def test_user_unknown_to_directory_gets_no_group_or_role(world: World) -> None:
    claims = {"groups": ["/hr", "/eng/backend"], "realm_access": {"roles": ["hr-admin", "auditor", "viewer"]}}
    assert visible(world.server("main"), token_for(world, "stranger", **claims)) == PUBLIC | {RESTRICTED}


def test_disabled_user_gets_403(world: World) -> None:
    response = search(world.server("main"), token_for(world, "carol", groups=["/hr"]), {"query": "salary"})
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "MKHRSALARY" not in response.text


def test_disabled_user_cannot_read_documents(world: World) -> None:
    server = world.server("main")
    document_id = document_id_of(server, token_for(world, "dave"), "MKPUB02")
    with server.client() as client:
        response = client.get(f"/v1/documents/{document_id}", headers=bearer(token_for(world, "carol")))
    assert response.status_code == 403, response.text
    assert "MKPUB02" not in response.text


def test_acl_sync_once_succeeds(world: World) -> None:
    assert world.run("sync").returncode == 0, world.run("sync").explain()


def test_dev_token_is_a_caller_like_any_other(world: World) -> None:
    """The dev issuer is another issuer than the directory's: its tokens keep their own principals."""
    server = world.server("main")
    alice = {"MKBACKEND", "MKENG", "MKAUDIT", "MKALICE"}
    assert visible(server, world.dev_token("--user", "alice", "--group", "/eng/backend", "--role", "viewer")) == (
        PUBLIC | alice
    )
    assert visible(server, world.dev_token("--user", "dave", "--group", "/hr")) == PUBLIC | {"MKHRSALARY", RESTRICTED}


def test_the_directory_answers_only_for_its_issuers_tokens(world: World) -> None:
    """carol is disabled and bob is in /hr in the first issuer's directory; a namesake of another issuer is
    neither refused nor given bob's group, and the directory's own issuer still decides for its users."""
    server = world.server("main")
    assert visible(server, world.dev_token("--user", "carol")) == PUBLIC | {RESTRICTED}
    assert visible(server, world.dev_token("--user", "bob")) == PUBLIC | {RESTRICTED}
    assert search(server, token_for(world, "carol"), {"query": "salary"}).status_code == 403


def test_tenants_are_isolated(world: World) -> None:
    server = world.server("main")
    acme = world.acme_issuer.token(preferred_username="zed")
    assert visible(server, acme) == {corpus.ACME_MARKER}
    # An acme caller named like a default-tenant user does not inherit that user's access.
    assert visible(server, world.acme_issuer.token(preferred_username="bob")) == {corpus.ACME_MARKER}
    assert corpus.ACME_MARKER not in visible(server, token_for(world, "alice"))


def test_tenant_comes_from_the_issuer_not_from_a_claim(world: World) -> None:
    server = world.server("main")
    assert corpus.ACME_MARKER not in visible(server, token_for(world, "dave", tenant="acme", tid="acme"))
    assert visible(server, world.acme_issuer.token(preferred_username="zed", tenant="default")) == {corpus.ACME_MARKER}


def test_authorization_is_inside_the_query_not_after_it(world: World) -> None:
    """top_k=1 on a query aimed at a forbidden chunk still returns the best chunk the caller may read."""
    response = search(
        world.server("main"),
        token_for(world, "dave"),
        {"query": "MKHRSALARY Salary bands and bonus targets", "top_k": 1},
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 1
    assert "MKHRSALARY" not in results[0]["text"]


def edit_user(world: World, username: str, change: dict[str, Any] | None) -> None:
    """Rewrite the directory file with one user changed (None: removed), keeping other tests' edits."""
    directory = yaml.safe_load(world.directory_file.read_text())
    users = [user for user in directory["users"] if user["username"] != username]
    if change is not None:
        user = next(user for user in directory["users"] if user["username"] == username)
        users.append({**user, **change})
    corpus.write_yaml(world.directory_file, {**directory, "users": users})


def test_directory_changes_apply_after_the_next_sync(world: World) -> None:
    """Adding erin to /hr grants, disabling her turns every request into 403 (sync interval 1 s)."""
    server = world.server("main")
    assert "MKHRSALARY" not in visible(server, token_for(world, "erin"))
    edit_user(world, "erin", {"groups": ["g-hr"]})
    assert wait_for(lambda: "MKHRSALARY" in visible(server, token_for(world, "erin")), timeout=30)
    edit_user(world, "erin", {"groups": ["g-hr"], "enabled": False})
    disabled = wait_for(
        lambda: search(server, token_for(world, "erin"), {"query": "salary"}).status_code == 403, timeout=30
    )
    assert disabled, "a user disabled in the directory still gets answers"


def test_user_removed_from_directory_loses_memberships(world: World) -> None:
    server = world.server("main")
    assert visible(server, token_for(world, "frank")) == PUBLIC | {"MKHRSALARY", RESTRICTED}
    edit_user(world, "frank", None)

    def revoked() -> bool:
        response = search(server, token_for(world, "frank", groups=["/hr"]), corpus_query())
        # The letter of the contract: an unknown user keeps user/authenticated access only. A 403 (the
        # product remembering a deleted user) is stricter and still safe.
        if response.status_code == 403:
            return True
        assert response.status_code == 200, response.text
        return corpus.markers_in([r["text"] for r in response.json()["results"]]) == PUBLIC | {RESTRICTED}

    assert wait_for(revoked, timeout=30), "a user removed from the directory keeps its group access"


# --- the lib service: no directory, memberships from the token -------------------------------------------------

LIB_PUBLIC = set(corpus.LIB_PUBLIC_AFTER)


@pytest.mark.parametrize(
    ("claims", "extra"),
    [
        pytest.param({}, set(), id="no memberships"),
        pytest.param({"groups": ["/eng/backend"]}, {"MKLBACKEND", "MKLENG", "MKL03"}, id="subgroup implies ancestor"),
        pytest.param({"groups": ["/eng"]}, {"MKLENG", "MKL03"}, id="parent does not imply child"),
        pytest.param({"groups": ["/engineering", "/en", "/eng-backend", "eng"]}, set(), id="prefix not ancestor"),
        pytest.param({"resource_access": {"crm": {"roles": ["reader"]}}}, {"MKLCRM"}, id="client role"),
        pytest.param({"resource_access": {"erp": {"roles": ["reader"]}}}, set(), id="other client's role"),
        pytest.param({"realm_access": {"roles": ["reader"]}}, set(), id="realm role is not a client role"),
        pytest.param({"realm_access": {"roles": ["admin"]}}, {"MKLADMIN"}, id="realm role"),
        pytest.param({"resource_access": {"crm": {"roles": ["admin"]}}}, set(), id="client role is not a realm role"),
        pytest.param({"realm_access": {"roles": ["crm/reader"]}}, set(), id="realm role crm/reader is no client role"),
    ],
)
def test_token_memberships_without_directory(world: World, claims: dict[str, Any], extra: set[str]) -> None:
    assert visible(world.server("lib"), token_for(world, "tom", **claims)) == LIB_PUBLIC | extra


def test_updated_and_deleted_documents_are_reflected_in_search(world: World) -> None:
    seen = visible(world.server("lib"), token_for(world, "tom"))
    assert "MKL00V2" in seen and "MKL04" in seen
    assert "MKL00" not in seen, "the old version of an updated file is still searchable"
    assert "MKL01" not in seen, "a file removed with --delete-missing is still searchable"
    assert "MKL03" not in seen, "a manifest change did not reach an unchanged file's ACL on re-ingest"


def test_dev_token_is_rejected_without_dev_mode(world: World) -> None:
    response = search(world.server("lib"), world.dev_token("--user", "tom"), {"query": "menu"})
    assert response.status_code == 401, response.text
