"""Models tolerate unknown response fields, validate request bodies and reveal secrets only in to_body."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nylas_operator.nylas import (
    AdminConsentCredentialData,
    Connector,
    CredentialCreate,
    CredentialType,
    Grant,
    ServiceAccountCredentialData,
)
from nylas_operator.nylas.models import to_body


def test_unknown_fields_are_ignored() -> None:
    grant = Grant.model_validate(
        {
            "id": "g",
            "provider": "microsoft",
            "scope": None,
            "brand_new_field": {"x": 1},
            "grant_status": "invalid",
        }
    )
    assert grant.scope == [] and not grant.is_valid
    connector = Connector.model_validate({"provider": "google", "future": True, "active_credential_id": "c"})
    assert connector.active_credential_id == "c" and connector.settings == {}


def test_echoed_connector_secrets_are_hidden() -> None:
    connector = Connector.model_validate(
        {
            "provider": "google",
            "settings": {"client_id": "cid", "client_secret": "ECHOED-SECRET", "topic_name": "t"},
        }
    )
    assert "ECHOED-SECRET" not in repr(connector)
    assert "ECHOED-SECRET" not in connector.model_dump_json()
    assert connector.settings["client_id"] == "cid"


def test_credential_data_must_match_its_type() -> None:
    with pytest.raises(ValidationError, match="must be ServiceAccountCredentialData"):
        CredentialCreate(
            name="n",
            credential_type=CredentialType.SERVICEACCOUNT,
            credential_data=AdminConsentCredentialData(tenant="t"),
        )


def test_service_account_requires_its_three_keys() -> None:
    with pytest.raises(ValidationError):
        ServiceAccountCredentialData.model_validate({"private_key": "k", "client_email": "e"})


def test_to_body_reveals_and_reports_secrets() -> None:
    create = CredentialCreate(
        name="n",
        credential_type=CredentialType.ADMINCONSENT,
        credential_data=AdminConsentCredentialData(tenant="t", client_id="c", client_secret="TOP-SECRET"),
    )
    assert "TOP-SECRET" not in repr(create) and "TOP-SECRET" not in str(create)
    body, secrets = to_body(create)
    assert body["credential_data"]["client_secret"] == "TOP-SECRET"
    assert body["credential_type"] == "adminconsent"
    assert secrets == ["TOP-SECRET"]
