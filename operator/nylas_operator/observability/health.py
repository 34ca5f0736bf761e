"""Liveness and readiness: ``/healthz``, ``/readyz`` (``make_health_app``) and ``/metrics``.

Owns: ``HealthState`` (startup flag, last watch activity per resource, the canary loop and the checks)
and the small aiohttp apps (``make_standby_app``: a replica waiting for the leader Lease).
Does not own: what the canary writes or which watch handler reports it; the runner provides
``canary(token)`` and calls ``note_event(resource, canary_token=...)`` from a kopf ``on.event``
handler on the canary object.

What liveness detects (HTTP 500, JSON naming the resource):
- startup (kopf's startup handlers) not finished within ``startup_timeout``;
- a resource listed in ``silence_thresholds`` without any reported watch event for longer than its
  threshold (only for resources that are never idle: an idle kind produces no events);
- the canary: every ``canary_interval`` a fresh token is written (``canary(token)``); if a written
  token is not seen back through the watch within ``canary_deadline``, the watch stream of the
  canary's resource is dead or stalled (the kopf watch loop hung, the stream silently died, the
  handler machinery is wedged). Because the token travels apiserver → watch → kopf → handler, this
  also proves the event loop and kopf's dispatch still work.
What it does not detect: a dead stream of a *different* resource while the canary's stream works
(kopf runs one watch per resource kind, and per namespace with ``--namespace``); kopf 1.44+ restarts
silent streams itself (bookmarks, ``inactivity_timeout``), which covers most of that gap; slow or
failing reconciles of individual objects (metrics show those); Nylas outages (a restart does not
help, so they must not fail liveness).
Canary *write* failures (apiserver unreachable, RBAC) make readiness fail after
``write_failures_unready`` in a row, never liveness: restarting the pod does not fix the apiserver.
A write failure also voids the tokens still waiting to be seen (the outage may have cut the watch
before their events arrived).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger("nylas_operator.observability")

Canary = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Problem:
    check: str  # "startup" | "silence" | "canary" | "canary-write" | "stopping"
    resource: str | None
    detail: str


class HealthState:
    """Shared by the runner (startup, canary loop), watch handlers (``note_event``) and the apps."""

    def __init__(
        self,
        *,
        silence_thresholds: Mapping[str, float] | None = None,
        canary: Canary | None = None,
        canary_resource: str = "canary",
        canary_interval: float = 60.0,
        canary_deadline: float = 30.0,
        startup_timeout: float = 600.0,
        write_failures_unready: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if canary_interval <= 0 or canary_deadline <= 0 or startup_timeout <= 0:
            raise ValueError("intervals and deadlines must be positive")
        self._silence = dict(silence_thresholds or {})
        self._canary = canary
        self.canary_resource = canary_resource
        self._interval = canary_interval
        self._deadline = canary_deadline
        self._startup_timeout = startup_timeout
        self._failures_unready = write_failures_unready
        self._clock = clock
        self._created = clock()
        self._started_at: float | None = None
        self._started = asyncio.Event()
        self._stopping = False
        self._last_event: dict[str, float] = {}
        self._written: deque[tuple[str, float]] = deque(maxlen=16)  # unconfirmed canary tokens
        self._unconfirmed_since: float | None = None
        self._write_failures = 0
        self.role: str | None = None  # "leader" with leader election, reported by both endpoints

    # Inputs -------------------------------------------------------------------------------------

    def mark_started(self) -> None:
        """kopf's startup is done (call at the end of the last ``on.startup`` handler)."""
        if self._started_at is None:
            self._started_at = self._clock()
            self._started.set()

    def mark_stopping(self) -> None:
        """Shutdown began: readiness fails from now on; liveness is unaffected."""
        self._stopping = True

    def note_event(self, resource: str, *, canary_token: str | None = None) -> None:
        """Any watch event for ``resource``; pass the canary token seen on the canary object."""
        now = self._clock()
        self._last_event[resource] = now
        if canary_token is not None:
            self._confirm(canary_token)

    def _confirm(self, token: str) -> None:
        tokens = [t for t, _ in self._written]
        if token not in tokens:
            return  # an old token (e.g. from before a restart) proves nothing about this process
        # Watch events arrive in order: seeing this token confirms every earlier write as well.
        for _ in range(tokens.index(token) + 1):
            self._written.popleft()
        self._unconfirmed_since = self._written[0][1] if self._written else None

    # The canary loop ------------------------------------------------------------------------------

    async def run_canary(self) -> None:
        """Write a token every ``canary_interval`` once started; runs until cancelled."""
        if self._canary is None:
            return
        await self._started.wait()
        while True:
            await self.canary_once()
            await asyncio.sleep(self._interval)

    async def canary_once(self) -> None:
        """One canary write (public for tests and for a runner that drives its own timing)."""
        if self._canary is None:
            return
        token = f"{int(time.time())}-{secrets.token_hex(4)}"
        written_at = self._clock()
        # Registered before the write: the watch may deliver the event before the PATCH returns.
        self._written.append((token, written_at))
        if self._unconfirmed_since is None:
            self._unconfirmed_since = written_at
        try:
            await asyncio.wait_for(self._canary(token), timeout=self._deadline)
        except asyncio.CancelledError:
            self._forget(token)
            raise
        except Exception as exc:
            # The apiserver is unreachable (or refuses): a token written just before the outage
            # may never come back through a watch the same outage cut, so no pending token proves
            # a dead watch any more (liveness must stay green through an apiserver outage). The
            # first write after it starts the check afresh.
            self._written.clear()
            self._unconfirmed_since = None
            self._write_failures += 1
            log.warning(
                "Health canary write failed (%d in a row): %s", self._write_failures, type(exc).__name__
            )
            return
        self._write_failures = 0

    def _forget(self, token: str) -> None:
        # A failed write proves nothing either way; it must not count as an unseen write.
        self._written = deque(((t, w) for t, w in self._written if t != token), maxlen=self._written.maxlen)
        self._unconfirmed_since = self._written[0][1] if self._written else None

    # Checks ---------------------------------------------------------------------------------------

    def liveness(self) -> list[Problem]:
        now = self._clock()
        problems: list[Problem] = []
        if self._started_at is None:
            waited = now - self._created
            if waited > self._startup_timeout:
                problems.append(Problem("startup", None, f"startup not finished after {waited:.0f}s"))
            return problems
        for resource, threshold in sorted(self._silence.items()):
            silent = now - self._last_event.get(resource, self._started_at)
            if silent > threshold:
                problems.append(
                    Problem(
                        "silence", resource, f"no watch event for {silent:.0f}s (threshold {threshold:g}s)"
                    )
                )
        if self._unconfirmed_since is not None:
            pending = now - self._unconfirmed_since
            if pending > self._deadline:
                problems.append(
                    Problem(
                        "canary",
                        self.canary_resource,
                        f"canary write not seen through the watch for {pending:.0f}s "
                        f"(deadline {self._deadline:g}s)",
                    )
                )
        return problems

    def readiness(self) -> list[Problem]:
        if self._started_at is None:
            return [Problem("startup", None, "operator not started yet")]
        problems = self.liveness()
        if self._stopping:
            problems.append(Problem("stopping", None, "operator is shutting down"))
        if self._write_failures >= self._failures_unready:
            problems.append(
                Problem(
                    "canary-write",
                    self.canary_resource,
                    f"{self._write_failures} canary writes failed in a row",
                )
            )
        return problems


def _report(problems: list[Problem], **extra: str | None) -> web.Response:
    body: dict[str, object] = {"status": "fail" if problems else "ok"}
    body["problems"] = [asdict(p) for p in problems]
    body.update({key: value for key, value in extra.items() if value is not None})
    return web.Response(
        text=json.dumps(body),
        status=500 if problems else 200,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def make_health_app(health: HealthState) -> web.Application:
    """``GET /healthz`` (liveness) and ``GET /readyz`` (readiness): 200 or 500 with a JSON report."""

    async def healthz(_: web.Request) -> web.Response:
        return _report(health.liveness(), role=health.role)

    async def readyz(_: web.Request) -> web.Response:
        return _report(health.readiness(), role=health.role)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


def make_standby_app(leader: Callable[[], str | None]) -> web.Application:
    """The endpoints of a replica waiting for the leader Lease: both answer 200 with
    ``"role": "standby"`` and the current leader. Ready, like controller-runtime's standby (its
    health server and checks run before election) so that a Deployment with two replicas rolls out
    and counts as available; it serves no traffic anyway. Live: the waiting loop runs."""

    async def probe(_: web.Request) -> web.Response:
        return _report([], role="standby", leader=leader())

    app = web.Application()
    app.router.add_get("/healthz", probe)
    app.router.add_get("/readyz", probe)
    return app


def make_metrics_app(registry: CollectorRegistry) -> web.Application:
    """``GET /metrics`` in the Prometheus text format, from ``registry`` only."""

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return app
