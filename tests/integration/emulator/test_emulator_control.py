"""Auth, applications, journal, introspection without secrets, reset, drift and config over real HTTP."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from fixtures.emulator import FAKE_PEM, api_client, custom_auth, make_connector, make_credential
from nylas_operator.emulator.config import ApplicationConfig, EmulatorConfig
from nylas_operator.emulator.harness import ControlError, RunningEmulator
from nylas_operator.emulator.pipeline import key_id

TWO_APPS = EmulatorConfig(
    applications=(
        ApplicationConfig(application_id="app-us", api_key="key-us"),
        ApplicationConfig(application_id="app-eu", api_key="key-eu"),
    )
)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic nyk_emulator_key"},
        {"Authorization": "Bearer"},
    ],
)
def test_missing_or_wrong_key_is_401(emulator: RunningEmulator, headers: dict[str, str]) -> None:
    response = httpx.get(emulator.url + "/v3/grants", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "unauthorized"
    assert response.headers["X-Request-Id"] == response.json()["request_id"]


@pytest.mark.parametrize("emulator_config", [TWO_APPS])
def test_the_bearer_key_selects_the_application(emulator: RunningEmulator) -> None:
    with api_client(emulator, "key-us") as us, api_client(emulator, "key-eu") as eu:
        make_connector(us)
        assert eu.get("/v3/connectors/microsoft").status_code == 404
        make_connector(eu)  # one connector per provider *per application*
    owners = sorted(c["application_id"] for c in emulator.state()["connectors"])
    assert owners == ["app-eu", "app-us"]
    assert [e.application_id for e in emulator.journal()] == ["app-us", "app-eu", "app-eu"]


def test_applications_can_be_added_while_running(emulator: RunningEmulator) -> None:
    emulator.add_application("late", "late-key")
    with api_client(emulator, "late-key") as late:
        assert late.get("/v3/connectors").status_code == 200
    with pytest.raises(ControlError) as caught:
        emulator.add_application("late", "another-key")
    assert caught.value.status == 400
    assert {"application_id": "late", "name": "Emulated application"} in emulator.state()["applications"]


def test_journal_records_which_key_sent_each_request_as_a_digest(emulator: RunningEmulator) -> None:
    with api_client(emulator) as mine, api_client(emulator, "a-key-nobody-has") as stranger:
        mine.get("/v3/connectors")
        stranger.get("/v3/connectors")
    httpx.get(emulator.url + "/v3/connectors")
    entries = emulator.journal()
    assert [e.key_id for e in entries] == [key_id(emulator.api_key), key_id("a-key-nobody-has"), None]
    assert [e.status for e in entries] == [200, 401, 401]
    assert emulator.api_key not in json.dumps([e.to_json() for e in entries])


def test_journal_records_every_api_call(emulator: RunningEmulator, emulator_api: httpx.Client) -> None:
    started = time.time()
    make_connector(emulator_api, "google")
    cred = make_credential(emulator_api, "google")
    custom_auth(emulator_api, "ann@acme.com", cred["id"], "google")
    emulator_api.get("/v3/grants", params={"email": "ann@acme.com"})
    httpx.get(emulator.url + "/v3/grants")
    entries = emulator.journal()
    assert [(e.method, e.path, e.status) for e in entries] == [
        ("POST", "/v3/connectors", 201),
        ("POST", "/v3/connectors/google/creds", 201),
        ("POST", "/v3/connect/custom", 201),
        ("GET", "/v3/grants", 200),
        ("GET", "/v3/grants", 401),
    ]
    assert entries[2].email == "ann@acme.com"
    assert entries[3].query == {"email": "ann@acme.com"}
    assert [e.application_id for e in entries] == [emulator.application_id] * 4 + [None]
    assert all(started <= e.time <= time.time() for e in entries)
    assert [e.seq for e in emulator.journal(after=entries[2].seq)] == [entries[3].seq, entries[4].seq]
    emulator.state()
    assert len(emulator.journal()) == 5  # control calls are not journalled


def test_secrets_never_reach_state_or_journal(emulator: RunningEmulator, emulator_api: httpx.Client) -> None:
    secrets = [
        "conn-secret-1",
        "azure-secret-2",
        "-----BEGIN PRIVATE KEY-----",
        "TUlJRXZRSUJBREFOQmdrcWhraUc5dzBC",
    ]
    emulator_api.post(
        "/v3/connectors",
        json={"provider": "microsoft", "settings": {"client_id": "ms", "client_secret": secrets[0]}},
    )
    make_connector(emulator_api, "google")
    ms = make_credential(
        emulator_api, "microsoft", name="m", client_id="a", client_secret=secrets[1], tenant="t"
    )
    google = make_credential(emulator_api, "google", private_key=FAKE_PEM)
    custom_auth(emulator_api, "ann@acme.com", google["id"], "google")
    emulator_api.get("/v3/connectors/microsoft/creds")
    dumped = json.dumps(emulator.state()) + json.dumps([e.to_json() for e in emulator.journal()])
    for secret in secrets:
        assert secret not in dumped
    creds = {c["id"]: c for c in emulator.credentials()}
    assert creds[ms["id"]]["data"] == {"client_id": "a", "tenant": "t"}
    assert len(creds[ms["id"]]["data_sha256"]) == 64
    before = creds[ms["id"]]["data_sha256"]
    emulator_api.patch(
        f"/v3/connectors/microsoft/creds/{ms['id']}",
        json={"credential_data": {"client_id": "a", "client_secret": "rotated", "tenant": "t"}},
    )
    assert {c["id"]: c for c in emulator.credentials()}[ms["id"]]["data_sha256"] != before
    connector = next(c for c in emulator.connectors() if c["provider"] == "microsoft")
    assert connector["settings"] == {"client_id": "ms"}


def test_reset_returns_to_the_start(emulator: RunningEmulator, emulator_api: httpx.Client) -> None:
    make_connector(emulator_api)
    emulator.add_application("extra", "extra-key")
    emulator.set_faults(latency_ms=5)
    emulator.configure(consent_mode="deny")
    emulator.reset()
    state = emulator.state()
    assert state["connectors"] == [] and state["credentials"] == [] and state["grants"] == []
    assert [a["application_id"] for a in state["applications"]] == [emulator.application_id]
    assert emulator.journal() == []
    assert emulator.configure()["consent_mode"] == "auto"
    assert emulator.set_faults()["latency_ms"] == 0


def test_drift_invalidate_and_delete_behind_the_operators_back(
    emulator: RunningEmulator, emulator_api: httpx.Client
) -> None:
    make_connector(emulator_api, "google")
    cred = make_credential(emulator_api, "google")
    grant = custom_auth(emulator_api, "ann@acme.com", cred["id"], "google").json()["data"]
    assert emulator.invalidate_grant(grant["id"])["grant_status"] == "invalid"
    assert emulator_api.get(f"/v3/grants/{grant['id']}").json()["data"]["grant_status"] == "invalid"
    emulator.delete_grant(grant["id"])
    assert emulator_api.get(f"/v3/grants/{grant['id']}").status_code == 404
    with pytest.raises(ControlError):
        emulator.delete_grant(grant["id"])
    assert custom_auth(emulator_api, "ann@acme.com", cred["id"], "google").json()["data"]["id"] != grant["id"]


def test_config_changes_are_checked(emulator: RunningEmulator) -> None:
    assert emulator.configure(scope_cache_delay=0.25, consent_mode="prompt")["scope_cache_delay"] == 0.25
    for bad in (
        {"consent_mode": "maybe"},
        {"reauth_status": 204},
        {"nonsense": 1},
        {"scope_cache_delay": -1},
    ):
        with pytest.raises(ControlError) as caught:
            emulator.configure(**bad)
        assert caught.value.status == 400


@pytest.mark.parametrize("round_", [1, 2])
def test_the_shared_emulator_starts_every_test_empty(shared_emulator: RunningEmulator, round_: int) -> None:
    assert shared_emulator.state()["connectors"] == [] and shared_emulator.journal() == []
    with api_client(shared_emulator) as api:
        make_connector(api)
