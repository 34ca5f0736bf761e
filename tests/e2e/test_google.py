"""Google service accounts (scenario 7) and two grants for one mailbox (scenario 10)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from e2e import kube as k
from fixtures.emulator import google_key

pytestmark = pytest.mark.cluster

SCOPES = ["https://www.googleapis.com/auth/userinfo.email", "https://www.googleapis.com/auth/calendar"]


def google_objects(emu: Any, *, key: str | None = None, grant_policy: str = "Orphan") -> list[dict[str, Any]]:
    return [
        k.secret(k.API_KEY_SECRET, {"apiKey": emu.api_key}),
        k.secret(k.AZURE_SECRET, {"clientSecret": "google-client-secret-e2e"}),
        k.secret(k.GOOGLE_SECRET, {"key.json": key or json.dumps(google_key())}),
        k.connector("google", emu, "google", scopes=SCOPES),
        k.credential(
            "workspace",
            "google",
            "serviceaccount",
            serviceAccount={"keySecretRef": {"name": k.GOOGLE_SECRET, "key": "key.json"}},
        ),
        k.grant("dana", "workspace", "dana@acme.example", scopes=SCOPES, deletionPolicy=grant_policy),
    ]


def test_google_grants_are_ready_without_consent(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, google_objects(emulator))
    grant = k.wait_condition(kubectl, namespace, "serviceaccountgrant", "dana", "Ready", timeout=60)
    assert grant["status"]["phase"] == "Ready" and grant["status"]["provider"] == "google"
    assert "consentUrl" not in grant["status"] and "eligibleAt" not in grant["status"]
    cred = k.get(kubectl, namespace, "nylascredential", "workspace")
    assert cred is not None and k.condition(cred, "ConsentGranted")["reason"] == "ConsentNotRequired"  # type: ignore[index]
    assert cred["status"]["nylasName"] == f"k8s:{namespace}/workspace"
    creates = [e for e in emulator.journal() if e.path == "/v3/connect/custom" and e.method == "POST"]
    assert [e.email for e in creates] == ["dana@acme.example"]
    state = emulator.state()
    assert [g["email"] for g in state["grants"]] == ["dana@acme.example"]
    # kopf's record of the handled spec (credentials, connectors) is in status, not annotations.
    handled = k.eventually(
        lambda: (
            (k.get(kubectl, namespace, "nylascredential", "workspace") or {})
            .get("status", {})
            .get("lastHandledConfiguration")
        ),
        timeout=20,
        what="status.lastHandledConfiguration of the credential",
    )
    assert json.loads(handled)["spec"]["connectorRef"]["name"] == "google"
    # Grants are watched without kopf (informer.py): no bookkeeping of it at all.
    final = k.get(kubectl, namespace, "serviceaccountgrant", "dana") or {}
    assert "lastHandledConfiguration" not in final["status"], final["status"]
    annotations = final["metadata"].get("annotations", {})
    assert not [a for a in annotations if a.startswith("kopf.")], annotations


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps(google_key(private_key="MIIEvQIBADANBgkq")), "not a PEM private key"),
        (json.dumps(google_key(client_email=None)), "'client_email'"),
        (json.dumps(google_key(private_key_id="")), "'private_key_id'"),
    ],
    ids=["not-json", "not-pem", "no-client-email", "empty-key-id"],
)
def test_malformed_google_key_is_reported_and_never_sent(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any, key: str, problem: str
) -> None:
    k.apply(kubectl, namespace, google_objects(emulator, key=key))
    cred = k.wait_condition(
        kubectl,
        namespace,
        "nylascredential",
        "workspace",
        "Ready",
        "False",
        reason="InvalidServiceAccountKey",
        timeout=60,
    )
    assert problem in k.condition(cred, "Ready")["message"]  # type: ignore[index]
    assert cred["status"]["phase"] == "Failed"
    assert k.condition(cred, "CredentialsResolved")["status"] == "False"  # type: ignore[index]
    assert not [e for e in emulator.journal() if "/creds" in e.path and e.method in ("POST", "PATCH")]
    grant = k.get(kubectl, namespace, "serviceaccountgrant", "dana")
    assert grant is not None and grant["status"]["phase"] == "Pending"

    # Fixing the Secret wakes the credential by itself (Secret watch), and the grant follows.
    k.apply(kubectl, namespace, [k.secret(k.GOOGLE_SECRET, {"key.json": json.dumps(google_key())})])
    k.wait_condition(kubectl, namespace, "serviceaccountgrant", "dana", "Ready", timeout=60)


def test_second_grant_for_a_mailbox_is_a_conflict(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, google_objects(emulator))
    first = k.wait_condition(kubectl, namespace, "serviceaccountgrant", "dana", "Ready", timeout=60)
    k.apply(
        kubectl,
        namespace,
        [k.grant("dana-again", "workspace", "dana@acme.example", scopes=SCOPES, deletionPolicy="Delete")],
    )
    second = k.wait_condition(
        kubectl,
        namespace,
        "serviceaccountgrant",
        "dana-again",
        "Ready",
        "False",
        reason="Conflict",
        timeout=30,
    )
    assert "ServiceAccountGrant 'dana' in this namespace" in k.condition(second, "Ready")["message"]  # type: ignore[index]
    assert "grantId" not in second["status"]

    kubectl("delete", "-n", namespace, "serviceaccountgrant", "dana-again", "--timeout=30s", timeout=40)
    assert not [e for e in emulator.journal() if e.method == "DELETE" and e.path.startswith("/v3/grants")]
    assert [g["id"] for g in emulator.state()["grants"]] == [first["status"]["grantId"]]
    still = k.get(kubectl, namespace, "serviceaccountgrant", "dana")
    assert still is not None and k.condition(still, "Ready")["status"] == "True"  # type: ignore[index]
