"""Where the index socket lives and who may use it (Linux).

Three locks on one door, each enough alone against another user of the machine:
  1. the socket sits in `DataPaths.socket_dir`, a directory of mode 0700 owned by the data dir's owner;
  2. the socket file is mode 0600;
  3. `serve` reads each connecting peer's uid from the kernel (SO_PEERCRED) and closes the connection of
     any uid but its own, before reading a byte; a client checks the same of `serve`, and that `serve`'s
     pid is the one holding the index lock.
Both sides reach the socket through a descriptor of the checked directory (`/proc/self/fd/N/index.sock`):
the checked directory is the one used, and the address fits the 108 bytes a socket path may have
whatever the data dir's length. Nothing ever listens on TCP.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from access_index.errors import IndexUnavailableError

_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


@dataclass(frozen=True)
class Peer:
    """The process at the other end of a Unix socket, as the kernel reports it."""

    pid: int
    uid: int


def peer_of(connection: socket.socket) -> Peer:
    pid, uid, _ = _CREDENTIALS.unpack(connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size))
    return Peer(pid, uid)


def supported() -> bool:
    """Peer credentials and /proc/self/fd are what make the socket safe; without them it is not offered."""
    return hasattr(socket, "AF_UNIX") and hasattr(socket, "SO_PEERCRED") and Path("/proc/self/fd").is_dir()


class PrivateDirectory:
    """An open descriptor of the socket directory, checked: a real directory, ours, nobody else's."""

    def __init__(self, path: Path, create: bool) -> None:
        self.path = path
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                path.mkdir(mode=0o700)
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as error:
            raise IndexUnavailableError(f"cannot open the socket directory {path}: {error.strerror}") from error
        try:
            info = os.fstat(self.fd)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                raise IndexUnavailableError(
                    f"the socket directory {path} belongs to uid {info.st_uid}, not to this user ({os.getuid()}): "
                    "run Clearance as the data dir's owner, or remove that directory"
                )
            if stat.S_IMODE(info.st_mode) != 0o700:
                if not create:
                    raise IndexUnavailableError(f"the socket directory {path} is not private (mode 0700)")
                os.fchmod(self.fd, 0o700)
        except BaseException:
            os.close(self.fd)
            raise

    def address(self, name: str) -> str:
        return f"/proc/self/fd/{self.fd}/{name}"

    def close(self) -> None:
        os.close(self.fd)
