"""The index contract every engine implements; the rest of Clearance never asks which engine it has."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from access_index.errors import ModelMismatchError
from access_index.index.chunk import Chunk, Hit
from access_index.index.filter import Filter

Role = Literal["serve", "ingest", "acl-sync", "inspect", "status", "bench", "test"]
Mode = Literal["hybrid", "semantic", "keyword"]
MODES: tuple[Mode, ...] = ("hybrid", "semantic", "keyword")


@dataclass(frozen=True)
class SearchQuery:
    """What to rank by: `semantic` the dense `vector`, `keyword` BM25 over `text`, `hybrid` both, fused.

    `vector` is the query's embedding; keyword mode needs none. The engine computes the BM25 side itself
    (access_index/index/sparse.py)."""

    text: str
    mode: Mode
    vector: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown search mode {self.mode!r}: one of {', '.join(MODES)}")
        if self.mode != "keyword" and self.vector is None:
            raise ValueError(f"{self.mode} search needs the query's embedding")


@dataclass(frozen=True)
class ModelInfo:
    """The embedding model a collection was built with; vectors of two models must never mix."""

    name: str
    dimension: int


class ChunkIndex(Protocol):
    """Operations on the chunk collection. All searches take a Filter: there is no unfiltered search."""

    engine: str
    # How this process reaches the index, for reports: "direct", "via clearance serve (pid N)", "Qdrant server".
    route: str

    def ensure_collection(self, model: ModelInfo) -> None:
        """Create the collection and its payload indexes, or check that it was built with `model`.

        A collection built before BM25 vectors existed gets the sparse vector declared (its chunks are then
        filled by `fill_sparse`, while searches go on)."""

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        """Write chunks with their dense vectors (same point id = overwrite in place); the engine adds each
        chunk's BM25 vector from its text."""

    def delete_points(self, point_ids: Sequence[str]) -> None: ...

    def delete_where(self, where: Filter) -> None:
        """Delete every chunk the filter matches (e.g. a whole document)."""

    def set_payload_where(self, where: Filter, payload: Mapping[str, Any]) -> None:
        """Overwrite these payload keys on every matching chunk without touching vectors (ACL changes)."""

    def search(self, query: SearchQuery, where: Filter, limit: int) -> list[Hit]:
        """The `limit` best chunks for `query` among those `where` matches, best first.

        Authorization happens inside the query: `where` restricts every branch (dense, BM25 and the fused
        result), and BM25's IDF is computed over the chunks `where` matches only, so nothing the caller may
        not read is scored or changes a score. Scores are comparable within one result list: cosine
        similarity (semantic), BM25 (keyword), the fusion score of access_index/index/hybrid.py (hybrid)."""

    def fill_sparse(self, limit: int) -> int:
        """Give up to `limit` chunks written before BM25 vectors existed their vector, from the stored text
        (dense vectors untouched), and once none lacks one, chunks written before IDF scopes their scope, from
        the stored ACL; returns how many it filled, 0 once nothing is missing."""

    def scroll(self, where: Filter, fields: Sequence[str] | None = None, batch: int = 256) -> Iterator[Chunk]:
        """Every matching chunk (payload only; `fields` limits what is read, missing ones get defaults)."""

    def count(self, where: Filter | None = None) -> int: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def check_model(recorded: Mapping[str, Any], model: ModelInfo, where: str) -> None:
    """Refuse to mix vectors: the collection must have been built with the configured model."""
    if not recorded:
        raise ModelMismatchError(f"{where} records no embedding model: rebuild it (a new data dir or collection)")
    if recorded.get("model") != model.name or int(recorded.get("dimension", -1)) != model.dimension:
        raise ModelMismatchError(
            f"{where} was built with embedding model {recorded.get('model')!r} "
            f"({recorded.get('dimension')} dimensions) but {model.name!r} ({model.dimension}) is configured: "
            "set CLEARANCE_EMBEDDING_MODEL back, or use a new CLEARANCE_DATA_DIR / CLEARANCE_QDRANT_COLLECTION "
            "and re-ingest"
        )
