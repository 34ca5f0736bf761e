"""Consent denied (3), restart while settling (5), Secret rotation (8), pause (15)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from e2e import kube as k
from e2e.test_google import google_objects
from e2e.test_microsoft import MAILBOXES, consent_url_on_credential, microsoft_objects

pytestmark = pytest.mark.cluster


def test_denied_consent_shows_the_reason_and_a_later_approval_works(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, microsoft_objects(emulator))
    first_url = consent_url_on_credential(kubectl, namespace)
    emulator.configure(consent_mode="deny")
    assert httpx.get(first_url, follow_redirects=True, timeout=10).status_code == 200
    cred = k.wait_condition(
        kubectl, namespace, "nylascredential", "contoso", "ConsentGranted", "False", reason="ConsentDenied"
    )
    assert "access_denied" in k.condition(cred, "ConsentGranted")["message"]  # type: ignore[index]
    k.wait_condition(
        kubectl,
        namespace,
        "serviceaccountgrant",
        "mailbox-0",
        "ConsentGranted",
        "False",
        reason="ConsentDenied",
    )
    # A refusal does not use the URL up (anyone holding it could send one): the same URL works.
    assert cred["status"]["consentUrl"] == first_url
    emulator.configure(consent_mode="auto")
    assert httpx.get(first_url, follow_redirects=True, timeout=10).status_code == 200
    for i in range(len(MAILBOXES)):
        k.wait_condition(kubectl, namespace, "serviceaccountgrant", f"mailbox-{i}", "Ready", timeout=60)


def test_restart_during_the_settle_window_waits_only_the_remaining_time(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator_factory: Any
) -> None:
    delay = 10.0
    op = operator_factory(namespace, scope_cache_delay=f"{delay:g}s")
    k.apply(kubectl, namespace, microsoft_objects(emulator))
    url = consent_url_on_credential(kubectl, namespace)
    assert httpx.get(url, follow_redirects=True, timeout=10).status_code == 200
    consent_time = max(e.time for e in emulator.journal() if e.path == "/v3/connect/auth")
    k.wait_condition(
        kubectl,
        namespace,
        "serviceaccountgrant",
        "mailbox-0",
        "ConsentSettled",
        "False",
        reason="ConsentSettling",
    )
    op.kill()
    # Restart well inside the window (not right after the grants showed ConsentSettling, which a
    # fast operator does within a second of the consent): waiting the whole delay again then
    # lands clearly after the eligible time.
    time.sleep(max(1.0, consent_time + 4.0 - time.time()))
    restarted = time.time()
    assert restarted < consent_time + delay - 4.0, "the restart must fall inside the settle window"
    op.start()  # returns once the new process is healthy: its start-up (seconds under load) is over
    serving = time.time()
    for i in range(len(MAILBOXES)):
        k.wait_condition(kubectl, namespace, "serviceaccountgrant", f"mailbox-{i}", "Ready", timeout=60)
    creates = [
        e for e in emulator.journal() if e.path == "/v3/connect/custom" and e.status and e.status < 300
    ]
    assert sorted(e.email for e in creates) == sorted(MAILBOXES)  # nothing twice
    assert min(e.time for e in creates) >= consent_time + delay  # nothing early
    # Only the remaining time: waiting the whole delay again would create after the new process
    # serves + delay (counted from the restart itself when the process starts quickly).
    assert max(e.time for e in creates) < max(restarted, serving - 2.0) + delay


def test_rotated_client_secret_is_pushed_within_seconds(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, google_objects(emulator))
    k.wait_condition(kubectl, namespace, "nylasconnector", "google", "Ready")
    before = len(emulator.journal())
    k.apply(kubectl, namespace, [k.secret(k.AZURE_SECRET, {"clientSecret": "rotated-client-secret-e2e"})])
    patch = k.eventually(
        lambda: [
            e
            for e in emulator.journal(after=0)[before:]
            if e.method == "PATCH" and e.path == "/v3/connectors/google"
        ],
        timeout=10,
        what="PATCH of the connector after rotation",
    )
    assert patch


def test_paused_objects_send_nothing_and_can_be_deleted(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, google_objects(emulator, grant_policy="Delete"))
    k.wait_condition(kubectl, namespace, "serviceaccountgrant", "dana", "Ready", timeout=60)
    for obj in ("nylasconnector/google", "serviceaccountgrant/dana"):
        kubectl("annotate", "-n", namespace, obj, "nylas-operator.io/paused=true")
    k.wait_condition(kubectl, namespace, "nylasconnector", "google", "Synced", "False", reason="Paused")
    before = len(emulator.journal())
    k.apply(kubectl, namespace, [k.secret(k.AZURE_SECRET, {"clientSecret": "rotated-while-paused-e2e"})])
    kubectl("delete", "-n", namespace, "serviceaccountgrant/dana", "--timeout=30s", timeout=40)
    time.sleep(2)
    writes = [e for e in emulator.journal()[before:] if e.method in ("POST", "PATCH", "DELETE")]
    assert writes == []
    assert len(emulator.state()["grants"]) == 1  # a paused Delete-policy grant is orphaned
    kubectl("annotate", "-n", namespace, "nylasconnector/google", "nylas-operator.io/paused-")
    k.eventually(
        lambda: [e for e in emulator.journal()[before:] if e.method == "PATCH"],
        timeout=15,
        what="the rotation applied after unpausing",
    )
