"""Directory sources: where a sync pulls users, groups and roles from (one is configured, or none)."""

from __future__ import annotations

from typing import Protocol

from access_index.directory import DirectoryData
from access_index.settings import Settings


class DirectorySource(Protocol):
    """Something that yields one complete DirectoryData per pull, or raises PullError."""

    @property
    def name(self) -> str: ...

    def pull(self) -> DirectoryData:
        """A complete pull; never partial."""


def open_directory_source(settings: Settings) -> DirectorySource | None:
    """Keycloak when CLEARANCE_KEYCLOAK_* are set, the YAML file when CLEARANCE_DIRECTORY_FILE is, else None."""
    if settings.uses_keycloak:
        from acl_sync.keycloak_source import KeycloakSource

        return KeycloakSource.from_settings(settings)
    if settings.directory_file is not None:
        from acl_sync.file_source import FileSource

        return FileSource(settings.directory_file)
    return None
