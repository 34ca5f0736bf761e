"""The admin-consent URL: the documented parameters, correctly encoded, validated; no HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from nylas_mock import FakeClock, Recorder, make_client

from nylas_operator.nylas import MAX_STATE_LENGTH, build_admin_consent_url

BASE = {
    "base_url": "https://api.eu.nylas.com",
    "client_id": "nylas-app-id",
    "credential_id": "cred-123",
    "redirect_uri": "https://op.example.com/nylas/consent?x=1&y=2",
    "state": "ns/name:abc+def=",
}


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True, strict_parsing=True)


def test_parameters_round_trip() -> None:
    url = build_admin_consent_url(**BASE, scope=["User.Read.All", "Mail.Read"])
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "api.eu.nylas.com", "/v3/connect/auth")
    assert _query(url) == {
        "client_id": ["nylas-app-id"],
        "provider": ["microsoft"],
        "response_type": ["adminconsent"],
        "credential_id": ["cred-123"],
        "redirect_uri": ["https://op.example.com/nylas/consent?x=1&y=2"],
        "state": ["ns/name:abc+def="],
        "scope": ["User.Read.All Mail.Read"],
    }
    assert "scope=User.Read.All%20Mail.Read" in url  # space as %20, never '+'
    assert "state=ns%2Fname%3Aabc%2Bdef%3D" in url


def test_without_scope_no_scope_parameter() -> None:
    assert "scope" not in _query(build_admin_consent_url(**BASE))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("state", ""),
        ("state", "x" * (MAX_STATE_LENGTH + 1)),
        ("redirect_uri", "/relative"),
        ("redirect_uri", "ftp://x/y"),
        ("redirect_uri", "https://x/y#frag"),
        ("client_id", ""),
        ("credential_id", ""),
        ("base_url", "api.us.nylas.com"),
    ],
)
def test_invalid_inputs_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValueError):
        build_admin_consent_url(**{**BASE, field: value})


def test_state_of_exactly_the_maximum_is_fine() -> None:
    url = build_admin_consent_url(**{**BASE, "state": "s" * MAX_STATE_LENGTH})
    assert _query(url)["state"] == ["s" * MAX_STATE_LENGTH]


def test_scope_with_whitespace_is_refused() -> None:
    with pytest.raises(ValueError):
        build_admin_consent_url(**BASE, scope=["a b"])


async def test_client_builds_it_for_its_region_without_http() -> None:
    recorder = Recorder()
    async with make_client(recorder, FakeClock(), region="eu") as client:
        url = client.auth.admin_consent_url(credential_id="c", redirect_uri="https://h/cb", state="s")
    assert url.startswith("https://api.eu.nylas.com/v3/connect/auth?client_id=app-0001&")
    assert recorder.requests == []
