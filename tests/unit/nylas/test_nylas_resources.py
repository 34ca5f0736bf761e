"""Each resource method sends the documented method, path, query and body, and parses the answer."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from nylas_mock import API_KEY, FakeClock, Recorder, make_client, reply

from nylas_operator.nylas import (
    AdminConsentCredentialData,
    ConnectorCreate,
    ConnectorUpdate,
    CredentialCreate,
    CredentialType,
    CredentialUpdate,
    GrantUpdate,
    MicrosoftConnectorSettings,
    NylasClient,
    NylasResponseError,
    Provider,
    ServiceAccountCredentialData,
)

CONNECTOR = {"provider": "microsoft", "name": "MS", "settings": {"tenant": "t"}, "scope": ["User.Read"]}
CRED = {"id": "cred-1", "name": "acme", "created_at": 1, "updated_at": 2}
GRANT = {"id": "g-1", "provider": "microsoft", "grant_status": "valid", "email": "a@x.com", "scope": []}


def data(obj: Any) -> httpx.Response:
    return reply(200, {"request_id": "r", "data": obj})


async def test_auth_header_and_base_url(client: NylasClient, recorder: Recorder) -> None:
    recorder.script.append(data(CONNECTOR))
    await client.connectors.get("microsoft")
    req = recorder.last
    assert req.headers["authorization"] == f"Bearer {API_KEY}"
    assert str(req.url) == "https://api.us.nylas.com/v3/connectors/microsoft"


async def test_connectors_surface(client: NylasClient, recorder: Recorder) -> None:
    recorder.script += [data([CONNECTOR]), data(CONNECTOR), reply(201, {"data": CONNECTOR}), data(CONNECTOR)]
    recorder.script.append(reply(200, {"request_id": "del-1"}))
    page = await client.connectors.list(limit=5, offset=0)
    assert [c.provider for c in page.items] == ["microsoft"]
    assert recorder.last.url.params["limit"] == "5"
    connector = await client.connectors.get(Provider.MICROSOFT)
    assert connector.scope == ["User.Read"]
    settings = MicrosoftConnectorSettings(client_id="cid", client_secret="s3cret", tenant="t")
    await client.connectors.create(
        ConnectorCreate(provider=Provider.MICROSOFT, settings=settings, scope=["User.Read"])
    )
    assert (recorder.last.method, recorder.last.url.path) == ("POST", "/v3/connectors")
    assert recorder.body() == {
        "provider": "microsoft",
        "settings": {"client_id": "cid", "client_secret": "s3cret", "tenant": "t"},
        "scope": ["User.Read"],
    }
    await client.connectors.update("microsoft", ConnectorUpdate(settings=settings))
    assert recorder.last.method == "PATCH"
    assert recorder.body() == {"settings": {"client_id": "cid", "client_secret": "s3cret", "tenant": "t"}}
    assert await client.connectors.delete("microsoft") == "del-1"
    assert (recorder.last.method, recorder.last.url.path) == ("DELETE", "/v3/connectors/microsoft")


async def test_credentials_surface(client: NylasClient, recorder: Recorder) -> None:
    recorder.script += [data(CRED), reply(201, {"data": CRED}), data(CRED), reply(204)]
    got = await client.credentials.get("microsoft", "cred-1")
    assert got.name == "acme" and got.credential_type is None
    assert recorder.last.url.path == "/v3/connectors/microsoft/creds/cred-1"
    create = CredentialCreate(
        name="acme",
        credential_type=CredentialType.ADMINCONSENT,
        credential_data=AdminConsentCredentialData(tenant="ten", client_id="c", client_secret="cs"),
    )
    await client.credentials.create("microsoft", create)
    assert recorder.body() == {
        "name": "acme",
        "credential_type": "adminconsent",
        "credential_data": {"tenant": "ten", "client_id": "c", "client_secret": "cs"},
    }
    await client.credentials.update("microsoft", "cred-1", CredentialUpdate(name="acme2"))
    assert recorder.last.method == "PATCH" and recorder.body() == {"name": "acme2"}
    assert await client.credentials.delete("microsoft", "cred-1") is None


async def test_google_service_account_body_keeps_the_whole_key(
    client: NylasClient, recorder: Recorder
) -> None:
    recorder.script.append(reply(201, {"data": CRED}))
    key = {
        "type": "service_account",
        "project_id": "p",
        "private_key_id": "kid",
        "private_key": "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n",
        "client_email": "sa@p.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    create = CredentialCreate(
        name="ws",
        credential_type=CredentialType.SERVICEACCOUNT,
        credential_data=ServiceAccountCredentialData.model_validate(key),
    )
    await client.credentials.create("google", create)
    assert recorder.body()["credential_data"] == key


def _paged(total: int, make: Any, server_cap: int = 200) -> Any:
    items = [make(i) for i in range(total)]

    def route(request: httpx.Request) -> httpx.Response:
        limit = min(int(request.url.params["limit"]), server_cap)
        offset = int(request.url.params.get("offset", "0"))
        return reply(
            200, {"request_id": "r", "data": items[offset : offset + limit], "limit": limit, "offset": offset}
        )

    return route


@pytest.mark.parametrize(("total", "pages"), [(0, 1), (199, 1), (200, 2), (450, 3)])
async def test_credentials_paging_stops_on_short_page(
    client: NylasClient, recorder: Recorder, total: int, pages: int
) -> None:
    recorder.route = _paged(total, lambda i: {"id": f"c{i}", "name": f"n{i}"})
    creds = await client.credentials.list_all("microsoft")
    assert [c.id for c in creds] == [f"c{i}" for i in range(total)]
    assert len(recorder.requests) == pages
    assert [r.url.params["offset"] for r in recorder.requests] == [str(200 * i) for i in range(pages)]
    assert all(r.url.params["limit"] == "200" for r in recorder.requests)


async def test_paging_follows_a_server_that_serves_fewer_than_asked(
    client: NylasClient, recorder: Recorder
) -> None:
    recorder.route = _paged(250, lambda i: {"id": f"g{i}", "provider": "google", "scope": []}, server_cap=100)
    grants = [g async for g in client.grants.iterate(provider="google")]
    assert len(grants) == 250
    assert [r.url.params["offset"] for r in recorder.requests] == ["0", "100", "200"]


async def test_find_by_name_pages_until_found(client: NylasClient, recorder: Recorder) -> None:
    recorder.route = _paged(450, lambda i: {"id": f"c{i}", "name": f"n{i}"})
    found = await client.credentials.find_by_name("google", "n301")
    assert found is not None and found.id == "c301"
    assert len(recorder.requests) == 2
    recorder.requests.clear()
    assert await client.credentials.find_by_name("google", "missing") is None
    assert len(recorder.requests) == 3


async def test_grants_filters_and_surface(client: NylasClient, recorder: Recorder) -> None:
    recorder.script += [data([GRANT]), data(GRANT), data(GRANT), reply(200, {"request_id": "d"})]
    await client.grants.list(
        email="a@x.com", provider="microsoft", grant_status="invalid", limit=10, offset=20
    )
    assert dict(recorder.last.url.params) == {
        "email": "a@x.com",
        "provider": "microsoft",
        "grant_status": "invalid",
        "limit": "10",
        "offset": "20",
    }
    grant = await client.grants.get("g-1")
    assert grant.is_valid
    await client.grants.update("g-1", GrantUpdate(scope=["a"]))
    assert recorder.last.method == "PATCH" and recorder.body() == {"scope": ["a"]}
    await client.grants.delete("g/1")
    assert recorder.last.url.raw_path == b"/v3/grants/g%2F1"


async def test_find_by_email_matches_exactly(client: NylasClient, recorder: Recorder) -> None:
    other = {**GRANT, "id": "g-2", "email": "aa@x.com"}
    recorder.script.append(data([GRANT, other]))
    grants = await client.grants.find_by_email("A@x.com", provider="microsoft")
    assert [g.id for g in grants] == ["g-1"]


async def test_limit_is_bounded(client: NylasClient) -> None:
    with pytest.raises(ValueError, match="limit"):
        await client.grants.list(limit=201)


async def test_custom_auth_bodies(client: NylasClient, recorder: Recorder) -> None:
    recorder.script += [reply(201, {"data": GRANT}), reply(201, {"data": {**GRANT, "provider": "google"}})]
    grant = await client.auth.custom(provider="microsoft", email_address="a@x.com", credential_id="cred-1")
    assert grant.id == "g-1"
    assert (recorder.last.method, recorder.last.url.path) == ("POST", "/v3/connect/custom")
    assert recorder.body() == {
        "provider": "microsoft",
        "settings": {"email_address": "a@x.com", "credential_id": "cred-1"},
    }
    await client.auth.custom(
        provider="google", email_address="b@x.com", credential_id="c2", scopes=["s1", "s2"]
    )
    assert recorder.body()["settings"] == {
        "email_address": "b@x.com",
        "credential_id": "c2",
        "scopes": ["s1", "s2"],
    }


async def test_custom_auth_validates_before_sending(client: NylasClient, recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="scopes"):
        await client.auth.custom(provider="google", email_address="b@x.com", credential_id="c2")
    with pytest.raises(ValueError):
        await client.auth.custom(
            provider="microsoft", email_address="b@x.com", credential_id="c", scopes=["x"]
        )
    assert recorder.requests == []


async def test_unparseable_success_body_is_a_response_error(client: NylasClient, recorder: Recorder) -> None:
    recorder.script.append(reply(200, b"<html>ok</html>"))
    with pytest.raises(NylasResponseError):
        await client.grants.get("g")
    recorder.script.append(reply(200, {"data": {"provider": "google"}}))  # no id
    with pytest.raises(NylasResponseError, match="id") as info:
        await client.grants.get("g")
    assert info.value.retryable is False


@pytest.mark.parametrize(
    ("region", "api_url", "expected"),
    [
        ("us", None, "https://api.us.nylas.com"),
        ("EU", None, "https://api.eu.nylas.com"),
        ("us", "http://127.0.0.1:9999/", "http://127.0.0.1:9999"),
    ],
)
async def test_base_url(region: str, api_url: str | None, expected: str) -> None:
    recorder = Recorder(route=lambda r: data(GRANT))
    async with make_client(recorder, FakeClock(), region=region, api_url=api_url) as c:
        assert c.base_url == expected
        await c.grants.get("g")
        assert str(recorder.last.url) == expected + "/v3/grants/g"


def test_unknown_region_is_refused() -> None:
    with pytest.raises(ValueError, match="region"):
        NylasClient(API_KEY, region="ap")


async def test_client_closes(recorder: Recorder, clock: FakeClock) -> None:
    c = make_client(recorder, clock)
    async with c:
        assert not c.closed
    assert c.closed


async def test_observer_gets_templates_not_ids(recorder: Recorder, clock: FakeClock) -> None:
    seen: list[tuple[str, str, int | str, float]] = []

    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    recorder.script += [data(GRANT), boom]
    recorder.route = lambda r: data(GRANT)
    async with make_client(recorder, clock, observer=lambda *a: seen.append(a)) as c:
        await c.grants.get("secret-grant-id")
        await c.grants.get("g2")
    assert [(e, m, s) for e, m, s, _ in seen] == [
        ("/v3/grants/{grant_id}", "GET", 200),
        ("/v3/grants/{grant_id}", "GET", "connect"),
        ("/v3/grants/{grant_id}", "GET", 200),
    ]
    assert json.dumps(seen).count("secret-grant-id") == 0
