"""Consent callback hardening (scenario 4 of issue 4).

Unknown, tampered, replayed, expired and malformed ``state`` values all get the same answer from
the operator's callback (status and body), which says nothing about which objects exist, and none
of them records a consent: no result annotation, ``status.consent`` unchanged, no grant created.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from e2e import kube as k
from e2e.test_microsoft import consent_url_on_credential, microsoft_objects

pytestmark = pytest.mark.cluster

RESULT_ANNOTATION_PREFIX = "nylas-operator.io/consent-"


@pytest.fixture
def operator(operator_factory: Any, namespace: str) -> Any:
    """As installed by the chart: the callback is its own process (``consent-server``)."""
    return operator_factory(namespace, consent_server=True)


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def tamper(state: str) -> str:
    """The same token with one character changed (still well formed)."""
    middle = len(state) // 2
    return state[:middle] + ("A" if state[middle] != "A" else "B") + state[middle + 1 :]


def call_back(operator: Any, state: str) -> httpx.Response:
    """What Nylas's redirect after a successful consent looks like."""
    params = {"admin_consent": "true", "tenant": "contoso-tenant", "state": state}
    return httpx.get(operator.callback_url, params=params, timeout=10)


def consent_records(kubectl: k.Kubectl, ns: str) -> list[dict[str, Any]]:
    cred = k.get(kubectl, ns, "nylascredential", "contoso")
    assert cred is not None
    annotations = cred["metadata"].get("annotations") or {}
    assert not [a for a in annotations if a.startswith(RESULT_ANNOTATION_PREFIX)], "a consent was recorded"
    return list(cred["status"]["consent"])


def assert_nothing_recorded(kubectl: k.Kubectl, ns: str, before: list[dict[str, Any]], emu: Any) -> None:
    assert consent_records(kubectl, ns) == before
    assert all("grantedAt" not in r for r in before)
    assert not [e for e in emu.journal() if e.path == "/v3/connect/custom"]
    assert emu.state()["grants"] == []
    for i in range(3):
        grant = k.get(kubectl, ns, "serviceaccountgrant", f"mailbox-{i}")
        assert grant is not None and grant["status"]["phase"] == "AwaitingConsent"
        assert "grantId" not in grant["status"]


def test_bad_states_get_one_answer_and_record_nothing(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, microsoft_objects(emulator))
    url = consent_url_on_credential(kubectl, namespace)
    before = consent_records(kubectl, namespace)
    good = state_of(url)

    answers = {
        "unknown": call_back(operator, secrets.token_urlsafe(32)),
        "tampered": call_back(operator, tamper(good)),
        "malformed": call_back(operator, "not-a-state"),
        "no-state": httpx.get(operator.callback_url, params={"admin_consent": "true"}, timeout=10),
    }
    for what, response in answers.items():
        assert response.status_code == 400, what
        assert response.text == answers["unknown"].text, f"{what} answered differently"
        assert "contoso" not in response.text and namespace not in response.text
    # The callback writes the result annotation before it answers: an accepted state would show now.
    assert_nothing_recorded(kubectl, namespace, before, emulator)

    # The admin consents through the URL (the emulator records it and redirects to the callback):
    # accepted once; a replay of the very same redirect gets the refusal page and changes nothing.
    consented = httpx.get(url, follow_redirects=True, timeout=10)
    assert consented.status_code == 200 and str(consented.url).startswith(operator.callback_url)
    k.wait_condition(kubectl, namespace, "nylascredential", "contoso", "ConsentGranted", timeout=30)
    granted = consent_records(kubectl, namespace)
    replay = httpx.get(str(consented.url), timeout=10)
    assert (replay.status_code, replay.text) == (400, answers["unknown"].text)
    assert consent_records(kubectl, namespace) == granted  # answered after any annotation: none
    # Grants becoming Ready after the consent (one create per mailbox) is test_microsoft's.


def test_expired_state_is_refused_and_replaced(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator_factory: Any
) -> None:
    op = operator_factory(namespace, consent_state_ttl="4s", consent_server=True)
    k.apply(kubectl, namespace, microsoft_objects(emulator))
    first_url = consent_url_on_credential(kubectl, namespace)
    record = consent_records(kubectl, namespace)[0]
    expires_at = k.parse_time(record["expiresAt"])
    assert expires_at - time.time() <= 5

    unknown = call_back(op, secrets.token_urlsafe(32))
    while time.time() <= expires_at + 0.2:  # bounded: the TTL is 4 s
        time.sleep(0.2)
    expired = call_back(op, state_of(first_url))
    assert (expired.status_code, expired.text) == (400, unknown.text)

    # The credential gets a new URL with a new state, mirrored by its grants.
    def renewed() -> str | None:
        url = consent_url_on_credential(kubectl, namespace)
        return url if state_of(url) != state_of(first_url) else None

    new_url = k.eventually(renewed, timeout=30, what="a new consent URL after expiry")
    assert call_back(op, state_of(first_url)).status_code == 400
    assert not [e for e in emulator.journal() if e.path == "/v3/connect/custom"]
    records = consent_records(kubectl, namespace)
    assert all("grantedAt" not in r for r in records)

    # A current URL works (it may be replaced again before it is opened: then take the next one).
    def consented() -> bool:
        current = k.get(kubectl, namespace, "nylascredential", "contoso")
        url = ((current or {}).get("status") or {}).get("consentUrl")
        return bool(url) and httpx.get(url, follow_redirects=True, timeout=10).status_code == 200

    assert state_of(new_url) != state_of(first_url)
    k.eventually(consented, timeout=30, what="a consent through a current URL")
    k.wait_condition(kubectl, namespace, "nylascredential", "contoso", "ConsentGranted", timeout=30)
