"""Conditions, reasons and phases: one place that builds them, so every kind reports alike.

`set_condition` keeps `lastTransitionTime` unless the status flips and stamps
`observedGeneration`; setting an equal condition is a no-op, so status writes do not churn.
Messages must be stable: no timestamps that change per attempt, no request ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

# Condition types.
READY: Final = "Ready"
SYNCED: Final = "Synced"
CREDENTIALS_RESOLVED: Final = "CredentialsResolved"
CONSENT_GRANTED: Final = "ConsentGranted"
CONSENT_SETTLED: Final = "ConsentSettled"
REDIRECT_URI: Final = "RedirectURIRegistered"

# Phases (status.phase mirrors the conditions for `kubectl get`).
PENDING: Final = "Pending"
AWAITING_CONSENT: Final = "AwaitingConsent"
CONSENT_SETTLING: Final = "ConsentSettling"
CREATING: Final = "Creating"
PHASE_READY: Final = "Ready"
DEGRADED: Final = "Degraded"
FAILED: Final = "Failed"
DELETING: Final = "Deleting"
PAUSED: Final = "Paused"


class Reason:
    """CamelCase reasons used in conditions and events."""

    AVAILABLE: Final = "Available"
    RECONCILE_SUCCESS: Final = "ReconcileSuccess"
    RECONCILE_ERROR: Final = "ReconcileError"
    RESOLVED: Final = "Resolved"
    SECRET_NOT_FOUND: Final = "SecretNotFound"  # noqa: S105 (a reason)
    SECRET_KEY_NOT_FOUND: Final = "SecretKeyNotFound"  # noqa: S105 (a reason)
    INVALID_SERVICE_ACCOUNT_KEY: Final = "InvalidServiceAccountKey"
    CONNECTOR_NOT_FOUND: Final = "ConnectorNotFound"
    CONNECTOR_NOT_READY: Final = "ConnectorNotReady"
    CREDENTIAL_NOT_FOUND: Final = "CredentialNotFound"
    CREDENTIAL_NOT_READY: Final = "CredentialNotReady"
    WRONG_PROVIDER: Final = "WrongProvider"
    SCOPES_REQUIRED: Final = "ScopesRequired"
    CUSTOM_SCOPES_NEED_TENANT: Final = "CustomScopesNeedTenant"
    CONFLICT: Final = "Conflict"
    UNAUTHORIZED: Final = "Unauthorized"
    FORBIDDEN: Final = "Forbidden"
    RATE_LIMITED: Final = "RateLimited"
    NYLAS_UNAVAILABLE: Final = "NylasUnavailable"
    NYLAS_REJECTED: Final = "NylasRejected"
    AWAITING_CONSENT: Final = "AwaitingConsent"
    CONSENT_GRANTED: Final = "ConsentGranted"
    CONSENT_DENIED: Final = "ConsentDenied"
    CONSENT_SETTLING: Final = "ConsentSettling"
    CONSENT_SETTLED: Final = "ConsentSettled"
    CONSENT_CONFIRMING: Final = "ConsentConfirming"
    CONSENT_NOT_CONFIRMED: Final = "ConsentNotConfirmed"
    CONSENT_NOT_REQUIRED: Final = "ConsentNotRequired"
    SCOPES_NOT_PROPAGATED: Final = "ScopesNotPropagated"
    DELEGATION_NOT_CONFIGURED: Final = "DelegationNotConfigured"
    APPLICATION_MISMATCH: Final = "ApplicationMismatch"
    REDIRECT_URI_NOT_REGISTERED: Final = "RedirectUriNotRegistered"
    REDIRECT_URI_REGISTERED: Final = "RedirectUriRegistered"
    CREATING: Final = "Creating"
    GRANT_INVALID: Final = "GrantInvalid"
    GRANT_MISSING: Final = "GrantMissing"
    PAUSED: Final = "Paused"
    DELETING: Final = "Deleting"
    IN_USE: Final = "InUse"
    DELETE_FAILED: Final = "DeleteFailed"
    API_HOST_NOT_ALLOWED: Final = "ApiHostNotAllowed"


def now_rfc3339(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


MAX_MESSAGE: Final = 1024
"""Longest condition message kept. Messages quote Nylas's and providers' answers (and an ``apiUrl``
the tenant chose); status is read by every ``kubectl get`` and watched by every client."""


def cap_message(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` without control characters, at most ``limit`` characters (an ellipsis marks a cut)."""
    clean = "".join(ch if ch.isprintable() else " " for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def make_condition(
    type_: str, status: bool | str, reason: str, message: str = "", *, generation: int | None = None
) -> dict[str, Any]:
    if isinstance(status, bool):
        status = "True" if status else "False"
    cond: dict[str, Any] = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": cap_message(message),
    }
    if generation is not None:
        cond["observedGeneration"] = generation
    return cond


def set_condition(
    conditions: Sequence[Mapping[str, Any]],
    new: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Return a new list with `new` merged in by type.

    `lastTransitionTime` moves only when the status flips; an identical condition returns the
    list unchanged (so a status write can be skipped).
    """
    result: list[dict[str, Any]] = []
    found = False
    for old in conditions:
        if old.get("type") != new["type"]:
            result.append(dict(old))
            continue
        found = True
        merged = dict(new)
        if old.get("status") == new["status"] and old.get("lastTransitionTime"):
            merged["lastTransitionTime"] = old["lastTransitionTime"]
        else:
            merged["lastTransitionTime"] = now_rfc3339(now)
        result.append(merged)
    if not found:
        result.append({**new, "lastTransitionTime": now_rfc3339(now)})
    return result


def set_conditions(
    conditions: Sequence[Mapping[str, Any]],
    updates: Iterable[Mapping[str, Any]],
    *,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    result = [dict(c) for c in conditions]
    for new in updates:
        result = set_condition(result, new, now=now)
    return result


def find_condition(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    for cond in conditions or ():
        if cond.get("type") == type_:
            return cond
    return None


def is_true(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> bool:
    cond = find_condition(conditions, type_)
    return bool(cond and cond.get("status") == "True")


# --- kstatus ---------------------------------------------------------------------------------------
# kstatus (sigs.k8s.io/cli-utils/pkg/kstatus), read by Flux, kpt and kubectl-wait-like tools, judges
# a custom resource by two "abnormal-true" conditions: Reconciling=True means InProgress,
# Stalled=True means Failed (a person must act), neither means it falls back to Ready. Both are
# derived from what the object already says, never decided separately, so they cannot disagree
# with Ready, the phase or the Argo CD health Lua (files/argocd/health.lua, same judgement).

RECONCILING: Final = "Reconciling"
STALLED: Final = "Stalled"

TERMINAL_REASONS: Final = frozenset(
    {
        Reason.CONFLICT,
        Reason.WRONG_PROVIDER,
        Reason.SCOPES_REQUIRED,
        Reason.CUSTOM_SCOPES_NEED_TENANT,
        Reason.INVALID_SERVICE_ACCOUNT_KEY,
        Reason.CONSENT_DENIED,
        Reason.GRANT_INVALID,
        Reason.GRANT_MISSING,
        Reason.UNAUTHORIZED,
        Reason.FORBIDDEN,
        Reason.NYLAS_REJECTED,
    }
)
"""Reasons of Ready=False that need a spec, Secret or Nylas-side change, not more waiting (the
health Lua's ``terminal`` table lists the same reasons; a test keeps them equal)."""

_STALLED_PHASES: Final = frozenset({FAILED, DEGRADED, AWAITING_CONSENT})
_QUIET_PHASES: Final = frozenset({PHASE_READY, PAUSED})


def kstatus_condition(
    conditions: Sequence[Mapping[str, Any]] | None, phase: str | None
) -> tuple[str, str, str] | None:
    """Pure: which of Reconciling / Stalled is True now, as ``(type, reason, message)``; None for
    neither (Ready; Paused: the operator deliberately does nothing; no Ready condition yet), where
    kstatus reads Ready.

    Waiting for admin consent is Stalled: it ends only when a tenant administrator acts, so a Flux
    health check should fail fast and say so rather than run into its timeout.
    """
    ready = find_condition(conditions, READY)
    ready_true = ready is not None and ready.get("status") == "True"
    reason = str((ready or {}).get("reason") or phase or "Reconciling")
    message = str((ready or {}).get("message") or "")
    if phase in _QUIET_PHASES and (ready_true or phase == PAUSED):
        return None
    if ready is None or (phase is None and ready_true):
        return None  # derived from Ready: without one nothing is decided yet
    if phase in _STALLED_PHASES or reason in TERMINAL_REASONS or reason == Reason.AWAITING_CONSENT:
        return STALLED, reason, message
    return RECONCILING, reason, message


def with_kstatus(
    conditions: Sequence[Mapping[str, Any]],
    *,
    phase: str | None,
    generation: int | None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """``conditions`` with Reconciling / Stalled set to match ``kstatus_condition``: the True one
    merged in (``lastTransitionTime`` kept while it stays True), the other removed, as kstatus
    conditions are present only while they hold."""
    verdict = kstatus_condition(conditions, phase)
    keep = [dict(cond) for cond in conditions if cond.get("type") not in (RECONCILING, STALLED)]
    if verdict is None:
        return keep
    type_, reason, message = verdict
    previous = [dict(cond) for cond in conditions if cond.get("type") == type_]
    merged = set_condition(
        previous, make_condition(type_, True, reason, message, generation=generation), now=now
    )
    return keep + merged
