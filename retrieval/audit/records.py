"""What each search and document read is remembered by: who asked (issuer, subject, the agent chain,
tenant), over which transport and request, what (a SHA-256 of the query; the text only if configured)
and what came back (each chunk with its document and the principal that granted it).

The chain's own fields (seq, prev, time, key_id, sig) are added by `AuditLog.append`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # types only: writer processes import the audit package without the search stack
    from retrieval.caller import Identity
    from retrieval.search import Found

Transport = Literal["rest", "mcp"]
SearchMode = Literal["hybrid", "semantic", "keyword"]


@dataclass(frozen=True)
class RequestRef:
    """Which request a record belongs to: the server's id, the caller's own id kept apart, the transport."""

    request_id: str
    client_request_id: str | None
    transport: Transport


def search_record(
    request: RequestRef,
    identity: Identity,
    query: str,
    top_k: int,
    mode: SearchMode,
    found: Sequence[Found],
    store_query_text: bool,
) -> dict[str, Any]:
    """One search: who asked, a hash of what (the text only if configured), how, and what came back."""
    record = _base_record(request, "search", identity, found)
    record["query_sha256"] = hashlib.sha256(query.encode("utf-8")).hexdigest()
    record["top_k"] = top_k
    record["mode"] = mode
    if store_query_text:
        record["query"] = query
    return record


def document_record(
    request: RequestRef, identity: Identity, document_id: str, found: Sequence[Found]
) -> dict[str, Any]:
    """One document read (`results` is empty for a 404)."""
    record = _base_record(request, "document", identity, found)
    record["document_id"] = document_id
    return record


def _base_record(request: RequestRef, event: str, identity: Identity, found: Sequence[Found]) -> dict[str, Any]:
    return {
        "event": event,
        "request_id": request.request_id,
        "client_request_id": request.client_request_id,
        "transport": request.transport,
        "issuer": identity.issuer,
        "subject": identity.subject,
        "agents": list(identity.agents),
        "tenant": identity.caller.tenant,
        "results": [
            {"chunk_id": item.chunk.point_id, "document_id": item.chunk.document_id, "granted_by": item.granted_by}
            for item in found
        ],
    }
