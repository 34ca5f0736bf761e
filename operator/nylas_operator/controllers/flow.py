"""The one reconcile shape shared by the three kinds: read → decide → act → report → wake.

Owns: ``run()``, which every kopf create/resume/update handler (connectors, credentials) calls
with its kind's ``reconcile`` function, and ``run_queued()``, which the scheduler's workers call
(every run of a grant, ``informer.py``): both take the object's turn,
cancel a pending wake-up, honour the pause annotation (no Nylas calls at all),
turn ``Unresolved`` and Nylas errors into conditions via ``classify()``, hand the report to
``writer`` (the one status write) and schedule the next look (``scheduler.py``).
Does not own: what a kind does (``connector.py``, ``credential.py``, ``grant.py``).
"""

from __future__ import annotations

import logging
import time
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
from nylas_operator.kube import KINDS, KubeError

PAUSED_ANNOTATION = "nylas-operator.io/paused"

Reconcile = Callable[[Context, Mapping[str, Any], Report], Awaitable[None]]
Read = Callable[[Context, tuple[str, str, str]], Awaitable[Mapping[str, Any] | None]]
"""How a queued run gets its object (inside its turn); None: nothing to reconcile."""


async def read_fresh(ctx: Context, key: tuple[str, str, str]) -> Mapping[str, Any] | None:
    """A GET; a deleting object is left to its kind's delete handler."""
    body = await ctx.kube.get_object(*key)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    return body


def is_paused(body: Mapping[str, Any]) -> bool:
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(PAUSED_ANNOTATION, "")).lower() == "true"


async def run(
    ctx: Context,
    plural: str,
    status_model: type[BaseModel],
    body: Mapping[str, Any],
    patch: kopf.Patch,
    reconcile: Reconcile,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    """A run started by kopf (create, update, resume): the status rides in kopf's patch."""
    started = time.monotonic()
    key = writer.key_of(plural, body)
    async with ctx.scheduler.turn(key):
        ctx.scheduler.cancel(key)
        report = Report(body, ctx.now(), status_model)
        try:
            await _decide_and_act(ctx, key, body, report, reconcile, logger)
            await writer.commit(ctx, plural, body, patch, report)
            metrics.took(ctx, plural, started)
        except KubeError as exc:
            # The apiserver is busy or away: run the whole reconcile again soon (nothing of this
            # run is written; a status flip to not-Ready for a load spike would only cost writes).
            failure = classify(exc, attempt=ctx.scheduler.failed(key), settings=ctx.settings.retry)
            logger.info("Kubernetes request failed, retrying in %.1fs: %s", failure.retry_after or 0, exc)
            raise kopf.TemporaryError(failure.message, delay=failure.retry_after) from None
    _look_again(ctx, key, report)


async def run_queued(
    ctx: Context,
    key: tuple[str, str, str],
    status_model: type[BaseModel],
    reconcile: Reconcile,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    read: Read = read_fresh,
) -> None:
    """A run started by the scheduler: a fresh read (``read``), the same reconcile, one status
    PATCH."""
    started = time.monotonic()
    plural = key[0]
    async with ctx.scheduler.turn(key):
        ctx.scheduler.cancel(key)
        try:
            body = await read(ctx, key)
            if body is None:
                return  # gone, or being deleted (its delete handler owns it now)
            report = Report(body, ctx.now(), status_model)
            await _decide_and_act(ctx, key, body, report, reconcile, _about(logger, plural, body))
            await writer.write_now(ctx, plural, body, report)
            metrics.took(ctx, plural, started)
        except KubeError as exc:
            failure = classify(exc, attempt=ctx.scheduler.failed(key), settings=ctx.settings.retry)
            logger.info("Kubernetes request failed, retrying in %.1fs: %s", failure.retry_after or 0, exc)
            ctx.scheduler.after(key, failure.retry_after or 1.0, "kube-retry")
            return
    _look_again(ctx, key, report)


def _about(
    logger: logging.Logger | logging.LoggerAdapter[Any], plural: str, body: Mapping[str, Any]
) -> logging.LoggerAdapter[Any]:
    """The object reference kopf's per-object loggers carry, for the log lines of a queued run."""
    meta = body["metadata"]
    ref = {"kind": KINDS.get(plural, plural), "namespace": meta["namespace"], "name": meta["name"]}
    return logging.LoggerAdapter(logger, {"k8s_ref": {**ref, "uid": meta.get("uid")}})


def _look_again(ctx: Context, key: tuple[str, str, str], report: Report) -> None:
    """Arm the next look, counted from the moment the decision was made (``report.now``): the
    status write and the events in between must not delay a settle end or a state expiry."""
    if report.wake_after is not None:
        elapsed = (ctx.now() - report.now).total_seconds()
        ctx.scheduler.after(key, max(report.wake_after - elapsed, 0.0), report.wake_reason)


async def _decide_and_act(
    ctx: Context,
    key: tuple[str, str, str],
    body: Mapping[str, Any],
    report: Report,
    reconcile: Reconcile,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    if is_paused(body):
        report.condition(
            c.SYNCED, False, c.Reason.PAUSED, f"{PAUSED_ANNOTATION}=true: no changes are sent to Nylas"
        )
        outcome = c.Reason.PAUSED
    else:
        outcome = await _attempt(ctx, key, body, report, reconcile, logger)
    metrics.reconciled(ctx, key[0], outcome)


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
            exc, attempt=ctx.scheduler.failed(key), settings=retry, after_consent=report.after_consent
        )
        report_failure(report, failure)
        request_id = getattr(exc, "request_id", None)
        logger.warning(
            "Nylas call failed (%s, request id %s): %s", failure.reason, request_id, failure.message
        )
        metrics.failed(ctx, key[0], failure.reason)
        return failure.reason
    ctx.scheduler.succeeded(key)
    return c.Reason.RECONCILE_SUCCESS
