"""Drift (scenario 14 of issue 4): Nylas changed behind the operator's back is reported and repaired.

With 20 Ready grants, one grant is deleted and another marked invalid through the emulator's control
API. Within the (short, configurable) drift interval both are reported ``Degraded`` with a precise
reason and repaired: the missing one re-created, the invalid one re-authenticated, both Ready again.
The drift check pages ``GET /v3/grants``: no ``GET /v3/grants/{id}`` per object.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from e2e import kube as k
from e2e.test_google import SCOPES, google_objects

pytestmark = pytest.mark.cluster

COUNT = 20
DRIFT_INTERVAL = 3.0  # seconds; the loop waits interval * (1 ± 0.2)
WATCH_TEMPLATE = '{.metadata.name} {.status.phase} {.status.conditions[?(@.type=="Ready")].reason}'


def many_grants(emu: Any) -> list[dict[str, Any]]:
    objects = [o for o in google_objects(emu) if o["kind"] != "ServiceAccountGrant"]
    return objects + [
        k.grant(f"user-{i}", "workspace", f"user{i}@acme.example", scopes=SCOPES) for i in range(COUNT)
    ]


def drift_lists(emu: Any, after: int) -> list[Any]:
    """The drift loop's pages: ``GET /v3/grants`` without an email filter (lookups have one)."""
    return [
        e
        for e in emu.journal(after=after)
        if e.method == "GET" and e.path == "/v3/grants" and "email" not in e.query
    ]


def gets_by_id(emu: Any, after: int) -> list[Any]:
    return [e for e in emu.journal(after=after) if e.method == "GET" and e.path.startswith("/v3/grants/")]


def statuses(kubectl: k.Kubectl, ns: str) -> dict[str, dict[str, Any]]:
    return {g["metadata"]["name"]: g.get("status") or {} for g in k.items(kubectl, ns, "serviceaccountgrant")}


def all_ready(kubectl: k.Kubectl, ns: str) -> dict[str, dict[str, Any]] | None:
    found = statuses(kubectl, ns)
    ok = len(found) == COUNT and all(s.get("phase") == "Ready" for s in found.values())
    return found if ok else None


def test_deleted_and_invalid_grants_are_reported_and_repaired_with_list_calls(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator_factory: Any
) -> None:
    operator_factory(namespace, drift_interval=f"{DRIFT_INTERVAL}s")
    k.apply(kubectl, namespace, many_grants(emulator))
    before = k.eventually(lambda: all_ready(kubectl, namespace), timeout=90, what=f"{COUNT} Ready grants")

    # Steady state: every drift pass is one list call (20 grants fit one page), no GET per grant.
    seq = emulator.journal()[-1].seq
    k.eventually(
        lambda: len(drift_lists(emulator, seq)) >= 2, timeout=4 * DRIFT_INTERVAL, what="two drift passes"
    )
    assert gets_by_id(emulator, seq) == []

    gone, broken = "user-3", "user-7"
    seq = emulator.journal()[-1].seq
    with k.watch(namespace, "serviceaccountgrant", WATCH_TEMPLATE) as seen:
        emulator.delete_grant(before[gone]["grantId"])
        emulator.invalidate_grant(before[broken]["grantId"])
        injected = time.monotonic()

        def repaired() -> dict[str, dict[str, Any]] | None:
            now = all_ready(kubectl, namespace)
            if (
                now
                and now[gone]["grantId"] != before[gone]["grantId"]
                and now[broken].get("grantStatus") == "valid"
            ):
                return now
            return None

        after = k.eventually(repaired, timeout=4 * DRIFT_INTERVAL + 10, what="both grants repaired")
        took = time.monotonic() - injected
    assert took < 2 * DRIFT_INTERVAL + 8, f"repair took {took:.1f}s"
    print(  # measured numbers, shown with -s
        f"drift: repaired in {took:.1f}s; {len(drift_lists(emulator, seq))} list calls, "
        f"{len(gets_by_id(emulator, seq))} GET /v3/grants/{{id}} for {COUNT} grants"
    )
    assert f"{gone} Degraded GrantMissing" in seen, seen
    assert f"{broken} Degraded GrantInvalid" in seen, seen
    assert after[broken]["grantId"] == before[broken]["grantId"]  # re-authenticated, same grant

    # The repair looked at the two drifted grants only; finding them took list calls.
    assert drift_lists(emulator, seq)
    assert {e.path for e in gets_by_id(emulator, seq)} <= {
        f"/v3/grants/{before[n]['grantId']}" for n in (gone, broken)
    }
    custom = [e for e in emulator.journal(after=seq) if e.method == "POST" and e.path == "/v3/connect/custom"]
    assert sorted(e.email for e in custom) == [f"user{n}@acme.example" for n in (3, 7)]
    grants = {g["email"]: g for g in emulator.state()["grants"]}
    assert len(grants) == COUNT and all(g["grant_status"] == "valid" for g in grants.values())
    unchanged = [n for n in before if n not in (gone, broken)]
    assert all(after[n]["grantId"] == before[n]["grantId"] for n in unchanged)

    def warnings() -> set[tuple[str, str]]:
        return {
            (e["involvedObject"]["name"], e["reason"])
            for e in k.events(kubectl, namespace)
            if e["type"] == "Warning"
        }

    k.eventually(  # events are posted in the background
        lambda: {(gone, "GrantMissing"), (broken, "GrantInvalid")} <= warnings(),
        timeout=20,
        what="the GrantMissing and GrantInvalid warnings",
    )
