"""Who owns a Nylas singleton: one connector per (application, provider), one grant per
(application, email). A second object claiming the same thing is reported as ``Conflict``.

Owns: an in-memory, process-wide claims table. The winner is the claimant that already holds
the Nylas object (``established``: it has the id in status), then the oldest, then by
namespace/name, so the answer does not depend on the order in which objects are reconciled,
also after a restart (the runner warms the table from a LIST before handlers run).
Does not own: resolving which application an object belongs to (``references.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Claimant:
    namespace: str
    name: str
    uid: str
    created: str
    established: bool = False

    def order(self) -> tuple[bool, str, str, str]:
        return (not self.established, self.created, self.namespace, self.name)


ClaimKey = tuple[Any, ...]


def holder(winner: Claimant, namespace: str, kind: str) -> str:
    """Who holds a claim, as told to a loser in ``namespace``: named only within the namespace,
    since one tenant must not learn another's object names or namespaces."""
    if winner.namespace == namespace:
        return f"{kind} {winner.name!r} in this namespace"
    return "an object in another namespace (it is held elsewhere)"


class Claims:
    def __init__(self) -> None:
        self._table: dict[ClaimKey, dict[str, Claimant]] = {}
        self._keys_of: dict[str, set[ClaimKey]] = {}

    def claim(self, key: ClaimKey, claimant: Claimant) -> Claimant:
        """Register ``claimant`` for ``key`` and return the winner (maybe the claimant itself)."""
        # An object has one key per kind; drop stale keys (e.g. its application changed).
        for old in self._keys_of.get(claimant.uid, set()) - {key}:
            self.release(old, claimant.uid)
        self._table.setdefault(key, {})[claimant.uid] = claimant
        self._keys_of.setdefault(claimant.uid, set()).add(key)
        return self.winner(key) or claimant

    def winner(self, key: ClaimKey) -> Claimant | None:
        holders = self._table.get(key)
        return min(holders.values(), key=Claimant.order) if holders else None

    def others(self, key: ClaimKey, uid: str) -> list[Claimant]:
        return [c for u, c in self._table.get(key, {}).items() if u != uid]

    def release(self, key: ClaimKey, uid: str) -> None:
        holders = self._table.get(key)
        if holders is not None:
            holders.pop(uid, None)
            if not holders:
                del self._table[key]
        keys = self._keys_of.get(uid)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys_of[uid]

    def release_all(self, uid: str) -> list[ClaimKey]:
        keys = list(self._keys_of.get(uid, ()))
        for key in keys:
            self.release(key, uid)
        return keys
