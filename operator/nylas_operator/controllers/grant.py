"""ServiceAccountGrant: one mailbox, created exactly once, after consent has settled.

Owns: the grant reconcile: references (credential → connector → API key), the one-grant-per-
(application, email) claim (a second object is ``Conflict`` and never touches the first's grant),
the Microsoft consent wait (``AwaitingConsent`` with the credential's URL mirrored, then
``ConsentSettling`` until ``status.eligibleAt``, re-checked on every run), crash-safe creation
(an email Nylas already lists, or one this process tried to create, is looked up by email before
``POST /v3/connect/custom``: each process lists the application's grants once (``directory.py``),
so after a crash between Nylas's create and our status write the next process finds the grant;
and Nylas keeps one grant per email, so even a create racing that listing is not twinned),
repair of drift found by ``drift.py``, the output Secret, and deletion.
Does not own: consent records (``credential.py``/``consent.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import kopf

from nylas_operator import nylas
from nylas_operator.api import conditions as c
from nylas_operator.api.credential import SHARED_TENANTS
from nylas_operator.api.grant import ServiceAccountGrantSpec
from nylas_operator.controllers import consent, deletion, metrics
from nylas_operator.controllers.claims import Claimant
from nylas_operator.controllers.clients import AppKey
from nylas_operator.controllers.context import Context
from nylas_operator.controllers.drift import Known
from nylas_operator.controllers.references import (
    Parent,
    SecretValues,
    Unresolved,
    app_key,
    load_connector,
    load_credential,
)
from nylas_operator.controllers.status import Report
from nylas_operator.kube import CREDENTIALS, GRANTS

WAITING_PHASES = (c.AWAITING_CONSENT, c.CONSENT_SETTLING)


def claim_key(app: AppKey, email: str) -> tuple[str, AppKey, str]:
    return ("grant", app, email.casefold())


def claimant(body: Mapping[str, Any]) -> Claimant:
    meta = body["metadata"]
    return Claimant(
        meta["namespace"],
        meta["name"],
        meta["uid"],
        str(meta.get("creationTimestamp", "")),
        established=bool((body.get("status") or {}).get("grantId")),
    )


async def _still_there(ctx: Context, holder: Claimant) -> bool:
    body = await ctx.kube.get_object(GRANTS, holder.namespace, holder.name)
    return body is not None and body["metadata"].get("uid") == holder.uid


def grant_scopes(spec: ServiceAccountGrantSpec, credential: Parent, connector: Parent) -> list[str] | None:
    """Google: the grant's scopes or the connector's defaults (required). Microsoft: the consent set."""
    if connector.spec.provider == "google":
        scopes = spec.scopes or connector.spec.scopes
        if not scopes:
            raise Unresolved(
                c.Reason.SCOPES_REQUIRED,
                "a Google grant needs spec.scopes (or connector scopes)",
                terminal=True,
            )
        return list(scopes)
    ac = credential.spec.admin_consent
    if spec.scopes and (ac is None or ac.tenant in SHARED_TENANTS):
        raise Unresolved(
            c.Reason.CUSTOM_SCOPES_NEED_TENANT,
            "custom scopes need a credential for a specific tenant (spec.adminConsent.tenant), not 'common'",
            terminal=True,
        )
    return list(spec.scopes) if spec.scopes else (list(ac.scopes) if ac and ac.scopes else None)


SETTLE_EARLY = 2.0
"""Seconds before ``eligibleAt`` at which a settling grant is woken; it then waits in the handler."""
SETTLE_INLINE = 2.5
"""A settling grant woken at most this long before ``eligibleAt`` waits in the handler."""
SETTLE_QUIET = 1.0
"""Below this, even a grant not yet shown as ``ConsentSettling`` waits in the handler (the delay is
about zero and ``grantedAt`` was rounded up to the next second)."""


async def _sleep_until(ctx: Context, moment: datetime) -> datetime:
    """Sleep until ``ctx.now() >= moment`` (a few rounds against timer slack); returns the time."""
    now = ctx.now()
    for _ in range(5):
        remaining = (moment - now).total_seconds()
        if remaining <= 0:
            break
        await asyncio.sleep(remaining + 0.001)
        now = ctx.now()
    return now


async def _wait_for_consent(
    ctx: Context,
    body: Mapping[str, Any],
    report: Report,
    spec: ServiceAccountGrantSpec,
    credential: Parent,
    scopes: list[str] | None,
) -> bool:
    """True when the grant may be created now; otherwise the report says why and when."""
    key = consent.scope_set_key(scopes)
    record = consent.find_record(credential.status, key)
    if record is None or not record.get("grantedAt"):
        if record is None:  # the credential has not seen this scope set yet
            await ctx.waker.bump(
                (CREDENTIALS, credential.body["metadata"]["namespace"], credential.name), "scopes"
            )
        report.set(consentUrl=(record or {}).get("consentUrl"), eligibleAt=None)
        if record and record.get("error"):
            message = f"admin consent was refused ({record['error']}); see the credential for a new URL"
            report.condition(c.CONSENT_GRANTED, False, c.Reason.CONSENT_DENIED, message)
        else:
            message = f"waiting for admin consent on NylasCredential {credential.name!r}"
            report.condition(c.CONSENT_GRANTED, False, c.Reason.AWAITING_CONSENT, message)
        report.condition(c.CONSENT_SETTLED, False, c.Reason.AWAITING_CONSENT, "no consent recorded yet")
        report.not_ready(c.Reason.AWAITING_CONSENT, message, phase=c.AWAITING_CONSENT)
        return False
    delay = consent.delay_of(
        spec.scope_cache_delay,
        credential.spec.scope_cache_delay,
        default=ctx.settings.consent.scope_cache_delay,
    )
    eligible = c.parse_rfc3339(record["grantedAt"]) + delay
    report.set(consentUrl=None, eligibleAt=c.now_rfc3339(eligible))
    report.condition(c.CONSENT_GRANTED, True, c.Reason.CONSENT_GRANTED)
    ahead = (eligible - report.now).total_seconds()
    # Close to the eligible time (woken early on purpose, or consent recorded with a delay of
    # about zero): wait here, to the instant, instead of paying a status write, a wake-up PATCH
    # and a watch round trip after it.
    if 0 < ahead <= SETTLE_INLINE and (
        ahead <= SETTLE_QUIET or report.old.get("phase") == c.CONSENT_SETTLING
    ):
        report.now = await _sleep_until(ctx, eligible)
    if report.now < eligible:
        message = f"Microsoft caches scopes: the grant is created after {c.now_rfc3339(eligible)}"
        report.condition(c.CONSENT_SETTLED, False, c.Reason.CONSENT_SETTLING, message)
        report.not_ready(c.Reason.CONSENT_SETTLING, message, phase=c.CONSENT_SETTLING)
        report.wake(max((eligible - report.now).total_seconds() - SETTLE_EARLY, 0.0), "eligible")
        return False
    report.condition(c.CONSENT_SETTLED, True, c.Reason.CONSENT_SETTLED)
    report.after_consent = True
    report.consent_at = c.parse_rfc3339(record["grantedAt"])
    return True


async def reconcile(ctx: Context, body: Mapping[str, Any], report: Report) -> None:
    meta = body["metadata"]
    namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
    spec = ServiceAccountGrantSpec.model_validate(body.get("spec") or {})
    ctx.waker.read_parent((GRANTS, namespace, name), "0")  # a credential transition wakes us
    credential = await load_credential(ctx.kube, namespace, spec.credential_ref.name)
    ctx.waker.read_parent((GRANTS, namespace, name), str(credential.body["metadata"].get("resourceVersion")))
    connector = await load_connector(ctx.kube, namespace, credential.spec.connector_ref.name)
    app = app_key(connector.spec)
    provider = connector.spec.provider
    winner = ctx.claims.claim(claim_key(app, spec.email), claimant(body))
    if winner.uid != uid and not await _still_there(ctx, winner):
        # Its deletion went unseen (an Orphan grant has no finalizer): the mailbox is free.
        ctx.claims.release_all(winner.uid)
        winner = ctx.claims.claim(claim_key(app, spec.email), claimant(body))
    if winner.uid != uid:
        raise Unresolved(
            c.Reason.CONFLICT,
            f"ServiceAccountGrant {winner.namespace}/{winner.name} already "
            f"manages the grant of {spec.email} (one grant per mailbox per application)",
            terminal=True,
        )
    scopes = grant_scopes(spec, credential, connector)
    scope_set = consent.scope_set_key(scopes)
    credential_id = credential.status.get("credentialId")
    report.set(provider=provider)
    if not credential_id:
        raise Unresolved(
            c.Reason.CREDENTIAL_NOT_READY, f"NylasCredential {credential.name!r} is not in Nylas yet"
        )
    report.set(credentialId=credential_id)
    if provider == "microsoft":
        if not await _wait_for_consent(ctx, body, report, spec, credential, scopes):
            ctx.drift.forget(uid)
            return
    elif not credential.ready:
        raise Unresolved(
            c.Reason.CREDENTIAL_NOT_READY, f"NylasCredential {credential.name!r} is not Ready yet"
        )
    else:
        report.condition(c.CONSENT_GRANTED, True, c.Reason.CONSENT_NOT_REQUIRED)
        report.condition(c.CONSENT_SETTLED, True, c.Reason.CONSENT_NOT_REQUIRED)
    api_key = await SecretValues().read(
        ctx.kube, namespace, connector.spec.application.api_key_secret_ref, "Nylas API key of the connector"
    )
    report.condition(c.CREDENTIALS_RESOLVED, True, c.Reason.RESOLVED)
    client = ctx.clients.get(app, api_key)
    finding = ctx.drift.take_finding(uid)
    old = report.old
    unchanged = old.get("observedGeneration") == report.generation
    same_set = old.get("scopeSet") == scope_set
    if (
        old.get("phase") == c.PHASE_READY
        and old.get("grantId")
        and unchanged
        and same_set
        and finding is None
    ):
        grant_id, grant_status = str(old["grantId"]), old.get("grantStatus")  # nothing new: no Nylas call
    else:
        grant = await _create_or_adopt(
            ctx, body, report, client, app, provider, spec, str(credential_id), scopes, scope_set
        )
        grant_id, grant_status = grant.id, grant.grant_status
    report.set(grantId=grant_id, grantStatus=grant_status, scopeSet=scope_set)
    ctx.drift.ready(app, uid, Known(namespace, name, spec.email, grant_id))
    report.ready()
    # After ready(): an output-Secret conflict must stay visible as Synced=False.
    await _write_output_secret(ctx, body, report, spec, grant_id, provider, app)


async def _create_or_adopt(
    ctx: Context,
    body: Mapping[str, Any],
    report: Report,
    client: nylas.NylasClient,
    app: AppKey,
    provider: str,
    spec: ServiceAccountGrantSpec,
    credential_id: str,
    scopes: list[str] | None,
    scope_set: str,
) -> nylas.Grant:
    old = report.old
    existing: nylas.Grant | None = None
    if old.get("grantId"):
        try:
            existing = await client.grants.get(str(old["grantId"]))
        except nylas.NylasNotFoundError:
            await _degraded(ctx, body, report, c.Reason.GRANT_MISSING, "the grant no longer exists in Nylas")
    # Look the mailbox up only when a grant may exist: a lost id, or an email in the directory
    # (Nylas listed it when this process started, or this process tried to create it before).
    # Otherwise POST directly: Nylas keeps one grant per email and returns it, so even a missed
    # one is not twinned.
    if existing is None and (old.get("grantId") or await ctx.directory.has(app, client, spec.email)):
        found = await client.grants.find_by_email(spec.email, provider=provider)
        existing = found[0] if found else None
        if existing is not None and not old.get("grantId"):
            report.event("Normal", "Adopted", f"adopted the existing Nylas grant of {spec.email}")
    if existing is not None and existing.grant_status == nylas.GrantStatus.INVALID:
        await _degraded(ctx, body, report, c.Reason.GRANT_INVALID, "Nylas reports the grant as invalid")
    # status.scopeSet is the set the Nylas grant was last authenticated with: a changed set is
    # re-authenticated even when an earlier attempt failed and the phase moved on.
    reauth = existing is not None and (
        existing.grant_status == nylas.GrantStatus.INVALID
        or (old.get("grantId") and (old.get("phase") in WAITING_PHASES or old.get("scopeSet") != scope_set))
    )
    if existing is not None and not reauth:
        return existing
    try:
        grant = await client.auth.custom(
            provider=provider,
            email_address=spec.email,
            credential_id=credential_id,
            scopes=scopes if provider == "google" else None,
        )
    except nylas.NylasError as exc:
        if not _refused(exc):
            # The answer was lost (no response, 5xx, unreadable): Nylas may have created it, so
            # the retry in this process looks the mailbox up first (a new process lists it anyway).
            ctx.directory.add(app, spec.email)
        raise
    ctx.directory.add(app, spec.email)
    what = "re-authenticated" if existing is not None else "created"
    report.event(
        "Normal", "Reauthenticated" if existing is not None else "Created", f"{what} the Nylas grant"
    )
    if provider == "microsoft" and report.consent_at is not None:
        metrics.settle_waited(ctx, (report.now - report.consent_at).total_seconds())
    return grant


def _refused(exc: nylas.NylasError) -> bool:
    """Nylas answered with a client error: nothing was created."""
    status = getattr(exc, "status", None)
    return isinstance(exc, nylas.NylasStatusError) and status is not None and 400 <= status < 500


async def _degraded(ctx: Context, body: Mapping[str, Any], report: Report, reason: str, message: str) -> None:
    """Show the drift before repairing it (the repair may take a while or fail)."""
    meta = body["metadata"]
    conditions = c.set_condition(
        report.conditions, c.make_condition(c.READY, False, reason, message, generation=report.generation)
    )
    await ctx.kube.patch_object(
        GRANTS,
        meta["namespace"],
        meta["name"],
        {"status": {"phase": c.DEGRADED, "conditions": conditions}},
        status=True,
    )
    await ctx.kube.post_event(body, "Warning", reason, message + "; repairing")
    # Now the current status: the final write is a diff against it and must undo it once repaired.
    report.old.update(phase=c.DEGRADED, conditions=conditions)
    report.phase(c.DEGRADED)


async def _write_output_secret(
    ctx: Context,
    body: Mapping[str, Any],
    report: Report,
    spec: ServiceAccountGrantSpec,
    grant_id: str,
    provider: str,
    app: AppKey,
) -> None:
    target = spec.write_grant_to_secret
    if target is None:
        return
    data = {"grant_id": grant_id, "email": spec.email, "provider": provider, "api_url": app.base_url}
    meta = body["metadata"]
    if not (written := await ctx.kube.write_owned_secret(meta["namespace"], target.name, data, body)):
        report.condition(c.SYNCED, False, c.Reason.CONFLICT, written.reason)


def deletes_from_nylas(body: Mapping[str, Any]) -> bool:
    """Only ``deletionPolicy: Delete`` needs the operator at deletion, so only those grants carry
    the finalizer: deleting an Orphan grant (the default) never waits for the operator, and
    creating one costs no finalizer write. Its in-memory traces go with ``gone()``."""
    return (body.get("spec") or {}).get("deletionPolicy") == "Delete"


async def gone(ctx: Context, body: Mapping[str, Any]) -> None:
    """Forget a grant that is being deleted or was deleted (idempotent), and wake the grants that
    wait for its mailbox (``Conflict``)."""
    meta = body["metadata"]
    namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
    keys = ctx.claims.release_all(uid)
    others = [o for key in keys for o in ctx.claims.others(key, uid)]
    ctx.drift.forget(uid)
    ctx.waker.forget((GRANTS, namespace, name))
    await ctx.waker.bump_all([(GRANTS, o.namespace, o.name) for o in others], "claim-released")


async def delete(ctx: Context, body: Mapping[str, Any], runtime: float) -> None:
    namespace = body["metadata"]["namespace"]
    spec = ServiceAccountGrantSpec.model_validate(body.get("spec") or {})
    status = dict(body.get("status") or {})
    await gone(ctx, body)
    grant_id = status.get("grantId")
    if spec.deletion_policy != "Delete" or not grant_id:
        return  # Orphan, or never owned a grant (e.g. a Conflict): nothing to revoke
    if await deletion.skip_when_paused(ctx, body):
        return
    client = await _client_for_deletion(ctx, namespace, spec, status)
    if client is None:
        await deletion.orphan(
            ctx, body, "grant", "neither the connector's API key nor a cached client is left"
        )
        return
    await deletion.nylas_delete(ctx, body, runtime, lambda: client.grants.delete(str(grant_id)), "grant")


async def _client_for_deletion(
    ctx: Context, namespace: str, spec: ServiceAccountGrantSpec, status: Mapping[str, Any]
) -> nylas.NylasClient | None:
    try:
        credential = await load_credential(ctx.kube, namespace, spec.credential_ref.name, terminating_ok=True)
        connector_name: str | None = credential.spec.connector_ref.name
    except Unresolved:  # gone already: the client cached for its Nylas credential id, if any
        connector_name = None
    return await deletion.client_via_connector(
        ctx, namespace, connector_name, str(status.get("credentialId") or "")
    )


def register(registry: kopf.OperatorRegistry) -> None:
    from nylas_operator.controllers import handlers

    handlers.register_kind(registry, GRANTS, reconcile, delete, needs_finalizer=deletes_from_nylas)
