"""Which files a run covers: walk the given paths, skip VCS and system folders, stay inside each root.

Each PATH is walked as a `Scope`: the PATH and the source root it lies in (ingest/binding.py decides which).
Relative paths, and so document ids, are taken from the root, never from the PATH: `corpus/hr/salaries.md`
given alone is still `hr/salaries.md` when the source's root is `corpus`.

A symlink is followed only when its target resolves inside the same root: a link to /etc/passwd in
a shared folder must not put that file into the index under the folder's ACL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from access_index.errors import ConfigError

SKIPPED_DIRS = frozenset({".git", ".svn", ".hg", "__MACOSX", "$RECYCLE.BIN", "System Volume Information"})
SKIPPED_FILES = frozenset({"Thumbs.db", "desktop.ini"})


@dataclass(frozen=True)
class Scope:
    """One PATH of a run and the root its document ids are relative to (`path` is `root` or lies inside it)."""

    root: Path
    path: Path

    def covers(self, uri: str) -> bool:
        """Whether a file (by its `file:` URI, as stored on chunks) lies at or under this PATH."""
        base = self.path.as_uri().rstrip("/")
        return uri == base or uri.startswith(base + "/")


def locate(given: Path) -> Path:
    """Where a PATH is: a folder fully resolved; a file by its resolved folder and its own name, so that a
    symlinked file is still judged as a link (followed only to a target inside its root)."""
    if given.is_dir():
        return given.resolve()
    return given.parent.resolve() / given.name


def own_scopes(paths: Sequence[Path]) -> tuple[Scope, ...]:
    """Each PATH as its own root (a folder) or in its folder (a file): `inspect`, and a source's first ingest."""
    scopes = []
    for given in paths:
        located = locate(given)
        scopes.append(Scope(located if given.is_dir() else located.parent, located))
    return tuple(scopes)


@dataclass(frozen=True)
class FoundFile:
    """A regular file to ingest: where it is and its path relative to its root (POSIX)."""

    path: Path
    root: Path
    relpath: str


@dataclass(frozen=True)
class SkippedPath:
    """A path deliberately not ingested, with the reason the report gives."""

    relpath: str
    reason: str


@dataclass(frozen=True)
class Discovery:
    files: tuple[FoundFile, ...]
    skipped: tuple[SkippedPath, ...]


def discover(scopes: Sequence[Scope]) -> Discovery:
    """Files under each scope's PATH, with paths relative to the scope's root, sorted by relpath."""
    files: dict[str, FoundFile] = {}
    skipped: list[SkippedPath] = []
    for scope in scopes:
        given, root = scope.path, scope.root
        if not given.exists():
            raise ConfigError(f"{given}: no such file or directory")
        candidates = _walk(given, root) if given.is_dir() else iter([given])
        for path in candidates:
            relpath = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
            outcome = _classify(path, root)
            if outcome is not None:
                skipped.append(SkippedPath(relpath, outcome))
                continue
            if path.is_symlink():
                # A link inside the root is ingested as its target, under the target's path and ACL rule:
                # a link in public/ to hr/salaries.txt must not publish the file under public/'s rule.
                path = path.resolve()
                relpath = path.relative_to(root).as_posix()
            if relpath in files and files[relpath].path == path:
                continue
            if relpath in files:
                skipped.append(SkippedPath(relpath, f"same relative path as {files[relpath].path}"))
                continue
            files[relpath] = FoundFile(path, root, relpath)
    return Discovery(tuple(files[key] for key in sorted(files)), tuple(skipped))


def _walk(start: Path, root: Path) -> Iterator[Path]:
    seen_dirs = {start}
    for directory, dirnames, filenames in os.walk(start, followlinks=False):
        here = Path(directory)
        kept = []
        for name in sorted(dirnames):
            if _is_hidden(name):
                continue
            child = here / name
            if child.is_symlink():
                target = child.resolve()
                # A linked folder inside the root is already walked (or will be) under its real path.
                if not target.is_relative_to(root):
                    yield child
                continue
            if child.resolve() not in seen_dirs:
                seen_dirs.add(child.resolve())
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            if not _is_hidden(name) and name not in SKIPPED_FILES:
                yield here / name


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_DIRS


def _classify(path: Path, root: Path) -> str | None:
    """None when the file is to be ingested, else the reason it is skipped."""
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return "broken or looping symlink"
        if not target.is_relative_to(root):
            return "symlink pointing outside the ingest root (not followed)"
    if not path.is_file():
        return "not a regular file"
    return None
