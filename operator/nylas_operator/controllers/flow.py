"""The one reconcile shape shared by the three kinds: read → decide → act → report → wake.

Owns: ``run()``, which every create/resume/update handler calls with its kind's ``reconcile``
function: it cancels a pending wake-up, honours the pause annotation (no Nylas calls at all),
turns ``Unresolved`` and Nylas errors into conditions via ``classify()``, writes status through
kopf's ``patch`` only when it changed, posts transition events and schedules the next wake-up.
Does not own: what a kind does (``connector.py``, ``credential.py``, ``grant.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import kopf

from nylas_operator import nylas
from nylas_operator.api import conditions as c
from nylas_operator.controllers import metrics
from nylas_operator.controllers.context import Context
from nylas_operator.controllers.errors import classify
from nylas_operator.controllers.references import Unresolved
from nylas_operator.controllers.status import Report
from nylas_operator.kube import KubeError

PAUSED_ANNOTATION = "nylas-operator.io/paused"

Reconcile = Callable[[Context, Mapping[str, Any], Report], Awaitable[None]]


def is_paused(body: Mapping[str, Any]) -> bool:
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(PAUSED_ANNOTATION, "")).lower() == "true"


def key_of(plural: str, body: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = body["metadata"]
    return (plural, str(meta["namespace"]), str(meta["name"]))


async def run(
    ctx: Context,
    plural: str,
    body: Mapping[str, Any],
    patch: kopf.Patch,
    reconcile: Reconcile,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    started = time.monotonic()
    key = key_of(plural, body)
    ctx.waker.cancel(key)
    report = Report(body, ctx.now())
    try:
        if is_paused(body):
            report.condition(
                c.SYNCED, False, c.Reason.PAUSED, f"{PAUSED_ANNOTATION}=true: no changes are sent to Nylas"
            )
            outcome = c.Reason.PAUSED
        else:
            outcome = await _attempt(ctx, key, body, report, reconcile, logger)
        metrics.reconciled(ctx, plural, outcome)
        await commit(ctx, plural, body, patch, report)
        metrics.took(ctx, plural, started)
    except KubeError as exc:
        # The apiserver is busy or away: run the whole reconcile again soon (nothing of this run
        # is written; a status flip to not-Ready for a load spike would only cost more writes).
        failure = classify(exc, attempt=ctx.waker.failed(key), settings=ctx.settings.retry)
        logger.info("Kubernetes request failed, retrying in %.1fs: %s", failure.retry_after or 0, exc)
        raise kopf.TemporaryError(failure.message, delay=failure.retry_after) from None
    if report.wake_after is not None:
        ctx.waker.after(key, report.wake_after, report.wake_reason)


async def _attempt(
    ctx: Context,
    key: tuple[str, str, str],
    body: Mapping[str, Any],
    report: Report,
    reconcile: Reconcile,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> str:
    retry = ctx.settings.retry
    try:
        await reconcile(ctx, body, report)
    except Unresolved as exc:
        resolved_reason = exc.reason in (
            c.Reason.SECRET_NOT_FOUND,
            c.Reason.SECRET_KEY_NOT_FOUND,
            c.Reason.INVALID_SERVICE_ACCOUNT_KEY,
        )
        if resolved_reason:
            report.condition(c.CREDENTIALS_RESOLVED, False, exc.reason, exc.message)
        report.not_ready(exc.reason, exc.message, phase=c.FAILED if exc.terminal else c.PENDING, synced=False)
        if not exc.terminal:
            # The Secret watch and parents wake us at once; this is only a safety net.
            report.wake(retry.max_delay.total_seconds(), "recheck")
        logger.info("waiting: %s", exc.message)
        return exc.reason
    except nylas.NylasError as exc:
        failure = classify(
            exc, attempt=ctx.waker.failed(key), settings=retry, after_consent=report.after_consent
        )
        phase = c.FAILED if failure.terminal else (report.fields.get("phase") or c.PENDING)
        report.not_ready(failure.reason, failure.message, phase=phase, synced=False)
        if failure.retry_after is not None:
            report.wake(failure.retry_after, "retry")
        request_id = getattr(exc, "request_id", None)
        logger.warning(
            "Nylas call failed (%s, request id %s): %s", failure.reason, request_id, failure.message
        )
        metrics.failed(ctx, key[0], failure.reason)
        return failure.reason
    ctx.waker.succeeded(key)
    return c.Reason.RECONCILE_SUCCESS


async def commit(
    ctx: Context, plural: str, body: Mapping[str, Any], patch: kopf.Patch, report: Report
) -> None:
    changes = report.status_patch()
    if report.dependents:
        # Dependents read this status: write it now (kopf's own patch lands only after we return),
        # and only then wake them. The write also refreshes the watch cache they read from.
        # kopf's patch does not repeat it: one status write per transition.
        meta = body["metadata"]
        if changes:
            await ctx.kube.patch_object(
                plural, meta["namespace"], meta["name"], {"status": changes}, status=True
            )
            changes = {}
        now = ctx.kube.cache.get(plural, meta["namespace"], meta["name"])
        version = str((now or {}).get("metadata", {}).get("resourceVersion") or "")
        dependents = ctx.waker.stale(report.dependents, version) if version else report.dependents
        await ctx.waker.bump_all(dependents, "parent-changed")
    for field, value in changes.items():
        patch.status[field] = value
    for annotation, value in report.annotations.items():
        patch.meta.annotations[annotation] = value
    for type_, reason, message in report.transition_events():
        await ctx.kube.post_event(body, type_, reason, message)
