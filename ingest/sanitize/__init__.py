"""The sanitize step between parsing and chunking: sees the original file and the parsed elements,
returns cleaned elements plus findings. One scanner per technique (the hidden-text issue fills them in)."""

from ingest.sanitize.model import Finding, SanitizedDocument
from ingest.sanitize.pipeline import sanitize

__all__ = ["Finding", "SanitizedDocument", "sanitize"]
