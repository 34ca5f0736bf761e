"""ServiceAccountGrant shell: read the facts, let ``decide_grant`` choose, act on Nylas, report.

Owns: the I/O of the grant reconcile: references (credential → connector → API key), the
one-grant-per-(application, email) claim, crash-safe creation (an email Nylas already lists, or
one this process tried to create, is looked up by email before ``POST /v3/connect/custom``: each
process lists the application's grants once (``directory.py``), so after a crash between Nylas's
create and our status write the next process finds the grant; and Nylas keeps one grant per
email, so even a create racing that listing is not twinned), the output Secret, and deletion.
Does not own: any decision (``decide_grant.py``) or consent records (``credential.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nylas_operator import nylas
from nylas_operator.api import conditions as c
from nylas_operator.api.grant import ServiceAccountGrantSpec, ServiceAccountGrantStatus
from nylas_operator.controllers import decide_grant, deletion, metrics
from nylas_operator.controllers.claims import Claimant, grant_claimant
from nylas_operator.controllers.clients import AppKey, app_key
from nylas_operator.controllers.context import Context
from nylas_operator.controllers.decide_grant import GrantFacts, GrantPlan
from nylas_operator.controllers.references import (
    SecretValues,
    Unresolved,
    load_connector,
    load_credential,
)
from nylas_operator.controllers.status import Report
from nylas_operator.kube import CREDENTIALS, GRANTS

deletes_from_nylas = decide_grant.deletes_from_nylas


async def _still_there(ctx: Context, holder: Claimant) -> bool:
    body = await ctx.kube.get_object(GRANTS, holder.namespace, holder.name)
    return body is not None and body["metadata"].get("uid") == holder.uid


async def read_facts(ctx: Context, body: Mapping[str, Any], report: Report) -> GrantFacts:
    """Read: the parents (from the watch cache), the claim winner and any drift finding."""
    meta = body["metadata"]
    namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
    spec = ServiceAccountGrantSpec.model_validate(body.get("spec") or {})
    ctx.scheduler.read_parent((GRANTS, namespace, name), "0")  # a credential transition wakes us
    credential = await load_credential(ctx.kube, namespace, spec.credential_ref.name)
    ctx.scheduler.read_parent(
        (GRANTS, namespace, name), str(credential.body["metadata"].get("resourceVersion"))
    )
    connector = await load_connector(ctx.kube, namespace, credential.spec.connector_ref.name)
    app, me = app_key(connector.spec), grant_claimant(body)
    winner = ctx.claims.grant_winner(app, spec.email, me)
    skip: frozenset[str] = frozenset()
    while winner.uid != uid and not await _still_there(ctx, winner):
        # Its deletion went unseen (a watch gap): passed over here; the index is the watch's.
        skip |= {winner.uid}
        winner = ctx.claims.grant_winner(app, spec.email, me, skip=skip)
    return GrantFacts(
        spec=spec,
        old=report.old,
        generation=report.generation,
        credential=credential,
        connector=connector,
        winner=winner,
        uid=uid,
        drift=ctx.drift.take_finding(uid) if winner.uid == uid else None,
        default_delay=ctx.settings.consent.scope_cache_delay,
        confirm=ctx.settings.consent.confirm,
    )


async def reconcile(ctx: Context, body: Mapping[str, Any], report: Report) -> None:
    facts = await read_facts(ctx, body, report)
    plan = decide_grant.decide(facts, report)
    if plan.wake_credential:
        namespace = facts.credential.body["metadata"]["namespace"]
        ctx.scheduler.now((CREDENTIALS, namespace, facts.credential.name), "scopes")
    if plan.step in ("wait", "settle"):
        return
    connector = facts.connector.spec
    api_key = await SecretValues().read(
        ctx.kube,
        body["metadata"]["namespace"],
        connector.application.api_key_secret_ref,
        "Nylas API key of the connector",
    )
    report.condition(c.CREDENTIALS_RESOLVED, True, c.Reason.RESOLVED)
    report.after_consent = plan.consent_at is not None  # refusals now mean "not propagated yet"
    app = app_key(connector)
    if plan.step == "keep":  # nothing new: no Nylas call
        grant_id, grant_status = str(report.old["grantId"]), report.old.get("grantStatus")
    else:
        client = ctx.clients.get(deletion.owner_of(facts.connector.body), app, api_key)
        grant = await _sync(ctx, facts, report, client, app, plan)
        if grant is None:
            return
        grant_id, grant_status = grant.id, grant.grant_status
    report.set(grant_id=grant_id, grant_status=grant_status, scope_set=plan.scope_set)
    report.ready()  # the drift loop knows it from the watch event of this write (``claims.py``)
    # After ready(): an output-Secret conflict must stay visible as Synced=False.
    await _write_output_secret(ctx, body, report, facts.spec, grant_id, facts.provider, app)


async def _sync(
    ctx: Context, facts: GrantFacts, report: Report, client: nylas.NylasClient, app: AppKey, plan: GrantPlan
) -> nylas.Grant | None:
    """Act: find what Nylas holds, then keep, create or re-authenticate it (None: drift shown)."""
    old, email = facts.old, facts.spec.email
    existing: nylas.Grant | None = None
    missing = False
    if old.get("grantId"):
        try:
            existing = await client.grants.get(str(old["grantId"]))
        except nylas.NylasNotFoundError:
            missing = True
    if existing is None and decide_grant.needs_lookup(old, await ctx.directory.has(app, client, email)):
        found = await client.grants.find_by_email(email, provider=facts.provider)
        existing = found[0] if found else None
        if existing is not None and not old.get("grantId"):
            report.event("Normal", "Adopted", f"adopted the existing Nylas grant of {email}")
    drift = decide_grant.drift_of(old, missing, existing)
    action = decide_grant.sync_action(old, plan.scope_set, existing, drift)
    if action == "show-drift" and drift is not None:
        decide_grant.show_drift(report, drift)
        return None
    if drift is not None:
        report.phase(c.DEGRADED)  # a failed repair stays Degraded
    if action == "keep" and existing is not None:
        return existing
    return await _authenticate(ctx, facts, report, client, app, plan, reauth=action == "reauth")


async def _authenticate(
    ctx: Context,
    facts: GrantFacts,
    report: Report,
    client: nylas.NylasClient,
    app: AppKey,
    plan: GrantPlan,
    *,
    reauth: bool,
) -> nylas.Grant:
    email, provider = facts.spec.email, facts.provider
    try:
        grant = await client.auth.custom(
            provider=provider,
            email_address=email,
            credential_id=str(facts.credential.status.get("credentialId")),
            scopes=plan.scopes if provider == "google" else None,
        )
    except nylas.NylasError as exc:
        if not decide_grant.refused(exc):
            # The answer was lost (no response, 5xx, unreadable): Nylas may have created it, so
            # the retry in this process looks the mailbox up first (a new process lists it anyway).
            ctx.directory.add(app, email)
        raise
    ctx.directory.add(app, email)
    what, reason = ("re-authenticated", "Reauthenticated") if reauth else ("created", "Created")
    report.event("Normal", reason, f"{what} the Nylas grant")
    if plan.consent_at is not None:
        metrics.settle_waited(ctx, (report.now - plan.consent_at).total_seconds())
    return grant


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


async def gone(ctx: Context, body: Mapping[str, Any]) -> None:
    """The grant has left the apiserver (its claim with it, ``claims.py``): forget its queued
    runs and drift finding, and wake the grants that wait for its mailbox (``Conflict``)."""
    meta = body["metadata"]
    namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
    others = ctx.claims.grants_of_email(str((body.get("spec") or {}).get("email") or ""))
    ctx.drift.forget(uid)
    ctx.scheduler.forget((GRANTS, namespace, name))
    ctx.scheduler.now_all([(GRANTS, o.namespace, o.name) for o in others if o.uid != uid], "claim-released")


async def delete(ctx: Context, body: Mapping[str, Any], runtime: float) -> None:
    namespace = body["metadata"]["namespace"]
    spec = ServiceAccountGrantSpec.model_validate(body.get("spec") or {})
    status = dict(body.get("status") or {})
    ctx.scheduler.forget((GRANTS, namespace, body["metadata"]["name"]))
    grant_id = status.get("grantId")
    if spec.deletion_policy != "Delete" or not grant_id:
        return  # Orphan, or never owned a grant (e.g. a Conflict): nothing to revoke
    if await deletion.skip_when_paused(ctx, body):
        return
    client = await _client_for_deletion(ctx, namespace, spec, status)
    if client is None:
        await deletion.no_client(ctx, GRANTS, ServiceAccountGrantStatus, body, runtime, "grant")
        return
    await deletion.nylas_delete(
        ctx, GRANTS, ServiceAccountGrantStatus, body, lambda: client.grants.delete(str(grant_id)), "grant"
    )


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
