"""The one place that writes status: one PATCH per reconcile, then the events it stands for.

Owns: ``commit()`` (a run started by kopf: the status rides in kopf's own patch, which also
carries kopf's bookkeeping, ``status.lastHandledConfiguration``) and ``write_now()`` (a run
started by the scheduler, and the delete handler's ``InUse`` wait: one status PATCH of our own).
A ``Report`` carries only what differs from the current status; nothing is written when nothing
changed. When other objects read this status (``Report.dependents``), it is written at once, and
only then are they woken. Annotations consumed by a reconcile (recorded consent outcomes) are
removed after the status that holds them is written.
Does not own: what the status says (the ``decide_*`` modules through ``Report``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from nylas_operator.controllers.context import Context
from nylas_operator.controllers.status import Report


def key_of(plural: str, body: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = body["metadata"]
    return (plural, str(meta["namespace"]), str(meta["name"]))


async def commit(
    ctx: Context, plural: str, body: Mapping[str, Any], patch: kopf.Patch, report: Report
) -> None:
    changes = report.status_patch()
    if report.dependents:
        if changes:  # kopf's patch lands only after the handler returns: too late for them
            await _write_status(ctx, plural, body, changes)
            changes = {}
        _wake_dependents(ctx, plural, body, report)
    for field, value in changes.items():
        patch.status[field] = value
    for annotation, value in report.annotations.items():
        patch.meta.annotations[annotation] = value
    if changes or report.annotations:
        ctx.scheduler.written(key_of(plural, body))
    await _post_events(ctx, body, report)


async def write_now(ctx: Context, plural: str, body: Mapping[str, Any], report: Report) -> None:
    changes = report.status_patch()
    if changes:
        await _write_status(ctx, plural, body, changes)
    if report.annotations:  # after the status: a crash in between replays them harmlessly
        meta = body["metadata"]
        await ctx.kube.annotate(plural, meta["namespace"], meta["name"], report.annotations)
    if report.dependents:
        _wake_dependents(ctx, plural, body, report)
    await _post_events(ctx, body, report)


async def _write_status(ctx: Context, plural: str, body: Mapping[str, Any], changes: dict[str, Any]) -> None:
    # The write also refreshes the watch cache that dependents read their parent from.
    meta = body["metadata"]
    await ctx.kube.patch_object(plural, meta["namespace"], meta["name"], {"status": changes}, status=True)


def _wake_dependents(ctx: Context, plural: str, body: Mapping[str, Any], report: Report) -> None:
    meta = body["metadata"]
    now = ctx.kube.cache.get(plural, meta["namespace"], meta["name"])
    version = str((now or {}).get("metadata", {}).get("resourceVersion") or "")
    dependents = ctx.scheduler.stale(report.dependents, version) if version else report.dependents
    ctx.scheduler.now_all(dependents, "parent-changed")


async def _post_events(ctx: Context, body: Mapping[str, Any], report: Report) -> None:
    for type_, reason, message in report.transition_events():
        await ctx.kube.post_event(body, type_, reason, message)
