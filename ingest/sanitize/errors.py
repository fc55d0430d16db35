"""The sanitizer's error: a file whose hidden-text check cannot be completed is never indexed."""

from __future__ import annotations

from access_index.errors import ClearanceError


class SanitizeError(ClearanceError):
    """The original file could not be checked for hidden text (corrupt, encrypted, unreadable)."""

    code = "sanitize_failed"
