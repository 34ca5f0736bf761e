"""Watch activity of the three kinds: last-event stamps and the in-memory objects-by-phase book.

Owns: ``PhaseBook`` (the phase of every served object as last seen on the watch, keyed by
(kind, namespace, name), dropped on deletion; ``counts()`` feeds ``nylas_operator_objects`` at
scrape time without a LIST, ``blocked()`` feeds ``nylas_operator_deletions_blocked``: objects with
a deletionTimestamp whose Ready condition says ``DeleteFailed``) and the cheap ``on.event``
handlers that fill it and stamp ``note_watch_event`` / ``HealthState.note_event``. The phase comes
from the event's body, so it is what the handlers last wrote, including writes of an earlier
operator process (initial listing).
It also feeds the Kubernetes helper's watch cache (``Kube.observe``), the usage index
(``index.py``), the claims index (``claims.py``), the consent state index (``consent.py``) and
the scheduler (``seen``), and tells a kind's ``gone`` callback about deleted objects.
Does not own: any reconcile logic or metric definitions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import kopf

from nylas_operator.api import conditions as c
from nylas_operator.api.common import GROUP, VERSION
from nylas_operator.kube import CREDENTIALS, KINDS

NO_PHASE = "Unknown"


class PhaseBook:
    """(kind, namespace, name) → phase; one dict operation per watch event."""

    def __init__(self) -> None:
        self._phases: dict[tuple[str, str, str], str] = {}
        self._blocked: set[tuple[str, str, str]] = set()

    def seen(self, kind: str, namespace: str, name: str, phase: str | None, *, blocked: bool = False) -> None:
        """``blocked``: being deleted, and its last Nylas delete failed."""
        key = (kind, namespace, name)
        self._phases[key] = phase or NO_PHASE
        if blocked:
            self._blocked.add(key)
        else:
            self._blocked.discard(key)

    def gone(self, kind: str, namespace: str, name: str) -> None:
        self._phases.pop((kind, namespace, name), None)
        self._blocked.discard((kind, namespace, name))

    def blocked(self) -> Mapping[str, int]:
        """kind → objects whose deletion is blocked (``Metrics.set_blocked_source``)."""
        return Counter(kind for kind, _, _ in list(self._blocked))

    def counts(self) -> Mapping[tuple[str, str], int]:
        """(kind, phase) → number of objects (what ``Metrics.set_objects_source`` wants)."""
        return Counter((kind, phase) for (kind, _, _), phase in list(self._phases.items()))


def delete_failed(meta: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    if not meta.get("deletionTimestamp"):
        return False
    ready = c.find_condition(status.get("conditions"), c.READY)
    return ready is not None and ready.get("reason") == c.Reason.DELETE_FAILED


def observe(memo: Any, plural: str, event_type: str | None, body: Mapping[str, Any]) -> None:
    """Record one watch event of ``plural`` (reads two fields of the body, copies nothing)."""
    book = getattr(memo, "phases", None)
    if book is not None:
        meta = body.get("metadata") or {}
        kind, namespace, name = KINDS[plural], str(meta.get("namespace")), str(meta.get("name"))
        if event_type == "DELETED":
            book.gone(kind, namespace, name)
        else:
            status = body.get("status") or {}
            book.seen(kind, namespace, name, status.get("phase"), blocked=delete_failed(meta, status))
    health = getattr(memo, "health", None)
    if health is not None:
        health.note_event(plural)
    ctx = getattr(memo, "ctx", None)
    scheduler = getattr(ctx, "scheduler", None)
    if scheduler is not None:  # queued runs of this object may now read what this process wrote
        meta = body.get("metadata") or {}
        scheduler.seen((plural, str(meta.get("namespace")), str(meta.get("name"))))
    usage = getattr(ctx, "usage", None)
    if usage is not None:  # the only writer of the usage index
        usage.observe(plural, event_type, body)
    claims = getattr(ctx, "claims", None)
    if claims is not None:  # the only writer of the claims index (and drift's known grants)
        claims.observe(plural, event_type, body)
    consents = getattr(ctx, "consents", None)
    if consents is not None and plural == CREDENTIALS:  # the consent states the callback matches
        consents.observe(event_type, body)
    kube = getattr(ctx, "kube", None)
    if kube is not None:  # connectors and credentials: their latest bodies, read by every reconcile
        kube.observe(plural, event_type, body)
    metrics = getattr(ctx, "metrics", None)
    if metrics is not None:
        metrics.note_watch_event(plural)


Gone = Callable[[Any, Mapping[str, Any]], Awaitable[None]]


def _handler(plural: str, gone: Gone | None) -> Any:
    # async: kopf runs sync handlers in its thread pool, which is far costlier than this body.
    async def on_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        observe(memo, plural, type, body)
        ctx = getattr(memo, "ctx", None)
        if type == "DELETED" and gone is not None and ctx is not None:
            await gone(ctx, body)

    return on_event


def register(
    registry: kopf.OperatorRegistry, plurals: Iterable[str], gone: Mapping[str, Gone] | None = None
) -> None:
    """The kinds kopf watches (grants have their own watch, ``informer.py``, which calls
    ``observe`` the same way). ``gone``: per kind, what to forget once an object has left the
    apiserver (also objects deleted without a finalizer, whose delete handler never runs)."""
    for plural in plurals:
        handler = _handler(plural, (gone or {}).get(plural))
        kopf.on.event(GROUP, VERSION, plural, registry=registry, id=f"{plural}.activity")(handler)
