"""Adoption (scenario 11 of issue 4): what a previous installation left in Nylas is taken over.

The connector, a credential with the deterministic name ``k8s:<namespace>/<name>`` and grants for
the mailboxes exist in Nylas before the Kubernetes objects are applied (created through the /v3 API
with the API key, as the previous installation did). Applying the objects adopts all of them: no
second connector, credential or grant; the statuses carry the existing ids; the connector PATCH
brings its settings in line with the spec.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from e2e import kube as k
from e2e.test_google import SCOPES, google_objects
from e2e.test_microsoft import MAILBOXES, microsoft_objects
from fixtures.emulator import api_client, custom_auth, make_connector, make_credential

pytestmark = pytest.mark.cluster

CREATES = {("POST", "/v3/connectors"), ("POST", "/v3/connect/custom")}


def creations(emu: Any, after: int) -> list[Any]:
    return [
        e
        for e in emu.journal(after=after)
        if (e.method, e.path) in CREATES or (e.method == "POST" and e.path.endswith("/creds"))
    ]


def last_seq(emu: Any) -> int:
    entries = emu.journal()
    return entries[-1].seq if entries else 0


def assert_adopted(kubectl: k.Kubectl, ns: str, emu: Any, provider: str, cred_name: str, before: int) -> None:
    state = emu.state()
    assert len(state["connectors"]) == 1 and len(state["credentials"]) == 1
    assert creations(emu, before) == [], "something was created instead of adopted"
    connector = state["connectors"][0]
    assert connector["settings"]["client_id"] == f"{provider}-app-id"  # the PATCH brought it in line
    patches = [
        e for e in emu.journal(after=before) if e.method == "PATCH" and e.path == f"/v3/connectors/{provider}"
    ]
    assert patches and all(p.status == 200 for p in patches)
    cred = k.get(kubectl, ns, "nylascredential", cred_name)
    assert cred is not None and cred["status"]["credentialId"] == state["credentials"][0]["id"]
    assert cred["status"]["nylasName"] == f"k8s:{ns}/{cred_name}"
    wanted = {(kind, "Adopted") for kind in ("NylasConnector", "NylasCredential", "ServiceAccountGrant")}
    k.eventually(  # events are posted in the background
        lambda: wanted <= {(e["involvedObject"]["kind"], e["reason"]) for e in k.events(kubectl, ns)},
        timeout=20,
        what=f"the events {sorted(wanted)}",
    )


def test_google_objects_are_adopted_not_duplicated(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    with api_client(emulator) as api:
        make_connector(api, "google")  # another client id and other scopes than the spec
        cred = make_credential(api, "google", name=f"k8s:{namespace}/workspace")
        response = custom_auth(api, "dana@acme.example", cred["id"], provider="google")
        assert response.status_code in (200, 201), response.text
        grant_id = response.json()["data"]["id"]
    before = last_seq(emulator)

    k.apply(kubectl, namespace, google_objects(emulator))
    grant = k.wait_condition(kubectl, namespace, "serviceaccountgrant", "dana", "Ready", timeout=60)
    assert grant["status"]["grantId"] == grant_id
    assert_adopted(kubectl, namespace, emulator, "google", "workspace", before)
    assert sorted(emulator.state()["connectors"][0]["scope"]) == sorted(SCOPES)
    assert [g["id"] for g in emulator.state()["grants"]] == [grant_id]


def test_microsoft_objects_are_adopted_not_duplicated(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    with api_client(emulator) as api:
        make_connector(api, "microsoft")
        cred = make_credential(api, "microsoft", name=f"k8s:{namespace}/contoso", tenant="common")
        emulator.approve_consent(cred["id"], decided_at=time.time() - 600)  # consented long ago
        grant_ids = {}
        for email in MAILBOXES:
            response = custom_auth(api, email, cred["id"])
            assert response.status_code in (200, 201), response.text
            grant_ids[email] = response.json()["data"]["id"]
    before = last_seq(emulator)

    k.apply(kubectl, namespace, microsoft_objects(emulator))
    # Nylas cannot tell whether an admin consented: the person who knows says so, as in scenario 2.
    k.wait_condition(
        kubectl, namespace, "nylascredential", "contoso", "ConsentGranted", "False", reason="AwaitingConsent"
    )
    kubectl("annotate", "-n", namespace, "nylascredential/contoso", "nylas-operator.io/admin-consent=granted")
    for i, email in enumerate(MAILBOXES):
        grant = k.wait_condition(
            kubectl, namespace, "serviceaccountgrant", f"mailbox-{i}", "Ready", timeout=60
        )
        assert grant["status"]["grantId"] == grant_ids[email]
    assert_adopted(kubectl, namespace, emulator, "microsoft", "contoso", before)
    assert sorted(g["id"] for g in emulator.state()["grants"]) == sorted(grant_ids.values())
    # Scenario 2 of issue 4: the annotation is consumed and recorded as the consent's source.
    cred = k.get(kubectl, namespace, "nylascredential", "contoso")
    assert cred is not None
    assert "nylas-operator.io/admin-consent" not in (cred["metadata"].get("annotations") or {})
    assert cred["status"]["consent"][0]["grantedBy"] == "annotation"
