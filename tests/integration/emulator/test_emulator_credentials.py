"""Connector credentials over real HTTP: de-duplicated create, unique names, no credential_data ever."""

from __future__ import annotations

import httpx
import pytest

from fixtures.emulator import custom_auth, google_key, make_connector, make_credential
from nylas_operator.emulator.config import Behaviour, EmulatorConfig
from nylas_operator.emulator.harness import RunningEmulator

ADMIN = {"client_id": "azure-app", "client_secret": "azure-s3cret", "tenant": "acme-tenant"}


def _create(api: httpx.Client, provider: str, body: dict[str, object]) -> httpx.Response:
    return api.post(f"/v3/connectors/{provider}/creds", json=body)


def test_create_exposes_only_the_public_fields(emulator_api: httpx.Client) -> None:
    make_connector(emulator_api)
    response = _create(
        emulator_api,
        "microsoft",
        {"name": "acme", "credential_type": "adminconsent", "credential_data": ADMIN},
    )
    assert response.status_code == 201
    data = response.json()["data"]
    # The contract's CredentialObject: these four and nothing else (additionalProperties: false).
    assert set(data) == {"id", "name", "created_at", "updated_at"}
    assert data["created_at"] == data["updated_at"]
    assert "azure-s3cret" not in response.text
    fetched = emulator_api.get(f"/v3/connectors/microsoft/creds/{data['id']}")
    assert fetched.json()["data"] == data


def test_identical_create_returns_the_existing_credential_with_200(emulator_api: httpx.Client) -> None:
    make_connector(emulator_api)
    body = {"name": "acme", "credential_type": "adminconsent", "credential_data": ADMIN}
    first = _create(emulator_api, "microsoft", body)
    again = _create(emulator_api, "microsoft", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["data"]["id"] == first.json()["data"]["id"]


@pytest.mark.parametrize(
    "emulator_config", [EmulatorConfig(behaviour=Behaviour(credential_dedup_status=201))]
)
def test_dedup_status_is_configurable(emulator_api: httpx.Client) -> None:
    make_connector(emulator_api)
    body = {"name": "acme", "credential_type": "adminconsent", "credential_data": ADMIN}
    assert _create(emulator_api, "microsoft", body).status_code == 201
    assert _create(emulator_api, "microsoft", body).status_code == 201


def test_same_name_with_other_data_is_400(emulator_api: httpx.Client) -> None:
    make_connector(emulator_api)
    _create(
        emulator_api,
        "microsoft",
        {"name": "acme", "credential_type": "adminconsent", "credential_data": ADMIN},
    )
    other = {**ADMIN, "client_secret": "different"}
    response = _create(
        emulator_api,
        "microsoft",
        {"name": "acme", "credential_type": "adminconsent", "credential_data": other},
    )
    assert response.status_code == 400
    assert "already exists" in response.json()["error"]["message"]


def _ms(type_: str | None = "adminconsent", data: object = None, name: str | None = "a") -> dict[str, object]:
    body = {"name": name, "credential_type": type_, "credential_data": {} if data is None else data}
    return {k: v for k, v in body.items() if v is not None}


def _sa(**key: object) -> dict[str, object]:
    return {"name": "a", "credential_type": "serviceaccount", "credential_data": google_key(**key)}


@pytest.mark.parametrize(
    ("provider", "body", "fragment"),
    [
        ("microsoft", _ms(name=None), "name is required"),
        ("microsoft", _ms(type_=None), "credential_type is required"),
        ("microsoft", {"name": "a", "credential_type": "adminconsent"}, "credential_data is required"),
        ("microsoft", _ms("serviceaccount"), "not valid for"),
        ("microsoft", _ms("magic"), "must be one of"),
        ("microsoft", _ms(data={"client_id": "x"}), "together"),
        ("microsoft", _ms(data={"secret": "x"}), "unknown"),
        ("microsoft", _ms(data=["x"]), "must be a JSON object"),
        ("google", _sa(private_key_id=None), "private_key_id"),
        ("google", _sa(private_key=None), "private_key is required"),
        ("google", _sa(client_email=None), "client_email"),
        ("google", _sa(private_key="MIIEvQ"), "PEM"),
        ("google", _sa(client_email="nobody"), "email"),
        ("google", _sa(type="user"), "service_account"),
        ("google", _sa(private_key_id=7), "must be a string"),
        ("google", _ms("connector", {"client_id": "x"}), "client_secret"),
    ],
)
def test_malformed_credentials_are_400(
    emulator_api: httpx.Client, provider: str, body: dict[str, object], fragment: str
) -> None:
    make_connector(emulator_api, provider)
    response = _create(emulator_api, provider, body)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]


def test_missing_connector_or_credential_is_400_as_the_contract_documents(emulator_api: httpx.Client) -> None:
    body = {"name": "acme", "credential_type": "adminconsent", "credential_data": ADMIN}
    assert _create(emulator_api, "microsoft", body).status_code == 400
    make_connector(emulator_api)
    missing = emulator_api.get("/v3/connectors/microsoft/creds/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 400
    assert "not found" in missing.json()["error"]["message"]
    # A credential is reachable only through its own connector.
    make_connector(emulator_api, "google")
    google = make_credential(emulator_api, "google")
    assert emulator_api.get(f"/v3/connectors/microsoft/creds/{google['id']}").status_code == 400


@pytest.mark.parametrize(
    "emulator_config", [EmulatorConfig(behaviour=Behaviour(missing_credential_status=404))]
)
def test_missing_credential_may_be_404(emulator_api: httpx.Client) -> None:
    make_connector(emulator_api)
    missing = emulator_api.get("/v3/connectors/microsoft/creds/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"
    assert emulator_api.delete("/v3/connectors/microsoft/creds/nope").status_code == 404


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(behaviour=Behaviour(echo_credential_type=True))])
def test_credential_type_may_be_echoed(emulator_api: httpx.Client) -> None:
    make_connector(emulator_api)
    cred = make_credential(emulator_api)
    assert cred["credential_type"] == "adminconsent"


def test_patch_renames_and_rotates_but_keeps_the_type(
    emulator: RunningEmulator, emulator_api: httpx.Client
) -> None:
    make_connector(emulator_api)
    cred = make_credential(emulator_api, name="one")
    make_credential(emulator_api, name="two")
    url = f"/v3/connectors/microsoft/creds/{cred['id']}"
    assert emulator_api.patch(url, json={"name": "two"}).status_code == 400
    assert emulator_api.patch(url, json={"credential_type": "connector"}).status_code == 400
    rotated = emulator_api.patch(url, json={"name": "uno", "credential_data": ADMIN})
    assert rotated.status_code == 200
    assert rotated.json()["data"]["name"] == "uno"
    assert emulator.credentials()[0]["credential_type"] == "adminconsent"


def test_list_sorts_and_pages_over_more_than_200(emulator_api: httpx.Client) -> None:
    make_connector(emulator_api, "google")
    names = [f"cred-{i:03d}" for i in range(450)]
    for name in names:
        body = {
            "name": name,
            "credential_type": "connector",
            "credential_data": {"client_id": name, "client_secret": "s"},
        }
        assert _create(emulator_api, "google", body).status_code == 201
    seen: list[str] = []
    offset = 0
    while True:
        page = emulator_api.get(
            "/v3/connectors/google/creds", params={"limit": 200, "offset": offset, "order_by": "asc"}
        ).json()
        seen += [c["name"] for c in page["data"]]
        if len(page["data"]) < 200:
            break
        offset += 200
    assert seen == names
    newest = emulator_api.get("/v3/connectors/google/creds", params={"limit": 1}).json()["data"]
    assert newest[0]["name"] == "cred-449"  # default order_by=desc
    assert emulator_api.get("/v3/connectors/google/creds", params={"limit": 201}).status_code == 400
    assert emulator_api.get("/v3/connectors/google/creds", params={"sort_by": "name"}).status_code == 400
    assert len(emulator_api.get("/v3/connectors/google/creds").json()["data"]) == 10


def test_active_credential_cannot_be_deleted(emulator_api: httpx.Client) -> None:
    make_connector(emulator_api)
    cred = make_credential(emulator_api)
    emulator_api.patch("/v3/connectors/microsoft", json={"active_credential_id": cred["id"]})
    response = emulator_api.delete(f"/v3/connectors/microsoft/creds/{cred['id']}")
    assert response.status_code == 400
    emulator_api.patch("/v3/connectors/microsoft", json={"active_credential_id": None})
    assert emulator_api.delete(f"/v3/connectors/microsoft/creds/{cred['id']}").json().keys() == {"request_id"}
    assert emulator_api.get(f"/v3/connectors/microsoft/creds/{cred['id']}").status_code == 400


def test_deleting_a_credential_breaks_its_grants(
    emulator: RunningEmulator, emulator_api: httpx.Client
) -> None:
    make_connector(emulator_api, "google")
    cred = make_credential(emulator_api, "google")
    grant = custom_auth(emulator_api, "ann@acme.com", cred["id"], "google").json()["data"]
    emulator_api.delete(f"/v3/connectors/google/creds/{cred['id']}")
    assert emulator_api.get(f"/v3/grants/{grant['id']}").json()["data"]["grant_status"] == "invalid"


def test_deleting_a_connector_removes_credentials_and_breaks_grants(emulator_api: httpx.Client) -> None:
    make_connector(emulator_api, "google")
    cred = make_credential(emulator_api, "google")
    grant = custom_auth(emulator_api, "ann@acme.com", cred["id"], "google").json()["data"]
    emulator_api.delete("/v3/connectors/google")
    make_connector(emulator_api, "google")
    assert emulator_api.get(f"/v3/connectors/google/creds/{cred['id']}").status_code == 400
    assert emulator_api.get(f"/v3/grants/{grant['id']}").json()["data"]["grant_status"] == "invalid"
