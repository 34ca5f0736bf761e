"""The emulator's in-memory Nylas: applications, connectors, credentials, grants, consents, and the rules.

Owns every rule Nylas enforces on these objects (one connector per provider per application,
credential names unique per connector with de-duplicated creates, one grant per email per
application, the active credential cannot be deleted, cascades on delete, the admin-consent scope
cache). Input shapes are checked before they get here (`schemas.py`); HTTP lives in `routes_*.py`.
All access happens on the server's event loop thread, so no locks are needed.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from nylas_operator.emulator.config import PROVIDER_ERROR_SHAPES, ApplicationConfig, Behaviour
from nylas_operator.emulator.errors import ApiError, bad_request, conflict_or_bad_request, not_found
from nylas_operator.emulator.model import (
    Application,
    Connector,
    Consent,
    ConsentTicket,
    Credential,
    Grant,
    RedirectUri,
)
from nylas_operator.emulator.schemas import CustomAuth

AADSTS65001 = (
    "AADSTS65001: The user or administrator has not consented to use the application. "
    "Send an interactive authorization request for this user and resource."
)
TICKET_TTL = 3600.0


def provider_error(shape: str, code: str, message: str, rng: random.Random) -> dict[str, Any]:
    """``error.provider_error`` in one of the shapes Nylas documents (a free-form object)."""
    if shape == "random":
        shape = rng.choice(PROVIDER_ERROR_SHAPES[:-1])
    if shape == "int_code":
        # Some providers answer with a numeric code; the AADSTS code is then only in the text.
        digits = "".join(ch for ch in code if ch.isdigit())
        return {"code": int(digits or 0), "message": message}
    if shape == "oauth":
        return {"error": "invalid_grant", "error_description": message}
    if shape == "nested_string":
        return {"error": "invalid_grant", "provider_error": message}
    return {"code": code, "message": message}


class EmulatorState:
    def __init__(
        self,
        applications: tuple[ApplicationConfig, ...],
        behaviour: Behaviour,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.behaviour = behaviour
        self.rng = random.Random()
        self.applications: dict[str, Application] = {}
        self.connectors: dict[tuple[str, str], Connector] = {}
        self.credentials: dict[str, Credential] = {}
        self.grants: dict[str, Grant] = {}
        self.consents: dict[str, Consent] = {}
        self.tickets: dict[str, ConsentTicket] = {}
        self.token_requests: list[dict[str, Any]] = []
        """Requests to the Microsoft token stand-in: tenant, client id, outcome (never a secret)."""
        self._seq = 0
        for app in applications:
            self.add_application(app)

    # -- applications -------------------------------------------------------------------------
    def add_application(self, app: ApplicationConfig) -> Application:
        if app.application_id in self.applications:
            raise bad_request(f"application {app.application_id!r} already exists")
        if any(a.api_key == app.api_key for a in self.applications.values()):
            raise bad_request("API key already used by another application")
        record = Application(
            app.application_id,
            app.api_key,
            app.name,
            redirect_uris=[RedirectUri(str(uuid.uuid4()), url) for url in app.redirect_uris or ()],
            enforce_redirect_uris=app.redirect_uris is not None,
            organization_id=app.organization_id,
            region=app.region,
        )
        self.applications[record.id] = record
        return record

    def add_redirect_uri(self, app_id: str, url: str, platform: str) -> RedirectUri:
        app = self.applications[app_id]
        for existing in app.redirect_uris:
            if existing.url == url and existing.platform == platform:
                raise bad_request(f"callback URI {url!r} is already registered")
        record = RedirectUri(str(uuid.uuid4()), url, platform)
        app.redirect_uris.append(record)
        return record

    def application_for_key(self, api_key: str) -> Application | None:
        for app in self.applications.values():
            if app.api_key == api_key:
                return app
        return None

    # -- helpers ------------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _now(self) -> int:
        return int(self.clock())

    # -- connectors ---------------------------------------------------------------------------
    def list_connectors(self, app_id: str) -> list[Connector]:
        return sorted((c for c in self.connectors.values() if c.app_id == app_id), key=lambda c: c.seq)

    def get_connector(self, app_id: str, provider: str) -> Connector:
        connector = self.connectors.get((app_id, provider))
        if connector is None:
            raise not_found(f"connector for provider {provider!r} not found")
        return connector

    def _missing(self, message: str) -> ApiError:
        """A missing credential: the contract documents only 400 and 401 on those paths."""
        if self.behaviour.missing_credential_status == 404:
            return not_found(message)
        return ApiError(400, "invalid_request_error", message)

    def _credential_connector(self, app_id: str, provider: str) -> Connector:
        connector = self.connectors.get((app_id, provider))
        if connector is None:
            raise self._missing(f"connector for provider {provider!r} not found")
        return connector

    def create_connector(
        self,
        app_id: str,
        provider: str,
        *,
        name: str | None,
        settings: dict[str, str],
        scope: list[str],
        active_credential_id: str | None,
    ) -> Connector:
        if (app_id, provider) in self.connectors:
            raise conflict_or_bad_request(
                self.behaviour.duplicate_connector_status,
                f"connector already exists for provider {provider!r}",
            )
        if active_credential_id is not None:
            # A new connector has no credentials yet (a deleted connector took its own along).
            raise bad_request(f"active_credential_id: credential {active_credential_id!r} not found")
        now = self._now()
        connector = Connector(
            id=str(uuid.uuid4()),
            app_id=app_id,
            provider=provider,
            name=name or f"{provider.capitalize()} Connector",
            settings=settings,
            scope=scope,
            active_credential_id=None,
            created_at=now,
            updated_at=now,
            seq=self._next_seq(),
        )
        self.connectors[(app_id, provider)] = connector
        return connector

    def update_connector(self, app_id: str, provider: str, changes: dict[str, Any]) -> Connector:
        connector = self.get_connector(app_id, provider)
        if "active_credential_id" in changes:
            cred_id = changes["active_credential_id"]
            if cred_id is not None:
                cred = self.credentials.get(cred_id)
                if cred is None or cred.app_id != app_id or cred.provider != provider:
                    raise bad_request(
                        f"active_credential_id: credential {cred_id!r} not found on this connector"
                    )
            connector.active_credential_id = cred_id
        if "settings" in changes:
            connector.settings = changes["settings"]  # a nested object replaces the stored one
        if "scope" in changes:
            connector.scope = changes["scope"]
        if "name" in changes:
            connector.name = changes["name"]
        connector.updated_at = self._now()
        return connector

    def delete_connector(self, app_id: str, provider: str) -> None:
        connector = self.get_connector(app_id, provider)
        doomed = [c.id for c in self.credentials.values() if c.app_id == app_id and c.provider == provider]
        for cred_id in doomed:
            del self.credentials[cred_id]
            self.consents.pop(cred_id, None)
        # Every grant on the connector stops working at once.
        for grant in self.grants.values():
            if grant.app_id == app_id and grant.provider == provider:
                self._invalidate(grant)
        del self.connectors[(app_id, connector.provider)]

    # -- credentials --------------------------------------------------------------------------
    def list_credentials(self, app_id: str, provider: str) -> list[Credential]:
        self.get_connector(app_id, provider)
        return [c for c in self.credentials.values() if c.app_id == app_id and c.provider == provider]

    def get_credential(self, app_id: str, provider: str, cred_id: str) -> Credential:
        self._credential_connector(app_id, provider)
        cred = self.credentials.get(cred_id)
        if cred is None or cred.app_id != app_id or cred.provider != provider:
            raise self._missing(f"credential {cred_id!r} not found")
        return cred

    def _credential_named(self, app_id: str, provider: str, name: str) -> Credential | None:
        for cred in self.credentials.values():
            if cred.app_id == app_id and cred.provider == provider and cred.name == name:
                return cred
        return None

    def create_credential(
        self, app_id: str, provider: str, *, name: str, credential_type: str, data: dict[str, str]
    ) -> tuple[Credential, bool]:
        """Returns (credential, created); an identical create returns the existing one."""
        self._credential_connector(app_id, provider)
        existing = self._credential_named(app_id, provider, name)
        if existing is not None:
            if existing.credential_type == credential_type and existing.data == data:
                return existing, False
            raise bad_request(f"a credential named {name!r} already exists on this connector")
        now = self._now()
        cred = Credential(
            id=str(uuid.uuid4()),
            app_id=app_id,
            provider=provider,
            name=name,
            credential_type=credential_type,
            data=data,
            created_at=now,
            updated_at=now,
            seq=self._next_seq(),
        )
        self.credentials[cred.id] = cred
        return cred, True

    def update_credential(
        self, app_id: str, provider: str, cred_id: str, *, name: str | None, data: dict[str, str] | None
    ) -> Credential:
        cred = self.get_credential(app_id, provider, cred_id)
        if name is not None and name != cred.name:
            if self._credential_named(app_id, provider, name) is not None:
                raise bad_request(f"a credential named {name!r} already exists on this connector")
            cred.name = name
        if data is not None:
            # A different Azure app or tenant needs a new admin consent; a rotated secret does not.
            # Without its own client_id a credential uses the connector's app.
            connector_app = self.get_connector(app_id, provider).settings.get("client_id")
            if cred.data.get("tenant") != data.get("tenant") or cred.data.get(
                "client_id", connector_app
            ) != data.get("client_id", connector_app):
                self.consents.pop(cred.id, None)
            cred.data = data
        cred.updated_at = self._now()
        return cred

    def delete_credential(self, app_id: str, provider: str, cred_id: str) -> None:
        cred = self.get_credential(app_id, provider, cred_id)
        connector = self.get_connector(app_id, provider)
        if connector.active_credential_id == cred.id:
            raise bad_request("cannot delete the connector's active credential")
        del self.credentials[cred.id]
        self.consents.pop(cred.id, None)
        for grant in self.grants.values():
            if grant.credential_id == cred.id:
                self._invalidate(grant)

    # -- consent ------------------------------------------------------------------------------
    def adminconsent_credential(self, app_id: str, cred_id: str) -> Credential:
        cred = self.credentials.get(cred_id)
        if cred is None or cred.app_id != app_id or cred.provider != "microsoft":
            raise bad_request(f"credential_id {cred_id!r} not found for this application")
        if cred.credential_type != "adminconsent":
            raise bad_request(f"credential {cred_id!r} is not an adminconsent credential")
        return cred

    def record_consent(
        self, cred: Credential, *, approved: bool, at: float | None = None, scopes: tuple[str, ...] = ()
    ) -> Consent:
        before = self.consents.get(cred.id)
        kept = before.scopes if before is not None and before.approved and approved else ()
        consent = Consent(
            credential_id=cred.id,
            app_id=cred.app_id,
            approved=approved,
            decided_at=self.clock() if at is None else at,
            tenant=consent_tenant(cred),
            scopes=tuple(sorted({*kept, *scopes})) if approved else (),
        )
        self.consents[cred.id] = consent
        return consent

    def azure_app(self, cred: Credential) -> tuple[str | None, str | None]:
        """The Azure app (client id, secret) of an adminconsent credential: its own, else its
        connector's (Nylas uses the connector's when the credential names none)."""
        if cred.data.get("client_id"):
            return cred.data.get("client_id"), cred.data.get("client_secret")
        connector = self.connectors.get((cred.app_id, cred.provider))
        settings = connector.settings if connector is not None else {}
        return settings.get("client_id"), settings.get("client_secret")

    def open_ticket(
        self, cred: Credential, redirect_uri: str, state: str | None, scopes: tuple[str, ...] = ()
    ) -> ConsentTicket:
        now = self.clock()
        self.tickets = {k: t for k, t in self.tickets.items() if now - t.created_at < TICKET_TTL}
        ticket = ConsentTicket(uuid.uuid4().hex, cred.app_id, cred.id, redirect_uri, state, now, scopes)
        self.tickets[ticket.id] = ticket
        return ticket

    def _check_consent_settled(self, cred: Credential) -> None:
        consent = self.consents.get(cred.id)
        settled = (
            consent is not None
            and consent.approved
            and self.clock() >= consent.decided_at + self.behaviour.scope_cache_delay
        )
        if not settled:
            raise ApiError(
                self.behaviour.consent_pending_status,
                "provider_error",
                "the provider rejected the authentication request",
                provider_error=provider_error(
                    self.behaviour.provider_error_shape, "AADSTS65001", AADSTS65001, self.rng
                ),
            )

    # -- grants -------------------------------------------------------------------------------
    def custom_auth(self, app_id: str, req: CustomAuth) -> tuple[Grant, bool]:
        """Create a grant, or re-authenticate the one that exists for the email (same id)."""
        connector = self.connectors.get((app_id, req.provider))
        if connector is None:
            raise bad_request(f"no {req.provider} connector exists for this application")
        cred = self.credentials.get(req.credential_id)
        if cred is None or cred.app_id != app_id or cred.provider != req.provider:
            raise bad_request(f"settings.credential_id: credential {req.credential_id!r} not found")
        if req.provider == "google":
            if cred.credential_type != "serviceaccount":
                raise bad_request(f"credential {cred.id!r} is not a serviceaccount credential")
            scope = list(req.scopes or [])
        else:
            if cred.credential_type != "adminconsent":
                raise bad_request(f"credential {cred.id!r} is not an adminconsent credential")
            self._check_consent_settled(cred)
            scope = list(req.scopes) if req.scopes else list(connector.scope)
        existing = self.grant_for_email(app_id, req.email)
        now = self._now()
        if existing is not None:
            if existing.provider != req.provider:
                raise bad_request(f"a {existing.provider} grant already exists for {req.email}")
            existing.credential_id = cred.id
            existing.scope = scope
            existing.settings = req.settings
            existing.grant_status = "valid"
            existing.updated_at = now
            return existing, False
        grant = Grant(
            id=str(uuid.uuid4()),
            app_id=app_id,
            provider=req.provider,
            email=req.email,
            credential_id=cred.id,
            scope=scope,
            settings=req.settings,
            grant_status="valid",
            created_at=now,
            updated_at=now,
            seq=self._next_seq(),
        )
        self.grants[grant.id] = grant
        return grant, True

    def grant_for_email(self, app_id: str, email: str) -> Grant | None:
        wanted = email.casefold()
        for grant in self.grants.values():
            if grant.app_id == app_id and grant.email.casefold() == wanted:
                return grant
        return None

    def list_grants(self, app_id: str) -> list[Grant]:
        return [g for g in self.grants.values() if g.app_id == app_id]

    def get_grant(self, app_id: str, grant_id: str) -> Grant:
        grant = self.grants.get(grant_id)
        if grant is None or grant.app_id != app_id:
            raise not_found(f"grant {grant_id!r} not found")
        return grant

    def update_grant(self, app_id: str, grant_id: str, changes: dict[str, Any]) -> Grant:
        grant = self.get_grant(app_id, grant_id)
        if "settings" in changes:
            grant.settings = changes["settings"]
        if "scope" in changes:
            grant.scope = changes["scope"]
        grant.updated_at = self._now()
        return grant

    def delete_grant(self, app_id: str, grant_id: str) -> None:
        self.get_grant(app_id, grant_id)
        del self.grants[grant_id]

    def _invalidate(self, grant: Grant) -> None:
        if grant.grant_status != "invalid":
            grant.grant_status = "invalid"
            grant.updated_at = self._now()

    def invalidate_grant(self, grant_id: str) -> Grant:
        """Drift behind the operator's back (control API, any application)."""
        grant = self.grants.get(grant_id)
        if grant is None:
            raise not_found(f"grant {grant_id!r} not found")
        self._invalidate(grant)
        return grant


def consent_tenant(cred: Credential) -> str:
    """The tenant Microsoft reports back: the credential's, or a stable fake one for `common`."""
    tenant = cred.data.get("tenant")
    if tenant and tenant not in ("common", "organizations", "consumers"):
        return tenant
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"emulator-tenant:{cred.id}"))
