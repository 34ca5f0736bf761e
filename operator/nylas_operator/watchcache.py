"""The latest bodies of a few watched objects, in memory, so reconciles need no GET for them.

Owns: a map (plural, namespace, name) → body for the kinds the operator reads on every reconcile
(connectors, credentials, Secrets), fed by kopf's watch events and by the responses to the
operator's own writes (write-through), and never moved backwards: an entry is replaced only by a
body with a resourceVersion at least as new. A miss means "ask the apiserver". On-demand kinds
(Secrets: a namespace may hold many that we never read) keep only bodies that were read once; for
the others the watch only notes the resourceVersion, so that a GET answer older than an event
already seen is not cached.
Does not own: watching (kopf does) or talking to the apiserver (``kube.py``).

Secret bodies stay in this process's memory only: never logged, never persisted, no repr of the
values (``Kube.read_secret`` turns them into ``SecretStr``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Key = tuple[str, str, str]


def _version(body: Mapping[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("resourceVersion") or "")


def _key(plural: str, body: Mapping[str, Any]) -> Key:
    meta = body.get("metadata") or {}
    return (plural, str(meta.get("namespace")), str(meta.get("name")))


def _older(new: str, old: str) -> bool:
    """True when ``new`` is known to precede ``old`` (resourceVersions are etcd revisions in practice,
    but opaque by contract: anything not numeric counts as newer)."""
    return new.isdigit() and old.isdigit() and int(new) < int(old)


class WatchCache:
    def __init__(self, plurals: frozenset[str], on_demand: frozenset[str] = frozenset()) -> None:
        self._plurals = plurals | on_demand
        self._on_demand = on_demand
        self._bodies: dict[Key, Mapping[str, Any]] = {}
        self._seen: dict[Key, str] = {}  # on-demand kinds not cached: the latest resourceVersion seen

    def __repr__(self) -> str:
        return f"WatchCache({len(self._bodies)} objects)"

    def caches(self, plural: str) -> bool:
        return plural in self._plurals

    def get(self, plural: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._bodies.get((plural, namespace, name))

    def items(self, plural: str, namespace: str) -> list[Mapping[str, Any]]:
        """The cached bodies of ``plural`` in ``namespace`` (for a watched kind: all of them)."""
        return [body for (p, ns, _), body in self._bodies.items() if p == plural and ns == namespace]

    def put(self, plural: str, body: Mapping[str, Any]) -> None:
        """A body read or written by us (always kept, unless something newer was seen)."""
        if plural not in self._plurals:
            return
        key = _key(plural, body)
        version = _version(body)
        current = self._bodies.get(key)
        if current is not None and _older(version, _version(current)):
            return  # a late answer behind a newer event or write
        seen = self._seen.pop(key, None)
        if seen is not None and _older(version, seen):
            return  # stays uncached: the next read asks again
        self._bodies[key] = body

    def drop(self, plural: str, namespace: str, name: str) -> None:
        self._bodies.pop((plural, namespace, name), None)
        self._seen.pop((plural, namespace, name), None)

    def observe(self, plural: str, event_type: str | None, body: Mapping[str, Any]) -> None:
        """One watch event (``None``: initial listing)."""
        if plural not in self._plurals:
            return
        key = _key(plural, body)
        if event_type == "DELETED":
            self.drop(*key)
        elif plural in self._on_demand and key not in self._bodies:
            self._seen[key] = _version(body)
        else:
            self.put(plural, body)
