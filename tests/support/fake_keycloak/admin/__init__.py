"""The Admin REST API under /admin/realms/{realm}/, one module per resource family.

Each module exports `ROUTES` keyed by (method, first path segment); routes run under the realm lock
and only for a caller holding the sync's client-credentials token. To add a family, write its module and
merge its `ROUTES` here; a client's sub-resources (its roles, its Authorization Services in `authz`) are in
`clients.SUBRESOURCES`.
"""

from __future__ import annotations

from tests.support.fake_keycloak.admin import clients, groups, roles, users
from tests.support.fake_keycloak.routing import Routes

ROUTES: Routes = {**users.ROUTES, **groups.ROUTES, **roles.ROUTES, **clients.ROUTES}
