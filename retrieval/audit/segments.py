"""Reading segment files: their lines in order, and their last complete line without reading the whole file.

A line is complete when it ends with a newline. Bytes after the last newline are a torn tail: a write
that never finished (the process died, or the disk filled up, in the middle of it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BLOCK = 65536


@dataclass(frozen=True)
class Tail:
    """The end of a segment: its last complete line and where the complete lines end."""

    line: bytes | None  # without its newline; None when the segment has no complete line
    complete_end: int  # the offset just after the last newline (0 when there is none)
    size: int

    @property
    def torn(self) -> int:
        """How many bytes follow the last complete line."""
        return self.size - self.complete_end


def read_tail(path: Path) -> Tail:
    """The segment's last complete line, read backwards from its end."""
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        buffer, start = b"", size
        newline = -1
        while start > 0 and newline < 0:
            step = min(BLOCK, start)
            start -= step
            handle.seek(start)
            buffer = handle.read(step) + buffer
            newline = buffer.rfind(b"\n")
        if newline < 0:
            return Tail(None, 0, size)
        complete_end = start + newline + 1
        before = buffer.rfind(b"\n", 0, newline)
        while before < 0 and start > 0:
            step = min(BLOCK, start)
            start -= step
            handle.seek(start)
            chunk = handle.read(step)
            buffer, newline = chunk + buffer, newline + len(chunk)
            before = buffer.rfind(b"\n", 0, newline)
        return Tail(buffer[before + 1 : newline], complete_end, size)


def first_line(path: Path) -> bytes | None:
    """The segment's first complete line (without its newline), or None."""
    with open(path, "rb") as handle:
        line = handle.readline()
    return line[:-1] if line.endswith(b"\n") else None


def lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(line number from 1, content without its newline, whether it was complete) for every line."""
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            complete = line.endswith(b"\n")
            yield number, line[:-1] if complete else line, complete
