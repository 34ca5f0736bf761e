"""Attack: two tenants in two namespaces under one operator never borrow each other's keys (issue 13).

The CRD refuses changing a connector's application after creation, so tenant B names tenant A's
Nylas application (A's ``clientId``) from the start, with B's own API key: for A's provider the
claim is A's (``Conflict``, and the message must not name A's namespace or objects); for another
provider the application check refuses B's key (``ApplicationMismatch``). B then deletes its own
API key Secret and deletes grants. The emulator's journal records which key sent each request (a
digest): no request may carry A's key on B's behalf.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from e2e import kube as k
from e2e.test_google import SCOPES
from fixtures.controlplane import namespace_name
from fixtures.emulator import google_key
from nylas_operator.emulator.pipeline import key_id

pytestmark = pytest.mark.cluster

B_APP = "tenant-b-application"
B_KEY = "nyk_v0_tenant_b_key_e2e_0123456789"
B_KEY_SECRET = "b-nylas-key"


@pytest.fixture
def namespace_b(kubectl: k.Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    name = namespace_name(request.node.name + "-b")
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def tenant(
    emu: Any, connector_name: str, key_secret: str, api_key: str, emails: list[str]
) -> list[dict[str, Any]]:
    connector = k.connector(connector_name, emu, "google", scopes=SCOPES, deletion_policy="Delete")
    connector["spec"]["application"]["apiKeySecretRef"]["name"] = key_secret
    return [
        k.secret(key_secret, {"apiKey": api_key}),
        k.secret(k.AZURE_SECRET, {"clientSecret": "google-client-secret-e2e"}),
        k.secret(k.GOOGLE_SECRET, {"key.json": json.dumps(google_key())}),
        connector,
        k.credential(
            "workspace",
            connector_name,
            "serviceaccount",
            deletionPolicy="Delete",
            serviceAccount={"keySecretRef": {"name": k.GOOGLE_SECRET, "key": "key.json"}},
        ),
        *[k.grant(email.split("@")[0], "workspace", email, deletionPolicy="Delete") for email in emails],
    ]


def test_a_tenant_naming_another_application_never_uses_its_key(
    kubectl: k.Kubectl,
    namespace: str,
    namespace_b: str,
    emulator: Any,
    operator_factory: Callable[..., Any],
) -> None:
    ns_a, ns_b = namespace, namespace_b
    emulator.add_application(B_APP, B_KEY)
    key_a, key_b = key_id(emulator.api_key), key_id(B_KEY)
    k.apply(
        kubectl,
        ns_a,
        tenant(emulator, "alpha-google", k.API_KEY_SECRET, emulator.api_key, ["erin@acme.example"]),
    )
    objects_b = tenant(emulator, "beta-google", B_KEY_SECRET, B_KEY, ["mallory@b.example", "trent@b.example"])
    objects_b[3]["spec"]["application"]["clientId"] = B_APP
    k.apply(kubectl, ns_b, objects_b)
    operator = operator_factory(ns_a, ns_b)
    k.wait_condition(kubectl, ns_a, "serviceaccountgrant", "erin", "Ready", timeout=90)
    for name in ("mallory", "trent"):
        k.wait_condition(kubectl, ns_b, "serviceaccountgrant", name, "Ready", timeout=90)
    grant_ids_b = {
        name: str((k.get(kubectl, ns_b, "serviceaccountgrant", name) or {})["status"]["grantId"])
        for name in ("mallory", "trent")
    }
    grant_a = str((k.get(kubectl, ns_a, "serviceaccountgrant", "erin") or {})["status"]["grantId"])
    mark = max((e.seq for e in emulator.journal()), default=0)

    # B names A's application from the start, with B's own key. Same provider as A: A's claim.
    stolen_google = k.connector(
        "beta-on-a-google", emulator, "google", scopes=SCOPES, deletion_policy="Delete"
    )
    stolen_google["spec"]["application"]["apiKeySecretRef"]["name"] = B_KEY_SECRET
    # Another provider: no claim to lose, so the application check must refuse B's key.
    stolen_microsoft = k.connector("beta-on-a-microsoft", emulator, "microsoft", deletion_policy="Delete")
    stolen_microsoft["spec"]["application"]["apiKeySecretRef"]["name"] = B_KEY_SECRET
    k.apply(kubectl, ns_b, [stolen_google, stolen_microsoft])
    conflicted = k.wait_condition(
        kubectl, ns_b, "nylasconnector", "beta-on-a-google", "Ready", "False", reason="Conflict"
    )
    message = k.condition(conflicted, "Ready")["message"]  # type: ignore[index]
    assert "held elsewhere" in message
    assert ns_a not in message and "alpha-google" not in message
    k.wait_condition(
        kubectl, ns_b, "nylasconnector", "beta-on-a-microsoft", "Ready", "False", reason="ApplicationMismatch"
    )
    attack = emulator.journal(mark)
    assert [e for e in attack if e.key_id == key_b and e.path == "/v3/applications"], "B's key not checked"
    assert not [e for e in attack if "microsoft" in e.path or e.method != "GET"], (
        "B's connector reached Nylas"
    )
    assert not [e for e in attack if e.key_id == key_a and e.method != "GET"], "A's key wrote for B"

    # B deletes its own key and a grant: the delete goes out with B's own (cached) key or not at all.
    kubectl("delete", "-n", ns_b, "secret", B_KEY_SECRET)
    kubectl("delete", "-n", ns_b, "serviceaccountgrant", "mallory", "--wait=false")
    k.eventually(
        lambda: k.get(kubectl, ns_b, "serviceaccountgrant", "mallory") is None,
        timeout=60,
        what="mallory deleted with tenant B's own cached client",
    )

    # After a restart no client of B is cached: the deletion waits, it never borrows A's.
    operator.restart()
    kubectl("delete", "-n", ns_b, "serviceaccountgrant", "trent", "--wait=false")

    def deletion_waits() -> bool:
        # The grant's last ordinary reconcile may also have said SecretNotFound: wait for the deletion's.
        cond = k.condition(k.get(kubectl, ns_b, "serviceaccountgrant", "trent"), "Ready") or {}
        return cond.get("reason") == "SecretNotFound" and "deletion waits" in str(cond.get("message"))

    k.eventually(deletion_waits, timeout=60, what="trent's deletion waiting for its own key")

    after = emulator.journal(mark)
    deletes = [(e.method, e.path, e.key_id) for e in after if e.method == "DELETE"]
    assert ("DELETE", f"/v3/grants/{grant_ids_b['mallory']}", key_b) in deletes
    assert not [e for e in after if e.key_id == key_a and e.method == "DELETE"], "A's key deleted for B"
    assert not [e for e in after if e.key_id == key_a and any(g in e.path for g in grant_ids_b.values())]
    grants = {g["id"] for g in emulator.state()["grants"]}
    assert grant_a in grants and grant_ids_b["trent"] in grants

    # With no key of its own at all, the deletion is the one that still gives up: after
    # --deletion-give-up (30 s here) it orphans trent's Nylas grant rather than block forever.
    k.eventually(
        lambda: k.get(kubectl, ns_b, "serviceaccountgrant", "trent") is None,
        timeout=90,
        what="trent's keyless deletion orphaned after the give-up time",
    )
    orphaned = [
        e
        for e in k.events(kubectl, ns_b)
        if e["involvedObject"].get("name") == "trent" and e["reason"] == "Orphaned"
    ]
    assert orphaned and orphaned[0]["type"] == "Warning"
    assert grant_ids_b["trent"] in {g["id"] for g in emulator.state()["grants"]}


def test_a_holder_briefly_not_ready_keeps_its_connector_from_an_older_squatter(
    kubectl: k.Kubectl,
    namespace: str,
    namespace_b: str,
    emulator: Any,
    operator_factory: Callable[..., Any],
) -> None:
    """Tenant B's connector names tenant A's application and is older than A's (it was created
    before the operator served B's namespace). A holds the connector (Ready, ``status.claim``),
    B waits as ``Conflict``. Nylas then fails A's reconciles (``Ready=False`` at A's current
    generation) while B is reconciled: B must not take the claim. B has no Secrets at all, so a
    B that won would say ``SecretNotFound`` instead of ``Conflict``."""
    ns_a, ns_b = namespace, namespace_b
    k.apply(kubectl, ns_b, [k.connector("squatter", emulator, "google", scopes=SCOPES)])
    time.sleep(1.2)  # creationTimestamp has a resolution of one second: B is strictly older
    first = operator_factory(ns_a)
    k.apply(
        kubectl,
        ns_a,
        [
            k.secret(k.API_KEY_SECRET, {"apiKey": emulator.api_key}),
            k.secret(k.AZURE_SECRET, {"clientSecret": "google-client-secret-e2e"}),
            k.connector("holder", emulator, "google", scopes=SCOPES),
        ],
    )
    held = k.wait_condition(kubectl, ns_a, "nylasconnector", "holder", "Ready", timeout=60)
    assert held["status"]["claim"] == f"google/{emulator.application_id}@{emulator.url}"
    first.stop()
    operator_factory(ns_a, ns_b)
    k.wait_condition(
        kubectl, ns_b, "nylasconnector", "squatter", "Ready", "False", reason="Conflict", timeout=60
    )

    def rescope(ns: str, name: str) -> int:
        patch = json.dumps({"spec": {"scopes": SCOPES[:1]}})
        out = kubectl("patch", "-n", ns, f"nylasconnector/{name}", "--type=merge", "-p", patch, "-o", "json")
        return int(json.loads(out)["metadata"]["generation"])

    emulator.set_faults(rules=[{"method": "*", "path": "/v3/connectors/*", "kind": "503"}])
    generation = rescope(ns_a, "holder")

    def failing_now() -> dict[str, Any] | None:
        ready = k.condition(k.get(kubectl, ns_a, "nylasconnector", "holder"), "Ready") or {}
        fresh = ready.get("observedGeneration") == generation and ready.get("status") == "False"
        return ready if fresh else None

    ready = k.eventually(failing_now, timeout=60, what="the holder Ready=False at its new generation")
    assert ready["reason"] == "NylasUnavailable"

    squatter_generation = rescope(ns_b, "squatter")

    def squatter_decided() -> dict[str, Any] | None:
        cond = k.condition(k.get(kubectl, ns_b, "nylasconnector", "squatter"), "Ready") or {}
        return cond if cond.get("observedGeneration") == squatter_generation else None

    decided = k.eventually(squatter_decided, timeout=60, what="the squatter reconciled again")
    assert (decided["status"], decided["reason"]) == ("False", "Conflict")
    assert "held elsewhere" in decided["message"] and ns_a not in decided["message"]

    emulator.clear_faults()
    k.eventually(
        lambda: (
            (k.condition(k.get(kubectl, ns_a, "nylasconnector", "holder"), "Ready") or {}).get("status")
            == "True"
        ),
        timeout=60,
        what="the holder Ready again once Nylas answers",
    )
    squatter = k.condition(k.get(kubectl, ns_b, "nylasconnector", "squatter"), "Ready") or {}
    assert squatter.get("reason") == "Conflict"
