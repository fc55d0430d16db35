"""A Keycloak-compatible server for tests and benchmarks, on 127.0.0.1, driven by the real python-keycloak.

It implements the Admin REST endpoints Clearance's sync calls (users, groups with `subGroupCount` and
`/children`, group members, realm and client roles, composites, role members, role mappings of users and
groups), a client's Authorization Services (resource server, resources, policies, permissions and their
associations), `first`/`max` pagination as Keycloak does it (results ordered, `first` is an offset, `max` a page
size), the OpenID token endpoint (client credentials for the sync, password grant for user tokens) and
the JWKS, with the JSON representations documented in Keycloak's Admin REST API reference.

The realm is changed through Python methods (tests run in-process); every change records `changed_at`
so the time from an IAM change to its effect can be measured. Faults can be injected: a status code,
a hang (timeout) or a silently missing page, on requests whose path contains a string, from an offset on.

    model, realm    the realm's records; FakeRealm: changes, look-ups, JSON representations
    authz           a client's Authorization Services: resources, policies, permissions
    tokens          signing key, claims, the token endpoint's grants, the sync's admin tokens
    faults          Fault and how it changes a request
    routing         Request (query, pagination), Route, the (method, segment) route tables
    openid          /realms/{realm}/: discovery, JWKS, token endpoint
    admin/          /admin/realms/{realm}/: one module per resource family (users, groups, roles, clients
                    and their authz)
    server          FakeKeycloak: the HTTP server, the handler, dispatch
"""

from tests.support.fake_keycloak.faults import Fault
from tests.support.fake_keycloak.realm import DEFAULT_PASSWORD, FakeRealm
from tests.support.fake_keycloak.routing import DEFAULT_MAX
from tests.support.fake_keycloak.server import FakeKeycloak

__all__ = ["DEFAULT_MAX", "DEFAULT_PASSWORD", "FakeKeycloak", "FakeRealm", "Fault"]
