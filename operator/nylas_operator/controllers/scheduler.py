"""One scheduler: every "look at this object again" goes through one in-memory delayed queue.

Owns: the delayed queue (settle ends, retry backoff, consent expiry, safety rechecks, drift
findings, parent→child and child→parent wakes, claim releases, Secret rotation), the workers that
run queued reconciles (``flow.run_queued``: a fresh read, the reconcile, one status PATCH; no
annotation, no kopf cycle, no diffbase write; every run of a grant comes through here), one
reconcile at a time per object (kopf's handlers take the same per-object turn), per-object
consecutive-failure counters, and which version of its parent each dependent last read (so a
parent's transition wakes only the dependents that decided on an older version).

Why not ``kopf.TemporaryError(delay=...)``: a delayed kopf handler is not invoked by any change
before its delay ends (kopf-notes §1), so a consent, a Secret or a spec fix would wait for it.
Why not an annotation bump (the earlier design): each wake cost a PATCH, a watch round trip and a
diffbase write, and showed up in ``status.lastHandledConfiguration``.

A status handed to kopf's patch lands only after the handler returns: until the watch shows a
newer event of that object, its queued runs wait (``written``/``seen``), so a queued run never
decides on a status older than one this process wrote. Timers live in memory only; after a
restart every object is looked at once (grants: the informer's first listing; connectors and
credentials: kopf's resume handlers), and each run re-arms its timer from what its status says
(``eligibleAt``, ``settledAt``, ``expiresAt``).
Does not own: deciding when to look again (the ``decide_*`` modules through ``Report.wake``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

log = logging.getLogger("nylas_operator.scheduler")

Key = tuple[str, str, str]  # (plural, namespace, name)
Run = Callable[[Key], Awaitable[None]]

UNSEEN_PATIENCE = 10.0
"""Seconds a queued run waits for the watch to show this process's last write before it goes ahead
(the write may have been refused, or the object deleted)."""


class Scheduler:
    def __init__(self, *, workers: int = 16) -> None:
        self._workers = workers
        self._run: Run | None = None
        self._queue: asyncio.Queue[Key] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._queued: set[Key] = set()
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._unseen: set[Key] = set()
        self._deferred: set[Key] = set()
        self._turns: dict[Key, tuple[asyncio.Lock, int]] = {}
        self._failures: dict[Key, int] = {}
        self._parent_read: dict[Key, str] = {}

    # -- running ---------------------------------------------------------------------------------
    def start(self, run: Run) -> None:
        """Start the workers (in the running loop); ``run`` reconciles one object."""
        self._run = run
        self._queue = asyncio.Queue()
        for i in range(self._workers):
            self._tasks.append(asyncio.create_task(self._work(), name=f"scheduler worker {i}"))

    async def _work(self) -> None:
        assert self._queue is not None and self._run is not None
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            try:
                await self._run(key)
            except Exception:  # a bug must not stop the worker
                log.exception("queued reconcile of %s %s/%s crashed", *key)

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    @contextlib.asynccontextmanager
    async def turn(self, key: Key) -> AsyncIterator[None]:
        """One reconcile of ``key`` at a time (queued runs and kopf's handlers alike)."""
        lock, users = self._turns.get(key) or (asyncio.Lock(), 0)
        self._turns[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._turns[key]
            if users <= 1:
                del self._turns[key]
            else:
                self._turns[key] = (lock, users - 1)

    # -- waking ----------------------------------------------------------------------------------
    def now(self, key: Key, reason: str = "wake") -> None:
        """Reconcile ``key`` as soon as a worker is free (once, however often it is asked)."""
        if key in self._queued:
            return
        if key in self._unseen:
            self._deferred.add(key)
            self._arm(key, UNSEEN_PATIENCE, self._give_up_waiting)
            return
        if self._queue is None:  # not started (unit tests, shutdown): nothing runs
            return
        log.debug("wake %s %s/%s: %s", *key, reason)
        self._queued.add(key)
        self._queue.put_nowait(key)

    def now_all(self, keys: Iterable[Key], reason: str) -> None:
        for key in keys:
            self.now(key, reason)

    def after(self, key: Key, seconds: float, reason: str) -> None:
        """Reconcile ``key`` in ``seconds`` (replacing any pending timer of that object)."""
        self._arm(key, max(seconds, 0.0), lambda k: self.now(k, reason))

    def _arm(self, key: Key, seconds: float, fire: Callable[[Key], None]) -> None:
        self.cancel(key)

        def due() -> None:
            self._timers.pop(key, None)
            fire(key)

        self._timers[key] = asyncio.get_running_loop().call_later(seconds, due)

    def cancel(self, key: Key) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def pending(self, key: Key) -> bool:
        """A timer or a queued run is waiting for ``key``."""
        return key in self._timers or key in self._queued

    def forget(self, key: Key) -> None:
        self.cancel(key)
        for table in (self._unseen, self._deferred):
            table.discard(key)
        self._failures.pop(key, None)
        self._parent_read.pop(key, None)

    # -- this process's writes and the watch ---------------------------------------------------
    def written(self, key: Key) -> None:
        """A status of ``key`` went into kopf's patch: hold queued runs until the watch shows it."""
        self._unseen.add(key)

    def seen(self, key: Key) -> None:
        """The watch delivered an event of ``key`` (after any write of this process)."""
        self._unseen.discard(key)
        if key in self._deferred:
            self._deferred.discard(key)
            self.cancel(key)
            self.now(key, "deferred")

    def _give_up_waiting(self, key: Key) -> None:
        self._unseen.discard(key)
        self.seen(key)

    # -- failure counters (the backoff's exponent) ---------------------------------------------
    def failed(self, key: Key) -> int:
        """Count one more consecutive failure; returns the count before it (0 for the first)."""
        count = self._failures.get(key, 0)
        self._failures[key] = count + 1
        return count

    def succeeded(self, key: Key) -> None:
        self._failures.pop(key, None)

    # -- which parent version each object decided on ------------------------------------------
    def read_parent(self, key: Key, version: str) -> None:
        """``key``'s reconcile read its parent at ``version`` ("0": before or without finding it)."""
        self._parent_read[key] = version

    def stale(self, keys: Iterable[Key], version: str) -> list[Key]:
        """The dependents that may have decided on a parent older than ``version``. One not
        reconciled in this process yet is left out: its first reconcile reads the parent later."""
        out = []
        for key in keys:
            seen = self._parent_read.get(key)
            if seen is None:
                continue
            if not (seen.isdigit() and version.isdigit() and int(seen) >= int(version)):
                out.append(key)
        return out
