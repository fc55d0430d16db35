"""Admin REST groups: top-level groups and search, the count, one group, its children, members and
role mappings."""

from __future__ import annotations

from tests.support.fake_keycloak.routing import Request, Response, Routes


def get_groups(request: Request, rest: list[str]) -> Response | None:
    realm = request.realm
    if not rest:
        groups = realm.children(None)
        search = request.query.get("search")
        if search:
            groups = [g for g in groups if search.lower() in g.name.lower()]
        return 200, [realm.group_json(g, request.brief(True)) for g in request.page(groups)]
    if rest == ["count"]:
        top = request.query.get("top", "false").lower() == "true"
        count = len(realm.children(None)) if top else len(realm.groups)
        return 200, {"count": count}
    group = realm.groups.get(rest[0])
    if group is None:
        return 404, {"error": "Could not find group by id"}
    tail = rest[1:]
    if not tail:
        return 200, realm.group_json(group, brief=False)
    if tail == ["children"]:
        return 200, [realm.group_json(g, request.brief(False)) for g in request.page(realm.children(group.id))]
    if tail == ["members"]:
        users = realm.memo(
            "members",
            group.id,
            lambda: sorted((realm.users[u] for u in realm.members[group.id]), key=lambda u: u.username),
        )
        return 200, [realm.user_json(u, request.brief(False)) for u in request.page(users)]
    if tail == ["role-mappings"]:
        return 200, realm.mappings_json(realm.group_roles[group.id])
    if tail == ["role-mappings", "realm"]:
        return 200, realm.mappings_json(realm.group_roles[group.id]).get("realmMappings", [])
    if tail[:2] == ["role-mappings", "clients"] and len(tail) == 3:
        return 200, realm.client_mappings(realm.group_roles[group.id], tail[2])
    return 404, {"error": "Could not find resource"}


ROUTES: Routes = {("GET", "groups"): get_groups}
