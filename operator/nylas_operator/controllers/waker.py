"""Waking objects: kopf has no "enqueue", so we bump an annotation and kopf sees an UPDATE.

Owns: the wake annotation, in-process timers that bump an object later (settle waits, retry
backoff), per-object consecutive-failure counters, and immediate bumps of dependents.
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
        self._counter = itertools.count()

    # -- failure counters (the backoff's exponent) ---------------------------------------------
    def failed(self, key: Key) -> int:
        """Count one more consecutive failure; returns the count before it (0 for the first)."""
        count = self._failures.get(key, 0)
        self._failures[key] = count + 1
        return count

    def succeeded(self, key: Key) -> None:
        self._failures.pop(key, None)

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

    async def bump_all(self, keys: Iterable[Key], reason: str) -> None:
        for key in keys:
            await self.bump(key, reason)

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
