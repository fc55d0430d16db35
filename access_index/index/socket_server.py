"""`serve`'s side of the index socket: the index operations of `ingest` and `acl-sync`, run on the embedded
shard that `serve` holds, so the three jobs run at once on the embedded default.

Each connection gets a thread; a connection is refused unread unless its peer runs as this user
(access_index/index/local_socket.py). Requests are decoded and dispatched through the method table of
access_index/index/wire.py, on the same index object searches use: a write is one engine operation, as in
the writing process itself, so a document's chunks change together and searches keep running beside it.
Stopping waits for the request in progress to be answered, then closes; the index is closed after that.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterable
from typing import Any

from access_index.errors import ClearanceError
from access_index.index.base import ChunkIndex
from access_index.index.local_socket import PrivateDirectory, peer_of, supported
from access_index.index.wire import METHODS, PROTOCOL, VERSION, Method, WireError, receive_frame, send_frame
from access_index.settings import Settings

log = logging.getLogger("clearance.index_socket")

MAX_CLIENTS = 16
STREAM_PAGE = 256  # items per frame of a streamed result (a scroll)
_ACCEPT_POLL_SECONDS = 0.5


class IndexSocketServer:
    """Serves `index` (the embedded shard this process holds) on the data dir's index socket."""

    def __init__(self, index: ChunkIndex, settings: Settings) -> None:
        self.index = index
        self.path = settings.paths.index_socket
        self._directory = PrivateDirectory(settings.paths.socket_dir, create=True)
        self._stopping = threading.Event()
        self._guard = threading.Lock()
        self._clients: dict[socket.socket, threading.Thread] = {}
        self._listener = self._listen()
        self._acceptor = threading.Thread(target=self._accept_loop, name="clearance-index-socket", daemon=True)
        self._acceptor.start()
        log.info("index socket open at %s", self.path)

    def _listen(self) -> socket.socket:
        name = self.path.name
        # We hold the index lock, so a socket file left here belongs to a process that is gone.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self._directory.fd)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(self._directory.address(name))
            os.chmod(name, 0o600, dir_fd=self._directory.fd, follow_symlinks=False)
            listener.listen(MAX_CLIENTS)
            listener.settimeout(_ACCEPT_POLL_SECONDS)
        except BaseException:
            listener.close()
            self._directory.close()
            raise
        return listener

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, let each client's request in progress finish and be answered, then close."""
        self._stopping.set()
        self._acceptor.join(timeout=_ACCEPT_POLL_SECONDS * 4)
        self._listener.close()
        with self._guard:
            clients = list(self._clients.items())
        for connection, _ in clients:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RD)  # wakes a handler waiting for the next request
        for _, thread in clients:
            thread.join(timeout=timeout)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path.name, dir_fd=self._directory.fd)
        self._directory.close()
        log.info("index socket closed")

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                log.exception("index socket accept failed")
                continue
            connection.settimeout(None)
            with self._guard:
                if len(self._clients) >= MAX_CLIENTS:
                    _refuse(connection, "busy", f"{MAX_CLIENTS} clients are connected already; try again")
                    continue
                thread = threading.Thread(target=self._serve, args=(connection,), name="clearance-index-client")
                thread.daemon = True
                self._clients[connection] = thread
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            peer = peer_of(connection)
            if peer.uid != os.getuid():
                log.warning(
                    "index socket: refused pid %d of uid %d (only uid %d may use it)", peer.pid, peer.uid, os.getuid()
                )
                return
            role = self._greet(connection)
            if role is None:
                return
            log.info("index client connected: clearance %s, pid %d", role, peer.pid)
            while not self._stopping.is_set():
                request = receive_frame(connection)
                if not self._answer(connection, request):
                    return
        except EOFError:
            pass
        except WireError as error:
            log.warning("index socket: a client sent a malformed frame, closing it: %s", error)
        except OSError as error:
            log.info("index client connection ended: %s", error)
        finally:
            with self._guard:
                self._clients.pop(connection, None)
            connection.close()

    def _greet(self, connection: socket.socket) -> str | None:
        hello = receive_frame(connection)
        if not isinstance(hello, dict) or hello.get("hello") != PROTOCOL or hello.get("version") != VERSION:
            _refuse(
                connection,
                "protocol",
                f"this clearance serve speaks {PROTOCOL} version {VERSION}: run the same Clearance version",
            )
            return None
        send_frame(connection, {"ok": {"pid": os.getpid(), "role": "serve", "version": VERSION}})
        role = hello.get("role")
        return role if isinstance(role, str) else "?"

    def _answer(self, connection: socket.socket, request: Any) -> bool:
        """Run one request and send its answer; False when the connection cannot go on."""
        name = request.get("call") if isinstance(request, dict) else None
        method = METHODS.get(name) if isinstance(name, str) else None
        if name is None or method is None:
            send_frame(connection, _error("bad_request", f"not a method this socket forwards: {name!r}"))
            return False
        try:
            args = method.decode_args(request.get("args"))
        except WireError as error:
            send_frame(connection, _error("bad_request", f"{name}: {error}"))
            return False
        try:
            result = getattr(self.index, name)(*args)
            if method.stream:
                self._send_stream(connection, method, result)
            else:
                send_frame(connection, {"ok": method.result.encode(result)})
        except ClearanceError as error:
            send_frame(connection, _error(error.code, str(error)))
        except (ValueError, TypeError) as error:
            send_frame(connection, _error("bad_request", f"{name}: {error}"))
        except OSError:
            raise
        except Exception as error:  # the client is told, and the log keeps the trace
            log.exception("index socket: %s failed", name)
            send_frame(connection, _error("internal", f"{name} failed in clearance serve: {type(error).__name__}"))
        return True

    @staticmethod
    def _send_stream(connection: socket.socket, method: Method, items: Iterable[Any]) -> None:
        page: list[Any] = []
        for item in items:
            page.append(method.result.encode(item))
            if len(page) >= STREAM_PAGE:
                send_frame(connection, {"items": page})
                page = []
        if page:
            send_frame(connection, {"items": page})
        send_frame(connection, {"ok": None})


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _refuse(connection: socket.socket, code: str, message: str) -> None:
    with contextlib.suppress(OSError):
        send_frame(connection, _error(code, message))
    connection.close()


def start_socket_server(settings: Settings, index: ChunkIndex) -> IndexSocketServer | None:
    """The index socket for `serve`'s embedded shard; None with a Qdrant server (every process reaches it
    itself) or where the kernel cannot tell who connects (then other commands are told the shard is busy)."""
    if settings.qdrant_url:
        return None
    if not supported():
        log.warning("no index socket on this system (it needs SO_PEERCRED): ingest and acl-sync cannot run beside")
        return None
    try:
        return IndexSocketServer(index, settings)
    except OSError as error:  # searches do not need it; the other commands are told the shard is busy
        log.error("the index socket could not be opened at %s: %s", settings.paths.index_socket, error)
        return None
