"""Admin REST Authorization Services of a client, under /clients/{id}/authz/resource-server, as Keycloak 26
serves them: the resource server, `resource` (first/max paging, `max=-1` all, `deep`, `name`, `type`),
`resource/{id}` and its `permissions`, `policy` (`permission=true|false`, `type`, `name`, first/max),
`permission`, `policy/{id}` and its `associatedPolicies`, `resources` and `dependentPolicies`. A client
without Authorization Services answers 404 (Keycloak: "HTTP 404 Not Found")."""

from __future__ import annotations

from tests.support.fake_keycloak.model import Client
from tests.support.fake_keycloak.routing import NOT_FOUND, Request, Response


def get_authz(request: Request, client: Client, rest: list[str]) -> Response | None:
    server = request.realm.resource_servers.get(client.id)
    if server is None or not rest or rest[0] != "resource-server":
        return NOT_FOUND
    tail = rest[1:]
    if not tail:
        return 200, server.json()
    query = request.query
    page_all = query.get("max") == "-1"
    if tail == ["resource"]:
        resources = server.sorted_resources()
        if query.get("name"):
            resources = [r for r in resources if query["name"].lower() in r.name.lower()]
        if query.get("type"):
            resources = [r for r in resources if r.type == query["type"]]
        deep = query.get("deep", "true").lower() != "false"
        shown = resources if page_all else request.page(resources)
        return 200, [server.resource_json(r, deep) for r in shown]
    if tail[0] == "resource" and len(tail) in (2, 3):
        resource = server.resources.get(tail[1])
        if resource is None:
            return NOT_FOUND
        if len(tail) == 2:
            return 200, server.resource_json(resource)
        if tail[2] == "permissions":
            return 200, [server.policy_json(p) for p in server.permissions_of(resource)]
    if tail in (["policy"], ["permission"]):
        flag = query.get("permission")
        permission = True if tail == ["permission"] else (None if flag is None else flag.lower() == "true")
        policies = server.sorted_policies(permission)
        if query.get("type"):
            policies = [p for p in policies if p.type == query["type"]]
        if query.get("name"):
            policies = [p for p in policies if query["name"].lower() in p.name.lower()]
        shown = policies if page_all else request.page(policies)
        return 200, [server.policy_json(p) for p in shown]
    if tail[0] in ("policy", "permission") and len(tail) >= 2:
        policy = server.policies.get(tail[1])
        if policy is None:
            return NOT_FOUND
        if len(tail) == 2:
            return 200, server.policy_json(policy)
        if tail[2:] == ["associatedPolicies"]:
            associated = [server.policies[i] for i in policy.associated if i in server.policies]
            return 200, [server.policy_json(p) for p in sorted(associated, key=lambda p: p.name)]
        if tail[2:] == ["resources"]:
            resources = [server.resources[i] for i in policy.resources if i in server.resources]
            return 200, [{"_id": r.id, "name": r.name} for r in sorted(resources, key=lambda r: r.name)]
        if tail[2:] == ["dependentPolicies"]:
            dependent = [p for p in server.sorted_policies(None) if policy.id in p.associated]
            return 200, [server.policy_json(p) for p in dependent]
    return NOT_FOUND
