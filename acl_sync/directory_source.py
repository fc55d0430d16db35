"""Directory sources: where a sync pulls users, groups and roles from (one is configured, or none), and
the issuer whose tokens that directory answers for (CONTRACT.md, Identity)."""

from __future__ import annotations

from typing import Protocol

from access_index.directory import DirectoryData, load_directory_file
from access_index.errors import ConfigError, DirectoryError
from access_index.settings import Settings


class DirectorySource(Protocol):
    """Something that yields one complete DirectoryData per pull, or raises PullError."""

    @property
    def name(self) -> str: ...

    def pull(self) -> DirectoryData:
        """A complete pull, naming the issuer it answers for; never partial."""


def open_directory_source(settings: Settings) -> DirectorySource | None:
    """Keycloak when CLEARANCE_KEYCLOAK_* are set, the YAML file when CLEARANCE_DIRECTORY_FILE is, else None."""
    if settings.uses_keycloak:
        from acl_sync.keycloak_source import KeycloakSource

        return KeycloakSource.from_settings(settings)
    if settings.directory_file is not None:
        from acl_sync.file_source import FileSource

        return FileSource(settings.directory_file, settings.trusted_issuers)
    return None


def directory_issuer(settings: Settings) -> str | None:
    """The issuer the configured directory answers for, as known at start-up (None: no directory, or a file
    that cannot be read yet, whose pull will say why).

    Keycloak's is CLEARANCE_KEYCLOAK_ISSUER (default <URL>/realms/<REALM>); a directory file names it in
    `issuer`, which may be left out when exactly one issuer is trusted. ConfigError: a file without
    `issuer` while several issuers are trusted (whose users would they be?)."""
    if settings.uses_keycloak:
        return settings.keycloak_realm_issuer
    if settings.directory_file is None:
        return None
    trusted = settings.trusted_issuers
    try:
        named = load_directory_file(settings.directory_file).issuer
    except DirectoryError:
        return trusted[0] if len(trusted) == 1 else None
    if named is not None:
        return named
    if len(trusted) == 1:
        return trusted[0]
    raise ConfigError(missing_issuer(str(settings.directory_file), trusted))


def missing_issuer(path: str, trusted: list[str]) -> str:
    """Why a directory file without `issuer` cannot be placed, and the fix."""
    listed = ", ".join(trusted) if trusted else "none"
    return (
        f"{path}: the directory file names no `issuer` and {len(trusted)} issuers are trusted ({listed}): "
        "add `issuer: <the iss of its users' tokens>` to the file (CLEARANCE_DIRECTORY_FILE)"
    )
