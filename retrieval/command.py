"""`clearance serve`, `clearance token` and `clearance audit verify` (filled by the search-API issue)."""

from __future__ import annotations

import argparse
import sys

from access_index.settings import Settings


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    settings.require_bindable(settings.host)
    print("clearance serve: not implemented yet (search-API issue)", file=sys.stderr)
    return 1


def run_token(args: argparse.Namespace, settings: Settings) -> int:
    print("clearance token: not implemented yet (search-API issue)", file=sys.stderr)
    return 1


def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    print("clearance audit: not implemented yet (search-API issue)", file=sys.stderr)
    return 1
