"""What a request depends on: the process's services, and the authenticated caller (token → Identity).

The token steps are two functions every transport calls, so REST and MCP cannot drift apart:
`verify_bearer` checks the bearer token (retrieval/tokens.py; 401 or 503), `admit` resolves the caller's
principals (retrieval/caller.py; 403 or 503) and spends one request of the subject's and every agent's
rate limit (429). `authenticate`, the FastAPI dependency every REST reading route takes, runs both; the MCP
endpoint (retrieval/mcp/) runs the first on the HTTP request and the second in each tool call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from access_index.embedder import Embedder
from access_index.errors import IndexUnavailableError, InvalidTokenError, RateLimitedError
from access_index.settings import Settings
from retrieval.agents import AgentPolicies
from retrieval.audit import AuditLog
from retrieval.caller import DirectoryPolicy, Identity, identify
from retrieval.metrics import Metrics
from retrieval.ratelimit import RateLimiter
from retrieval.search import SearchService
from retrieval.source_links import SourceLinks
from retrieval.tokens import TokenVerifier, VerifiedToken

# Declares the scheme in OpenAPI (the /docs "Authorize" button); we raise our own 401 problems.
BEARER = HTTPBearer(auto_error=False, description="An OIDC access token from a trusted issuer")


@dataclass(frozen=True)
class Services:
    """Everything a request needs, built once per process by the app's lifespan (retrieval/app.py)."""

    settings: Settings
    verifier: TokenVerifier
    agents: AgentPolicies
    directory: DirectoryPolicy
    subject_limiter: RateLimiter
    agent_limiter: RateLimiter
    audit: AuditLog
    metrics: Metrics
    search: SearchService
    embedder: Embedder
    links: SourceLinks


def services(request: Request) -> Services:
    """The process's services; 503 before the lifespan has opened the index and loaded the model."""
    found: Services | None = getattr(request.app.state, "services", None)
    if found is None:
        raise IndexUnavailableError("the index is not open yet")
    return found


async def authenticate(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    services: Annotated[Services, Depends(services)],
) -> Identity:
    """The verified caller of this request (401/403/429/503 otherwise)."""
    verified = await verify_bearer(services, credentials.credentials if credentials is not None else None)
    return admit(services, verified)


async def verify_bearer(services: Services, token: str | None) -> VerifiedToken:
    """The checked bearer token: InvalidTokenError (401) when missing or refused, KeysUnavailableError (503)."""
    if token is None or not token.strip():
        services.metrics.auth_failures.labels("missing").inc()
        raise InvalidTokenError("missing", "a bearer token is required")
    try:
        return await services.verifier.verify(token.strip())
    except InvalidTokenError as error:
        services.metrics.auth_failures.labels(error.reason).inc()
        raise


def admit(services: Services, verified: VerifiedToken) -> Identity:
    """The caller a verified token speaks for, once its rate limits allow one more request (403/429/503)."""
    identity = identify(verified, services.directory, services.settings.default_tenant)
    _rate_limit(services, identity)
    return identity


def _rate_limit(services: Services, identity: Identity) -> None:
    try:
        services.subject_limiter.take(f"{identity.issuer}\x1f{identity.subject}")
        for agent in identity.agents:  # every agent of the chain spends from its own budget
            services.agent_limiter.take(f"{identity.issuer}\x1f{agent}")
    except RateLimitedError as error:
        services.metrics.rate_limited.labels(error.scope).inc()
        raise
