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
    ingest.add_argument(
        "--source", help="source name (default: the tenant's source whose root holds PATH, else PATH's name)"
    )
    ingest.add_argument("--tenant", help="tenant id (overrides the manifest's)")
    ingest.add_argument(
        "--delete-missing", action="store_true", help="remove this source's documents under PATH whose file is gone"
    )
    ingest.add_argument("--dry-run", action="store_true", help="change nothing; say what would happen")
    ingest.add_argument("--json", action="store_true", help="one JSON summary object on stdout")
    ingest.add_argument(
        "--explain",
        action="store_true",
        help="print which ACL rule each file gets and why; loads no model and writes nothing",
    )
    ingest.add_argument(
        "--attach-root",
        action="store_true",
        help="add a PATH outside the source's recorded root(s) as another root of it (no CLEARANCE_ variable)",
    )
    ingest.add_argument(
        "--replace-manifest",
        action="store_true",
        help="make --acl FILE the source's manifest instead of the recorded one (no CLEARANCE_ variable)",
    )

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
    sync.add_argument(
        "--release",
        action="append",
        default=[],
        metavar="PRINCIPAL",
        help="with --once: hand user:NAME, email:ADDRESS or group:/PATH to the account or group that holds it now "
        "(by default it stays with the first one the directory showed)",
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

    audit = commands.add_parser("audit", help="the audit log (docs/audit.md)")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_commands.add_parser("verify", help="check every signature and link; exit 1 on any break")
    verify.add_argument("--json", action="store_true", help="one JSON report on stdout")
    verify.add_argument(
        "--at-least", type=int, metavar="SEQ", help="fail if the chain ends before SEQ (seen by an earlier verify)"
    )
    keygen = audit_commands.add_parser("keygen", help="add a new signing key to the key file and make it active")
    public = audit_commands.add_parser("public-keys", help="print a verify-only key file (public keys only)")
    recover = audit_commands.add_parser(
        "recover", help="continue a chain whose HEAD names records the log lost, recording the loss"
    )
    recover.add_argument("--reason", required=True, help="why (recorded in the chain)")
    for keyed in (verify, keygen, public, recover):
        keyed.add_argument("--key-file", metavar="FILE", help="the audit key file (CLEARANCE_AUDIT_KEY_FILE)")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        "data_dir": getattr(args, "data_dir", None),
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "acl_sync_interval": getattr(args, "interval", None),
        "audit_key_file": getattr(args, "key_file", None),
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
