"""What a request depends on: the process's services, and the authenticated caller (token → Identity).

`authenticate` is the FastAPI dependency every reading route takes: verify the bearer token
(retrieval/tokens.py), resolve the caller's principals (retrieval/caller.py), spend one request of the
subject's and the agent's rate limits. It answers 401, 403, 429 or 503 by raising Clearance errors.
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
from retrieval.tokens import TokenVerifier

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
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    services: Annotated[Services, Depends(services)],
) -> Identity:
    """The verified caller of this request (401/403/429/503 otherwise)."""
    if credentials is None or not credentials.credentials.strip():
        services.metrics.auth_failures.labels("missing").inc()
        raise InvalidTokenError("missing", "a bearer token is required")
    try:
        verified = await services.verifier.verify(credentials.credentials.strip())
    except InvalidTokenError as error:
        services.metrics.auth_failures.labels(error.reason).inc()
        raise
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
