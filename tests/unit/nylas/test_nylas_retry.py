"""Backoff arithmetic, Retry-After parsing and the retry loop (fake clock, no real sleeps)."""

from __future__ import annotations

import email.utils

import httpx
import pytest
from nylas_mock import FakeClock, Recorder, make_client, nylas_error, reply

from nylas_operator.nylas import (
    ConnectorCreate,
    MicrosoftConnectorSettings,
    NylasError,
    NylasRateLimitedError,
    NylasServerError,
    NylasTimeoutError,
    Provider,
    RetryPolicy,
    parse_retry_after,
)
from nylas_operator.nylas.errors import NylasBadRequestError, NylasConnectError, NylasConnectionDropped
from nylas_operator.nylas.retry import call_with_retry, should_retry

GRANT = {"id": "g", "provider": "google", "scope": []}


def test_backoff_doubles_and_caps() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0, jitter=0.0)
    assert [policy.backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


@pytest.mark.parametrize("u", [0.0, 0.25, 0.999])
def test_jitter_stays_within_its_band(u: float) -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=100.0, jitter=0.5)
    delay = policy.backoff(3, rng=lambda: u)  # 4 s before jitter
    assert 2.0 <= delay < 4.0
    assert delay == pytest.approx(4.0 * (0.5 + 0.5 * u))


def test_retry_after_is_a_lower_bound() -> None:
    policy = RetryPolicy(base_delay=0.1, jitter=0.0)
    err = NylasRateLimitedError(status=429, method="GET", path="/", base_url="u", retry_after=3.0)
    assert 3.0 <= policy.delay_for(err, 1, rng=lambda: 0.5) <= 3.3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
    ],
)
def test_parse_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 42, usegmt=True)
    assert parse_retry_after(header, now=lambda: now) == pytest.approx(42.0)
    past = email.utils.formatdate(now - 10, usegmt=True)
    assert parse_retry_after(past, now=lambda: now) == 0.0


def _err(kind: str) -> NylasError:
    m, p, u = "POST", "/v3/connectors", "u"
    return {
        "429": NylasRateLimitedError(status=429, method=m, path=p, base_url=u),
        "500": NylasServerError(status=500, method=m, path=p, base_url=u),
        "400": NylasBadRequestError(status=400, method=m, path=p, base_url=u),
        "connect": NylasConnectError(detail="x", method=m, path=p, base_url=u),
        "timeout": NylasTimeoutError(detail="x", method=m, path=p, base_url=u),
        "dropped": NylasConnectionDropped(detail="x", method=m, path=p, base_url=u),
    }[kind]


@pytest.mark.parametrize(
    ("kind", "idempotent", "expected"),
    [
        ("429", True, True),
        ("500", True, True),
        ("timeout", True, True),
        ("dropped", True, True),
        ("400", True, False),
        ("429", False, True),
        ("connect", False, True),
        ("500", False, False),
        ("timeout", False, False),
        ("dropped", False, False),
        ("400", False, False),
    ],
)
def test_should_retry(kind: str, idempotent: bool, expected: bool) -> None:
    assert should_retry(_err(kind), idempotent=idempotent) is expected


async def test_loop_retries_until_success_with_growing_delays(clock: FakeClock) -> None:
    attempts: list[int] = []

    async def attempt(n: int) -> str:
        attempts.append(n)
        if n < 4:
            raise _err("500")
        return "ok"

    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=10.0, jitter=0.0)
    result = await call_with_retry(attempt, policy=policy, idempotent=True, sleep=clock.sleep, clock=clock)
    assert result == "ok" and attempts == [1, 2, 3, 4]
    assert clock.sleeps == [1.0, 2.0, 4.0]


async def test_loop_gives_up_after_max_attempts(clock: FakeClock) -> None:
    calls = 0

    async def attempt(n: int) -> None:
        nonlocal calls
        calls += 1
        raise _err("500")

    with pytest.raises(NylasServerError):
        await call_with_retry(
            attempt, policy=RetryPolicy(max_attempts=3), idempotent=True, sleep=clock.sleep, clock=clock
        )
    assert calls == 3 and len(clock.sleeps) == 2


async def test_loop_stops_at_the_deadline(clock: FakeClock) -> None:
    async def attempt(n: int) -> None:
        raise _err("500")

    policy = RetryPolicy(max_attempts=100, base_delay=1.0, max_delay=8.0, jitter=0.0, deadline=10.0)
    with pytest.raises(NylasServerError):
        await call_with_retry(attempt, policy=policy, idempotent=True, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == [1.0, 2.0, 4.0]  # a further 8 s would end after the 10 s deadline


async def test_a_retry_after_beyond_the_cap_is_returned_to_the_caller(
    recorder: Recorder, clock: FakeClock
) -> None:
    recorder.route = lambda r: reply(
        429, {"error": {"type": "rate_limit_error", "message": "slow"}}, headers={"Retry-After": "600"}
    )
    async with make_client(recorder, clock, retry=RetryPolicy(max_attempts=5, max_retry_after=30)) as c:
        with pytest.raises(NylasRateLimitedError) as info:
            await c.grants.get("g")
    assert info.value.retry_after == 600.0
    assert len(recorder.requests) == 1 and clock.sleeps == []


async def test_client_honours_retry_after(recorder: Recorder, clock: FakeClock) -> None:
    limited = reply(
        429, {"error": {"type": "rate_limit_error", "message": "slow"}}, headers={"Retry-After": "5"}
    )
    recorder.script += [limited, reply(200, {"data": GRANT})]
    async with make_client(recorder, clock) as c:
        grant = await c.grants.get("g")
    assert grant.id == "g"
    assert len(clock.sleeps) == 1 and 5.0 <= clock.sleeps[0] <= 5.5


async def test_connector_create_is_not_resent_after_an_ambiguous_failure(
    recorder: Recorder, clock: FakeClock
) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read", request=request)

    recorder.script += [timeout]
    body = ConnectorCreate(
        provider=Provider.MICROSOFT, settings=MicrosoftConnectorSettings(client_id="c", client_secret="s")
    )
    async with make_client(recorder, clock) as c:
        with pytest.raises(NylasTimeoutError):
            await c.connectors.create(body)
        assert len(recorder.requests) == 1
        recorder.script += [nylas_error(503, "internal_error", "x")]
        with pytest.raises(NylasServerError):
            await c.connectors.create(body)
        assert len(recorder.requests) == 2
        # 429 means Nylas did not act: resent.
        recorder.script += [
            reply(429, {"error": {"type": "rate_limit_error"}}),
            reply(201, {"data": {"provider": "microsoft"}}),
        ]
        connector = await c.connectors.create(body)
    assert connector.provider == "microsoft" and len(recorder.requests) == 4


async def test_custom_auth_is_resent_after_a_dropped_connection(recorder: Recorder, clock: FakeClock) -> None:
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)

    recorder.script += [drop, nylas_error(502, "x", "y"), reply(201, {"data": GRANT})]
    async with make_client(recorder, clock) as c:
        grant = await c.auth.custom(provider="google", email_address="a@x", credential_id="c", scopes=["s"])
    assert grant.id == "g" and len(recorder.requests) == 3
    assert [r.content for r in recorder.requests[1:]] == [recorder.requests[0].content] * 2


async def test_non_retryable_errors_are_not_retried(recorder: Recorder, clock: FakeClock) -> None:
    recorder.route = lambda r: nylas_error(404, "not_found_error", "nope")
    async with make_client(recorder, clock) as c:
        with pytest.raises(Exception, match="nope"):
            await c.grants.get("g")
    assert len(recorder.requests) == 1 and clock.sleeps == []
