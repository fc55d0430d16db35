"""Admin REST roles: realm roles by name (and client roles, through `clients`), their users, groups
and composites, and roles by id."""

from __future__ import annotations

from tests.support.fake_keycloak.routing import NOT_FOUND, Request, Response, Routes


def get_realm_roles(request: Request, rest: list[str]) -> Response | None:
    return roles_of(request, rest, request.realm.id)


def get_roles_by_id(request: Request, rest: list[str]) -> Response | None:
    if not rest:
        return None
    realm = request.realm
    role = realm.roles.get(rest[0])
    if role is None:
        return NOT_FOUND
    if rest[1:] == ["composites"]:
        return 200, request.page([realm.role_json(realm.roles[r]) for r in sorted(role.composites)], None)
    return (200, realm.role_json(role)) if len(rest) == 1 else NOT_FOUND


def roles_of(request: Request, rest: list[str], container: str) -> Response | None:
    realm = request.realm
    roles = sorted((r for r in realm.roles.values() if r.container_id == container), key=lambda r: r.name)
    if not rest:
        return 200, [realm.role_json(r) for r in request.page(roles, None)]
    role = next((r for r in roles if r.name == rest[0]), None)
    if role is None:
        return 404, {"error": "Could not find role"}
    tail = rest[1:]
    if not tail:
        return 200, realm.role_json(role)
    if tail == ["users"]:
        users = realm.role_users(role.id)
        return 200, [realm.user_json(u, request.brief(False)) for u in request.page(users)]
    if tail == ["groups"]:
        groups = sorted(
            (realm.groups[g] for g, mapped in realm.group_roles.items() if role.id in mapped),
            key=lambda g: realm.path(g.id),
        )
        return 200, [realm.group_json(g, request.brief(True)) for g in request.page(groups)]
    if tail == ["composites"]:
        return 200, [realm.role_json(realm.roles[r]) for r in sorted(role.composites)]
    return 404, {"error": "Could not find resource"}


ROUTES: Routes = {("GET", "roles"): get_realm_roles, ("GET", "roles-by-id"): get_roles_by_id}
