"""NylasCredential decisions: pure functions over what a reconcile observed.

Owns: the provider/type fit, which scope sets need consent, the new ``status.consent`` list
(recorded outcomes from annotations applied, a fresh URL for a pending or expired state,
``settledAt`` for granted sets), the consent conditions and phase, when to look again (settle
end, state expiry), and which grants to wake once the status is written. No I/O here:
``credential.py`` reads, acts and reports; ``tests/unit/controllers/test_decide_credential.py``
drives these tables with a fake clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nylas_operator.api import conditions as c
from nylas_operator.api.credential import SHARED_TENANTS, NylasCredentialSpec
from nylas_operator.consent.tokens import new_state
from nylas_operator.controllers.consent import (
    ADMIN_CONSENT_ANNOTATION,
    DEFAULT_SET,
    RESULT_ANNOTATION_PREFIX,
    ceil_second,
    scope_set_key,
    state_expired,
    unconfirmed_message,
)
from nylas_operator.controllers.references import Unresolved
from nylas_operator.controllers.status import Report

TYPE_OF_PROVIDER = {"microsoft": "adminconsent", "google": "serviceaccount"}

MakeUrl = Callable[[str, list[str] | None], str | None]
"""``make_url(state, scopes)``: a consent URL, or None without a callback URL."""


def check_type(spec: NylasCredentialSpec, provider: str) -> None:
    if TYPE_OF_PROVIDER[provider] != spec.type:
        raise Unresolved(
            c.Reason.WRONG_PROVIDER,
            f"type {spec.type} does not fit a {provider} connector (use {TYPE_OF_PROVIDER[provider]})",
            terminal=True,
        )


def needed_scope_sets(spec: NylasCredentialSpec, grants: list[dict[str, Any]]) -> dict[str, list[str] | None]:
    """The credential's own set plus every live grant's custom set ('common' tenants: own set only)."""
    base = spec.admin_consent.scopes if spec.admin_consent else None
    needed: dict[str, list[str] | None] = {scope_set_key(base): base}
    for grant in grants:
        scopes = (grant.get("spec") or {}).get("scopes")
        if scopes and not grant["metadata"].get("deletionTimestamp"):
            needed.setdefault(scope_set_key(scopes), scopes)
    tenant = spec.admin_consent.tenant if spec.admin_consent else "common"
    if tenant in SHARED_TENANTS and any(key != DEFAULT_SET for key in needed):
        needed = {k: v for k, v in needed.items() if k == DEFAULT_SET} or {DEFAULT_SET: None}
    return needed


# -- consent records --------------------------------------------------------------------------------


@dataclass
class ConsentPlan:
    """What a credential reconcile decided about consent."""

    records: list[dict[str, Any]]
    remove_annotations: list[str] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    newly_granted: list[dict[str, Any]] = field(default_factory=list)
    """Records granted in this run (for the consent-wait metric)."""


def plan_consent(
    *,
    old_records: list[dict[str, Any]],
    needed: dict[str, list[str] | None],
    annotations: Mapping[str, str],
    now: datetime,
    delay: timedelta,
    state_ttl: timedelta,
    make_url: MakeUrl,
) -> ConsentPlan:
    """The new ``status.consent`` list from the old one, the needed scope sets and the recorded
    outcomes in annotations."""
    by_key = {r.get("scopeSet"): dict(r) for r in old_records}
    plan = ConsentPlan(records=[])
    if ADMIN_CONSENT_ANNOTATION in annotations:
        plan.remove_annotations.append(ADMIN_CONSENT_ANNOTATION)
    for annotation, raw in annotations.items():
        if annotation.startswith(RESULT_ANNOTATION_PREFIX):
            plan.remove_annotations.append(annotation)
            _apply_outcome(plan, by_key, annotation[len(RESULT_ANNOTATION_PREFIX) :], raw, delay, now)
    manual = annotations.get(ADMIN_CONSENT_ANNOTATION, "").strip().lower() == "granted"
    for key, scopes in needed.items():
        record = by_key.get(key) or {"scopeSet": key, "scopes": sorted(set(scopes)) if scopes else None}
        if not record.get("grantedAt") and manual:
            _grant(record, ceil_second(now), "annotation", delay)
            plan.events.append(
                ("Normal", "ConsentGranted", f"admin consent recorded by annotation for scope set {key}")
            )
        if record.get("grantedAt"):
            record["settledAt"] = c.now_rfc3339(c.parse_rfc3339(record["grantedAt"]) + delay)
        elif not record.get("stateHash") or state_expired(record, now):
            _issue_url(record, now, state_ttl, make_url)
        plan.records.append({k: v for k, v in record.items() if v is not None})
    old_granted = {r.get("scopeSet") for r in old_records if r.get("grantedAt")}
    plan.newly_granted = [r for r in plan.records if r.get("grantedAt") and r["scopeSet"] not in old_granted]
    return plan


RESULT_LAG = timedelta(minutes=2)
"""How long before the operator reads it a callback outcome may say it happened: the callback's
write reaches the operator within seconds; an older time (a restart in between) is counted from
``now - RESULT_LAG``, which only lengthens the settle wait."""


def result_time(at: datetime, record: Mapping[str, Any], now: datetime) -> datetime:
    """The consent time an outcome annotation may claim, clamped: never after ``now`` (a future
    time would lengthen the wait as the writer likes), never before the state's URL was issued nor
    more than ``RESULT_LAG`` before ``now`` (a past time would shorten the settle wait)."""
    earliest = now - RESULT_LAG
    requested = record.get("requestedAt")
    if requested:
        earliest = max(earliest, c.parse_rfc3339(str(requested)))
    return min(max(at, earliest), now)


def _apply_outcome(
    plan: ConsentPlan, by_key: dict[Any, dict[str, Any]], key: str, raw: str, delay: timedelta, now: datetime
) -> None:
    """One callback outcome (annotation ``consent-<set>``), if it answers the current state.

    The annotation is the operator's own channel, never trusted as more than "the state's holder
    said so": it must name the record's current state hash, its time is clamped (``result_time``),
    and a refusal is only shown: the state and its URL stay valid, so a forged refusal blocks
    nothing and the administrator retries the same link.
    """
    record = by_key.get(key)
    try:
        outcome = json.loads(raw)
        at = c.parse_rfc3339(outcome["at"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return
    if not isinstance(outcome, dict) or record is None or record.get("grantedAt"):
        return
    if not record.get("stateHash") or record.get("stateHash") != outcome.get("stateHash"):
        return  # stale: a newer URL replaced that state
    if outcome.get("granted") is True:
        _grant(record, ceil_second(result_time(at, record, now)), "callback", delay)
        tenant = outcome.get("tenant")
        record["tenantId"] = str(tenant)[:128] if tenant else None
        plan.events.append(("Normal", "ConsentGranted", f"admin consent recorded for scope set {key}"))
        return
    description = outcome.get("errorDescription")
    record.update(
        error=str(outcome.get("error") or "access_denied")[:128],
        errorDescription=str(description)[:1024] if description else None,
    )
    plan.events.append(
        ("Warning", "ConsentDenied", f"admin consent refused for scope set {key}: {record['error']}")
    )


def _issue_url(record: dict[str, Any], now: datetime, state_ttl: timedelta, make_url: MakeUrl) -> None:
    token, state_hash = new_state()
    url = make_url(token, record.get("scopes"))
    record.update(
        consentUrl=url,
        stateHash=state_hash if url else None,
        requestedAt=c.now_rfc3339(now),
        expiresAt=c.now_rfc3339(now + state_ttl) if url else None,
    )


def _grant(record: dict[str, Any], at: datetime, how: str, delay: timedelta) -> None:
    record.update(
        grantedAt=c.now_rfc3339(at),
        grantedBy=how,
        settledAt=c.now_rfc3339(at + delay),
        stateHash=None,
        consentUrl=None,
        expiresAt=None,
        error=None,
        errorDescription=None,
        tenantId=None,
        confirmedAt=None,
        confirmedRoles=None,
        confirmError=None,
    )


def drop_unconfirmed(
    records: list[dict[str, Any]], keys: list[str], now: datetime, state_ttl: timedelta, make_url: MakeUrl
) -> None:
    """Forget the consent of the scope sets ``keys`` (Microsoft never confirmed it) and issue each a
    new consent URL: the administrator consents again."""
    for i, record in enumerate(records):
        if record.get("scopeSet") in keys:
            fresh: dict[str, Any] = {"scopeSet": record["scopeSet"], "scopes": record.get("scopes")}
            _issue_url(fresh, now, state_ttl, make_url)
            records[i] = {k: v for k, v in fresh.items() if v is not None}


# -- what the records mean ---------------------------------------------------------------------------


def report_consent(
    report: Report,
    records: list[dict[str, Any]],
    *,
    has_callback: bool,
    confirming: Callable[[Mapping[str, Any]], bool] = lambda _: False,
) -> None:
    """Conditions, phase and wake-ups from the consent records (the first is the credential's own).
    ``confirming(record)``: a settled record still waits for Microsoft's confirmation."""
    now = report.now
    base = records[0]
    report.set(consent=records, consent_url=base.get("consentUrl"), settled_at=base.get("settledAt"))
    pending = [r for r in records if not r.get("grantedAt")]
    settling = [r for r in records if r.get("grantedAt") and c.parse_rfc3339(r["settledAt"]) > now]
    unconfirmed = [r for r in records if r.get("grantedAt") and r not in settling and confirming(r)]
    denied = [r for r in pending if r.get("error")]
    _consent_granted(report, pending, denied, has_callback)
    if pending:
        report.condition(c.CONSENT_SETTLED, False, c.Reason.AWAITING_CONSENT, "no consent recorded yet")
        report.not_ready(
            c.Reason.CONSENT_DENIED if denied else c.Reason.AWAITING_CONSENT,
            "waiting for admin consent",
            phase=c.AWAITING_CONSENT,
        )
    elif settling:
        until = min(c.parse_rfc3339(r["settledAt"]) for r in settling)
        message = f"Microsoft caches scopes: consent is usable after {c.now_rfc3339(until)}"
        report.condition(c.CONSENT_SETTLED, False, c.Reason.CONSENT_SETTLING, message)
        report.not_ready(c.Reason.CONSENT_SETTLING, message, phase=c.CONSENT_SETTLING)
        report.wake((until - now).total_seconds() + 0.5, "settled")
    elif unconfirmed:
        reason, message = unconfirmed_message(unconfirmed[0], f" of scope set {unconfirmed[0]['scopeSet']}")
        report.condition(c.CONSENT_SETTLED, False, reason, message)
        report.not_ready(reason, message, phase=c.CONSENT_SETTLING)
    else:
        report.condition(c.CONSENT_SETTLED, True, c.Reason.CONSENT_SETTLED)
        report.ready()
    expiries = [c.parse_rfc3339(r["expiresAt"]) for r in pending if r.get("expiresAt")]
    if expiries:
        report.wake((min(expiries) - now).total_seconds() + 1.0, "state-expired")


def _consent_granted(
    report: Report, pending: list[dict[str, Any]], denied: list[dict[str, Any]], has_callback: bool
) -> None:
    if denied:
        r = denied[0]
        detail = f"{r['error']}: {r['errorDescription']}" if r.get("errorDescription") else r["error"]
        message = (
            f"the administrator refused consent ({detail}); the consent URL in status.consent still "
            "works: open it again once the problem is fixed"
        )
        report.condition(c.CONSENT_GRANTED, False, c.Reason.CONSENT_DENIED, message)
    elif pending:
        hint = (
            "open status.consentUrl as an Entra administrator"
            if has_callback
            else (
                "no callback URL is configured: grant consent in Entra, then annotate "
                f"{ADMIN_CONSENT_ANNOTATION}=granted"
            )
        )
        report.condition(
            c.CONSENT_GRANTED, False, c.Reason.AWAITING_CONSENT, f"waiting for admin consent: {hint}"
        )
    else:
        report.condition(c.CONSENT_GRANTED, True, c.Reason.CONSENT_GRANTED)


def grants_to_wake(
    report: Report, grants: list[dict[str, Any]], *, credential_id: str, admin_consent: bool
) -> list[str]:
    """The grants that decide on what changed in this status: the credential id, the consent
    records (Microsoft) or Ready (Google). A Ready grant has nothing to wait for when the
    credential becomes (or stays) usable: waking it would only cost an update cycle."""
    ready_now = c.is_true(report.conditions, c.READY)
    ready_changed = c.is_true(report.old.get("conditions"), c.READY) != ready_now
    seen_by_grants = (
        (report.old.get("consent") or []) != (report.get("consent") or [])
        or report.old.get("credentialId") != credential_id
        or (ready_changed and not admin_consent)
    )
    if not seen_by_grants:
        return []
    return [
        g["metadata"]["name"]
        for g in grants
        if not (ready_now and (g.get("status") or {}).get("phase") == c.PHASE_READY)
    ]
