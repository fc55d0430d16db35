"""The ingest side of the isolation: extracts files in a worker process (ingest/isolation/worker.py) and turns
whatever happens to it into one document's failure, never the run's.

- The worker is kept across files (loading the parsers costs seconds; a file costs milliseconds); one that
  is gone is replaced at the next file.
- The wall clock per file (CLEARANCE_PARSE_TIMEOUT_SECONDS) is enforced here, from the moment the file is
  handed over (a worker's start-up is not charged to a file): past it the worker is killed.
- A worker that dies (SIGXCPU at its CPU limit, a crash, the kernel's OOM killer) fails the file it held.
- What comes back is bounded (CLEARANCE_MAX_DOCUMENT_TEXT_MB) before it is read, and is plain JSON checked
  field by field (ingest/extraction.py), never a pickled object: a parser exploited by a hostile file
  cannot hand this process anything but text.
Its methods are called from one thread at a time (the reader thread of a run, or `inspect`'s loop).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from access_index.errors import (
    ConfigError,
    DocumentError,
    LimitExceededError,
    ParseError,
    SanitizeError,
    UndecodableError,
    UnsafeFileError,
)
from ingest.extraction import Extracted
from ingest.isolation import frames
from ingest.limits import ParseLimits
from ingest.sanitize.policy import Policy

START_SECONDS = 300  # loading the parsers takes seconds, more on a loaded machine; past this it is broken
_ERRORS: dict[str, type[DocumentError]] = {
    cls.code: cls
    for cls in (DocumentError, ParseError, UndecodableError, SanitizeError, LimitExceededError, UnsafeFileError)
}
# The worker parses single-threaded: numeric libraries must not start a thread (and a stack) per core.
_WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class _Worker:
    """One worker process and its pipes."""

    def __init__(self, limits: ParseLimits) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ingest.isolation.worker", limits.to_json()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=os.environ | _WORKER_ENV,
            start_new_session=True,  # Ctrl-C reaches the ingest process, which stops its workers itself
        )
        self.ready = False

    @property
    def stdin(self) -> IO[bytes]:
        assert self.process.stdin is not None
        return self.process.stdin

    @property
    def stdout_fd(self) -> int:
        assert self.process.stdout is not None
        return self.process.stdout.fileno()

    def stop(self) -> None:
        """Kill the process (it holds no state worth a goodbye) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


class WorkerPool:
    """Extracts files in a worker process under `limits`; see the module docstring."""

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self._worker: _Worker | None = None  # started at the first file: a run with nothing to parse starts none

    def extract(self, path: Path, policy: Policy, max_file_bytes: int) -> Extracted:
        """Extract one private copy; a DocumentError says why it cannot be indexed (limits included)."""
        worker = self._ready_worker()
        deadline = time.monotonic() + self.limits.timeout_seconds
        try:
            frames.write(
                worker.stdin, frames.encode({"path": str(path), "policy": policy, "max_file_bytes": max_file_bytes})
            )
            size = frames.read_size(worker.stdout_fd, deadline)
            if size > self.limits.max_text_bytes:
                self.close()
                raise LimitExceededError(self.limits.text_reason(size))
            reply = frames.read_body(worker.stdout_fd, size, deadline)
        except TimeoutError:
            self.close()
            raise LimitExceededError(self.limits.time_reason()) from None
        except (EOFError, BrokenPipeError):
            raise self._died() from None
        except ValueError:
            self.close()
            raise ParseError("the parser process answered with something other than JSON") from None
        if not isinstance(reply, dict):
            self.close()
            raise ParseError("the parser process answered with something other than a result")
        if reply.get("worn"):
            self.close()
        return self._result(reply)

    def close(self) -> None:
        """Stop the worker, if one runs; the next file starts a fresh one."""
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ready_worker(self) -> _Worker:
        """The worker, once it has loaded its parsers: start-up is not charged to a file's deadline. One that
        died while idle is replaced before it is handed a file."""
        if self._worker is not None and self._worker.process.poll() is not None:
            self.close()
        worker = self._worker or _Worker(self.limits)
        self._worker = worker
        if worker.ready:
            return worker
        deadline = time.monotonic() + START_SECONDS
        try:
            hello = frames.read_body(worker.stdout_fd, frames.read_size(worker.stdout_fd, deadline), deadline)
        except (TimeoutError, EOFError, ValueError):
            hello = None
        if hello != {"ready": True}:
            self.close()
            raise ConfigError(
                "the parser process does not start (its error, if any, is above). If it ran out of memory, raise "
                f"CLEARANCE_PARSE_MEMORY_MB (now {self.limits.memory_mb}): the parsers alone take about 1 GiB of "
                "address space"
            )
        worker.ready = True
        return worker

    def _died(self) -> DocumentError:
        """The reason a file fails when the worker died with it."""
        assert self._worker is not None
        process = self._worker.process
        try:
            code = process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self.close()
        if code == -signal.SIGXCPU:
            return LimitExceededError(self.limits.time_reason() + " (CPU time)")
        if code is not None and code < 0:
            return ParseError(
                f"the parser process died of {signal.Signals(-code).name}: memory exhausted (the limit is "
                f"CLEARANCE_PARSE_MEMORY_MB={self.limits.memory_mb}) or a parser crashed on this file"
            )
        return ParseError(f"the parser process ended unexpectedly (exit code {code})")

    def _result(self, reply: dict[str, Any]) -> Extracted:
        if "ok" in reply:
            try:
                return Extracted.from_wire(reply["ok"])
            except ValueError as error:
                self.close()
                raise ParseError(f"the parser process sent a malformed result ({error})") from None
        failure = reply.get("error")
        if not isinstance(failure, dict) or not isinstance(failure.get("message"), str):
            self.close()
            raise ParseError("the parser process sent a malformed error")
        cls = _ERRORS.get(str(failure.get("code")), DocumentError)
        raise cls(failure["message"][:1000])
