"""The `clearance` command: parses arguments, loads settings, and hands over to the package that owns the
subcommand. Each flag overrides the `CLEARANCE_*` variable named in its help.

This is the command-line edge of the error tree (access_index/errors.py): a ConfigError (which includes
an invalid manifest) is a usage error, exit 2; any other ClearanceError exits 1; Ctrl-C exits 130."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from access_index.errors import ClearanceError, ConfigError
from access_index.settings import Settings, load_settings

EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130
# subcommand → "module:function"; modules are imported only when their command runs (fast --help).
HANDLERS = {
    "ingest": "ingest.command:run_ingest",
    "inspect": "ingest.command:run_inspect",
    "serve": "retrieval.command:run_serve",
    "token": "retrieval.command:run_token",
    "audit": "retrieval.command:run_audit",
    "acl-sync": "acl_sync.command:run_acl_sync",
    "status": "access_index.status:run_status",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clearance", description="Permission-aware retrieval for AI agents (see README.md)."
    )
    parser.add_argument("--data-dir", help="index, directory snapshot and audit log (CLEARANCE_DATA_DIR)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="parse, sanitize, chunk, ACL-tag, embed and index documents")
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    ingest.add_argument("--acl", required=True, metavar="FILE", help="ACL manifest (YAML)")
    ingest.add_argument("--source", help="source name (default: the name of the first PATH)")
    ingest.add_argument("--tenant", help="tenant id (overrides the manifest's)")
    ingest.add_argument("--delete-missing", action="store_true", help="remove this source's vanished documents")
    ingest.add_argument("--dry-run", action="store_true", help="change nothing; say what would happen")
    ingest.add_argument("--json", action="store_true", help="one JSON summary object on stdout")

    inspect = commands.add_parser("inspect", help="show what the model would see, without indexing")
    inspect.add_argument("paths", nargs="+", metavar="PATH")
    inspect.add_argument("--json", action="store_true", help="JSON lines (the default output is JSON lines too)")

    serve = commands.add_parser("serve", help="the REST search service (and the in-process ACL sync)")
    serve.add_argument("--host", help="address to bind (CLEARANCE_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (CLEARANCE_PORT, default 8000)")

    sync = commands.add_parser("acl-sync", help="sync the IAM directory and the sources' ACLs")
    mode = sync.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one sync, then exit (for cron)")
    mode.add_argument(
        "--interval", type=int, metavar="SECONDS", help="sync every SECONDS (CLEARANCE_ACL_SYNC_INTERVAL)"
    )

    status = commands.add_parser("status", help="who holds the index, its size, the directory's age, last ingests")
    status.add_argument("--json", action="store_true", help="one JSON object on stdout")

    token = commands.add_parser("token", help="a token from the local development issuer (dev mode only)")
    token.add_argument("--user", required=True, metavar="NAME")
    token.add_argument("--group", action="append", default=[], metavar="PATH")
    token.add_argument("--role", action="append", default=[], metavar="NAME")
    token.add_argument("--tenant", help="tenant claim")
    token.add_argument("--agent", help="the agent (azp) the token is issued to")
    token.add_argument("--ttl", type=int, default=3600, metavar="SECONDS")

    audit = commands.add_parser("audit", help="the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    audit_commands.add_parser("verify", help="check the hash chain; exit 1 on any break")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        "data_dir": getattr(args, "data_dir", None),
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "acl_sync_interval": getattr(args, "interval", None),
    }
    return load_settings(**overrides)


def _handler(command: str) -> Callable[[argparse.Namespace, Settings], int]:
    module_name, _, function = HANDLERS[command].partition(":")
    handler: Callable[[argparse.Namespace, Settings], int] = getattr(importlib.import_module(module_name), function)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
        return _handler(args.command)(args, settings)
    except ClearanceError as error:
        code = exit_code(error)
        kind = "configuration error: " if code == EXIT_USAGE else ""
        print(f"clearance: {kind}{error}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("clearance: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def exit_code(error: ClearanceError) -> int:
    """The command line's exit code for an error that ends a command."""
    return EXIT_USAGE if isinstance(error, ConfigError) else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
