"""What the `clearance` processes write besides their results.

`serve` and `acl-sync` are services: every line they write to stderr is one JSON object (time, level, logger,
message, fields), whoever logged it (ours, uvicorn's, a library's, a Python warning), so a log shipper can
parse each line. The other commands talk to a person: only Clearance's own warnings and errors reach stderr,
as plain text, beside the command's own output (ingest's progress bar on a terminal). In both, third-party
progress bars are switched off and Python warnings travel through logging. Tokens are never logged.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import traceback
from datetime import UTC, datetime
from typing import Any

# Libraries whose own progress bars (e.g. transformers' "Loading weights") read these when they are imported.
_QUIET_ENVIRONMENT = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TQDM_DISABLE": "1"}


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...fields}`; `fields` come from `extra={"fields": {...}}`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _OwnMessages(logging.Filter):
    """A person's terminal gets Clearance's warnings, and only errors from libraries."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name == "clearance" or record.name.startswith("clearance.") or record.levelno >= logging.ERROR


def quiet_libraries() -> None:
    """Before any library is imported: no third-party progress bars, and Python warnings through logging."""
    os.environ.update(_QUIET_ENVIRONMENT)
    logging.captureWarnings(True)


def configure_json_logging(level: int = logging.INFO) -> None:
    """Route every logger (ours, uvicorn's, libraries', Python warnings) through one JSON handler on stderr;
    an exception nobody caught, in any thread, becomes a JSON line too."""
    quiet_libraries()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_thread


def configure_cli_logging() -> None:
    """A person's command: Clearance's own warnings as plain lines on stderr, libraries silent below errors."""
    quiet_libraries()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(_OwnMessages())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


def _log_uncaught(kind: type[BaseException], error: BaseException, trace: Any) -> None:
    logging.getLogger("clearance").critical(
        "uncaught %s", kind.__name__, extra={"fields": {"error": "".join(traceback.format_exception(error))}}
    )


def _log_uncaught_thread(hook: threading.ExceptHookArgs) -> None:
    if hook.exc_value is not None:
        _log_uncaught(hook.exc_type, hook.exc_value, hook.exc_traceback)
