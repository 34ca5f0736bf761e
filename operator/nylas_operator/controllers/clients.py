"""One ``NylasClient`` per Nylas application, kept for the process lifetime.

Owns: the pool keyed by application (base URL + Nylas application id), replacing a client when
its API key changes (rotation), remembering which application a credential id belongs to (so a
deletion can still reach Nylas after namespace teardown removed the Secrets), and telling the
drift loop about each new application. Does not own: reading Secrets (``references.py``).
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
        self._clients: dict[AppKey, tuple[bytes, nylas.NylasClient]] = {}
        self._app_of_credential: dict[str, AppKey] = {}
        self._verified: dict[AppKey, bytes] = {}
        self._retired: list[nylas.NylasClient] = []

    def get(self, app: AppKey, api_key: SecretStr) -> nylas.NylasClient:
        digest = _digest(api_key)
        current = self._clients.get(app)
        if current is not None and hmac.compare_digest(current[0], digest):
            return current[1]
        client = nylas.NylasClient(
            api_key,
            api_url=app.base_url,
            application_id=app.application_id,
            settings=self._settings,
            observer=self._observer,
        )
        if current is not None:
            log.info("API key of application %s changed: new client", app)
            self._retired.append(current[1])  # in-flight calls may still use it; closed at exit
        self._clients[app] = (digest, client)
        if current is None and self._on_new_app is not None:
            self._on_new_app(app)
        return client

    def cached(self, app: AppKey) -> nylas.NylasClient | None:
        current = self._clients.get(app)
        return current[1] if current else None

    def verified(self, app: AppKey, api_key: SecretStr) -> bool:
        """Whether this API key was seen to belong to the application (``GET /v3/applications``);
        a key belongs to one application for good, so it is checked once per key."""
        known = self._verified.get(app)
        return known is not None and hmac.compare_digest(known, _digest(api_key))

    def mark_verified(self, app: AppKey, api_key: SecretStr) -> None:
        self._verified[app] = _digest(api_key)

    def remember_credential(self, credential_id: str, app: AppKey) -> None:
        self._app_of_credential[credential_id] = app

    def app_of_credential(self, credential_id: str) -> AppKey | None:
        return self._app_of_credential.get(credential_id)

    async def aclose(self) -> None:
        for _, client in self._clients.values():
            await client.aclose()
        for client in self._retired:
            await client.aclose()
        self._clients.clear()
