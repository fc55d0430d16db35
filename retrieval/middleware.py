"""One ASGI middleware around every request: request id, body size limit, latency metric, access log.

The request id is always generated here: a caller's `X-Request-Id` is never used as the id (two callers
could then share one id in the audit log); a well-formed one is kept apart as `client_request_id`.

Pure ASGI (not BaseHTTPMiddleware) so it adds microseconds, and so the body limit also holds for
chunked uploads that carry no Content-Length (the body is read, up to the limit, before the app runs).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from access_index.errors import RequestTooLargeError
from retrieval.errors import PROBLEM_JSON, problem_body
from retrieval.metrics import Metrics

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ROUTES = (
    "/v1/search",
    "/v1/documents/",
    "/mcp",
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/mcp",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
)
log = logging.getLogger("clearance.access")


def route_label(path: str) -> str:
    """A bounded label for metrics: never the raw path (document ids would explode the cardinality)."""
    for route in ROUTES:
        if path == route or (route.endswith("/") and path.startswith(route)):
            return route.rstrip("/")
    return "other"


class RequestMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, max_request_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_request_bytes = max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = uuid.uuid4().hex
        client_request_id = given if _REQUEST_ID.match(given) else None
        state = scope.setdefault("state", {})
        state["request_id"], state["client_request_id"] = request_id, client_request_id
        status = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        declared = headers.get("content-length", "")
        replay = None
        if not (declared.isdigit() and int(declared) > self.max_request_bytes):
            replay = await self._buffer(receive)
        if replay is None:
            await self._too_large(send_with_id, request_id)
        else:
            await self.app(scope, replay, send_with_id)
        elapsed = time.perf_counter() - started
        path = str(scope.get("path", ""))
        self.metrics.request_seconds.labels(route_label(path), str(status["code"])).observe(elapsed)
        fields: dict[str, Any] = {
            "request_id": request_id,
            "client_request_id": client_request_id,
            "method": scope.get("method"),
            "route": route_label(path),
            "status": status["code"],
            "duration_ms": round(elapsed * 1000, 2),
        }
        log.info("request", extra={"fields": fields})

    async def _buffer(self, receive: Receive) -> Receive | None:
        """Read the whole (small) body first; None when it exceeds the limit. Bodies are capped at
        CLEARANCE_MAX_REQUEST_BYTES, so buffering is cheap, and chunked uploads are held to the limit too."""
        messages: list[Message] = []
        total = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            total += len(message.get("body", b""))
            if total > self.max_request_bytes:
                return None
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        return replay

    async def _too_large(self, send: Send, request_id: str) -> None:
        body = problem_body(
            413,
            "Request too large",
            f"request body larger than {self.max_request_bytes} bytes",
            RequestTooLargeError.code,
            request_id,
        )
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})
