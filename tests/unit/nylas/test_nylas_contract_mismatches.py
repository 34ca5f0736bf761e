"""The mismatches Nylas's OpenAPI contract showed in the client (issue #10, items 1-3), pinned.

Each test failed before its fix: ``provider_error`` kept only in the ``{code, message}`` shape,
``400 not found`` on a credential delete taken as a failure, ``null``/missing optional fields
failing the whole response.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from nylas_operator import nylas
from nylas_operator.api.conditions import Reason
from nylas_operator.controllers.errors import classify
from nylas_operator.nylas.errors import status_error
from nylas_operator.settings import RetrySettings

RETRY = RetrySettings(min_delay=timedelta(seconds=5), max_delay=timedelta(seconds=60), jitter=0.0)
AADSTS = "AADSTS65001: The user or administrator has not consented to use the application."
DWD = "Client is unauthorized to retrieve access tokens using this method."


def answer(status: int, error: dict[str, Any], *, secrets: tuple[str, ...] = ()) -> nylas.NylasStatusError:
    body = json.dumps({"request_id": "r-1", "error": error}).encode()
    return status_error(
        status=status,
        body=body,
        method="POST",
        path="/v3/connect/custom",
        base_url="https://api.us.nylas.com",
        request_id_header=None,
        retry_after=None,
        secrets=secrets,
    )


# Every documented shape of provider_error that carries Microsoft's "not consented yet" code.
CONSENT_PENDING_SHAPES = {
    "code-message": {"code": "AADSTS65001", "message": AADSTS},
    "integer-code": {"code": 65001, "message": AADSTS},
    "oauth": {"error": "invalid_grant", "error_description": AADSTS},
    "nested-string": {"error": "invalid_grant", "provider_error": AADSTS},
    "graph-envelope": {
        "error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}
    },
    "bare-string": AADSTS,
}


@pytest.mark.parametrize("shape", CONSENT_PENDING_SHAPES.values(), ids=CONSENT_PENDING_SHAPES.keys())
@pytest.mark.parametrize("status", [400, 403])
def test_consent_not_applied_yet_is_recognised_in_every_shape(status: int, shape: Any) -> None:
    exc = answer(status, {"type": "provider_error", "message": "rejected", "provider_error": shape})
    assert nylas.classify.is_not_propagated(exc)
    failure = classify(exc, attempt=0, settings=RETRY)
    assert failure.reason == Reason.SCOPES_NOT_PROPAGATED
    assert not failure.terminal and failure.retry_after == 5
    # Microsoft's own words reach the status.
    assert exc.provider_error is not None and (exc.provider_error.message or "") in failure.message


@pytest.mark.parametrize(
    "shape",
    [
        {"error": "unauthorized_client", "error_description": DWD},
        {"code": "unauthorized_client", "message": DWD},
        {"error": "invalid_grant", "provider_error": f"unauthorized_client: {DWD}"},
    ],
)
def test_google_delegation_missing_is_recognised_and_retried(shape: dict[str, Any]) -> None:
    exc = answer(400, {"type": "provider_error", "message": "rejected", "provider_error": shape})
    failure = classify(exc, attempt=1, settings=RETRY)
    assert failure.reason == Reason.DELEGATION_NOT_CONFIGURED
    assert not failure.terminal
    assert "unauthorized_client" in failure.message


def test_the_providers_text_reaches_the_message_and_the_raw_value_is_kept() -> None:
    shape = {"error": "invalid_grant", "error_description": AADSTS, "trace_id": "t-9"}
    exc = answer(400, {"type": "provider_error", "message": "rejected", "provider_error": shape})
    assert exc.provider_error is not None
    assert exc.provider_error.raw == shape
    assert (exc.provider_error.code, exc.provider_error.message) == ("invalid_grant", AADSTS)
    assert "AADSTS65001" in str(exc)


def test_a_secret_echoed_in_a_raw_provider_error_is_redacted() -> None:
    shape = {
        "error": "invalid_client",
        "error_description": "bad secret s3cr3t-value",
        "echo": ["s3cr3t-value"],
    }
    exc = answer(400, {"type": "provider_error", "provider_error": shape}, secrets=("s3cr3t-value",))
    assert exc.provider_error is not None
    assert "s3cr3t-value" not in json.dumps(exc.provider_error.raw)
    assert "s3cr3t-value" not in str(exc)


@pytest.mark.parametrize("shape", [None, {}, ""])
def test_an_empty_provider_error_is_none(shape: Any) -> None:
    assert answer(400, {"type": "invalid_request_error", "provider_error": shape}).provider_error is None


def test_unknown_provider_refusal_without_known_codes_still_retries_slowly() -> None:
    exc = answer(400, {"type": "provider_error", "provider_error": {"error": "temporarily_unavailable"}})
    failure = classify(exc, attempt=0, settings=RETRY)
    assert failure.reason == Reason.NYLAS_REJECTED and not failure.terminal


# -- item 2: a credential that is already gone ------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "error", "gone"),
    [
        (404, {"type": "not_found_error", "message": "credential not found"}, True),
        (400, {"type": "invalid_request_error", "message": "credential 'x' not found"}, True),
        (400, {"type": "invalid_request_error", "message": "Credential does not exist"}, True),
        (
            400,
            {"type": "invalid_request_error", "message": "cannot delete the connector's active credential"},
            False,
        ),
        (400, {"type": "provider_error", "message": "not found", "provider_error": {"code": "x"}}, False),
        (401, {"type": "unauthorized", "message": "not found"}, False),
    ],
)
def test_already_gone_is_404_or_a_400_that_says_not_found(
    status: int, error: dict[str, Any], gone: bool
) -> None:
    assert nylas.classify.is_gone(answer(status, error)) is gone


# -- item 3: optional or nullable fields -------------------------------------------------------------
def test_connector_with_null_or_missing_optional_fields_parses() -> None:
    connector = nylas.Connector.model_validate(
        {"provider": "microsoft", "name": None, "scope": None, "settings": None, "active_credential_id": None}
    )
    assert (connector.name, connector.scope, connector.settings) == (None, [], {})
    assert nylas.Connector.model_validate({"provider": "google"}).scope == []


def test_credential_with_null_or_missing_name_and_type_parses() -> None:
    for data in ({"id": "c-1", "name": None, "credential_type": None}, {"id": "c-1"}):
        credential = nylas.Credential.model_validate(data)
        assert credential.id == "c-1" and credential.name is None and credential.credential_type is None


def test_grant_with_null_lists_parses() -> None:
    grant = nylas.Grant.model_validate(
        {
            "id": "g",
            "provider": "google",
            "scope": None,
            "email_aliases": None,
            "settings": None,
            "created_at": 1,
        }
    )
    assert (grant.scope, grant.email_aliases, grant.settings) == ([], [], {})


def test_redacting_a_raw_provider_error_keeps_it_a_json_value() -> None:
    # Found by the generated-answers test: redacting the JSON text of {"": false} for the secret "s"
    # produced invalid JSON and crashed the client.
    shape = {"": False, "s": ["s", 1], "error": "s"}
    exc = answer(400, {"type": "provider_error", "provider_error": shape}, secrets=("s",))
    assert exc.provider_error is not None
    assert exc.provider_error.raw == {"": False, "[REDACTED]": ["[REDACTED]", 1], "error": "[REDACTED]"}
