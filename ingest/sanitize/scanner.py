"""The one-method interface every format scanner implements."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ingest.sanitize.model import HiddenSpan


class FileScanner(Protocol):
    """Reads the original file and lists the text a reader of the rendered document cannot see."""

    def scan(self, path: Path) -> list[HiddenSpan]:
        """Hidden spans in document order; raises SanitizeError when the file cannot be checked."""
        ...
