"""Retrying a pull with exponential backoff and jitter; only errors marked retryable are retried."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from access_index.errors import PullError

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """`attempts` tries in all; waits base, 2·base, 4·base … capped at `cap`, each ±25 % jitter."""

    attempts: int = 3
    base_seconds: float = 1.0
    cap_seconds: float = 30.0

    def delay(self, retry: int) -> float:
        raw = min(self.cap_seconds, self.base_seconds * (2**retry))
        return float(raw * random.uniform(0.75, 1.25))  # noqa: S311 - jitter, not security


@dataclass(frozen=True)
class Attempted(Generic[T]):
    """The value and how many attempts it took."""

    value: T
    attempts: int


def with_retries(
    action: Callable[[], T],
    backoff: Backoff,
    on_retry: Callable[[int, PullError], None] = lambda attempt, error: None,
    sleep: Callable[[float], None] = time.sleep,
) -> Attempted[T]:
    """Run `action`; on a retryable PullError wait and try again, up to `backoff.attempts` in all."""
    attempt = 1
    while True:
        try:
            return Attempted(action(), attempt)
        except PullError as error:
            if not error.retryable or attempt >= backoff.attempts:
                raise
            on_retry(attempt, error)
            sleep(backoff.delay(attempt - 1))
            attempt += 1
