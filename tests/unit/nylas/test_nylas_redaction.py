"""No secret (API key, client secret, private key) reaches a str, repr, log line or traceback."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import httpx
import pytest
from nylas_mock import API_KEY, FakeClock, Recorder, make_client, reply

from nylas_operator.nylas import (
    AdminConsentCredentialData,
    ConnectorCreate,
    CredentialCreate,
    CredentialType,
    GoogleConnectorSettings,
    NylasError,
    Provider,
    RetryPolicy,
    ServiceAccountCredentialData,
)

CLIENT_SECRET = "azure-client-secret-VERY-SECRET-42"
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
GOOGLE_SECRET = "google-oauth-client-secret-XYZ"
SECRETS = [API_KEY, CLIENT_SECRET, PRIVATE_KEY, GOOGLE_SECRET, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"]


def _echo(status: int) -> Callable[[httpx.Request], httpx.Response]:
    """An error answer that echoes the whole request (auth header and body) back, as a bad server might."""

    def respond(request: httpx.Request) -> httpx.Response:
        echoed = f"{request.headers.get('authorization')} {request.content.decode()}"
        return reply(
            status,
            {
                "request_id": "r",
                "error": {
                    "type": "invalid_request_error",
                    "message": f"rejected: {echoed}",
                    "provider_error": {"code": API_KEY, "message": echoed},
                },
            },
        )

    return respond


def _raise(exc_type: type[httpx.TransportError]) -> Callable[[httpx.Request], httpx.Response]:
    def respond(request: httpx.Request) -> httpx.Response:
        raise exc_type("failed", request=request)

    return respond


RESPONDERS = {
    **{str(s): _echo(s) for s in (400, 401, 403, 404, 409, 422, 429, 500, 503)},
    "gateway": lambda r: reply(502, f"<html>{r.headers.get('authorization')}</html>".encode()),
    "connect": _raise(httpx.ConnectError),
    "timeout": _raise(httpx.ReadTimeout),
    "dropped": _raise(httpx.RemoteProtocolError),
}

CALLS = {
    "credential": lambda c: c.credentials.create(
        "microsoft",
        CredentialCreate(
            name="n",
            credential_type=CredentialType.ADMINCONSENT,
            credential_data=AdminConsentCredentialData(
                tenant="t", client_id="c", client_secret=CLIENT_SECRET
            ),
        ),
    ),
    "service_account": lambda c: c.credentials.create(
        "google",
        CredentialCreate(
            name="n",
            credential_type=CredentialType.SERVICEACCOUNT,
            credential_data=ServiceAccountCredentialData(
                private_key_id="kid", private_key=PRIVATE_KEY, client_email="sa@x"
            ),
        ),
    ),
    "connector": lambda c: c.connectors.create(
        ConnectorCreate(
            provider=Provider.GOOGLE,
            settings=GoogleConnectorSettings(client_id="c", client_secret=GOOGLE_SECRET),
        )
    ),
    "grant": lambda c: c.grants.get("g"),
}


def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    assert "Bearer nyk" not in text


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("failure", sorted(RESPONDERS))
async def test_no_secret_anywhere(failure: str, call: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = Recorder(route=RESPONDERS[failure])
    async with make_client(
        recorder, FakeClock(), retry=RetryPolicy(max_attempts=2, base_delay=0.01)
    ) as client:
        _assert_clean(repr(client) + str(client) + repr(client.grants) + repr(client.limiter))
        with pytest.raises(NylasError) as info:
            await CALLS[call](client)
    err = info.value
    traced = "".join(traceback.format_exception(err))
    _assert_clean(str(err))
    _assert_clean(repr(err))
    _assert_clean(repr(vars(err)))
    _assert_clean(traced)
    _assert_clean(caplog.text)
    assert recorder.requests, "the request was made"
    if failure in ("401", "500"):
        assert "[REDACTED]" in str(err)  # the echoed values were scrubbed, not dropped


async def test_successful_requests_log_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="nylas_operator.nylas")
    recorder = Recorder(route=lambda r: reply(201, {"data": {"id": "c", "name": "n"}}))
    async with make_client(recorder, FakeClock()) as client:
        cred = await CALLS["credential"](client)
    _assert_clean(caplog.text + repr(cred))
    assert "POST /v3/connectors/{provider}/creds -> 201" in caplog.text
