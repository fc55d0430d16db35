"""Admin REST clients: the list (by clientId), one client, and its sub-resources (its roles, and its
Authorization Services under `authz/`: admin/authz.py)."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.fake_keycloak.admin.authz import get_authz
from tests.support.fake_keycloak.admin.roles import roles_of
from tests.support.fake_keycloak.model import Client
from tests.support.fake_keycloak.routing import NOT_FOUND, Request, Response, Routes


def get_clients(request: Request, rest: list[str]) -> Response | None:
    realm = request.realm
    if not rest:
        found = sorted(realm.clients.values(), key=lambda c: c.client_id)
        wanted = request.query.get("clientId")
        if wanted:
            found = [c for c in found if c.client_id == wanted]
        return 200, [realm.client_json(c) for c in request.page(found, None)]
    client = realm.clients.get(rest[0])
    if client is None:
        return NOT_FOUND
    if len(rest) == 1:
        return 200, realm.client_json(client)
    subresource = SUBRESOURCES.get(rest[1])
    return subresource(request, client, rest[2:]) if subresource is not None else None


def get_client_roles(request: Request, client: Client, rest: list[str]) -> Response | None:
    return roles_of(request, rest, client.id)


# /clients/{id}/{name}/...: what a client holds, by name.
SUBRESOURCES: dict[str, Callable[[Request, Client, list[str]], Response | None]] = {
    "roles": get_client_roles,
    "authz": get_authz,
}

ROUTES: Routes = {("GET", "clients"): get_clients}
