"""The one place where a Nylas request is made: rate limit, send, classify, observe, log, retry.

Owns: building the URL from a path template, the auth header, mapping httpx failures and HTTP error
answers to ``errors.py`` types, parsing the JSON envelope into models, the metrics hook and DEBUG logs.
Does not own: endpoint knowledge (the resource modules) or the backoff arithmetic (``retry.py``).

Logs and observer calls carry the method, the path *template* (``/v3/grants/{grant_id}``), the status,
the attempt number and the request id: never headers, bodies, query strings or ids of objects.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr

from nylas_operator.nylas import errors
from nylas_operator.nylas.models import to_body
from nylas_operator.nylas.ratelimit import RateLimiter
from nylas_operator.nylas.retry import RetryPolicy, call_with_retry, parse_retry_after

log = logging.getLogger("nylas_operator.nylas")

QueryValue = str | int | float | bool | None
Query = Mapping[str, QueryValue]


class RequestObserver(Protocol):
    """Called once per HTTP attempt: ``(endpoint_template, method, status_or_error, seconds)``.

    ``status_or_error`` is the HTTP status, or the transport failure kind: ``connect``, ``timeout``,
    ``dropped``. Meant for metrics; keep it fast, it runs on the event loop.
    """

    def __call__(self, endpoint: str, method: str, status_or_error: int | str, seconds: float, /) -> None: ...


def expand(template: str, path_params: Mapping[str, str] | None) -> str:
    """``/v3/grants/{grant_id}`` + ``{"grant_id": "a/b"}`` → ``/v3/grants/a%2Fb``."""
    if not path_params:
        return template
    return template.format_map({k: quote(str(v), safe="") for k, v in path_params.items()})


class Transport:
    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        api_key: SecretStr,
        limiter: RateLimiter,
        policy: RetryPolicy,
        observer: RequestObserver | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._http = http
        self.base_url = base_url
        self._api_key = api_key
        self.limiter = limiter
        self.policy = policy
        self._observer = observer
        self._sleep = sleep
        self._clock = clock
        self._rng = rng

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r}, limiter={self.limiter!r})"

    async def request(
        self,
        method: str,
        template: str,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Query | None = None,
        body: BaseModel | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send with retries; returns the decoded JSON body (None when empty) or raises a NylasError."""
        path = expand(template, path_params)
        json_body, secrets = to_body(body) if body is not None else (None, [])
        secrets.append(self._api_key.get_secret_value())
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        if idempotent is None:
            idempotent = method.upper() != "POST"

        async def attempt(number: int) -> Any:
            return await self._attempt(method, template, path, query, json_body, secrets, number)

        return await call_with_retry(
            attempt,
            policy=self.policy,
            idempotent=idempotent,
            describe=f"{method} {template}",
            sleep=self._sleep,
            clock=self._clock,
            rng=self._rng,
        )

    async def _attempt(
        self,
        method: str,
        template: str,
        path: str,
        query: Mapping[str, str],
        json_body: dict[str, Any] | None,
        secrets: Sequence[str],
        number: int,
    ) -> Any:
        await self.limiter.acquire()
        headers = {
            "Authorization": "Bearer " + self._api_key.get_secret_value(),
            "Accept": "application/json",
        }
        started = self._clock()
        try:
            response = await self._http.request(method, path, params=query, json=json_body, headers=headers)
        except httpx.TransportError as exc:
            error = self._transport_error(exc, method, path)
            self._observe(template, method, error.kind, self._clock() - started)
            log.debug("nylas %s %s -> %s (attempt %d)", method, template, error.kind, number)
            # The httpx error text names only the failure and the URL path; no header or body.
            raise error from exc
        elapsed = self._clock() - started
        request_id = response.headers.get("x-request-id")
        self._observe(template, method, response.status_code, elapsed)
        log.debug(
            "nylas %s %s -> %d (attempt %d, request_id=%s, %.3fs)",
            method,
            template,
            response.status_code,
            number,
            request_id,
            elapsed,
        )
        if response.status_code >= 400:
            raise errors.status_error(
                status=response.status_code,
                body=response.content,
                method=method,
                path=path,
                base_url=self.base_url,
                request_id_header=request_id,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
                secrets=secrets,
            )
        if not response.content.strip():
            return None
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            raise errors.NylasResponseError(
                method=method, path=path, status=response.status_code, detail="not JSON"
            ) from None

    def _transport_error(
        self, exc: httpx.TransportError, method: str, path: str
    ) -> errors.NylasTransportError:
        cls: type[errors.NylasTransportError]
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            cls = errors.NylasConnectError
        elif isinstance(exc, httpx.TimeoutException):
            cls = errors.NylasTimeoutError
        else:
            cls = errors.NylasConnectionDropped
        return cls(method=method, path=path, base_url=self.base_url, detail=type(exc).__name__)

    def _observe(self, template: str, method: str, outcome: int | str, seconds: float) -> None:
        if self._observer is None:
            return
        try:
            self._observer(template, method, outcome, seconds)
        except Exception:  # a metrics bug must not fail a Nylas call
            log.warning("the Nylas request observer failed", exc_info=True)


def _query_value(value: QueryValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
