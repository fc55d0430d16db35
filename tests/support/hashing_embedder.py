"""A small deterministic embedder for unit tests of pieces other than the model itself.

Token hashing into a fixed number of buckets, L2-normalized: texts sharing words get similar vectors,
so nearest-neighbour behaviour is meaningful, and the result never depends on a model file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from access_index.embedder import Vectors
from access_index.index.base import ModelInfo

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    def __init__(self, dimension: int = 64, name: str = "test-hashing-embedder") -> None:
        self.info = ModelInfo(name=name, dimension=dimension)
        self.max_tokens = 256

    def embed(self, texts: Sequence[str]) -> Vectors:
        rows = np.zeros((len(texts), self.info.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.info.dimension
                rows[row, bucket] += 1.0 if digest[4] & 1 else -1.0
            norm = float(np.linalg.norm(rows[row]))
            if norm == 0.0:
                rows[row, 0] = 1.0
            else:
                rows[row] /= norm
        return rows

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))
