"""What travels on the index socket between `serve` (which owns the embedded shard) and a local client.

Frames: a 4-byte big-endian length, then that many bytes of UTF-8 JSON, never more than MAX_FRAME_BYTES
(a larger announced length closes the connection unread). JSON is the only thing ever decoded: no pickle,
no object hooks, and every value has an explicit encoder and a decoder that checks its shape, so a frame
can only become the Chunk, Filter, vectors... the method expects, or a WireError.

One connection:
    client {"hello": PROTOCOL, "version": VERSION, "role": "ingest"}   serve {"ok": {"pid": ..., "role": "serve"}}
    client {"call": "upsert", "args": [<chunks>, <vectors>]}           serve {"ok": <result>} | {"error": {...}}
    a streaming method (scroll) answers {"items": [...]} frames, then {"ok": null}.

METHODS is the one table of the ChunkIndex methods that can be forwarded, with a codec per argument and
one for the result: the client encodes from it and the server decodes and dispatches from it, so forwarding
another method (or a changed signature) is one row here and one line in access_index/index/remote.py.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import socket
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar

import numpy as np

from access_index.index.base import ModelInfo, SearchQuery
from access_index.index.chunk import INDEXED_KEYWORDS, Chunk, Hit
from access_index.index.filter import AnyOf, Filter

T = TypeVar("T")
Json = Any  # a value json.loads can return

PROTOCOL = "clearance-index"
VERSION = 1
MAX_FRAME_BYTES = 64 << 20
# What the client aims for per write request: big enough to amortize a round trip, small enough to keep
# the server's memory per request low and to interleave with searches.
TARGET_REQUEST_BYTES = 4 << 20
_HEADER = struct.Struct(">I")


class WireError(ValueError):
    """A frame or value that is not what the protocol allows; the connection cannot be trusted further."""


# -- frames ----------------------------------------------------------------------------------------------------
def send_frame(connection: socket.socket, value: Json) -> None:
    body = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_FRAME_BYTES:
        raise WireError(f"a frame of {len(body)} bytes is over the {MAX_FRAME_BYTES}-byte limit")
    connection.sendall(_HEADER.pack(len(body)) + body)


def receive_frame(connection: socket.socket) -> Json:
    """The next frame's value; EOFError when the peer closed the connection between frames."""
    header = _receive_exactly(connection, _HEADER.size, at_boundary=True)
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise WireError(f"the peer announced a frame of {length} bytes, over the {MAX_FRAME_BYTES}-byte limit")
    body = _receive_exactly(connection, length, at_boundary=False)
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise WireError(f"a frame that is not JSON: {error}") from None


def _receive_exactly(connection: socket.socket, size: int, at_boundary: bool) -> bytes:
    parts: list[bytes] = []
    missing = size
    while missing:
        part = connection.recv(min(missing, 1 << 20))
        if not part:
            if at_boundary and missing == size:
                raise EOFError("the peer closed the connection")
            raise ConnectionResetError("the peer closed the connection in the middle of a frame")
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


def _no_constant(name: str) -> Any:
    raise WireError(f"{name} is not a number the protocol carries")


# -- value codecs ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Codec(Generic[T]):
    """How one kind of value travels: `encode` to JSON, `decode` back, checking the shape."""

    encode: Callable[[T], Json]
    decode: Callable[[Json], T]


def _string(value: Json) -> str:
    if not isinstance(value, str):
        raise WireError(f"expected a string, got {type(value).__name__}")
    return value


def _optional_string(value: Json) -> str | None:
    return None if value is None else _string(value)


def _integer(value: Json) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireError(f"expected an integer, got {type(value).__name__}")
    return value


def _bounded(low: int, high: int) -> Codec[int]:
    def decode(value: Json) -> int:
        number = _integer(value)
        if not low <= number <= high:
            raise WireError(f"{number} is outside {low}..{high}")
        return number

    return Codec(int, decode)


def _strings(value: Json) -> tuple[str, ...]:
    return tuple(_string(item) for item in _list(value))


def _object(value: Json) -> dict[str, Json]:
    if not isinstance(value, dict):
        raise WireError(f"expected an object, got {type(value).__name__}")
    return value


def _list(value: Json) -> list[Json]:
    if not isinstance(value, list):
        raise WireError(f"expected a list, got {type(value).__name__}")
    return value


def _string_map(value: Json) -> dict[str, str]:
    return {key: _string(item) for key, item in _object(value).items()}


def _list_of(item: Codec[T]) -> Codec[list[T]]:
    def decode(value: Json) -> list[T]:
        return [item.decode(element) for element in _list(value)]

    return Codec(lambda values: [item.encode(value) for value in values], decode)


def _optional(inner: Codec[T]) -> Codec[T | None]:
    return Codec(
        lambda value: None if value is None else inner.encode(value),
        lambda value: None if value is None else inner.decode(value),
    )


def _nothing(value: Json) -> None:
    if value is not None:
        raise WireError("expected no value")


NOTHING: Codec[None] = Codec(lambda value: None, _nothing)
STRINGS: Codec[Sequence[str]] = Codec(list, _strings)
FIELDS = _optional(STRINGS)
LIMIT = _bounded(1, 100_000)
BATCH = _bounded(1, 100_000)
COUNT = _bounded(0, 1 << 62)


def _encode_filter(where: Filter) -> Json:
    return {
        "must": [[condition.key, list(condition.values)] for condition in where.must],
        "must_not": [[condition.key, list(condition.values)] for condition in where.must_not],
    }


def _decode_conditions(value: Json) -> tuple[AnyOf, ...]:
    conditions = []
    for condition in _list(value):
        if not isinstance(condition, list) or len(condition) != 2:
            raise WireError("a filter condition is [key, values]")
        key = _string(condition[0])
        if key not in INDEXED_KEYWORDS:  # the engines filter on indexed keywords only
            raise WireError(f"{key!r} is not a filterable field")
        conditions.append(AnyOf(key, _strings(condition[1])))
    return tuple(conditions)


def _decode_filter(value: Json) -> Filter:
    data = _object(value)
    if set(data) != {"must", "must_not"}:
        raise WireError("a filter has exactly `must` and `must_not`")
    return Filter(_decode_conditions(data["must"]), _decode_conditions(data["must_not"]))


FILTER: Codec[Filter] = Codec(_encode_filter, _decode_filter)
OPTIONAL_FILTER = _optional(FILTER)


def _decode_model(value: Json) -> ModelInfo:
    data = _object(value)
    return ModelInfo(_string(data.get("name")), _bounded(1, 1 << 16).decode(data.get("dimension")))


MODEL_INFO: Codec[ModelInfo] = Codec(lambda model: {"name": model.name, "dimension": model.dimension}, _decode_model)

# Each Chunk field and the check its JSON value must pass; a field missing from the frame is an error.
_CHUNK_FIELDS: dict[str, Callable[[Json], Any]] = {
    "tenant": _string,
    "document_id": _string,
    "source": _string,
    "chunk_index": _integer,
    "chunk_count": _integer,
    "text": _string,
    "uri": _string,
    "allow": _strings,
    "deny": _strings,
    "title": _optional_string,
    "page": lambda value: None if value is None else _integer(value),
    "section": _optional_string,
    "labels": _string_map,
    "findings": lambda value: tuple(_object(item) for item in _list(value)),
    "content_hash": _string,
    "acl_hash": _string,
    "pipeline_version": _string,
}
assert set(_CHUNK_FIELDS) == {field.name for field in fields(Chunk)}, "every Chunk field has its check"


def _encode_chunk(chunk: Chunk) -> Json:
    return {
        **{name: getattr(chunk, name) for name in _CHUNK_FIELDS},
        "allow": list(chunk.allow),
        "deny": list(chunk.deny),
        "labels": dict(chunk.labels),
        "findings": [dict(finding) for finding in chunk.findings],
    }


def _decode_chunk(value: Json) -> Chunk:
    data = _object(value)
    if set(data) != set(_CHUNK_FIELDS):
        raise WireError(f"a chunk has exactly the fields {sorted(_CHUNK_FIELDS)}")
    return Chunk(**{name: check(data[name]) for name, check in _CHUNK_FIELDS.items()})


CHUNK: Codec[Chunk] = Codec(_encode_chunk, _decode_chunk)
CHUNKS = _list_of(CHUNK)


def _encode_vector(vector: Sequence[float]) -> Json:
    # float32, as the engines store it: exact, and a quarter of the size of decimal text.
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def _decode_vector(value: Json) -> list[float]:
    try:
        raw = base64.b64decode(_string(value), validate=True)
    except binascii.Error as error:
        raise WireError(f"a vector that is not base64: {error}") from None
    if not raw or len(raw) % 4:
        raise WireError("a vector is a non-empty run of float32 values")
    vector = np.frombuffer(raw, dtype="<f4")
    if not np.isfinite(vector).all():
        raise WireError("a vector with a NaN or infinite value")
    values: list[float] = vector.tolist()
    return values


VECTOR: Codec[Sequence[float]] = Codec(_encode_vector, _decode_vector)
VECTORS = _list_of(VECTOR)
MAX_QUERY_CHARS = 100_000  # far above the REST bound (2,000): a bound on what one frame may ask the engine


def _encode_query(query: SearchQuery) -> Json:
    vector = None if query.vector is None else _encode_vector(query.vector)
    return {"text": query.text, "mode": query.mode, "vector": vector}


def _decode_query(value: Json) -> SearchQuery:
    data = _object(value)
    text, mode = _string(data.get("text")), _string(data.get("mode"))
    if len(text) > MAX_QUERY_CHARS:
        raise WireError(f"a query text longer than {MAX_QUERY_CHARS} characters")
    raw_vector = data.get("vector")
    vector = None if raw_vector is None else tuple(_decode_vector(raw_vector))
    try:
        return SearchQuery(text, mode, vector)  # type: ignore[arg-type]  # the mode is checked by SearchQuery
    except ValueError as error:
        raise WireError(str(error)) from None


QUERY: Codec[SearchQuery] = Codec(_encode_query, _decode_query)


def _decode_score(value: Json) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise WireError("a score is a finite number")
    return float(value)


def _decode_hit(value: Json) -> Hit:
    data = _object(value)
    return Hit(_decode_chunk(data.get("chunk")), _decode_score(data.get("score")))


HITS = _list_of(Codec(lambda hit: {"chunk": _encode_chunk(hit.chunk), "score": hit.score}, _decode_hit))

# The payload keys a payload rewrite may set: the ones a Chunk stores (access_index/index/chunk.py).
PAYLOAD_KEYS = frozenset(Chunk("t", "d", "s", 0, 1, "", "", ()).to_payload())


def _decode_payload(value: Json) -> dict[str, Json]:
    data = _object(value)
    unknown = set(data) - PAYLOAD_KEYS
    if unknown:
        raise WireError(f"payload keys a chunk does not have: {sorted(unknown)}")
    return data


PAYLOAD: Codec[Mapping[str, Any]] = Codec(dict, _decode_payload)


# -- the forwarded methods -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Method:
    """A ChunkIndex method as it travels: one codec per positional argument, one for the result (per item
    when `stream`, for a method that returns an iterator)."""

    params: tuple[Codec[Any], ...]
    result: Codec[Any]
    stream: bool = False

    def encode_args(self, args: Sequence[Any]) -> list[Json]:
        return [codec.encode(value) for codec, value in zip(self.params, args, strict=True)]

    def decode_args(self, raw: Json) -> list[Any]:
        if not isinstance(raw, list) or len(raw) != len(self.params):
            raise WireError(f"expected {len(self.params)} arguments")
        return [codec.decode(value) for codec, value in zip(self.params, raw, strict=True)]


METHODS: dict[str, Method] = {
    "ensure_collection": Method((MODEL_INFO,), NOTHING),
    "upsert": Method((CHUNKS, VECTORS), NOTHING),
    "delete_points": Method((STRINGS,), NOTHING),
    "delete_where": Method((FILTER,), NOTHING),
    "set_payload_where": Method((FILTER, PAYLOAD), NOTHING),
    "search": Method((QUERY, FILTER, LIMIT), HITS),
    "fill_sparse": Method((LIMIT,), COUNT),
    "scroll": Method((FILTER, FIELDS, BATCH), CHUNK, stream=True),
    "count": Method((OPTIONAL_FILTER,), COUNT),
    "flush": Method((), NOTHING),
}
