"""Clearance as an OAuth 2.1 resource server (MCP authorization, 2025-06-18): its protected resource
metadata (RFC 9728) and where 401 challenges point to it.

The resource is the MCP endpoint's URL, `<CLEARANCE_PUBLIC_URL>/mcp` (without the setting: from the request's
scheme and Host). The metadata is served where RFC 9728 puts it for that resource
(`/.well-known/oauth-protected-resource/mcp`) and at the bare well-known path that clients try next; both
name the trusted issuers (CLEARANCE_OIDC_ISSUERS) as authorization servers. The dev issuer is no
authorization server a client could reach, so it is never named. Tokens are accepted only in the
Authorization header, and only with this service's audience (retrieval/tokens.py, as for REST).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from access_index.settings import Settings

MCP_PATH = "/mcp"
WELL_KNOWN = "/.well-known/oauth-protected-resource"
router = APIRouter(tags=["mcp"])


def base_url(settings: Settings, request: Request) -> str:
    """Where callers reach this service: CLEARANCE_PUBLIC_URL, else this request's own scheme and host."""
    if settings.public_url is not None:
        return settings.public_url
    return str(request.base_url).rstrip("/")


def resource_url(settings: Settings, request: Request) -> str:
    """The MCP endpoint's URL: the resource a token for it must be meant for."""
    return base_url(settings, request) + MCP_PATH


def metadata_url(settings: Settings, request: Request) -> str:
    """The absolute URL of the metadata, as RFC 9728 (section 3.1) derives it from the resource's URL."""
    return base_url(settings, request) + WELL_KNOWN + MCP_PATH


def metadata_document(settings: Settings, request: Request) -> dict[str, Any]:
    """The RFC 9728 protected resource metadata of the MCP endpoint."""
    return {
        "resource": resource_url(settings, request),
        "authorization_servers": [issuer.issuer for issuer in settings.oidc_issuers],
        "bearer_methods_supported": ["header"],
        "resource_name": "Clearance",
    }


@router.get(WELL_KNOWN + MCP_PATH, include_in_schema=False)
@router.get(WELL_KNOWN, include_in_schema=False)
async def protected_resource_metadata(request: Request) -> JSONResponse:
    """RFC 9728 metadata: no token needed (a client reads it to learn where to get one)."""
    settings: Settings = request.app.state.settings
    return JSONResponse(metadata_document(settings, request), headers={"Cache-Control": "public, max-age=300"})
