"""The FastAPI app: `create_app(settings)` wires token → principals → filter → search → audit → response.

One index and one model per process, opened in the lifespan (tests inject both). Every error leaves as
RFC 9457 problem+json through one handler; nothing partial or unfiltered is ever returned.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from access_index.acl import Narrowing, granting_principal
from access_index.embedder import Embedder, load_embedder
from access_index.errors import ClearanceError, IndexError_
from access_index.index import Chunk, ChunkIndex, open_index
from access_index.settings import Settings
from retrieval.agents import AgentPolicies, load_agent_policies
from retrieval.audit import AuditLog
from retrieval.batcher import QueryBatcher
from retrieval.identity import InvalidTokenError, KeySource, RemoteKeys, TokenVerifier, TrustedIssuer, remote_issuer
from retrieval.metrics import Metrics, create_metrics
from retrieval.middleware import RequestMiddleware
from retrieval.principals import DirectoryPolicy, Identity, SnapshotSource, identify
from retrieval.problems import PROBLEM_JSON, AuditWriteError, RateLimitedError, problem_body, public_detail, status_for
from retrieval.ratelimit import RateLimiter
from retrieval.schemas import (
    DocumentChunk,
    DocumentResponse,
    Health,
    Problem,
    SearchFilters,
    SearchRequest,
    SearchResponse,
    SearchResultItem,
    SourceRef,
)
from retrieval.search import SearchService

log = logging.getLogger("clearance.api")
# Declares the scheme in OpenAPI (the /docs "Authorize" button); we raise our own 401 problems.
BEARER = HTTPBearer(auto_error=False, description="An OIDC access token from a trusted issuer")
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for status in (401, 403, 413, 422, 429, 503)
}


@dataclass
class Services:
    """Everything a request needs; built once per process."""

    settings: Settings
    verifier: TokenVerifier
    agents: AgentPolicies
    directory: DirectoryPolicy
    subject_limiter: RateLimiter
    agent_limiter: RateLimiter
    audit: AuditLog
    metrics: Metrics
    search: SearchService | None = None
    embedder: Embedder | None = None


def build_verifier(settings: Settings) -> TokenVerifier:
    """Every configured issuer, plus the dev issuer in dev mode."""
    issuers: list[tuple[TrustedIssuer, KeySource]] = [
        remote_issuer(config, settings.jwks_refresh_interval) for config in settings.oidc_issuers
    ]
    if settings.dev_mode:
        from retrieval.dev_issuer import dev_issuer

        issuers.append(dev_issuer(settings))
    return TokenVerifier(issuers, settings.max_token_bytes)


def create_app(
    settings: Settings,
    *,
    index: ChunkIndex | None = None,
    embedder: Embedder | None = None,
    directory_store: SnapshotSource | None = None,
    run_sync: bool = False,
) -> FastAPI:
    """The search service. Tests inject the index, an embedder and a snapshot store; `serve` opens its own."""
    metrics = create_metrics()
    if not settings.oidc_issuers and not settings.dev_mode:
        log.warning("no trusted issuers: set CLEARANCE_OIDC_ISSUERS, or every request will get 401")
    directory_required = settings.uses_keycloak or settings.directory_file is not None
    services = Services(
        settings=settings,
        verifier=build_verifier(settings),
        agents=load_agent_policies(settings.agent_policy_file, settings.unknown_agent_policy),
        directory=DirectoryPolicy(directory_store, directory_required, settings.directory_max_age),
        subject_limiter=RateLimiter(settings.rate_limit_per_minute, "subject"),
        agent_limiter=RateLimiter(settings.agent_rate_limit_per_minute, "agent"),
        audit=AuditLog(settings.audit_dir),
        metrics=metrics,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = index if index is not None else open_index(settings, "serve")
        scheduler: Any = None
        try:
            model = embedder if embedder is not None else _load_model(settings)
            opened.ensure_collection(model.info)
            model.embed(["warm up"])  # the first forward pass is slow; pay it before the first caller
            if services.directory.store is None:
                from access_index.directory import open_snapshot_store

                services.directory = DirectoryPolicy(
                    open_snapshot_store(settings, opened), directory_required, settings.directory_max_age
                )
            batcher = QueryBatcher(model, on_batch=metrics.embed_batch_size.observe)
            services.embedder = model
            services.search = SearchService(opened, batcher, settings.search_timeout_seconds)
            await _prefetch_keys(services.verifier)
            if run_sync:
                scheduler = _start_sync(settings, opened, metrics)
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()
            if services.search is not None:
                services.search.batcher.close()
                services.search.close()
            if index is None:
                opened.close()

    app = FastAPI(
        title="Clearance",
        version="0.1.0",
        summary="Permission-aware retrieval for AI agents: only chunks the caller may read are ever considered.",
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_middleware(RequestMiddleware, metrics=metrics, max_request_bytes=settings.max_request_bytes)
    _install_error_handlers(app, metrics)

    @app.post("/v1/search", response_model=SearchResponse, responses=ERROR_RESPONSES, tags=["search"])
    async def search(
        body: SearchRequest, request: Request, identity: Annotated[Identity, Depends(authenticate)]
    ) -> SearchResponse:
        """The top_k chunks the caller may read, nearest to the query (authorization inside the index query)."""
        service = _ready(services)
        narrowings = [services.agents.narrowing_for(identity.agent), _request_narrowing(body.filters)]
        result = await service.search(identity.caller, narrowings, body.query, body.top_k)
        request_id = _request_id(request)
        chunks = [hit.chunk for hit in result.hits]
        await _audit(services, request_id, "search", identity, chunks, query=body.query, top_k=body.top_k)
        metrics.results_per_search.observe(len(result.hits))
        return SearchResponse(
            request_id=request_id,
            results=[
                SearchResultItem(
                    chunk_id=hit.chunk.point_id,
                    document_id=hit.chunk.document_id,
                    score=hit.score,
                    text=hit.chunk.text,
                    source=_source(hit.chunk),
                    labels=dict(hit.chunk.labels),
                    findings=[dict(finding) for finding in hit.chunk.findings],
                )
                for hit in result.hits
            ],
        )

    @app.get(
        "/v1/documents/{document_id:path}",
        response_model=DocumentResponse,
        responses={**ERROR_RESPONSES, 404: ERROR_RESPONSES[403]},
        tags=["search"],
    )
    async def document(
        document_id: str, request: Request, identity: Annotated[Identity, Depends(authenticate)]
    ) -> DocumentResponse:
        """The document's chunks if the caller may read it; 404 whether it is absent or not the caller's."""
        service = _ready(services)
        narrowings = [services.agents.narrowing_for(identity.agent)]
        chunks = await service.read_document(identity.caller, narrowings, document_id)
        request_id = _request_id(request)
        await _audit(services, request_id, "document", identity, chunks, document_id=document_id)
        if not chunks:
            raise StarletteHTTPException(404, "no such document")
        return DocumentResponse(
            request_id=request_id,
            document_id=document_id,
            chunks=[
                DocumentChunk(
                    chunk_id=chunk.point_id,
                    chunk_index=chunk.chunk_index,
                    text=chunk.text,
                    source=_source(chunk),
                    labels=dict(chunk.labels),
                    findings=[dict(finding) for finding in chunk.findings],
                )
                for chunk in chunks
            ],
        )

    @app.get("/healthz", response_model=Health, tags=["operations"])
    async def healthz() -> Health:
        """The process is up."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, responses={503: {"model": Health}}, tags=["operations"])
    async def readyz() -> Response:
        """Index open, model loaded, directory fresh enough: otherwise 503."""
        checks = await _readiness(services)
        ready = all(value in {"ok", "not configured"} for value in checks.values())
        body = Health(status="ready" if ready else "not ready", checks=checks)
        return JSONResponse(body.model_dump(), status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def metrics_endpoint() -> Response:
        """Prometheus metrics."""
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return app


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
) -> Identity:
    """The verified caller of this request (401/403/429/503 otherwise): a FastAPI dependency."""
    services: Services = request.app.state.services
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
        if identity.agent is not None:
            services.agent_limiter.take(f"{identity.issuer}\x1f{identity.agent}")
    except RateLimitedError as error:
        services.metrics.rate_limited.labels(error.scope).inc()
        raise


def _ready(services: Services) -> SearchService:
    if services.search is None:
        raise IndexError_("the index is not open yet")
    return services.search


def _request_narrowing(filters: SearchFilters) -> Narrowing:
    return Narrowing(
        sources=frozenset(filters.sources) if filters.sources is not None else None,
        document_ids=frozenset(filters.document_ids) if filters.document_ids is not None else None,
        labels_equal=dict(filters.labels or {}),
    )


def _source(chunk: Chunk) -> SourceRef:
    return SourceRef(uri=chunk.uri, title=chunk.title, page=chunk.page)


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


async def _audit(
    services: Services,
    request_id: str,
    event: str,
    identity: Identity,
    chunks: list[Chunk],
    *,
    query: str | None = None,
    top_k: int | None = None,
    document_id: str | None = None,
) -> None:
    """Write the record before the response leaves; if it cannot be written, nothing leaves (503)."""
    record: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="microseconds"),
        "request_id": request_id,
        "event": event,
        "issuer": identity.issuer,
        "subject": identity.subject,
        "agent": identity.agent,
        "tenant": identity.caller.tenant,
        "results": [
            {
                "chunk_id": chunk.point_id,
                "document_id": chunk.document_id,
                "granted_by": granting_principal(identity.caller, chunk.allow),
            }
            for chunk in chunks
        ],
    }
    if query is not None:
        record["query_sha256"] = hashlib.sha256(query.encode("utf-8")).hexdigest()
        record["top_k"] = top_k
        if services.settings.audit_store_query_text:
            record["query"] = query
    if document_id is not None:
        record["document_id"] = document_id
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, services.audit.append, record)
    except AuditWriteError:
        services.metrics.audit_write_errors.inc()
        log.exception("audit write failed; withholding the response")
        raise


async def _readiness(services: Services) -> dict[str, str]:
    checks: dict[str, str] = {}
    search = services.search
    if search is None:
        return {"index": "not open", "model": "not loaded", "directory": "unknown"}
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.run_in_executor(None, search.index.count), 2.0)
        checks["index"] = "ok"
    except Exception:
        checks["index"] = "unavailable"
    checks["model"] = "ok" if services.embedder is not None else "not loaded"
    policy = services.directory
    if policy.store is None and not policy.required:
        checks["directory"] = "not configured"
    else:
        try:
            snapshot = policy.store.load() if policy.store is not None else None
            if snapshot is None:
                checks["directory"] = "not synced" if policy.required else "not configured"
            else:
                age = (datetime.now(UTC) - snapshot.synced_at).total_seconds()
                checks["directory"] = "ok" if age <= policy.max_age_seconds else f"stale ({int(age)} s)"
        except Exception:
            checks["directory"] = "unavailable"
    return checks


def _load_model(settings: Settings) -> Embedder:
    import torch

    torch.set_num_threads(settings.serve_model_threads)
    return load_embedder(settings)


async def _prefetch_keys(verifier: TokenVerifier) -> None:
    """Fetch every issuer's keys at start; an unreachable IdP is logged, retried on the first token."""
    for keys in verifier.key_sources():
        if isinstance(keys, RemoteKeys):
            try:
                await keys.refresh()
            except ClearanceError as error:
                log.warning("issuer keys not loaded at start: %s", error)


def _start_sync(settings: Settings, index: ChunkIndex, metrics: Metrics) -> Any:
    """The in-process ACL sync (interface 4), when a directory source is configured."""
    if settings.acl_sync_interval <= 0 or not (settings.uses_keycloak or settings.directory_file):
        return None
    try:
        # Imported by name: acl_sync is another team's package and serve must work before it lands.
        service = importlib.import_module("acl_sync.service")
    except ImportError:
        log.warning("acl_sync.service is not available; the in-process ACL sync is off")
        return None
    scheduler = service.SyncScheduler(settings, index, registry=metrics.registry)
    scheduler.start()
    return scheduler


def _install_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    def problem(request: Request, status: int, title: str, detail: str, code: str) -> JSONResponse:
        body = problem_body(status, title, detail, code, _request_id(request))
        return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)

    async def clearance_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ClearanceError)
        status, title = status_for(error)
        if status >= 500:
            fields = {"request_id": _request_id(request), "code": error.code}
            log.warning("request failed: %s", error, extra={"fields": fields})
        response = problem(request, status, title, public_detail(error, status), error.code)
        if isinstance(error, InvalidTokenError) and error.reason == "missing":
            response.headers["WWW-Authenticate"] = 'Bearer realm="clearance"'
        elif status == 401:
            description = str(error).replace('"', "'")
            response.headers["WWW-Authenticate"] = (
                f'Bearer realm="clearance", error="invalid_token", error_description="{description}"'
            )
        if isinstance(error, RateLimitedError):
            response.headers["Retry-After"] = str(error.retry_after)
        elif status == 503:
            response.headers["Retry-After"] = "5"
        return response

    async def validation_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        details = "; ".join(
            f"{'.'.join(str(part) for part in item.get('loc', ()))}: {item.get('msg', '')}" for item in error.errors()
        )
        return problem(request, 422, "Invalid request", details[:1000], "invalid_request")

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return problem(request, error.status_code, str(error.detail), str(error.detail), code)

    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unexpected error", extra={"fields": {"request_id": _request_id(request)}})
        return problem(request, 500, "Internal error", "internal error", "internal_error")

    app.add_exception_handler(ClearanceError, clearance_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
