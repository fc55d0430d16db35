"""Pulling Authorization Services from the fake Keycloak with the real python-keycloak, and the sync around it:
ids resolved to names, lists cross-checked, a failed or short pull keeping the last good model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from access_index.authz_model import load_authz_model
from access_index.errors import PullError
from acl_sync.authz_pull import pull_authz
from acl_sync.retry import Backoff
from acl_sync.sync import SyncOptions, sync_once
from tests.acl_sync.conftest import Realm, keycloak_settings, source_for
from tests.support.fake_keycloak import FakeKeycloak, Fault
from tests.support.fake_keycloak.authz import ResourceServer

FAST = SyncOptions(backoff=Backoff(attempts=2, base_seconds=0.01))


@pytest.fixture
def docs(keycloak: FakeKeycloak, realm: Realm) -> ResourceServer:
    """Client `docs`: resource HR (wiki/hr/**) readable by /hr except carol; Eng by /eng and its children."""
    keycloak.realm.add_client("docs")
    authz = keycloak.realm.authorization("docs")
    hr = authz.add_resource("HR", ["/wiki/hr/**"], attributes={"classification": ["confidential"]})
    eng = authz.add_resource("Eng", ["wiki/eng/**"])
    hr_members = authz.group_policy("hr-members", [realm.hr], extend_children=False)
    not_carol = authz.user_policy("not-carol", [realm.carol], logic="NEGATIVE")
    eng_tree = authz.group_policy("eng-tree", [realm.eng], extend_children=True)
    authz.add_permission("hr-read", [hr], [hr_members, not_carol])
    authz.add_permission("eng-read", [eng], [eng_tree])
    return authz


def test_the_pull_reads_the_model_and_resolves_ids_to_names(keycloak: FakeKeycloak, docs: ResourceServer) -> None:
    data = pull_authz(source_for(keycloak), "docs")
    assert sorted(r.name for r in data.resources) == ["Eng", "HR"]
    assert sorted(p.name for p in data.permissions) == ["eng-read", "hr-read"]
    hr_read = next(p for p in data.permissions if p.name == "hr-read")
    assert {data.policies[i].name for i in hr_read.associated} == {"hr-members", "not-carol"}
    assert set(data.names.users.values()) == {"carol"}
    assert {g.path for g in data.names.groups.values()} == {"/hr", "/eng"}


def test_a_client_role_policy_resolves_to_its_client_role_token(keycloak: FakeKeycloak, docs: ResourceServer) -> None:
    keycloak.realm.add_client("crm")
    role = keycloak.realm.add_client_role("crm", "reader")
    docs.role_policy("crm-readers", [(role, False)])
    data = pull_authz(source_for(keycloak), "docs")
    assert set(data.names.roles.values()) == {"client-role:crm/reader"}


def test_an_unknown_client_is_a_permanent_error_naming_the_setting(keycloak: FakeKeycloak, realm: Realm) -> None:
    with pytest.raises(PullError, match="CLEARANCE_KEYCLOAK_AUTHZ_CLIENT") as raised:
        pull_authz(source_for(keycloak), "nope")
    assert raised.value.retryable is False


def test_attack_a_list_that_comes_back_short_is_refused(keycloak: FakeKeycloak, docs: ResourceServer) -> None:
    # The second read of the permissions misses one: without the cross-check the model would simply lack it.
    with keycloak.fault(Fault("/authz/resource-server/permission", kind="drop_last")), pytest.raises(PullError):
        pull_authz(source_for(keycloak), "docs")
    with keycloak.fault(Fault("/authz/resource-server/resource", kind="empty_page")), pytest.raises(PullError):
        pull_authz(source_for(keycloak), "docs")


def test_a_deleted_user_named_by_a_policy_fails_that_resource_closed(
    keycloak: FakeKeycloak, realm: Realm, docs: ResourceServer, data_dir: Path
) -> None:
    keycloak.realm.delete_user(realm.carol)  # still named by the negative policy (a stale id)
    settings = keycloak_settings(keycloak, data_dir, keycloak_authz_client="docs")
    report = sync_once(settings, None, FAST)
    assert report.outcome == "ok"
    assert report.authz is not None
    (hr,) = [r for r in report.authz.resources if r.name == "HR"]
    assert hr.acl is None and "does not resolve" in hr.reason
    assert any("'HR'" in warning and "'hr-read'" in warning for warning in report.warnings)


def test_the_sync_saves_the_model_and_reports_unsupported_resources(
    keycloak: FakeKeycloak, realm: Realm, docs: ResourceServer, data_dir: Path
) -> None:
    office = docs.add_policy("office-hours", "time", {"hour": "9", "hourEnd": "17"})
    board = docs.add_resource("Board", ["wiki/board/**"])
    docs.add_permission("board-read", [board], [office])
    settings = keycloak_settings(keycloak, data_dir, keycloak_authz_client="docs")
    report = sync_once(settings, None, FAST)
    assert report.outcome == "ok"
    unsupported = json.loads(json.dumps(report.to_dict()))["authz"]["unsupported"]
    assert [(u["resource"], u["permissions"]) for u in unsupported] == [("Board", ["board-read"])]
    assert "time" in unsupported[0]["reason"]
    saved = load_authz_model(settings.paths.authz_model)
    assert saved is not None
    (hr,) = [r for r in saved.resources if r.name == "HR"]
    assert hr.acl is not None and (hr.acl.allow, hr.acl.deny) == (("group:/hr",), ("user:carol",))


def test_a_failed_pull_or_an_invalid_uri_keeps_the_last_good_model(
    keycloak: FakeKeycloak, realm: Realm, docs: ResourceServer, data_dir: Path
) -> None:
    settings = keycloak_settings(keycloak, data_dir, keycloak_authz_client="docs")
    assert sync_once(settings, None, FAST).outcome == "ok"
    good = settings.paths.authz_model.read_bytes()
    docs.update_policy(next(i for i, p in docs.policies.items() if p.name == "hr-members"), config={"groups": []})
    with keycloak.fault(Fault("/associatedPolicies", status=503)):
        report = sync_once(settings, None, FAST)
    assert report.outcome == "failed" and any(p.stage == "authz" for p in report.errors)
    assert settings.paths.authz_model.read_bytes() == good
    docs.add_resource("Broken", ["wiki/{a,b}/**"])
    report = sync_once(settings, None, FAST)
    assert report.outcome == "failed" and "'Broken'" in str(report.errors[0])
    assert settings.paths.authz_model.read_bytes() == good
