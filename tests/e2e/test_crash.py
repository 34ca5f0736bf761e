"""Crash safety (scenario 12), for real: the operator is SIGKILLed after Nylas applied a create but
before the answer (and so the status write) arrived; the next run finds the object in Nylas by its
natural key (provider, deterministic credential name, email) instead of creating a twin.

The emulator applies the create and then holds its answer (an endpoint-scoped ``hold_after``
fault), so the kill lands exactly between "created in Nylas" and "id written to status".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from e2e import kube as k
from e2e.test_google import google_objects
from nylas_operator.settings import NylasSettings

pytestmark = pytest.mark.cluster

EMAIL = "dana@acme.example"
HOLD_SECONDS = 120.0  # far longer than the test needs: the answer never arrives before the kill


@dataclass(frozen=True)
class CrashPoint:
    kind: str
    name: str
    method: str
    path: str  # glob, as the emulator's fault rule takes it
    id_field: str | None  # the status field the lost answer would have filled (connectors: none)
    in_nylas: Callable[[dict[str, Any], str], list[dict[str, Any]]]  # (emulator state, namespace)


CRASH_POINTS = [
    CrashPoint(
        "nylasconnector",
        "google",
        "POST",
        "/v3/connectors",
        None,
        lambda state, ns: [c for c in state["connectors"] if c["provider"] == "google"],
    ),
    CrashPoint(
        "nylascredential",
        "workspace",
        "POST",
        "/v3/connectors/*/creds",
        "credentialId",
        lambda state, ns: [c for c in state["credentials"] if c["name"] == f"k8s:{ns}/workspace"],
    ),
    CrashPoint(
        "serviceaccountgrant",
        "dana",
        "POST",
        "/v3/connect/custom",
        "grantId",
        lambda state, ns: [g for g in state["grants"] if g["email"] == EMAIL],
    ),
]


def _matches(point: CrashPoint, entry: Any) -> bool:
    if entry.method != point.method:
        return False
    if point.path.endswith("/creds"):
        return entry.path.startswith("/v3/connectors/") and entry.path.endswith("/creds")
    return bool(entry.path == point.path)


@pytest.mark.parametrize("point", CRASH_POINTS, ids=[p.kind for p in CRASH_POINTS])
def test_kill_between_nylas_create_and_status_write_finds_instead_of_twinning(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any, point: CrashPoint
) -> None:
    emulator.hold_after(point.method, point.path, HOLD_SECONDS)
    k.apply(kubectl, namespace, google_objects(emulator))
    k.eventually(
        lambda: point.in_nylas(emulator.state(), namespace),
        timeout=60,
        what=f"the {point.kind} created in the emulator (its answer held)",
    )
    operator.kill()  # SIGKILL: no graceful stop, no status write
    held = [e for e in emulator.journal() if e.fault == "hold_after"]
    assert len(held) == 1 and _matches(point, held[0])
    lost = k.get(kubectl, namespace, point.kind, point.name)
    assert lost is not None and (k.condition(lost, "Ready") or {}).get("status") != "True"
    if point.id_field:
        assert not (lost.get("status") or {}).get(point.id_field), "the id never reached status"
    before = max(e.seq for e in emulator.journal())

    operator.start()
    ready = k.wait_condition(kubectl, namespace, "serviceaccountgrant", "dana", "Ready", timeout=60)
    state = emulator.state()
    (only,) = point.in_nylas(state, namespace)  # exactly one: found, not created again
    assert len(state["connectors"]) == 1
    assert [c["name"] for c in state["credentials"]] == [f"k8s:{namespace}/workspace"]
    assert [g["email"] for g in state["grants"]] == [EMAIL]
    after = emulator.journal(after=before)
    assert not [e for e in after if _matches(point, e)], "the restarted operator must not create again"
    healed = k.get(kubectl, namespace, point.kind, point.name)
    assert healed is not None
    if point.kind == "serviceaccountgrant":
        assert ready["status"]["grantId"] == only["id"]
        assert [e for e in after if e.method == "GET" and e.path == "/v3/grants"], "looked up by email"
    elif point.kind == "nylascredential":
        assert healed["status"]["credentialId"] == only["id"]
        assert ready["status"]["credentialId"] == only["id"]
    else:
        assert k.condition(healed, "Ready")["status"] == "True"  # type: ignore[index]


def test_a_lost_create_answer_is_looked_up_before_trying_again(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    """No kill this time: every attempt of the client's retries is applied and its answer lost.
    The next reconcile in the same process looks the mailbox up by email and adopts the grant
    instead of posting once more (without a status write before the create)."""
    attempts = NylasSettings.max_attempts  # the operator's Nylas client: attempts per call
    emulator.set_faults(
        rules=[{"method": "POST", "path": "/v3/connect/custom", "kind": "drop_after", "times": attempts}]
    )
    before = max((e.seq for e in emulator.journal()), default=0)
    k.apply(kubectl, namespace, google_objects(emulator))
    ready = k.wait_condition(kubectl, namespace, "serviceaccountgrant", "dana", "Ready", timeout=90)
    journal = emulator.journal(after=before)
    posts = [e for e in journal if e.method == "POST" and e.path == "/v3/connect/custom"]
    assert [e.fault for e in posts] == ["drop_after"] * attempts, "every answer was lost, none retried after"
    lookups = [e for e in journal if e.method == "GET" and e.path == "/v3/grants" and e.query.get("email")]
    assert lookups and lookups[-1].seq > posts[-1].seq, "looked up by email after the lost answers"
    (only,) = [g for g in emulator.state()["grants"] if g["email"] == EMAIL]
    assert ready["status"]["grantId"] == only["id"]
