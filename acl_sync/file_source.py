"""The YAML directory file as a directory source: re-read on every sync, like a Keycloak pull."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from access_index.directory import DirectoryData, load_directory_file
from access_index.errors import DirectoryError, PullError
from acl_sync.directory_source import missing_issuer


class FileSource:
    """`CLEARANCE_DIRECTORY_FILE`; a file that does not validate is a failed pull (the old snapshot stays).

    The file's users belong to the issuer its `issuer` key names, or, when it names none, to the one
    trusted issuer (`trusted`: every issuer this process accepts); with several, such a file cannot be placed;
    with none (an `acl-sync` without CLEARANCE_OIDC_ISSUERS) the snapshot names no issuer and `serve` reads
    it as its directory issuer's (retrieval/caller.py)."""

    def __init__(self, path: Path, trusted: list[str] | tuple[str, ...] = ()) -> None:
        self.path = path
        self.trusted = list(trusted)

    @property
    def name(self) -> str:
        return f"file:{self.path}"

    def pull(self) -> DirectoryData:
        """Parse the file; a broken file is not retried (it will not fix itself within a sync)."""
        try:
            data = load_directory_file(self.path)
        except DirectoryError as error:
            raise PullError(str(error), retryable=False) from error
        if data.issuer is not None:
            return data
        if len(self.trusted) == 1:
            return replace(data, issuer=self.trusted[0])
        if self.trusted:
            raise PullError(missing_issuer(str(self.path), self.trusted), retryable=False)
        # A sync run without CLEARANCE_OIDC_ISSUERS: `serve` reads the snapshot as its one issuer's directory.
        unnamed = (
            f"{self.path}: the directory file names no `issuer` and this process trusts none "
            "(CLEARANCE_OIDC_ISSUERS): `serve` reads it as the directory of the one issuer it trusts; add "
            "`issuer: <the iss of its users' tokens>` to say so",
        )
        return replace(data, warnings=(*data.warnings, *unnamed))
