"""The Keycloak Authorization Services compiler, against the mapping table of docs/acl-semantics.md.

Each "attack" case is a Keycloak model whose nearest "any of these, none of those" ACL would let someone read
what Keycloak denies them (or names someone Keycloak never named): the compiler must give the resource no ACL,
never that approximation, and say which permission and policy and why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest

from access_index.errors import PullError
from acl_sync.authz_compile import compile_model
from acl_sync.authz_data import AuthzData, GroupName, Names, PulledPolicy, PulledResource

NAMES = Names(
    users={"u-alice": "alice", "u-mallory": "mallory", "u-lookalike": "\uff4dallory"},
    groups={
        "g-eng": GroupName("/eng", 1),
        "g-backend": GroupName("/eng/backend", 0),
        "g-hr": GroupName("/hr", 0),
    },
    roles={"r-auditor": "role:auditor", "r-viewer": "role:viewer", "r-crm": "client-role:crm/reader"},
    clients={"c-bot": "report-bot"},
)


def policy(pid: str, kind: str, logic: str = "POSITIVE", strategy: str = "UNANIMOUS", **config: Any) -> PulledPolicy:
    associated = tuple(config.pop("associated", ()))
    text = {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}
    return PulledPolicy(pid, pid, kind, logic, strategy, text, associated)


def users(pid: str, *ids: str, logic: str = "POSITIVE") -> PulledPolicy:
    return policy(pid, "user", logic, users=list(ids))


def groups(pid: str, *ids: str, extend: bool = True, logic: str = "POSITIVE") -> PulledPolicy:
    return policy(pid, "group", logic, groups=[{"id": i, "extendChildren": extend} for i in ids])


def permission(
    pid: str, *policies: str, strategy: str = "UNANIMOUS", resources: Iterable[str] = ("r1",)
) -> PulledPolicy:
    return PulledPolicy(pid, pid, "resource", "POSITIVE", strategy, {}, tuple(policies), tuple(resources))


def compiled(
    policies: Iterable[PulledPolicy],
    permissions: Iterable[PulledPolicy],
    resources: Iterable[PulledResource] = (PulledResource("r1", "wiki", ("wiki/**",)),),
    strategy: str = "UNANIMOUS",
    names: Names = NAMES,
) -> dict[str, Any]:
    data = AuthzData(
        "docs",
        strategy,
        tuple(resources),
        tuple(permissions),
        {p.id: p for p in policies},
        names,
        "2026-01-01T00:00:00+00:00",
    )
    return {resource.id: resource for resource in compile_model(data).resources}


def acl_of(policies: Iterable[PulledPolicy], permissions: Iterable[PulledPolicy], **kwargs: Any) -> tuple[Any, ...]:
    resource = compiled(policies, permissions, **kwargs)["r1"]
    assert resource.acl is not None, resource.reason
    return resource.acl.allow, resource.acl.deny


def refused(policies: Iterable[PulledPolicy], permissions: Iterable[PulledPolicy], **kwargs: Any) -> str:
    resource = compiled(policies, permissions, **kwargs)["r1"]
    assert resource.acl is None, f"approximated as {resource.acl}"
    return resource.reason


# --- what maps ------------------------------------------------------------------------------------------


def test_user_group_role_and_client_policies_become_principals() -> None:
    assert acl_of([users("p", "u-alice")], [permission("read", "p")]) == (("user:alice",), ())
    assert acl_of([groups("p", "g-eng")], [permission("read", "p")]) == (("group:/eng",), ())
    roles = policy("p", "role", roles=[{"id": "r-auditor", "required": False}, {"id": "r-crm", "required": False}])
    assert acl_of([roles], [permission("read", "p")]) == (("client-role:crm/reader", "role:auditor"), ())
    assert acl_of([policy("p", "client", clients=["c-bot"])], [permission("read", "p")]) == (("client:report-bot",), ())


def test_a_group_without_extend_children_maps_only_when_it_has_no_subgroups() -> None:
    assert acl_of([groups("p", "g-backend", extend=False)], [permission("read", "p")]) == (("group:/eng/backend",), ())


def test_one_required_role_is_the_grant() -> None:
    roles = policy("p", "role", roles=[{"id": "r-auditor", "required": True}, {"id": "r-viewer", "required": False}])
    assert acl_of([roles], [permission("read", "p")]) == (("role:auditor",), ())


def test_unanimous_positive_and_negative_policies_give_allow_and_deny() -> None:
    allowed, denied = acl_of(
        [groups("hr", "g-hr"), users("no-mallory", "u-mallory", logic="NEGATIVE")],
        [permission("read", "hr", "no-mallory")],
    )
    assert (allowed, denied) == (("group:/hr",), ("user:mallory",))


def test_affirmative_over_positive_policies_is_their_union() -> None:
    allowed, _ = acl_of(
        [groups("hr", "g-hr"), users("alice", "u-alice")], [permission("read", "hr", "alice", strategy="AFFIRMATIVE")]
    )
    assert allowed == ("group:/hr", "user:alice")


def test_aggregated_policies_compile_like_permissions() -> None:
    either = policy("either", "aggregate", strategy="AFFIRMATIVE", associated=["hr", "alice"])
    not_mallory = policy("not-mallory", "aggregate", logic="NEGATIVE", associated=["mallory"])
    allowed, denied = acl_of(
        [groups("hr", "g-hr"), users("alice", "u-alice"), users("mallory", "u-mallory"), either, not_mallory],
        [permission("read", "either", "not-mallory")],
    )
    assert (allowed, denied) == (("group:/hr", "user:alice"), ("user:mallory",))


def test_several_permissions_combine_by_the_resource_servers_strategy() -> None:
    policies = [groups("hr", "g-hr"), users("alice", "u-alice")]
    permissions = [permission("a", "hr"), permission("b", "alice")]
    allowed, _ = acl_of(policies, permissions, strategy="AFFIRMATIVE")
    assert allowed == ("group:/hr", "user:alice")
    assert "UNANIMOUS over the resource server's 2 permissions" in refused(policies, permissions, strategy="UNANIMOUS")


def test_a_permission_on_a_resource_type_covers_every_resource_of_that_type() -> None:
    typed = PulledPolicy("t", "by-type", "resource", "POSITIVE", "UNANIMOUS", {}, ("hr",), (), resource_type="urn:wiki")
    resources = [
        PulledResource("r1", "one", ("wiki/a/**",), type="urn:wiki"),
        PulledResource("r2", "two", ("wiki/b/**",), type="urn:other"),
    ]
    result = compiled([groups("hr", "g-hr")], [typed], resources=resources)
    assert result["r1"].acl is not None and result["r1"].acl.allow == ("group:/hr",)
    assert result["r2"].acl is None and "no permission" in result["r2"].reason


def test_attributes_become_labels_and_a_leading_slash_uri_is_accepted() -> None:
    resource = PulledResource("r1", "wiki", ("/wiki/**",), attributes={"classification": ("confidential",)})
    result = compiled([groups("hr", "g-hr")], [permission("read", "hr")], resources=[resource])["r1"]
    assert result.acl is not None and dict(result.acl.labels) == {"classification": "confidential"}
    assert result.permissions == ("read",)
    assert "permission 'read'" in result.reason


# --- what must never be approximated ---------------------------------------------------------------------


def test_attack_group_policy_without_children_on_a_group_with_subgroups() -> None:
    # group:/eng also matches /eng/backend members, whom Keycloak's policy (no extendChildren) does not grant.
    reason = refused([groups("eng", "g-eng", extend=False)], [permission("read", "eng")])
    assert "'/eng' has subgroups" in reason and "permission 'read'" in reason and "policy 'eng'" in reason


def test_attack_unanimous_over_two_positive_policies_is_not_a_union() -> None:
    reason = refused([groups("hr", "g-hr"), users("alice", "u-alice")], [permission("read", "hr", "alice")])
    assert "intersection" in reason


@pytest.mark.parametrize("kind", ["time", "js", "regex", "client-scope", "user-attribute", "made-up"])
def test_attack_policies_that_decide_from_something_other_than_identity(kind: str) -> None:
    other = policy("other", kind, notBefore="2026-01-01 00:00:00", code="$evaluation.grant()", pattern=".*")
    # Beside a group grant, under AFFIRMATIVE (it could only add readers) or UNANIMOUS (only remove): both refused.
    for strategy in ("AFFIRMATIVE", "UNANIMOUS"):
        reason = refused([groups("hr", "g-hr"), other], [permission("read", "hr", "other", strategy=strategy)])
        assert f"policy 'other' ({kind})" in reason


def test_attack_a_time_policy_hidden_inside_an_aggregate() -> None:
    inner = policy("office-hours", "time", hour="9", hourEnd="17")
    outer = policy("hr-in-hours", "aggregate", associated=["hr", "office-hours"])
    reason = refused([groups("hr", "g-hr"), inner, outer], [permission("read", "hr-in-hours")])
    assert "policy 'hr-in-hours' (aggregate)" in reason and "policy 'office-hours' (time)" in reason


def test_attack_consensus_anywhere() -> None:
    assert "CONSENSUS" in refused([groups("hr", "g-hr")], [permission("read", "hr", strategy="CONSENSUS")])
    both = [groups("hr", "g-hr"), users("alice", "u-alice")]
    assert "CONSENSUS" in refused(both, [permission("a", "hr"), permission("b", "alice")], strategy="CONSENSUS")


def test_attack_affirmative_with_a_negative_policy_grants_everyone_else() -> None:
    policies = [groups("hr", "g-hr"), users("no-mallory", "u-mallory", logic="NEGATIVE")]
    assert "deny different callers" in refused(
        policies, [permission("read", "hr", "no-mallory", strategy="AFFIRMATIVE")]
    )


def test_attack_only_negative_policies_grant_everyone_outside_a_set() -> None:
    reason = refused([users("no-mallory", "u-mallory", logic="NEGATIVE")], [permission("read", "no-mallory")])
    assert "everyone outside a set" in reason


def test_attack_two_required_roles_are_an_intersection() -> None:
    roles = policy("p", "role", roles=[{"id": "r-auditor", "required": True}, {"id": "r-viewer", "required": True}])
    assert "requires all of" in refused([roles], [permission("read", "p")])


def test_attack_a_negated_client_policy_would_deny_too_few() -> None:
    # Keycloak denies every token issued to the client; client:report-bot is only its service account.
    policies = [groups("hr", "g-hr"), policy("no-bot", "client", logic="NEGATIVE", clients=["c-bot"])]
    assert "negating a client policy" in refused(policies, [permission("read", "hr", "no-bot")])


def test_attack_negating_a_policy_that_itself_denies() -> None:
    inner = policy("hr-not-mallory", "aggregate", associated=["hr", "no-mallory"])
    negated = policy("outside", "aggregate", logic="NEGATIVE", associated=["hr-not-mallory"])
    policies = [groups("hr", "g-hr"), users("no-mallory", "u-mallory", logic="NEGATIVE"), inner, negated]
    policies.append(users("alice", "u-alice"))
    assert "itself denies" in refused(policies, [permission("read", "alice", "outside")])


@pytest.mark.parametrize("logic", ["POSITIVE", "NEGATIVE"])
def test_attack_an_id_that_no_longer_resolves_is_never_dropped(logic: str) -> None:
    # Dropped from a negative policy, a deleted-and-recreated account would no longer be denied.
    policies = [groups("hr", "g-hr"), users("ghost", "u-deleted", logic=logic)]
    assert "does not resolve" in refused(policies, [permission("read", "hr", "ghost")])
    ghost_group = groups("gone", "g-deleted", logic=logic)
    assert "does not resolve" in refused([groups("hr", "g-hr"), ghost_group], [permission("read", "hr", "gone")])


def test_attack_a_look_alike_user_name_is_no_principal() -> None:
    reason = refused(
        [groups("hr", "g-hr"), users("no", "u-lookalike", logic="NEGATIVE")], [permission("read", "hr", "no")]
    )
    assert "names no valid principal" in reason


def test_attack_a_cycle_of_aggregates_and_a_missing_association() -> None:
    a = policy("a", "aggregate", associated=["b"])
    b = policy("b", "aggregate", associated=["a"])
    assert "nested in itself" in refused([a, b], [permission("read", "a")])
    assert "was not listed" in refused([], [permission("read", "missing")])


def test_resources_without_a_usable_acl() -> None:
    assert "grants nobody" in refused([], [permission("read")])
    assert "no permission covers it" in refused([groups("hr", "g-hr")], [])
    assert "scope-based" in refused(
        [groups("hr", "g-hr")], [PulledPolicy("s", "s", "scope", "POSITIVE", "UNANIMOUS", {}, ("hr",), ("r1",))]
    )
    owned = PulledResource("r1", "wiki", ("wiki/**",), owner_managed=True)
    assert "UMA" in refused([groups("hr", "g-hr")], [permission("read", "hr")], resources=[owned])
    multi = PulledResource("r1", "wiki", ("wiki/**",), attributes={"level": ("1", "2")})
    assert "2 values" in refused([groups("hr", "g-hr")], [permission("read", "hr")], resources=[multi])


@pytest.mark.parametrize("uri", ["../etc/**", "wiki/{a,b}/**", "wiki/[z-a]", ""])
def test_a_uri_outside_the_glob_grammar_refuses_the_whole_model(uri: str) -> None:
    bad = PulledResource("r2", "broken", (uri,))
    with pytest.raises(PullError, match="broken") as raised:
        compiled(
            [groups("hr", "g-hr")], [permission("read", "hr")], resources=[PulledResource("r1", "w", ("w/**",)), bad]
        )
    assert raised.value.retryable is False
