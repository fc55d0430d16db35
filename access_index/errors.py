"""Clearance's own errors. Backend errors (qdrant, keycloak, parsers) are mapped into these at the boundary.

    ClearanceError
    ├── ConfigError              settings that cannot work; names the variable and the fix
    ├── PrincipalError           a malformed principal string (carries the offending value)
    ├── IndexError_              the index cannot answer safely → fail closed (HTTP 503)
    │   ├── IndexLockedError     the embedded shard is held by another process
    │   └── ModelMismatchError   the collection was built with another embedding model
    ├── EmbeddingError           the model cannot be loaded or run
    ├── AuthenticationError      no or bad token (HTTP 401)
    ├── AccessDeniedError        authenticated, but may read nothing here (HTTP 403)
    └── DirectoryError           the synced directory is missing, stale or inconsistent (HTTP 503)

Every error carries a stable `code` so that logs, metrics and problem+json bodies use the same words.
"""

from __future__ import annotations


class ClearanceError(Exception):
    """Base class; `code` is a stable machine-readable identifier."""

    code = "clearance_error"


class ConfigError(ClearanceError):
    code = "config_error"


class PrincipalError(ClearanceError, ValueError):
    code = "invalid_principal"

    def __init__(self, value: object, reason: str) -> None:
        super().__init__(f"invalid principal {value!r}: {reason}")
        self.value = value
        self.reason = reason


class IndexError_(ClearanceError):  # trailing underscore: do not shadow the builtin
    code = "index_unavailable"


class IndexLockedError(IndexError_):
    code = "index_locked"


class ModelMismatchError(IndexError_):
    code = "model_mismatch"


class EmbeddingError(ClearanceError):
    code = "embedding_error"


class AuthenticationError(ClearanceError):
    code = "invalid_token"


class AccessDeniedError(ClearanceError):
    code = "access_denied"


class DirectoryError(ClearanceError):
    code = "directory_unavailable"
