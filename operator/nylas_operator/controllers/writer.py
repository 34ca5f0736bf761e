"""The one place that writes status: one PATCH per reconcile, then the events it stands for.

Owns: ``commit()``, which every reconcile ends with, and ``write_now()`` for the delete handler's
``InUse`` wait. A ``Report`` carries only what differs from the current status; nothing is
written when nothing changed. The write normally rides in kopf's own patch (kopf adds its
bookkeeping, ``status.lastHandledConfiguration``, to the same PATCH). When other objects read
this status (``Report.dependents``), it is written here at once, and only then are they woken:
kopf's patch lands only after the handler returns.
Does not own: what the status says (the ``decide_*`` modules through ``Report``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from nylas_operator.controllers.context import Context
from nylas_operator.controllers.status import Report


async def commit(
    ctx: Context, plural: str, body: Mapping[str, Any], patch: kopf.Patch, report: Report
) -> None:
    changes = report.status_patch()
    if report.dependents:
        # The write also refreshes the watch cache the dependents read from.
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
    await _post_events(ctx, body, report)


async def write_now(ctx: Context, plural: str, body: Mapping[str, Any], report: Report) -> None:
    """Outside a change handler (deletion): the same diff, written directly."""
    changes = report.status_patch()
    if changes:
        meta = body["metadata"]
        await ctx.kube.patch_object(plural, meta["namespace"], meta["name"], {"status": changes}, status=True)
    await _post_events(ctx, body, report)


async def _post_events(ctx: Context, body: Mapping[str, Any], report: Report) -> None:
    for type_, reason, message in report.transition_events():
        await ctx.kube.post_event(body, type_, reason, message)
