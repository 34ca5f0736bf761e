"""Every request the client sends and every answer the emulator gives, checked against Nylas's contract.

The client drives its whole surface against the emulator over a real socket (each method, optional
fields set and unset, success and error answers); a recording transport keeps each exchange, and
each one is validated by ``nylas_oracle`` (openapi-core on the extracted contract).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from nylas_oracle import ContractViolation, Exchange, RecordingTransport, check_request, check_response

from fixtures.emulator import FAKE_PEM
from nylas_operator.emulator.harness import RunningEmulator
from nylas_operator.nylas import (
    AdminConsentCredentialData,
    ConnectorCreate,
    ConnectorUpdate,
    CredentialCreate,
    CredentialType,
    CredentialUpdate,
    GoogleConnectorSettings,
    GrantUpdate,
    LimiterRegistry,
    MicrosoftConnectorSettings,
    NylasClient,
    NylasError,
    NylasSettings,
    Provider,
    RetryPolicy,
    ServiceAccountCredentialData,
)

NO_RETRY = RetryPolicy(max_attempts=1)
CLIENT_OPERATIONS = {
    ("get", "/v3/applications"),
    ("get", "/v3/applications/redirect-uris"),
    ("post", "/v3/applications/redirect-uris"),
    ("get", "/v3/connectors"),
    ("post", "/v3/connectors"),
    ("get", "/v3/connectors/{provider}"),
    ("patch", "/v3/connectors/{provider}"),
    ("delete", "/v3/connectors/{provider}"),
    ("get", "/v3/connectors/{provider}/creds"),
    ("post", "/v3/connectors/{provider}/creds"),
    ("get", "/v3/connectors/{provider}/creds/{id}"),
    ("patch", "/v3/connectors/{provider}/creds/{id}"),
    ("delete", "/v3/connectors/{provider}/creds/{id}"),
    ("post", "/v3/connect/custom"),
    ("get", "/v3/grants"),
    ("get", "/v3/grants/{grantId}"),
    ("patch", "/v3/grants/{grantId}"),
    ("delete", "/v3/grants/{grantId}"),
}
SCOPES = ["https://www.googleapis.com/auth/userinfo.email"]


def _key(**extra: str) -> ServiceAccountCredentialData:
    return ServiceAccountCredentialData.model_validate(
        {
            "private_key_id": "0123456789abcdef",
            "private_key": FAKE_PEM,
            "client_email": "bulk@acme-project.iam.gserviceaccount.com",
            **extra,
        }
    )


@pytest.fixture
async def wire(shared_emulator: RunningEmulator) -> AsyncIterator[tuple[NylasClient, RecordingTransport]]:
    shared_emulator.configure(scope_cache_delay=0)
    recorder = RecordingTransport()
    client = NylasClient(
        shared_emulator.api_key,
        api_url=shared_emulator.url,
        application_id=shared_emulator.application_id,
        settings=NylasSettings(retry=NO_RETRY, rate=1000.0, burst=100),
        registry=LimiterRegistry(),
        http_transport=recorder,
    )
    yield client, recorder
    await client.aclose()


async def _expect_error(call: Callable[[], object]) -> None:
    try:
        await call()  # type: ignore[misc]
    except NylasError:
        return
    raise AssertionError("expected a Nylas error answer")


async def _drive_everything(client: NylasClient, emu: RunningEmulator) -> None:
    ms = MicrosoftConnectorSettings(client_id="azure-app", client_secret="azure-secret")
    ms_tenant = MicrosoftConnectorSettings(client_id="azure-app", client_secret="azure-secret", tenant="acme")
    g = GoogleConnectorSettings(client_id="gcp-app", client_secret="gcp-secret")
    g_topic = GoogleConnectorSettings(client_id="gcp-app", client_secret="gcp-secret", topic_name="t")

    # the application behind the key, and its callback URIs
    await client.applications.get()
    await client.applications.redirect_uris()
    await client.applications.add_redirect_uri("https://operator.example.com/nylas/callback")
    await _expect_error(lambda: client.applications.add_redirect_uri("not a url"))

    # connectors: errors first, then each optional field unset and set
    await _expect_error(lambda: client.connectors.get("microsoft"))
    await client.connectors.create(ConnectorCreate(provider=Provider.MICROSOFT, settings=ms))
    await _expect_error(
        lambda: client.connectors.create(ConnectorCreate(provider=Provider.MICROSOFT, settings=ms))
    )
    await client.connectors.create(
        ConnectorCreate(provider=Provider.GOOGLE, settings=g_topic, scope=SCOPES, name="k8s:ns/google")
    )
    await client.connectors.get("microsoft")
    await client.connectors.list()
    await client.connectors.list(limit=1, offset=1)
    _ = [c async for c in client.connectors.iterate(page_size=1)]
    await client.connectors.update("microsoft", ConnectorUpdate(settings=ms_tenant, scope=["User.Read"]))
    await client.connectors.update("google", ConnectorUpdate(settings=g, scope=SCOPES))
    await client.connectors.update("microsoft", ConnectorUpdate(scope=[]))

    # credentials
    own_app = AdminConsentCredentialData(tenant="acme", client_id="azure-2", client_secret="s2")
    connector_app = AdminConsentCredentialData(tenant="common", client_id="azure-app", client_secret="s")
    ac = await client.credentials.create(
        "microsoft",
        CredentialCreate(name="ac", credential_type=CredentialType.ADMINCONSENT, credential_data=own_app),
    )
    await client.credentials.create(
        "microsoft",
        CredentialCreate(
            name="ac2", credential_type=CredentialType.ADMINCONSENT, credential_data=connector_app
        ),
    )
    sa = await client.credentials.create(
        "google",
        CredentialCreate(name="sa", credential_type=CredentialType.SERVICEACCOUNT, credential_data=_key()),
    )
    await client.credentials.create(
        "google",
        CredentialCreate(
            name="sa-full",
            credential_type=CredentialType.SERVICEACCOUNT,
            credential_data=_key(type="service_account", project_id="p", client_id="1"),
        ),
    )
    await client.credentials.get("microsoft", ac.id)
    await _expect_error(lambda: client.credentials.get("microsoft", "missing"))
    await client.credentials.list("microsoft")
    await client.credentials.list("microsoft", limit=1, offset=1, sort_by="updated_at", order_by="desc")
    await client.credentials.find_by_name("google", "nope")
    await client.credentials.update("microsoft", ac.id, CredentialUpdate(credential_data=own_app))
    await client.credentials.update("microsoft", ac.id, CredentialUpdate(name="ac-renamed"))
    await client.credentials.update("google", sa.id, CredentialUpdate(credential_data=_key()))

    # custom auth and grants
    emu.approve_consent(ac.id, decided_at=0)
    ms_grant = await client.auth.custom(provider="microsoft", email_address="a@acme.com", credential_id=ac.id)
    await client.auth.custom(provider="microsoft", email_address="a@acme.com", credential_id=ac.id)
    await client.auth.custom(
        provider="google", email_address="b@acme.com", credential_id=sa.id, scopes=SCOPES
    )
    await _expect_error(
        lambda: client.auth.custom(
            provider="google", email_address="c@acme.com", credential_id="x", scopes=SCOPES
        )
    )
    await client.grants.get(ms_grant.id)
    await _expect_error(lambda: client.grants.get("missing"))
    await client.grants.list()
    await client.grants.list(
        email="a@acme.com",
        provider="microsoft",
        grant_status="valid",
        limit=5,
        offset=0,
        sort_by="updated_at",
        order_by="asc",
    )
    await client.grants.find_by_email("a@acme.com", provider="microsoft")
    await client.grants.update(ms_grant.id, GrantUpdate(scope=["User.Read"]))
    await client.grants.update(ms_grant.id, GrantUpdate(settings={"email_address": "a@acme.com"}))
    await client.grants.delete(ms_grant.id)
    await _expect_error(lambda: client.grants.delete(ms_grant.id))

    # deletes, and a refused one (the active credential)
    await client.connectors.update("microsoft", ConnectorUpdate(active_credential_id=ac.id))
    await _expect_error(lambda: client.credentials.delete("microsoft", ac.id))
    await client.credentials.delete("google", sa.id)
    await client.connectors.delete("google")
    await _expect_error(lambda: client.connectors.delete("google"))


async def test_every_request_and_answer_matches_the_contract(
    wire: tuple[NylasClient, RecordingTransport], shared_emulator: RunningEmulator
) -> None:
    client, recorder = wire
    await _drive_everything(client, shared_emulator)
    bad = NylasClient(
        "wrong-key",
        api_url=shared_emulator.url,
        settings=NylasSettings(retry=NO_RETRY),
        registry=LimiterRegistry(),
        http_transport=recorder,
    )
    async with bad:
        await _expect_error(lambda: bad.connectors.list())
    violations: list[str] = []
    seen: set[tuple[str, str, int]] = set()
    for ex in recorder.exchanges:
        for check in (check_request, check_response):
            try:
                seen.add((ex.method, check(ex), ex.status))
            except ContractViolation as exc:
                violations.append(str(exc))
    print(f"{len(recorder.exchanges)} exchanges, {len(seen)} (operation, status) pairs checked")
    assert not violations, "\n".join(dict.fromkeys(violations))
    # The drive reached every operation the client has (a guard against a silently shorter drive).
    assert {(m, t) for m, t, _ in seen} == CLIENT_OPERATIONS
    assert {s for _, _, s in seen} == {200, 201, 400, 401, 404}


async def test_the_consent_url_and_its_redirect_match_the_contract(
    wire: tuple[NylasClient, RecordingTransport], shared_emulator: RunningEmulator
) -> None:
    client, _ = wire
    await client.connectors.create(
        ConnectorCreate(
            provider=Provider.MICROSOFT,
            settings=MicrosoftConnectorSettings(client_id="azure-app", client_secret="s"),
        )
    )
    cred = await client.credentials.create(
        "microsoft",
        CredentialCreate(
            name="ac",
            credential_type=CredentialType.ADMINCONSENT,
            credential_data=AdminConsentCredentialData(tenant="acme", client_id="a", client_secret="b"),
        ),
    )
    for scope in (None, ["User.Read", "Mail.Read"]):
        url = client.auth.admin_consent_url(
            credential_id=cred.id, redirect_uri="http://127.0.0.1:1/callback", state="s" * 256, scope=scope
        )
        async with httpx.AsyncClient(follow_redirects=False) as http:
            response = await http.get(url)
        # The browser sends no API key: the contract lists no security for /v3/connect/auth.
        ex = Exchange.of(response.request, response, response.content)
        check_request(ex)
        check_response(ex)
        assert response.status_code == 302
