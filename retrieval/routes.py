"""The reading routes: `POST /v1/search` and `GET /v1/documents/{id}`. Each is thin: it narrows, asks the
search service, has the audit record written, and maps what was found to the response."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.exceptions import HTTPException as StarletteHTTPException

from access_index.acl import Narrowing
from access_index.errors import AuditWriteError
from retrieval.audit import RequestRef, document_record, search_record
from retrieval.caller import Identity
from retrieval.deps import Services, authenticate, services
from retrieval.errors import PROBLEM_JSON, client_request_id_of, request_id_of
from retrieval.schemas import (
    DocumentChunk,
    DocumentResponse,
    Problem,
    SearchFilters,
    SearchRequest,
    SearchResponse,
    SearchResultItem,
)

log = logging.getLogger("clearance.api")
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for status in (401, 403, 413, 422, 429, 503)
}
router = APIRouter(tags=["search"])


@router.post("/v1/search", response_model=SearchResponse, responses=ERROR_RESPONSES)
async def search(
    body: SearchRequest,
    request: Request,
    identity: Annotated[Identity, Depends(authenticate)],
    services: Annotated[Services, Depends(services)],
) -> SearchResponse:
    """The top_k chunks the caller may read that best match the query in its mode (authorization inside the
    index query)."""
    narrowings = [*services.agents.narrowings_for(identity.agents), _request_narrowing(body.filters)]
    found = await services.search.search(identity.caller, narrowings, body.query, body.top_k, body.mode)
    ref = _request_ref(request)
    store_query = services.settings.audit_store_query_text
    await _audit(services, search_record(ref, identity, body.query, body.top_k, body.mode, found, store_query))
    services.metrics.results_per_search.observe(len(found))
    return SearchResponse(
        request_id=ref.request_id, results=[SearchResultItem.of(item.chunk, item.score) for item in found]
    )


@router.get(
    "/v1/documents/{document_id:path}",
    response_model=DocumentResponse,
    responses={**ERROR_RESPONSES, 404: ERROR_RESPONSES[403]},
)
async def document(
    document_id: str,
    request: Request,
    identity: Annotated[Identity, Depends(authenticate)],
    services: Annotated[Services, Depends(services)],
) -> DocumentResponse:
    """The document's chunks if the caller may read it; 404 whether it is absent or not the caller's."""
    narrowings = services.agents.narrowings_for(identity.agents)
    found = await services.search.read_document(identity.caller, narrowings, document_id)
    ref = _request_ref(request)
    await _audit(services, document_record(ref, identity, document_id, found))
    if not found:
        raise StarletteHTTPException(404, "no such document")
    return DocumentResponse(
        request_id=ref.request_id, document_id=document_id, chunks=[DocumentChunk.of(item.chunk) for item in found]
    )


def _request_ref(request: Request) -> RequestRef:
    return RequestRef(request_id_of(request), client_request_id_of(request), "rest")


def _request_narrowing(filters: SearchFilters) -> Narrowing:
    return Narrowing(
        sources=frozenset(filters.sources) if filters.sources is not None else None,
        document_ids=frozenset(filters.document_ids) if filters.document_ids is not None else None,
        labels_equal=dict(filters.labels or {}),
    )


async def _audit(services: Services, record: dict[str, Any]) -> None:
    """Write the record before the response leaves; if it cannot be written, nothing leaves (503)."""
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, services.audit.append, record)
    except AuditWriteError:
        services.metrics.audit_write_errors.inc()
        log.exception("audit write failed; withholding the response")
        raise
