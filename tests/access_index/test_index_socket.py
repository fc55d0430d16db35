"""The index socket of `serve`, attacked and exercised: only the data dir's owner reaches it, a peer of
another uid is closed unread, what arrives is decoded by explicit codecs only (never executed), malformed or
unknown requests change nothing, big writes are cut between documents, and a `serve` that stops or is
still starting is handled the way `open_index` promises."""

from __future__ import annotations

import inspect
import json
import os
import pickle
import random
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from access_index.errors import IndexLockedError, IndexUnavailableError
from access_index.index import Chunk, ChunkIndex, document_filter, open_index
from access_index.index.base import ChunkIndex as ChunkIndexProtocol
from access_index.index.local_socket import PrivateDirectory
from access_index.index.remote import RemoteIndex, request_ranges
from access_index.index.socket_server import start_socket_server
from access_index.index.wire import CHUNK, METHODS, PROTOCOL, VECTOR, VERSION, receive_frame, send_frame
from access_index.settings import Settings, load_settings
from tests.access_index.test_index_contract import chunk, put
from tests.support.hashing_embedder import HashingEmbedder
from tests.support.served_index import serving

as_root = pytest.mark.skipif(os.getuid() != 0, reason="needs root to run a peer as another uid")
NOBODY = 65534


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return load_settings(data_dir=data_dir)


@pytest.fixture
def held(settings: Settings, embedder: HashingEmbedder) -> Iterator[ChunkIndex]:
    """The shard held as `serve` holds it, two documents in it, its socket open."""
    with serving(settings, embedder.info) as holder:
        put(holder, embedder, [chunk("a", 0), chunk("a", 1), chunk("b")])
        yield holder


def raw_connection(settings: Settings) -> socket.socket:
    directory = PrivateDirectory(settings.paths.socket_dir, create=False)
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(10)
    connection.connect(directory.address(settings.paths.index_socket.name))
    directory.close()
    return connection


def greeted(settings: Settings) -> socket.socket:
    connection = raw_connection(settings)
    send_frame(connection, {"hello": PROTOCOL, "version": VERSION, "role": "test"})
    assert "ok" in receive_frame(connection)
    return connection


def closed_by_server(connection: socket.socket) -> bool:
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True


# -- the table -------------------------------------------------------------------------------------------------
def test_every_protocol_method_but_close_is_forwarded() -> None:
    protocol = {name for name, _ in inspect.getmembers(ChunkIndexProtocol, inspect.isfunction)} - {"close"}
    assert set(METHODS) == {name for name in protocol if not name.startswith("_")}
    for name in METHODS:
        parameters = list(inspect.signature(getattr(ChunkIndexProtocol, name)).parameters)[1:]
        assert len(METHODS[name].params) == len(parameters), name
        assert callable(getattr(RemoteIndex, name))


def test_values_survive_the_trip_exactly() -> None:
    original = Chunk(
        tenant="acme",
        document_id="wiki/ü.md",
        source="wiki",
        chunk_index=3,
        chunk_count=4,
        text="Zeile\u2028mit\x00Sonderzeichen 🚀",
        uri="file:///w/%C3%BC.md",
        allow=("group:/eng",),
        deny=("user:mallory",),
        title=None,
        page=7,
        section="Intro",
        labels={"classification": "internal"},
        findings=({"technique": "zero-width", "count": 2},),
        content_hash="c",
        acl_hash="h",
        pipeline_version="p",
    )
    assert CHUNK.decode(json.loads(json.dumps(CHUNK.encode(original)))) == original
    vector = HashingEmbedder().embed(["a b c"])[0]
    assert VECTOR.decode(VECTOR.encode(vector)) == [float(x) for x in vector]


# -- who may connect ----------------------------------------------------------------------------------------------
def test_the_socket_and_its_directory_are_private_whatever_the_umask(settings: Settings) -> None:
    settings.paths.socket_dir.mkdir(parents=True, mode=0o777)
    os.chmod(settings.paths.socket_dir, 0o777)  # noqa: S103 - loosened by someone, or an old umask
    previous = os.umask(0)
    try:
        with serving(settings, HashingEmbedder().info):
            directory = os.lstat(settings.paths.socket_dir)
            sock = os.lstat(settings.paths.index_socket)
            assert stat.S_IMODE(directory.st_mode) == 0o700 and directory.st_uid == os.getuid()
            assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o600
    finally:
        os.umask(previous)
    assert not settings.paths.index_socket.exists()  # removed when serve stops


def test_a_socket_directory_planted_as_a_symlink_is_refused(settings: Settings, tmp_path: Path) -> None:
    elsewhere = tmp_path / "attacker-controlled"
    elsewhere.mkdir(mode=0o700)
    settings.paths.root.mkdir(parents=True)
    settings.paths.socket_dir.symlink_to(elsewhere)
    holder = open_index(settings, role="serve")
    try:
        with pytest.raises(IndexUnavailableError, match="socket directory"):
            start_socket_server(settings, holder)
    finally:
        holder.close()
    assert list(elsewhere.iterdir()) == []


@as_root
def test_a_socket_directory_of_another_user_is_refused(settings: Settings) -> None:
    settings.paths.socket_dir.mkdir(parents=True, mode=0o700)
    os.chown(settings.paths.socket_dir, NOBODY, NOBODY)
    holder = open_index(settings, role="serve")
    try:
        with pytest.raises(IndexUnavailableError, match=f"belongs to uid {NOBODY}"):
            start_socket_server(settings, holder)
    finally:
        holder.close()


PEER = textwrap.dedent(
    """
    import json, socket, struct, sys
    path = sys.argv[1]
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(10)
    try:
        connection.connect(path)
    except OSError as error:
        print(json.dumps({"connected": False, "error": type(error).__name__}))
        sys.exit(0)
    def frame(value):
        body = json.dumps(value).encode()
        return struct.pack(">I", len(body)) + body
    try:
        connection.sendall(frame({"hello": "clearance-index", "version": 1, "role": "ingest"}))
        connection.sendall(frame({"call": "delete_where", "args": [{"must": [], "must_not": []}]}))
        answer = connection.recv(65536)
    except OSError as error:
        answer = b""
    print(json.dumps({"connected": True, "answer": answer.decode("latin-1")}))
    """
)


def run_as_nobody(path: Path) -> dict[str, Any]:
    """PEER as uid nobody, with the system's Python (the venv may sit where nobody cannot read)."""
    python = shutil.which("python3", path="/usr/bin:/usr/local/bin") or sys.executable
    done = subprocess.run(
        [python, "-c", PEER, str(path)], user=NOBODY, capture_output=True, text=True, timeout=60, check=True, cwd="/"
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture
def open_data_dir() -> Iterator[Path]:
    """A data dir every user may traverse (as on many servers), so only the socket's own locks stand."""
    parent = Path(tempfile.mkdtemp(prefix="clearance-socket-"))
    try:
        os.chmod(parent, 0o755)  # noqa: S103 - traversable by everyone, as many data dirs are
        (parent / "data").mkdir(mode=0o755)
        yield parent / "data"
    finally:
        shutil.rmtree(parent, ignore_errors=True)


@as_root
def test_another_user_cannot_even_reach_the_socket(open_data_dir: Path, embedder: HashingEmbedder) -> None:
    settings = load_settings(data_dir=open_data_dir)
    with serving(settings, embedder.info) as holder:
        put(holder, embedder, [chunk("a")])
        result = run_as_nobody(settings.paths.index_socket)
        assert result == {"connected": False, "error": "PermissionError"}
        assert holder.count() == 1


@as_root
def test_a_peer_of_another_uid_is_closed_unread_even_when_permissions_are_loosened(
    open_data_dir: Path, embedder: HashingEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    """Directory and socket opened to everyone (a misconfiguration): the kernel's peer uid still keeps a
    stranger from deleting the index."""
    settings = load_settings(data_dir=open_data_dir)
    with serving(settings, embedder.info) as holder:
        put(holder, embedder, [chunk("a"), chunk("b")])
        os.chmod(settings.paths.socket_dir, 0o777)  # noqa: S103 - the misconfiguration under test
        os.chmod(settings.paths.index_socket, 0o777)  # noqa: S103 - the misconfiguration under test
        result = run_as_nobody(settings.paths.index_socket)
        assert result == {"connected": True, "answer": ""}
        assert holder.count() == 2
    assert "refused pid" in caplog.text and f"of uid {NOBODY}" in caplog.text


# -- what may arrive -------------------------------------------------------------------------------------------
def test_a_pickle_is_never_unpickled(held: ChunkIndex, settings: Settings, tmp_path: Path) -> None:
    canary = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, (f"touch {canary}",))

    body = pickle.dumps({"call": "count", "args": [Exploit()]})
    connection = greeted(settings)
    connection.sendall(struct.pack(">I", len(body)) + body)
    assert closed_by_server(connection)
    assert not canary.exists()
    assert held.count() == 3


def test_an_oversized_frame_is_refused_unread(held: ChunkIndex, settings: Settings) -> None:
    connection = greeted(settings)
    connection.sendall(struct.pack(">I", 0xFFFFFFF0) + b"{")
    assert closed_by_server(connection)
    assert open_index(settings, role="test").count() == 3  # and the server goes on serving others


def test_no_call_before_the_greeting(held: ChunkIndex, settings: Settings) -> None:
    for hello in ({"call": "delete_where", "args": [{"must": [], "must_not": []}]}, {"hello": PROTOCOL, "version": 99}):
        connection = raw_connection(settings)
        send_frame(connection, hello)
        answer = receive_frame(connection)
        assert answer["error"]["code"] == "protocol"
        assert closed_by_server(connection)
    assert held.count() == 3


@pytest.mark.parametrize(
    "request_",
    [
        {"call": "close", "args": []},
        {"call": "optimize", "args": []},
        {"call": "__class__", "args": []},
        {"call": "_update", "args": [None]},
        {"call": "delete_where", "args": [{"must": [["text", ["x"]]], "must_not": []}]},  # not a filter field
        {"call": "delete_where", "args": [{"must": [], "must_not": [], "should": []}]},
        {"call": "delete_where", "args": []},
        {"call": "set_payload_where", "args": [{"must": [], "must_not": []}, {"vector": [1.0]}]},
        {"call": "upsert", "args": [[{**CHUNK.encode(chunk("evil")), "extra": 1}], ["AACAPw=="]]},
        {"call": "upsert", "args": [[{**CHUNK.encode(chunk("evil")), "allow": "authenticated"}], ["AACAPw=="]]},
        {"call": "upsert", "args": [[CHUNK.encode(chunk("evil"))], ["AACAfw=="]]},  # +inf
        {"call": "upsert", "args": [[CHUNK.encode(chunk("evil"))], ["not base64!"]]},
        {"call": "upsert", "args": [[CHUNK.encode(chunk("evil"))], []]},  # no vector for the chunk
        {
            "call": "search",
            "args": [{"text": "x", "mode": "semantic", "vector": "AACAPw=="}, {"must": [], "must_not": []}, 10**9],
        },
        {"call": "search", "args": [{"text": "x", "mode": "all", "vector": None}, {"must": [], "must_not": []}, 5]},
        {
            "call": "search",
            "args": [{"text": "x", "mode": "semantic", "vector": None}, {"must": [], "must_not": []}, 5],
        },
        {
            "call": "search",
            "args": [{"text": "x" * 100_001, "mode": "keyword", "vector": None}, {"must": [], "must_not": []}, 5],
        },
        {"call": "search", "args": ["AACAPw==", {"must": [], "must_not": []}, 5]},  # a bare vector is no query
        {"call": "scroll", "args": [{"must": [], "must_not": []}, None, 0]},
    ],
)
def test_malformed_or_unknown_requests_change_nothing(
    held: ChunkIndex, settings: Settings, request_: dict[str, Any]
) -> None:
    connection = greeted(settings)
    send_frame(connection, request_)
    answer = receive_frame(connection)
    assert answer["error"]["code"] == "bad_request", answer
    assert held.count() == 3
    assert held.count(document_filter("acme", "evil")) == 0
    assert open_index(settings, role="test").count() == 3


def test_json_constants_are_refused(held: ChunkIndex, settings: Settings) -> None:
    body = b'{"call": "count", "args": [NaN]}'
    connection = greeted(settings)
    connection.sendall(struct.pack(">I", len(body)) + body)
    assert closed_by_server(connection)


# -- writes, streams, and serve's comings and goings ------------------------------------------------------------
def test_big_writes_are_cut_between_documents(
    held: ChunkIndex, settings: Settings, embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    write = held.upsert

    def recording(chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        calls.append([f"{c.document_id}#{c.chunk_index}" for c in chunks])
        write(chunks, vectors)

    monkeypatch.setattr(held, "upsert", recording)
    monkeypatch.setattr("access_index.index.remote.TARGET_REQUEST_BYTES", 6000)
    remote = open_index(settings, role="test")
    sizes = {"d1": 3, "d2": 1, "d3": 2, "huge": 12}
    chunks = [chunk(doc, i, text=f"{doc} " + "word " * 80) for doc, n in sizes.items() for i in range(n)]
    put(remote, embedder, chunks)
    remote.close()
    assert len(calls) > 2
    assert sorted(item for call in calls for item in call) == sorted(f"{c.document_id}#{c.chunk_index}" for c in chunks)
    for call in calls:
        documents = {item.split("#")[0] for item in call}
        if "huge" not in documents:  # every document that fits a request arrives whole, in one engine write
            for document in documents:
                assert sum(item.startswith(f"{document}#") for item in call) == sizes[document]
    assert held.count(document_filter("acme", "huge")) == 12


def test_request_ranges_cover_everything_in_order_and_cut_only_where_needed() -> None:
    rng = random.Random(3)
    for _ in range(300):
        documents = [f"d{n}" for n in range(rng.randint(1, 12)) for _ in range(rng.randint(1, 6))]
        sizes = [rng.randint(1, 40) for _ in documents]
        target = rng.randint(10, 120)
        ranges = request_ranges(documents, sizes, target)
        assert [i for start, end in ranges for i in range(start, end)] == list(range(len(sizes)))
        for start, end in ranges:
            inside = set(documents[start:end])
            whole = all(documents.count(d) == documents[start:end].count(d) for d in inside)
            # A range over the target is one document's part; a cut inside a document only when that
            # document alone is larger than the target.
            assert sum(sizes[start:end]) <= target or len(inside) == 1
            if not whole:
                cut = [d for d in inside if documents.count(d) != documents[start:end].count(d)]
                assert all(sum(s for s, x in zip(sizes, documents, strict=True) if x == d) > target for d in cut)


def test_a_scroll_abandoned_midway_leaves_the_client_usable(
    held: ChunkIndex, settings: Settings, embedder: HashingEmbedder
) -> None:
    remote = open_index(settings, role="test")
    put(remote, embedder, [chunk("many", i) for i in range(700)])
    stream = remote.scroll(document_filter("acme", "many"))
    first = [next(stream) for _ in range(5)]
    stream.close()  # type: ignore[attr-defined]
    assert len(first) == 5
    assert sum(1 for _ in remote.scroll(document_filter("acme", "many"), batch=100)) == 700
    assert remote.count() == 703
    remote.close()


def test_when_serve_stops_every_call_fails_clearly(settings: Settings, embedder: HashingEmbedder) -> None:
    with serving(settings, embedder.info):
        remote = open_index(settings, role="test")
        assert remote.count() == 0
    for _ in range(2):
        with pytest.raises(IndexUnavailableError, match=rf"clearance serve \(pid {os.getpid()}\).*stopped answering"):
            remote.count()
    remote.close()


def test_a_client_waits_for_a_serve_that_is_still_starting(settings: Settings, embedder: HashingEmbedder) -> None:
    holder = open_index(settings, role="serve")
    holder.ensure_collection(embedder.info)
    servers = []
    opener = threading.Timer(1.5, lambda: servers.append(start_socket_server(settings, holder)))
    opener.start()
    try:
        started = time.monotonic()
        remote = open_index(settings, role="test")
        assert 1.0 < time.monotonic() - started < 20
        assert remote.route == f"via clearance serve (pid {os.getpid()})"
        remote.close()
    finally:
        opener.join()
        for server in servers:
            assert server is not None
            server.stop()
        holder.close()


def test_a_second_serve_is_refused_not_forwarded(held: ChunkIndex, settings: Settings) -> None:
    started = time.monotonic()
    with pytest.raises(IndexLockedError, match=r"in use by another process \(clearance serve"):
        open_index(settings, role="serve")
    assert time.monotonic() - started < 5


def test_a_socket_left_by_a_killed_serve_is_replaced(settings: Settings, embedder: HashingEmbedder) -> None:
    settings.paths.socket_dir.mkdir(parents=True, mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    directory = PrivateDirectory(settings.paths.socket_dir, create=False)
    stale.bind(directory.address(settings.paths.index_socket.name))
    stale.close()  # the file stays, nobody listens: what a SIGKILLed serve leaves
    directory.close()
    with serving(settings, embedder.info):
        assert open_index(settings, role="test").count() == 0


def test_stopping_answers_the_request_in_progress_first(
    settings: Settings, embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `serve` shutting down finishes and answers a write it has started before its shard closes."""
    holder = open_index(settings, role="serve")
    holder.ensure_collection(embedder.info)
    server = start_socket_server(settings, holder)
    assert server is not None
    write = holder.upsert
    writing = threading.Event()

    def slow(chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        writing.set()
        time.sleep(1.0)
        write(chunks, vectors)

    monkeypatch.setattr(holder, "upsert", slow)
    remote = open_index(settings, role="test")
    outcome: list[BaseException | None] = []

    def upsert() -> None:
        try:
            put(remote, embedder, [chunk("late", 0), chunk("late", 1)])
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    client = threading.Thread(target=upsert)
    client.start()
    assert writing.wait(timeout=10)
    server.stop()
    client.join(timeout=30)
    assert outcome == [None]  # the write in progress was answered
    assert holder.count() == 2
    holder.close()
    with pytest.raises(IndexUnavailableError, match="stopped answering"):
        remote.count()
    remote.close()
