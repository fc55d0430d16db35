"""Per-subject and per-agent token buckets (denial of wallet): each key may burst up to its per-minute
budget and refills continuously. In-memory, per process."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from access_index.errors import RateLimitedError

MAX_KEYS = 100_000  # forget idle buckets beyond this many, so random subjects cannot grow memory forever


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`take(key)` spends one request of `key`'s budget or raises RateLimitedError (429)."""

    def __init__(self, per_minute: int, scope: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.scope = scope
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_KEYS:
                    self._forget_full(now)
                bucket = self._buckets[key] = _Bucket(self.capacity, now)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                retry_after = max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
                raise RateLimitedError(
                    f"{self.scope} rate limit reached; retry in {retry_after} s", retry_after, self.scope
                )
            bucket.tokens -= 1.0

    def _forget_full(self, now: float) -> None:
        full_after = self.capacity / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < full_after}
