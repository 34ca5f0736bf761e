"""JSON views of the records: what the Nylas API answers, and what introspection may show.

Owns the rule "secrets are write-only": API views never carry `client_secret`, `credential_data`
or private keys; introspection views carry only non-secret keys plus a SHA-256 of the secret
material so tests can see that a rotation reached Nylas.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from nylas_operator.emulator.config import Behaviour
from nylas_operator.emulator.model import Application, Connector, Consent, Credential, Grant, RedirectUri
from nylas_operator.emulator.schemas import PUBLIC_CONNECTOR_SETTINGS, PUBLIC_CREDENTIAL_DATA


def digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def connector_api(connector: Connector, behaviour: Behaviour) -> dict[str, Any]:
    echoed = ("topic_name", "tenant", *(("client_id",) if behaviour.echo_connector_client_id else ()))
    view: dict[str, Any] = {
        "name": connector.name,
        "provider": connector.provider,
        "settings": {k: v for k, v in connector.settings.items() if k in echoed},
        "scope": list(connector.scope),
    }
    # The contract's active_credential_id is a string (not nullable): absent when there is none.
    if connector.active_credential_id is not None:
        view["active_credential_id"] = connector.active_credential_id
    return view


def credential_api(cred: Credential, behaviour: Behaviour | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": cred.id,
        "name": cred.name,
        "created_at": cred.created_at,
        "updated_at": cred.updated_at,
    }
    if behaviour is not None and behaviour.echo_credential_type:
        view["credential_type"] = cred.credential_type
    return view


def application_api(app: Application) -> dict[str, Any]:
    return {
        "application_id": app.id,
        "organization_id": app.organization_id,
        "region": app.region,
        "environment": "production",
        "branding": {"name": app.name},
        "callback_uris": [redirect_uri_api(r) for r in app.redirect_uris],
    }


def redirect_uri_api(uri: RedirectUri) -> dict[str, Any]:
    return {"id": uri.id, "url": uri.url, "platform": uri.platform}


def grant_api(grant: Grant) -> dict[str, Any]:
    return {
        "id": grant.id,
        "provider": grant.provider,
        "grant_status": grant.grant_status,
        "email": grant.email,
        "scope": list(grant.scope),
        "settings": dict(grant.settings),
        "credential_id": grant.credential_id,
        "blocked": False,
        "created_at": grant.created_at,
        "updated_at": grant.updated_at,
    }


def connector_state(connector: Connector) -> dict[str, Any]:
    return {
        "id": connector.id,
        "application_id": connector.app_id,
        "provider": connector.provider,
        "name": connector.name,
        "settings": {k: v for k, v in connector.settings.items() if k in PUBLIC_CONNECTOR_SETTINGS},
        "settings_sha256": digest(connector.settings),
        "scope": list(connector.scope),
        "active_credential_id": connector.active_credential_id,
        "created_at": connector.created_at,
        "updated_at": connector.updated_at,
    }


def credential_state(cred: Credential) -> dict[str, Any]:
    return {
        **credential_api(cred),
        "credential_type": cred.credential_type,
        "application_id": cred.app_id,
        "provider": cred.provider,
        "data": {k: v for k, v in cred.data.items() if k in PUBLIC_CREDENTIAL_DATA},
        "data_sha256": digest(cred.data),
    }


def grant_state(grant: Grant) -> dict[str, Any]:
    return {**grant_api(grant), "application_id": grant.app_id}


def consent_state(consent: Consent) -> dict[str, Any]:
    return {
        "credential_id": consent.credential_id,
        "application_id": consent.app_id,
        "approved": consent.approved,
        "decided_at": consent.decided_at,
        "tenant": consent.tenant,
        "scopes": list(consent.scopes),
    }


def select_fields(obj: dict[str, Any], select: str | None) -> dict[str, Any]:
    """`?select=a,b` keeps only those top-level fields."""
    if not select:
        return obj
    wanted = {f.strip() for f in select.split(",") if f.strip()}
    return {k: v for k, v in obj.items() if k in wanted}
