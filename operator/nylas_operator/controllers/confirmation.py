"""Asking Microsoft whether a tenant really admin-consented (``--confirm-consent``): the shell.

Owns: for one credential reconcile, asking the token endpoint (``entra.TokenClient``, with the
credential's Azure app: its own or the connector's provider app, the one sent to Nylas) about
each consent record that is due (``decide_confirm.due``), applying the answers
(``decide_confirm.apply_answer``), the in-memory time of each record's last check (the backoff's
input; a restart asks once more at once) and the timer of the next check. The token is never
kept: only whether Microsoft confirmed, its roles' names and the reason when it did not.
Does not own: what an answer means (``decide_confirm.py``) or the status (``credential.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from nylas_operator.controllers import decide_confirm
from nylas_operator.controllers.context import Context
from nylas_operator.controllers.status import Report

log = logging.getLogger("nylas_operator.consent")


def _last_checked(ctx: Context, namespace: str, name: str) -> dict[str, datetime]:
    return {k[2]: v for k, v in ctx.confirm_checks.items() if k[:2] == (namespace, name)}


def forget(ctx: Context, namespace: str, name: str) -> None:
    for key in [k for k in ctx.confirm_checks if k[:2] == (namespace, name)]:
        del ctx.confirm_checks[key]


async def check(
    ctx: Context,
    meta: Mapping[str, Any],
    report: Report,
    spec_tenant: str | None,
    records: list[dict[str, Any]],
    app: tuple[str | None, SecretStr | None],
) -> decide_confirm.Outcome:
    """Ask Microsoft about the records that are due; wake the credential for the next check."""
    out = decide_confirm.Outcome()
    settings = ctx.settings.consent
    if not settings.confirm or ctx.confirmer is None:
        return out
    namespace, name = str(meta["namespace"]), str(meta["name"])
    client_id, secret = app
    now = report.now
    by_key = {str(r["scopeSet"]): r for r in records}
    for due in decide_confirm.due(
        records,
        spec_tenant=spec_tenant,
        enabled=True,
        now=now,
        last_checked=_last_checked(ctx, namespace, name),
    ):
        answer = None
        if due.tenant is not None and client_id and secret is not None:
            answer = await ctx.confirmer.ask(due.tenant, client_id, secret)
        ctx.confirm_checks[(namespace, name, due.scope_set)] = now
        decide_confirm.apply_answer(
            by_key[due.scope_set], answer, now=now, timeout=settings.confirm_timeout, out=out
        )
        log.info(
            "consent of NylasCredential %s/%s scope set %s: %s",
            namespace,
            name,
            due.scope_set,
            "confirmed by Microsoft" if by_key[due.scope_set].get("confirmedAt") else "not confirmed",
        )
    for key in out.dropped:
        ctx.confirm_checks.pop((namespace, name, key), None)
    wake = decide_confirm.next_check(
        records,
        spec_tenant=spec_tenant,
        enabled=True,
        now=now,
        last_checked=_last_checked(ctx, namespace, name),
    )
    if wake is not None:
        report.wake(wake, "confirm")
    return out
