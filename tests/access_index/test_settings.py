"""Settings refuse to start wrong, and say which variable to fix."""

from __future__ import annotations

import pytest

from access_index.cli import main
from access_index.errors import ConfigError
from access_index.settings import Settings, load_settings


def test_defaults_match_the_contract() -> None:
    settings = load_settings()
    assert str(settings.data_dir) == ".clearance"
    assert settings.qdrant_url is None
    assert settings.acl_sync_interval == 300
    assert settings.hidden_text_policy == "quarantine"
    assert settings.dev_mode is False


def test_environment_is_read_with_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARANCE_ACL_SYNC_INTERVAL", "0")
    monkeypatch.setenv(
        "CLEARANCE_OIDC_ISSUERS", '[{"issuer": "https://id.acme.example/realms/acme", "audience": "clearance"}]'
    )
    settings = Settings()
    assert settings.acl_sync_interval == 0
    assert settings.oidc_issuers[0].audience == "clearance"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CLEARANCE_QDRANT_API_KEY": "k"}, "CLEARANCE_QDRANT_URL"),
        ({"CLEARANCE_KEYCLOAK_URL": "https://kc"}, "CLEARANCE_KEYCLOAK_REALM"),
        ({"CLEARANCE_HIDDEN_TEXT_POLICY": "ignore"}, "CLEARANCE_HIDDEN_TEXT_POLICY"),
        ({"CLEARANCE_ACL_SYNC_INTERVAL": "-1"}, "CLEARANCE_ACL_SYNC_INTERVAL"),
        ({"CLEARANCE_OIDC_ISSUERS": "not json"}, "CLEARANCE_OIDC_ISSUERS"),
        ({"CLEARANCE_OIDC_ISSUERS": '[{"issuer": "https://x"}]'}, "CLEARANCE_OIDC_ISSUERS[0].audience"),
        ({"CLEARANCE_DEV_MODE": "maybe"}, "CLEARANCE_DEV_MODE"),
        ({"CLEARANCE_QDRANT_SHARD_NUMBER": "3"}, "CLEARANCE_QDRANT_URL"),
        (
            {
                "CLEARANCE_DIRECTORY_FILE": "d.yaml",
                "CLEARANCE_KEYCLOAK_URL": "https://kc",
                "CLEARANCE_KEYCLOAK_REALM": "r",
                "CLEARANCE_KEYCLOAK_CLIENT_ID": "c",
                "CLEARANCE_KEYCLOAK_CLIENT_SECRET": "s",
            },
            "CLEARANCE_DIRECTORY_FILE",
        ),
    ],
)
def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert named in str(error.value)
    assert "secret" not in str(error.value).lower() or "CLIENT_SECRET" in str(error.value)


def test_secrets_are_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARANCE_KEYCLOAK_CLIENT_SECRET", "s3cr3t-value")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "s3cr3t-value" not in str(error.value)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "example.com"])
def test_dev_mode_refuses_non_loopback(host: str) -> None:
    with pytest.raises(ConfigError, match="CLEARANCE_DEV_MODE"):
        load_settings(dev_mode=True).require_bindable(host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost", "[::1]"])
def test_dev_mode_binds_loopback(host: str) -> None:
    load_settings(dev_mode=True).require_bindable(host)


def test_cli_exits_2_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLEARANCE_QDRANT_API_KEY", "k")
    assert main(["acl-sync", "--once"]) == 2
    assert "CLEARANCE_QDRANT_URL" in capsys.readouterr().err


def test_cli_help_lists_the_contract_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_code:
        main(["--help"])
    assert exit_code.value.code == 0
    out = capsys.readouterr().out
    for command in ["ingest", "inspect", "serve", "acl-sync", "token", "audit"]:
        assert command in out


def test_cli_usage_error_exits_2() -> None:
    with pytest.raises(SystemExit) as exit_code:
        main(["ingest", "docs/"])  # --acl is required
    assert exit_code.value.code == 2


def test_the_keycloak_directorys_issuer(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLEARANCE_KEYCLOAK_ISSUER, by default <URL>/realms/<REALM>: the issuer the directory answers for."""
    for name, value in {
        "URL": "http://keycloak:8080/",
        "REALM": "acme",
        "CLIENT_ID": "clearance-sync",
        "CLIENT_SECRET": "s",
    }.items():
        monkeypatch.setenv(f"CLEARANCE_KEYCLOAK_{name}", value)
    assert load_settings().keycloak_realm_issuer == "http://keycloak:8080/realms/acme"
    monkeypatch.setenv("CLEARANCE_KEYCLOAK_ISSUER", "https://sso.acme.example/realms/acme")
    assert load_settings().keycloak_realm_issuer == "https://sso.acme.example/realms/acme"
    for name in ("URL", "REALM", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(f"CLEARANCE_KEYCLOAK_{name}")
    with pytest.raises(ConfigError, match="CLEARANCE_KEYCLOAK_ISSUER"):
        load_settings()


def test_the_authz_client_needs_the_keycloak_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLEARANCE_KEYCLOAK_AUTHZ_CLIENT is read through the CLEARANCE_KEYCLOAK_* connection: alone it is refused."""
    monkeypatch.setenv("CLEARANCE_KEYCLOAK_AUTHZ_CLIENT", "docs")
    with pytest.raises(ConfigError, match="CLEARANCE_KEYCLOAK_AUTHZ_CLIENT"):
        load_settings()
    for name, value in {
        "URL": "http://keycloak:8080/",
        "REALM": "acme",
        "CLIENT_ID": "sync",
        "CLIENT_SECRET": "s",
    }.items():
        monkeypatch.setenv(f"CLEARANCE_KEYCLOAK_{name}", value)
    assert load_settings().keycloak_authz_client == "docs"


def test_trusted_issuers_include_the_dev_issuer_in_dev_mode_only() -> None:
    issuers = [{"issuer": "https://idp.example/realms/a", "audience": "c"}]
    assert load_settings(oidc_issuers=issuers).trusted_issuers == ["https://idp.example/realms/a"]
    assert load_settings(oidc_issuers=issuers, dev_mode=True).trusted_issuers == [
        "https://idp.example/realms/a",
        "urn:clearance:dev-issuer",
    ]
