"""A Secret rotated while the operator's Secret watch is cut off and its history is gone (410 Gone
on resume) still reaches Nylas; a Secret whose resourceVersion moved without a data change
(a label) sends nothing (issue 13).

The gap is real: the operator is stopped (SIGSTOP), the apiserver restarts (its watch cache starts
empty), the Secrets change, etcd is compacted (as the apiserver does every 5 minutes), then
the operator continues: its watch resumes from a resourceVersion nobody serves any more.
(The apiserver restarts first: events already sent to a stopped process wait in its socket.)
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import httpx
import pytest

from e2e import kube as k
from e2e.test_google import SCOPES, google_objects
from nylas_operator.emulator.pipeline import key_id

pytestmark = pytest.mark.cluster

RELISTED = "Secrets re-listed after the watch expired"


def gap(operator: Any, control_plane: Any, kubectl: k.Kubectl, namespace: str, change: Any) -> None:
    """Stop the operator, restart the apiserver (the operator's watch connections end before
    any event of the gap reaches them), ``change()``, forget the history, continue."""
    os.kill(operator.proc.pid, signal.SIGSTOP)
    try:
        control_plane.restart_apiserver()
        change()
        listed = json.loads(kubectl("get", "--raw", f"/api/v1/namespaces/{namespace}/secrets?limit=1"))
        revision = listed["metadata"]["resourceVersion"]
        compaction = httpx.post(
            f"{control_plane.etcd_url}/v3/kv/compaction",
            json={"revision": revision, "physical": True},
            timeout=10,
        )
        assert compaction.status_code == 200, compaction.text
    finally:
        os.kill(operator.proc.pid, signal.SIGCONT)


def connector_writes(emulator: Any, before: int) -> list[Any]:
    return [e for e in emulator.journal()[before:] if e.path == "/v3/connectors/google" and e.method != "GET"]


def test_rotation_during_a_watch_gap_reaches_nylas_and_a_label_change_does_not(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any, control_plane: Any
) -> None:
    k.apply(kubectl, namespace, google_objects(emulator))
    k.wait_condition(kubectl, namespace, "nylasconnector", "google", "Ready")
    versions = k.get(kubectl, namespace, "nylasconnector", "google")["status"]["secretVersions"]  # type: ignore[index]

    before = len(emulator.journal())
    rotated = k.secret(k.AZURE_SECRET, {"clientSecret": "rotated-during-the-gap-e2e"})

    def change() -> None:
        kubectl("label", "-n", namespace, f"secret/{k.API_KEY_SECRET}", "team=mail")  # no data change
        k.apply(kubectl, namespace, [rotated])

    gap(operator, control_plane, kubectl, namespace, change)
    k.eventually(lambda: RELISTED in operator.logs(), timeout=60, what="the re-list after 410")
    writes = k.eventually(
        lambda: connector_writes(emulator, before), timeout=30, what="PATCH of the connector after the gap"
    )
    assert [(e.method, e.key_id) for e in writes] == [("PATCH", key_id(emulator.api_key))]
    new_versions = k.eventually(
        lambda: (
            (k.get(kubectl, namespace, "nylasconnector", "google") or {})["status"]["secretVersions"]
            != versions
            and k.get(kubectl, namespace, "nylasconnector", "google")["status"]["secretVersions"]
        ),  # type: ignore[index]
        timeout=15,
        what="the connector's secretVersions after the rotation",
    )
    changed = {key for key in versions if versions[key] != new_versions[key]}
    assert changed == {f"{k.AZURE_SECRET}/clientSecret"}


GRANTS_RELISTED = "the grant watch of"


def test_a_grant_deleted_during_a_watch_gap_releases_its_mailbox_after_the_relist(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any, control_plane: Any
) -> None:
    """Grants have their own watch (``informer.py``): after a 410 it lists them again and forgets
    a grant that vanished in the gap as if the watch had said so, so the grant waiting for the
    same mailbox (``Conflict``) goes on at once instead of at its next safety recheck."""
    k.apply(kubectl, namespace, google_objects(emulator))
    k.wait_condition(kubectl, namespace, "serviceaccountgrant", "dana", "Ready", timeout=60)
    k.apply(kubectl, namespace, [k.grant("dana-again", "workspace", "dana@acme.example", scopes=SCOPES)])
    k.wait_condition(
        kubectl, namespace, "serviceaccountgrant", "dana-again", "Ready", "False", reason="Conflict"
    )

    def change() -> None:
        kubectl("delete", "-n", namespace, "serviceaccountgrant/dana", "--wait=true")  # Orphan: no finalizer

    gap(operator, control_plane, kubectl, namespace, change)
    # The apiserver's restart ends the watch (a dropped connection or a 410 on resume): either way
    # the grants are listed again.
    k.eventually(lambda: GRANTS_RELISTED in operator.logs(), timeout=60, what="the grant re-list")
    ready = k.wait_condition(kubectl, namespace, "serviceaccountgrant", "dana-again", "Ready", timeout=60)
    assert ready["status"]["grantId"], ready["status"]
    creates = [e for e in emulator.journal() if e.path == "/v3/connect/custom" and e.method == "POST"]
    assert len(creates) <= 2  # adopted or re-created once, never more
