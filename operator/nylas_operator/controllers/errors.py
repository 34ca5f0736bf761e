"""The single place that decides what a failure means: give up until the input changes, or retry.

Owns: ``classify()`` (a Nylas client error or a Kubernetes helper error → ``Failure``) and the
backoff arithmetic. An apiserver that did not answer, throttled (429), failed (5xx) or reported a
write conflict (409) is retried within about a second (capped at ``min_delay``): these are load
or restarts, not bad input, and kopf's own fallback would wait a minute. Only input
that a spec (or Secret) change must fix is terminal; everything else retries with a growing,
capped, jittered delay, and a 429's ``Retry-After`` is honoured. Terminal here does not mean kopf's
``PermanentError``: the object reports ``Failed`` and waits, and a spec or Secret change wakes it.
Also the status a blocked or failed reconcile shows (``report_unresolved``, ``report_failure``).
Does not own: writing the status (``writer.py``) or scheduling the retry (``scheduler.py``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from nylas_operator import nylas
from nylas_operator.api import conditions as c
from nylas_operator.api.conditions import Reason
from nylas_operator.controllers.references import Unresolved
from nylas_operator.controllers.status import Report
from nylas_operator.kube import KubeError
from nylas_operator.settings import RetrySettings

# Microsoft's "consent not applied yet" answers, relayed by Nylas right after an admin consent.
NOT_PROPAGATED_CODES = nylas.classify.NOT_PROPAGATED_CODES


@dataclass(frozen=True)
class Failure:
    reason: str
    message: str
    terminal: bool = False
    retry_after: float | None = None
    """Seconds until the next attempt; None for terminal failures."""


def backoff(attempt: int, settings: RetrySettings, rng: Callable[[], float] = random.random) -> float:
    """Seconds before retry number ``attempt`` (0 = the first retry): doubling, capped, jittered."""
    base: float = settings.min_delay.total_seconds() * float(2 ** min(max(attempt, 0), 20))
    capped = min(base, settings.max_delay.total_seconds())
    return capped * (1 - settings.jitter + settings.jitter * rng())


def is_not_propagated(exc: nylas.NylasStatusError) -> bool:
    """A 400/403 carrying one of Microsoft's "consent not applied yet" codes, in any shape."""
    return nylas.classify.is_not_propagated(exc)


KUBE_FIRST_DELAY = 0.5
"""Seconds before the first retry after a transient apiserver failure (doubling per failure)."""
TRANSIENT_KUBE_STATUSES = frozenset({0, 409, 429, 500, 502, 503, 504})


def kube_backoff(attempt: int, settings: RetrySettings, rng: Callable[[], float] = random.random) -> float:
    base = min(KUBE_FIRST_DELAY * float(2 ** min(max(attempt, 0), 20)), settings.min_delay.total_seconds())
    return base * (1 - settings.jitter + settings.jitter * rng())


def classify(
    exc: nylas.NylasError | KubeError,
    *,
    attempt: int,
    settings: RetrySettings,
    after_consent: bool = False,
    rng: Callable[[], float] = random.random,
) -> Failure:
    """Map a client error to a ``Failure``. ``after_consent``: the call was a Microsoft grant
    creation after the settle wait, where provider refusals mean "not propagated yet"."""
    message = str(exc)
    if isinstance(exc, KubeError):
        if exc.status in TRANSIENT_KUBE_STATUSES:
            return Failure(Reason.RECONCILE_ERROR, message, retry_after=kube_backoff(attempt, settings, rng))
        return Failure(Reason.RECONCILE_ERROR, message, retry_after=backoff(attempt, settings, rng))
    delay = backoff(attempt, settings, rng)
    if isinstance(exc, nylas.NylasTransportError | nylas.NylasServerError | nylas.NylasResponseError):
        return Failure(Reason.NYLAS_UNAVAILABLE, message, retry_after=delay)
    if isinstance(exc, nylas.NylasRateLimitedError):
        return Failure(Reason.RATE_LIMITED, message, retry_after=max(delay, exc.retry_after or 0.0))
    if isinstance(exc, nylas.NylasUnauthorizedError):
        # The key may be rotated in its Secret (which wakes the object), or the region fixed.
        return Failure(Reason.UNAUTHORIZED, message, retry_after=delay)
    if isinstance(exc, nylas.NylasStatusError) and (
        is_not_propagated(exc) or (after_consent and exc.status in (400, 403) and exc.provider_error)
    ):
        pe = exc.provider_error
        said = f" (Microsoft: {pe.code + ': ' if pe and pe.code else ''}{pe.message or ''})" if pe else ""
        return Failure(
            Reason.SCOPES_NOT_PROPAGATED,
            f"Microsoft has not applied the admin consent yet{said}; retrying with backoff",
            retry_after=delay,
        )
    if nylas.classify.is_delegation_missing(exc):
        # Fixed in the Google Admin console, outside Kubernetes: keep retrying, slowly.
        return Failure(
            Reason.DELEGATION_NOT_CONFIGURED,
            f"Google refused the service account: domain-wide delegation is not configured "
            f"for these scopes ({message})",
            retry_after=delay,
        )
    if isinstance(exc, nylas.NylasForbiddenError):
        return Failure(Reason.FORBIDDEN, message, retry_after=delay)
    if isinstance(exc, nylas.NylasBadRequestError):
        if exc.provider_error is not None:
            # The provider refused (e.g. domain-wide delegation not configured yet): fixed outside
            # Kubernetes, so keep retrying, slowly.
            return Failure(Reason.NYLAS_REJECTED, message, retry_after=delay)
        return Failure(Reason.NYLAS_REJECTED, message, terminal=True)
    # 404 of a parent, 409, 423, anything else: the world may change without us.
    return Failure(Reason.RECONCILE_ERROR, message, retry_after=delay)


RESOLUTION_REASONS = frozenset(
    {Reason.SECRET_NOT_FOUND, Reason.SECRET_KEY_NOT_FOUND, Reason.INVALID_SERVICE_ACCOUNT_KEY}
)


def report_unresolved(report: Report, exc: Unresolved, *, recheck: float) -> None:
    """A missing or invalid input: not Ready, not Synced, with its precise reason. Terminal ones
    wait for a spec or Secret change; the others are also re-checked after ``recheck`` seconds (the
    Secret watch and parents wake the object at once; this is only a safety net)."""
    if exc.reason in RESOLUTION_REASONS:
        report.condition(c.CREDENTIALS_RESOLVED, False, exc.reason, exc.message)
    report.not_ready(exc.reason, exc.message, phase=c.FAILED if exc.terminal else c.PENDING, synced=False)
    if not exc.terminal:
        report.wake(recheck, "recheck")


def report_failure(report: Report, failure: Failure) -> None:
    """A failed Nylas call: terminal ones are ``Failed``; the others keep the phase the decision
    chose (e.g. ``Degraded`` during a repair) and retry after the backoff."""
    phase = c.FAILED if failure.terminal else (report.fields.get("phase") or c.PENDING)
    report.not_ready(failure.reason, failure.message, phase=phase, synced=False)
    if failure.retry_after is not None:
        report.wake(failure.retry_after, "retry")
