"""Deletion policies, in-use waits and namespace teardown (scenario 13)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from e2e import kube as k
from e2e.test_google import SCOPES
from e2e.test_observability import metric
from fixtures.emulator import google_key

pytestmark = pytest.mark.cluster

FINALIZER = "nylas-operator.io/finalizer"


def objects(emu: Any, policy: str) -> list[dict[str, Any]]:
    return [
        k.secret(k.API_KEY_SECRET, {"apiKey": emu.api_key}),
        k.secret(k.AZURE_SECRET, {"clientSecret": "google-client-secret-e2e"}),
        k.secret(k.GOOGLE_SECRET, {"key.json": json.dumps(google_key())}),
        k.connector("google", emu, "google", scopes=SCOPES, deletion_policy=policy),
        k.credential(
            "workspace",
            "google",
            "serviceaccount",
            deletionPolicy=policy,
            serviceAccount={"keySecretRef": {"name": k.GOOGLE_SECRET, "key": "key.json"}},
        ),
        k.grant("erin", "workspace", "erin@acme.example", deletionPolicy=policy),
        k.grant("finn", "workspace", "finn@acme.example", deletionPolicy=policy),
    ]


def all_ready(kubectl: k.Kubectl, ns: str) -> None:
    for name in ("erin", "finn"):
        k.wait_condition(kubectl, ns, "serviceaccountgrant", name, "Ready", timeout=60)


def gone(kubectl: k.Kubectl, ns: str, kind: str, name: str) -> bool:
    return k.get(kubectl, ns, kind, name) is None


def test_delete_policy_waits_for_users_then_removes_everything(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, objects(emulator, "Delete"))
    all_ready(kubectl, namespace)
    kubectl("delete", "-n", namespace, "nylasconnector/google", "nylascredential/workspace", "--wait=false")
    cred = k.wait_condition(
        kubectl, namespace, "nylascredential", "workspace", "Ready", "False", reason="InUse"
    )
    assert "2 ServiceAccountGrant" in k.condition(cred, "Ready")["message"]  # type: ignore[index]
    k.wait_condition(kubectl, namespace, "nylasconnector", "google", "Ready", "False", reason="InUse")
    assert len(emulator.state()["grants"]) == 2 and len(emulator.state()["credentials"]) == 1

    kubectl("delete", "-n", namespace, "serviceaccountgrant", "--all", "--wait=false")
    for kind, name in (
        ("serviceaccountgrant", "erin"),
        ("serviceaccountgrant", "finn"),
        ("nylascredential", "workspace"),
        ("nylasconnector", "google"),
    ):
        k.eventually(
            lambda kind=kind, name=name: gone(kubectl, namespace, kind, name),
            timeout=60,
            what=f"{kind}/{name} deleted",
        )
    state = emulator.state()
    assert state["grants"] == [] and state["credentials"] == [] and state["connectors"] == []


def test_orphan_policy_leaves_nylas_objects(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, objects(emulator, "Orphan"))
    all_ready(kubectl, namespace)
    kubectl("delete", "-n", namespace, "serviceaccountgrant", "--all", "--timeout=30s", timeout=40)
    kubectl(
        "delete",
        "-n",
        namespace,
        "nylascredential/workspace",
        "nylasconnector/google",
        "--timeout=30s",
        timeout=40,
    )
    assert not [e for e in emulator.journal() if e.method == "DELETE"]
    state = emulator.state()
    assert len(state["grants"]) == 2 and len(state["credentials"]) == 1 and len(state["connectors"]) == 1


def finalizers(kubectl: k.Kubectl, ns: str, kind: str, name: str) -> list[str]:
    body = k.get(kubectl, ns, kind, name)
    assert body is not None, f"{kind}/{name} is missing"
    return list(body["metadata"].get("finalizers") or [])


def test_only_objects_whose_deletion_needs_the_operator_carry_the_finalizer(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, objects(emulator, "Orphan"))
    all_ready(kubectl, namespace)
    assert finalizers(kubectl, namespace, "serviceaccountgrant", "erin") == []
    # Connectors and credentials wait while in use, whatever their policy.
    assert finalizers(kubectl, namespace, "nylascredential", "workspace") == [FINALIZER]
    assert finalizers(kubectl, namespace, "nylasconnector", "google") == [FINALIZER]

    def set_policy(policy: str) -> None:
        patch = json.dumps({"spec": {"deletionPolicy": policy}})
        kubectl("patch", "-n", namespace, "serviceaccountgrant/erin", "--type=merge", "-p", patch)

    set_policy("Delete")
    k.eventually(
        lambda: finalizers(kubectl, namespace, "serviceaccountgrant", "erin") == [FINALIZER],
        timeout=20,
        what="the finalizer added for deletionPolicy Delete",
    )
    set_policy("Orphan")
    k.eventually(
        lambda: finalizers(kubectl, namespace, "serviceaccountgrant", "erin") == [],
        timeout=20,
        what="the finalizer removed for deletionPolicy Orphan",
    )

    # A second object for erin's mailbox waits; once erin is deleted (no finalizer: the operator
    # only sees it gone), it takes the mailbox over and adopts the same Nylas grant.
    erin_id = k.get(kubectl, namespace, "serviceaccountgrant", "erin")["status"]["grantId"]  # type: ignore[index]
    k.apply(kubectl, namespace, [k.grant("erin-again", "workspace", "erin@acme.example")])
    waiting = ("serviceaccountgrant", "erin-again", "Ready", "False")
    k.wait_condition(kubectl, namespace, *waiting, reason="Conflict", timeout=30)
    kubectl("delete", "-n", namespace, "serviceaccountgrant/erin", "--timeout=30s", timeout=40)
    taken = k.wait_condition(kubectl, namespace, "serviceaccountgrant", "erin-again", "Ready", timeout=30)
    assert taken["status"]["grantId"] == erin_id
    assert len(emulator.state()["grants"]) == 2
    assert not [e for e in emulator.journal() if e.method == "DELETE"]


def test_namespace_deletion_is_not_stuck(
    kubectl: k.Kubectl, control_plane: Any, emulator: Any, operator_factory: Any
) -> None:
    ns = "t-teardown-" + emulator.url.rsplit(":", 1)[1]
    kubectl("create", "namespace", ns)
    try:
        operator_factory(ns)
        k.apply(kubectl, ns, objects(emulator, "Delete"))
        all_ready(kubectl, ns)
        # Secrets, connector, credential and grants all go at once, in no particular order.
        kubectl("delete", "namespace", ns, "--wait=false")
        k.eventually(
            lambda: not kubectl("get", "namespace", ns, "--ignore-not-found", check=False).strip(),
            timeout=120,
            what=f"namespace {ns} gone",
        )
        # The operator kept its client for the application, so Delete still reached Nylas, for
        # the connector and credential too (their API-key Secret went in the same teardown).
        state = emulator.state()
        assert state["grants"] == [] and state["credentials"] == [] and state["connectors"] == []
    finally:
        kubectl("delete", "namespace", ns, "--wait=false", "--ignore-not-found", check=False)


def test_failing_delete_keeps_the_finalizer_retries_and_shows_it_until_nylas_recovers(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator_factory: Any
) -> None:
    """Nylas refuses every grant DELETE for a while: the grants stay (finalizer kept, well past
    ``--deletion-give-up``, which now only covers a deletion without any key), show
    ``DeleteFailed`` with the attempt count, a Warning event and the metrics; switching one to
    ``Orphan`` releases it at once (its Nylas grant left in place); the other is deleted from
    Nylas once Nylas answers again."""
    op = operator_factory(namespace, deletion_give_up="2s")
    k.apply(kubectl, namespace, objects(emulator, "Delete"))
    all_ready(kubectl, namespace)
    grants = {g["id"] for g in emulator.state()["grants"]}
    assert len(grants) == 2
    emulator.set_faults(rules=[{"method": "DELETE", "path": "/v3/grants/*", "kind": "503"}])
    kubectl("delete", "-n", namespace, "serviceaccountgrant/erin", "serviceaccountgrant/finn", "--wait=false")

    def failed_at_least(name: str, attempts: int) -> dict[str, Any] | None:
        body = k.get(kubectl, namespace, "serviceaccountgrant", name)
        ready = k.condition(body, "Ready")
        if body is None or ready is None or ready.get("reason") != "DeleteFailed":
            return None
        return body if (body["status"].get("deletionAttempts") or 0) >= attempts else None

    # Three failed attempts take well over the 2 s give-up time: the old code orphaned here.
    erin = k.eventually(lambda: failed_at_least("erin", 3), timeout=90, what="erin failed 3 times")
    assert erin["metadata"]["finalizers"] == [FINALIZER]
    assert erin["status"]["phase"] == "Deleting"
    ready = k.condition(erin, "Ready")
    assert ready is not None and ready["status"] == "False"
    message = ready["message"]
    assert message.startswith("deleting the Nylas grant failed: NylasServerError (HTTP 503); attempt ")
    assert "next try at " in message and len(message) <= 256
    assert emulator.api_key not in json.dumps(erin)
    warnings = [
        e
        for e in k.events(kubectl, namespace)
        if e["involvedObject"].get("name") == "erin" and e["reason"] == "DeleteFailed"
    ]
    assert warnings and all(e["type"] == "Warning" for e in warnings)
    assert not [e for e in k.events(kubectl, namespace) if e["reason"] == "Orphaned"]
    assert {g["id"] for g in emulator.state()["grants"]} == grants
    blocked = {"kind": "ServiceAccountGrant"}
    k.eventually(
        lambda: metric(op.metrics_url, "nylas_operator_deletions_blocked", **blocked) == 2,
        timeout=30,
        what="both grants counted as blocked deletions",
    )
    failures = metric(
        op.metrics_url, "nylas_operator_deletion_failures_total", reason="NylasUnavailable", **blocked
    )
    assert failures >= 4

    # The user's way out: Orphan releases finn now, leaving its Nylas grant in place.
    finn_id = k.get(kubectl, namespace, "serviceaccountgrant", "finn")["status"]["grantId"]  # type: ignore[index]
    patch = json.dumps({"spec": {"deletionPolicy": "Orphan"}})
    kubectl("patch", "-n", namespace, "serviceaccountgrant/finn", "--type=merge", "-p", patch)
    k.eventually(
        lambda: gone(kubectl, namespace, "serviceaccountgrant", "finn"), timeout=20, what="finn gone"
    )
    assert finn_id in {g["id"] for g in emulator.state()["grants"]}
    assert k.get(kubectl, namespace, "serviceaccountgrant", "erin") is not None

    # Nylas recovers: erin's next try deletes it from Nylas and the finalizer goes.
    emulator.clear_faults()
    k.eventually(
        lambda: gone(kubectl, namespace, "serviceaccountgrant", "erin"), timeout=60, what="erin gone"
    )
    assert {g["id"] for g in emulator.state()["grants"]} == {finn_id}
    k.eventually(
        lambda: metric(op.metrics_url, "nylas_operator_deletions_blocked", **blocked) == 0,
        timeout=20,
        what="no blocked deletion left",
    )
