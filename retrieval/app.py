"""The FastAPI app: `create_app(settings)` and its lifespan, which opens the index, loads the model and
builds the `Services` every request uses (retrieval/deps.py).

A request then goes: middleware (request id, size limit) → deps.authenticate (token → Identity) →
routes → reading (narrowings → search.SearchService → audit record → response); errors leave through
errors.py. `/mcp` (retrieval/mcp/) takes the same steps for MCP tool calls; its SDK session manager runs
in this lifespan.
One index and one model per process. On the embedded engine `serve` holds the shard and opens the index
socket (access_index/index/socket_server.py), through which `ingest` and `acl-sync` write beside it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import Route

from access_index.directory import SnapshotStore, open_snapshot_store
from access_index.embedder import Embedder, load_embedder, open_embedder
from access_index.errors import ClearanceError
from access_index.index import ChunkIndex
from access_index.index.socket_server import IndexSocketServer, start_socket_server
from access_index.settings import Settings
from access_index.storage import open_storage
from acl_sync.directory_source import directory_issuer
from acl_sync.scheduler import SyncScheduler
from acl_sync.sync import SyncOptions
from retrieval import health, routes
from retrieval.agents import load_agent_policies
from retrieval.audit import AuditLog, AuditOptions, writing_keyring
from retrieval.audit.keys import default_key_file
from retrieval.backfill import SparseBackfill
from retrieval.batcher import QueryBatcher
from retrieval.caller import DirectoryPolicy
from retrieval.deps import Services
from retrieval.errors import install_error_handlers
from retrieval.mcp import McpEndpoint, resource_metadata_router
from retrieval.mcp.resource import MCP_PATH
from retrieval.metrics import Metrics, create_metrics
from retrieval.middleware import RequestMiddleware
from retrieval.ratelimit import RateLimiter
from retrieval.search import SearchService
from retrieval.source_links import SourceLinks
from retrieval.tokens import KeySource, RemoteKeys, TokenVerifier, TrustedIssuer, remote_issuer

log = logging.getLogger("clearance.api")


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
    directory_store: SnapshotStore | None = None,
    run_sync: bool = False,
) -> FastAPI:
    """The search service. Tests inject the index, an embedder and a snapshot store; `serve` opens its own.

    What can be checked without the index (issuers, agent policies, the audit key) is checked here, so a bad setting
    stops the process before it loads anything."""
    if not settings.oidc_issuers and not settings.dev_mode:
        log.warning("no trusted issuers: set CLEARANCE_OIDC_ISSUERS, or every request will get 401")
    metrics = create_metrics()
    verifier = build_verifier(settings)
    agents = load_agent_policies(settings.agent_policy_file, settings.unknown_agent_policy)
    audit = AuditLog(settings.paths, writing_keyring(settings), AuditOptions.of(settings))
    if settings.audit_key_file is None and not settings.dev_mode:
        log.warning(
            "audit records are signed with this user's key %s: for production keep the key where the service "
            "account cannot lose it and set CLEARANCE_AUDIT_KEY_FILE (`clearance audit keygen`, docs/audit.md)",
            default_key_file(development=False),
        )
    directory_required = settings.uses_keycloak or settings.directory_file is not None
    mcp_endpoint = McpEndpoint(settings)
    issuer = directory_issuer(settings)  # ConfigError: a directory file that names no issuer among several
    if issuer is not None and issuer not in settings.trusted_issuers:
        log.warning("the directory answers for issuer %s, which is not trusted here: it answers no request", issuer)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        storage = open_storage(settings, "serve") if index is None else None
        opened = storage.index if storage is not None else index
        assert opened is not None
        store = directory_store or (storage.snapshots if storage is not None else open_snapshot_store(settings))
        scheduler: SyncScheduler | None = None
        search: SearchService | None = None
        backfill: SparseBackfill | None = None
        index_socket: IndexSocketServer | None = None
        try:
            _open_audit(audit)
            model = embedder if embedder is not None else _load_model(settings)
            opened.ensure_collection(model.info)
            if index is None:
                # Before the weights load: an ingest started with `serve` waits seconds less for the socket.
                index_socket = start_socket_server(settings, opened)
            # An index built before BM25 vectors gets them from its stored text while the service answers.
            backfill = SparseBackfill(opened, on_batch=metrics.sparse_backfill_chunks.inc)
            backfill.start()
            model.embed(["warm up"])  # loads the weights; the first forward pass is slow, paid before any caller
            search = SearchService(
                opened, QueryBatcher(model, on_batch=metrics.embed_batch_size.observe), settings.search_timeout_seconds
            )
            app.state.services = Services(
                settings=settings,
                verifier=verifier,
                agents=agents,
                directory=DirectoryPolicy(store, directory_required, settings.directory_max_age, issuer),
                subject_limiter=RateLimiter(settings.rate_limit_per_minute, "subject"),
                agent_limiter=RateLimiter(settings.agent_rate_limit_per_minute, "agent"),
                audit=audit,
                metrics=metrics,
                search=search,
                embedder=model,
                links=SourceLinks(settings.paths),
            )
            await _prefetch_keys(verifier)
            if run_sync:
                scheduler = _start_sync(settings, opened, store, metrics)
            async with mcp_endpoint.running():
                yield
        finally:
            if backfill is not None:
                backfill.stop()
            if scheduler is not None:
                scheduler.stop()
            if index_socket is not None:
                index_socket.stop()  # answers the requests in progress, then the shard can close
            if search is not None:
                search.close()
            audit.close()
            if index is None:
                opened.close()

    app = FastAPI(
        title="Clearance",
        version="0.1.0",
        summary="Permission-aware retrieval for AI agents: only chunks the caller may read are ever considered.",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.settings = settings
    app.add_middleware(RequestMiddleware, metrics=metrics, max_request_bytes=settings.max_request_bytes)
    install_error_handlers(app)
    app.include_router(routes.router)
    app.include_router(health.router)
    app.include_router(resource_metadata_router)
    # A plain route, not a mount: `/mcp` itself is the endpoint (a mount would redirect it to `/mcp/`).
    app.router.routes.append(Route(MCP_PATH, mcp_endpoint, methods=["GET", "POST", "DELETE"], include_in_schema=False))
    return app


def _open_audit(audit: AuditLog) -> None:
    """Find the audit chain's head at start; a chain that cannot be continued is logged here and every
    reading request answers 503 until it is dealt with (docs/audit.md)."""
    try:
        audit.open()
    except ClearanceError as error:
        log.error("audit log unavailable: %s", error)


def _load_model(settings: Settings) -> Embedder:
    """The model's name and dimension now, its weights at the warm-up (with serve's torch threads)."""

    def load() -> Embedder:
        if settings.embedding_backend == "torch":
            import torch

            torch.set_num_threads(settings.serve_model_threads)
        return load_embedder(settings)

    return open_embedder(settings, load=load)


async def _prefetch_keys(verifier: TokenVerifier) -> None:
    """Fetch every issuer's keys at start; an unreachable IdP is logged, retried on the first token."""
    for keys in verifier.key_sources():
        if isinstance(keys, RemoteKeys):
            try:
                await keys.refresh()
            except ClearanceError as error:
                log.warning("issuer keys not loaded at start: %s", error)


def _start_sync(settings: Settings, index: ChunkIndex, store: SnapshotStore, metrics: Metrics) -> SyncScheduler | None:
    """The in-process ACL sync, when a directory source is configured and the interval is not 0."""
    if settings.acl_sync_interval <= 0 or not (settings.uses_keycloak or settings.directory_file):
        return None
    scheduler = SyncScheduler(settings, index, registry=metrics.registry, options=SyncOptions(store=store))
    scheduler.start()
    return scheduler
