"""The Argo CD health Lua, run in Lua 5.1 against many status objects (hand-made and captured)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from unit.argocd.argocd_lua import CAPTURED_DIR, HEALTH_LUA, KINDS, evaluate, expected_health, load_captured


def obj(
    kind: str = "ServiceAccountGrant", *, generation: int = 2, status: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "nylas-operator.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "x", "namespace": "ns", "generation": generation},
        "spec": {},
    }
    if status is not None:
        body["status"] = status
    return body


def ready(status: str, reason: str, message: str = "", generation: int = 2) -> dict[str, Any]:
    return {
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": "2025-01-01T00:00:00Z",
    }


def st(phase: str | None, *conds: dict[str, Any], observed: int | None = 2, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"conditions": list(conds), **extra}
    if phase is not None:
        out["phase"] = phase
    if observed is not None:
        out["observedGeneration"] = observed
    return out


CASES = [
    # (id, status, expected health, text expected in the message)
    ("no-status", None, "Progressing", "report status"),
    ("empty-status", {}, "Progressing", ""),
    (
        "stale-ready",
        st("Ready", ready("True", "Available", generation=1), observed=1),
        "Progressing",
        "generation 2",
    ),
    (
        "no-observed-generation",
        st("Ready", {"type": "Ready", "status": "True", "reason": "Available"}, observed=None),
        "Progressing",
        "generation 2",
    ),
    (
        "observed-from-condition",
        st("Ready", ready("True", "Available", "grant is valid"), observed=None),
        "Healthy",
        "grant is valid",
    ),
    (
        "ready",
        st("Ready", ready("True", "Available", "grant is valid")),
        "Healthy",
        "Available: grant is valid",
    ),
    ("ready-newer-observed", st("Ready", ready("True", "Available"), observed=3), "Healthy", "Available"),
    (
        "pending-secret",
        st("Pending", ready("False", "SecretNotFound", "Secret api-key not found")),
        "Progressing",
        "SecretNotFound",
    ),
    ("pending-no-conditions", st("Pending"), "Progressing", "Pending"),
    (
        "pending-parent-not-ready",
        st("Pending", ready("False", "CredentialNotReady", "waiting")),
        "Progressing",
        "waiting",
    ),
    (
        "awaiting-consent",
        st(
            "AwaitingConsent",
            ready("False", "AwaitingConsent", "open the URL"),
            consentUrl="https://api.us.nylas.com/v3/connect/auth?state=SECRET",
        ),
        "Suspended",
        "consent",
    ),
    ("awaiting-consent-by-reason", st(None, ready("False", "AwaitingConsent")), "Suspended", "consent"),
    (
        "settling",
        st(
            "ConsentSettling",
            ready("False", "ConsentSettling", "eligible at 12:05"),
            eligibleAt="2025-01-01T12:05:00Z",
        ),
        "Progressing",
        "eligible at",
    ),
    ("creating", st("Creating", ready("False", "Creating")), "Progressing", "Creating"),
    ("deleting", st("Deleting", ready("False", "InUse", "2 grants use it")), "Progressing", "InUse"),
    ("paused", st("Paused", ready("True", "Available")), "Suspended", "paused"),
    (
        "failed",
        st("Failed", ready("False", "ScopesRequired", "Google grants need scopes")),
        "Degraded",
        "ScopesRequired",
    ),
    ("failed-no-condition", st("Failed"), "Degraded", "Failed"),
    (
        "degraded-drift",
        st("Degraded", ready("False", "GrantInvalid", "grant_status is invalid")),
        "Degraded",
        "GrantInvalid",
    ),
    ("conflict", st(None, ready("False", "Conflict", "another object owns it")), "Degraded", "Conflict"),
    ("unauthorized", st("Pending", ready("False", "Unauthorized", "401 from region us")), "Degraded", "401"),
    ("rate-limited", st("Creating", ready("False", "RateLimited", "429")), "Progressing", "429"),
    ("nylas-down", st("Ready", ready("False", "NylasUnavailable", "503")), "Progressing", "503"),
    ("ready-unknown", st("Creating", {**ready("Unknown", "Creating")}), "Progressing", "Creating"),
    ("unknown-phase", st("SomethingNew", ready("False", "Whatever")), "Progressing", "Whatever"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("status", "expected", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_health_of_hand_made_objects(
    kind: str, status: dict[str, Any] | None, expected: str, text: str
) -> None:
    health = evaluate(obj(kind, status=copy.deepcopy(status)))
    assert health.status == expected, health
    assert text.lower() in health.message.lower()


def test_the_consent_url_never_reaches_argo_cd() -> None:
    # The URL carries the state token; the message points at the field instead of copying it.
    status = st(
        "AwaitingConsent", ready("False", "AwaitingConsent"), consentUrl="https://x/auth?state=SECRET"
    )
    health = evaluate(obj("NylasCredential", status=status))
    assert "SECRET" not in health.message
    assert "status.consentUrl of this object" in health.message


def test_a_waiting_grant_points_at_its_credential() -> None:
    body = obj(status=st("AwaitingConsent", ready("False", "AwaitingConsent")))
    body["spec"] = {"credentialRef": {"name": "contoso"}}
    health = evaluate(body)
    assert health.status == "Suspended"
    assert "status.consentUrl of NylasCredential contoso" in health.message
    del body["spec"]["credentialRef"]
    assert "of its NylasCredential" in evaluate(body).message


def test_an_object_without_metadata_generation_is_judged_by_its_status() -> None:
    body = obj(status=st("Ready", ready("True", "Available")))
    del body["metadata"]["generation"]
    assert evaluate(body).status == "Healthy"


def test_the_script_defines_no_globals() -> None:
    # gopher-lua shares one state per call; a leaked global would leak between objects.
    guard = "setmetatable(_G, {__newindex = function(_, k) error('global ' .. tostring(k)) end})\n"
    health = evaluate(obj(status=st("Ready", ready("True", "Available"))), guard + HEALTH_LUA.read_text())
    assert health.status == "Healthy"


def test_the_contract_oracle_agrees_with_the_table_above() -> None:
    # expected_health judges captured objects; prove it says what the hand-made table says
    # wherever it claims to know (it raises for what only the Lua table covers).
    judged = 0
    for _, status, expected, _ in CASES:
        try:
            verdict = expected_health(obj(status=copy.deepcopy(status)))
        except ValueError:
            continue
        judged += 1
        assert verdict == expected, status
    assert judged >= 15


def test_captured_objects(tmp_path: Any) -> None:
    captured = list(load_captured())
    for item in captured:
        assert evaluate(item.obj).status == item.expected, item.name
    # The loader itself: both file shapes.
    (tmp_path / "a.json").write_text(
        '{"expected": "Suspended", "object": {"metadata": {"generation": 1}, '
        '"status": {"phase": "AwaitingConsent", "observedGeneration": 1}}}'
    )
    (tmp_path / "b.json").write_text(
        '{"metadata": {"generation": 1}, "status": {"phase": "Ready", '
        '"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True", '
        '"reason": "Available"}]}}'
    )
    loaded = {c.name: c for c in load_captured(tmp_path)}
    assert loaded["a"].expected == "Suspended"
    assert loaded["b"].expected == "Healthy"
    assert all(evaluate(c.obj).status == c.expected for c in loaded.values())
    if not captured:
        pytest.skip(f"no captured objects in {CAPTURED_DIR} yet (written by the live Argo CD test)")
