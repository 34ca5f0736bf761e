"""HTTP answers and transport failures become the right typed, stable, retry-classified errors."""

from __future__ import annotations

import httpx
import pytest
from nylas_mock import FakeClock, Recorder, make_client, nylas_error, reply

from nylas_operator.nylas import (
    NylasBadRequestError,
    NylasConflictError,
    NylasConnectError,
    NylasConnectionDropped,
    NylasError,
    NylasForbiddenError,
    NylasNotFoundError,
    NylasRateLimitedError,
    NylasServerError,
    NylasStatusError,
    NylasTimeoutError,
    NylasUnauthorizedError,
    ProviderError,
    RetryPolicy,
)
from nylas_operator.nylas.errors import redact, status_error

ONE_SHOT = RetryPolicy(max_attempts=1)


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, NylasBadRequestError, False),
        (401, NylasUnauthorizedError, False),
        (403, NylasForbiddenError, False),
        (404, NylasNotFoundError, False),
        (409, NylasConflictError, False),
        (422, NylasStatusError, False),
        (423, NylasStatusError, False),
        (429, NylasRateLimitedError, True),
        (500, NylasServerError, True),
        (502, NylasServerError, True),
        (503, NylasServerError, True),
        (504, NylasServerError, True),
    ],
)
async def test_status_classes(status: int, cls: type[NylasStatusError], retryable: bool) -> None:
    recorder = Recorder(route=lambda r: nylas_error(status, "some_error", "went wrong"))
    async with make_client(recorder, FakeClock(), retry=ONE_SHOT) as c:
        with pytest.raises(NylasStatusError) as info:
            await c.grants.get("g-1")
    err = info.value
    assert type(err) is cls
    assert err.retryable is retryable
    assert (err.status, err.error_type, err.message, err.request_id) == (
        status,
        "some_error",
        "went wrong",
        "req-err-1",
    )
    assert (err.method, err.path) == ("GET", "/v3/grants/g-1")
    assert "req-err-1" not in str(err)


def test_provider_error_and_retry_after_are_carried() -> None:
    body = (
        b'{"request_id":"abc","error":{"type":"rate_limit_error","message":"slow down",'
        b'"provider_error":{"code":429,"message":"throttled by Graph"}}}'
    )
    err = status_error(
        status=429,
        body=body,
        method="POST",
        path="/v3/connect/custom",
        base_url="https://x",
        request_id_header="hdr",
        retry_after=7.0,
    )
    assert isinstance(err, NylasRateLimitedError)
    assert err.provider_error == ProviderError("429", "throttled by Graph")
    assert err.provider_error_code == "429"
    assert err.retry_after == 7.0
    assert err.request_id == "abc"  # the body's id wins over the header's
    expected = "POST /v3/connect/custom: HTTP 429 rate_limit_error: slow down"
    assert str(err) == expected + " (provider error 429: throttled by Graph)"


@pytest.mark.parametrize(
    "body", [b"<html><body>502 Bad Gateway</body></html>", b"", b"[1,2]", b'{"error": 5}']
)
def test_non_json_error_bodies_are_tolerated(body: bytes) -> None:
    err = status_error(
        status=502,
        body=body,
        method="GET",
        path="/v3/grants",
        base_url="https://x",
        request_id_header="hdr-1",
        retry_after=None,
    )
    assert isinstance(err, NylasServerError) and err.retryable
    assert err.error_type is None and err.message
    assert err.request_id == "hdr-1"


def test_oauth_style_error_body() -> None:
    body = b'{"error":"invalid_grant","error_description":"bad code"}'
    err = status_error(
        status=400,
        body=body,
        method="POST",
        path="/p",
        base_url="u",
        request_id_header=None,
        retry_after=None,
    )
    assert (err.error_type, err.message) == ("invalid_grant", "bad code")


async def test_unauthorized_names_the_region_url() -> None:
    recorder = Recorder(route=lambda r: nylas_error(401, "unauthorized", "Unauthorized"))
    async with make_client(recorder, FakeClock(), region="eu") as c:
        with pytest.raises(NylasUnauthorizedError) as info:
            await c.connectors.list()
    message = str(info.value)
    assert "https://api.eu.nylas.com" in message
    assert "wrong region or API key" in message
    assert len(recorder.requests) == 1  # a 401 is not retried


async def test_messages_are_stable_across_request_ids() -> None:
    answers = iter(["id-1", "id-2"])

    def route(request: httpx.Request) -> httpx.Response:
        rid = next(answers)
        return reply(
            400,
            {"request_id": rid, "error": {"type": "invalid_request_error", "message": "bad"}},
            headers={"X-Request-Id": rid},
        )

    async with make_client(Recorder(route=route), FakeClock()) as c:
        texts = []
        for _ in range(2):
            with pytest.raises(NylasBadRequestError) as info:
                await c.grants.get("g")
            texts.append(str(info.value))
    assert texts[0] == texts[1]


@pytest.mark.parametrize(
    ("exc", "cls", "sent"),
    [
        (httpx.ConnectError("refused"), NylasConnectError, False),
        (httpx.ConnectTimeout("slow"), NylasConnectError, False),
        (httpx.PoolTimeout("pool"), NylasConnectError, False),
        (httpx.ReadTimeout("read"), NylasTimeoutError, True),
        (httpx.WriteTimeout("write"), NylasTimeoutError, True),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            NylasConnectionDropped,
            True,
        ),
        (httpx.ReadError("reset"), NylasConnectionDropped, True),
    ],
)
async def test_transport_errors(exc: httpx.TransportError, cls: type[NylasError], sent: bool) -> None:
    def route(request: httpx.Request) -> httpx.Response:
        raise exc

    async with make_client(
        Recorder(route=route), FakeClock(), retry=ONE_SHOT, api_url="http://127.0.0.1:1"
    ) as c:
        with pytest.raises(cls) as info:
            await c.grants.get("g")
    err = info.value
    assert err.retryable
    assert err.request_sent is sent  # type: ignore[attr-defined]
    assert "127.0.0.1:1" in str(err)
    assert isinstance(err.__cause__, httpx.TransportError)


def test_redact_longest_first_and_ignores_empty() -> None:
    assert redact("key abcdef and abc", ["abc", "abcdef", ""]) == "key [REDACTED] and [REDACTED]"
