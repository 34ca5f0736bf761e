"""``NylasClient``: one Nylas application, one ``httpx.AsyncClient``, one shared request budget.

Owns: wiring (base URL, pool, timeouts, limiter, retry policy, observer) and the per-area resources
``applications``, ``connectors``, ``credentials``, ``grants``, ``auth``. Does not own: any endpoint
(resource modules).

Create one client per Nylas application and keep it for the process lifetime; close it with
``aclose()`` or ``async with``. Clients for the same application share one rate limiter through the
registry, so several of them cannot exceed the budget together.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from types import TracebackType

import httpx
from pydantic import SecretStr

from nylas_operator.nylas.applications import Applications
from nylas_operator.nylas.auth import Auth
from nylas_operator.nylas.connectors import Connectors
from nylas_operator.nylas.credentials import Credentials
from nylas_operator.nylas.errors import WriteFenced
from nylas_operator.nylas.grants import Grants
from nylas_operator.nylas.ratelimit import LimiterRegistry, RateLimiter, default_registry, limiter_key
from nylas_operator.nylas.settings import NylasSettings, resolve_base_url
from nylas_operator.nylas.transport import RequestObserver, Transport


class NylasClient:
    def __init__(
        self,
        api_key: SecretStr | str,
        *,
        region: str | None = "us",
        api_url: str | None = None,
        application_id: str | None = None,
        settings: NylasSettings | None = None,
        observer: RequestObserver | None = None,
        limiter: RateLimiter | None = None,
        registry: LimiterRegistry | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        """``limiter`` overrides the shared one from ``registry`` (default: the process-wide registry);
        ``http_transport`` is the test seam (``httpx.MockTransport``)."""
        key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not key.get_secret_value():
            raise ValueError("the Nylas API key is empty")
        self.settings = settings or NylasSettings()
        self.base_url = resolve_base_url(region, api_url)
        self.region = None if api_url else (region or "us").lower()
        self.application_id = application_id
        if limiter is None:
            limiter = (registry if registry is not None else default_registry()).get(
                limiter_key(self.base_url, application_id=application_id, api_key=key.get_secret_value()),
                rate=self.settings.rate,
                burst=self.settings.burst,
            )
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=self.settings.timeout,
            limits=httpx.Limits(
                max_connections=self.settings.max_connections,
                max_keepalive_connections=self.settings.max_connections,
            ),
            headers={"User-Agent": self.settings.user_agent},
            transport=http_transport,
            follow_redirects=False,
            event_hooks={"request": [self._fence]} if self.settings.write_gate is not None else None,
        )
        self._transport = Transport(
            http=self._http,
            base_url=self.base_url,
            api_key=key,
            limiter=limiter,
            policy=self.settings.retry,
            observer=observer,
            sleep=sleep,
            clock=clock,
            rng=rng,
        )
        self.applications = Applications(self._transport)
        self.connectors = Connectors(self._transport)
        self.credentials = Credentials(self._transport)
        self.grants = Grants(self._transport)
        self.auth = Auth(self._transport, application_id=application_id)

    async def _fence(self, request: httpx.Request) -> None:
        """The last check before a write goes on the wire (after rate limiting and retries' sleeps)."""
        gate = self.settings.write_gate
        if gate is not None and request.method not in ("GET", "HEAD") and not gate():
            raise WriteFenced(f"{request.method} refused: this replica is not the leader")

    @property
    def limiter(self) -> RateLimiter:
        return self._transport.limiter

    def __repr__(self) -> str:
        return f"NylasClient(base_url={self.base_url!r}, application_id={self.application_id!r})"

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> NylasClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
