"""Custom auth and grants over real HTTP: one grant per email, re-auth keeps the id, filters and paging."""

from __future__ import annotations

import httpx
import pytest

from fixtures.emulator import api_client, custom_auth, make_connector, make_credential
from nylas_operator.emulator.config import Behaviour, EmulatorConfig
from nylas_operator.emulator.harness import RunningEmulator


@pytest.fixture
def google_cred(emulator_api: httpx.Client) -> str:
    make_connector(emulator_api, "google")
    return str(make_credential(emulator_api, "google")["id"])


def test_google_custom_auth_creates_a_valid_grant(emulator_api: httpx.Client, google_cred: str) -> None:
    response = custom_auth(emulator_api, "Ann@Acme.com", google_cred, "google")
    assert response.status_code == 201
    grant = response.json()["data"]
    assert grant["grant_status"] == "valid"
    assert grant["provider"] == "google"
    assert grant["email"] == "Ann@Acme.com"
    assert grant["credential_id"] == google_cred
    assert grant["scope"] == ["https://www.googleapis.com/auth/calendar"]
    assert emulator_api.get(f"/v3/grants/{grant['id']}").json()["data"] == grant


def test_reauth_returns_the_same_grant_with_201_and_makes_it_valid(
    emulator: RunningEmulator, emulator_api: httpx.Client, google_cred: str
) -> None:
    first = custom_auth(emulator_api, "ann@acme.com", google_cred, "google").json()["data"]
    emulator.invalidate_grant(first["id"])
    again = custom_auth(emulator_api, "ANN@acme.com", google_cred, "google")
    assert again.status_code == 201  # the only success status the contract documents
    assert again.json()["data"]["id"] == first["id"]
    assert again.json()["data"]["grant_status"] == "valid"
    assert len(emulator.grants()) == 1


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(behaviour=Behaviour(reauth_status=200))])
def test_reauth_status_is_configurable(emulator_api: httpx.Client, google_cred: str) -> None:
    first = custom_auth(emulator_api, "ann@acme.com", google_cred, "google")
    again = custom_auth(emulator_api, "ann@acme.com", google_cred, "google")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["data"]["id"] == again.json()["data"]["id"]


def test_a_deleted_grants_email_gets_a_new_id(emulator_api: httpx.Client, google_cred: str) -> None:
    first = custom_auth(emulator_api, "ann@acme.com", google_cred, "google").json()["data"]
    deleted = emulator_api.delete(f"/v3/grants/{first['id']}")
    assert (deleted.status_code, set(deleted.json())) == (200, {"request_id"})
    assert emulator_api.get(f"/v3/grants/{first['id']}").status_code == 404
    second = custom_auth(emulator_api, "ann@acme.com", google_cred, "google")
    assert second.status_code == 201
    assert second.json()["data"]["id"] != first["id"]


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"email_address": "ann@acme.com", "credential_id": "X"}, "settings.scopes is required"),
        (
            {"email_address": "ann@acme.com", "credential_id": "X", "scopes": []},
            "settings.scopes is required",
        ),
        ({"email_address": "not-an-email", "credential_id": "X", "scopes": ["s"]}, "email address"),
        ({"credential_id": "X", "scopes": ["s"]}, "email_address is required"),
        ({"email_address": "ann@acme.com", "scopes": ["s"]}, "credential_id is required"),
        ({"email_address": "ann@acme.com", "credential_id": "nope", "scopes": ["s"]}, "not found"),
        ({"email_address": "ann@acme.com", "credential_id": "X", "scope": ["s"]}, "unknown field"),
    ],
)
def test_bad_google_custom_auth_is_400(
    emulator_api: httpx.Client, google_cred: str, settings: dict[str, object], fragment: str
) -> None:
    if settings.get("credential_id") == "X":
        settings = {**settings, "credential_id": google_cred}
    response = emulator_api.post("/v3/connect/custom", json={"provider": "google", "settings": settings})
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]


def test_google_needs_a_serviceaccount_credential(emulator_api: httpx.Client) -> None:
    make_connector(emulator_api, "google")
    body = {
        "name": "c",
        "credential_type": "connector",
        "credential_data": {"client_id": "a", "client_secret": "b"},
    }
    cred = emulator_api.post("/v3/connectors/google/creds", json=body).json()["data"]
    response = custom_auth(emulator_api, "ann@acme.com", cred["id"], "google")
    assert response.status_code == 400
    assert "serviceaccount" in response.json()["error"]["message"]


def test_unknown_provider_and_missing_connector(emulator_api: httpx.Client) -> None:
    bad = emulator_api.post("/v3/connect/custom", json={"provider": "outlook", "settings": {}})
    assert bad.status_code == 400
    no_connector = custom_auth(emulator_api, "ann@acme.com", "x", "google")
    assert no_connector.status_code == 400
    assert "connector" in no_connector.json()["error"]["message"]


def test_grants_are_private_to_their_application(emulator: RunningEmulator, google_cred: str) -> None:
    emulator.add_application("other-app", "other-key")
    with api_client(emulator) as mine, api_client(emulator, "other-key") as theirs:
        grant = custom_auth(mine, "ann@acme.com", google_cred, "google").json()["data"]
        assert theirs.get(f"/v3/grants/{grant['id']}").status_code == 404
        assert theirs.get("/v3/grants").json()["data"] == []
        # The other application has no google connector: the credential id means nothing there.
        assert custom_auth(theirs, "ann@acme.com", google_cred, "google").status_code == 400


def test_list_filters_and_paging(
    emulator: RunningEmulator, emulator_api: httpx.Client, google_cred: str
) -> None:
    ids = [
        custom_auth(emulator_api, f"u{i:03d}@acme.com", google_cred, "google").json()["data"]["id"]
        for i in range(250)
    ]
    emulator.invalidate_grant(ids[7])
    collected: list[str] = []
    offset = 0
    while True:
        page = emulator_api.get(
            "/v3/grants", params={"limit": 200, "offset": offset, "order_by": "asc"}
        ).json()
        assert (page["limit"], page["offset"]) == (200, offset)
        collected += [g["id"] for g in page["data"]]
        if len(page["data"]) < 200:
            break
        offset += 200
    assert collected == ids
    by_email = emulator_api.get("/v3/grants", params={"email": "U005@acme.com"}).json()["data"]
    assert [g["id"] for g in by_email] == [ids[5]]
    invalid = emulator_api.get("/v3/grants", params={"grant_status": "invalid", "provider": "google"}).json()[
        "data"
    ]
    assert [g["id"] for g in invalid] == [ids[7]]
    assert emulator_api.get("/v3/grants", params={"provider": "microsoft"}).json()["data"] == []
    for params in ({"limit": 201}, {"grant_status": "expired"}, {"provider": "outlook"}, {"status": "valid"}):
        response = emulator_api.get("/v3/grants", params=params)
        assert response.status_code == 400, params


def test_patch_grant_replaces_settings_and_scope(emulator_api: httpx.Client, google_cred: str) -> None:
    grant = custom_auth(emulator_api, "ann@acme.com", google_cred, "google").json()["data"]
    patched = emulator_api.patch(f"/v3/grants/{grant['id']}", json={"scope": ["a"], "settings": {"k": "v"}})
    assert patched.status_code == 200
    assert (patched.json()["data"]["scope"], patched.json()["data"]["settings"]) == (["a"], {"k": "v"})
    assert emulator_api.patch(f"/v3/grants/{grant['id']}", json={"email": "x@y.z"}).status_code == 400
    assert emulator_api.patch("/v3/grants/nope", json={"scope": []}).status_code == 404


def test_a_microsoft_email_cannot_take_a_google_grant(
    emulator: RunningEmulator, emulator_api: httpx.Client
) -> None:
    make_connector(emulator_api, "google")
    google = make_credential(emulator_api, "google")
    make_connector(emulator_api, "microsoft")
    ms = make_credential(emulator_api, "microsoft")
    emulator.approve_consent(ms["id"], decided_at=0.0)
    assert custom_auth(emulator_api, "ann@acme.com", ms["id"]).status_code == 201
    assert custom_auth(emulator_api, "ann@acme.com", google["id"], "google").status_code == 400
