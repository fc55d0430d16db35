"""`clearance` as a real process, with the hashing embedder in place of the model (for the kill tests).

Usage: python -m tests.ingest.cli_runner <clearance arguments...>   (`serve` included: its model is swapped too)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import ingest.command
from access_index.cli import main
from access_index.embedder import Vectors
from access_index.settings import Settings
from tests.support.hashing_embedder import HashingEmbedder


class PacedEmbedder(HashingEmbedder):
    """Takes a little time per batch, like a model does, and announces each batch on stderr, so the
    test can kill the process at a known point of the run whatever the machine's speed."""

    calls = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        PacedEmbedder.calls += 1
        print(f"embedding batch {PacedEmbedder.calls}", file=sys.stderr, flush=True)
        time.sleep(0.05)
        return super().embed(texts)


def _load(settings: Settings) -> PacedEmbedder:
    return PacedEmbedder()


if __name__ == "__main__":
    setattr(ingest.command, "open_embedder", _load)  # noqa: B010 - swap the model for the test embedder
    if "serve" in sys.argv:
        import retrieval.app

        setattr(retrieval.app, "_load_model", _load)  # noqa: B010
    sys.exit(main(sys.argv[1:]))
