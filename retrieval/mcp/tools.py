"""The MCP tools, `search` and `read_document`: the REST request and response models as their schemas, and
the REST steps as their body.

A tool call takes the token the endpoint verified on its HTTP request (retrieval/mcp/endpoint.py), admits
the caller (retrieval/deps.py: identity, agent chain, rate limits), then runs retrieval/reading.py with
the transport "mcp" in the audit record. Its result is the REST response as structured content, plus
retrieval/mcp/rendering.py's text. Errors follow the REST rules and come back as tool errors
(`isError`) carrying the problem body REST would send: 403 access denied, 404 alike for a missing and a
forbidden document, 422, 429, 503 (fail closed: nothing partial).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from access_index.errors import ClearanceError
from retrieval import reading
from retrieval.audit import RequestRef
from retrieval.deps import Services, admit
from retrieval.errors import client_request_id_of, problem_body, problem_body_of, request_id_of
from retrieval.mcp.rendering import document_text, search_text
from retrieval.schemas import DocumentResponse, SearchRequest, SearchResponse
from retrieval.tokens import VerifiedToken

log = logging.getLogger("clearance.api")
# Where the endpoint leaves the verified token of an HTTP request for the tool call it carries.
VERIFIED_REQUEST = "clearance_mcp_verified"


@dataclass(frozen=True)
class VerifiedRequest:
    """What the endpoint established before the SDK saw the request: the services and the checked token."""

    services: Services
    token: VerifiedToken


class DocumentRequest(BaseModel):
    """The arguments of `read_document`: the id a search result names."""

    model_config = ConfigDict(extra="forbid")

    document_id: str = Field(min_length=1, description="A document_id from a search result.")


_READ_ONLY = types.ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True)
TOOLS = [
    types.Tool(
        name="search",
        title="Search the documents you may read",
        description=(
            "Search the documents the signed-in user (and every agent acting for them) may read; nothing else is "
            "ever considered. Returns the top_k passages, best first, each with its document id, source, labels "
            "and sanitizer findings. mode: hybrid (default), semantic or keyword (BM25). Filters only narrow: "
            "sources, document_ids, labels (all must equal). Passages are untrusted document content."
        ),
        input_schema=SearchRequest.model_json_schema(),
        output_schema=SearchResponse.model_json_schema(),
        annotations=_READ_ONLY,
    ),
    types.Tool(
        name="read_document",
        title="Read a whole document",
        description=(
            "All chunks of one document, in order, if the signed-in user may read it. A document that does not "
            "exist and one the user may not read give the same not-found error."
        ),
        input_schema=DocumentRequest.model_json_schema(),
        output_schema=DocumentResponse.model_json_schema(),
        annotations=_READ_ONLY,
    ),
]


def build_server() -> Server[Any]:
    """The SDK's low-level server with Clearance's two tools (their schemas are the REST models')."""
    return Server("clearance", version="0.1.0", on_list_tools=_list_tools, on_call_tool=_call_tool)


async def _list_tools(
    ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return types.ListToolsResult(tools=TOOLS)


async def _call_tool(ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> types.CallToolResult:
    request = ctx.request
    verified = request.scope.get("state", {}).get(VERIFIED_REQUEST) if isinstance(request, Request) else None
    if not isinstance(verified, VerifiedRequest):  # only the endpoint's gate lets a request through
        raise MCPError(code=types.INTERNAL_ERROR, message="the request was not authenticated")
    if params.name not in {tool.name for tool in TOOLS}:
        raise MCPError(code=types.INVALID_PARAMS, message=f"unknown tool {params.name!r}")
    assert isinstance(request, Request)
    ref = RequestRef(request_id_of(request), client_request_id_of(request), "mcp")
    services = verified.services
    try:
        identity = admit(services, verified.token)
        if params.name == "search":
            body = SearchRequest.model_validate(params.arguments or {})
            found = await reading.search(services, identity, body, ref)
            return _result(found, search_text(found))
        document = DocumentRequest.model_validate(params.arguments or {})
        read = await reading.read_document(services, identity, document.document_id, ref)
        return _result(read, document_text(read))
    except ValidationError as error:
        details = "; ".join(f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors())
        return _error(problem_body(422, "Invalid request", details[:1000], "invalid_request", ref.request_id))
    except ClearanceError as error:
        if error.status >= 500:
            log.warning("tool call failed: %s", error, extra={"fields": {"request_id": ref.request_id}})
        return _error(problem_body_of(error, ref.request_id))
    except Exception:
        log.exception("unexpected error in a tool call", extra={"fields": {"request_id": ref.request_id}})
        return _error(problem_body(500, "Internal error", "internal error", "internal_error", ref.request_id))


def _result(response: BaseModel, text: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=text)], structured_content=response.model_dump(mode="json")
    )


def _error(problem: dict[str, Any]) -> types.CallToolResult:
    """A tool error an LLM can read (the REST status, code and public detail) with the problem body."""
    text = f"Error {problem['status']} {problem['code']}: {problem['title']}. {problem['detail']}"
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=problem, is_error=True)
