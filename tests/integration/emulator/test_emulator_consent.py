"""Admin consent over real HTTP: parameter checks, the three modes, and the scope-cache window."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from fixtures.emulator import custom_auth, make_connector, make_credential
from nylas_operator.emulator.config import Behaviour, EmulatorConfig
from nylas_operator.emulator.harness import RunningEmulator

REDIRECT = "https://op.example.com/nylas/consent?x=1"


@pytest.fixture
def cred(emulator_api: httpx.Client) -> dict[str, str]:
    make_connector(emulator_api, "microsoft")
    return make_credential(emulator_api, "microsoft", tenant="tenant-guid")


def _consent_params(emulator: RunningEmulator, cred_id: str, **overrides: str) -> dict[str, str]:
    params = {
        "client_id": emulator.application_id,
        "provider": "microsoft",
        "response_type": "adminconsent",
        "credential_id": cred_id,
        "redirect_uri": REDIRECT,
        "state": "s" * 256,
        "access_type": "online",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v != ""}


def _browser(emulator: RunningEmulator) -> httpx.Client:
    return httpx.Client(base_url=emulator.url, follow_redirects=False, timeout=10.0)


def _query(location: str) -> dict[str, list[str]]:
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://op.example.com/nylas/consent"
    return parse_qs(parts.query)


def test_auto_mode_redirects_with_admin_consent_and_records_it(
    emulator: RunningEmulator, cred: dict[str, str]
) -> None:
    before = time.time()
    with _browser(emulator) as browser:
        response = browser.get("/v3/connect/auth", params=_consent_params(emulator, cred["id"]))
    assert response.status_code == 302
    query = _query(response.headers["Location"])
    assert query == {"x": ["1"], "admin_consent": ["true"], "tenant": ["tenant-guid"], "state": ["s" * 256]}
    [consent] = emulator.state()["consents"]
    assert consent["credential_id"] == cred["id"]
    assert consent["approved"] is True
    assert before <= consent["decided_at"] <= time.time()


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(behaviour=Behaviour(consent_mode="deny"))])
def test_deny_mode_redirects_with_an_oauth_error(emulator: RunningEmulator, cred: dict[str, str]) -> None:
    with _browser(emulator) as browser:
        response = browser.get("/v3/connect/auth", params=_consent_params(emulator, cred["id"], state="abc"))
    assert response.status_code == 302
    query = _query(response.headers["Location"])
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["abc"]
    assert query["error_description"][0] and query["error_uri"][0].startswith("https://")
    assert "admin_consent" not in query
    assert emulator.state()["consents"] == []


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(behaviour=Behaviour(consent_mode="prompt"))])
@pytest.mark.parametrize("button", ["approve", "deny"])
def test_prompt_mode_shows_forms_a_person_can_submit(
    emulator: RunningEmulator, cred: dict[str, str], button: str
) -> None:
    with _browser(emulator) as browser:
        page = browser.get("/v3/connect/auth", params=_consent_params(emulator, cred["id"], state="st"))
        assert page.status_code == 200
        assert page.headers["Content-Type"].startswith("text/html")
        forms = re.findall(
            r'<form method="post" action="([^"]+)"><input type="hidden" name="decision" value="(\w+)">',
            page.text,
        )
        assert [decision for _, decision in forms] == ["approve", "deny"]
        assert "Approve" in page.text and "Deny" in page.text
        action = dict((d, a) for a, d in forms)[button]
        answer = browser.post(action, data={"decision": button})
        assert answer.status_code == 302
        query = _query(answer.headers["Location"])
        # A ticket answers once.
        assert browser.post(action, data={"decision": button}).status_code == 404
    if button == "approve":
        assert (query["admin_consent"], query["state"]) == (["true"], ["st"])
        assert [c["credential_id"] for c in emulator.state()["consents"]] == [cred["id"]]
    else:
        assert (query["error"], query["state"]) == (["access_denied"], ["st"])
        assert emulator.state()["consents"] == []


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"client_id": "unknown-app"}, "client_id"),
        ({"client_id": ""}, "client_id is required"),
        ({"provider": "google"}, "provider must be microsoft"),
        ({"response_type": "code"}, "response_type"),
        ({"redirect_uri": "/relative"}, "redirect_uri"),
        ({"redirect_uri": "ftp://x.example.com/"}, "redirect_uri"),
        ({"credential_id": "nope"}, "not found"),
        ({"credential_id": ""}, "credential_id is required"),
        ({"state": "s" * 257}, "at most 256"),
    ],
)
def test_bad_consent_parameters_are_400_json(
    emulator: RunningEmulator, cred: dict[str, str], overrides: dict[str, str], fragment: str
) -> None:
    with _browser(emulator) as browser:
        response = browser.get("/v3/connect/auth", params=_consent_params(emulator, cred["id"], **overrides))
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]
    assert emulator.state()["consents"] == []


def test_consent_needs_an_adminconsent_credential(
    emulator: RunningEmulator, emulator_api: httpx.Client
) -> None:
    make_connector(emulator_api, "microsoft")
    body = {
        "name": "c",
        "credential_type": "connector",
        "credential_data": {"client_id": "a", "client_secret": "b"},
    }
    other = emulator_api.post("/v3/connectors/microsoft/creds", json=body).json()["data"]
    with _browser(emulator) as browser:
        response = browser.get("/v3/connect/auth", params=_consent_params(emulator, other["id"]))
    assert response.status_code == 400
    assert "adminconsent" in response.json()["error"]["message"]


def test_custom_auth_without_consent_fails_like_microsoft(
    emulator_api: httpx.Client, cred: dict[str, str]
) -> None:
    response = custom_auth(emulator_api, "ann@acme.com", cred["id"])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "provider_error"
    assert error["provider_error"]["code"] == "AADSTS65001"
    assert "not consented" in error["provider_error"]["message"]


@pytest.mark.parametrize(
    "emulator_config",
    [EmulatorConfig(behaviour=Behaviour(scope_cache_delay=0.5, consent_pending_status=403))],
)
def test_custom_auth_fails_inside_the_scope_cache_window_then_succeeds(
    emulator: RunningEmulator, emulator_api: httpx.Client, cred: dict[str, str]
) -> None:
    with _browser(emulator) as browser:
        assert (
            browser.get("/v3/connect/auth", params=_consent_params(emulator, cred["id"])).status_code == 302
        )
    early = custom_auth(emulator_api, "ann@acme.com", cred["id"])
    assert early.status_code == 403
    assert early.json()["error"]["provider_error"]["code"] == "AADSTS65001"
    deadline = time.monotonic() + 5.0
    while True:
        response = custom_auth(emulator_api, "ann@acme.com", cred["id"])
        if response.status_code == 201 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert response.status_code == 201
    consented = emulator.state()["consents"][0]["decided_at"]
    assert time.time() >= consented + 0.5
    grant = response.json()["data"]
    assert (grant["provider"], grant["scope"], grant["credential_id"]) == (
        "microsoft",
        ["User.Read"],
        cred["id"],
    )


def test_control_consent_can_backdate_and_revoke(
    emulator: RunningEmulator, emulator_api: httpx.Client, cred: dict[str, str]
) -> None:
    emulator.approve_consent(cred["id"], decided_at=time.time() - 301)
    assert custom_auth(emulator_api, "ann@acme.com", cred["id"]).status_code == 201
    emulator.revoke_consent(cred["id"])
    assert custom_auth(emulator_api, "ann@acme.com", cred["id"]).status_code == 400


def test_a_new_tenant_needs_a_new_consent(
    emulator: RunningEmulator, emulator_api: httpx.Client, cred: dict[str, str]
) -> None:
    emulator.approve_consent(cred["id"], decided_at=0.0)
    url = f"/v3/connectors/microsoft/creds/{cred['id']}"
    # Re-sending the same data (e.g. a rotation of nothing) keeps the consent.
    assert emulator_api.patch(url, json={"credential_data": {"tenant": "tenant-guid"}}).status_code == 200
    assert custom_auth(emulator_api, "ann@acme.com", cred["id"]).status_code == 201
    assert emulator_api.patch(url, json={"credential_data": {"tenant": "other-tenant"}}).status_code == 200
    assert emulator.state()["consents"] == []
    assert custom_auth(emulator_api, "ann@acme.com", cred["id"]).json()["error"]["type"] == "provider_error"


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(behaviour=Behaviour(consent_mode="prompt"))])
def test_prompt_approve_follows_the_redirect_to_the_callback(
    emulator: RunningEmulator, cred: dict[str, str]
) -> None:
    callback = emulator.url + "/_emulator/health"  # any live page will do as the redirect target
    params = _consent_params(emulator, cred["id"], redirect_uri=callback, state="xyz")
    with httpx.Client(base_url=emulator.url, follow_redirects=True, timeout=10.0) as browser:
        page = browser.get("/v3/connect/auth", params=params)
        action = re.search(r'action="([^"]+)"', page.text)
        assert action is not None
        landed = browser.post(action.group(1), data={"decision": "approve"})
    assert landed.status_code == 200
    assert landed.url.path == "/_emulator/health"
    assert landed.url.params["admin_consent"] == "true"
    assert landed.url.params["state"] == "xyz"
    [entry] = [e for e in emulator.journal() if e.path == "/v3/connect/auth"]
    assert entry.query["state"].startswith("sha256:") and "xyz" not in entry.query["state"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("emulator_config", [EmulatorConfig(behaviour=Behaviour(consent_mode="prompt"))])
def test_prompt_can_be_driven_with_curl(emulator: RunningEmulator, cred: dict[str, str]) -> None:
    query = urlencode(_consent_params(emulator, cred["id"], state="by-curl"))
    page = subprocess.run(
        ["curl", "-sS", "--max-time", "10", f"{emulator.url}/v3/connect/auth?{query}"],
        capture_output=True, text=True, check=True, timeout=20,
    ).stdout  # fmt: skip
    action = re.search(r'action="([^"]+)"', page)
    assert action is not None
    location = subprocess.run(
        ["curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{redirect_url}",
         "-d", "decision=approve", emulator.url + action.group(1)],
        capture_output=True, text=True, check=True, timeout=20,
    ).stdout  # fmt: skip
    assert _query(location)["admin_consent"] == ["true"]
    assert [c["credential_id"] for c in emulator.state()["consents"]] == [cred["id"]]
