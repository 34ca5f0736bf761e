"""kstatus conventions: Reconciling / Stalled derived from Ready and the phase, judged by kstatus itself.

The verdicts come from sigs.k8s.io/cli-utils/pkg/kstatus/status (the code Flux and kpt run), built
from the Go module proxy by tests/harness/gotools.py, on hand-made and on captured live statuses.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from harness import gotools
from nylas_operator.api import conditions as c
from nylas_operator.api.grant import ServiceAccountGrantStatus
from nylas_operator.controllers.status import Report
from unit.argocd.argocd_lua import HEALTH_LUA, load_captured
from unit.argocd.test_argocd_health import CASES, obj

T0 = datetime(2025, 1, 1, tzinfo=UTC)

# What each Argo CD health means to a kstatus reader. Suspended is the consent wait (a person must
# act: Failed, so a Flux health check says so at once) or a pause (nothing to do: Ready decides).
KSTATUS_OF_HEALTH = {"Healthy": "Current", "Progressing": "InProgress", "Degraded": "Failed"}
KSTATUS_EXCEPTIONS = {
    # kstatus cannot tell an object the operator has not reached yet from a finished one: with no
    # conditions and no observedGeneration it answers Current (cli-utils status.go, the fallback).
    # The operator writes both in its first reconcile.
    "no-status": "Current",
    "empty-status": "Current",
    # Without status.observedGeneration kstatus trusts Ready; the operator always writes it.
    "no-observed-generation": "Current",
    # kstatus requires observedGeneration == generation; the operator never writes a larger one.
    "ready-newer-observed": "InProgress",
    "awaiting-consent": "Failed",
    "awaiting-consent-by-reason": "Failed",
    "paused": "Current",
    # Nothing is derived without a Ready condition (the operator always writes one with a phase).
    "pending-no-conditions": "Current",
    "failed-no-condition": "Current",
}


def as_written(body: dict[str, Any]) -> dict[str, Any]:
    """The body with the conditions the operator now writes (Report.status_patch calls with_kstatus)."""
    out = copy.deepcopy(body)
    status = out.get("status")
    if status and "conditions" in status:
        status["conditions"] = c.with_kstatus(
            status["conditions"], phase=status.get("phase"), generation=status.get("observedGeneration")
        )
    return out


@pytest.mark.parametrize(
    ("phase", "ready", "expected"),
    [
        ("Ready", ("True", "Available"), None),
        (None, ("True", "Available"), None),
        ("Paused", ("True", "Available"), None),
        ("Paused", ("False", "SecretNotFound"), None),
        ("Pending", ("False", "SecretNotFound"), (c.RECONCILING, "SecretNotFound")),
        ("Pending", None, None),
        (None, None, None),
        ("Creating", ("Unknown", "Creating"), (c.RECONCILING, "Creating")),
        ("ConsentSettling", ("False", "ConsentSettling"), (c.RECONCILING, "ConsentSettling")),
        ("Ready", ("False", "NylasUnavailable"), (c.RECONCILING, "NylasUnavailable")),
        ("Creating", ("False", "RateLimited"), (c.RECONCILING, "RateLimited")),
        ("Deleting", ("False", "InUse"), (c.RECONCILING, "InUse")),
        ("Deleting", ("False", "DeleteFailed"), (c.RECONCILING, "DeleteFailed")),  # retried, no give-up
        ("AwaitingConsent", ("False", "AwaitingConsent"), (c.STALLED, "AwaitingConsent")),
        (None, ("False", "AwaitingConsent"), (c.STALLED, "AwaitingConsent")),
        ("Failed", ("False", "ScopesRequired"), (c.STALLED, "ScopesRequired")),
        ("Failed", None, None),
        ("Degraded", ("False", "GrantInvalid"), (c.STALLED, "GrantInvalid")),
        ("Pending", ("False", "Unauthorized"), (c.STALLED, "Unauthorized")),
        (None, ("False", "Conflict"), (c.STALLED, "Conflict")),
    ],
)
def test_which_kstatus_condition_holds(
    phase: str | None, ready: tuple[str, str] | None, expected: tuple[str, str] | None
) -> None:
    conds = [c.make_condition(c.READY, ready[0], ready[1], "why")] if ready else []
    verdict = c.kstatus_condition(conds, phase)
    assert (verdict[:2] if verdict else None) == expected
    if verdict and ready:
        assert verdict[2] == "why"  # Ready's message, so kstatus readers see the same text


def test_with_kstatus_keeps_the_transition_time_swaps_and_removes() -> None:
    waiting = [c.make_condition(c.READY, False, "Creating", "creating the grant", generation=1)]
    first = c.with_kstatus(waiting, phase="Creating", generation=1, now=T0)
    reconciling = c.find_condition(first, c.RECONCILING)
    assert reconciling is not None
    assert reconciling["status"] == "True"
    assert reconciling["lastTransitionTime"] == "2025-01-01T00:00:00Z"
    assert reconciling["observedGeneration"] == 1
    # Unchanged input later: an identical list, so the status write is skipped.
    assert c.with_kstatus(first, phase="Creating", generation=1, now=T0 + timedelta(hours=1)) == first
    # A new reason keeps the time of the still-True condition (it did not flip).
    settling = c.set_condition(first, c.make_condition(c.READY, False, "RateLimited", "429", generation=1))
    second = c.with_kstatus(settling, phase="Creating", generation=1, now=T0 + timedelta(hours=1))
    assert c.find_condition(second, c.RECONCILING) == {
        **reconciling,
        "reason": "RateLimited",
        "message": "429",
    }
    failed = c.with_kstatus(second, phase="Failed", generation=1, now=T0 + timedelta(hours=2))
    assert c.find_condition(failed, c.RECONCILING) is None
    stalled = c.find_condition(failed, c.STALLED)
    assert stalled is not None
    assert stalled["lastTransitionTime"] == "2025-01-01T02:00:00Z"
    ready = c.set_condition(failed, c.make_condition(c.READY, True, "Available", generation=1))
    done = c.with_kstatus(ready, phase="Ready", generation=1, now=T0 + timedelta(hours=3))
    assert [cond["type"] for cond in done] == [c.READY]


def test_the_report_writes_the_kstatus_conditions() -> None:
    body = {"metadata": {"name": "g", "namespace": "n", "generation": 3}, "status": {}}
    report = Report(body, T0, ServiceAccountGrantStatus)
    report.not_ready(
        c.Reason.AWAITING_CONSENT, "a tenant administrator must consent", phase=c.AWAITING_CONSENT
    )
    patch = report.status_patch()
    assert c.find_condition(patch["conditions"], c.STALLED) is not None
    assert c.find_condition(patch["conditions"], c.RECONCILING) is None
    later = Report({**body, "status": patch}, T0 + timedelta(minutes=5), ServiceAccountGrantStatus)
    later.ready("grant is valid")
    done = later.status_patch()
    assert {cond["type"] for cond in done["conditions"]} == {c.READY, c.SYNCED}


def test_the_terminal_reasons_are_the_health_luas() -> None:
    block = re.search(r"local terminal = \{(.*?)\n\}", HEALTH_LUA.read_text(), re.S)
    assert block is not None
    assert set(re.findall(r"(\w+) = true", block.group(1))) == set(c.TERMINAL_REASONS)


def test_kstatus_itself_on_hand_made_objects() -> None:
    bodies = [as_written(obj(status=copy.deepcopy(status))) for _, status, _, _ in CASES]
    verdicts = gotools.kstatus(bodies)
    for (case, _, health, _), body, verdict in zip(CASES, bodies, verdicts, strict=True):
        expected = KSTATUS_EXCEPTIONS.get(case, KSTATUS_OF_HEALTH.get(health))
        assert verdict.get("status") == expected, (case, body.get("status"), verdict)


def test_kstatus_itself_on_captured_live_objects() -> None:
    captured = list(load_captured())
    assert captured
    verdicts = gotools.kstatus([as_written(item.obj) for item in captured])
    for item, verdict in zip(captured, verdicts, strict=True):
        expected = "Failed" if item.expected == "Suspended" else KSTATUS_OF_HEALTH[item.expected]
        assert verdict.get("status") == expected, (item.name, verdict)
        if expected == "Failed":
            ready = c.find_condition(item.obj["status"]["conditions"], c.READY)
            assert verdict["message"] == (ready or {}).get("message")  # the operator's own words


def test_a_deleted_object_is_terminating_to_kstatus() -> None:
    body = as_written(obj(status={"phase": "Deleting", "observedGeneration": 2, "conditions": []}))
    body["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    [verdict] = gotools.kstatus([body])
    assert verdict["status"] == "Terminating"
