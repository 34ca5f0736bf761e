"""The token bucket paces requests, and clients of the same application share one bucket."""

from __future__ import annotations

import pytest
from nylas_mock import API_KEY, FakeClock, Recorder, make_client, reply

from nylas_operator.nylas import LimiterRegistry, NylasClient, RateLimiter


async def test_burst_then_rate(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=20, burst=10, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        await limiter.acquire()
    # 10 immediately, then 90 at 20/s.
    assert clock.now - 1000.0 == pytest.approx(90 / 20)


async def test_bucket_refills_while_idle(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=10, burst=5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        assert await limiter.acquire() == 0.0
    assert await limiter.acquire() == pytest.approx(0.1)
    clock.now += 10.0  # idle: refills to the burst, not beyond
    waits = [await limiter.acquire() for _ in range(6)]
    assert waits[:5] == [0.0] * 5 and waits[5] == pytest.approx(0.1)


def test_concurrent_reservations_queue_up(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=10, burst=1, clock=clock, sleep=clock.sleep)
    assert [round(limiter.reserve(), 6) for _ in range(4)] == [0.0, 0.1, 0.2, 0.3]


def test_invalid_configuration() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=0)
    with pytest.raises(ValueError):
        RateLimiter(rate=1, burst=0)


async def test_clients_of_one_application_share_a_limiter() -> None:
    registry = LimiterRegistry()
    a = NylasClient(API_KEY, application_id="app", registry=registry)
    b = NylasClient("other-key", application_id="app", registry=registry)
    c = NylasClient(API_KEY, application_id="app", region="eu", registry=registry)
    d = NylasClient(API_KEY, registry=registry)
    e = NylasClient(API_KEY, registry=registry)
    try:
        assert a.limiter is b.limiter
        assert a.limiter is not c.limiter
        assert d.limiter is e.limiter and d.limiter is not a.limiter
        assert registry.size == 3
    finally:
        for x in (a, b, c, d, e):
            await x.aclose()


async def test_every_attempt_takes_a_token(clock: FakeClock) -> None:
    recorder = Recorder(
        script=[reply(503), reply(503), reply(200, {"data": {"id": "g", "provider": "google"}})]
    )
    limiter = RateLimiter(rate=1, burst=100, clock=clock, sleep=clock.sleep)
    async with make_client(recorder, clock, limiter=limiter) as client:
        await client.grants.get("g")
    assert len(recorder.requests) == 3
    assert limiter.reserve() == 0.0 and limiter._tokens == pytest.approx(100 - 4, abs=0.5)
