"""The application behind an API key, its redirect URIs, and the error shapes, over a real socket."""

from __future__ import annotations

import httpx
import pytest
from nylas_contract import MakeClient, admin_consent

from nylas_operator.emulator.config import PROVIDER_ERROR_SHAPES
from nylas_operator.emulator.harness import RunningEmulator
from nylas_operator.nylas import (
    ConnectorCreate,
    MicrosoftConnectorSettings,
    NylasClient,
    NylasStatusError,
    Provider,
    classify,
)

CALLBACK = "https://operator.example.com/nylas/consent/callback"


async def test_the_application_is_the_one_the_key_belongs_to(
    make_client: MakeClient, emu: RunningEmulator
) -> None:
    assert (await make_client().applications.get()).application_id == emu.application_id
    emu.add_application("other-app", "other-key")
    other = make_client(api_key="other-key", application_id="other-app")
    assert (await other.applications.get()).application_id == "other-app"


async def _consent_answer(client: NylasClient, credential_id: str) -> int:
    url = client.auth.admin_consent_url(credential_id=credential_id, redirect_uri=CALLBACK, state="s")
    async with httpx.AsyncClient(follow_redirects=False) as http:
        return (await http.get(url)).status_code


async def _microsoft_credential(client: NylasClient) -> str:
    settings = MicrosoftConnectorSettings(client_id="azure-app", client_secret="s")
    await client.connectors.create(ConnectorCreate(provider=Provider.MICROSOFT, settings=settings))
    return (await client.credentials.create("microsoft", admin_consent(secret="x"))).id


async def test_an_enforcing_application_redirects_only_to_registered_uris(
    make_client: MakeClient, emu: RunningEmulator
) -> None:
    emu.add_application("strict-app", "strict-key", redirect_uris=[])
    client = make_client(api_key="strict-key", application_id="strict-app")
    cred = await _microsoft_credential(client)
    assert await client.applications.redirect_uris() == []
    assert await _consent_answer(client, cred) == 400
    added = await client.applications.add_redirect_uri(CALLBACK)
    assert (added.url, added.platform) == (CALLBACK, "web")
    assert [u.url for u in await client.applications.redirect_uris()] == [CALLBACK]
    assert [u.url for u in (await client.applications.get()).callback_uris] == [CALLBACK]
    assert await _consent_answer(client, cred) == 302


async def test_the_sandbox_application_accepts_any_redirect_uri(make_client: MakeClient) -> None:
    client = make_client()
    assert await _consent_answer(client, await _microsoft_credential(client)) == 302


@pytest.mark.parametrize("shape", [s for s in PROVIDER_ERROR_SHAPES if s != "random"])
async def test_consent_pending_is_recognised_in_every_shape_the_emulator_sends(
    shape: str, make_client: MakeClient, emu: RunningEmulator
) -> None:
    emu.configure(provider_error_shape=shape)
    client = make_client()
    cred = await _microsoft_credential(client)
    with pytest.raises(NylasStatusError) as caught:
        await client.auth.custom(provider="microsoft", email_address="a@acme.com", credential_id=cred)
    assert classify.is_not_propagated(caught.value)
    assert "AADSTS65001" in str(caught.value)


@pytest.mark.parametrize("status", [400, 404])
async def test_deleting_a_credential_that_is_gone_is_recognised_as_done(
    status: int, make_client: MakeClient, emu: RunningEmulator
) -> None:
    emu.configure(missing_credential_status=status)
    client = make_client()
    cred = await _microsoft_credential(client)
    await client.credentials.delete("microsoft", cred)
    with pytest.raises(NylasStatusError) as caught:
        await client.credentials.delete("microsoft", cred)
    assert caught.value.status == status
    assert classify.is_gone(caught.value)
