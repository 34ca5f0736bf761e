"""Controller decisions the OpenAPI contract asked for: the Azure app a credential carries, which
application an API key belongs to, and whether the consent callback URL is registered."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr

from nylas_operator import nylas
from nylas_operator.api.connector import NylasConnectorSpec
from nylas_operator.api.credential import NylasCredentialSpec
from nylas_operator.controllers import identity
from nylas_operator.controllers.clients import AppKey, ClientPool, Owner
from nylas_operator.controllers.credential import credential_data
from nylas_operator.controllers.references import SecretValues
from nylas_operator.kube import Secret

CONNECTOR = NylasConnectorSpec.model_validate(
    {
        "provider": "microsoft",
        "application": {"apiKeySecretRef": {"name": "nylas", "key": "apiKey"}, "clientId": "nylas-app"},
        "providerApp": {
            "clientId": "azure-connector-app",
            "clientSecretRef": {"name": "azure", "key": "secret"},
        },
    }
)


class FakeKube:
    """Only what ``SecretValues.read`` uses."""

    def __init__(self, secrets: dict[str, dict[str, str]]) -> None:
        self.secrets = secrets

    async def read_secret(self, namespace: str, name: str) -> Secret | None:
        data = self.secrets.get(name)
        if data is None:
            return None
        return Secret({k: SecretStr(v) for k, v in data.items()}, resource_version="7")


def _credential(admin_consent: dict[str, Any] | None) -> NylasCredentialSpec:
    spec: dict[str, Any] = {"connectorRef": {"name": "ms"}, "type": "adminconsent"}
    if admin_consent is not None:
        spec["adminConsent"] = admin_consent
    return NylasCredentialSpec.model_validate(spec)


async def _data(spec: NylasCredentialSpec) -> tuple[dict[str, Any], dict[str, str]]:
    kube = FakeKube({"azure": {"secret": "connector-secret"}, "own": {"secret": "own-secret"}})
    values = SecretValues()
    data = await credential_data(SimpleNamespace(kube=kube), "ns", spec, values, CONNECTOR)  # type: ignore[arg-type]
    body, _ = nylas.models.to_body(data)
    return body, values.versions


@pytest.mark.parametrize("admin_consent", [None, {"tenant": "contoso.onmicrosoft.com"}])
async def test_a_credential_on_the_connectors_app_sends_that_apps_id_and_secret(
    admin_consent: dict[str, Any] | None,
) -> None:
    # Contract, PATCH /v3/connectors/{provider}/creds/{id}: "For the Microsoft App Permission flow,
    # this field must contain the Azure client_id and client_secret" (a PATCH replaces the object).
    body, versions = await _data(_credential(admin_consent))
    assert body["client_id"] == "azure-connector-app"
    assert body["client_secret"] == "connector-secret"
    assert body["tenant"] == (admin_consent or {}).get("tenant", "common")
    # The connector's secret is now part of the credential: its rotation is pushed to Nylas too.
    assert versions == {"azure/secret": "7"}


async def test_a_credential_with_its_own_azure_app_sends_that_one() -> None:
    spec = _credential(
        {"tenant": "contoso", "clientId": "own-app", "clientSecretRef": {"name": "own", "key": "secret"}}
    )
    body, _ = await _data(spec)
    assert (body["client_id"], body["client_secret"]) == ("own-app", "own-secret")


async def test_the_tenant_is_sent_even_when_the_user_names_none() -> None:
    # Contract, POST .../creds (Admin Consent): "this field must contain the tenant".
    body, _ = await _data(_credential(None))
    assert body["tenant"] == "common"


def test_the_application_of_the_key_must_be_the_spec_client_id() -> None:
    app = nylas.Application.model_validate({"application_id": "nylas-app"})
    assert identity.application_mismatch("nylas-app", app) is None
    message = identity.application_mismatch("nylas-ap", app)
    assert message is not None
    assert "'nylas-ap'" in message and "'nylas-app'" in message


URL = "https://operator.example.com/nylas/consent/callback"


@pytest.mark.parametrize(
    ("registered", "may_register", "action"),
    [
        ([URL], False, "registered"),
        ([URL], True, "registered"),
        ([], False, "report"),
        ([URL + "/"], False, "report"),  # Nylas compares exactly: a trailing slash is another URI
        (["https://operator.example.com:8443/nylas/consent/callback"], True, "register"),
        ([], True, "register"),
    ],
)
def test_callback_action(registered: list[str], may_register: bool, action: str) -> None:
    uris = [nylas.RedirectUri(url=u, platform="web") for u in registered]
    assert identity.callback_action(URL, uris, may_register=may_register) == action


def test_the_unregistered_message_names_the_exact_url_and_the_opt_in() -> None:
    message = identity.unregistered_message(URL)
    assert URL in message and "--register-callback-url" in message


def test_a_key_is_checked_against_its_application_once_and_again_after_rotation() -> None:
    pool = ClientPool(nylas.NylasSettings())
    app = AppKey("https://api.us.nylas.com", "nylas-app")
    owner = Owner("team-a", "uid-a")
    assert not pool.verified(owner, app, SecretStr("key-1"))
    pool.mark_verified(owner, app, SecretStr("key-1"))
    assert pool.verified(owner, app, SecretStr("key-1"))
    assert not pool.verified(owner, app, SecretStr("key-2"))  # a rotated key is checked again
    assert not pool.verified(owner, AppKey("https://api.eu.nylas.com", "nylas-app"), SecretStr("key-1"))
    assert not pool.verified(Owner("team-b", "uid-b"), app, SecretStr("key-1"))  # per owner
