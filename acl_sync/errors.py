"""Errors of the sync, all DirectoryErrors (the synced directory cannot be trusted to be current).

DirectoryError (access_index.errors)
├── PullError        a pull that failed or came back incomplete; `retryable` says whether to try again
└── SyncBusyError    another sync holds the lock (in this process or another one on this data dir)
"""

from __future__ import annotations

from access_index.errors import DirectoryError


class PullError(DirectoryError):
    code = "directory_pull_failed"

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class SyncBusyError(DirectoryError):
    code = "sync_busy"
