"""Turning references into typed inputs: Secrets, parent objects, the Google JSON key.

Owns: every "cannot proceed yet" answer with a precise, stable reason (``Unresolved``): a missing
Secret or key, a missing or not-yet-ready parent, a malformed service-account key. References are
same-namespace only (the schema allows names, never namespaces). Secret values come back as
``SecretStr`` and appear in no message. Does not own: talking to Nylas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr, ValidationError

from nylas_operator import nylas
from nylas_operator.api.common import SecretKeySelector
from nylas_operator.api.conditions import Reason, is_true
from nylas_operator.api.connector import NylasConnectorSpec
from nylas_operator.api.credential import NylasCredentialSpec
from nylas_operator.kube import CONNECTORS, CREDENTIALS, Kube
from nylas_operator.observability.redaction import register_secret


class Unresolved(Exception):
    """An input is missing or invalid. ``terminal``: only a spec or Secret change fixes it."""

    def __init__(self, reason: str, message: str, *, terminal: bool = False) -> None:
        self.reason = reason
        self.message = message
        self.terminal = terminal
        super().__init__(message)


@dataclass
class SecretValues:
    """Resolved Secret values plus the content version of each (for rotation: the resourceVersion
    at which the value last changed, so a label change on the Secret is no rotation)."""

    versions: dict[str, str] = field(default_factory=dict)

    async def read(self, kube: Kube, namespace: str, ref: SecretKeySelector, what: str) -> SecretStr:
        secret = await kube.read_secret(namespace, ref.name)
        if secret is None:
            raise Unresolved(Reason.SECRET_NOT_FOUND, f"Secret {ref.name!r} ({what}) does not exist")
        value = secret.data.get(ref.key)
        if value is None or not value.get_secret_value().strip():
            raise Unresolved(
                Reason.SECRET_KEY_NOT_FOUND, f"Secret {ref.name!r} has no non-empty key {ref.key!r} ({what})"
            )
        self.versions[f"{ref.name}/{ref.key}"] = secret.version_of(ref.key)
        register_secret(value.get_secret_value())  # log redaction catches any slip from now on
        return SecretStr(value.get_secret_value().strip())


@dataclass(frozen=True)
class Parent:
    """A parent object as read now, with its parsed spec."""

    body: dict[str, Any]
    spec: Any

    @property
    def status(self) -> dict[str, Any]:
        return dict(self.body.get("status") or {})

    @property
    def ready(self) -> bool:
        return is_true(self.status.get("conditions"), "Ready")

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])


async def load_connector(kube: Kube, namespace: str, name: str, *, terminating_ok: bool = False) -> Parent:
    body = await kube.get_object(CONNECTORS, namespace, name, cached=True)
    if body is None or (body["metadata"].get("deletionTimestamp") and not terminating_ok):
        raise Unresolved(Reason.CONNECTOR_NOT_FOUND, f"NylasConnector {name!r} does not exist")
    return Parent(body, NylasConnectorSpec.model_validate(body.get("spec") or {}))


async def load_credential(kube: Kube, namespace: str, name: str, *, terminating_ok: bool = False) -> Parent:
    body = await kube.get_object(CREDENTIALS, namespace, name, cached=True)
    if body is None or (body["metadata"].get("deletionTimestamp") and not terminating_ok):
        raise Unresolved(Reason.CREDENTIAL_NOT_FOUND, f"NylasCredential {name!r} does not exist")
    return Parent(body, NylasCredentialSpec.model_validate(body.get("spec") or {}))


def parse_service_account_key(raw: SecretStr, where: str) -> nylas.ServiceAccountCredentialData:
    """Validate a Google JSON key. Messages name the problem, never the content."""

    def bad(problem: str) -> Unresolved:
        return Unresolved(Reason.INVALID_SERVICE_ACCOUNT_KEY, f"{where}: {problem}", terminal=True)

    try:
        doc = json.loads(raw.get_secret_value())
    except json.JSONDecodeError as exc:
        raise bad(f"not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(doc, dict):
        raise bad("not a JSON object")
    for required in ("private_key_id", "private_key", "client_email"):
        if not isinstance(doc.get(required), str) or not doc[required].strip():
            raise bad(f"missing or empty {required!r}")
    if doc.get("type") not in (None, "service_account"):
        raise bad("'type' is not 'service_account'")
    key = doc["private_key"].strip()
    register_secret(key)  # decoded: the raw JSON (registered on read) holds it with \n escapes
    if not (key.startswith("-----BEGIN ") and "PRIVATE KEY-----" in key.splitlines()[0]):
        raise bad("'private_key' is not a PEM private key (no BEGIN PRIVATE KEY line)")
    if "-----END " not in key:
        raise bad("'private_key' is not a PEM private key (no END line)")
    email = doc["client_email"]
    if "@" not in email or any(c.isspace() for c in email):
        raise bad("'client_email' is not an email address")
    try:
        return nylas.ServiceAccountCredentialData.model_validate(doc)
    except ValidationError:
        raise bad("fields have unexpected types") from None
