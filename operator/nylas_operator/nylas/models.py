"""Pydantic models of the Nylas v3 objects the operator uses, and of the bodies it sends.

Owns: shapes and validation of connectors, credentials, grants, custom-auth bodies and list pages, and
turning a request model into a JSON body (``to_body``). Does not own: HTTP (``transport.py``).

Responses ignore unknown fields (Nylas adds fields over time). Secrets are ``SecretStr``: their
``repr``/``str`` show asterisks; ``to_body`` is the one place that reveals them, and it also returns
them so the transport can scrub any echo of them from error text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

T = TypeVar("T")


class Provider(StrEnum):
    GOOGLE = "google"
    MICROSOFT = "microsoft"


class CredentialType(StrEnum):
    ADMINCONSENT = "adminconsent"
    SERVICEACCOUNT = "serviceaccount"
    CONNECTOR = "connector"


class GrantStatus(StrEnum):
    VALID = "valid"
    INVALID = "invalid"


# Keys whose values a server might echo in ``settings``; hidden if they ever come back.
_SECRET_KEY = re.compile(r"secret|private_key$|password|token", re.IGNORECASE)


def _hide_secrets(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            k: SecretStr(str(v)) if isinstance(k, str) and _SECRET_KEY.search(k) and v else _hide_secrets(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hide_secrets(v) for v in value]
    return value


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- responses


def _list_or_empty(v: Any) -> Any:
    """``null`` (or absent) lists are empty: the SDKs treat them as optional."""
    return [] if v is None else v


class Connector(_Response):
    provider: str
    name: str | None = None
    settings: dict[str, Any] = {}
    """As stored by Nylas; secrets are write-only and normally absent (hidden if echoed)."""
    scope: list[str] = []
    active_credential_id: str | None = None

    @field_validator("settings", mode="before")
    @classmethod
    def _hide(cls, v: Any) -> Any:
        return _hide_secrets(v or {})

    @field_validator("scope", mode="before")
    @classmethod
    def _scope_may_be_null(cls, v: Any) -> Any:
        return _list_or_empty(v)


class Credential(_Response):
    id: str
    name: str | None = None
    """Required by the contract, nullable in the SDKs: a credential without one is still usable by id."""
    credential_type: str | None = None
    """Absent in the contract's CredentialObject (which lists only id, name and timestamps)."""
    hashed_data: str | None = None
    created_at: int | None = None
    updated_at: int | None = None


class Grant(_Response):
    id: str
    provider: str
    grant_status: str | None = None
    email: str | None = None
    name: str | None = None
    scope: list[str] = []
    settings: dict[str, Any] = {}
    credential_id: str | None = None
    blocked: bool | None = None
    provider_user_id: str | None = None
    state: str | None = None
    created_at: int | None = None
    updated_at: int | None = None
    workspace_id: str | None = None
    account_id: str | None = None
    email_aliases: list[str] = []

    @field_validator("settings", mode="before")
    @classmethod
    def _hide(cls, v: Any) -> Any:
        return _hide_secrets(v or {})

    @field_validator("scope", "email_aliases", mode="before")
    @classmethod
    def _lists_may_be_null(cls, v: Any) -> Any:
        return _list_or_empty(v)

    @property
    def is_valid(self) -> bool:
        return self.grant_status == GrantStatus.VALID


class RedirectUri(_Response):
    """A callback URI registered on the application (Nylas redirects only to these)."""

    id: str | None = None
    url: str
    platform: str | None = None


class Application(_Response):
    """The application an API key belongs to (``GET /v3/applications``)."""

    application_id: str
    organization_id: str | None = None
    region: str | None = None
    environment: str | None = None
    callback_uris: list[RedirectUri] = []

    @field_validator("callback_uris", mode="before")
    @classmethod
    def _uris_may_be_null(cls, v: Any) -> Any:
        return _list_or_empty(v)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list call. ``limit``/``offset`` are as Nylas echoed them (or as requested)."""

    items: list[T]
    limit: int | None = None
    offset: int | None = None
    next_cursor: str | None = None
    request_id: str | None = field(default=None, compare=False)


# --------------------------------------------------------------------------- connector bodies


class GoogleConnectorSettings(_Request):
    client_id: str
    client_secret: SecretStr
    topic_name: str | None = None


class MicrosoftConnectorSettings(_Request):
    client_id: str
    client_secret: SecretStr
    tenant: str | None = None


ConnectorSettings = GoogleConnectorSettings | MicrosoftConnectorSettings


class ConnectorCreate(_Request):
    provider: Provider
    settings: ConnectorSettings
    scope: list[str] | None = None
    name: str | None = None
    active_credential_id: str | None = None


class ConnectorUpdate(_Request):
    """PATCH body: a sent ``settings`` replaces the stored one entirely, so always send all of it."""

    settings: ConnectorSettings | None = None
    scope: list[str] | None = None
    name: str | None = None
    active_credential_id: str | None = None


# --------------------------------------------------------------------------- credential bodies


class AdminConsentCredentialData(_Request):
    """Microsoft admin consent; without client_id/secret Nylas uses the connector's Azure app."""

    tenant: str
    client_id: str | None = None
    client_secret: SecretStr | None = None


class ServiceAccountCredentialData(BaseModel):
    """A Google service-account JSON key; keys besides the three required ones pass through."""

    model_config = ConfigDict(extra="allow", frozen=True)

    private_key_id: str
    private_key: SecretStr
    client_email: str

    def __repr_args__(self) -> Any:
        # Extra keys of a JSON key file are not secret, but keep repr short and predictable.
        return [(k, v) for k, v in super().__repr_args__() if k in ("private_key_id", "client_email")]


class ConnectorCredentialData(BaseModel):
    """A connector-override credential (client_id/client_secret plus provider extras such as tenant)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    client_id: str
    client_secret: SecretStr


CredentialData = AdminConsentCredentialData | ServiceAccountCredentialData | ConnectorCredentialData

_DATA_FOR_TYPE: dict[CredentialType, type[BaseModel]] = {
    CredentialType.ADMINCONSENT: AdminConsentCredentialData,
    CredentialType.SERVICEACCOUNT: ServiceAccountCredentialData,
    CredentialType.CONNECTOR: ConnectorCredentialData,
}


class CredentialCreate(_Request):
    name: str
    credential_type: CredentialType
    credential_data: CredentialData

    @field_validator("credential_data", mode="after")
    @classmethod
    def _data_matches_type(cls, v: CredentialData, info: Any) -> CredentialData:
        kind = info.data.get("credential_type")
        expected = _DATA_FOR_TYPE.get(kind) if kind is not None else None
        if expected is not None and not isinstance(v, expected):
            raise ValueError(f"credential_data for {kind.value} must be {expected.__name__}")
        return v


class CredentialUpdate(_Request):
    """PATCH body: a sent ``credential_data`` replaces the stored one entirely."""

    name: str | None = None
    credential_data: CredentialData | None = None


# --------------------------------------------------------------------------- application bodies


class RedirectUriCreate(_Request):
    url: str
    platform: str = "web"


# --------------------------------------------------------------------------- grant and auth bodies


class GrantUpdate(_Request):
    settings: dict[str, Any] | None = None
    scope: list[str] | None = None


class CustomAuthSettings(_Request):
    email_address: str
    credential_id: str
    scopes: list[str] | None = None
    """Google only (inside ``settings``, plural); Microsoft uses the consented app permissions."""


class CustomAuthRequest(_Request):
    provider: Provider
    settings: CustomAuthSettings

    @field_validator("settings", mode="after")
    @classmethod
    def _google_needs_scopes(cls, v: CustomAuthSettings, info: Any) -> CustomAuthSettings:
        if info.data.get("provider") == Provider.GOOGLE and not v.scopes:
            raise ValueError("Google custom auth needs settings.scopes")
        return v


# --------------------------------------------------------------------------- serialisation


def to_body(model: BaseModel) -> tuple[dict[str, Any], list[str]]:
    """The JSON body for ``model`` with secrets revealed, and the list of those secret values."""
    secrets: list[str] = []

    def reveal(value: Any) -> Any:
        if isinstance(value, SecretStr):
            raw = value.get_secret_value()
            secrets.append(raw)
            return raw
        if isinstance(value, dict):
            return {k: reveal(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [reveal(v) for v in value]
        return value

    dumped = model.model_dump(mode="python", exclude_none=True)
    body = reveal(dumped)
    assert isinstance(body, dict)
    return _plain_enums(body), secrets


def _plain_enums(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain_enums(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_enums(v) for v in value]
    return value
