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
    """`audit verify`: 0 when the chain is intact, 1 on any break."""
    from retrieval.audit import verify_log

    report = verify_log(settings.paths.audit_dir)
    print(json.dumps({"ok": report.ok, "records": report.records, "problem": report.problem}))
    if not report.ok:
        print(f"clearance audit verify: {report.problem}", file=sys.stderr)
        return 1
    return 0
