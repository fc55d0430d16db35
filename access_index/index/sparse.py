"""BM25 sparse vectors: the one recipe both engines use, for chunks (at upsert) and for queries (at search).

Qdrant's own BM25 (`qdrant_edge.Bm25`) turns a text into hashed token ids: English word tokens, lowercased,
English stop words removed, Snowball-stemmed. A chunk's vector holds BM25's term-frequency part
(k1, b and a fixed average length); a query's vector holds 1 per distinct token. The IDF part is applied by
Qdrant at query time (the sparse vector is declared with the `Idf` modifier), over the corpus the engine
names: the chunks the caller may read (see `ChunkIndex.search`), so no keyword score ever depends on a chunk
the caller may not read. Both engines compute the vectors here, so the embedded shard and a Qdrant server
store the same numbers and rank alike.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import qdrant_edge as qe

# The vector's name in the collection. It names the recipe: if K1, B, AVG_TOKENS or the tokenizer change,
# change the name too, so existing indexes get a new vector filled from their stored text (see fill_sparse)
# instead of mixing two recipes.
SPARSE_VECTOR = "bm25"
K1 = 1.2
B = 0.75
# The average chunk length in BM25 tokens (after stop words): ingest's chunks of up to 256 model tokens
# hold about 100 of them. Fixed rather than measured per index, so a chunk's vector never changes.
AVG_TOKENS = 100.0


@dataclass(frozen=True)
class SparseVector:
    """Token ids and their weights, engine-neutral."""

    indices: list[int]
    values: list[float]


_model: qe.Bm25 | None = None
_model_lock = threading.Lock()


def _bm25() -> qe.Bm25:
    global _model
    with _model_lock:
        if _model is None:
            _model = qe.Bm25(qe.Bm25Config(k=K1, b=B, avg_len=AVG_TOKENS, language="english"))
        return _model


def document_vector(text: str) -> SparseVector:
    """A chunk's BM25 term weights (empty when the text has no indexable word)."""
    vector = _bm25().embed_document(text)
    return SparseVector(list(vector.indices), list(vector.values))


def query_vector(text: str) -> SparseVector:
    """A query's distinct tokens, weight 1 each; Qdrant multiplies in the IDF at search time."""
    vector = _bm25().embed_query(text)
    return SparseVector(list(vector.indices), list(vector.values))


def stored_chunk_vector(payload: Mapping[str, Any] | None) -> SparseVector:
    """The BM25 vector of a stored chunk, from its `text` payload (filling an index built before BM25)."""
    text = (payload or {}).get("text")
    return document_vector(text if isinstance(text, str) else "")
