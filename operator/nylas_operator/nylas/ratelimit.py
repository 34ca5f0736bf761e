"""One request budget per Nylas application: an async token bucket and a registry that shares it.

Owns: pacing requests so that every client of the same application (same base URL + application)
together stays under the configured rate, retries included. Does not own: reacting to 429s (``retry.py``).

Nylas limits the admin APIs (connectors, grants, authentication) to 50 requests per application per
second. The bucket holds ``burst`` tokens and refills ``rate`` per second; a caller that finds it empty
reserves the next token and sleeps until it is due. Reservations are plain arithmetic on a clock, with
no asyncio primitives, so one limiter works across event loops (tests run one loop per test).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

DEFAULT_RATE = 50.0
DEFAULT_BURST = 10


class RateLimiter:
    """Token bucket: at most ``burst`` back-to-back requests, then ``rate`` per second."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate:g}/s, burst={self.burst})"

    def reserve(self) -> float:
        """Take one token now (possibly going into debt); return how long to wait before using it."""
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def acquire(self) -> float:
        """Wait for a token; returns the seconds waited."""
        delay = self.reserve()
        if delay > 0:
            await self._sleep(delay)
        return delay


@dataclass(frozen=True)
class LimiterKey:
    base_url: str
    application: str


def limiter_key(base_url: str, *, application_id: str | None, api_key: str) -> LimiterKey:
    """Identify an application; without its id, by a digest of its key (never the key itself)."""
    app = application_id or "key-sha256:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return LimiterKey(base_url.rstrip("/"), app)


class LimiterRegistry:
    """Hands out one limiter per application; the first caller's rate and burst win."""

    def __init__(self) -> None:
        self._limiters: dict[LimiterKey, RateLimiter] = {}
        self._lock = threading.Lock()

    def get(self, key: LimiterKey, *, rate: float = DEFAULT_RATE, burst: int = DEFAULT_BURST) -> RateLimiter:
        with self._lock:
            limiter = self._limiters.get(key)
            if limiter is None:
                limiter = self._limiters[key] = RateLimiter(rate, burst)
            return limiter

    @property
    def size(self) -> int:
        """How many applications have a limiter (no ``__len__``: an empty registry stays truthy)."""
        return len(self._limiters)


_default_registry = LimiterRegistry()


def default_registry() -> LimiterRegistry:
    """The process-wide registry every ``NylasClient`` uses unless given another."""
    return _default_registry
