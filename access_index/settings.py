"""Settings from `CLEARANCE_*` environment variables, validated once at start.

Wrong or contradictory settings raise `ConfigError` with the variable's name and the fix, so a
process never starts half-configured. Read them through `get_settings()`, never at import time.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from access_index.errors import ConfigError
from access_index.links import BASE_FIX, uri_base_problem
from access_index.paths import DataPaths

ENV_PREFIX = "CLEARANCE_"
# The issuer of `clearance token`'s development tokens (retrieval/dev_issuer.py), trusted in dev mode only.
DEV_ISSUER = "urn:clearance:dev-issuer"
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


class IssuerConfig(BaseModel):
    """One trusted OIDC issuer (an entry of `CLEARANCE_OIDC_ISSUERS`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(min_length=1)
    audience: str = Field(min_length=1)
    jwks_uri: str | None = None
    tenant: str | None = None

    @field_validator("issuer", "jwks_uri")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


class Settings(BaseSettings):
    """Every setting of Clearance; each CLI flag maps onto one of these."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    data_dir: Path = Path("./.clearance")

    # Index engine: embedded Qdrant Edge unless a Qdrant server URL is given.
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    qdrant_collection: str = Field(default="clearance_chunks", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    qdrant_shard_number: int | None = Field(default=None, ge=1)
    qdrant_replication_factor: int | None = Field(default=None, ge=1)
    qdrant_write_consistency_factor: int | None = Field(default=None, ge=1)
    qdrant_timeout: int = Field(default=10, ge=1)

    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    embedding_batch_size: int = Field(default=64, ge=1, le=4096)
    # onnx: the int8 export (a query in about a quarter of torch's time, batches at about its rate; nDCG@10
    # within 0.35 points of fp32: docs/benchmarks.md).
    embedding_backend: Literal["torch", "onnx"] = "onnx"

    # Identity.
    oidc_issuers: list[IssuerConfig] = Field(default_factory=list)
    dev_mode: bool = False
    default_tenant: str = "default"

    # IAM directory.
    keycloak_url: str | None = None
    keycloak_realm: str | None = None
    keycloak_client_id: str | None = None
    keycloak_client_secret: str | None = None
    # The realm's issuer as its tokens carry it (differs from KEYCLOAK_URL behind a proxy).
    keycloak_issuer: str | None = None
    # The resource-server client whose Authorization Services hold source ACLs (`source: keycloak` manifests).
    keycloak_authz_client: str | None = None
    directory_file: Path | None = None
    acl_sync_interval: int = Field(default=300, ge=0)
    # Past this age of the last good directory sync, group and role grants fail closed (503).
    directory_max_age: int = Field(default=3600, ge=1)

    hidden_text_policy: Literal["quarantine", "strip"] = "quarantine"
    # Ingest refuses larger files (reported as failed, the batch goes on): a parser bomb must not stall a run.
    max_file_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    # Each file is parsed and checked for hidden text in a worker process under these limits; a file that
    # passes one ends as `failed` with the limit named, and the batch goes on (docs/ingest-limits.md).
    # The parsers alone take about 1 GiB of the worker's address space.
    parse_memory_mb: int = Field(default=3072, ge=1024)
    parse_timeout_seconds: int = Field(default=60, ge=1)
    max_decompressed_mb: int = Field(default=512, ge=1)
    max_document_text_mb: int = Field(default=64, ge=1, le=2048)
    # `ingest --uri-base`: the public base of the ingested source's root (access_index/links.py); empty = unset.
    uri_base: str | None = None

    # Service.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # The base URL agents reach `serve` at (behind a proxy: the proxy's): names the MCP endpoint's resource
    # (`<public_url>/mcp`) in its OAuth protected resource metadata. Unset: taken from each request's Host.
    public_url: str | None = None
    agent_policy_file: Path | None = None
    # What an agent without a policy may read: "allow" = whatever its user may read, "deny" = nothing.
    unknown_agent_policy: Literal["allow", "deny"] = "allow"
    rate_limit_per_minute: int = Field(default=120, ge=1)
    agent_rate_limit_per_minute: int = Field(default=600, ge=1)
    search_timeout_seconds: float = Field(default=5.0, gt=0)
    audit_store_query_text: bool = False
    # The audit log's signing keys (docs/audit.md): a JSON key file outside the data dir, required by
    # `serve` unless dev mode (which then uses a per-user development key outside the data dir).
    audit_key_file: Path | None = None
    # When audit records reach the disk: "record" (fsync before each response), "interval" (every
    # audit_fsync_interval_ms), "never" (the OS decides). docs/audit.md says what each can lose.
    audit_fsync: Literal["record", "interval", "never"] = "record"
    audit_fsync_interval_ms: int = Field(default=1000, ge=1, le=3_600_000)
    # A new segment when the current one would pass this size, and (if set) when the UTC day changes.
    audit_segment_max_bytes: int = Field(default=64 * 1024 * 1024, ge=4096)
    audit_segment_daily: bool = True
    # Denial of wallet: bearer tokens and request bodies beyond these sizes are refused unread.
    max_token_bytes: int = Field(default=32768, ge=1024)
    max_request_bytes: int = Field(default=65536, ge=1024)
    # An unknown `kid` refetches an issuer's JWKS at most this often (forged kids cannot hammer the IdP).
    jwks_refresh_interval: float = Field(default=30.0, ge=0)
    # Torch intra-op threads in `serve`: one leaves a core for HTTP, tokens and the index, and avoids
    # OpenMP spin-waits collapsing under CPU contention (bench/search_bench.py).
    serve_model_threads: int = Field(default=1, ge=1)

    @field_validator("uri_base")
    @classmethod
    def _usable_link_base(cls, value: str | None) -> str | None:
        if not value:
            return None
        problem = uri_base_problem(value)
        if problem is not None:
            raise ValueError(f"not a usable link base for `ingest --uri-base` ({problem}): {BASE_FIX}")
        return value

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"https", "http"} or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(
                f"CLEARANCE_PUBLIC_URL {value!r} is not a base URL: give scheme and host, optionally a path, "
                "without query or fragment (e.g. https://clearance.example.com)"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.qdrant_api_key and not self.qdrant_url:
            raise ValueError(
                "CLEARANCE_QDRANT_API_KEY is set but CLEARANCE_QDRANT_URL is not: set CLEARANCE_QDRANT_URL "
                "to your Qdrant server, or unset the API key to use the embedded index"
            )
        keycloak = {
            "CLEARANCE_KEYCLOAK_URL": self.keycloak_url,
            "CLEARANCE_KEYCLOAK_REALM": self.keycloak_realm,
            "CLEARANCE_KEYCLOAK_CLIENT_ID": self.keycloak_client_id,
            "CLEARANCE_KEYCLOAK_CLIENT_SECRET": self.keycloak_client_secret,
        }
        given = [name for name, value in keycloak.items() if value]
        if given and len(given) != len(keycloak):
            missing = [name for name, value in keycloak.items() if not value]
            raise ValueError(f"{', '.join(given)} set but {', '.join(missing)} missing: set all four or none")
        if self.keycloak_issuer and not given:
            raise ValueError(
                "CLEARANCE_KEYCLOAK_ISSUER is set but CLEARANCE_KEYCLOAK_URL is not: it names the issuer of the "
                "Keycloak directory's tokens; set the CLEARANCE_KEYCLOAK_* variables or unset it"
            )
        if self.keycloak_authz_client and not given:
            raise ValueError(
                "CLEARANCE_KEYCLOAK_AUTHZ_CLIENT is set but CLEARANCE_KEYCLOAK_URL is not: the sync reads the "
                "client's Authorization Services through the CLEARANCE_KEYCLOAK_* connection; set those or unset it"
            )
        if given and self.directory_file is not None:
            raise ValueError(
                "both CLEARANCE_KEYCLOAK_URL and CLEARANCE_DIRECTORY_FILE are set: choose one directory source"
            )
        cluster = (self.qdrant_shard_number, self.qdrant_replication_factor, self.qdrant_write_consistency_factor)
        if any(cluster) and not self.qdrant_url:
            raise ValueError(
                "CLEARANCE_QDRANT_SHARD_NUMBER/REPLICATION_FACTOR/WRITE_CONSISTENCY_FACTOR apply to a Qdrant "
                "server only: set CLEARANCE_QDRANT_URL or unset them"
            )
        return self

    @property
    def uses_keycloak(self) -> bool:
        return self.keycloak_url is not None

    @property
    def trusted_issuers(self) -> list[str]:
        """Every issuer whose tokens `serve` accepts: CLEARANCE_OIDC_ISSUERS, plus the dev issuer in dev mode."""
        return [config.issuer for config in self.oidc_issuers] + ([DEV_ISSUER] if self.dev_mode else [])

    @property
    def keycloak_realm_issuer(self) -> str | None:
        """The issuer of the Keycloak realm's tokens: CLEARANCE_KEYCLOAK_ISSUER, else <URL>/realms/<REALM>."""
        if self.keycloak_url is None or self.keycloak_realm is None:
            return None
        return self.keycloak_issuer or f"{self.keycloak_url.rstrip('/')}/realms/{self.keycloak_realm}"

    @property
    def paths(self) -> DataPaths:
        """Every path under the data dir (access_index/paths.py)."""
        return DataPaths(self.data_dir)

    def require_bindable(self, host: str) -> None:
        """Dev mode trusts a local token issuer, so it must never listen beyond this machine."""
        if self.dev_mode and not is_loopback(host):
            raise ConfigError(
                f"CLEARANCE_DEV_MODE is on and the host is {host!r}: dev mode only binds a loopback address "
                "(127.0.0.1, ::1, localhost); turn CLEARANCE_DEV_MODE off to listen on other addresses"
            )


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _explain(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        inner = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"][1:])
        name = f"{ENV_PREFIX}{field.upper()}{inner}"
        message = str(item["msg"]).removeprefix("Value error, ")
        value = item.get("input")
        secret = "secret" in field or "key" in field
        shown = "" if field == "" or secret or isinstance(value, dict | list) else f" (got {value!r})"
        if field == "":
            lines.append(message)
        else:
            lines.append(f"{name}: {message}{shown}")
    return "invalid settings:\n  " + "\n  ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment plus explicit overrides (CLI flags); ConfigError when wrong."""
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as error:
        raise ConfigError(_explain(error)) from None
    except SettingsError as error:
        # raised for a value that is not valid JSON, e.g. CLEARANCE_OIDC_ISSUERS
        field = str(error).split('"')[1] if '"' in str(error) else ""
        raise ConfigError(
            f"invalid settings:\n  {ENV_PREFIX}{field.upper()}: not valid JSON (expected a JSON list or object)"
        ) from None


def get_settings() -> Settings:
    """Settings from the environment alone."""
    return load_settings()
