"""The HTTP edge of the error tree: every error leaves as RFC 9457 `application/problem+json`.

Statuses and titles come from the error classes themselves (access_index/errors.py); this module only
turns them into responses, with the headers RFC 6750 and RFC 9110 ask for (WWW-Authenticate on 401,
Retry-After on 429 and 503). Nothing partial or unfiltered ever leaves through an error.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from access_index.errors import ClearanceError, InvalidTokenError, RateLimitedError

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_UNAVAILABLE_SECONDS = 5
log = logging.getLogger("clearance.api")


def public_detail(error: ClearanceError) -> str:
    """What the caller is told: the message of caller-facing errors, a generic sentence otherwise."""
    if error.public:
        return str(error)
    if error.status == 503:
        return "the service cannot answer safely right now; retry later"
    return "internal error"


def problem_body(status: int, title: str, detail: str, code: str, request_id: str | None) -> dict[str, Any]:
    """An RFC 9457 body; `type` is a stable URN built from the error code."""
    body: dict[str, Any] = {
        "type": f"urn:clearance:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if request_id:
        body["request_id"] = request_id
    return body


def request_id_of(request: Request) -> str:
    """The id the middleware gave this request (retrieval/middleware.py)."""
    return str(request.scope.get("state", {}).get("request_id", ""))


def problem_response(error: ClearanceError, request_id: str) -> JSONResponse:
    """The problem+json response for one Clearance error, headers included."""
    body = problem_body(error.status, error.title, public_detail(error), error.code, request_id)
    response = JSONResponse(body, status_code=error.status, media_type=PROBLEM_JSON)
    if isinstance(error, InvalidTokenError):
        response.headers["WWW-Authenticate"] = www_authenticate(error)
    if isinstance(error, RateLimitedError):
        response.headers["Retry-After"] = str(error.retry_after)
    elif error.status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE_SECONDS)
    return response


def www_authenticate(error: InvalidTokenError) -> str:
    """RFC 6750: no error code when no token was sent, `invalid_token` with a description otherwise."""
    if error.reason == "missing":
        return 'Bearer realm="clearance"'
    description = str(error).replace('"', "'")
    return f'Bearer realm="clearance", error="invalid_token", error_description="{description}"'


def install_error_handlers(app: FastAPI) -> None:
    """Map Clearance errors, validation errors, routing errors and anything unexpected to problems."""

    def problem(request: Request, status: int, title: str, detail: str, code: str) -> JSONResponse:
        body = problem_body(status, title, detail, code, request_id_of(request))
        return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)

    async def clearance_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ClearanceError)
        if error.status >= 500:
            fields = {"request_id": request_id_of(request), "code": error.code}
            log.warning("request failed: %s", error, extra={"fields": fields})
        return problem_response(error, request_id_of(request))

    async def validation_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        details = "; ".join(
            f"{'.'.join(str(part) for part in item.get('loc', ()))}: {item.get('msg', '')}" for item in error.errors()
        )
        return problem(request, 422, "Invalid request", details[:1000], "invalid_request")

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return problem(request, error.status_code, str(error.detail), str(error.detail), code)

    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unexpected error", extra={"fields": {"request_id": request_id_of(request)}})
        return problem(request, 500, "Internal error", "internal error", "internal_error")

    app.add_exception_handler(ClearanceError, clearance_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
