"""Who uses whom, fed by watch events only: the grants of each credential, the credentials of each
connector.

Owns: an in-memory index updated from every watch event of grants and credentials
(``activity.observe``) and seeded by the start-up LIST (``lifecycle.warm_claims``) before any
handler runs. Reconciles read it and never change it: a credential takes its grants (their
custom scope sets and phases) and its ``users`` count from it, a connector its credentials, and
deletion's in-use wait both, instead of LISTing children on every run. Per grant it keeps three
small fields (10,000 grants cost about 2 MB), never the body.
Does not own: deciding anything with it (``decide_credential.py``, ``deletion.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nylas_operator.kube import CREDENTIALS, GRANTS

Parent = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class GrantUse:
    """What a credential reads of one of its grants."""

    name: str
    scopes: tuple[str, ...] | None
    deleting: bool
    phase: str | None

    def as_body(self) -> dict[str, Any]:
        """The slim body shape ``decide_credential`` reads."""
        return {
            "metadata": {"name": self.name, "deletionTimestamp": "set" if self.deleting else None},
            "spec": {"scopes": list(self.scopes) if self.scopes else None},
            "status": {"phase": self.phase},
        }


class UsageIndex:
    def __init__(self) -> None:
        self._grants: dict[Parent, dict[str, GrantUse]] = {}
        self._credential_of: dict[Parent, str] = {}
        self._credentials: dict[Parent, set[str]] = {}
        self._connector_of: dict[Parent, str] = {}

    def observe(self, plural: str, event_type: str | None, body: Mapping[str, Any]) -> None:
        """One watch event (or one object of the start-up LIST, ``event_type`` None)."""
        meta = body.get("metadata") or {}
        own: Parent = (str(meta.get("namespace")), str(meta.get("name")))
        spec = body.get("spec") or {}
        if plural == GRANTS:
            ref = (spec.get("credentialRef") or {}).get("name")
            self._move_grant(own, None if event_type == "DELETED" else ref, body)
        elif plural == CREDENTIALS:
            ref = (spec.get("connectorRef") or {}).get("name")
            self._move_credential(own, None if event_type == "DELETED" else ref)

    def _move_grant(self, own: Parent, credential: str | None, body: Mapping[str, Any]) -> None:
        namespace, name = own
        previous = self._credential_of.pop(own, None)
        if previous is not None:
            users = self._grants.get((namespace, previous), {})
            users.pop(name, None)
            if not users:
                self._grants.pop((namespace, previous), None)
        if credential is None:
            return
        scopes = (body.get("spec") or {}).get("scopes")
        use = GrantUse(
            name=name,
            scopes=tuple(scopes) if scopes else None,
            deleting=bool(body["metadata"].get("deletionTimestamp")),
            phase=(body.get("status") or {}).get("phase"),
        )
        self._grants.setdefault((namespace, credential), {})[name] = use
        self._credential_of[own] = credential

    def _move_credential(self, own: Parent, connector: str | None) -> None:
        namespace, name = own
        previous = self._connector_of.pop(own, None)
        if previous is not None:
            users = self._credentials.get((namespace, previous), set())
            users.discard(name)
            if not users:
                self._credentials.pop((namespace, previous), None)
        if connector is not None:
            self._credentials.setdefault((namespace, connector), set()).add(name)
            self._connector_of[own] = connector

    # -- reading ---------------------------------------------------------------------------------
    def grants_of(self, namespace: str, credential: str) -> list[GrantUse]:
        return sorted(self._grants.get((namespace, credential), {}).values(), key=lambda g: g.name)

    def credentials_of(self, namespace: str, connector: str) -> list[str]:
        return sorted(self._credentials.get((namespace, connector), set()))

    def __repr__(self) -> str:  # counts only
        return f"UsageIndex(grants={len(self._credential_of)}, credentials={len(self._connector_of)})"
