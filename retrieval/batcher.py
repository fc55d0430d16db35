"""Micro-batching of query embeddings: concurrent searches share one forward pass of the model.

While the model embeds one batch, new queries queue up; when it finishes they all go in the next batch.
A lone caller therefore waits for nothing, and 32 concurrent callers cost a few forward passes, not 32.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from access_index.embedder import Embedder, Vectors
from access_index.errors import ClearanceError, EmbeddingError

MAX_BATCH = 64


class QueryBatcher:
    """`await embed(text)` → one normalized vector; one model thread per process."""

    def __init__(
        self, embedder: Embedder, max_batch: int = MAX_BATCH, on_batch: Callable[[int], None] | None = None
    ) -> None:
        self.embedder = embedder
        self.max_batch = max_batch
        self._on_batch = on_batch
        self._pending: list[tuple[str, asyncio.Future[Vectors]]] = []
        self._draining = False
        self._task: asyncio.Task[None] | None = None
        # One thread: torch already uses every core for one batch, and the model is not re-entrant.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clearance-embed")

    async def embed(self, text: str) -> Vectors:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Vectors] = loop.create_future()
        self._pending.append((text, future))
        if not self._draining:
            self._draining = True
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.sleep(0)  # let requests that arrived in the same tick join the first batch
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                live = [(text, future) for text, future in batch if not future.done()]
                if not live:
                    continue
                if self._on_batch is not None:
                    self._on_batch(len(live))
                try:
                    vectors = await loop.run_in_executor(self._executor, self._embed, [text for text, _ in live])
                except Exception as error:
                    failure = (
                        error if isinstance(error, ClearanceError) else EmbeddingError(f"embedding failed: {error}")
                    )
                    for _, future in live:
                        if not future.done():
                            future.set_exception(failure)
                    continue
                for row, (_, future) in enumerate(live):
                    if not future.done():
                        future.set_result(vectors[row])
        finally:
            self._draining = False

    def _embed(self, texts: list[str]) -> Vectors:
        vectors = self.embedder.embed(texts)
        if vectors.shape[0] != len(texts) or not np.all(np.isfinite(vectors)):
            raise EmbeddingError("the model returned unusable vectors")
        return vectors

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
