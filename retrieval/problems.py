"""RFC 9457 problem+json for every error, and the one table mapping Clearance errors to HTTP statuses."""

from __future__ import annotations

from typing import Any

from access_index.errors import (
    AccessDeniedError,
    AuthenticationError,
    ClearanceError,
    DirectoryError,
    EmbeddingError,
    IndexError_,
)

PROBLEM_JSON = "application/problem+json"


class RateLimitedError(ClearanceError):
    """Too many requests for one subject or one agent (HTTP 429)."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int, scope: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.scope = scope


class SearchTimeoutError(ClearanceError):
    """The search did not finish within CLEARANCE_SEARCH_TIMEOUT_SECONDS (HTTP 503, nothing partial)."""

    code = "search_timeout"


class KeysUnavailableError(ClearanceError):
    """The issuer's signing keys cannot be fetched: we cannot tell good tokens from bad (HTTP 503)."""

    code = "idp_keys_unavailable"


class RequestTooLargeError(ClearanceError):
    """A request body beyond CLEARANCE_MAX_REQUEST_BYTES (HTTP 413)."""

    code = "request_too_large"


class AuditWriteError(ClearanceError):
    """The audit record could not be written, so the response is withheld (HTTP 503)."""

    code = "audit_unavailable"


# Order matters: the first matching class wins, so subclasses come before their bases.
STATUS_BY_ERROR: tuple[tuple[type[ClearanceError], int, str], ...] = (
    (AuthenticationError, 401, "Invalid or missing token"),
    (AccessDeniedError, 403, "Access denied"),
    (RateLimitedError, 429, "Too many requests"),
    (RequestTooLargeError, 413, "Request too large"),
    (DirectoryError, 503, "Directory unavailable"),
    (IndexError_, 503, "Index unavailable"),
    (EmbeddingError, 503, "Model unavailable"),
    (SearchTimeoutError, 503, "Search timed out"),
    (KeysUnavailableError, 503, "Identity provider keys unavailable"),
    (AuditWriteError, 503, "Audit log unavailable"),
)

# Errors whose message may be shown to the caller; others (index, model internals) get a generic detail
# so that paths, hosts and stack details stay in the server log.
_PUBLIC_DETAIL = (
    AuthenticationError,
    AccessDeniedError,
    RateLimitedError,
    RequestTooLargeError,
    SearchTimeoutError,
    DirectoryError,
    KeysUnavailableError,
)


def status_for(error: ClearanceError) -> tuple[int, str]:
    """HTTP status and problem title for a Clearance error (500 for anything not in the table)."""
    for error_type, status, title in STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status, title
    return 500, "Internal error"


def public_detail(error: ClearanceError, status: int) -> str:
    """What the caller is told: the message for caller-facing errors, a generic sentence otherwise."""
    if isinstance(error, _PUBLIC_DETAIL):
        return str(error)
    if status == 503:
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
