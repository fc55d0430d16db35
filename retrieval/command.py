"""`clearance serve`, `clearance token` and `clearance audit verify`."""

from __future__ import annotations

import argparse
import json
import sys

from access_index.settings import Settings


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    """The REST service on uvicorn, one process: one index and one model (the embedded shard allows one)."""
    settings.require_bindable(settings.host)
    import uvicorn

    from retrieval.app import create_app
    from retrieval.logs import configure_json_logging

    configure_json_logging()
    app = create_app(settings, run_sync=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,  # our middleware logs each request as JSON, with its request id
        # Room for large (many-group) tokens; the verifier enforces CLEARANCE_MAX_TOKEN_BYTES itself.
        h11_max_incomplete_event_size=settings.max_token_bytes + 16384,
        timeout_graceful_shutdown=5,
    )
    return 0


def run_token(args: argparse.Namespace, settings: Settings) -> int:
    """Print a dev-issuer token (refused unless CLEARANCE_DEV_MODE)."""
    from retrieval.dev_issuer import mint_token, role_claim

    for role in args.role:
        warning = role_claim(role)[2]
        if warning:
            print(f"clearance token: {warning}", file=sys.stderr)
    token = mint_token(
        settings,
        user=args.user,
        groups=args.group,
        roles=args.role,
        tenant=args.tenant,
        agent=args.agent,
        ttl=args.ttl,
    )
    print(token)
    return 0


def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    """`audit verify | keygen | public-keys | recover` (docs/audit.md)."""
    from retrieval.audit import verifying_keyring

    if args.audit_command == "keygen":
        return _keygen(settings)
    if args.audit_command == "public-keys":
        from retrieval.audit.keys import public_document

        print(json.dumps(public_document(verifying_keyring(settings)), indent=2))
        return 0
    if args.audit_command == "recover":
        return _recover(args.reason, settings)
    return _verify(args, settings)


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    """0 when the chain is intact, 1 on any break; a JSON report with --json, a summary otherwise."""
    from retrieval.audit import verify_log, verifying_keyring

    report = verify_log(settings.paths, verifying_keyring(settings), at_least=args.at_least)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        keys = ", ".join(sorted(report.keys_used)) or "none"
        state = "intact" if report.ok else "BROKEN"
        print(f"audit log {state}: {report.records} records in {len(report.segments)} segments, keys {keys}")
        for warning in report.warnings:
            print(f"warning: {warning}")
    if report.first_break is not None:
        where = " ".join(
            part
            for part in (
                report.first_break.segment,
                f"line {report.first_break.line}" if report.first_break.line else None,
                f"(seq {report.first_break.seq})" if report.first_break.seq else None,
            )
            if part
        )
        print(f"clearance audit verify: {where + ': ' if where else ''}{report.first_break.reason}", file=sys.stderr)
        return 1
    return 0


def _keygen(settings: Settings) -> int:
    from access_index.errors import ConfigError
    from retrieval.audit.keys import add_key

    if settings.audit_key_file is None:
        raise ConfigError("audit keygen needs --key-file FILE or CLEARANCE_AUDIT_KEY_FILE (outside the data dir)")
    key_id = add_key(settings.audit_key_file, settings.data_dir)
    print(f"added key {key_id} to {settings.audit_key_file} and made it the active key; restart serve to use it")
    return 0


def _recover(reason: str, settings: Settings) -> int:
    from retrieval.audit import AuditLog, AuditOptions, writing_keyring

    audit = AuditLog(settings.paths, writing_keyring(settings), AuditOptions.of(settings))
    try:
        record = audit.recover(reason)
    finally:
        audit.close()
    if record is None:
        print("nothing to recover: the chain continues where HEAD says it ends")
    else:
        print(f"recorded the loss as record {record['seq']}: {record['problem']}")
    return 0
