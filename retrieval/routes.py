"""The REST reading routes: `POST /v1/search` and `GET /v1/documents/{id}`. Each is thin: the token steps
come from retrieval/deps.py, the reading steps (narrow, search, audit, map) from retrieval/reading.py, which
the MCP tools share; a route only adds the request's id and the REST transport."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from retrieval import reading
from retrieval.audit import RequestRef
from retrieval.caller import Identity
from retrieval.deps import Services, authenticate, services
from retrieval.errors import PROBLEM_JSON, client_request_id_of, request_id_of
from retrieval.schemas import DocumentResponse, Problem, SearchRequest, SearchResponse

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
    return await reading.search(services, identity, body, _request_ref(request))


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
    return await reading.read_document(services, identity, document_id, _request_ref(request))


def _request_ref(request: Request) -> RequestRef:
    return RequestRef(request_id_of(request), client_request_id_of(request), "rest")
