"""Clean elements → chunks: split at titles (sections), packed up to a token budget that fits the
embedder's maximum sequence length, with a small overlap between consecutive chunks of a section.

Text past a model's maximum length is silently truncated when embedded, so the budget is counted
with the embedder's own tokenizer and a margin is left for its special tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SPECIAL_TOKEN_MARGIN = 8
MIN_BUDGET = 16
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
_TITLE_CATEGORIES = frozenset({"Title"})


@dataclass(frozen=True)
class ChunkDraft:
    """One chunk before embedding: its text, provenance and the findings of the elements it holds."""

    text: str
    section: str | None
    page: int | None
    findings: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class ChunkingPolicy:
    """Token budget per chunk and overlap between consecutive chunks of one section."""

    max_tokens: int
    overlap_tokens: int
    min_section_tokens: int = 0

    @staticmethod
    def for_model(max_tokens: int) -> ChunkingPolicy:
        budget = max(MIN_BUDGET, max_tokens - SPECIAL_TOKEN_MARGIN)
        return ChunkingPolicy(
            max_tokens=budget, overlap_tokens=max(0, min(32, budget // 8)), min_section_tokens=budget // 4
        )


@dataclass
class _Open:
    """The chunk being filled (mutable while packing; frozen into a ChunkDraft when full)."""

    section: str | None
    parts: list[str] = field(default_factory=list)
    tokens: int = 0
    page: int | None = None
    elements: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class SourceElement:
    """What chunking needs from a parsed element: its text, kind, page and index in the parsed list."""

    text: str
    category: str
    page: int | None
    index: int


def from_unstructured(elements: Sequence[Any], original_index: Mapping[int, int]) -> list[SourceElement]:
    """Adapt unstructured elements; `original_index` maps id(element) to its index before sanitizing."""
    adapted = []
    for position, element in enumerate(elements):
        page = getattr(element.metadata, "page_number", None)
        adapted.append(
            SourceElement(
                text=str(element.text or "").strip(),
                category=str(getattr(element, "category", "") or ""),
                page=int(page) if isinstance(page, int) else None,
                index=original_index.get(id(element), position),
            )
        )
    return adapted


def document_title(elements: Sequence[SourceElement], fallback: str) -> str:
    for element in elements:
        if element.category in _TITLE_CATEGORIES and element.text:
            return element.text[:300]
    return fallback


def chunk_elements(
    elements: Sequence[SourceElement],
    count_tokens: Callable[[str], int],
    policy: ChunkingPolicy,
    findings_by_element: Mapping[int | None, Sequence[Mapping[str, Any]]] | None = None,
) -> list[ChunkDraft]:
    """Pack elements into chunks; a title starts a new section and a new chunk."""
    drafts: list[ChunkDraft] = []
    findings_by_element = findings_by_element or {}
    current = _Open(section=None)

    def close(carry_overlap: bool) -> None:
        nonlocal current
        if current.parts:
            drafts.append(_freeze(current, findings_by_element))
        tail = _tail(current.parts, policy.overlap_tokens, count_tokens) if carry_overlap and current.parts else ""
        next_open = _Open(section=current.section, page=current.page)
        if tail:
            next_open.parts.append(tail)
            next_open.tokens = count_tokens(tail)
        current = next_open

    for element in elements:
        if not element.text:
            continue
        if element.category in _TITLE_CATEGORIES:
            # A heading opens a new chunk unless the current one is still small: slide decks and
            # heuristically classified text produce runs of short "titles" that belong together.
            if current.tokens >= policy.min_section_tokens:
                close(carry_overlap=False)
                current = _Open(section=element.text[:300])
            elif not current.elements:
                current = _Open(section=element.text[:300])
        for piece, tokens in _pieces(element.text, count_tokens, policy.max_tokens):
            if current.tokens + tokens > policy.max_tokens and current.parts:
                close(carry_overlap=True)
                if current.tokens + tokens > policy.max_tokens:  # the overlap itself does not fit
                    current = _Open(section=current.section, page=current.page)
            if not current.parts or current.page is None:
                current.page = element.page if element.page is not None else current.page
            current.parts.append(piece)
            current.tokens += tokens
            current.elements.add(element.index)
    if current.elements:  # a chunk holding only the overlap of the previous one adds nothing
        drafts.append(_freeze(current, findings_by_element))
    # Findings that belong to no chunk travel with the first one: whole-document findings, and those of an
    # element that produced no text (a hidden element removed whole), so that no finding is ever dropped.
    placed = {element.index for element in elements if element.text}
    loose = tuple(
        finding
        for key in sorted(findings_by_element, key=lambda k: (k is not None, k or 0))
        if key not in placed
        for finding in findings_by_element[key]
    )
    if loose and drafts:
        first = drafts[0]
        drafts[0] = ChunkDraft(first.text, first.section, first.page, first.findings + loose)
    return drafts


def _freeze(open_chunk: _Open, findings_by_element: Mapping[int | None, Sequence[Mapping[str, Any]]]) -> ChunkDraft:
    findings = tuple(finding for index in sorted(open_chunk.elements) for finding in findings_by_element.get(index, ()))
    return ChunkDraft("\n\n".join(open_chunk.parts), open_chunk.section, open_chunk.page, findings)


def _pieces(text: str, count_tokens: Callable[[str], int], budget: int) -> list[tuple[str, int]]:
    """(piece, tokens): the text itself when it fits, else sentence groups, else word windows."""
    whole = count_tokens(text)
    if whole <= budget:
        return [(text, whole)]
    pieces: list[tuple[str, int]] = []
    buffer: list[str] = []
    buffer_tokens = 0
    for sentence in _SENTENCE_END.split(text):
        tokens = count_tokens(sentence)
        if tokens > budget:
            if buffer:
                pieces.append((" ".join(buffer), buffer_tokens))
                buffer, buffer_tokens = [], 0
            pieces.extend((window, count_tokens(window)) for window in _word_windows(sentence, count_tokens, budget))
            continue
        if buffer_tokens + tokens > budget and buffer:
            pieces.append((" ".join(buffer), buffer_tokens))
            buffer, buffer_tokens = [], 0
        buffer.append(sentence)
        buffer_tokens += tokens
    if buffer:
        pieces.append((" ".join(buffer), buffer_tokens))
    return pieces


def _word_windows(text: str, count_tokens: Callable[[str], int], budget: int) -> list[str]:
    words = text.split()
    windows: list[str] = []
    start = 0
    size = max(1, budget // 2)
    while start < len(words):
        end = min(len(words), start + size)
        window = " ".join(words[start:end])
        # Shrink until it fits: subword tokenizers can turn one word (a hash, a URL) into many tokens.
        while end - start > 1 and count_tokens(window) > budget:
            end = start + max(1, (end - start) * 3 // 4)
            window = " ".join(words[start:end])
        if count_tokens(window) > budget:
            window = window[: budget * 2]  # a single giant "word": keep a bounded prefix of it
        windows.append(window)
        start = end
    return windows


def _tail(parts: Sequence[str], overlap_tokens: int, count_tokens: Callable[[str], int]) -> str:
    """The last words of a chunk, carried into the next so a sentence cut at the boundary keeps context."""
    if overlap_tokens <= 0:
        return ""
    words = parts[-1].split()
    take = max(1, overlap_tokens * 3 // 4)
    tail = " ".join(words[-take:])
    while take > 1 and count_tokens(tail) > overlap_tokens:
        take //= 2
        tail = " ".join(words[-take:])
    return tail if count_tokens(tail) <= overlap_tokens else ""
