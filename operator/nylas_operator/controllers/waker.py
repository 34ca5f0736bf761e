"""Waking objects: kopf has no "enqueue", so we bump an annotation and kopf sees an UPDATE.

Owns: the wake annotation, in-process timers that bump an object later (settle waits, retry
backoff), per-object consecutive-failure counters, immediate bumps of dependents, and which
version of its parent each dependent last read (so a parent's transition wakes only the
dependents that decided on an older version).
Does not own: deciding when to wake (the kind controllers).

Why not ``kopf.TemporaryError(delay=...)``: a delayed kopf handler is not invoked by any change
before its delay ends (kopf-notes §1), so a consent, a Secret or a spec fix would wait for it.
Handlers therefore finish in a waiting state and are woken by a bump: a timer here, the Secret
watch, the consent recorder, or a parent's transition. Timers live in memory only; on restart
kopf's resume handlers reconcile every object anyway, which re-arms them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Iterable

from nylas_operator.kube import Kube, KubeError

log = logging.getLogger("nylas_operator.waker")

WAKE_ANNOTATION = "nylas-operator.io/reconcile-requested"

Key = tuple[str, str, str]  # (plural, namespace, name)


class Waker:
    def __init__(self, kube: Kube) -> None:
        self._kube = kube
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._failures: dict[Key, int] = {}
        self._parent_read: dict[Key, str] = {}
        self._counter = itertools.count()

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

    # -- timers --------------------------------------------------------------------------------
    def cancel(self, key: Key) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def after(self, key: Key, seconds: float, reason: str) -> None:
        """Bump ``key`` in ``seconds`` (replacing any pending timer of that object)."""
        self.cancel(key)
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(max(seconds, 0.0), self._fire, key, reason)

    def forget(self, key: Key) -> None:
        self.cancel(key)
        self._failures.pop(key, None)
        self._parent_read.pop(key, None)

    def _fire(self, key: Key, reason: str) -> None:
        self._timers.pop(key, None)
        task = asyncio.get_running_loop().create_task(self.bump(key, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def bump(self, key: Key, reason: str) -> None:
        """Change the wake annotation now; a vanished object is fine."""
        plural, namespace, name = key
        value = f"{reason}-{next(self._counter)}-{secrets.token_hex(3)}"
        try:
            await self._kube.annotate(plural, namespace, name, {WAKE_ANNOTATION: value})
        except (KubeError, OSError) as exc:
            log.warning("could not wake %s %s/%s: %s", plural, namespace, name, exc)

    async def bump_all(self, keys: Iterable[Key], reason: str, *, concurrency: int = 16) -> None:
        """Bump many objects, ``concurrency`` at a time (one after the other would delay the last
        of 1,000 grants by 1,000 round trips; all at once would flood the Kubernetes helper)."""
        pending = list(dict.fromkeys(keys))
        slots = asyncio.Semaphore(concurrency)

        async def one(key: Key) -> None:
            async with slots:
                await self.bump(key, reason)

        await asyncio.gather(*(one(key) for key in pending))

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
