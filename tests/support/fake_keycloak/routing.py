"""How requests reach the resource families: a `Route` per (method, first path segment) under a prefix.

Under `/realms/{realm}/` the routes are the OpenID endpoints (`openid`); under
`/admin/realms/{realm}/` the Admin REST resource families (`admin.users`, `admin.groups`,
`admin.roles`, `admin.clients`). Each family module exports `ROUTES`; `server` merges them. A route
gets the request and the path segments after its own, and returns `(status, body)`, or None when it
has no such resource (the server then answers 404 as Keycloak does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.fake_keycloak.realm import FakeRealm
    from tests.support.fake_keycloak.server import FakeKeycloak

DEFAULT_MAX = 100  # Keycloak's default page size where `max` is not given

Response = tuple[int, Any]
NOT_FOUND: Response = (404, {"error": "Could not find resource"})


@dataclass
class Request:
    """One request as a route sees it: the query (last value of each key) and, for a POST, the form."""

    server: FakeKeycloak
    method: str
    query: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> FakeRealm:
        return self.server.realm

    def page(self, items: list[Any], default_max: int | None = DEFAULT_MAX) -> list[Any]:
        """`first`/`max` pagination as Keycloak does it: `first` an offset, `max` a page size."""
        first = int(self.query.get("first", 0) or 0)
        raw_max = self.query.get("max")
        size = int(raw_max) if raw_max not in (None, "") else default_max
        if first < 0:
            first = 0
        if size is None or size < 0:
            return items[first:]
        return items[first : first + size]

    def brief(self, default: bool) -> bool:
        value = self.query.get("briefRepresentation")
        return default if value is None else value.lower() == "true"


Route = Callable[[Request, list[str]], Response | None]
Routes = dict[tuple[str, str], Route]  # (method, first path segment) -> route
