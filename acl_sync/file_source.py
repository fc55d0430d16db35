"""The YAML directory file as a directory source: re-read on every sync, like a Keycloak pull."""

from __future__ import annotations

from pathlib import Path

from access_index.directory import DirectoryData, load_directory_file
from access_index.errors import DirectoryError, PullError


class FileSource:
    """`CLEARANCE_DIRECTORY_FILE`; a file that does not validate is a failed pull (the old snapshot stays)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def name(self) -> str:
        return f"file:{self.path}"

    def pull(self) -> DirectoryData:
        """Parse the file; a broken file is not retried (it will not fix itself within a sync)."""
        try:
            return load_directory_file(self.path)
        except DirectoryError as error:
            raise PullError(str(error), retryable=False) from error
