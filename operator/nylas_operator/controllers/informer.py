"""Grants without kopf: a list + watch per served scope feeding the one work queue (``scheduler.py``).

Why: a grant is the kind with thousands of objects. kopf's per-object cycle (a worker task per
object, the body parsed into its wrappers, the diffbase built and stored, handler bookkeeping)
cost about 1 ms of CPU per listed grant on a restart (10,000 grants: 10 s before any of our code
ran) and, on a bulk apply, held up to ``worker_limit`` handler contexts at once (docs/performance.md).
Here a listed or changed grant costs one index update and, when it needs a look, a key in the
scheduler's queue; at most ``HIGH_WATER`` bodies wait for a worker (a listing is paged no faster
than the workers take them; beyond that a watched grant waits as a key and its run reads it), so
memory does not grow with the size of a bulk apply.

Owns, for ServiceAccountGrants:
- the list (paged) and the watch of each scope, resumed from the last resourceVersion, listed again
  after a 410 Gone (objects that vanished in the gap are forgotten as if deleted) or an error;
- which events need a reconcile (``needs_run``, pure): first sight (start-up, creation), a changed
  spec or annotation (the essence: status and kopf's old bookkeeping excluded), the deletion
  starting, or the finalizer not matching ``deletionPolicy``. A status write (ours or anyone's)
  triggers nothing. The essence is kept as a hash in memory; after a restart every grant is
  looked at once, as kopf's resume did, and a Ready grant costs no write;
- the finalizer ``nylas-operator.io/finalizer``: added while ``deletionPolicy: Delete`` (only then
  does a deletion need the operator), removed when the policy changes or the delete is done; each
  write guarded by resourceVersion so another controller's finalizer is never dropped;
- the deletion: ``grant.delete`` in the object's turn; its waits and retries
  (``TemporaryError`` with a delay, from ``deletion.py``) become scheduler timers; it runs again
  on a restart or a spec change (e.g. to ``Orphan``), never on its own status writes;
- the body a queued run reads: the watched one when the watch has shown this process's last write
  of the object (``Kube.on_written``), else a fresh GET.
Does not own: what a reconcile or a deletion does (``grant.py``), the indexes (``activity.observe``
feeds them from these events), connectors and credentials (few objects: kopf runs them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from nylas_operator.api.conditions import parse_rfc3339
from nylas_operator.api.grant import ServiceAccountGrantStatus
from nylas_operator.controllers import activity, flow, grant
from nylas_operator.controllers.background import WATCH_TIMEOUT, cancel_all, retry_delay
from nylas_operator.controllers.context import Context
from nylas_operator.controllers.scheduler import Key
from nylas_operator.kube import FINALIZER, GRANTS, WatchExpired

log = logging.getLogger("nylas_operator.grants")

HIGH_WATER = 256
"""Bodies waiting for a worker: a listing pauses there, the watch keeps only keys beyond it."""
ROOM_PATIENCE = 5.0
"""A listing pages on after this long even if the queue did not drain (a queued key whose run
was cancelled must not stop it)."""
CRASH_RETRY = 10.0
"""An unexpected exception in a run: looked at again after this long (kopf's default backoff)."""
IGNORED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})
IGNORED_PREFIXES = ("kopf.",)  # kopf's bookkeeping on grants handled by earlier versions


@dataclass(slots=True)
class Record:
    """What this process remembers of a grant between events (about 200 bytes)."""

    uid: str
    email: str
    essence: int | None
    """Hash of what a reconcile acts on; None: listed at start-up, not looked at yet."""
    deleting: bool = False


def key_of(body: Mapping[str, Any]) -> Key:
    meta = body["metadata"]
    return (GRANTS, str(meta["namespace"]), str(meta["name"]))


def essence(body: Mapping[str, Any]) -> int:
    """The spec and the annotations that mean something (kopf's essence, minus labels: a grant's
    reconcile reads none)."""
    meta = body.get("metadata") or {}
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k not in IGNORED_ANNOTATIONS and not k.startswith(IGNORED_PREFIXES)
    }
    return hash(json.dumps([body.get("spec"), annotations], sort_keys=True, default=str))


def record_of(body: Mapping[str, Any], *, looked_at: bool = True) -> Record:
    meta = body.get("metadata") or {}
    return Record(
        uid=str(meta.get("uid")),
        email=str((body.get("spec") or {}).get("email") or ""),
        essence=essence(body) if looked_at else None,
        deleting=bool(meta.get("deletionTimestamp")),
    )


def needs_run(previous: Record | None, body: Mapping[str, Any]) -> tuple[bool, Record]:
    """Pure: does this event of a grant need a run? And what to remember of it."""
    record = record_of(body)
    finalizers = (body.get("metadata") or {}).get("finalizers") or []
    if previous is None or previous.uid != record.uid:
        return True, record
    changed = previous.essence != record.essence
    if record.deleting:  # only its start or a spec change: a retry waits for its own timer
        return FINALIZER in finalizers and (changed or not previous.deleting), record
    return changed or (FINALIZER in finalizers) != grant.deletes_from_nylas(body), record


def minimal_body(key: Key, record: Record) -> dict[str, Any]:
    """What the indexes and ``grant.gone`` read of a grant that vanished unseen."""
    return {
        "metadata": {"namespace": key[1], "name": key[2], "uid": record.uid},
        "spec": {"email": record.email},
    }


def _not_older(version: str, than: str) -> bool:
    if version.isdigit() and than.isdigit():
        return int(version) >= int(than)
    return version == than


class GrantInformer:
    def __init__(self, ctx: Context, memo: Any, scopes: Iterable[str | None]) -> None:
        self.ctx = ctx
        self.memo = memo
        self.scopes = list(scopes)
        self.relists = 0
        """Lists after a 410 or an error (not counting the first)."""
        self._records: dict[Key, Record] = {}
        self._pending: dict[Key, Mapping[str, Any]] = {}
        self._unseen_writes: dict[Key, str] = {}
        self._room = asyncio.Event()
        self._room.set()
        self._tasks: list[asyncio.Task[None]] = []
        ctx.kube.on_written = self._written

    # -- running ---------------------------------------------------------------------------------
    def note_listed(self, body: Mapping[str, Any]) -> None:
        """A grant of the start-up LIST (the indexes' warm-up): the watch's own listing looks at it,
        and forgets it if it is gone by then."""
        self._records[key_of(body)] = record_of(body, looked_at=False)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._follow(scope), name=f"grant watch {scope or 'all'}")
            for scope in self.scopes
        ]

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks = []

    async def _follow(self, namespace: str | None) -> None:
        version: str | None = None
        failures = 0
        while True:
            try:
                if version is None:
                    version = await self._list(namespace)
                async for type_, obj in self.ctx.kube.watch_objects(
                    GRANTS, namespace, version, server_timeout=WATCH_TIMEOUT
                ):
                    if type_ != "BOOKMARK":
                        await self._event(type_, obj)
                    version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                failures = 0
            except WatchExpired:
                log.info("the grant watch of %s expired (410): listing again", namespace or "all namespaces")
                version, failures = None, 0
                self.relists += 1
            except Exception as exc:  # KubeError, KubeUnavailable, a broken line: list again
                delay = retry_delay(failures)
                failures += 1
                log.warning(
                    "the grant watch of %s failed (%s); listing again in %.1fs",
                    namespace or "all namespaces",
                    exc if str(exc) else type(exc).__name__,
                    delay,
                )
                version = None
                self.relists += 1
                await asyncio.sleep(delay)

    async def _list(self, namespace: str | None) -> str:
        seen: set[Key] = set()
        version = ""
        async for items, page_version in self.ctx.kube.list_versioned(GRANTS, namespace):
            version = page_version
            for body in items:
                seen.add(key_of(body))
                await self._event(None, body, listing=True)
        gone = [k for k in self._records if (namespace is None or k[1] == namespace) and k not in seen]
        for key in gone:  # deleted while no watch was open: forgotten as if the watch had said so
            await self._deleted(key, minimal_body(key, self._records[key]))
        return version

    # -- events ----------------------------------------------------------------------------------
    async def _event(self, type_: str | None, body: Mapping[str, Any], *, listing: bool = False) -> None:
        """One watched or listed grant. Beyond ``HIGH_WATER`` waiting bodies a watched one is not
        kept (its run reads it with a GET): the watch is never held up, so the indexes stay
        current and the apiserver never drops this watcher as too slow."""
        key = key_of(body)
        self._caught_up(key, str(body["metadata"].get("resourceVersion") or ""))
        if type_ == "DELETED":
            await self._deleted(key, body)
            return
        previous = self._records.get(key)
        if previous is not None and previous.uid != str(body["metadata"].get("uid")):
            await self._deleted(key, minimal_body(key, previous))  # replaced under the same name
            previous = None
        activity.observe(self.memo, GRANTS, type_, body)
        run, self._records[key] = needs_run(previous, body)
        if key in self._pending or (run and (listing or len(self._pending) < HIGH_WATER)):
            self._pending[key] = body  # a queued run reads the latest
        if run:
            self.ctx.scheduler.now(key, "watch")
        if run and listing:  # the list is paged no faster than the workers take the bodies
            await self._wait_for_room()

    async def _deleted(self, key: Key, body: Mapping[str, Any]) -> None:
        self._records.pop(key, None)
        self._pending.pop(key, None)
        self._unseen_writes.pop(key, None)
        activity.observe(self.memo, GRANTS, "DELETED", body)
        await grant.gone(self.ctx, body)

    def _written(self, plural: str, namespace: str, name: str, version: str) -> None:
        if plural == GRANTS and version:
            self._unseen_writes[(plural, namespace, name)] = version

    def _caught_up(self, key: Key, version: str) -> None:
        written = self._unseen_writes.get(key)
        if written is not None and _not_older(version, written):
            del self._unseen_writes[key]

    async def _wait_for_room(self) -> None:
        if len(self._pending) < HIGH_WATER:
            return
        self._room.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._room.wait(), ROOM_PATIENCE)

    # -- runs (the scheduler's workers) ----------------------------------------------------------
    async def run(self, key: Key) -> None:
        try:
            await flow.run_queued(
                self.ctx, key, ServiceAccountGrantStatus, grant.reconcile, log, read=self.read
            )
        except Exception:  # a bug must not leave the grant unattended
            log.exception("reconcile of grant %s/%s crashed; again in %.0fs", key[1], key[2], CRASH_RETRY)
            self.ctx.scheduler.after(key, CRASH_RETRY, "crashed")

    async def read(self, ctx: Context, key: Key) -> Mapping[str, Any] | None:
        """The body to reconcile (in the object's turn), after the finalizer and deletion work."""
        body = self._pending.pop(key, None)
        if len(self._pending) <= HIGH_WATER // 2:
            self._room.set()
        if body is None or key in self._unseen_writes:  # older than this process's last write
            body = await ctx.kube.get_object(*key)
        if body is None:
            return None
        if body["metadata"].get("deletionTimestamp"):
            await self._finalize(key, body)
            return None
        return await self._hold_finalizer(key, body)

    async def _hold_finalizer(self, key: Key, body: Mapping[str, Any]) -> Mapping[str, Any] | None:
        meta = body["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        needed = grant.deletes_from_nylas(body)
        if needed == (FINALIZER in finalizers):
            return body
        new = [*finalizers, FINALIZER] if needed else [f for f in finalizers if f != FINALIZER]
        updated = await self.ctx.kube.set_finalizers(*key, new, str(meta.get("resourceVersion")))
        if updated is None:  # changed meanwhile (or gone): read it again
            self.ctx.scheduler.now(key, "finalizer-conflict")
        return updated

    async def _finalize(self, key: Key, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER not in finalizers:
            return  # not ours to wait for (deletionPolicy Orphan)
        runtime = (self.ctx.now() - parse_rfc3339(str(meta["deletionTimestamp"]))).total_seconds()
        try:
            await grant.delete(self.ctx, body, max(runtime, 0.0))
        except kopf.TemporaryError as exc:  # a wait or a backed-off retry: the finalizer stays
            self.ctx.scheduler.after(key, float(exc.delay or CRASH_RETRY), "delete-retry")
            return
        remaining = [f for f in finalizers if f != FINALIZER]
        if await self.ctx.kube.set_finalizers(*key, remaining, str(meta.get("resourceVersion"))) is None:
            self.ctx.scheduler.now(key, "finalizer-conflict")
