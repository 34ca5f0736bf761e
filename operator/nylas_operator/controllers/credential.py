"""NylasCredential shell: the connector credential, by deterministic name, plus Microsoft admin consent.

Owns: resolving the credential data (Azure app or the Google JSON key, validated before anything
is sent), create-or-adopt by the name ``k8s:<namespace>/<name>`` (a crash between the Nylas create
and the status write heals by lookup), resending the data when a referenced Secret changed, the
consent records per scope set, waking grants when consent changes, and deletion.
Does not own: any decision (``decide_credential.py``), the consent callback (``consent.py``) or
grants (``grant.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from nylas_operator import nylas
from nylas_operator.api import conditions as c
from nylas_operator.api.common import SecretKeySelector
from nylas_operator.api.connector import NylasConnectorSpec
from nylas_operator.api.credential import NylasCredentialSpec, NylasCredentialStatus
from nylas_operator.controllers import confirmation, consent, deletion, identity, metrics
from nylas_operator.controllers import decide_credential as decide
from nylas_operator.controllers.clients import app_key
from nylas_operator.controllers.context import Context
from nylas_operator.controllers.references import (
    Parent,
    SecretValues,
    Unresolved,
    load_connector,
    parse_service_account_key,
)
from nylas_operator.controllers.status import Report
from nylas_operator.kube import CREDENTIALS, GRANTS


def nylas_name(namespace: str, name: str) -> str:
    return f"k8s:{namespace}/{name}"


def azure_app(spec: NylasCredentialSpec, connector: NylasConnectorSpec) -> tuple[str, SecretKeySelector, str]:
    """The Azure app an adminconsent credential carries: its own, else the connector's.

    The contract's PATCH of a credential says that for the Microsoft App Permission flow
    ``credential_data`` "must contain the Azure ``client_id`` and ``client_secret``" (on create they
    may be left out, and Nylas then uses the connector's); a PATCH replaces the stored object, so the
    operator always sends the app it means, on create and on update alike.
    """
    ac = spec.admin_consent
    if ac is not None and ac.client_id and ac.client_secret_ref:
        return ac.client_id, ac.client_secret_ref, "Azure app client secret"
    app = connector.provider_app
    return app.client_id, app.client_secret_ref, "provider client secret of the connector"


async def credential_data(
    ctx: Context,
    namespace: str,
    spec: NylasCredentialSpec,
    values: SecretValues,
    connector: NylasConnectorSpec,
) -> nylas.models.CredentialData:
    if spec.type == "serviceaccount":
        if spec.service_account is None:
            raise Unresolved(
                c.Reason.INVALID_SERVICE_ACCOUNT_KEY, "spec.serviceAccount is missing", terminal=True
            )
        ref = spec.service_account.key_secret_ref
        raw = await values.read(ctx.kube, namespace, ref, "Google service account key")
        return parse_service_account_key(raw, f"Secret {ref.name!r} key {ref.key!r}")
    ac = spec.admin_consent
    # The contract: credential_data "must contain the tenant (either yours or the user's)" on create,
    # so "common" is sent explicitly when the user names none.
    tenant = ac.tenant if ac else "common"
    client_id, secret_ref, what = azure_app(spec, connector)
    secret = await values.read(ctx.kube, namespace, secret_ref, what)
    return nylas.AdminConsentCredentialData(tenant=tenant, client_id=client_id, client_secret=secret)


async def ensure_in_nylas(
    client: nylas.NylasClient, provider: str, name: str, data: Any, report: Report, rotated: bool
) -> nylas.Credential:
    existing: nylas.Credential | None = None
    known_id = report.old.get("credentialId")
    if known_id:
        try:
            existing = await client.credentials.get(provider, known_id)
        except (nylas.NylasNotFoundError, nylas.NylasBadRequestError):
            existing = None
    if existing is None:
        existing = await client.credentials.find_by_name(provider, name)
        if existing is not None:
            report.event("Normal", "Adopted", f"adopted the existing Nylas credential {name}")
            rotated = True  # its data is unknown: send ours
    if existing is None:
        kind = (
            nylas.CredentialType.ADMINCONSENT
            if provider == "microsoft"
            else nylas.CredentialType.SERVICEACCOUNT
        )
        created = await client.credentials.create(
            provider, nylas.CredentialCreate(name=name, credential_type=kind, credential_data=data)
        )
        report.event("Normal", "Created", f"created the Nylas credential {name}")
        return created
    if rotated:
        return await client.credentials.update(
            provider, existing.id, nylas.CredentialUpdate(credential_data=data)
        )
    return existing


async def reconcile(ctx: Context, body: Mapping[str, Any], report: Report) -> None:
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    spec = NylasCredentialSpec.model_validate(body.get("spec") or {})
    ctx.scheduler.read_parent((CREDENTIALS, namespace, name), "0")  # a connector transition wakes us
    connector: Parent = await load_connector(ctx.kube, namespace, spec.connector_ref.name)
    ctx.scheduler.read_parent(
        (CREDENTIALS, namespace, name), str(connector.body["metadata"].get("resourceVersion"))
    )
    provider = connector.spec.provider
    decide.check_type(spec, provider)
    if not connector.ready:
        raise Unresolved(c.Reason.CONNECTOR_NOT_READY, f"NylasConnector {connector.name!r} is not Ready yet")
    values = SecretValues()
    data = await credential_data(ctx, namespace, spec, values, connector.spec)
    api_key = await SecretValues().read(
        ctx.kube, namespace, connector.spec.application.api_key_secret_ref, "Nylas API key of the connector"
    )
    report.condition(c.CREDENTIALS_RESOLVED, True, c.Reason.RESOLVED)
    app = app_key(connector.spec)
    owner = deletion.owner_of(connector.body)
    client = ctx.clients.get(owner, app, api_key)
    rotated = report.old.get("secretVersions") != values.versions
    name_in_nylas = nylas_name(namespace, name)
    credential = await ensure_in_nylas(client, provider, name_in_nylas, data, report, rotated)
    ctx.clients.remember_credential(credential.id, owner)
    report.set(
        credential_id=credential.id,
        nylas_name=name_in_nylas,
        provider=provider,
        secret_versions=values.versions,
    )
    grants = [g.as_body() for g in ctx.usage.grants_of(namespace, name)]
    report.set(users=len(grants))
    if spec.type == "adminconsent":
        azure = (getattr(data, "client_id", None), getattr(data, "client_secret", None))
        await _consent(ctx, body, report, spec, client, credential.id, grants, azure)
    else:
        report.condition(c.CONSENT_GRANTED, True, c.Reason.CONSENT_NOT_REQUIRED)
        report.condition(c.CONSENT_SETTLED, True, c.Reason.CONSENT_NOT_REQUIRED)
        report.ready()
    woken = decide.grants_to_wake(
        report, grants, credential_id=credential.id, admin_consent=spec.type == "adminconsent"
    )
    report.dependents.extend((GRANTS, namespace, grant) for grant in woken)


async def _consent(
    ctx: Context,
    body: Mapping[str, Any],
    report: Report,
    spec: NylasCredentialSpec,
    client: nylas.NylasClient,
    credential_id: str,
    grants: list[dict[str, Any]],
    azure: tuple[str | None, SecretStr | None],
) -> None:
    meta = body["metadata"]
    ac = spec.admin_consent
    tenant = ac.tenant if ac else None
    redirect = (ac.redirect_uri if ac else None) or ctx.settings.consent.callback_url

    def make_url(state: str, scopes: list[str] | None) -> str | None:
        if not redirect:
            return None
        return client.auth.admin_consent_url(
            credential_id=credential_id, redirect_uri=redirect, state=state, scope=scopes
        )

    plan = decide.plan_consent(
        old_records=list(report.old.get("consent") or []),
        needed=decide.needed_scope_sets(spec, grants),
        annotations=dict(meta.get("annotations") or {}),
        now=report.now,
        delay=consent.delay_of(spec.scope_cache_delay, default=ctx.settings.consent.scope_cache_delay),
        state_ttl=ctx.settings.consent.state_ttl,
        make_url=make_url,
    )
    checked = await confirmation.check(ctx, meta, report, tenant, plan.records, azure)
    decide.drop_unconfirmed(
        plan.records, checked.dropped, report.now, ctx.settings.consent.state_ttl, make_url
    )
    plan.events.extend(checked.events)
    if redirect and any(not r.get("grantedAt") for r in plan.records):
        await _check_redirect_uri(ctx, report, client, redirect)
    for annotation in plan.remove_annotations:
        report.annotations[annotation] = None
    for event in plan.events:
        report.event(*event)
    for record in plan.newly_granted:
        if record.get("requestedAt"):
            waited = c.parse_rfc3339(record["grantedAt"]) - c.parse_rfc3339(record["requestedAt"])
            metrics.consent_waited(ctx, waited.total_seconds())
    enabled = ctx.settings.consent.confirm
    decide.report_consent(
        report,
        plan.records,
        has_callback=bool(redirect),
        confirming=lambda record: consent.awaits_confirmation(record, tenant, enabled),
    )


async def _check_redirect_uri(ctx: Context, report: Report, client: nylas.NylasClient, url: str) -> None:
    """Before an administrator follows a consent link: is its redirect URI registered in Nylas?"""
    own = url == ctx.settings.consent.callback_url
    action = identity.callback_action(
        url,
        await client.applications.redirect_uris(),
        may_register=own and ctx.settings.consent.register_callback_url,
    )
    if action == "register":
        try:
            await client.applications.add_redirect_uri(url)
        except nylas.NylasBadRequestError:
            # Registered meanwhile (another credential, or a lost answer): check again.
            if not identity.is_registered(url, await client.applications.redirect_uris()):
                raise
        report.event("Normal", "RedirectURIRegistered", f"registered {url} as a redirect URI in Nylas")
        action = "registered"
    if action == "registered":
        report.condition(c.REDIRECT_URI, True, c.Reason.REDIRECT_URI_REGISTERED, url)
    else:
        report.condition(
            c.REDIRECT_URI, False, c.Reason.REDIRECT_URI_NOT_REGISTERED, identity.unregistered_message(url)
        )


async def delete(ctx: Context, body: Mapping[str, Any], runtime: float) -> None:
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    users = deletion.users_of_credential(ctx, namespace, name)
    await deletion.wait_while_in_use(
        ctx, CREDENTIALS, NylasCredentialStatus, body, users, "ServiceAccountGrant"
    )
    ctx.scheduler.forget((CREDENTIALS, namespace, name))
    confirmation.forget(ctx, namespace, name)
    spec = NylasCredentialSpec.model_validate(body.get("spec") or {})
    status = dict(body.get("status") or {})
    credential_id, provider = status.get("credentialId"), status.get("provider")
    if spec.deletion_policy != "Delete" or not credential_id or not provider:
        return
    if await deletion.skip_when_paused(ctx, body):
        return
    client = await deletion.client_via_connector(ctx, namespace, spec.connector_ref.name, str(credential_id))
    if client is None:
        await deletion.no_client(ctx, CREDENTIALS, NylasCredentialStatus, body, runtime, "credential")
        return
    await deletion.nylas_delete(
        ctx,
        CREDENTIALS,
        NylasCredentialStatus,
        body,
        lambda: client.credentials.delete(str(provider), str(credential_id)),
        "credential",
    )
