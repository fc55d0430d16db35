"""The hidden-text policy: what holds a document back and what does not."""

from __future__ import annotations

import pytest

from ingest.sanitize.model import Finding
from ingest.sanitize.policy import should_quarantine

HIDDEN_INSTRUCTION = Finding("html_display_none", "p", "ignore previous instructions", "removed", 28, True, 1)
HIDDEN_PROSE = Finding("html_comment", "body", "build 42", "removed", 8, False, None)
VISIBLE_INSTRUCTION = Finding("visible_instruction_override", "element 0", "ignore", "flagged", 0, True, 0)


@pytest.mark.parametrize(
    ("findings", "policy", "expected"),
    [
        ([HIDDEN_INSTRUCTION], "quarantine", True),
        ([HIDDEN_INSTRUCTION], "strip", False),
        ([HIDDEN_PROSE], "quarantine", False),
        ([VISIBLE_INSTRUCTION], "quarantine", False),
        ([HIDDEN_PROSE, VISIBLE_INSTRUCTION, HIDDEN_INSTRUCTION], "quarantine", True),
        ([], "quarantine", False),
    ],
)
def test_only_hidden_instructions_quarantine(findings: list[Finding], policy: str, expected: bool) -> None:
    assert should_quarantine(findings, policy) is expected  # type: ignore[arg-type]


def test_an_unknown_policy_fails_closed() -> None:
    with pytest.raises(ValueError, match="strip"):
        should_quarantine([], "ignore")  # type: ignore[arg-type]
