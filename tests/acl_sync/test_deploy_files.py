"""The cron line and the Kubernetes CronJob run a command the CLI accepts, one sync at a time."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from access_index.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_crontab_runs_one_bounded_sync_every_five_minutes() -> None:
    lines = [line for line in (DEPLOY / "crontab").read_text().splitlines() if line and not line.startswith("#")]
    entries = [line for line in lines if not line.startswith("SHELL=")]
    assert len(entries) == 1
    fields = entries[0].split(None, 5)
    assert fields[:5] == ["*/5", "*", "*", "*", "*"]
    words = shlex.split(fields[5].split("&& timeout", 1)[1].split(">>", 1)[0])
    assert int(words[0]) < 300  # a hung run ends before the next one is due
    args = build_parser().parse_args(words[2:])
    assert args.command == "acl-sync"
    assert args.once


def test_cronjob_forbids_overlap_and_runs_once() -> None:
    job = yaml.safe_load((DEPLOY / "k8s" / "acl-sync-cronjob.yaml").read_text())
    assert job["kind"] == "CronJob"
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    args = build_parser().parse_args(container["args"])
    assert args.command == "acl-sync"
    assert args.once
    env = {item["name"]: item for item in container["env"]}
    assert "secretKeyRef" in env["CLEARANCE_KEYCLOAK_CLIENT_SECRET"]["valueFrom"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
