"""In-process retries: which failures to retry, how long to wait, when to give up.

Owns: the backoff arithmetic (capped exponential with jitter), ``Retry-After`` parsing, the retry loop.
Does not own: making the request (``transport.py``) or deciding what the operator does once the
client gave up (``controllers/``, which gets the last error with its ``retry_after``).

Which requests are retried (the POST question):
- Idempotent requests (GET, PATCH with full objects, DELETE, and the POSTs Nylas makes idempotent) are
  retried on every retryable error. ``POST /v3/connect/custom`` is idempotent per email address (a repeat
  re-authenticates and returns the same grant id) and ``POST .../creds`` is de-duplicated by Nylas, so both
  are marked idempotent. A DELETE repeated after a lost answer may get 404: callers treat 404 on
  delete as "gone".
- Non-idempotent requests (``POST /v3/connectors``: a repeat after a lost answer would fail as a
  duplicate) are retried only when Nylas certainly did not act: a 429, or a connection that was never
  established. After a timeout, a dropped connection or a 5xx the error is raised, and the operator's next
  reconcile looks the connector up (GET) before creating again.

``Retry-After`` is honoured as a lower bound on the wait. When it exceeds ``max_retry_after`` (or the
overall ``deadline`` would be crossed) the loop stops waiting in-process and raises the error, which still
carries ``retry_after`` so the caller can requeue for that long instead of blocking a worker.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from nylas_operator.nylas.errors import (
    NylasError,
    NylasRateLimitedError,
    NylasStatusError,
    NylasTransportError,
)

log = logging.getLogger("nylas_operator.nylas")

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    """Attempts in total, the first included (1 disables retries)."""
    base_delay: float = 0.5
    """Seconds before the first retry; doubles with each further attempt."""
    max_delay: float = 30.0
    """Cap of the exponential backoff, in seconds."""
    jitter: float = 0.5
    """Fraction of each backoff delay that is randomised: delay * (1 - jitter + jitter * U[0,1))."""
    max_retry_after: float = 60.0
    """Longest ``Retry-After`` waited in-process; a longer one ends the loop (the error carries it)."""
    deadline: float | None = 120.0
    """Seconds from the first attempt after which no further attempt starts; None = attempts only."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be within [0, 1]")

    def backoff(self, retry_number: int, rng: Callable[[], float] = random.random) -> float:
        """Delay before retry ``retry_number`` (1 = the first retry), without Retry-After."""
        exp = min(self.max_delay, self.base_delay * math.pow(2.0, retry_number - 1))
        return exp * (1.0 - self.jitter + self.jitter * rng())

    def delay_for(
        self, error: NylasError, retry_number: int, rng: Callable[[], float] = random.random
    ) -> float:
        """How long to wait before retrying after ``error``; Retry-After wins over a shorter backoff."""
        delay = self.backoff(retry_number, rng)
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            # A small positive jitter keeps many waiters from returning at the same instant.
            delay = max(delay, retry_after * (1.0 + 0.1 * rng()))
        return delay


NO_RETRY = RetryPolicy(max_attempts=1)


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP-date; None if absent/garbled."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; be lenient with a missing zone.
            return None
        seconds = when.timestamp() - now()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def should_retry(error: NylasError, *, idempotent: bool) -> bool:
    if not error.retryable:
        return False
    if idempotent:
        return True
    if isinstance(error, NylasRateLimitedError):
        return True
    return isinstance(error, NylasTransportError) and not error.request_sent


async def call_with_retry(
    attempt: Callable[[int], Awaitable[T]],
    *,
    policy: RetryPolicy,
    idempotent: bool,
    describe: str = "request",
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: Callable[[], float] = random.random,
) -> T:
    """Run ``attempt(n)`` (n = 1, 2, ...) until it returns or a failure must not or cannot be retried."""
    started = clock()
    number = 1
    while True:
        try:
            return await attempt(number)
        except NylasError as error:
            if number >= policy.max_attempts or not should_retry(error, idempotent=idempotent):
                raise
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None and retry_after > policy.max_retry_after:
                log.debug("not retrying %s: Retry-After %.1fs exceeds the cap", describe, retry_after)
                raise
            delay = min(policy.delay_for(error, number, rng), max(policy.max_retry_after, policy.max_delay))
            if policy.deadline is not None and clock() + delay - started > policy.deadline:
                log.debug("not retrying %s: the retry deadline would pass", describe)
                raise
            log.debug(
                "retrying %s in %.2fs after attempt %d/%d failed: %s",
                describe,
                delay,
                number,
                policy.max_attempts,
                _short(error),
            )
            await sleep(delay)
            number += 1


def _short(error: NylasError) -> str:
    if isinstance(error, NylasStatusError):
        return f"HTTP {error.status} {error.error_type or ''}".rstrip()
    if isinstance(error, NylasTransportError):
        return f"transport {error.kind}"
    return type(error).__name__
