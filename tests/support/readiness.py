"""Waiting for what a test started: a free loopback port to start a server on, the server's /readyz,
or any condition, polled until a deadline."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(
    url: str,
    process: subprocess.Popen[Any] | None = None,
    timeout: float = 180,
    log: Callable[[], str] = lambda: "",
    name: str = "clearance serve",
) -> bool:
    """Poll `url`/readyz every 0.5 s until it answers 200 (True) or `timeout` seconds pass (False).

    If `process` (the server) exits meanwhile, raise at once with `log()` (its output) in the message."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=5) as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{log()}")
            try:
                if client.get("/readyz").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.5)
    return False


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.5) -> bool:
    """Poll `predicate` every `interval` seconds until it is true; after `timeout`, its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
