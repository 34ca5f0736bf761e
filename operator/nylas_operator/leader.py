"""Leader election through a ``coordination.k8s.io/v1`` Lease, the way client-go's leaderelection does it.

Owns: acquiring the Lease (``acquire``), renewing it (``hold``, which returns when leadership is
lost), releasing it on a clean stop, and the write fence (``may_write``). Does not own: what runs
while leading or what happens on loss (``runner.operate`` starts kopf only after ``acquire`` and
exits the process when ``hold`` returns, as controller-runtime does).

Rules (client-go ``tryAcquireOrRenew``):
- A Lease held by another identity is taken only when its record has not changed for the record's
  ``leaseDurationSeconds``, measured on *our* clock from when we first saw that record (no trust in
  other machines' clocks). An empty holder (released) is free at once.
- Writes use the Lease's resourceVersion: of two candidates at once, one wins, the other gets 409.
- The leader renews every ``retry_period``; when no renewal succeeded for ``renew_deadline`` it has
  lost, even if no one else has the Lease yet.

Fencing: ``may_write()`` is true only while the last successful renewal *started* less than
``renew_deadline`` ago. A standby can take the Lease no earlier than ``lease_duration`` after it saw
that renewal, so a write started through the fence lands before a new leader can act, unless it
takes longer than ``lease_duration - renew_deadline`` (5 s by default) on the wire. A frozen leader
(SIGSTOP, a long GC pause, a suspended VM) that wakes up fails the fence before it can renew.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

log = logging.getLogger("nylas_operator.leader")


@dataclass(frozen=True)
class LeaseTimings:
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        # client-go's checks: a leader must give up before its Lease can be taken, and retry
        # more than once within the deadline (JitterFactor 1.2).
        if not 0 < self.retry_period * 1.2 < self.renew_deadline < self.lease_duration:
            raise ValueError(
                "leader election needs 1.2 x retry period < renew deadline < lease duration "
                f"(got {self.retry_period:g}s, {self.renew_deadline:g}s, {self.lease_duration:g}s)"
            )


def micro_time(moment: datetime) -> str:
    """Kubernetes MicroTime (RFC 3339 with microseconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        namespace: str,
        name: str,
        identity: str,
        timings: LeaseTimings,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._http = http
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timings = timings
        self._clock = clock
        self._wall = wall
        self._path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._renewed_at: float | None = None  # start of the last successful acquire/renew
        self.holder: str | None = None  # the holder last seen (for the standby's /readyz)
        self.acquired = asyncio.Event()

    # -- the fence ---------------------------------------------------------------------------------
    def may_write(self) -> bool:
        """True while leading and the last renewal started less than ``renew_deadline`` ago."""
        renewed = self._renewed_at
        return renewed is not None and self._clock() - renewed < self.timings.renew_deadline

    @property
    def leading(self) -> bool:
        return self._renewed_at is not None

    # -- the loops ---------------------------------------------------------------------------------
    async def acquire(self) -> None:
        """Return once this identity holds the Lease (retrying every ``retry_period``)."""
        announced: str | None = None
        while True:
            started = self._clock()
            if await self._attempt():
                self._renewed_at = started
                self.acquired.set()
                log.info("acquired the lease %s/%s as %s", self.namespace, self.name, self.identity)
                return
            if self.holder != announced:
                announced = self.holder
                log.info("standby: the lease %s/%s is held by %s", self.namespace, self.name, self.holder)
            await asyncio.sleep(self.timings.retry_period)

    async def hold(self) -> None:
        """Renew every ``retry_period``; return when leadership is lost."""
        while True:
            await asyncio.sleep(self.timings.retry_period)
            if not self.may_write():  # e.g. the process was frozen past the deadline
                break
            started = self._clock()
            remaining = max(0.05, (self._renewed_at or started) + self.timings.renew_deadline - started)
            try:
                renewed = await asyncio.wait_for(self._attempt(), timeout=remaining)
            except TimeoutError:
                renewed = False
            if renewed:
                self._renewed_at = started
            elif self.holder not in (None, "", self.identity):
                break  # someone else holds it: lost at once
        self._renewed_at = None
        log.error(
            "lost the lease %s/%s (holder now %s): no more writes",
            self.namespace,
            self.name,
            self.holder or "nobody",
        )

    async def release(self) -> None:
        """On a clean stop: give the Lease up so a standby takes over without waiting it out."""
        if self._renewed_at is None:
            return
        self._renewed_at = None
        try:
            response = await self._http.get(self._path)
            if response.status_code != 200:
                return
            lease = response.json()
            if (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            now = micro_time(self._wall())
            lease["spec"].update(
                {"holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": now, "acquireTime": now}
            )
            await self._http.put(self._path, json=lease)
            log.info("released the lease %s/%s", self.namespace, self.name)
        except httpx.HTTPError as exc:  # the standby takes it when the lease runs out
            log.warning("could not release the lease: %s", type(exc).__name__)

    # -- one try -----------------------------------------------------------------------------------
    async def _attempt(self) -> bool:
        try:
            return await self._try_acquire_or_renew()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("lease %s/%s: %s", self.namespace, self.name, type(exc).__name__)
            return False

    async def _try_acquire_or_renew(self) -> bool:
        now = micro_time(self._wall())
        seconds = max(1, round(self.timings.lease_duration))
        response = await self._http.get(self._path)
        if response.status_code == 404:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {
                    "holderIdentity": self.identity,
                    "leaseDurationSeconds": seconds,
                    "acquireTime": now,
                    "renewTime": now,
                    "leaseTransitions": 0,
                },
            }
            created = await self._http.post(self._path.rsplit("/", 1)[0], json=body)
            if created.status_code >= 400 and created.status_code != 409:
                log.warning("lease create answered HTTP %d", created.status_code)
            self.holder = self.identity if created.status_code < 300 else self.holder
            return created.status_code < 300
        if response.status_code != 200:
            log.warning("lease read answered HTTP %d", response.status_code)
            return False
        lease = response.json()
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or None
        record = (holder, spec.get("renewTime"), spec.get("acquireTime"), spec.get("leaseDurationSeconds"))
        if record != self._observed:
            self._observed, self._observed_at = record, self._clock()
        self.holder = holder
        duration = float(spec.get("leaseDurationSeconds") or self.timings.lease_duration)
        if holder and holder != self.identity and self._clock() < self._observed_at + duration:
            return False
        if holder != self.identity:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec.update({"holderIdentity": self.identity, "leaseDurationSeconds": seconds, "renewTime": now})
        lease["spec"] = spec
        updated = await self._http.put(self._path, json=lease)  # carries resourceVersion: 409 if raced
        if updated.status_code != 200:
            if updated.status_code != 409:
                log.warning("lease update answered HTTP %d", updated.status_code)
            return False
        self.holder = self.identity
        return True


def lease_timings(
    lease_duration: timedelta, renew_deadline: timedelta, retry_period: timedelta
) -> LeaseTimings:
    return LeaseTimings(
        lease_duration=lease_duration.total_seconds(),
        renew_deadline=renew_deadline.total_seconds(),
        retry_period=retry_period.total_seconds(),
    )
