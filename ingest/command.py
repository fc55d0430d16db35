"""`clearance ingest` and `clearance inspect` (filled by the batch-ingest issue)."""

from __future__ import annotations

import argparse
import sys

from access_index.settings import Settings


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    print("clearance ingest: not implemented yet (batch-ingest issue)", file=sys.stderr)
    return 1


def run_inspect(args: argparse.Namespace, settings: Settings) -> int:
    print("clearance inspect: not implemented yet (batch-ingest issue)", file=sys.stderr)
    return 1
