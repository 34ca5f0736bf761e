"""Metric hooks of the controllers: reconciles, errors and failed deletes by kind and reason, consent waits.

Owns: the few calls the controllers make; ``ctx.metrics`` is an ``observability.metrics.Metrics``
or None (unit tests, metrics disabled). Does not own: metric definitions (``observability/``).
"""

from __future__ import annotations

import time

from nylas_operator.controllers.context import Context
from nylas_operator.kube import KINDS


def _kind(plural: str) -> str:
    return KINDS.get(plural, plural)


def reconciled(ctx: Context, plural: str, result: str) -> None:
    if ctx.metrics is not None:
        ctx.metrics.record_reconcile(_kind(plural), result)


def took(ctx: Context, plural: str, started: float) -> None:
    """A reconcile that began at ``started`` (``time.monotonic()``) ended now, status written."""
    if ctx.metrics is not None:
        ctx.metrics.observe_reconcile_duration(_kind(plural), time.monotonic() - started)


def failed(ctx: Context, plural: str, reason: str) -> None:
    if ctx.metrics is not None:
        ctx.metrics.record_reconcile_error(_kind(plural), reason)


def deletion_failed(ctx: Context, plural: str, reason: str) -> None:
    """One failed Nylas delete of a deletion that keeps its finalizer and tries again."""
    if ctx.metrics is not None:
        ctx.metrics.record_deletion_failure(_kind(plural), reason)


def consent_waited(ctx: Context, seconds: float) -> None:
    """From consent URL issued to consent recorded."""
    if ctx.metrics is not None:
        ctx.metrics.observe_consent_wait("NylasCredential", seconds)


def settle_waited(ctx: Context, seconds: float) -> None:
    """From consent recorded to grant created."""
    if ctx.metrics is not None:
        ctx.metrics.observe_settle_wait("ServiceAccountGrant", seconds)
