"""Who owns a Nylas singleton: one connector per (application, provider), one grant per
(application, email). A second object claiming the same thing is reported as ``Conflict``.

Owns: an in-memory, process-wide claims index fed by watch events only (``activity.observe``,
seeded by the start-up LIST in ``lifecycle.warm_claims``), like ``index.py``. Reconciles read it
and never change it: an object's own claim comes from its body as the reconcile reads it, so an
object whose watch event this process has not seen yet still competes. The winner is the
claimant that already holds the Nylas object (``established``: the id in its status for a grant;
for a connector, ``status.claim`` naming its current (provider, application), recorded when it
became Ready, or Ready for its current generation), then the oldest, then by namespace/name, so
the answer does not depend on the order in which objects are reconciled, also after a restart.
Holding is sticky: a holder whose Ready turns False for a while (Nylas away, a key being rotated)
keeps its claim, so an older object elsewhere waiting as ``Conflict`` never takes it meanwhile;
it ends when the holder leaves the apiserver or its spec names another claim. A claim lasts until the
object has left the apiserver (a ``DELETED`` event), so a terminating holder keeps its mailbox.
A grant's application is resolved at read time through its credential and connector as last
seen on the watch, so a connector's application change moves its grants' claims with it.
It also keeps the Ready grants the drift loop compares with Nylas (``known``).
Does not own: deciding anything with it (``decide_grant.py``, ``connector.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nylas_operator.api.conditions import DEGRADED, PHASE_READY, READY
from nylas_operator.controllers.clients import AppKey, app_key_of
from nylas_operator.kube import CONNECTORS, CREDENTIALS, GRANTS

Parent = tuple[str, str]  # (namespace, name)
ClaimKey = tuple[Any, ...]
KNOWN_PHASES = (PHASE_READY, DEGRADED)  # a grant the drift loop watches (Degraded: until repaired)


@dataclass(frozen=True)
class Claimant:
    namespace: str
    name: str
    uid: str
    created: str
    established: bool = False

    def order(self) -> tuple[bool, str, str, str]:
        return (not self.established, self.created, self.namespace, self.name)


@dataclass(frozen=True)
class GrantEntry:
    """What the index keeps of one grant object (a few strings, never the body)."""

    claimant: Claimant
    credential: str | None
    email: str
    grant_id: str | None
    phase: str | None
    deleting: bool


def claimant_of(body: Mapping[str, Any], established: bool) -> Claimant:
    meta = body["metadata"]
    return Claimant(
        str(meta.get("namespace")),
        str(meta.get("name")),
        str(meta.get("uid")),
        str(meta.get("creationTimestamp", "")),
        established=established,
    )


def connector_claimant(body: Mapping[str, Any]) -> Claimant:
    return claimant_of(body, _holds_claim(body) or _ready_as_specified(body))


def claim_token(app: AppKey, provider: str) -> str:
    """What a connector records in ``status.claim`` once it holds (provider, application)."""
    return f"{provider}/{app}"


def _holds_claim(body: Mapping[str, Any]) -> bool:
    """``status.claim`` names the claim of the current spec: it held it (was Ready with it) and
    keeps it through a later ``Ready=False``, until it is deleted or its spec names another."""
    recorded = (body.get("status") or {}).get("claim")
    if not recorded:
        return False
    spec = body.get("spec") or {}
    app = app_key_of(spec)
    return app is not None and recorded == claim_token(app, str(spec.get("provider")))


def _ready_as_specified(body: Mapping[str, Any]) -> bool:
    """Ready for the current spec generation: a connector that was Ready for its own application
    and then names another team's must not hold that application's claim on the old Ready."""
    for cond in (body.get("status") or {}).get("conditions") or []:
        if cond.get("type") == READY:
            generation = (body.get("metadata") or {}).get("generation")
            return bool(cond.get("status") == "True" and cond.get("observedGeneration") == generation)
    return False


def grant_claimant(body: Mapping[str, Any]) -> Claimant:
    return claimant_of(body, bool((body.get("status") or {}).get("grantId")))


def connector_key(app: AppKey, provider: str) -> ClaimKey:
    return ("connector", app, provider)


def _winner(holders: list[Claimant], me: Claimant) -> Claimant:
    return min([h for h in holders if h.uid != me.uid] + [me], key=Claimant.order)


def holder(winner: Claimant, namespace: str, kind: str) -> str:
    """Who holds a claim, as told to a loser in ``namespace``: named only within the namespace,
    since one tenant must not learn another's object names or namespaces."""
    if winner.namespace == namespace:
        return f"{kind} {winner.name!r} in this namespace"
    return "an object in another namespace (it is held elsewhere)"


class Claims:
    def __init__(self) -> None:
        self._connectors: dict[ClaimKey, dict[str, Claimant]] = {}
        self._connector_key_of: dict[str, ClaimKey] = {}
        self._app_of_connector: dict[Parent, AppKey] = {}
        self._connector_of_credential: dict[Parent, str] = {}
        self._grants: dict[str, dict[str, GrantEntry]] = {}  # casefolded email → uid → entry
        self._email_of: dict[str, str] = {}

    def __repr__(self) -> str:  # emails are personal data: counts only
        return f"Claims(connectors={len(self._connector_key_of)}, grants={len(self._email_of)})"

    # -- feeding (watch events and the start-up LIST only) -------------------------------------
    def observe(self, plural: str, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        own: Parent = (str(meta.get("namespace")), str(meta.get("name")))
        uid = str(meta.get("uid"))
        spec = body.get("spec") or {}
        deleted = event_type == "DELETED"
        if plural == CONNECTORS:
            self._drop_connector(own, uid)
            app = None if deleted else app_key_of(spec)
            if app is not None:
                key = connector_key(app, str(spec.get("provider")))
                self._connectors.setdefault(key, {})[uid] = connector_claimant(body)
                self._connector_key_of[uid] = key
                self._app_of_connector[own] = app
        elif plural == CREDENTIALS:
            ref = (spec.get("connectorRef") or {}).get("name")
            if deleted or not ref:
                self._connector_of_credential.pop(own, None)
            else:
                self._connector_of_credential[own] = str(ref)
        elif plural == GRANTS:
            self._drop_grant(uid)
            email = spec.get("email")
            if not deleted and email:
                status = body.get("status") or {}
                entry = GrantEntry(
                    claimant=grant_claimant(body),
                    credential=(spec.get("credentialRef") or {}).get("name"),
                    email=str(email),
                    grant_id=status.get("grantId"),
                    phase=status.get("phase"),
                    deleting=bool(meta.get("deletionTimestamp")),
                )
                folded = str(email).casefold()
                self._grants.setdefault(folded, {})[uid] = entry
                self._email_of[uid] = folded

    def _drop_connector(self, own: Parent, uid: str) -> None:
        key = self._connector_key_of.pop(uid, None)
        if key is not None:
            holders = self._connectors.get(key, {})
            holders.pop(uid, None)
            if not holders:
                self._connectors.pop(key, None)
        self._app_of_connector.pop(own, None)

    def _drop_grant(self, uid: str) -> None:
        folded = self._email_of.pop(uid, None)
        if folded is not None:
            entries = self._grants.get(folded, {})
            entries.pop(uid, None)
            if not entries:
                self._grants.pop(folded, None)

    # -- reading ---------------------------------------------------------------------------------
    def app_of_grant(self, entry: GrantEntry) -> AppKey | None:
        namespace = entry.claimant.namespace
        connector = self._connector_of_credential.get((namespace, entry.credential or ""))
        return self._app_of_connector.get((namespace, connector or ""))

    def connector_winner(self, key: ClaimKey, me: Claimant) -> Claimant:
        return _winner(list(self._connectors.get(key, {}).values()), me)

    def grant_winner(
        self, app: AppKey, email: str, me: Claimant, *, skip: frozenset[str] = frozenset()
    ) -> Claimant:
        """The winner among the grants of ``email`` in application ``app``, ``me`` included."""
        holders = [
            e.claimant
            for u, e in self._grants.get(email.casefold(), {}).items()
            if u not in skip and self.app_of_grant(e) == app
        ]
        return _winner(holders, me)

    def grants_of_email(self, email: str) -> list[Claimant]:
        """Every grant object of ``email`` (any application): the ones to wake when one leaves."""
        return [e.claimant for e in self._grants.get(email.casefold(), {}).values()]

    def connectors_of_key(self, key: ClaimKey) -> list[Claimant]:
        return list(self._connectors.get(key, {}).values())

    def known(self, app: AppKey) -> dict[str, GrantEntry]:
        """uid → entry of every Ready (or Degraded) grant of ``app`` not being deleted (what the
        drift loop compares with Nylas; one pass over the index per drift check)."""
        return {
            uid: e
            for entries in self._grants.values()
            for uid, e in entries.items()
            if e.grant_id and e.phase in KNOWN_PHASES and not e.deleting and self.app_of_grant(e) == app
        }
