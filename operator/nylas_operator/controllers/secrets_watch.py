"""Secret rotation: a changed Secret wakes the objects that reference it, within seconds.

Owns: one metadata-only watch of Secrets per served scope (a namespace, or the cluster):
``PartialObjectMetadata``, so the apiserver sends names and resourceVersions, never data, and this
process keeps nothing for a Secret no object references. It is not a kopf handler: kopf would
receive (and, for change handlers, copy) every Secret's data.

- A Secret the operator has read (so one that its objects reference; ``watchcache``) whose
  resourceVersion moves is read again (one GET); only when the keyed digest of a value changed
  does it wake the connectors and credentials of that namespace that reference it. A new
  resourceVersion with the same data (a label change) wakes nobody and, through the content
  versions, sends nothing to Nylas.
- A Secret that appears or disappears and is referenced wakes its referrers (an object waiting
  with ``SecretNotFound`` goes on at once).
- After a 410 Gone (the watch fell behind the apiserver's history) it lists the scope again,
  metadata only, and compares: a cached Secret whose resourceVersion differs is read again and
  its digests compared (so a rotation during the gap is never missed, and a mere new
  resourceVersion is no rotation); a cached one missing from the list is gone; a referenced one
  never read wakes its referrers.
- The first listing compares only what was already read: at start-up every object is resumed
  anyway.

Does not own: re-reading the referrers' Secrets for them (their reconcile reads the cache) or
deciding what a rotation means for Nylas (``status.secretVersions`` in the shells).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nylas_operator.controllers.background import WATCH_TIMEOUT, cancel_all, retry_delay
from nylas_operator.controllers.scheduler import Scheduler
from nylas_operator.kube import CONNECTORS, CREDENTIALS, SECRETS, Kube, KubeError, WatchExpired

log = logging.getLogger("nylas_operator.secrets")


def referenced_secrets(plural: str, spec: Mapping[str, Any]) -> set[str]:
    """Names of the Secrets an object's spec references."""
    refs: list[Any] = []
    if plural == CONNECTORS:
        refs = [
            (spec.get("application") or {}).get("apiKeySecretRef"),
            (spec.get("providerApp") or {}).get("clientSecretRef"),
        ]
    elif plural == CREDENTIALS:
        refs = [
            (spec.get("adminConsent") or {}).get("clientSecretRef"),
            (spec.get("serviceAccount") or {}).get("keySecretRef"),
        ]
    return {r["name"] for r in refs if isinstance(r, Mapping) and r.get("name")}


def referrers(kube: Kube, namespace: str, name: str) -> list[tuple[str, str, str]]:
    """The connectors and credentials (from the watch cache) that reference Secret ``name``."""
    found = []
    for plural in (CONNECTORS, CREDENTIALS):
        for obj in kube.cache.items(plural, namespace):
            if obj["metadata"].get("deletionTimestamp"):
                continue
            if name in referenced_secrets(plural, obj.get("spec") or {}):
                found.append((plural, namespace, str(obj["metadata"]["name"])))
    return found


@dataclass(frozen=True)
class Relist:
    """What a re-list found, against what this process has read (pure: ``compare``)."""

    reread: list[tuple[str, str]] = field(default_factory=list)
    """Cached Secrets whose resourceVersion differs: read again, compare digests."""
    gone: list[tuple[str, str]] = field(default_factory=list)
    """Cached Secrets missing from the list: dropped, referrers woken."""
    appeared: list[tuple[str, str]] = field(default_factory=list)
    """Referenced Secrets listed but never read: referrers woken (they may wait for them)."""


def compare(
    cached: Mapping[tuple[str, str], str],
    listed: Mapping[tuple[str, str], str],
    referenced: Iterable[tuple[str, str]],
) -> Relist:
    """``cached``/``listed``: (namespace, name) → resourceVersion; ``listed`` holds only the
    Secrets that are cached or referenced (the others were not kept)."""
    result = Relist()
    for key, version in sorted(cached.items()):
        if key not in listed:
            result.gone.append(key)
        elif listed[key] != version:
            result.reread.append(key)
    result.appeared.extend(key for key in sorted(set(referenced)) if key in listed and key not in cached)
    return result


class SecretWatch:
    """The watch of one scope (``namespace``; None: all namespaces)."""

    def __init__(self, kube: Kube, scheduler: Scheduler, namespace: str | None) -> None:
        self.kube = kube
        self.scheduler = scheduler
        self.namespace = namespace
        self.resource_version: str | None = None
        """Where the watch resumes; None: list first (start-up)."""
        self.relists = 0
        """Re-lists after a 410 (not counting the first listing)."""
        self.on_relist: Callable[[], None] | None = None

    def _cached(self) -> dict[tuple[str, str], str]:
        out = {}
        for _, namespace, name in self.kube.cache.keys(SECRETS, self.namespace):
            body = self.kube.cache.get(SECRETS, namespace, name) or {}
            out[(namespace, name)] = str((body.get("metadata") or {}).get("resourceVersion") or "")
        return out

    def _referenced(self, namespace: str) -> set[str]:
        return {
            name
            for plural in (CONNECTORS, CREDENTIALS)
            for obj in self.kube.cache.items(plural, namespace)
            for name in referenced_secrets(plural, obj.get("spec") or {})
        }

    def wake(self, namespace: str, name: str, why: str) -> int:
        woken = referrers(self.kube, namespace, name)
        for key in woken:
            self.scheduler.now(key, "secret")
        if woken:
            log.info("Secret %s/%s %s: woke %d object(s)", namespace, name, why, len(woken))
        return len(woken)

    async def reread(self, namespace: str, name: str) -> bool:
        """Read a cached Secret again; True (and referrers woken) when a value changed."""
        before = self.kube.cache.content(SECRETS, namespace, name)
        body = await self.kube.refresh_secret(namespace, name)
        after = self.kube.cache.content(SECRETS, namespace, name)
        digests = {k: d for k, (d, _) in (after or {}).items()}
        if body is not None and before is not None and digests == {k: d for k, (d, _) in before.items()}:
            return False
        self.wake(namespace, name, "changed" if body is not None else "is gone")
        return True

    async def list(self, first: bool) -> None:
        """List the scope (metadata only); after a 410 compare with what was read."""
        cached = self._cached()
        referenced: dict[str, set[str]] = {}
        listed: dict[tuple[str, str], str] = {}
        version = ""
        async for items, page_version in self.kube.list_secret_metadata(self.namespace):
            version = page_version
            for meta in items:
                namespace, name = str(meta.get("namespace")), str(meta.get("name"))
                if namespace not in referenced:
                    referenced[namespace] = self._referenced(namespace)
                if (namespace, name) in cached or name in referenced[namespace]:
                    listed[(namespace, name)] = str(meta.get("resourceVersion") or "")
        # At start-up too: a Secret read by a reconcile before this listing may have moved since.
        found = compare(cached, listed, ((ns, n) for ns, names in referenced.items() for n in names))
        for namespace, name in found.gone:
            self.kube.cache.drop(SECRETS, namespace, name)
            self.wake(namespace, name, "is gone")
        for namespace, name in found.reread:
            await self.reread(namespace, name)
        if not first:  # at start-up every object is resumed anyway
            self.relists += 1
            for namespace, name in found.appeared:
                self.wake(namespace, name, "appeared")
            log.info("Secrets re-listed after the watch expired: %d re-read", len(found.reread))
            if self.on_relist is not None:
                self.on_relist()
        self.resource_version = version

    async def event(self, type_: str, meta: Mapping[str, Any]) -> None:
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        version = str(meta.get("resourceVersion") or "")
        if type_ == "BOOKMARK":
            return
        self.kube.observe(SECRETS, type_, {"metadata": meta})  # in-flight reads note the newer version
        cached = self.kube.cache.get(SECRETS, namespace, name)
        if type_ == "DELETED":
            if cached is not None or name in self._referenced(namespace):
                self.wake(namespace, name, "is gone")
        elif cached is not None:
            if (cached.get("metadata") or {}).get("resourceVersion") != version:
                await self.reread(namespace, name)
        elif name in self._referenced(namespace):
            self.wake(namespace, name, "appeared" if type_ == "ADDED" else "changed")

    async def watch_once(self) -> None:
        """List if needed, then follow the watch until the apiserver ends it."""
        if self.resource_version is None:
            await self.list(first=True)
        version = self.resource_version
        assert version is not None
        try:
            async for type_, meta in self.kube.watch_secret_metadata(
                self.namespace, version, server_timeout=WATCH_TIMEOUT
            ):
                if meta.get("resourceVersion"):
                    version = str(meta["resourceVersion"])
                await self.event(type_, meta)
                self.resource_version = version
        except WatchExpired:
            await self.list(first=False)

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                await self.watch_once()
                failures = 0
            except Exception as exc:  # KubeError, KubeUnavailable, a broken line: retry
                delay = retry_delay(failures)
                failures += 1
                log.warning(
                    "Secret watch of %s failed (%s); again in %.1fs",
                    self.namespace or "all namespaces",
                    type(exc).__name__ if not isinstance(exc, KubeError) else exc,
                    delay,
                )
                await asyncio.sleep(delay)


class SecretWatches:
    """The watches of all served scopes, as background tasks."""

    def __init__(self, kube: Kube, scheduler: Scheduler, scopes: Iterable[str | None]) -> None:
        self.watches = [SecretWatch(kube, scheduler, scope) for scope in scopes]
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(w.run(), name=f"secret watch {w.namespace or 'all'}") for w in self.watches
        ]

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks = []
