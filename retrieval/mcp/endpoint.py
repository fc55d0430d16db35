"""The ASGI app at `/mcp`: the bearer gate in front of the SDK's streamable HTTP session manager.

The gate reads the Authorization header (a token anywhere else is ignored) and checks it with the REST
verifier (`retrieval.deps.verify_bearer`: signature, issuer, this service's audience, time): without a
good token the answer is HTTP 401 with `WWW-Authenticate: Bearer resource_metadata="…"` (MCP authorization,
RFC 9728), before the SDK parses anything. The token is never passed on: the verified claims travel to the
tool call in the request's state, and the tool admits the caller (retrieval/mcp/tools.py).

The session manager runs stateless with JSON responses: every POST carries one JSON-RPC message and gets
one JSON answer, so no session outlives its request and each request is authorized on its own. Its
lifespan runs inside the app's (retrieval/app.py). Host/Origin checks (DNS rebinding) are on when the
allowed hosts are known: CLEARANCE_PUBLIC_URL's, and loopback ones when serve binds a loopback address.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi.security.utils import get_authorization_scheme_param
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from access_index.errors import ClearanceError, IndexUnavailableError
from access_index.settings import Settings, is_loopback
from retrieval.deps import Services, verify_bearer
from retrieval.errors import problem_response, request_id_of
from retrieval.mcp.resource import metadata_url
from retrieval.mcp.tools import VERIFIED_REQUEST, VerifiedRequest, build_server

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
# The SDK logs every stateless request at info ("Terminating session"); our middleware logs each request already.
logging.getLogger("mcp.server").setLevel(logging.WARNING)


class McpEndpoint:
    """The `/mcp` ASGI app; `running()` (in the app's lifespan) starts a fresh session manager."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server = build_server()
        self._manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the SDK's session manager for the app's lifetime (a manager runs once, so one per lifespan)."""
        manager = StreamableHTTPSessionManager(
            self.server,
            json_response=True,
            stateless=True,
            security_settings=transport_security(self.settings),
            max_request_body_size=self.settings.max_request_bytes,
        )
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        request_id = request_id_of(request)
        services: Services | None = getattr(request.app.state, "services", None)
        manager = self._manager
        try:
            if services is None or manager is None:
                raise IndexUnavailableError("the index is not open yet")
            scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
            verified = await verify_bearer(services, token if scheme.lower() == "bearer" else None)
        except ClearanceError as error:
            response = problem_response(error, request_id, metadata_url(self.settings, request))
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[VERIFIED_REQUEST] = VerifiedRequest(services, verified)
        await manager.handle_request(scope, receive, send)


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """The SDK's Host/Origin checks against DNS rebinding, for the hosts this service is known to answer as."""
    hosts: list[str] = []
    origins: list[str] = []
    if settings.public_url is not None:
        public = urlsplit(settings.public_url)
        hosts.append(public.netloc)
        origins.append(f"{public.scheme}://{public.netloc}")
    if is_loopback(settings.host):
        hosts.extend(f"{host}:*" for host in LOOPBACK_HOSTS)
        origins.extend(f"http://{host}:*" for host in LOOPBACK_HOSTS)
    # Bound to a routable address without CLEARANCE_PUBLIC_URL, the names callers use are unknown: the bearer
    # token (which a rebinding page cannot attach) is then the only guard.
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=bool(hosts), allowed_hosts=hosts, allowed_origins=origins
    )
