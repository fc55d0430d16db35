"""Operations routes: `/healthz` (the process is up), `/readyz` (index, model, audit log, directory), `/metrics`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from retrieval.deps import Services
from retrieval.schemas import Health

INDEX_CHECK_SECONDS = 2.0
router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(request: Request) -> Response:
    """Index open, model loaded, audit chain writable, directory fresh enough: otherwise 503."""
    services: Services | None = getattr(request.app.state, "services", None)
    checks = await readiness(services)
    ready = all(value in {"ok", "not configured"} for value in checks.values())
    body = Health(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")


async def readiness(services: Services | None) -> dict[str, str]:
    """One word per dependency: "ok", "not configured", or what is wrong."""
    if services is None:
        return {"index": "not open", "model": "not loaded", "audit": "unknown", "directory": "unknown"}
    checks: dict[str, str] = {}
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.run_in_executor(None, services.search.index.count), INDEX_CHECK_SECONDS)
        checks["index"] = "ok"
    except Exception:
        checks["index"] = "unavailable"
    checks["model"] = "ok"
    checks["audit"] = await loop.run_in_executor(None, services.audit.status)
    policy = services.directory
    if policy.store is None and not policy.required:
        checks["directory"] = "not configured"
        return checks
    try:
        snapshot = policy.store.load() if policy.store is not None else None
    except Exception:
        checks["directory"] = "unavailable"
        return checks
    if snapshot is None:
        checks["directory"] = "not synced" if policy.required else "not configured"
    else:
        age = (datetime.now(UTC) - snapshot.synced_at).total_seconds()
        checks["directory"] = "ok" if age <= policy.max_age_seconds else f"stale ({int(age)} s)"
    return checks
