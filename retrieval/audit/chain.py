"""The chain's rules, shared by the writer (retrieval/audit/log.py) and `audit verify` (retrieval/audit/verify.py).

A record is sealed with `seq` (1, 2, ...), `prev` (the previous record's signature; "genesis" for the
first), `time`, `key_id` and `sig`: the Ed25519 signature of its canonical JSON without `sig`. So an
edit breaks its signature, a removal or a reordering breaks a `prev` or a `seq`, and none can be
repaired without the private key. HEAD is a signed statement "the chain ends at seq N with signature S",
so removing records at the end is caught too (docs/audit.md, threat model).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.audit.keys import Keyring

GENESIS = "genesis"
# Domain separation: a record's signature can never pass as HEAD's, nor the other way round.
RECORD_CONTEXT = b"clearance-audit-record-v1\n"
HEAD_CONTEXT = b"clearance-audit-head-v1\n"
CHAIN_FIELDS = ("seq", "prev", "time", "key_id", "sig")


def canonical(value: Mapping[str, Any]) -> bytes:
    """The one serialization that is signed and written: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Link:
    """Where the chain stands: the last record's seq and signature."""

    seq: int
    sig: str


START = Link(0, GENESIS)


def seal(fields: Mapping[str, Any], after: Link, time: str, keyring: Keyring) -> dict[str, Any]:
    """The record `fields` chained after `after` and signed with the active key."""
    clashing = sorted(set(fields) & set(CHAIN_FIELDS))
    if clashing:
        raise ValueError(f"audit fields {clashing} are the chain's own")
    record = {**fields, "seq": after.seq + 1, "prev": after.sig, "time": time}
    record["key_id"] = keyring.signing_key_id()
    record["sig"] = keyring.sign(RECORD_CONTEXT + canonical(record))
    return record


def parse_record(line: bytes) -> dict[str, Any] | str:
    """A record read from a log line, or what is wrong with the line."""
    try:
        record = json.loads(line)
    except ValueError:
        return "not a JSON record"
    if not isinstance(record, dict):
        return "not a JSON object"
    if not isinstance(record.get("seq"), int) or not isinstance(record.get("prev"), str):
        return "not a chained record (no seq or prev)"
    return record


def signature_problem(record: Mapping[str, Any], keyring: Keyring) -> str | None:
    """None when the record's signature verifies; otherwise why it does not (an edit or a forgery)."""
    body = {name: value for name, value in record.items() if name != "sig"}
    problem = keyring.check(record.get("key_id"), record.get("sig"), RECORD_CONTEXT + canonical(body))
    return f"record was edited or forged: {problem}" if problem else None


def link_problem(previous: Link, record: Mapping[str, Any], keyring: Keyring) -> str | None:
    """None when `record` is a genuine record that directly follows `previous`."""
    problem = signature_problem(record, keyring)
    if problem:
        return problem
    if record["prev"] != previous.sig:
        return f"chain broken after seq {previous.seq}: a record was removed, reordered or inserted"
    if record["seq"] != previous.seq + 1:
        return f"sequence jumps from {previous.seq} to {record['seq']}"
    return None


@dataclass(frozen=True)
class Head:
    """HEAD's signed statement: the chain ends at `seq`, whose signature is `sig`, in `segment`."""

    seq: int
    sig: str
    segment: str
    time: str


def head_bytes(head: Head, keyring: Keyring) -> bytes:
    """HEAD's file content, signed with the active key."""
    body: dict[str, Any] = {"seq": head.seq, "sig": head.sig, "segment": head.segment, "time": head.time}
    body["key_id"] = keyring.signing_key_id()
    body["head_sig"] = keyring.sign(HEAD_CONTEXT + canonical(body))
    return canonical(body) + b"\n"


def read_head(path: Path, keyring: Keyring) -> Head | None:
    """HEAD's statement (None when there is no HEAD); ValueError when it is unreadable or not genuine."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        body = json.loads(raw)
        signature = body.pop("head_sig")
        head = Head(int(body["seq"]), str(body["sig"]), str(body["segment"]), str(body["time"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError(f"{path} is not a HEAD statement") from None
    problem = keyring.check(body.get("key_id"), signature, HEAD_CONTEXT + canonical(body))
    if problem:
        raise ValueError(f"{path} is not genuine: {problem}")
    return head
