"""Length-prefixed JSON frames over a pipe: 4 bytes of length (big-endian), then that many bytes of UTF-8 JSON.

The ingest side reads the length first and refuses a frame larger than it accepts before reading the body,
so a worker can never make the ingest process hold more than that; it reads against a deadline."""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import IO, Any

_HEADER = struct.Struct(">I")


def encode(message: Any) -> bytes:
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _HEADER.pack(len(body)) + body


def write(stream: IO[bytes], frame: bytes) -> None:
    stream.write(frame)
    stream.flush()


def read_blocking(stream: IO[bytes]) -> Any | None:
    """The next message from a blocking stream (the worker's side), or None at end of input."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        return None
    return json.loads(body)


def read_size(fd: int, deadline: float) -> int:
    """The length of the next frame on a pipe (the ingest side), read by `deadline` (time.monotonic()):
    TimeoutError past it, EOFError when the other side is gone."""
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    return int(size)


def read_body(fd: int, size: int, deadline: float) -> Any:
    """The frame's message, once its size has been accepted; ValueError when it is not JSON."""
    return json.loads(_read_exact(fd, size, deadline))


def _read_exact(fd: int, size: int, deadline: float) -> bytes:
    pieces: list[bytes] = []
    missing = size
    while missing:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            raise TimeoutError("deadline passed")
        piece = os.read(fd, min(missing, 1 << 20))
        if not piece:
            raise EOFError("the other side closed the pipe")
        pieces.append(piece)
        missing -= len(piece)
    return b"".join(pieces)
