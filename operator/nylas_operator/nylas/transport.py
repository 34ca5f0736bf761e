"""The one place where a Nylas request is made: rate limit, send, classify, observe, log, retry.

Owns: building the URL from a path template, the auth header, mapping httpx failures and HTTP error
answers to ``errors.py`` types, parsing the JSON envelope into models, the metrics hook and DEBUG logs;
and the limits every call has: the host must be allowed (``hosts.py``; nothing is sent otherwise),
one attempt has a hard deadline from sending to the last byte, and the answer body is read up to a cap.
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
from nylas_operator.nylas.hosts import NylasHostNotAllowed, api_host_refusal, parse_allowed_hosts
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
        attempt_deadline: float | None = None,
        max_response_bytes: int | None = None,
        allowed_hosts: Sequence[str] | None = None,
    ) -> None:
        """``attempt_deadline`` (seconds) and ``max_response_bytes``: None means no limit;
        ``allowed_hosts``: None means any host (see ``NylasSettings`` for the operator's values)."""
        self._http = http
        self.base_url = base_url
        self._api_key = api_key
        self.limiter = limiter
        self.policy = policy
        self._observer = observer
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._attempt_deadline = attempt_deadline
        self._max_bytes = max_response_bytes
        allowed = parse_allowed_hosts(allowed_hosts) if allowed_hosts is not None else None
        self._host_refusal = api_host_refusal(base_url, allowed)

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
        if self._host_refusal is not None:
            raise NylasHostNotAllowed(method=method, path=template, message=self._host_refusal)
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
            async with asyncio.timeout(self._attempt_deadline):
                response, content = await self._exchange(method, path, query, json_body, headers)
        except (httpx.TransportError, TimeoutError) as exc:
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
                body=content or b"",
                method=method,
                path=path,
                base_url=self.base_url,
                request_id_header=request_id,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
                secrets=secrets,
            )
        if content is None:
            raise errors.NylasResponseError(
                method=method,
                path=path,
                status=response.status_code,
                detail=f"the answer is larger than {self._max_bytes} bytes",
            )
        if not content.strip():
            return None
        try:
            return json.loads(content)
        except (ValueError, UnicodeDecodeError):
            raise errors.NylasResponseError(
                method=method, path=path, status=response.status_code, detail="not JSON"
            ) from None

    async def _exchange(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        json_body: dict[str, Any] | None,
        headers: Mapping[str, str],
    ) -> tuple[httpx.Response, bytes | None]:
        """The answer and its body, or None for a body over the cap (not read further: an error
        answer's body is cut at the cap instead, it is only parsed for a message)."""
        request = self._http.build_request(method, path, params=query, json=json_body, headers=headers)
        response = await self._http.send(request, stream=True)
        try:
            cap = self._max_bytes
            declared = response.headers.get("content-length", "")
            if cap is not None and declared.isdigit() and int(declared) > cap and response.status_code < 400:
                return response, None
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if cap is not None and size > cap:
                    if response.status_code < 400:
                        return response, None
                    chunks.append(chunk[: len(chunk) - (size - cap)])
                    break
                chunks.append(chunk)
            return response, b"".join(chunks)
        finally:
            await response.aclose()

    def _transport_error(
        self, exc: httpx.TransportError | TimeoutError, method: str, path: str
    ) -> errors.NylasTransportError:
        cls: type[errors.NylasTransportError]
        detail = type(exc).__name__
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            cls = errors.NylasConnectError
        elif isinstance(exc, httpx.TimeoutException):
            cls = errors.NylasTimeoutError
        elif isinstance(exc, TimeoutError):  # our attempt deadline, not one of httpx's timeouts
            cls = errors.NylasTimeoutError
            detail = f"no complete answer within {self._attempt_deadline:g}s"
        else:
            cls = errors.NylasConnectionDropped
        return cls(method=method, path=path, base_url=self.base_url, detail=detail)

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
