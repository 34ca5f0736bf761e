"""The emulator's stand-in for Microsoft's token endpoint, asked by the operator's own client.

A client-credentials token for a tenant is issued only for a tenant and Azure app whose admin
consent the emulator recorded; its ``roles`` are the app's permissions plus the consented scopes,
after the propagation lag; otherwise Microsoft's AADSTS errors.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from pydantic import SecretStr

from fixtures.emulator import make_connector, make_credential
from nylas_operator.emulator.harness import RunningEmulator
from nylas_operator.entra import Answer, TokenClient

TENANT = "6f1c2a3b-0000-4000-8000-00000000abcd"


def ask(emulator: RunningEmulator, tenant: str, client_id: str, secret: str) -> Answer:
    async def go() -> Answer:
        client = TokenClient(login_url=emulator.url)
        try:
            return await client.ask(tenant, client_id, SecretStr(secret))
        finally:
            await client.close()

    return asyncio.run(go())


def consent_in_browser(emulator: RunningEmulator, cred: dict[str, Any], scope: str | None = None) -> None:
    params = {
        "client_id": emulator.application_id,
        "provider": "microsoft",
        "response_type": "adminconsent",
        "credential_id": cred["id"],
        "redirect_uri": "https://op.example.com/consent/callback",
        "state": "s",
    }
    if scope:
        params["scope"] = scope
    response = httpx.get(emulator.url + "/v3/connect/auth", params=params, timeout=10)
    assert response.status_code == 302, response.text


def test_a_token_is_issued_only_after_the_tenant_consented(
    emulator: RunningEmulator, emulator_api: httpx.Client
) -> None:
    make_connector(emulator_api, "microsoft")
    cred = make_credential(
        emulator_api, "microsoft", tenant=TENANT, client_id="azure-app", client_secret="azure-secret"
    )
    assert ask(emulator, TENANT, "azure-app", "azure-secret") == Answer(False, code="AADSTS700016")
    consent_in_browser(
        emulator, cred, scope="https://graph.microsoft.com/Mail.Send Calendars.Read offline_access"
    )
    answer = ask(emulator, TENANT, "azure-app", "azure-secret")
    assert answer.issued and answer.tenant_id == TENANT
    assert {"Mail.Send", "Calendars.Read", "Mail.ReadWrite"} <= set(answer.roles)
    assert "offline_access" not in answer.roles
    assert ask(emulator, TENANT, "azure-app", "wrong") == Answer(False, code="AADSTS7000215")
    assert ask(emulator, "another-tenant", "azure-app", "azure-secret") == Answer(False, code="AADSTS700016")
    assert ask(emulator, TENANT, "another-app", "azure-secret") == Answer(False, code="AADSTS700016")
    assert ask(emulator, "common", "azure-app", "azure-secret") == Answer(False, code="AADSTS700016")
    outcomes = [(r["tenant"], r["outcome"]) for r in emulator.token_requests()]
    assert outcomes[0] == (TENANT, "AADSTS700016") and (TENANT, "issued") in outcomes
    assert "azure-secret" not in str(emulator.state())


def test_roles_appear_after_the_propagation_lag_and_the_connector_app_counts(
    emulator: RunningEmulator, emulator_api: httpx.Client
) -> None:
    emulator.configure(token_roles_lag=1.0)
    make_connector(emulator_api, "microsoft")
    cred = make_credential(emulator_api, "microsoft", tenant=TENANT)  # the connector's Azure app
    emulator.approve_consent(cred["id"])
    early = ask(emulator, TENANT, "microsoft-app", "microsoft-connector-secret")
    assert early.issued and early.roles == ()
    time.sleep(1.1)
    late = ask(emulator, TENANT, "microsoft-app", "microsoft-connector-secret")
    assert late.issued and "Mail.ReadWrite" in late.roles
    emulator.revoke_consent(cred["id"])
    assert ask(emulator, TENANT, "microsoft-app", "microsoft-connector-secret").code == "AADSTS700016"
