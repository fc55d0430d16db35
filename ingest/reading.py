"""How ingest reads a file: opened once, never through a link, then only from that descriptor.

Discovery (ingest/discovery.py) checks the tree when it walks it, but the tree can change before a file is
read: a file swapped for a symlink to /etc/shadow, or a folder on its path replaced by a link out of the
root. So each file is opened here again without following any link: every folder of its path relative to
the root with O_NOFOLLOW|O_DIRECTORY from the descriptor of the one before (O_NOFOLLOW alone only covers the
last component), the file itself with O_NOFOLLOW, and fstat must then say a regular file. Everything after
reads that descriptor: the hash that tells whether the file changed, and a private copy (mode 0600 in a
0700 folder of this process) that the parsers and the hidden-text check open by path. The content hash that
goes into the index is the hash of that copy, so it is the hash of exactly the bytes that were parsed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from access_index.errors import LimitExceededError, UnsafeFileError
from ingest.discovery import FoundFile

_BLOCK = 1 << 20
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO that took the file's place must not hang the run (fstat then refuses it).
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


@dataclass(frozen=True)
class PrivateCopy:
    """The bytes of one file as read from its descriptor, in a place only this process's user can reach."""

    path: Path
    content_hash: str
    size: int

    def remove(self) -> None:
        """Delete the copy (it is alone in its own slot of the private folder)."""
        shutil.rmtree(self.path.parent, ignore_errors=True)


class PrivateFolder:
    """A 0700 temporary folder for the private copies of one run; `close()` removes it with its content."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="clearance-read-"))  # mkdtemp creates it with mode 0700

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> PrivateFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OpenedFile:
    """A regular file inside its root, open read-only. Read it only through `hash()` and `copy_into()`."""

    def __init__(self, fd: int, name: str, size: int) -> None:
        self._fd = fd
        self.name = name
        self.size = size  # at open time; the reads below are bounded on their own

    def hash(self, max_bytes: int) -> str:
        """SHA-256 of the content (LimitExceededError past `max_bytes`, even if the file grew after open)."""
        digest = hashlib.sha256()
        for block in self._blocks(max_bytes):
            digest.update(block)
        return digest.hexdigest()

    def copy_into(self, folder: PrivateFolder, max_bytes: int) -> PrivateCopy:
        """Copy the content into a fresh slot of `folder` under the file's own name (parsers go by its
        suffix), hashing what is written."""
        slot = Path(tempfile.mkdtemp(dir=folder.path))
        target = slot / self.name
        digest = hashlib.sha256()
        size = 0
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            with os.fdopen(out, "wb") as handle:
                for block in self._blocks(max_bytes):
                    digest.update(block)
                    handle.write(block)
                    size += len(block)
        except BaseException:
            shutil.rmtree(slot, ignore_errors=True)
            raise
        return PrivateCopy(target, digest.hexdigest(), size)

    def _blocks(self, max_bytes: int) -> Iterator[bytes]:
        """The content from offset 0, by pread: the descriptor's own offset is never shared state."""
        offset = 0
        while block := os.pread(self._fd, _BLOCK, offset):
            offset += len(block)
            if offset > max_bytes:
                raise too_large(offset, max_bytes)
            yield block

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> OpenedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def too_large(size: int, max_bytes: int) -> LimitExceededError:
    return LimitExceededError(f"too large: {size} bytes > {max_bytes} (CLEARANCE_MAX_FILE_BYTES)")


def open_found(found: FoundFile, max_file_bytes: int) -> OpenedFile:
    """Open a discovered file (ingest/discovery.py) once, without following links; UnsafeFileError,
    LimitExceededError (larger than CLEARANCE_MAX_FILE_BYTES) or OSError when it cannot be read."""
    opened = open_in_root(found.root, found.relpath)
    if opened.size > max_file_bytes:
        opened.close()
        raise too_large(opened.size, max_file_bytes)
    return opened


def open_in_root(root: Path, relpath: str) -> OpenedFile:
    """Open `relpath` under `root` without following a link anywhere on the way; UnsafeFileError when the
    path now leads through a link or to something other than a regular file, OSError when it is gone."""
    parts = relpath.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise UnsafeFileError(f"{relpath}: not a plain path inside the root")
    current = os.open(root, _DIRECTORY_FLAGS)
    try:
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            try:
                opened = os.open(part, _FILE_FLAGS if last else _DIRECTORY_FLAGS, dir_fd=current)
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    raise _refusal(current, parts, depth) from error
                raise
            os.close(current)
            current = opened
        status = os.fstat(current)
        if not stat.S_ISREG(status.st_mode):
            raise UnsafeFileError(f"{relpath}: not a regular file now (a FIFO, device or folder took its place)")
        fd, current = current, -1
        return OpenedFile(fd, parts[-1], status.st_size)
    finally:
        if current >= 0:
            os.close(current)


def _refusal(parent: int, parts: list[str], depth: int) -> UnsafeFileError:
    shown = "/".join(parts[: depth + 1])
    try:
        is_link = stat.S_ISLNK(os.stat(parts[depth], dir_fd=parent, follow_symlinks=False).st_mode)
    except OSError:
        is_link = False
    what = "a symbolic link" if is_link else "not a folder"
    return UnsafeFileError(
        f"{shown} is {what} now (it was not when the folder was walked): ingest never reads through a link, "
        "so the file was not read"
    )
