"""Injected faults: a status code, a hang (timeout) or a silently missing page, on requests whose path
contains a string, from an offset on. A status fault answers any method; a hang delays reads (GET)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tests.support.fake_keycloak.routing import Response


@dataclass
class Fault:
    """Fail requests whose path contains `path_contains` (and whose `first` ≥ `from_first`)."""

    path_contains: str
    kind: str = "status"  # "status" | "hang" | "empty_page" | "drop_last"
    status: int = 500
    from_first: int = 0
    times: int | None = None  # None = every matching request
    hang_seconds: float = 5.0
    hits: int = 0


def matching_fault(faults: list[Fault], path: str, query: dict[str, str]) -> Fault | None:
    for fault in list(faults):
        if fault.path_contains not in path or int(query.get("first", 0) or 0) < fault.from_first:
            continue
        if fault.times is not None and fault.hits >= fault.times:
            continue
        fault.hits += 1
        return fault
    return None


def before(fault: Fault | None, method: str) -> Response | None:
    """A fault's effect before the request is served: a hang (on reads), or its status as the answer."""
    if fault is None:
        return None
    if fault.kind == "hang" and method == "GET":
        time.sleep(fault.hang_seconds)
    if fault.kind == "status":
        return fault.status, {"error": "injected failure"}
    return None


def after(fault: Fault | None, body: Any) -> Any:
    """A fault's effect on a list answer: all of it or its last item silently missing."""
    if fault is not None and fault.kind == "empty_page" and isinstance(body, list):
        return []
    if fault is not None and fault.kind == "drop_last" and isinstance(body, list):
        return body[:-1]
    return body
