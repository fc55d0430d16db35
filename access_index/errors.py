"""Clearance's one error tree. Backend errors (qdrant, keycloak, parsers, OS) are mapped into these where
they are caught, and these are mapped once per edge: HTTP problems in retrieval/errors.py, exit codes in
access_index/cli.py.

    class                                code                  HTTP
    ClearanceError                       clearance_error       500
    ├── ConfigError                      config_error          500  settings that cannot work (names the variable)
    │   ├── ManifestError                invalid_manifest      500  an ACL manifest that does not validate
    │   └── SourceConflictError          source_conflict       500  another root or manifest for a source, unasked
    ├── PrincipalError                   invalid_principal     500  a malformed principal string
    ├── IndexUnavailableError            index_unavailable     503  the index cannot answer safely (fail closed)
    │   ├── IndexLockedError             index_locked          503  the embedded shard is held by another process
    │   ├── ModelMismatchError           model_mismatch        503  the collection was built with another model
    │   ├── NoCollectionError            no_collection         503  nothing was ever indexed (no collection yet)
    │   └── WriteInterruptedError        write_interrupted     503  an ingest's writes stopped mid-run (names files)
    ├── EmbeddingError                   embedding_error       503  the model cannot be loaded or run
    ├── InvalidTokenError                invalid_token         401  no or bad token (`reason`: a word for metrics)
    ├── KeysUnavailableError             idp_keys_unavailable  503  an issuer's signing keys cannot be fetched
    ├── AccessDeniedError                access_denied         403  authenticated, but may read nothing here
    ├── NotFoundError                    not_found             404  no such document, or not the caller's (alike)
    ├── RateLimitedError                 rate_limited          429  too many requests for a subject or an agent
    ├── RequestTooLargeError             request_too_large     413  a body beyond CLEARANCE_MAX_REQUEST_BYTES
    ├── SearchTimeoutError               search_timeout        503  a search beyond CLEARANCE_SEARCH_TIMEOUT_SECONDS
    ├── AuditWriteError                  audit_unavailable     503  the audit record cannot be written
    ├── DirectoryError                   directory_unavailable 503  the synced directory is missing, stale or bad
    │   ├── PullError                    directory_pull_failed 503  a pull failed or came back incomplete
    │   └── SyncBusyError                sync_busy             503  another sync holds the lock
    ├── OfflineNlpError                  offline_nlp_error     500  unstructured would reach the network
    └── DocumentError                    document_error        500  one file cannot be indexed (ingest reports it)
        ├── ParseError                   parse_failed          500  no text could be read from it
        ├── UndecodableError             undecodable           500  a text file in no known encoding
        ├── SanitizeError                sanitize_failed       500  its hidden-text check could not be completed
        ├── LimitExceededError           limit_exceeded        500  it would cost more than ingest's limits allow
        └── UnsafeFileError              unsafe_file           500  its path is no longer a regular file inside the root

Every class has a stable `code` (logs, metrics, problem+json bodies, the sync report use the same words),
an HTTP `status` and a problem `title`; `public` says whether its message may be shown to an API caller
(others get a generic sentence, so paths and hosts stay in the server log). tests/test_errors.py checks
that every ClearanceError subclass anywhere in Clearance is drawn here and mapped at both edges.
"""

from __future__ import annotations

from typing import ClassVar


class ClearanceError(Exception):
    """Base class: a stable `code`, the HTTP `status` and `title` a caller sees, and whether the message is public."""

    code: ClassVar[str] = "clearance_error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    public: ClassVar[bool] = False


class ConfigError(ClearanceError):
    code = "config_error"
    title = "Misconfigured"


class ManifestError(ConfigError):
    """The manifest cannot be used; the message names the file, the line and the fix."""

    code = "invalid_manifest"
    title = "Invalid ACL manifest"


class SourceConflictError(ConfigError):
    """An ingest that would attach another root or manifest to a source (tenant, name) without saying so;
    the message names what is recorded, what was given and the flag that allows it."""

    code = "source_conflict"
    title = "Source conflict"


class PrincipalError(ClearanceError, ValueError):
    code = "invalid_principal"
    title = "Invalid principal"

    def __init__(self, value: object, reason: str) -> None:
        super().__init__(f"invalid principal {value!r}: {reason}")
        self.value = value
        self.reason = reason


class IndexUnavailableError(ClearanceError):
    code = "index_unavailable"
    status = 503
    title = "Index unavailable"


class IndexLockedError(IndexUnavailableError):
    """The embedded shard is held by another process: `holder_role` and `holder_pid` say which (None: unknown)."""

    code = "index_locked"

    def __init__(self, message: str, holder_role: str | None = None, holder_pid: int | None = None) -> None:
        super().__init__(message)
        self.holder_role = holder_role
        self.holder_pid = holder_pid


class ModelMismatchError(IndexUnavailableError):
    code = "model_mismatch"


class NoCollectionError(IndexUnavailableError):
    """The collection does not exist yet: a reader may take that as "nothing indexed" (acl-sync does)."""

    code = "no_collection"


class WriteInterruptedError(IndexUnavailableError):
    """The index stopped taking a run's writes (say `serve` stopped): names the documents and what to do."""

    code = "write_interrupted"


class EmbeddingError(ClearanceError):
    code = "embedding_error"
    status = 503
    title = "Model unavailable"


class InvalidTokenError(ClearanceError):
    """A token we refuse; `reason` is a short stable word for metrics, the message helps the operator."""

    code = "invalid_token"
    status = 401
    title = "Invalid or missing token"
    public = True

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class KeysUnavailableError(ClearanceError):
    """The issuer's signing keys cannot be fetched: we cannot tell good tokens from bad."""

    code = "idp_keys_unavailable"
    status = 503
    title = "Identity provider keys unavailable"
    public = True


class AccessDeniedError(ClearanceError):
    code = "access_denied"
    status = 403
    title = "Access denied"
    public = True


class NotFoundError(ClearanceError):
    """A document that does not exist and one the caller may not read get this same answer."""

    code = "not_found"
    status = 404
    title = "Not found"
    public = True


class RateLimitedError(ClearanceError):
    """Too many requests for one subject or one agent."""

    code = "rate_limited"
    status = 429
    title = "Too many requests"
    public = True

    def __init__(self, message: str, retry_after: int, scope: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.scope = scope


class RequestTooLargeError(ClearanceError):
    code = "request_too_large"
    status = 413
    title = "Request too large"
    public = True


class SearchTimeoutError(ClearanceError):
    """The search did not finish in time; nothing partial is returned."""

    code = "search_timeout"
    status = 503
    title = "Search timed out"
    public = True


class AuditWriteError(ClearanceError):
    """The audit record could not be written, so the response is withheld."""

    code = "audit_unavailable"
    status = 503
    title = "Audit log unavailable"


class DirectoryError(ClearanceError):
    code = "directory_unavailable"
    status = 503
    title = "Directory unavailable"
    public = True


class PullError(DirectoryError):
    """A directory pull that failed or came back incomplete; `retryable` says whether to try again."""

    code = "directory_pull_failed"

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class SyncBusyError(DirectoryError):
    """Another sync holds the lock (in this process or another one on this data dir)."""

    code = "sync_busy"


class DocumentError(ClearanceError):
    """One file cannot be indexed; ingest reports it as failed and goes on with the batch."""

    code = "document_error"
    title = "Document cannot be indexed"


class ParseError(DocumentError):
    """No text could be read from a file; `reason` is what the report shows."""

    code = "parse_failed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UndecodableError(DocumentError):
    code = "undecodable"


class SanitizeError(DocumentError):
    """The original file could not be checked for hidden text (corrupt, encrypted, unreadable): never indexed."""

    code = "sanitize_failed"


class LimitExceededError(DocumentError):
    """Reading the file would cost more than ingest's limits allow (a parser bomb, or just too big): too much
    decompressed data, too many cells or paragraphs, too deep, too much memory or time. The message names the
    limit and its setting."""

    code = "limit_exceeded"


class UnsafeFileError(DocumentError):
    """The path no longer leads to a regular file inside the ingest root without following a link (swapped for
    a symlink, a folder on the way replaced by one, a FIFO or device): the file is not read."""

    code = "unsafe_file"


class OfflineNlpError(ClearanceError):
    """unstructured's offline hooks are missing: parsing could reach the network, so it does not run."""

    code = "offline_nlp_error"
