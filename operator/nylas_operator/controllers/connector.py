"""NylasConnector: create-or-adopt the one connector per (application, provider).

Owns: the connector reconcile (GET, then POST or PATCH with the full settings when the spec or a
referenced Secret changed; the client secret is write-only in Nylas, so Secret resourceVersions in
status tell when to resend it), the Conflict between two objects claiming the same connector, and
its deletion (waits while credentials use it; ``Delete`` removes it from Nylas).
Does not own: credentials (``credential.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nylas_operator import nylas
from nylas_operator.api import conditions as c
from nylas_operator.api.connector import NylasConnectorSpec, NylasConnectorStatus
from nylas_operator.controllers import deletion, identity
from nylas_operator.controllers.claims import (
    ClaimKey,
    claim_token,
    connector_claimant,
    connector_key,
    holder,
)
from nylas_operator.controllers.clients import app_key, app_key_of
from nylas_operator.controllers.context import Context
from nylas_operator.controllers.references import SecretValues, Unresolved
from nylas_operator.controllers.status import Report
from nylas_operator.kube import CONNECTORS, CREDENTIALS
from nylas_operator.nylas.hosts import api_host_refusal, parse_allowed_hosts


def claim_key(spec: NylasConnectorSpec) -> ClaimKey:
    return connector_key(app_key(spec), spec.provider)


def desired_settings(spec: NylasConnectorSpec, client_secret: Any) -> nylas.models.ConnectorSettings:
    app = spec.provider_app
    if spec.provider == "google":
        return nylas.GoogleConnectorSettings(
            client_id=app.client_id, client_secret=client_secret, topic_name=app.topic_name
        )
    return nylas.MicrosoftConnectorSettings(
        client_id=app.client_id, client_secret=client_secret, tenant=app.tenant
    )


def needs_update(
    current: nylas.Connector, spec: NylasConnectorSpec, changed_secrets: bool, new_gen: bool
) -> bool:
    """Scopes or echoed settings differ, a Secret was rotated, or the spec changed since last time."""
    if changed_secrets or new_gen:
        return True
    if sorted(current.scope) != sorted(spec.scopes or []):
        return True
    echoed = current.settings
    app = spec.provider_app
    return any(
        key in echoed and echoed[key] != value
        for key, value in (
            ("client_id", app.client_id),
            ("tenant", app.tenant),
            ("topic_name", app.topic_name),
        )
        if value is not None
    )


async def reconcile(ctx: Context, body: Mapping[str, Any], report: Report) -> None:
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    spec = NylasConnectorSpec.model_validate(body.get("spec") or {})
    app = app_key(spec)
    report.set(provider=spec.provider, api_url=app.base_url)
    if refusal := api_host_refusal(app.base_url, parse_allowed_hosts(ctx.settings.nylas.allowed_hosts)):
        raise Unresolved(c.Reason.API_HOST_NOT_ALLOWED, refusal, terminal=True)
    winner = ctx.claims.connector_winner(claim_key(spec), connector_claimant(body))
    if winner.uid != meta["uid"]:
        report.set(claim=None)  # a holder that lost (e.g. to an older holder) holds nothing
        raise Unresolved(
            c.Reason.CONFLICT,
            f"the {spec.provider} connector of Nylas application {app.application_id} is already managed "
            f"by {holder(winner, namespace, 'NylasConnector')}; Nylas allows one per provider",
            terminal=True,
        )
    values = SecretValues()
    api_key = await values.read(ctx.kube, namespace, spec.application.api_key_secret_ref, "Nylas API key")
    secret = await values.read(
        ctx.kube, namespace, spec.provider_app.client_secret_ref, "provider client secret"
    )
    report.condition(c.CREDENTIALS_RESOLVED, True, c.Reason.RESOLVED)
    owner = deletion.owner_of(body)
    client = ctx.clients.get(owner, app, api_key)
    # Before any other call: a key of another application would create the connector there.
    if not ctx.clients.verified(owner, app, api_key):
        mismatch = identity.application_mismatch(spec.application.client_id, await client.applications.get())
        if mismatch is not None:
            raise Unresolved(c.Reason.APPLICATION_MISMATCH, mismatch, terminal=True)
        ctx.clients.mark_verified(owner, app, api_key)
    current = await _ensure_in_nylas(
        client, spec, desired_settings(spec, secret), f"k8s:{namespace}/{name}", report, values.versions
    )
    old = report.old
    users = deletion.users_of_connector(ctx, namespace, name)
    report.set(
        active_credential_id=current.active_credential_id, secret_versions=values.versions, users=len(users)
    )
    report.set(claim=claim_token(app, spec.provider))  # held from now on, through a Ready=False
    report.ready()
    rotated = old.get("secretVersions") not in (None, values.versions)
    if not c.is_true(old.get("conditions"), c.READY) or rotated:
        # Credentials on the connector's Azure app carry its secret too (the contract's PATCH wants
        # client_id and client_secret): a rotation is pushed to them as well.
        report.dependents.extend((CREDENTIALS, namespace, n) for n in users)


async def _ensure_in_nylas(
    client: nylas.NylasClient,
    spec: NylasConnectorSpec,
    settings: nylas.models.ConnectorSettings,
    name_in_nylas: str,
    report: Report,
    versions: dict[str, str],
) -> nylas.Connector:
    """Act: GET the provider's connector, then POST it, or PATCH it with the full settings."""
    try:
        current: nylas.Connector | None = await client.connectors.get(spec.provider)
    except nylas.NylasNotFoundError:
        current = None
    old = report.old
    if current is None:
        created = await client.connectors.create(
            nylas.ConnectorCreate(
                provider=nylas.Provider(spec.provider),
                settings=settings,
                scope=spec.scopes,
                name=name_in_nylas,
            )
        )
        report.event("Normal", "Created", f"created the {spec.provider} connector in Nylas")
        return created
    if not needs_update(
        current,
        spec,
        changed_secrets=old.get("secretVersions") != versions,
        new_gen=old.get("observedGeneration") != report.generation,
    ):
        return current
    updated = await client.connectors.update(
        spec.provider, nylas.ConnectorUpdate(settings=settings, scope=spec.scopes)
    )
    if not c.is_true(old.get("conditions"), c.READY) and old.get("phase") is None:
        report.event("Normal", "Adopted", f"adopted the existing {spec.provider} connector in Nylas")
    return updated


async def delete(ctx: Context, body: Mapping[str, Any], runtime: float) -> None:
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    users = deletion.users_of_connector(ctx, namespace, name)
    await deletion.wait_while_in_use(ctx, CONNECTORS, NylasConnectorStatus, body, users, "NylasCredential")
    spec = NylasConnectorSpec.model_validate(body.get("spec") or {})
    key = claim_key(spec)
    # The claim stays until the object has left the apiserver (``gone``): not lost while this
    # handler may still fail and retry, so a retry still knows it was the owner.
    was_winner = ctx.claims.connector_winner(key, connector_claimant(body)).uid == meta["uid"]
    ctx.scheduler.forget((CONNECTORS, namespace, name))
    if spec.deletion_policy != "Delete" or not was_winner:
        return
    if await deletion.skip_when_paused(ctx, body):
        return
    # Only this connector's own key (its Secret, else its cached client): never another tenant's.
    client = await deletion.client_for(ctx, body, spec)
    if client is None:
        await deletion.no_client(ctx, CONNECTORS, NylasConnectorStatus, body, runtime, "connector")
        return
    await deletion.nylas_delete(
        ctx,
        CONNECTORS,
        NylasConnectorStatus,
        body,
        lambda: client.connectors.delete(spec.provider),
        "connector",
    )


async def gone(ctx: Context, body: Mapping[str, Any]) -> None:
    """The connector has left the apiserver (its claim with it, ``claims.py``): drop its key and
    wake the connectors that wait for its (application, provider) as ``Conflict``."""
    meta = body["metadata"]
    ctx.scheduler.forget((CONNECTORS, meta["namespace"], meta["name"]))
    ctx.clients.forget(deletion.owner_of(body))
    app = app_key_of(body.get("spec"))
    if app is None:
        return
    others = ctx.claims.connectors_of_key(connector_key(app, str((body.get("spec") or {}).get("provider"))))
    ctx.scheduler.now_all([(CONNECTORS, o.namespace, o.name) for o in others], "claim-released")
