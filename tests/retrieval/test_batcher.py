"""Concurrent queries share forward passes of the model, and each caller gets its own vector back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import numpy as np
import pytest

from access_index.errors import EmbeddingError
from retrieval.batcher import QueryBatcher
from tests.support.hashing_embedder import HashingEmbedder


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        time.sleep(0.02)  # a forward pass takes time; queries arriving meanwhile must wait for the next batch
        return super().embed(texts)


def test_concurrent_queries_are_batched_and_answered_correctly() -> None:
    embedder = CountingEmbedder()
    batcher = QueryBatcher(embedder)
    queries = [f"query number {i}" for i in range(32)]

    async def run() -> list[np.ndarray]:
        return await asyncio.gather(*(batcher.embed(query) for query in queries))

    vectors = asyncio.run(run())
    batcher.close()
    assert np.allclose(np.stack(vectors), HashingEmbedder().embed(queries))
    assert sum(embedder.calls) == 32
    assert len(embedder.calls) <= 2


def test_a_model_failure_fails_every_waiting_query() -> None:
    class Broken(HashingEmbedder):
        def embed(self, texts: Sequence[str]) -> np.ndarray:
            raise RuntimeError("out of memory")

    batcher = QueryBatcher(Broken())

    async def run() -> None:
        await asyncio.gather(batcher.embed("a"), batcher.embed("b"))

    with pytest.raises(EmbeddingError):
        asyncio.run(run())
    batcher.close()
