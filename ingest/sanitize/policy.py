"""What happens to a document once its findings are known (CLEARANCE_HIDDEN_TEXT_POLICY)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ingest.sanitize.model import Finding

Policy = Literal["quarantine", "strip"]


def should_quarantine(findings: Sequence[Finding], policy: Policy) -> bool:
    """Hidden text that reads like an instruction holds the whole document back under "quarantine".

    Hidden text is removed under either policy; "strip" indexes what a reader could see."""
    if policy not in ("quarantine", "strip"):
        raise ValueError(f"unknown hidden-text policy {policy!r}: use 'quarantine' or 'strip'")
    return policy == "quarantine" and any(f.action == "removed" and f.instruction_like for f in findings)
