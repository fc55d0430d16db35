"""Search and document reads: the access filter is built once and runs inside the index query.

The results are never filtered afterwards to make them correct; `matches` re-checks each returned chunk
against the very same filter only as a tripwire: a chunk that fails it means an engine bug, and the
whole request fails closed (503) instead of returning anything. Each result carries the principal that
granted it, for the audit record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from access_index.acl import Caller, Narrowing, build_access_filter, granting_principal
from access_index.errors import IndexUnavailableError, SearchTimeoutError
from access_index.index import Chunk, ChunkIndex, Filter, Mode, SearchQuery
from access_index.index.chunk import label_tokens
from retrieval.batcher import QueryBatcher

log = logging.getLogger("clearance.search")
INDEX_THREADS = 4


def matches(chunk: Chunk, where: Filter) -> bool:
    """The engine-neutral filter evaluated in Python on one chunk's payload."""
    fields: dict[str, set[str]] = {
        "tenant": {chunk.tenant},
        "document_id": {chunk.document_id},
        "source": {chunk.source},
        "allow": set(chunk.allow),
        "deny": set(chunk.deny),
        "label_kv": set(label_tokens(chunk.labels)),
    }
    for condition in where.must:
        if not fields.get(condition.key, set()) & set(condition.values):
            return False
    return not any(fields.get(condition.key, set()) & set(condition.values) for condition in where.must_not)


@dataclass(frozen=True)
class Found:
    """A chunk the caller may read, its score (None for a document read) and the principal that granted it."""

    chunk: Chunk
    granted_by: str | None
    score: float | None = None


class SearchService:
    """One index and one model per process; every read goes through `build_access_filter`."""

    def __init__(self, index: ChunkIndex, batcher: QueryBatcher, timeout_seconds: float) -> None:
        self.index = index
        self.batcher = batcher
        self.timeout_seconds = timeout_seconds
        # Both engines take concurrent queries (Qdrant Edge too, also while the ACL sync rewrites payloads);
        # a few threads let one slow filtered query not hold up the others.
        self._executor = ThreadPoolExecutor(max_workers=INDEX_THREADS, thread_name_prefix="clearance-index")

    async def search(
        self, caller: Caller, narrowings: Sequence[Narrowing], query: str, top_k: int, mode: Mode = "hybrid"
    ) -> list[Found]:
        """The top_k chunks that best match `query` in `mode` among those the caller may read, best first."""
        where = build_access_filter(caller, narrowings)
        try:
            return await asyncio.wait_for(self._search(caller, where, query, top_k, mode), self.timeout_seconds)
        except TimeoutError:
            raise SearchTimeoutError(f"the search took longer than {self.timeout_seconds} s") from None

    async def _search(self, caller: Caller, where: Filter, text: str, top_k: int, mode: Mode) -> list[Found]:
        # Keyword mode ranks by BM25 alone: no embedding, no model time.
        vector = None if mode == "keyword" else tuple(float(x) for x in await self.batcher.embed(text))
        query = SearchQuery(text=text, mode=mode, vector=vector)
        loop = asyncio.get_running_loop()
        hits = await loop.run_in_executor(self._executor, self.index.search, query, where, top_k)
        self._tripwire([hit.chunk for hit in hits], where)
        return [Found(hit.chunk, granting_principal(caller, hit.chunk.allow), hit.score) for hit in hits]

    async def read_document(self, caller: Caller, narrowings: Sequence[Narrowing], document_id: str) -> list[Found]:
        """The document's chunks in order if the caller may read them; [] for absent and not-yours alike."""
        where = build_access_filter(caller, [*narrowings, Narrowing(document_ids=frozenset({document_id}))])
        loop = asyncio.get_running_loop()
        try:
            chunks = await asyncio.wait_for(
                loop.run_in_executor(self._executor, lambda: list(self.index.scroll(where))), self.timeout_seconds
            )
        except TimeoutError:
            raise SearchTimeoutError(f"the read took longer than {self.timeout_seconds} s") from None
        self._tripwire(chunks, where)
        ordered = sorted(chunks, key=lambda chunk: chunk.chunk_index)
        return [Found(chunk, granting_principal(caller, chunk.allow)) for chunk in ordered]

    def _tripwire(self, chunks: Sequence[Chunk], where: Filter) -> None:
        if not all(matches(chunk, where) for chunk in chunks):
            log.error("the index returned a chunk outside the access filter; refusing the response")
            raise IndexUnavailableError("the index returned a chunk outside the access filter")

    def close(self) -> None:
        self.batcher.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
