"""Crash safety (scenario 12): a grant created in Nylas whose status write was lost is found by
email on the next run, never created twice.

The crash is reproduced as the state it leaves (operator killed, ``createStartedAt`` written, the
grant id never recorded): the emulator cannot yet fail one endpoint only, and killing the operator
mid-request makes the emulator drop the request instead of applying it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from e2e import kube as k
from e2e.test_google import google_objects

pytestmark = pytest.mark.cluster


def test_lost_status_write_heals_by_lookup(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, google_objects(emulator))
    created = k.wait_condition(kubectl, namespace, "serviceaccountgrant", "dana", "Ready", timeout=60)
    operator.kill()
    lost = {
        "status": {
            "grantId": None,
            "grantStatus": None,
            "phase": "Creating",
            "createStartedAt": created["metadata"]["creationTimestamp"],
        }
    }
    kubectl(
        "patch",
        "-n",
        namespace,
        "serviceaccountgrant/dana",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(lost),
    )
    before = len(emulator.journal())
    operator.start()
    ready = k.eventually(
        lambda: (
            (g := k.get(kubectl, namespace, "serviceaccountgrant", "dana"))
            and g["status"].get("grantId")
            and g
        ),
        timeout=60,
        what="the grant id recovered",
    )
    (only,) = emulator.state()["grants"]
    assert ready["status"]["grantId"] == only["id"] == created["status"]["grantId"]
    assert "createStartedAt" not in ready["status"]
    after = emulator.journal()[before:]
    assert not [e for e in after if e.path == "/v3/connect/custom"], "found by email, not created again"
    assert [e for e in after if e.path == "/v3/grants" and e.method == "GET"]
