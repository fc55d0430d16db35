"""Chunking: sections, a token budget the model can take, overlap, provenance, and findings that travel."""

from __future__ import annotations

from itertools import pairwise

from ingest.chunking import ChunkingPolicy, SourceElement, chunk_elements, document_title
from tests.support.hashing_embedder import HashingEmbedder

count = HashingEmbedder().count_tokens


def element(text: str, category: str = "NarrativeText", page: int | None = None, index: int = 0) -> SourceElement:
    return SourceElement(text=text, category=category, page=page, index=index)


def test_no_chunk_exceeds_the_budget_even_for_one_giant_paragraph() -> None:
    policy = ChunkingPolicy(max_tokens=50, overlap_tokens=8, min_section_tokens=10)
    text = " ".join(f"Sentence {n} has exactly seven words here." for n in range(200))
    text += " " + "x" * 5000 + " " + " ".join(["word"] * 400)
    drafts = chunk_elements([element(text)], count, policy)
    assert len(drafts) > 20
    assert all(count(draft.text) <= 50 for draft in drafts)
    # Every word of the input survives somewhere.
    joined = " ".join(draft.text for draft in drafts)
    assert "Sentence 199" in joined


def test_consecutive_chunks_of_a_section_overlap() -> None:
    policy = ChunkingPolicy(max_tokens=40, overlap_tokens=8, min_section_tokens=10)
    paragraphs = [
        element(f"Paragraph {n} explains step {n} of the backup procedure in detail.", index=n) for n in range(12)
    ]
    drafts = chunk_elements(paragraphs, count, policy)
    assert len(drafts) > 2
    for before, after in pairwise(drafts):
        tail = before.text.split()[-3:]
        assert " ".join(tail) in after.text


def test_titles_start_sections_and_provenance_is_kept() -> None:
    policy = ChunkingPolicy(max_tokens=60, overlap_tokens=0, min_section_tokens=5)
    elements = [
        element("Leave policy", "Title", page=1, index=0),
        element("Everyone gets twenty seven days of paid leave every calendar year.", page=1, index=1),
        element("Travel policy", "Title", page=2, index=2),
        element("Book trains for trips under five hours and fly economy otherwise.", page=2, index=3),
    ]
    drafts = chunk_elements(elements, count, policy)
    assert [(d.section, d.page) for d in drafts] == [("Leave policy", 1), ("Travel policy", 2)]
    assert drafts[0].text.startswith("Leave policy")
    assert document_title(elements, "fallback") == "Leave policy"
    assert document_title(elements[1:2], "fallback") == "fallback"


def test_runs_of_short_titles_stay_together() -> None:
    policy = ChunkingPolicy.for_model(256)
    bullets = [element(f"Bullet {n}", "Title", index=n) for n in range(6)]
    drafts = chunk_elements(bullets, count, policy)
    assert len(drafts) == 1
    assert drafts[0].section == "Bullet 0"


def test_findings_travel_with_the_chunk_holding_their_element() -> None:
    policy = ChunkingPolicy(max_tokens=20, overlap_tokens=0, min_section_tokens=5)
    flagged = {"technique": "visible_instruction", "action": "flagged"}
    loose = {"technique": "pdf_metadata", "action": "flagged"}
    elements = [element(f"Block {n} " + "filler " * 12, index=n) for n in range(4)]
    drafts = chunk_elements(elements, count, policy, {2: [flagged], None: [loose]})
    holding = [d for d in drafts if flagged in d.findings]
    assert len(holding) == 1
    assert "Block 2" in holding[0].text
    assert loose in drafts[0].findings


def test_findings_of_an_element_that_produced_no_chunk_are_kept() -> None:
    """A hidden element removed whole leaves no text; its finding must still be shown (with the first chunk)."""
    policy = ChunkingPolicy(max_tokens=20, overlap_tokens=0, min_section_tokens=5)
    removed = {"technique": "html_display_none", "action": "removed"}
    elements = [element("Visible paragraph one", index=0), element("Visible paragraph two", index=2)]
    drafts = chunk_elements(elements, count, policy, {1: [removed]})
    assert [removed] == [f for d in drafts for f in d.findings]
