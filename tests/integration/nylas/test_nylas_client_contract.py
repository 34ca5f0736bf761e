"""The client's whole surface against the emulator: connectors, credentials, grants, custom auth."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from nylas_contract import GOOGLE_SCOPES, MakeClient, admin_consent, service_account

from nylas_operator.emulator.harness import RunningEmulator
from nylas_operator.nylas import (
    ConnectorCreate,
    ConnectorUpdate,
    CredentialUpdate,
    GoogleConnectorSettings,
    GrantUpdate,
    MicrosoftConnectorSettings,
    NylasBadRequestError,
    NylasClient,
    NylasConflictError,
    NylasNotFoundError,
    NylasStatusError,
    Provider,
)

MS_SETTINGS = MicrosoftConnectorSettings(client_id="azure-app", client_secret="azure-secret", tenant="common")


async def _google_ready(client: NylasClient) -> str:
    settings = GoogleConnectorSettings(client_id="gcp-app", client_secret="gcp-secret")
    await client.connectors.create(
        ConnectorCreate(provider=Provider.GOOGLE, settings=settings, scope=GOOGLE_SCOPES)
    )
    return (await client.credentials.create("google", service_account())).id


async def test_connector_lifecycle(client: NylasClient, emu: RunningEmulator) -> None:
    with pytest.raises(NylasNotFoundError):
        await client.connectors.get("microsoft")
    created = await client.connectors.create(
        ConnectorCreate(provider=Provider.MICROSOFT, settings=MS_SETTINGS, scope=["User.Read"])
    )
    assert created.provider == "microsoft" and created.scope == ["User.Read"]
    assert "azure-secret" not in str(emu.connectors())
    listed = await client.connectors.list()
    assert [c.provider for c in listed.items] == ["microsoft"]
    assert [c.provider async for c in client.connectors.iterate()] == ["microsoft"]
    updated = await client.connectors.update(
        "microsoft", ConnectorUpdate(settings=MS_SETTINGS, scope=["User.Read", "offline_access"])
    )
    assert updated.scope == ["User.Read", "offline_access"]
    assert (await client.connectors.get(Provider.MICROSOFT)).scope == updated.scope
    await client.connectors.delete("microsoft")
    with pytest.raises(NylasNotFoundError):
        await client.connectors.get("microsoft")


async def test_duplicate_connector_is_refused_once_and_not_retried(
    client: NylasClient, emu: RunningEmulator
) -> None:
    body = ConnectorCreate(provider=Provider.MICROSOFT, settings=MS_SETTINGS)
    await client.connectors.create(body)
    mark = emu.journal()[-1].seq
    with pytest.raises((NylasBadRequestError, NylasConflictError)):
        await client.connectors.create(body)
    assert len(emu.journal(after=mark)) == 1


async def test_credential_lifecycle(client: NylasClient, emu: RunningEmulator) -> None:
    await client.connectors.create(ConnectorCreate(provider=Provider.MICROSOFT, settings=MS_SETTINGS))
    cred = await client.credentials.create("microsoft", admin_consent(secret="cred-secret"))
    assert cred.name == "acme"
    assert (await client.credentials.get("microsoft", cred.id)).id == cred.id
    renamed = await client.credentials.update("microsoft", cred.id, CredentialUpdate(name="acme-2"))
    assert renamed.name == "acme-2"
    assert (await client.credentials.find_by_name("microsoft", "acme-2")) == renamed
    assert await client.credentials.find_by_name("microsoft", "acme") is None
    await client.credentials.delete("microsoft", cred.id)
    with pytest.raises((NylasNotFoundError, NylasBadRequestError)):
        await client.credentials.get("microsoft", cred.id)


async def test_credentials_paging_over_more_than_200(client: NylasClient, emu: RunningEmulator) -> None:
    await client.connectors.create(ConnectorCreate(provider=Provider.MICROSOFT, settings=MS_SETTINGS))
    for i in range(205):
        await client.credentials.create("microsoft", admin_consent(name=f"tenant-{i:03d}", tenant=f"t{i}"))
    mark = emu.journal()[-1].seq
    names = [c.name for c in await client.credentials.list_all("microsoft")]
    assert sorted(names) == [f"tenant-{i:03d}" for i in range(205)]
    pages = emu.journal(after=mark)
    assert [(e.query.get("limit"), e.query.get("offset")) for e in pages] == [("200", "0"), ("200", "200")]
    found = await client.credentials.find_by_name("microsoft", "tenant-204")
    assert found is not None and found.name == "tenant-204"


async def test_grants_paging_filters_and_surface(client: NylasClient, emu: RunningEmulator) -> None:
    credential_id = await _google_ready(client)
    ids = {}
    for i in range(203):
        email = f"user{i:03d}@acme.example"
        grant = await client.auth.custom(
            provider="google", email_address=email, credential_id=credential_id, scopes=GOOGLE_SCOPES
        )
        ids[email] = grant.id
    mark = emu.journal()[-1].seq
    everything = [g async for g in client.grants.iterate(provider="google")]
    assert {g.email: g.id for g in everything} == ids
    pages = emu.journal(after=mark)
    assert [e.query.get("offset") for e in pages] == ["0", "200"]
    assert all(e.query.get("provider") == "google" for e in pages)

    page = await client.grants.list(provider="google", limit=7, offset=200)
    assert len(page.items) == 3
    (only,) = await client.grants.find_by_email("user042@acme.example", provider="google")
    assert only.id == ids["user042@acme.example"]
    assert (await client.grants.list(grant_status="invalid")).items == []

    emu.invalidate_grant(only.id)
    (invalid,) = await client.grants.list_all(grant_status="invalid")
    assert invalid.id == only.id and not invalid.is_valid

    # Re-auth returns the same grant; after a delete the email gets a new one.
    again = await client.auth.custom(
        provider="google",
        email_address="user042@acme.example",
        credential_id=credential_id,
        scopes=GOOGLE_SCOPES,
    )
    assert again.id == only.id and again.is_valid
    patched = await client.grants.update(only.id, GrantUpdate(scope=GOOGLE_SCOPES[:1]))
    assert patched.scope == GOOGLE_SCOPES[:1]
    await client.grants.delete(only.id)
    with pytest.raises(NylasNotFoundError):
        await client.grants.get(only.id)
    fresh = await client.auth.custom(
        provider="google",
        email_address="user042@acme.example",
        credential_id=credential_id,
        scopes=GOOGLE_SCOPES,
    )
    assert fresh.id != only.id


async def test_microsoft_custom_auth_waits_for_consent_to_settle(
    client: NylasClient, emu: RunningEmulator
) -> None:
    await client.connectors.create(ConnectorCreate(provider=Provider.MICROSOFT, settings=MS_SETTINGS))
    cred = await client.credentials.create("microsoft", admin_consent())
    emu.approve_consent(cred.id)  # just now: inside the scope-cache window
    mark = emu.journal()[-1].seq
    with pytest.raises(NylasStatusError) as info:
        await client.auth.custom(provider="microsoft", email_address="a@acme.example", credential_id=cred.id)
    err = info.value
    assert err.status in (400, 403) and not err.retryable
    assert err.provider_error is not None and err.provider_error.code
    assert len(emu.journal(after=mark)) == 1

    emu.approve_consent(cred.id, decided_at=time.time() - 3600)  # long settled
    grant = await client.auth.custom(
        provider="microsoft", email_address="a@acme.example", credential_id=cred.id
    )
    assert grant.provider == "microsoft" and grant.email == "a@acme.example"


async def test_admin_consent_url_is_accepted_by_the_emulator(
    client: NylasClient, emu: RunningEmulator
) -> None:
    await client.connectors.create(ConnectorCreate(provider=Provider.MICROSOFT, settings=MS_SETTINGS))
    cred = await client.credentials.create("microsoft", admin_consent())
    state = "default/acme:" + "x" * 200
    url = client.auth.admin_consent_url(
        credential_id=cred.id, redirect_uri="https://op.example.com/nylas/consent", state=state
    )
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
        response = await browser.get(url)
    assert response.status_code == 302, response.text
    back = urlsplit(response.headers["location"])
    assert (back.netloc, back.path) == ("op.example.com", "/nylas/consent")
    query = parse_qs(back.query)
    assert query["state"] == [state]
    assert query["admin_consent"][0].lower() == "true"


async def test_unknown_region_key_is_unauthorized(make_client: MakeClient, emu: RunningEmulator) -> None:
    wrong = make_client(api_key="nyk_not_this_application")
    with pytest.raises(NylasStatusError) as info:
        await wrong.grants.list()
    assert info.value.status == 401
    assert emu.url in str(info.value) and "wrong region or API key" in str(info.value)
