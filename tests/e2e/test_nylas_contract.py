"""Issue 10 end to end: what Nylas's contract changed in the operator's behaviour.

- A "consent not applied yet" answer in the OAuth shape (`{error, error_description: "AADSTS65001
  ..."}`) is retried as not-yet-propagated, not taken as terminal.
- A consent callback URL that is not registered on the Nylas application is reported on the
  credential with the exact URL; with --register-callback-url the operator registers it.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from e2e import kube as k
from e2e.test_microsoft import microsoft_objects
from nylas_operator.emulator.config import (
    DEFAULT_API_KEY,
    DEFAULT_APPLICATION_ID,
    ApplicationConfig,
    Behaviour,
    EmulatorConfig,
)

pytestmark = pytest.mark.cluster

ENFORCING = EmulatorConfig(
    applications=(ApplicationConfig(DEFAULT_APPLICATION_ID, DEFAULT_API_KEY, redirect_uris=()),),
    behaviour=Behaviour(scope_cache_delay=2.0),
)


@pytest.mark.parametrize(
    "emulator_config",
    [EmulatorConfig(behaviour=Behaviour(scope_cache_delay=8.0, provider_error_shape="oauth"))],
)
def test_consent_not_applied_yet_in_the_oauth_shape_is_retried(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, microsoft_objects(emulator)[:5])  # one mailbox
    k.wait_condition(kubectl, namespace, "nylascredential", "contoso", "ConsentGranted", "False", timeout=60)
    cred = k.get(kubectl, namespace, "nylascredential", "contoso")
    assert cred is not None
    emulator.approve_consent(cred["status"]["credentialId"])
    approved_at = time.time()
    kubectl("annotate", "-n", namespace, "nylascredential/contoso", "nylas-operator.io/admin-consent=granted")
    # The operator waits 3 s, the emulator (Microsoft) refuses for 8 s: the grant must retry.
    waiting = k.wait_condition(
        kubectl,
        namespace,
        "serviceaccountgrant",
        "mailbox-0",
        "Ready",
        "False",
        reason="ScopesNotPropagated",
        timeout=30,
    )
    assert waiting["status"]["phase"] != "Failed"
    assert "AADSTS65001" in k.condition(waiting, "Ready")["message"]  # type: ignore[index]  # Microsoft's text
    k.wait_condition(kubectl, namespace, "serviceaccountgrant", "mailbox-0", "Ready", timeout=60)
    refused = [e for e in emulator.journal() if e.path == "/v3/connect/custom" and e.status == 400]
    created = [e for e in emulator.journal() if e.path == "/v3/connect/custom" and e.status == 201]
    assert refused and created and created[0].time >= approved_at + 7.5


def _credential_condition(kubectl: k.Kubectl, namespace: str, status: str) -> dict[str, Any]:
    obj = k.wait_condition(
        kubectl, namespace, "nylascredential", "contoso", "RedirectURIRegistered", status, timeout=60
    )
    cond = k.condition(obj, "RedirectURIRegistered")
    assert cond is not None
    return cond


@pytest.mark.parametrize("emulator_config", [ENFORCING])
def test_an_unregistered_callback_url_is_reported_with_the_exact_url(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, microsoft_objects(emulator))
    cond = _credential_condition(kubectl, namespace, "False")
    assert cond["reason"] == "RedirectUriNotRegistered"
    assert operator.callback_url in cond["message"]
    # Nothing was registered behind the user's back.
    listed = httpx.get(
        f"{emulator.url}/v3/applications/redirect-uris",
        headers={"Authorization": f"Bearer {emulator.api_key}"},
        timeout=10,
    ).json()["data"]
    assert listed == []


@pytest.mark.parametrize("emulator_config", [ENFORCING])
def test_the_operator_registers_its_callback_url_when_allowed(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator_factory: Any
) -> None:
    operator = operator_factory(namespace, args=("--register-callback-url",))
    k.apply(kubectl, namespace, microsoft_objects(emulator))
    cond = _credential_condition(kubectl, namespace, "True")
    assert cond["reason"] == "RedirectUriRegistered"
    listed = httpx.get(
        f"{emulator.url}/v3/applications/redirect-uris",
        headers={"Authorization": f"Bearer {emulator.api_key}"},
        timeout=10,
    ).json()["data"]
    assert [u["url"] for u in listed] == [operator.callback_url]
    # The consent link now works: Nylas redirects the administrator to the callback.
    cred = k.get(kubectl, namespace, "nylascredential", "contoso")
    assert cred is not None
    response = httpx.get(cred["status"]["consentUrl"], follow_redirects=True, timeout=10)
    assert response.status_code == 200 and str(response.url).startswith(operator.callback_url)


def test_a_rotated_connector_secret_reaches_the_credentials_on_its_app(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    # The credential names no Azure app of its own: it carries the connector's (contract, item 4).
    k.apply(kubectl, namespace, microsoft_objects(emulator)[:4])
    k.wait_condition(kubectl, namespace, "nylascredential", "contoso", "ConsentGranted", "False", timeout=60)
    (stored,) = emulator.credentials()
    assert stored["data"]["client_id"] == "microsoft-app-id"
    before = len(emulator.journal())
    k.apply(kubectl, namespace, [k.secret(k.AZURE_SECRET, {"clientSecret": "rotated-azure-secret-e2e"})])
    k.eventually(
        lambda: [
            e
            for e in emulator.journal()[before:]
            if e.method == "PATCH" and e.path == f"/v3/connectors/microsoft/creds/{stored['id']}"
        ],
        timeout=30,
        what="PATCH of the credential after the connector's secret was rotated",
    )
    (after,) = emulator.credentials()
    assert after["data_sha256"] != stored["data_sha256"]
    assert after["data"]["client_id"] == "microsoft-app-id"
