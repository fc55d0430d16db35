"""The reading steps after the token, shared by every transport: a search and a document read for an
`Identity`, each narrowed by the agent chain's policies (403 for a blocked agent), run by the search service
(retrieval/search.py), audited before anything leaves (retrieval/audit/), and mapped to the response models
of retrieval/schemas.py. The REST routes (retrieval/routes.py) and the MCP tools (retrieval/mcp/tools.py)
call these two functions and only add their transport's edges, so neither can drift from the other.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from access_index.acl import Narrowing
from access_index.errors import AuditWriteError, NotFoundError
from retrieval.audit import RequestRef, document_record, search_record
from retrieval.caller import Identity
from retrieval.deps import Services
from retrieval.schemas import (
    DocumentChunk,
    DocumentResponse,
    SearchFilters,
    SearchRequest,
    SearchResponse,
    SearchResultItem,
)

log = logging.getLogger("clearance.api")


async def search(services: Services, identity: Identity, body: SearchRequest, ref: RequestRef) -> SearchResponse:
    """The top_k chunks the caller may read that best match the query in its mode (authorization inside the
    index query), after the audit record of the search is written."""
    narrowings = [*services.agents.narrowings_for(identity.agents), request_narrowing(body.filters)]
    found = await services.search.search(identity.caller, narrowings, body.query, body.top_k, body.mode)
    store_query = services.settings.audit_store_query_text
    await _audit(services, search_record(ref, identity, body.query, body.top_k, body.mode, found, store_query))
    services.metrics.results_per_search.observe(len(found))
    links = services.links.links([item.chunk for item in found])  # retrieval/source_links.py
    results = [SearchResultItem.of(item.chunk, item.score, link) for item, link in zip(found, links, strict=True)]
    return SearchResponse(request_id=ref.request_id, results=results)


async def read_document(services: Services, identity: Identity, document_id: str, ref: RequestRef) -> DocumentResponse:
    """The document's chunks if the caller may read it; NotFoundError (404) whether it is absent or not the
    caller's (the read is audited either way)."""
    narrowings = services.agents.narrowings_for(identity.agents)
    found = await services.search.read_document(identity.caller, narrowings, document_id)
    await _audit(services, document_record(ref, identity, document_id, found))
    if not found:
        raise NotFoundError("no such document")
    links = services.links.links([item.chunk for item in found])
    chunks = [DocumentChunk.of(item.chunk, link) for item, link in zip(found, links, strict=True)]
    return DocumentResponse(request_id=ref.request_id, document_id=document_id, chunks=chunks)


def request_narrowing(filters: SearchFilters) -> Narrowing:
    """The request's own filters as a narrowing of the access filter (they can only narrow)."""
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
