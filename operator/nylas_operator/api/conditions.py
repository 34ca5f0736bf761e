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


def now_rfc3339(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def make_condition(
    type_: str, status: bool | str, reason: str, message: str = "", *, generation: int | None = None
) -> dict[str, Any]:
    if isinstance(status, bool):
        status = "True" if status else "False"
    cond: dict[str, Any] = {"type": type_, "status": status, "reason": reason, "message": message}
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
