"""Drift: one loop per Nylas application compares Nylas's grants with the Ready grant objects.

Owns: the jittered loop
started when the client pool first sees an application, paging ``GET /v3/grants`` (list calls,
never one GET per object), and handing each finding (``missing`` / ``invalid``) to the grant,
which the loop wakes through the scheduler: the grant reconcile reports ``Degraded`` and repairs
it (re-runs custom auth). Does not own: which grants are Ready (read from the watch-fed claims
index through ``known_of``) or the repair itself (``grant.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from nylas_operator import nylas
from nylas_operator.controllers.clients import AppKey
from nylas_operator.controllers.scheduler import Scheduler
from nylas_operator.kube import GRANTS
from nylas_operator.settings import DriftSettings

log = logging.getLogger("nylas_operator.drift")

MISSING = "missing"
INVALID = "invalid"


@dataclass(frozen=True)
class Known:
    namespace: str
    name: str
    email: str
    grant_id: str


def find_drift(known: Mapping[str, Known], grants: list[nylas.Grant]) -> dict[str, str]:
    """Pure: uid → finding for every known Ready grant that is gone or invalid in Nylas."""
    by_id = {g.id: g for g in grants}
    findings: dict[str, str] = {}
    for uid, item in known.items():
        grant = by_id.get(item.grant_id)
        if grant is None:
            findings[uid] = MISSING
        elif grant.grant_status == nylas.GrantStatus.INVALID:
            findings[uid] = INVALID
    return findings


class DriftRegistry:
    def __init__(
        self,
        settings: DriftSettings,
        scheduler: Scheduler,
        client_of: Callable[[AppKey], nylas.NylasClient | None],
        known_of: Callable[[AppKey], Mapping[str, Known]],
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._scheduler = scheduler
        self._client_of = client_of
        self._rng = rng
        self._known_of = known_of
        self._findings: dict[str, str] = {}
        self._tasks: dict[AppKey, asyncio.Task[None]] = {}

    # -- findings ------------------------------------------------------------------------------
    def forget(self, uid: str) -> None:
        self._findings.pop(uid, None)

    def take_finding(self, uid: str) -> str | None:
        return self._findings.pop(uid, None)

    # -- the loops -----------------------------------------------------------------------------
    def start(self, app: AppKey) -> None:
        if app not in self._tasks:
            self._tasks[app] = asyncio.get_running_loop().create_task(self._loop(app), name=f"drift {app}")

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def _interval(self) -> float:
        base = self._settings.interval.total_seconds()
        return base * (1 - self._settings.jitter + 2 * self._settings.jitter * self._rng())

    async def _loop(self, app: AppKey) -> None:
        while True:
            await asyncio.sleep(self._interval())
            try:
                await self.check(app)
            except nylas.NylasError as exc:
                log.warning("drift check of application %s failed: %s", app, exc)
            except Exception:  # a bug must not end the loop for good
                log.exception("drift check of application %s crashed", app)

    async def check(self, app: AppKey) -> dict[str, str]:
        known = dict(self._known_of(app))
        client = self._client_of(app)
        if not known or client is None:
            return {}
        grants = await client.grants.list_all()
        findings = find_drift(known, grants)
        for uid, finding in findings.items():
            item = known[uid]
            log.info("drift: grant of %s/%s is %s in Nylas", item.namespace, item.name, finding)
            self._findings[uid] = finding
            self._scheduler.now((GRANTS, item.namespace, item.name), f"drift-{finding}")
        return findings
