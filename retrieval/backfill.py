"""BM25 vectors and IDF scopes for an index built before them, filled inside `serve` on a background thread.

`ensure_collection` declares the sparse vector and the scope's keyword index on such an index; this thread
then reads each chunk's stored text and writes its BM25 vector, then its IDF scope from its stored ACL
(`ChunkIndex.fill_sparse`), a batch at a time, while the service answers. Nothing is re-parsed or
re-embedded: the dense vectors stay as they are. Until it finishes, keyword and hybrid searches rank by
BM25 among the chunks already filled (semantic search is unaffected); the log and
`clearance_sparse_backfill_chunks_total` show the progress. On a Qdrant server several `serve` processes may
fill at once: a chunk is only written while it still lacks the vector (or the scope, under the ACL it was
computed from), so the work is idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from access_index.errors import ClearanceError
from access_index.index import ChunkIndex

log = logging.getLogger("clearance.backfill")
BATCH = 512
RETRY_SECONDS = 30.0


class SparseBackfill:
    """Fills missing BM25 vectors, then missing IDF scopes, until none is left; then the thread ends."""

    def __init__(self, index: ChunkIndex, on_batch: Callable[[int], None] | None = None) -> None:
        self.index = index
        self.on_batch = on_batch
        self.filled = 0
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clearance-sparse-backfill", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            try:
                count = self.index.fill_sparse(BATCH)
            except ClearanceError as error:
                # The index may be briefly unavailable (a server restart); searches fail closed meanwhile.
                log.warning("BM25 backfill paused: %s; retrying in %.0f s", error, RETRY_SECONDS)
                self._stop.wait(RETRY_SECONDS)
                continue
            if count == 0:
                break
            self.filled += count
            if self.on_batch is not None:
                self.on_batch(count)
            log.info("BM25 backfill: %d chunk writes (vectors from stored text, then IDF scopes)", self.filled)
        if self.filled:
            log.info("BM25 backfill done: %d chunk writes in %.1f s", self.filled, time.monotonic() - started)
        self.done.set()
