"""The latest bodies of a few watched objects, in memory, so reconciles need no GET for them.

Owns: a map (plural, namespace, name) → body for the kinds the operator reads on every reconcile
(connectors, credentials, Secrets), fed by kopf's watch events and by the responses to the
operator's own writes (write-through), and never moved backwards: an entry is replaced only by a
body with a resourceVersion at least as new. A miss means "ask the apiserver". On-demand kinds
(Secrets: a namespace may hold many that we never read) keep only bodies that were read once
(the Secrets the operator's objects reference); their watch carries metadata only, and while a
read of one is in flight its newest watched resourceVersion is noted, so that a GET answer older
than an event already seen is not cached. Nothing is kept for the other Secrets.

For on-demand bodies it also keeps, per data key, a keyed digest (HMAC-SHA256 with a per-process
random key) of the value and the *content version*: the resourceVersion at which that value first
appeared. A new resourceVersion with the same value (a label or annotation change) keeps the
content version, so the controllers' ``status.secretVersions`` comparison sees no rotation and
sends nothing to Nylas.
Does not own: watching (kopf and ``controllers/secrets_watch.py`` do) or talking to the apiserver
(``kube.py``).

Secret bodies stay in this process's memory only: never logged, never persisted, no repr of the
values (``Kube.read_secret`` turns them into ``SecretStr``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

Key = tuple[str, str, str]
Content = dict[str, tuple[bytes, str]]
"""Per data key of a cached on-demand body: (keyed digest of the value, content version)."""

_DIGEST_KEY = secrets.token_bytes(32)


def value_digest(value: Any) -> bytes:
    """Keyed digest of one data value: comparable within this process, useless outside it."""
    return hmac.new(_DIGEST_KEY, str(value).encode(), hashlib.sha256).digest()


def _content(body: Mapping[str, Any], previous: Content | None) -> Content:
    version = _version(body)
    values = {**(body.get("stringData") or {}), **(body.get("data") or {})}
    content: Content = {}
    for key, value in values.items():
        digest = value_digest(value)
        old = (previous or {}).get(key)
        same = old is not None and hmac.compare_digest(old[0], digest)
        content[key] = (digest, old[1] if same and old is not None else version)
    return content


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
        self._seen: dict[Key, str] = {}  # on-demand kinds being read: the latest resourceVersion seen
        self._reading: dict[Key, int] = {}  # on-demand kinds: reads in flight per key
        self._content: dict[Key, Content] = {}

    def __repr__(self) -> str:
        return f"WatchCache({len(self._bodies)} objects)"

    def caches(self, plural: str) -> bool:
        return plural in self._plurals

    def get(self, plural: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._bodies.get((plural, namespace, name))

    def keys(self, plural: str, namespace: str | None = None) -> list[Key]:
        """The cached keys of ``plural`` (in ``namespace``; None: all namespaces)."""
        return [k for k in self._bodies if k[0] == plural and (namespace is None or k[1] == namespace)]

    def content(self, plural: str, namespace: str, name: str) -> Content | None:
        """Digests and content versions of a cached on-demand body (None: not cached)."""
        return self._content.get((plural, namespace, name))

    def content_versions(self, plural: str, namespace: str, name: str) -> dict[str, str]:
        return {k: v for k, (_, v) in (self._content.get((plural, namespace, name)) or {}).items()}

    def begin_read(self, plural: str, namespace: str, name: str) -> None:
        """A GET of an on-demand body is in flight: note newer watch events until it ends."""
        key = (plural, namespace, name)
        self._reading[key] = self._reading.get(key, 0) + 1

    def end_read(self, plural: str, namespace: str, name: str) -> None:
        key = (plural, namespace, name)
        left = self._reading.get(key, 0) - 1
        if left > 0:
            self._reading[key] = left
        else:
            self._reading.pop(key, None)
            self._seen.pop(key, None)

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
        seen = self._seen.get(key)
        if seen is not None and _older(version, seen):
            return  # stays uncached: the next read asks again
        self._bodies[key] = body
        if plural in self._on_demand:
            self._content[key] = _content(body, self._content.get(key))

    def drop(self, plural: str, namespace: str, name: str) -> None:
        self._bodies.pop((plural, namespace, name), None)
        self._seen.pop((plural, namespace, name), None)
        self._content.pop((plural, namespace, name), None)

    def observe(self, plural: str, event_type: str | None, body: Mapping[str, Any]) -> None:
        """One watch event (``None``: initial listing). For on-demand kinds the body may be
        metadata only: it is never cached, only its resourceVersion noted while a read is in flight
        (the watcher re-reads a cached body whose resourceVersion moved)."""
        if plural not in self._plurals:
            return
        key = _key(plural, body)
        if event_type == "DELETED":
            self.drop(*key)
        elif plural in self._on_demand:
            if key in self._reading:
                seen = self._seen.get(key)
                version = _version(body)
                if seen is None or _older(seen, version):
                    self._seen[key] = version
        else:
            self.put(plural, body)
