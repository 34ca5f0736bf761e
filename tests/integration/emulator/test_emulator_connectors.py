"""Connectors over real HTTP: envelopes, one per provider, strict bodies, write-only secrets."""

from __future__ import annotations

import httpx
import pytest

from fixtures.emulator import make_connector, make_credential
from nylas_operator.emulator.config import Behaviour, EmulatorConfig


def test_create_answers_201_with_the_nylas_envelope_and_no_secret(emulator_api: httpx.Client) -> None:
    response = emulator_api.post(
        "/v3/connectors",
        json={
            "provider": "google",
            "settings": {"client_id": "c", "client_secret": "s3cr3t", "topic_name": "t"},
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert body["data"] == {
        "name": "Google Connector",
        "provider": "google",
        "settings": {"topic_name": "t"},
        "scope": [],
    }  # no active_credential_id: the contract's is a (non-nullable) string, absent when unset
    assert "s3cr3t" not in response.text


def test_second_connector_for_a_provider_is_refused_with_400(emulator_api: httpx.Client) -> None:
    make_connector(emulator_api)
    response = emulator_api.post(
        "/v3/connectors", json={"provider": "microsoft", "settings": {"client_id": "x", "client_secret": "y"}}
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "already exists" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "emulator_config", [EmulatorConfig(behaviour=Behaviour(duplicate_connector_status=409))]
)
def test_duplicate_connector_status_can_be_409(emulator_api: httpx.Client) -> None:
    make_connector(emulator_api)
    response = emulator_api.post(
        "/v3/connectors", json={"provider": "microsoft", "settings": {"client_id": "x", "client_secret": "y"}}
    )
    assert response.status_code == 409
    assert response.json()["error"]["type"] == "conflict"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"provider": "outlook", "settings": {"client_id": "a", "client_secret": "b"}}, "unknown provider"),
        ({"provider": "microsoft"}, "settings is required"),
        ({"provider": "microsoft", "settings": {"client_id": "a"}}, "settings.client_secret is required"),
        ({"provider": "microsoft", "settings": {"client_id": 1, "client_secret": "b"}}, "must be a string"),
        (
            {"provider": "google", "settings": {"client_id": "a", "client_secret": "b"}, "scopes": ["x"]},
            "scopes",
        ),
        ({"provider": "google", "settings": {"client_id": "a", "client_secret": "b"}, "scope": "x"}, "array"),
        ({"settings": {"client_id": "a", "client_secret": "b"}}, "provider is required"),
    ],
)
def test_bad_create_bodies_are_400(
    emulator_api: httpx.Client, body: dict[str, object], fragment: str
) -> None:
    response = emulator_api.post("/v3/connectors", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert fragment in response.json()["error"]["message"]


def test_non_json_body_is_400(emulator_api: httpx.Client) -> None:
    response = emulator_api.post(
        "/v3/connectors", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("error parsing request body")


def test_get_patch_delete_and_404(emulator_api: httpx.Client) -> None:
    assert emulator_api.get("/v3/connectors/microsoft").status_code == 404
    assert emulator_api.get("/v3/connectors/microsoft").json()["error"]["type"] == "not_found_error"
    make_connector(emulator_api, name="Mine")
    patched = emulator_api.patch(
        "/v3/connectors/microsoft",
        json={"settings": {"client_id": "new", "client_secret": "n", "tenant": "t1"}, "scope": ["Mail.Read"]},
    )
    assert patched.status_code == 200
    assert patched.json()["data"]["scope"] == ["Mail.Read"]
    assert patched.json()["data"]["settings"] == {"tenant": "t1"}
    assert patched.json()["data"]["name"] == "Mine"
    # PATCH replaces `settings` wholesale, so an incomplete object is refused.
    partial = emulator_api.patch("/v3/connectors/microsoft", json={"settings": {"tenant": "t2"}})
    assert partial.status_code == 400
    deleted = emulator_api.delete("/v3/connectors/microsoft")
    assert deleted.status_code == 200
    assert set(deleted.json()) == {"request_id"}
    assert emulator_api.delete("/v3/connectors/microsoft").status_code == 404


def test_active_credential_must_exist_on_the_connector(emulator_api: httpx.Client) -> None:
    make_connector(emulator_api)
    bad = emulator_api.patch("/v3/connectors/microsoft", json={"active_credential_id": "nope"})
    assert bad.status_code == 400
    cred = make_credential(emulator_api)
    ok = emulator_api.patch("/v3/connectors/microsoft", json={"active_credential_id": cred["id"]})
    assert ok.json()["data"]["active_credential_id"] == cred["id"]


def test_list_pages_with_limit_and_offset(emulator_api: httpx.Client) -> None:
    make_connector(emulator_api, "microsoft")
    make_connector(emulator_api, "google")
    first = emulator_api.get("/v3/connectors", params={"limit": 1}).json()
    second = emulator_api.get("/v3/connectors", params={"limit": 1, "offset": 1}).json()
    assert (first["limit"], first["offset"]) == (1, 0)
    assert [first["data"][0]["provider"], second["data"][0]["provider"]] == ["microsoft", "google"]
    assert emulator_api.get("/v3/connectors", params={"limit": 0}).status_code == 400
    assert emulator_api.get("/v3/connectors", params={"page_token": "x"}).status_code == 400


def test_unknown_path_is_a_404_envelope(emulator_api: httpx.Client) -> None:
    response = emulator_api.get("/v3/nothing/here")
    assert response.status_code == 404
    assert "Unrecognized request URL" in response.json()["error"]["message"]
