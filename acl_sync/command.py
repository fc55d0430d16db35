"""`clearance acl-sync` (filled by the ACL-sync issue)."""

from __future__ import annotations

import argparse
import sys

from access_index.settings import Settings


def run_acl_sync(args: argparse.Namespace, settings: Settings) -> int:
    print("clearance acl-sync: not implemented yet (ACL-sync issue)", file=sys.stderr)
    return 1
