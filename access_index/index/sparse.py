"""BM25 sparse vectors: the one recipe both engines use, for chunks (at upsert) and for queries (at search).

Qdrant's own BM25 (`qdrant_edge.Bm25`) turns a text into hashed token ids: English word tokens, lowercased,
English stop words removed, Snowball-stemmed. A chunk's vector holds BM25's term-frequency part
(k1, b and a fixed average length); a query's vector holds 1 per distinct token. The IDF part is applied by
Qdrant at query time (the sparse vector is declared with the `Idf` modifier), over the corpus `idf_corpus`
names: chunks the caller may read, so no keyword score ever depends on a chunk the caller may not read.
Both engines compute the vectors here, so the embedded shard and a Qdrant server store the same numbers and
rank alike.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import qdrant_edge as qe

from access_index.index.filter import AnyOf, Filter

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


# Payload key of a chunk's IDF scope: the (tenant, principal) pairs that may count it in keyword statistics.
IDF_SCOPE = "idf_scope"


def _pair(tenant: str, principal: str) -> str:
    """One scope value; stored (idf_scope) and asked for (idf_corpus) alike. The separator is never in a tenant
    name (access_index/manifest.py), so a pair reads back one way only."""
    return f"{tenant}\x1f{principal}"


def idf_scope(tenant: str, allow: Sequence[str], deny: Sequence[str]) -> list[str]:
    """`<tenant>\x1f<principal>` for each principal the chunk allows; none when it denies anyone.

    Written with the chunk and with every ACL change (chunk.acl_payload), beside the allow and deny lists
    it is made from, so it always says the same thing they do."""
    if deny:
        return []
    return sorted({_pair(tenant, principal) for principal in allow})


def idf_corpus(where: Filter) -> Filter:
    """BM25's IDF corpus for a search under `where` (an access filter): the chunks `where` admits that deny
    nobody.

    One `idf_scope` condition stands for tenant, allow and deny, so the engine resolves the corpus from one
    keyword index instead of checking each readable chunk against three conditions (several times cheaper:
    docs/benchmarks.md, "Keyword IDF"). Narrowings are kept as they are. Every chunk it admits is readable
    under `where`: its scope pairs its own tenant with its own allow list, and is empty when its deny list
    is not. Chunks that deny someone are left out of everyone's statistics; a `where` without exactly one
    tenant and one allow condition is its own corpus."""
    tenants = [condition for condition in where.must if condition.key == "tenant"]
    allows = [condition for condition in where.must if condition.key == "allow"]
    if len(tenants) != 1 or len(allows) != 1:
        return where
    pairs = tuple(_pair(tenant, principal) for tenant in tenants[0].values for principal in allows[0].values)
    narrowing = tuple(condition for condition in where.must if condition.key not in ("tenant", "allow"))
    return Filter(
        must=(AnyOf(IDF_SCOPE, pairs), *narrowing),
        must_not=tuple(condition for condition in where.must_not if condition.key != "deny"),
    )
