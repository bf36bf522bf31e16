"""Test switches: injected faults, a rate limit, and webhook duplication and reordering.

They live in memory, not in the state file: a restarted sandbox starts with
every switch off, as a fresh test expects. Request threads and the webhook
thread read them, so every access takes the lock.
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any


class FaultMode(enum.StrEnum):
    # Answer 500 at once, before the request runs (nothing is saved for its key).
    ERROR = "error"
    # Hold the request past the client's timeout, then drop it without running it.
    TIMEOUT = "timeout"
    # Run the request (saving its answer for the Idempotency-Key), then hold the
    # answer past the client's timeout: the client cannot know it succeeded.
    LOST_RESPONSE = "lost_response"


@dataclass(frozen=True)
class Fault:
    mode: FaultMode
    hold_seconds: float


class RateLimiter:
    """At most ``per_second`` requests in any sliding second; the rest are refused."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self._admitted: deque[float] = deque()

    def admit(self, now: float) -> bool:
        while self._admitted and self._admitted[0] <= now - 1.0:
            self._admitted.popleft()
        if len(self._admitted) >= self.per_second:
            return False
        self._admitted.append(now)
        return True


class Switches:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._rate_limiter: RateLimiter | None = None
        self._duplicate_webhooks = False
        self._webhook_batch = 0

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self._rate_limiter = None
            self._duplicate_webhooks = False
            self._webhook_batch = 0

    # --- API requests ----------------------------------------------------------

    def add_faults(self, *, mode: FaultMode, count: int, hold_seconds: float) -> None:
        with self._lock:
            self._faults.extend(Fault(mode=mode, hold_seconds=hold_seconds) for _ in range(count))

    def take_fault(self) -> Fault | None:
        """The fault for the next API request, if any is still queued."""
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def set_rate_limit(self, per_second: int | None) -> None:
        with self._lock:
            self._rate_limiter = RateLimiter(per_second) if per_second else None

    def admit(self) -> bool:
        with self._lock:
            return self._rate_limiter is None or self._rate_limiter.admit(time.monotonic())

    # --- Webhooks ------------------------------------------------------------------

    def set_webhooks(self, *, duplicate: bool, out_of_order_batch: int) -> None:
        with self._lock:
            self._duplicate_webhooks = duplicate
            self._webhook_batch = out_of_order_batch

    @property
    def webhook_copies(self) -> int:
        """How many times each delivery is sent (a duplicate tests the receiver's dedupe)."""
        with self._lock:
            return 2 if self._duplicate_webhooks else 1

    @property
    def webhook_batch(self) -> int:
        """Hold deliveries until this many are due, then send them newest first (0: in order)."""
        with self._lock:
            return self._webhook_batch

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "faults": [
                    {"mode": fault.mode.value, "hold_seconds": fault.hold_seconds}
                    for fault in self._faults
                ],
                "rate_limit_per_second": self._rate_limiter.per_second
                if self._rate_limiter
                else None,
                "webhooks": {
                    "duplicate": self._duplicate_webhooks,
                    "out_of_order_batch": self._webhook_batch,
                },
            }
