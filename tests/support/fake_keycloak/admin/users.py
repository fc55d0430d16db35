"""Admin REST users: the list and search, the count, one user, its groups and role mappings."""

from __future__ import annotations

from tests.support.fake_keycloak.model import User
from tests.support.fake_keycloak.routing import Request, Response, Routes


def get_users(request: Request, rest: list[str]) -> Response | None:
    realm = request.realm
    # Like Keycloak, the user search and count leave service-account users out.
    users: list[User] = realm.memo(
        "users",
        None,
        lambda: sorted((u for u in realm.users.values() if not u.service_account), key=lambda u: u.username),
    )
    for key in ("username", "email"):
        wanted = request.query.get(key)
        if wanted:
            exact = request.query.get("exact", "false").lower() == "true"
            users = [
                u
                for u in users
                if (getattr(u, key) or "") == wanted.lower()
                or (not exact and wanted.lower() in (getattr(u, key) or ""))
            ]
    if not rest:
        return 200, [realm.user_json(u, request.brief(False)) for u in request.page(users)]
    if rest == ["count"]:
        return 200, len(users)
    user = realm.users.get(rest[0])
    if user is None:
        return 404, {"error": "User not found"}
    if len(rest) == 1:
        return 200, realm.user_json(user)
    if rest[1:] == ["groups"]:
        groups = sorted((realm.groups[g] for g in realm.user_group_ids(user.id)), key=lambda g: realm.path(g.id))
        return 200, [realm.group_json(g, request.brief(True)) for g in request.page(groups)]
    if rest[1:] == ["role-mappings"]:
        return 200, realm.mappings_json(realm.user_roles[user.id])
    if rest[1:] == ["role-mappings", "realm"]:
        return 200, realm.mappings_json(realm.user_roles[user.id]).get("realmMappings", [])
    if rest[1:3] == ["role-mappings", "clients"] and len(rest) == 4:
        return 200, realm.client_mappings(realm.user_roles[user.id], rest[3])
    return 404, {"error": "Could not find resource"}


ROUTES: Routes = {("GET", "users"): get_users}
