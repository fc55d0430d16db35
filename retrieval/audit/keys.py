"""The audit log's signing keys: a JSON key file outside the data dir (`CLEARANCE_AUDIT_KEY_FILE`).

    {"active": "k20250601-3f9a1c",
     "keys": {"k20250601-3f9a1c": {"private": "<base64url Ed25519 seed>", "public": "<base64url>"},
              "k20240101-0b12cd": {"public": "<base64url>"}}}

Records are signed with Ed25519 by the `active` key and name it (`key_id`), so a key rotates by adding a
new active key; older keys stay in the file (their public half is enough to verify, and dropping their
private half means nobody can sign as them any more). A file of public halves only verifies, never signs:
auditors hold that one. Why signatures and not an HMAC: docs/audit.md.

A key file inside the data dir, or one that others may write (or read, when it holds private keys), is
refused: whoever can write the audit folder must not be able to reach the key. Without a key file, `serve`
signs with a per-user key in the user's config directory (outside the data dir, created 0600 at first use)
and warns that a production key belongs in CLEARANCE_AUDIT_KEY_FILE (the contract names no such setting, so
a service must start without it). Keys made that way in dev mode have ids starting with `dev-`, so their
records are marked as development ones.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from access_index.errors import ConfigError
from access_index.settings import Settings

KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DEV_PREFIX = "dev-"
DEV_KEY_FILE = "dev-audit-keys.json"
LOCAL_KEY_FILE = "audit-keys.json"


@dataclass(frozen=True)
class Keyring:
    """The keys one process may verify with, and the one it signs with (`active`, if its private half is here)."""

    public: Mapping[str, Ed25519PublicKey]
    private: Mapping[str, Ed25519PrivateKey] = field(default_factory=dict)
    active: str | None = None
    source: str = "the verifier (no key file)"

    @property
    def development(self) -> bool:
        return self.active is not None and self.active.startswith(DEV_PREFIX)

    def can_sign(self) -> bool:
        return self.active is not None and self.active in self.private

    def signing_key_id(self) -> str:
        """The id of the key that signs; ConfigError when this keyring cannot sign."""
        if self.active is None or self.active not in self.private:
            raise ConfigError(f"{self.source} has no active private key: run `clearance audit keygen`")
        return self.active

    def sign(self, message: bytes) -> str:
        """The base64url Ed25519 signature of `message` by the active key."""
        return _encode(self.private[self.signing_key_id()].sign(message))

    def check(self, key_id: object, signature: object, message: bytes) -> str | None:
        """None when `signature` is key `key_id`'s over `message`; otherwise what is wrong."""
        if not isinstance(key_id, str) or key_id not in self.public:
            return f"signed with key {key_id!r}, unknown to {self.source}"
        try:
            self.public[key_id].verify(_decode(str(signature)), message)
        except (InvalidSignature, ValueError):
            return f"signature does not verify with key {key_id!r}"
        return None


def writing_keyring(settings: Settings) -> Keyring:
    """The keys `serve` (and `audit recover`) sign with; ConfigError unless a usable private key exists."""
    if settings.audit_key_file is not None:
        keyring = load_key_file(settings.audit_key_file, settings.data_dir)
        if not keyring.can_sign():
            raise ConfigError(
                f"CLEARANCE_AUDIT_KEY_FILE {settings.audit_key_file} has no active private key (a verify-only "
                f"file?): add one with `clearance audit keygen --key-file {settings.audit_key_file}`"
            )
        return keyring
    path = default_key_file(settings.dev_mode)
    if not path.exists():
        add_key(path, settings.data_dir, development=settings.dev_mode)
    keyring = load_key_file(path, settings.data_dir)
    if not keyring.can_sign():
        raise ConfigError(f"{keyring.source} has no active private key: run `clearance audit keygen --key-file {path}`")
    return keyring


def verifying_keyring(settings: Settings) -> Keyring:
    """The keys `audit verify` checks with: the key file, else this user's default keys (both files), else none."""
    if settings.audit_key_file is not None:
        return load_key_file(settings.audit_key_file, settings.data_dir)
    found = [path for path in (default_key_file(False), default_key_file(True)) if path.exists()]
    if not found:
        return Keyring(public={}, source="the verifier (no key file: set CLEARANCE_AUDIT_KEY_FILE)")
    public: dict[str, Ed25519PublicKey] = {}
    for path in found:
        public.update(load_key_file(path, settings.data_dir).public)
    return Keyring(public=public, source=" and ".join(f"audit key file {path}" for path in found))


def default_key_file(development: bool) -> Path:
    """This user's keys when CLEARANCE_AUDIT_KEY_FILE is unset: in $XDG_CONFIG_HOME (default ~/.config), never
    in a data dir; development keys in a file of their own, so dev mode never signs with the other."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "clearance" / (DEV_KEY_FILE if development else LOCAL_KEY_FILE)


def load_key_file(path: Path, data_dir: Path) -> Keyring:
    """Read and check a key file; ConfigError naming the file and the fix when it cannot be used."""
    _refuse_inside(path, data_dir)
    try:
        mode = path.stat().st_mode
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"audit key file {path} does not exist: create it with `clearance audit keygen`") from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"audit key file {path} cannot be read as JSON: {error}") from None
    public, private, active = _parse(document, path)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(f"audit key file {path} is writable by others, who could swap its keys: chmod go-w {path}")
    if private and mode & (stat.S_IRWXO | stat.S_IWGRP):
        raise ConfigError(f"audit key file {path} holds private keys and others may read it: chmod 600 {path}")
    return Keyring(public=public, private=private, active=active, source=f"audit key file {path}")


def add_key(path: Path, data_dir: Path, development: bool = False) -> str:
    """Add a new Ed25519 key to `path` (created 0600 if missing) and make it the active one; its id."""
    _refuse_inside(path, data_dir)
    document: dict[str, Any] = {"keys": {}}
    if path.exists():
        document = json.loads(path.read_text(encoding="utf-8"))
        _parse(document, path)
    prefix = DEV_PREFIX if development else "k"
    key_id = f"{prefix}{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"
    key = Ed25519PrivateKey.generate()
    document["keys"][key_id] = {
        "private": _encode(key.private_bytes_raw()),
        "public": _encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    document["active"] = key_id
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(document, indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return key_id


def public_document(keyring: Keyring) -> dict[str, Any]:
    """A verify-only key file: every public half, no private key, no active key."""
    return {
        "keys": {
            key_id: {"public": _encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw))}
            for key_id, key in sorted(keyring.public.items())
        }
    }


def _parse(
    document: object, path: Path
) -> tuple[dict[str, Ed25519PublicKey], dict[str, Ed25519PrivateKey], str | None]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), dict):
        raise ConfigError(f'audit key file {path}: expected {{"active": ID, "keys": {{ID: {{...}}}}}}')
    public: dict[str, Ed25519PublicKey] = {}
    private: dict[str, Ed25519PrivateKey] = {}
    for key_id, entry in document["keys"].items():
        where = f"audit key file {path}, key {key_id!r}"
        if not KEY_ID.match(key_id) or not isinstance(entry, dict):
            raise ConfigError(f"{where}: ids are 1-64 of A-Z a-z 0-9 . _ - and each key is an object")
        try:
            if "private" in entry:
                private[key_id] = Ed25519PrivateKey.from_private_bytes(_decode(entry["private"]))
                public[key_id] = private[key_id].public_key()
            if "public" in entry:
                given = Ed25519PublicKey.from_public_bytes(_decode(entry["public"]))
                if key_id in public and public[key_id] != given:
                    raise ConfigError(f"{where}: its public half does not belong to its private half")
                public[key_id] = given
        except (ValueError, TypeError) as error:
            raise ConfigError(f"{where}: not a base64url Ed25519 key ({error})") from None
        if key_id not in public:
            raise ConfigError(f"{where}: needs a 'public' (and, to sign, a 'private') value")
    active = document.get("active")
    if active is not None and active not in private:
        raise ConfigError(f"audit key file {path}: the active key {active!r} has no private half in the file")
    return public, private, active


def _refuse_inside(path: Path, data_dir: Path) -> None:
    # Both as written and as resolved: a link inside the data dir could be re-pointed by whoever writes there.
    keys = {Path(os.path.abspath(path)), path.resolve()}
    data = {Path(os.path.abspath(data_dir)), data_dir.resolve()}
    if any(key.is_relative_to(root) for key in keys for root in data):
        raise ConfigError(
            f"the audit key file {path} is inside the data dir {data_dir}: whoever can write there could "
            "then re-sign it. Keep the key elsewhere (e.g. /etc/clearance/) and point CLEARANCE_AUDIT_KEY_FILE there"
        )


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, TypeError) as error:
        raise ValueError(str(error)) from None
