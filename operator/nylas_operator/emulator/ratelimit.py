"""Nylas's per-application request budget (about 50 requests/s for the admin APIs).

Owns a sliding one-second window per application. Off unless `Behaviour.rate_limit_per_second`
is set; the pipeline decides when to consult it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from nylas_operator.emulator.errors import ApiError

WINDOW = 1.0


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def check(self, app_id: str, per_second: float | None) -> None:
        if per_second is None:
            return
        now = self._clock()
        hits = self._hits.setdefault(app_id, deque())
        while hits and now - hits[0] >= WINDOW:
            hits.popleft()
        if len(hits) >= per_second:
            # Nylas's own limit: no provider_error and no Retry-After (nylas-api-v3.md §7.3).
            raise ApiError(429, "nylas_rate_limit_exceeded", "too many requests for this application")
        hits.append(now)
