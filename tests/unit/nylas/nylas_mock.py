"""Helpers for the Nylas client's unit tests: a scripted ``httpx.MockTransport`` and a fake clock.

(Uniquely named so that it never clashes with another test directory's helpers.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from nylas_operator.nylas import LimiterRegistry, NylasClient, NylasSettings, RetryPolicy

API_KEY = "nyk_v0_SUPERSECRETAPIKEY_0123456789"
APP_ID = "app-0001"

Responder = Callable[[httpx.Request], httpx.Response]


def reply(status: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    if isinstance(body, bytes | str):
        return httpx.Response(status, content=body, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def nylas_error(status: int, type_: str, message: str, **extra: Any) -> httpx.Response:
    error: dict[str, Any] = {"type": type_, "message": message, **extra}
    return reply(status, {"request_id": "req-err-1", "error": error}, headers={"X-Request-Id": "req-err-1"})


@dataclass
class FakeClock:
    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Recorder:
    """Records each request and answers from ``script`` (a list, consumed in order) or ``route``."""

    script: list[Responder | httpx.Response] = field(default_factory=list)
    route: Responder | None = None
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            nxt = self.script.pop(0)
            return nxt(request) if callable(nxt) else nxt
        if self.route is not None:
            return self.route(request)
        raise AssertionError(f"unexpected request {request.method} {request.url}")

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def make_client(
    recorder: Recorder,
    clock: FakeClock,
    *,
    retry: RetryPolicy | None = None,
    observer: Any = None,
    **kwargs: Any,
) -> NylasClient:
    settings = NylasSettings(retry=retry or RetryPolicy(max_attempts=4, base_delay=0.1, max_delay=1.0))
    return NylasClient(
        API_KEY,
        application_id=APP_ID,
        settings=settings,
        registry=LimiterRegistry(),
        http_transport=httpx.MockTransport(recorder),
        sleep=clock.sleep,
        clock=clock,
        rng=lambda: 0.5,
        observer=observer,
        **kwargs,
    )
