"""ServiceAccountGrant decisions: pure functions over what a reconcile observed.

Owns: every choice the grant reconcile makes, as functions of a ``GrantFacts`` snapshot (the
grant's spec and current status, its credential and connector as read, the claim winner, a drift
finding, the clock): the scopes to ask for, Conflict, the Microsoft consent gate
(``AwaitingConsent`` → ``ConsentSettling`` until ``eligibleAt`` → create), whether Nylas must be
asked at all, and what an answer from Nylas means (keep, create, re-authenticate, show drift
first). The outcome goes into the ``Report`` (the status to show, when to look again) and a
``GrantPlan`` (what to do in Nylas). No I/O here: ``grant.py`` reads, acts and reports, and
``tests/unit/controllers/test_decide_grant.py`` drives these tables with a fake clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from nylas_operator import nylas
from nylas_operator.api import conditions as c
from nylas_operator.api.credential import SHARED_TENANTS
from nylas_operator.api.grant import ServiceAccountGrantSpec
from nylas_operator.controllers import consent
from nylas_operator.controllers.claims import Claimant, holder
from nylas_operator.controllers.references import Parent, Unresolved
from nylas_operator.controllers.status import Report

WAITING_PHASES = (c.AWAITING_CONSENT, c.CONSENT_SETTLING)

SETTLE_QUIET = 1.0
"""Seconds: a grant this close to ``eligibleAt`` and not yet shown as ``ConsentSettling`` is not
shown as such at all (the delay is about zero and ``grantedAt`` was rounded up to the next
second): the scheduler looks again at the instant, and the next status written is Ready."""
TIMER_SLACK = 0.01
"""Seconds added to a wake at ``eligibleAt``: a timer never fires before the instant it is for."""


@dataclass(frozen=True)
class GrantFacts:
    """What one reconcile observed, before any decision."""

    spec: ServiceAccountGrantSpec
    old: Mapping[str, Any]
    """The grant's current status."""
    generation: int | None
    credential: Parent
    connector: Parent
    winner: Claimant
    """Who holds the (application, email) claim; the grant itself when it is not a Conflict."""
    uid: str
    drift: str | None
    """A drift finding of the drift loop (``missing``/``invalid``), if any."""
    default_delay: timedelta
    confirm: bool = False
    """``--confirm-consent``: a new grant also waits for Microsoft's confirmation of the consent."""

    @property
    def provider(self) -> str:
        return str(self.connector.spec.provider)


Step = Literal["wait", "settle", "keep", "sync"]


@dataclass(frozen=True)
class GrantPlan:
    """``wait``: nothing to do until woken (the report says why and when to look again);
    ``settle``: the same, with nothing new to show; ``keep``: Ready as recorded, no Nylas call;
    ``sync``: look up, create or re-authenticate the Nylas grant."""

    step: Step
    scopes: list[str] | None = None
    scope_set: str = consent.DEFAULT_SET
    wake_credential: bool = False
    """The credential has not seen this grant's scope set yet: it issues the consent URL."""
    consent_at: datetime | None = None
    """When the consent this creation waited for was recorded (settle metric, error class)."""


def grant_scopes(spec: ServiceAccountGrantSpec, credential: Parent, connector: Parent) -> list[str] | None:
    """Google: the grant's scopes or the connector's defaults (required). Microsoft: the consent set."""
    if connector.spec.provider == "google":
        scopes = spec.scopes or connector.spec.scopes
        if not scopes:
            raise Unresolved(
                c.Reason.SCOPES_REQUIRED,
                "a Google grant needs spec.scopes (or connector scopes)",
                terminal=True,
            )
        return list(scopes)
    ac = credential.spec.admin_consent
    if spec.scopes and (ac is None or ac.tenant in SHARED_TENANTS):
        raise Unresolved(
            c.Reason.CUSTOM_SCOPES_NEED_TENANT,
            "custom scopes need a credential for a specific tenant (spec.adminConsent.tenant), not 'common'",
            terminal=True,
        )
    return list(spec.scopes) if spec.scopes else (list(ac.scopes) if ac and ac.scopes else None)


def decide(facts: GrantFacts, report: Report) -> GrantPlan:
    """The whole grant decision up to the Nylas call. Raises ``Unresolved`` for inputs that block."""
    if facts.winner.uid != facts.uid:
        held_by = holder(facts.winner, facts.credential.body["metadata"]["namespace"], "ServiceAccountGrant")
        raise Unresolved(
            c.Reason.CONFLICT,
            f"the grant of mailbox {facts.spec.email} in this Nylas application is already managed by "
            f"{held_by} (one grant per mailbox per application)",
            terminal=True,
        )
    scopes = grant_scopes(facts.spec, facts.credential, facts.connector)
    scope_set = consent.scope_set_key(scopes)
    credential_id = facts.credential.status.get("credentialId")
    report.set(provider=facts.provider)
    if not credential_id:
        raise Unresolved(
            c.Reason.CREDENTIAL_NOT_READY, f"NylasCredential {facts.credential.name!r} is not in Nylas yet"
        )
    report.set(credential_id=credential_id)
    if facts.provider == "microsoft":
        gate = consent_gate(facts, report, scope_set)
        if gate.step != "sync":
            return GrantPlan(gate.step, scopes, scope_set, wake_credential=gate.wake_credential)
        consent_at = gate.consent_at
    elif not facts.credential.ready:
        raise Unresolved(
            c.Reason.CREDENTIAL_NOT_READY, f"NylasCredential {facts.credential.name!r} is not Ready yet"
        )
    else:
        report.condition(c.CONSENT_GRANTED, True, c.Reason.CONSENT_NOT_REQUIRED)
        report.condition(c.CONSENT_SETTLED, True, c.Reason.CONSENT_NOT_REQUIRED)
        consent_at = None
    step: Step = "keep" if up_to_date(facts, report.generation, scope_set) else "sync"
    return GrantPlan(step, scopes, scope_set, consent_at=consent_at)


def up_to_date(facts: GrantFacts, generation: int | None, scope_set: str) -> bool:
    """Ready with a grant id, same spec, same scope set and no drift finding: no Nylas call."""
    old = facts.old
    return bool(
        old.get("phase") == c.PHASE_READY
        and old.get("grantId")
        and old.get("observedGeneration") == generation
        and old.get("scopeSet") == scope_set
        and facts.drift is None
    )


def consent_gate(facts: GrantFacts, report: Report, scope_set: str) -> GrantPlan:
    """Microsoft: the grant is created only after its scope set's consent has settled."""
    record = consent.find_record(dict(facts.credential.status), scope_set)
    if record is None or not record.get("grantedAt"):
        _awaiting(facts, report, record)
        return GrantPlan("wait", wake_credential=record is None)
    delay = consent.delay_of(
        facts.spec.scope_cache_delay, facts.credential.spec.scope_cache_delay, default=facts.default_delay
    )
    granted = c.parse_rfc3339(record["grantedAt"])
    eligible = granted + delay
    ahead = (eligible - report.now).total_seconds()
    if 0 < ahead <= SETTLE_QUIET and facts.old.get("phase") != c.CONSENT_SETTLING:
        report.wake(ahead + TIMER_SLACK, "eligible")  # nothing shown: the next status is Ready
        return GrantPlan("settle")
    report.set(eligible_at=c.now_rfc3339(eligible))
    report.condition(c.CONSENT_GRANTED, True, c.Reason.CONSENT_GRANTED)
    if ahead <= 0:
        if _unconfirmed(facts, record):
            where = f" on NylasCredential {facts.credential.name!r}"
            reason, message = consent.unconfirmed_message(record, where)
            report.condition(c.CONSENT_SETTLED, False, reason, message)
            report.not_ready(reason, message, phase=c.CONSENT_SETTLING)
            return GrantPlan("wait")  # the credential wakes its grants when the record changes
        report.condition(c.CONSENT_SETTLED, True, c.Reason.CONSENT_SETTLED)
        return GrantPlan("sync", consent_at=granted)
    message = f"Microsoft caches scopes: the grant is created after {c.now_rfc3339(eligible)}"
    report.condition(c.CONSENT_SETTLED, False, c.Reason.CONSENT_SETTLING, message)
    report.not_ready(c.Reason.CONSENT_SETTLING, message, phase=c.CONSENT_SETTLING)
    report.wake(ahead + TIMER_SLACK, "eligible")  # the scheduler looks again at the instant
    return GrantPlan("wait")


def _unconfirmed(facts: GrantFacts, record: Mapping[str, Any]) -> bool:
    """Microsoft has not confirmed the consent yet, and this grant would be created: a grant that
    already holds its Nylas grant (Ready before ``--confirm-consent`` was turned on) keeps it."""
    ac = facts.credential.spec.admin_consent
    tenant = ac.tenant if ac else None
    if not consent.awaits_confirmation(record, tenant, facts.confirm):
        return False
    return not (facts.old.get("phase") == c.PHASE_READY and facts.old.get("grantId"))


def _awaiting(facts: GrantFacts, report: Report, record: Mapping[str, Any] | None) -> None:
    # The consent URL (its state records consent) stays on the credential: whoever may read
    # grants is not thereby an approver (docs/security.md).
    report.set(eligible_at=None)
    if record and record.get("error"):
        message = (
            f"admin consent was refused ({record['error']}); "
            f"see NylasCredential {facts.credential.name!r} for its consent URL"
        )
        report.condition(c.CONSENT_GRANTED, False, c.Reason.CONSENT_DENIED, message)
    else:
        message = f"waiting for admin consent on NylasCredential {facts.credential.name!r}"
        report.condition(c.CONSENT_GRANTED, False, c.Reason.AWAITING_CONSENT, message)
    report.condition(c.CONSENT_SETTLED, False, c.Reason.AWAITING_CONSENT, "no consent recorded yet")
    report.not_ready(c.Reason.AWAITING_CONSENT, message, phase=c.AWAITING_CONSENT)


# -- after asking Nylas ---------------------------------------------------------------------------

Sync = Literal["keep", "create", "reauth", "show-drift"]

DRIFT_MESSAGES = {
    c.Reason.GRANT_MISSING: "the grant no longer exists in Nylas; repairing",
    c.Reason.GRANT_INVALID: "Nylas reports the grant as invalid; repairing",
}


def needs_lookup(old: Mapping[str, Any], listed: bool) -> bool:
    """Look the mailbox up by email only when a grant may exist: a lost id, or an email Nylas listed
    (or this process tried to create). Otherwise POST directly: Nylas keeps one grant per email and
    returns it, so even a missed one is not twinned."""
    return bool(old.get("grantId")) or listed


def drift_of(old: Mapping[str, Any], by_id_missing: bool, existing: nylas.Grant | None) -> str | None:
    """The drift reason an answer shows: the recorded grant is gone, or Nylas calls it invalid."""
    if by_id_missing:
        return c.Reason.GRANT_MISSING
    if existing is not None and existing.grant_status == nylas.GrantStatus.INVALID:
        return c.Reason.GRANT_INVALID
    return None


def sync_action(
    old: Mapping[str, Any], scope_set: str, existing: nylas.Grant | None, drift: str | None
) -> Sync:
    """What to do with what Nylas holds. Drift is shown (Degraded, one write) before it is repaired
    in the next run; a changed scope set (``status.scopeSet``: the set last authenticated) or a
    grant created while still waiting is re-authenticated."""
    if drift is not None and not _showing(old, drift):
        return "show-drift"
    if existing is None:
        return "create"
    reauth = existing.grant_status == nylas.GrantStatus.INVALID or (
        old.get("grantId") and (old.get("phase") in WAITING_PHASES or old.get("scopeSet") != scope_set)
    )
    return "reauth" if reauth else "keep"


def _showing(old: Mapping[str, Any], reason: str) -> bool:
    ready = c.find_condition(old.get("conditions"), c.READY)
    return old.get("phase") == c.DEGRADED and ready is not None and ready.get("reason") == reason


def show_drift(report: Report, reason: str) -> None:
    """Degraded with the precise reason; the repair runs at once in the next reconcile."""
    report.condition(c.READY, False, reason, DRIFT_MESSAGES[reason])
    report.phase(c.DEGRADED)
    report.wake(0.0, "repair")


def refused(exc: nylas.NylasError) -> bool:
    """Nylas answered with a client error: nothing was created."""
    status = getattr(exc, "status", None)
    return isinstance(exc, nylas.NylasStatusError) and status is not None and 400 <= status < 500


def deletes_from_nylas(body: Mapping[str, Any]) -> bool:
    """Only ``deletionPolicy: Delete`` needs the operator at deletion, so only those grants carry
    the finalizer: deleting an Orphan grant (the default) never waits for the operator, and
    creating one costs no finalizer write."""
    return (body.get("spec") or {}).get("deletionPolicy") == "Delete"
