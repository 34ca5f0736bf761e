"""Microsoft admin consent end to end (scenario 1 of issue 4; scenario 2, consent by annotation,
runs in ``test_adoption.py``, and its settle timing in ``test_decide_grant.py``'s tables)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from e2e import kube as k

pytestmark = pytest.mark.cluster

MAILBOXES = ["alice@contoso.example", "bob@contoso.example", "carol@contoso.example"]
OPERATOR_DELAY = 3.0  # --scope-cache-delay of the operator fixture


@pytest.fixture
def operator(operator_factory: Any, namespace: str) -> Any:
    """As installed by the chart: the callback is its own process (``consent-server``)."""
    return operator_factory(namespace, consent_server=True)


def microsoft_objects(emu: Any) -> list[dict[str, Any]]:
    return [
        k.secret(k.API_KEY_SECRET, {"apiKey": emu.api_key}),
        k.secret(k.AZURE_SECRET, {"clientSecret": k.AZURE_CLIENT_SECRET}),
        k.connector("microsoft", emu, "microsoft"),
        k.credential("contoso", "microsoft", "adminconsent"),
        *[k.grant(f"mailbox-{i}", "contoso", email) for i, email in enumerate(MAILBOXES)],
    ]


def consent_url_on_credential(kubectl: k.Kubectl, ns: str) -> str:
    """The credential shows a consent URL; every grant waits for it, names the credential and never
    carries the URL or its state (a grant's readers are not approvers)."""

    def probe() -> str | None:
        cred = k.get(kubectl, ns, "nylascredential", "contoso")
        url = ((cred or {}).get("status") or {}).get("consentUrl")
        grants = [k.get(kubectl, ns, "serviceaccountgrant", f"mailbox-{i}") for i in range(len(MAILBOXES))]
        waiting = [((g or {}).get("status") or {}).get("phase") == "AwaitingConsent" for g in grants]
        if not url or not all(waiting):
            return None
        state = parse_qs(urlsplit(str(url)).query)["state"][0]
        for grant in grants:
            assert "consentUrl" not in grant["status"] and state not in json.dumps(grant)
            message = (k.condition(grant, "ConsentGranted") or {}).get("message", "")
            assert "NylasCredential 'contoso'" in message, message
        return str(url)

    return k.eventually(probe, timeout=60, what="consent URL on the credential, every grant waiting")


def assert_created_once_after(emu: Any, consent_seq_time: float, delay: float) -> None:
    journal = emu.journal()
    creates = [
        e
        for e in journal
        if e.method == "POST" and e.path == "/v3/connect/custom" and e.status and e.status < 300
    ]
    assert sorted(e.email for e in creates) == sorted(MAILBOXES), "exactly one successful create per mailbox"
    for entry in creates:
        assert entry.time >= consent_seq_time + delay, f"{entry.email} created before consent + delay"
    state = emu.state()
    assert len(state["connectors"]) == 1
    assert len(state["credentials"]) == 1
    assert sorted(g["email"] for g in state["grants"]) == sorted(MAILBOXES)


def test_microsoft_full_flow_through_the_callback(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, microsoft_objects(emulator))
    k.wait_condition(kubectl, namespace, "nylasconnector", "microsoft", "Ready")
    url = consent_url_on_credential(kubectl, namespace)
    cred = k.get(kubectl, namespace, "nylascredential", "contoso")
    assert cred is not None and cred["status"]["phase"] == "AwaitingConsent"
    assert k.condition(cred, "ConsentGranted")["reason"] == "AwaitingConsent"  # type: ignore[index]

    # The admin opens the URL; the emulator (auto mode) redirects to the operator's callback.
    response = httpx.get(url, follow_redirects=True, timeout=10)
    assert response.status_code == 200, response.text
    assert str(response.url).startswith(operator.callback_url)
    consent_time = max(e.time for e in emulator.journal() if e.path == "/v3/connect/auth")

    for i in range(len(MAILBOXES)):
        k.wait_condition(kubectl, namespace, "serviceaccountgrant", f"mailbox-{i}", "Ready", timeout=60)
    assert_created_once_after(emulator, consent_time, OPERATOR_DELAY)

    cred = k.get(kubectl, namespace, "nylascredential", "contoso")
    assert cred is not None
    record = cred["status"]["consent"][0]
    assert record["grantedBy"] == "callback" and "stateHash" not in record
    grant = k.get(kubectl, namespace, "serviceaccountgrant", "mailbox-0")
    assert grant is not None and grant["status"]["grantId"] and grant["status"]["eligibleAt"]
    for kind in ("nylasconnector", "nylascredential", "serviceaccountgrant"):
        k.wait_all_ready(kubectl, namespace, kind, timeout=30)

    # The state is single use: replaying the callback is refused, and nothing changes.
    replay = httpx.get(str(response.url), timeout=10)
    assert replay.status_code == 400
    # The consent server recorded it; the operator served no callback.
    assert "consent grant recorded for NylasCredential" in operator.consent_logs()
    assert "consent grant recorded" not in operator.logs()
