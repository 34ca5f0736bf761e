"""Token buckets: one per client address plus one global, for the public consent endpoint.

Owns: the bucket arithmetic and a bounded map of per-client buckets. Does not own: deciding what the
client address is (the callback does).
The global bucket is what protects the apiserver when addresses are spoofed or many.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens added per second
    burst: float  # capacity
    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class ClientRateLimiter:
    """``allow(client)`` is False when that client or everybody together is over budget.

    Per-client buckets live in an LRU map capped at ``max_clients``; an evicted client simply starts
    again with a full bucket, which the global bucket still bounds.
    """

    def __init__(
        self,
        *,
        rate: float = 10.0,
        burst: float = 20.0,
        global_rate: float = 50.0,
        global_burst: float = 100.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1 or global_rate <= 0 or global_burst < 1 or max_clients < 1:
            raise ValueError("rates must be positive, bursts and max_clients at least 1")
        self._rate, self._burst, self._max = rate, burst, max_clients
        self._clock = clock
        self._global = TokenBucket(global_rate, global_burst, global_burst, clock())
        self._clients: OrderedDict[str, TokenBucket] = OrderedDict()

    def allow(self, client: str) -> bool:
        now = self._clock()
        bucket = self._clients.get(client)
        if bucket is None:
            bucket = TokenBucket(self._rate, self._burst, self._burst, now)
            self._clients[client] = bucket
            if len(self._clients) > self._max:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(client)
        # The client's own budget first: a flooding client must not drain the global bucket.
        return bucket.take(now) and self._global.take(now)

    def __len__(self) -> int:
        return len(self._clients)
