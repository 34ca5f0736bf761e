"""Deleting objects: wait while in use, honour ``deletionPolicy``, never get stuck.

Owns: the users of an object (credentials of a connector, grants of a credential, from the usage
index), the ``InUse`` condition, finding a Nylas client when the Secrets may already be gone, and
the backed-off retry of a failing Nylas delete call (``DeleteFailed``). Decisions, documented:
- An object in use waits (condition ``InUse`` with the count, re-checked every few seconds) with
  either policy, so that its users can still be deleted with their own policy; during namespace
  teardown the users go first and it follows.
- The API key is read from the connector's Secret if it still exists, else the client cached for
  that same connector (namespace + uid) is used (namespace teardown may delete Secrets first).
  Never a client of another connector, not even one naming the same application: that would send
  the delete with another tenant's key. With neither (e.g. a restart after the Secret was
  deleted), the deletion waits with ``Ready=False``/``SecretNotFound`` and retries (restoring the
  Secret unblocks it) until ``deletion_give_up``, then the Nylas object is orphaned: the only
  path that still gives up, as no retry could ever succeed without a key.
- A paused object orphans its Nylas object on deletion (pause means "no Nylas writes").
- A failing Nylas delete keeps the finalizer and is tried again, for as long as it takes, with
  the backoff ``decide_deletion`` chooses (``--min-retry-delay`` doubling up to
  ``--max-retry-delay``): ``Ready=False``/``DeleteFailed`` with the attempt count and the next try,
  ``status.deletionAttempts``, ``nylas_operator_deletion_failures_total`` and
  ``nylas_operator_deletions_blocked``. The user's ways out: ``deletionPolicy: Orphan`` (a grant's
  finalizer goes at once; a connector's or credential's at its next try) or removing the finalizer.
  The waits and retries raise ``TemporaryError`` with that delay: for connectors and credentials
  kopf's delete-handler retries (kept in kopf's progress annotations across restarts; only the
  delete handler's success removes their finalizer), for grants a scheduler timer
  (``informer.py``, which removes the grant's finalizer itself).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import kopf
from pydantic import BaseModel

from nylas_operator import nylas
from nylas_operator.api import conditions as c
from nylas_operator.api.connector import NylasConnectorSpec
from nylas_operator.controllers import decide_deletion, metrics, writer
from nylas_operator.controllers.clients import Owner, app_key
from nylas_operator.controllers.context import Context
from nylas_operator.controllers.errors import backoff, classify
from nylas_operator.controllers.flow import is_paused
from nylas_operator.controllers.references import SecretValues, Unresolved, load_connector
from nylas_operator.controllers.status import Report

log = logging.getLogger("nylas_operator.deletion")

IN_USE_POLL = 3.0


def users_of_connector(ctx: Context, namespace: str, name: str) -> list[str]:
    """From the usage index (watch-fed): no LIST per run."""
    return ctx.usage.credentials_of(namespace, name)


def users_of_credential(ctx: Context, namespace: str, name: str) -> list[str]:
    return [g.name for g in ctx.usage.grants_of(namespace, name)]


async def wait_while_in_use(
    ctx: Context,
    plural: str,
    model: type[BaseModel],
    body: Mapping[str, Any],
    users: list[str],
    user_kind: str,
) -> None:
    if not users:
        return
    message = f"deletion waits: {len(users)} {user_kind} object(s) still use it"
    report = Report(body, ctx.now(), model)
    report.condition(c.READY, False, c.Reason.IN_USE, message)
    report.phase(c.DELETING)
    report.set(users=len(users))
    await writer.write_now(ctx, plural, body, report)
    raise kopf.TemporaryError(message, delay=IN_USE_POLL)


async def skip_when_paused(ctx: Context, body: Mapping[str, Any]) -> bool:
    if not is_paused(body):
        return False
    await ctx.kube.post_event(
        body, "Warning", "Orphaned", "deleted while paused: the Nylas object is left in place"
    )
    return True


def owner_of(connector: Mapping[str, Any]) -> Owner:
    meta = connector["metadata"]
    return Owner(meta["namespace"], meta["uid"])


async def client_for(
    ctx: Context, connector: Mapping[str, Any], spec: NylasConnectorSpec
) -> nylas.NylasClient | None:
    """A client for the connector's application, from its Secret or else the one cached for this
    very connector (never another's, even for the same application)."""
    owner = owner_of(connector)
    try:
        key = await SecretValues().read(
            ctx.kube, owner.namespace, spec.application.api_key_secret_ref, "Nylas API key"
        )
        return ctx.clients.get(owner, app_key(spec), key)
    except Unresolved:
        return ctx.clients.cached(owner)


async def client_via_connector(
    ctx: Context, namespace: str, connector_name: str | None, credential_id: str
) -> nylas.NylasClient | None:
    """The client of a credential's connector (even a terminating one), else the client cached for
    the connector that created the Nylas credential id, if that connector was in this namespace."""
    if connector_name is not None:
        try:
            connector = await load_connector(ctx.kube, namespace, connector_name, terminating_ok=True)
            return await client_for(ctx, connector.body, connector.spec)
        except Unresolved:
            pass
    owner = ctx.clients.owner_of_credential(credential_id)
    if owner is None or owner.namespace != namespace:
        return None  # status is writable by the tenant: a foreign credential id buys nothing
    return ctx.clients.cached(owner)


async def no_client(
    ctx: Context, plural: str, model: type[BaseModel], body: Mapping[str, Any], runtime: float, what: str
) -> None:
    """No key of this object's own connector is left: say so and retry (restoring the Secret
    unblocks it), orphaning only after ``deletion_give_up`` so a namespace is never stuck."""
    why = "neither its connector's API key Secret nor a client of that connector is left"
    if runtime >= ctx.settings.retry.deletion_give_up.total_seconds():
        await orphan(ctx, body, what, why)
        return
    message = f"deletion waits: {why}; restore the API key Secret to delete the Nylas {what}"
    report = Report(body, ctx.now(), model)
    report.condition(c.READY, False, c.Reason.SECRET_NOT_FOUND, message)
    report.phase(c.DELETING)
    await writer.write_now(ctx, plural, body, report)
    attempt = int(runtime // max(ctx.settings.retry.min_delay.total_seconds(), 1.0))
    raise kopf.TemporaryError(message, delay=min(backoff(attempt, ctx.settings.retry), 60.0))


async def orphan(ctx: Context, body: Mapping[str, Any], what: str, why: str) -> None:
    log.warning("orphaning the Nylas %s of %s: %s", what, body["metadata"]["name"], why)
    await ctx.kube.post_event(body, "Warning", "Orphaned", f"the Nylas {what} was left in place: {why}")


async def nylas_delete(
    ctx: Context,
    plural: str,
    model: type[BaseModel],
    body: Mapping[str, Any],
    call: Callable[[], Awaitable[Any]],
    what: str,
) -> None:
    """Run the delete call; "already gone" (404, or a 400 saying not found) counts as done; a
    failure keeps the finalizer and is retried with backoff (``retry_later``), never orphaned."""
    try:
        await call()
    except nylas.NylasError as exc:
        if not nylas.classify.is_gone(exc):
            await retry_later(ctx, plural, model, body, exc, what)
    await ctx.kube.post_event(body, "Normal", "Deleted", f"deleted the {what} from Nylas")


async def retry_later(
    ctx: Context,
    plural: str,
    model: type[BaseModel],
    body: Mapping[str, Any],
    exc: nylas.NylasError,
    what: str,
) -> None:
    """Show the failure (condition, ``deletionAttempts``, metric, a reminder event every few
    attempts) and raise kopf's ``TemporaryError`` with the backoff: the finalizer stays."""
    previous = int((body.get("status") or {}).get("deletionAttempts") or 0)
    error = decide_deletion.error_class(type(exc).__name__, getattr(exc, "status", None))
    report = Report(body, ctx.now(), model)
    retry = decide_deletion.after_failure(what, error, previous, report.now, ctx.settings.retry)
    report.not_ready(c.Reason.DELETE_FAILED, retry.message, phase=c.DELETING, synced=False)
    report.set(deletion_attempts=retry.attempts)
    if retry.event is not None:
        report.event("Warning", c.Reason.DELETE_FAILED, retry.event)
    metrics.deletion_failed(ctx, plural, classify(exc, attempt=0, settings=ctx.settings.retry).reason)
    log.warning(
        "deleting the Nylas %s of %s failed (%s, attempt %d); retrying in %.0fs",
        what,
        body["metadata"]["name"],
        error,
        retry.attempts,
        retry.delay,
    )
    await writer.write_now(ctx, plural, body, report)
    raise kopf.TemporaryError(retry.message, delay=retry.delay) from None
