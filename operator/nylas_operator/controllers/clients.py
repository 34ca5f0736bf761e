"""One ``NylasClient`` per NylasConnector (the owner of an API key), kept for the process lifetime.

Owns: the pool keyed by the owning connector (namespace + uid), never by what a tenant writes in
its spec (base URL, ``clientId``): a namespace that names another team's application must not be
handed that team's client. Replaces a client when its API key or application changes (rotation),
remembers which owner a credential id belongs to (so a deletion can still reach Nylas after
namespace teardown removed the Secrets), and tells the drift loop about each new application.
Does not own: reading Secrets (``references.py``).
The API key is compared through a keyed digest held in memory only.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr, ValidationError

from nylas_operator import nylas
from nylas_operator.api.connector import NylasConnectorSpec
from nylas_operator.nylas.transport import RequestObserver

log = logging.getLogger("nylas_operator.clients")

_DIGEST_KEY = secrets.token_bytes(32)  # per process: the digests are useless outside it


@dataclass(frozen=True)
class AppKey:
    """Identity of a Nylas application: where its API lives and its application (client) id."""

    base_url: str
    application_id: str

    def __str__(self) -> str:
        return f"{self.application_id}@{self.base_url}"


def app_key(spec: NylasConnectorSpec) -> AppKey:
    application = spec.application
    return AppKey(nylas.resolve_base_url(application.region, application.api_url), application.client_id)


def app_key_of(spec: Any) -> AppKey | None:
    """The application of a connector spec as watched (None: a spec the CRD let through but
    the model refuses; its reconcile reports why)."""
    try:
        return app_key(NylasConnectorSpec.model_validate(spec or {}))
    except ValidationError:
        return None


@dataclass(frozen=True)
class Owner:
    """The NylasConnector whose Secret supplied an API key: a client is only ever reused for it."""

    namespace: str
    uid: str


@dataclass(frozen=True)
class _Entry:
    app: AppKey
    digest: bytes
    client: nylas.NylasClient


def _digest(key: SecretStr) -> bytes:
    return hmac.new(_DIGEST_KEY, key.get_secret_value().encode(), hashlib.sha256).digest()


class ClientPool:
    def __init__(
        self,
        settings: nylas.NylasSettings,
        *,
        observer: RequestObserver | None = None,
        on_new_app: Callable[[AppKey], None] | None = None,
    ) -> None:
        self._settings = settings
        self._observer = observer
        self._on_new_app = on_new_app
        self._clients: dict[Owner, _Entry] = {}
        self._owner_of_credential: dict[str, Owner] = {}
        self._verified: dict[Owner, tuple[AppKey, bytes]] = {}
        self._apps: set[AppKey] = set()
        self._retired: list[nylas.NylasClient] = []

    def get(self, owner: Owner, app: AppKey, api_key: SecretStr) -> nylas.NylasClient:
        digest = _digest(api_key)
        current = self._clients.get(owner)
        if current is not None and current.app == app and hmac.compare_digest(current.digest, digest):
            return current.client
        client = nylas.NylasClient(
            api_key,
            api_url=app.base_url,
            application_id=app.application_id,
            settings=self._settings,
            observer=self._observer,
        )
        if current is not None:
            log.info("API key or application of the connector in %s changed: new client", owner.namespace)
            self._retired.append(current.client)  # in-flight calls may still use it; closed at exit
        self._clients[owner] = _Entry(app, digest, client)
        if app not in self._apps:
            self._apps.add(app)
            if self._on_new_app is not None:
                self._on_new_app(app)
        return client

    def cached(self, owner: Owner) -> nylas.NylasClient | None:
        """The client last built for this owner's own key; never one of another owner."""
        current = self._clients.get(owner)
        return current.client if current else None

    def for_app(self, app: AppKey) -> nylas.NylasClient | None:
        """A client whose key was verified to belong to ``app`` (for the drift loop's reads)."""
        for owner, entry in self._clients.items():
            verified = self._verified.get(owner)
            if (
                entry.app == app
                and verified is not None
                and verified[0] == app
                and hmac.compare_digest(verified[1], entry.digest)
            ):
                return entry.client
        return None

    def verified(self, owner: Owner, app: AppKey, api_key: SecretStr) -> bool:
        """Whether this owner's API key was seen to belong to the application
        (``GET /v3/applications``); a key belongs to one application for good, so it is checked
        once per key."""
        known = self._verified.get(owner)
        return known is not None and known[0] == app and hmac.compare_digest(known[1], _digest(api_key))

    def mark_verified(self, owner: Owner, app: AppKey, api_key: SecretStr) -> None:
        self._verified[owner] = (app, _digest(api_key))

    def remember_credential(self, credential_id: str, owner: Owner) -> None:
        self._owner_of_credential[credential_id] = owner

    def owner_of_credential(self, credential_id: str) -> Owner | None:
        return self._owner_of_credential.get(credential_id)

    def forget(self, owner: Owner) -> None:
        """The connector is gone for good: its key is dropped (the client closes at exit)."""
        entry = self._clients.pop(owner, None)
        self._verified.pop(owner, None)
        if entry is not None:
            self._retired.append(entry.client)

    async def aclose(self) -> None:
        for entry in self._clients.values():
            await entry.client.aclose()
        for client in self._retired:
            await client.aclose()
        self._clients.clear()
