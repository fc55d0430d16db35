"""What one document may cost ingest: the limits its parse runs under, and the words a report uses when a
file passes one. The values are settings (access_index/settings.py, defaults there); why each exists is in
docs/ingest-limits.md. The same values travel to the worker process (ingest/isolation/) as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from access_index.settings import Settings

MiB = 1024 * 1024


@dataclass(frozen=True)
class ParseLimits:
    """The hard limits of one parse (worker process) and the budgets of the cheap checks before it."""

    memory_mb: int  # address space of the worker process (RLIMIT_AS)
    timeout_seconds: int  # wall clock per file, enforced by the parent; also the CPU seconds (RLIMIT_CPU)
    max_decompressed_mb: int  # what a file may inflate to: zip parts, PDF streams
    max_text_mb: int  # the text (and findings) one document may yield; bounds what comes back from the worker

    @classmethod
    def from_settings(cls, settings: Settings) -> ParseLimits:
        return cls(
            memory_mb=settings.parse_memory_mb,
            timeout_seconds=settings.parse_timeout_seconds,
            max_decompressed_mb=settings.max_decompressed_mb,
            max_text_mb=settings.max_document_text_mb,
        )

    @classmethod
    def defaults(cls) -> ParseLimits:
        """The documented defaults (the settings' own), without reading the environment."""
        fields = Settings.model_fields
        return cls(
            memory_mb=fields["parse_memory_mb"].default,
            timeout_seconds=fields["parse_timeout_seconds"].default,
            max_decompressed_mb=fields["max_decompressed_mb"].default,
            max_text_mb=fields["max_document_text_mb"].default,
        )

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * MiB

    @property
    def max_decompressed_bytes(self) -> int:
        return self.max_decompressed_mb * MiB

    @property
    def max_text_bytes(self) -> int:
        return self.max_text_mb * MiB

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ParseLimits:
        values = json.loads(text)
        return cls(
            **{
                name: int(values[name])
                for name in ("memory_mb", "timeout_seconds", "max_decompressed_mb", "max_text_mb")
            }
        )

    # The reasons a report gives: the limit, its value and the setting that changes it.

    def time_reason(self) -> str:
        return f"parse time limit {self.timeout_seconds} s (CLEARANCE_PARSE_TIMEOUT_SECONDS)"

    def memory_reason(self) -> str:
        return f"exceeds the parse memory limit of {self.memory_mb} MiB (CLEARANCE_PARSE_MEMORY_MB)"

    def decompressed_reason(self, what: str) -> str:
        return f"exceeds {self.max_decompressed_mb} MiB decompressed (CLEARANCE_MAX_DECOMPRESSED_MB): {what}"

    def text_reason(self, size: int) -> str:
        return (
            f"yields {size // MiB} MiB of text and findings, over {self.max_text_mb} MiB "
            "(CLEARANCE_MAX_DOCUMENT_TEXT_MB)"
        )
