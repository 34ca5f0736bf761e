"""Strict body checks of the emulator (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from nylas_operator.emulator import schemas
from nylas_operator.emulator.errors import ApiError

PEM = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n"
KEY = {"private_key_id": "k", "private_key": PEM, "client_email": "sa@p.iam.gserviceaccount.com"}


def _fails(fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ApiError) as caught:
        fn(*args, **kwargs)
    assert caught.value.status == 400
    return caught.value.message


def test_connector_settings_by_provider() -> None:
    ok = schemas.connector_settings(
        "google", {"client_id": "a", "client_secret": "b", "topic_name": "t"}, strict=True
    )
    assert ok == {"client_id": "a", "client_secret": "b", "topic_name": "t"}
    assert "tenant" in _fails(
        schemas.connector_settings,
        "google",
        {"client_id": "a", "client_secret": "b", "tenant": "x"},
        strict=True,
    )
    lax = schemas.connector_settings(
        "microsoft", {"client_id": "a", "client_secret": "b", "x": "y"}, strict=False
    )
    assert lax == {"client_id": "a", "client_secret": "b"}
    assert "must be a JSON object" in _fails(schemas.connector_settings, "microsoft", "nope", strict=True)


def test_service_account_keys_are_checked_for_shape() -> None:
    assert schemas.credential_data(
        "serviceaccount", {**KEY, "universe_domain": "googleapis.com"}, strict=True
    )
    assert "PEM" in _fails(
        schemas.credential_data,
        "serviceaccount",
        {**KEY, "private_key": "-----BEGIN RSA KEY-----"},
        strict=True,
    )
    assert "email" in _fails(
        schemas.credential_data, "serviceaccount", {**KEY, "client_email": "a@b"}, strict=True
    )
    assert "must not be empty" in _fails(
        schemas.credential_data, "serviceaccount", {**KEY, "private_key_id": " "}, strict=True
    )


def test_adminconsent_may_fall_back_to_the_connector_app() -> None:
    assert schemas.credential_data("adminconsent", {"tenant": "t"}, strict=True) == {"tenant": "t"}
    assert schemas.credential_data("adminconsent", {}, strict=True) == {}
    assert "together" in _fails(schemas.credential_data, "adminconsent", {"client_secret": "s"}, strict=True)


def test_credential_types_belong_to_providers() -> None:
    assert schemas.credential_type("google", "serviceaccount") == "serviceaccount"
    assert "not valid" in _fails(schemas.credential_type, "google", "adminconsent")
    assert "not valid" in _fails(schemas.credential_type, "microsoft", "serviceaccount")


def test_custom_auth_bodies() -> None:
    ms = schemas.custom_auth(
        {"provider": "microsoft", "settings": {"email_address": "a@b.co", "credential_id": "c"}}, strict=True
    )
    assert (ms.provider, ms.email, ms.credential_id, ms.scopes) == ("microsoft", "a@b.co", "c", None)
    google = {
        "provider": "google",
        "settings": {"email_address": "a@b.co", "credential_id": "c", "scopes": ["s"]},
    }
    assert schemas.custom_auth(google, strict=True).scopes == ["s"]
    assert "not supported" in _fails(schemas.custom_auth, {"provider": "imap", "settings": {}}, strict=True)
    assert "unknown provider" in _fails(schemas.custom_auth, {"provider": "aol", "settings": {}}, strict=True)
    assert "settings must be" in _fails(schemas.custom_auth, {"provider": "google"}, strict=True)
    assert "scopes" in _fails(
        schemas.custom_auth,
        {"provider": "google", "settings": {**google["settings"], "scopes": [1]}},
        strict=True,
    )
