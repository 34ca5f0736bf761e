"""The one reconcile shape shared by the three kinds: read → decide → act → report → wake.

Owns: ``run()``, which every create/resume/update handler calls with its kind's ``reconcile``
function: it cancels a pending wake-up, honours the pause annotation (no Nylas calls at all),
turns ``Unresolved`` and Nylas errors into conditions via ``classify()``, hands the report to
``writer.commit`` (the one status write) and schedules the next wake-up.
Does not own: what a kind does (``connector.py``, ``credential.py``, ``grant.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import kopf
from pydantic import BaseModel

from nylas_operator import nylas
from nylas_operator.api import conditions as c
from nylas_operator.controllers import metrics, writer
from nylas_operator.controllers.context import Context
from nylas_operator.controllers.errors import classify, report_failure, report_unresolved
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
    status_model: type[BaseModel],
    body: Mapping[str, Any],
    patch: kopf.Patch,
    reconcile: Reconcile,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    key = key_of(plural, body)
    ctx.waker.cancel(key)
    report = Report(body, ctx.now(), status_model)
    try:
        if is_paused(body):
            report.condition(
                c.SYNCED, False, c.Reason.PAUSED, f"{PAUSED_ANNOTATION}=true: no changes are sent to Nylas"
            )
            outcome = c.Reason.PAUSED
        else:
            outcome = await _attempt(ctx, key, body, report, reconcile, logger)
        metrics.reconciled(ctx, plural, outcome)
        await writer.commit(ctx, plural, body, patch, report)
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
        report_unresolved(report, exc, recheck=retry.max_delay.total_seconds())
        logger.info("waiting: %s", exc.message)
        return exc.reason
    except nylas.NylasError as exc:
        failure = classify(
            exc, attempt=ctx.waker.failed(key), settings=retry, after_consent=report.after_consent
        )
        report_failure(report, failure)
        request_id = getattr(exc, "request_id", None)
        logger.warning(
            "Nylas call failed (%s, request id %s): %s", failure.reason, request_id, failure.message
        )
        metrics.failed(ctx, key[0], failure.reason)
        return failure.reason
    ctx.waker.succeeded(key)
    return c.Reason.RECONCILE_SUCCESS
