"""A process that appends audit records in a loop, for the tests that kill it, starve it of disk or run
several at once: `python -m tests.support.audit_writer DATA_DIR KEY_FILE COUNT FSYNC SEGMENT_BYTES`.

COUNT 0 appends until killed. Prints "ready" once the log is open. Exits 3 on the first failed append
(after printing how many succeeded), 0 when COUNT records were written.
"""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

from access_index.errors import AuditWriteError
from access_index.paths import DataPaths
from retrieval.audit.keys import load_key_file
from retrieval.audit.log import AuditLog, AuditOptions


def main(argv: list[str]) -> int:
    data_dir, key_file, count, fsync, segment_bytes = argv
    assert fsync in ("record", "interval", "never")
    options = AuditOptions(fsync=fsync, fsync_interval=0.005, segment_max_bytes=int(segment_bytes))
    log = AuditLog(DataPaths(Path(data_dir)), load_key_file(Path(key_file), Path(data_dir)), options)
    log.open()
    print("ready", flush=True)
    numbers = itertools.count() if int(count) == 0 else range(int(count))
    written = 0
    for number in numbers:
        result = {"chunk_id": f"c{number}", "document_id": "d/doc.md", "granted_by": "authenticated"}
        try:
            log.append({"event": "search", "request_id": f"{os.getpid()}-{number}", "results": [result] * 3})
        except AuditWriteError as error:
            print(f"failed after {written}: {error}", flush=True)
            return 3
        written += 1
    log.close()
    print(f"wrote {written}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
