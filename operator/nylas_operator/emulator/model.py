"""The records the emulator keeps in memory (one Nylas application's connectors, credentials, grants).

Owns the shapes only; rules that change them live in `state.py`, JSON views in `views.py`.
Secret-bearing fields are excluded from `repr` so a failing test never prints them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RedirectUri:
    id: str
    url: str
    platform: str = "web"


@dataclass
class Application:
    id: str
    api_key: str = field(repr=False)
    name: str
    redirect_uris: list[RedirectUri] = field(default_factory=list)
    enforce_redirect_uris: bool = False
    """Whether /v3/connect/auth refuses a redirect_uri that is not registered (Nylas does)."""
    organization_id: str = "emulator-organization"
    region: str = "us"

    def allows_redirect(self, url: str) -> bool:
        return not self.enforce_redirect_uris or any(r.url == url for r in self.redirect_uris)


@dataclass
class Connector:
    id: str
    app_id: str
    provider: str
    name: str
    settings: dict[str, str] = field(repr=False)
    scope: list[str]
    active_credential_id: str | None
    created_at: int
    updated_at: int
    seq: int


@dataclass
class Credential:
    id: str
    app_id: str
    provider: str
    name: str
    credential_type: str
    data: dict[str, str] = field(repr=False)
    created_at: int
    updated_at: int
    seq: int


@dataclass
class Grant:
    id: str
    app_id: str
    provider: str
    email: str
    credential_id: str | None
    scope: list[str]
    settings: dict[str, Any]
    grant_status: str
    created_at: int
    updated_at: int
    seq: int


@dataclass
class Consent:
    """The last admin decision for one adminconsent credential."""

    credential_id: str
    app_id: str
    approved: bool
    decided_at: float
    tenant: str | None
    scopes: tuple[str, ...] = ()
    """Scopes the consent page asked for (the union over this credential's approvals)."""


@dataclass
class ConsentTicket:
    """A prompt page waiting for a person to click Approve or Deny."""

    id: str
    app_id: str
    credential_id: str
    redirect_uri: str
    state: str | None
    created_at: float
    scopes: tuple[str, ...] = ()
