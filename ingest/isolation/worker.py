"""The worker process: extracts one file at a time (ingest/extraction.py) under hard limits, for as many files
as the ingest side sends it. Run as `python -m ingest.isolation.worker LIMITS_JSON` by ingest/isolation/pool.py.

Its limits, set on itself before it reads any file:
- address space (RLIMIT_AS, CLEARANCE_PARSE_MEMORY_MB): an allocation past it fails inside the parser,
  which surfaces as MemoryError (or a parser error, or a crash): never as the machine's OOM killer;
- CPU seconds (RLIMIT_CPU): before each file the soft limit is set to what it has used so far plus
  CLEARANCE_PARSE_TIMEOUT_SECONDS, so a file that spins is killed by SIGXCPU even if the ingest side
  cannot run; the ingest side also kills it at the same wall-clock time;
- no core files.
A reply says when the worker came within 10% of its address space: the ingest side then replaces it, so
memory a large file left fragmented never fails the next one, and a failure at the limit is named as such.

Protocol (ingest/isolation/frames.py), after the worker has loaded the parsers: it sends {"ready": true};
then for each {"path", "policy", "max_file_bytes"} it answers {"ok": <Extracted.to_wire()>} or
{"error": {"code", "message"}}, with "worn": true when it should be replaced. Standard output is sent to
standard error, so nothing a library prints can corrupt a frame; standard error is ingest's, so the parsers'
warnings and progress bars are silenced as in ingest itself (access_index/logs.py).
"""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path
from typing import Any

from access_index.errors import DocumentError, LimitExceededError, ParseError
from access_index.logs import configure_cli_logging
from ingest.extraction import extract
from ingest.isolation import frames
from ingest.limits import ParseLimits
from ingest.parsing import load_parsers

WORN_SHARE = 0.9  # of the address-space limit: past it, the worker is replaced after its file


def main(argv: list[str]) -> int:
    limits = ParseLimits.from_json(argv[1])
    configure_cli_logging()
    incoming = sys.stdin.buffer
    outgoing = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    _without_torch()
    load_parsers()  # while the ingest side loads its model
    frames.write(outgoing, frames.encode({"ready": True}))
    while (task := frames.read_blocking(incoming)) is not None:
        _limit_cpu(limits.timeout_seconds)
        reply = _run(task, limits)
        worn = {"worn": True} if _peak_address_space() >= WORN_SHARE * limits.memory_bytes else {}
        try:
            frame = frames.encode(reply | worn)
        except MemoryError:
            frame = frames.encode(_error(LimitExceededError(limits.memory_reason())) | {"worn": True})
        if len(frame) > limits.max_text_bytes:
            frame = frames.encode(_error(LimitExceededError(limits.text_reason(len(frame)))) | worn)
        frames.write(outgoing, frame)
    return 0


def _without_torch() -> None:
    """Make `import torch` fail in this process. unstructured imports spaCy, which imports thinc, which imports
    torch if it can; no parser we run uses it (layout models are not installed). Without it the worker starts
    in 2.9 s instead of 4.5 s and holds 255 MB instead of 433 MB of its address-space limit (idle machine), and
    a parser has one large native library less within reach."""
    sys.modules["torch"] = None  # type: ignore[assignment]  # Python's documented way to block an import


def _run(task: dict[str, Any], limits: ParseLimits) -> dict[str, Any]:
    try:
        extracted = extract(Path(task["path"]), task["policy"], limits, int(task["max_file_bytes"]))
    except MemoryError:
        return _error(LimitExceededError(limits.memory_reason()))
    except DocumentError as error:
        if _caused_by_memory(error) or _peak_address_space() >= WORN_SHARE * limits.memory_bytes:
            # A parser that fails near the limit failed for want of memory, whatever it says (libxml2 reports
            # an allocation failure as a syntax error).
            return _error(LimitExceededError(limits.memory_reason()))
        return _error(error)
    except Exception as error:  # a bug in a check or a parser the mapping missed: the file fails, closed
        return _error(ParseError(f"the file could not be checked: {type(error).__name__}: {error}"[:300]))
    text = sum(len(element.text) for element in extracted.elements)
    text += sum(len(finding.text) for finding in extracted.findings)
    if text > limits.max_text_bytes:  # refused before it is encoded, which would take as much again
        return _error(LimitExceededError(limits.text_reason(text)))
    return {"ok": extracted.to_wire()}


def _error(error: DocumentError) -> dict[str, Any]:
    return {"error": {"code": error.code, "message": str(error)}}


def _caused_by_memory(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, MemoryError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _limit_cpu(seconds: int) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = used + seconds if hard == resource.RLIM_INFINITY else min(used + seconds, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _peak_address_space() -> int:
    """VmPeak: the most address space this process has held (bytes), from /proc."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmPeak:"):
                return int(line.split()[1]) * 1024
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
