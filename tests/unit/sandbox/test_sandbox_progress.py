"""The sandbox's progress rows, consent URL extraction and readiness."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nylas_operator.sandbox import progress

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def obj(
    kind: str, name: str, status: dict[str, Any] | None = None, generation: int = 1, **spec: Any
) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": name, "namespace": "ns", "generation": generation},
        "spec": spec,
        "status": status or {},
    }


def ready(status: str = "True", generation: int | None = 1, **extra: Any) -> dict[str, Any]:
    condition: dict[str, Any] = {"type": "Ready", "status": status, "reason": "Ready", "message": ""}
    if generation is not None:
        condition["observedGeneration"] = generation
    return {"conditions": [condition], **extra}


def test_rows_are_ordered_by_kind_and_say_what_is_happening() -> None:
    objects = [
        obj(
            "ServiceAccountGrant", "alice", {"phase": "ConsentSettling", "eligibleAt": "2025-01-01T12:00:25Z"}
        ),
        obj("NylasCredential", "contoso", {"phase": "AwaitingConsent", "consentUrl": "http://x/auth"}),
        obj("NylasConnector", "microsoft", ready(phase="Ready")),
        {"kind": "ConfigMap", "metadata": {"name": "ignored"}},
        {"kind": "ServiceAccountGrant", "metadata": {"name": "not-seen-yet", "namespace": "ns"}},
    ]
    rows = progress.rows(objects, NOW)
    assert [(r.kind, r.name, r.phase) for r in rows] == [
        ("connector", "microsoft", "Ready"),
        ("credential", "contoso", "AwaitingConsent"),
        ("grant", "alice", "ConsentSettling"),
    ]
    assert "waiting for an administrator" in rows[1].detail
    assert "(in 25s)" in rows[2].detail
    assert rows[2].render(NOW).startswith("12:00:00 grant      ns/alice")
    assert progress.header().startswith("TIME     KIND       NAMESPACE/NAME")


def test_long_names_widen_the_name_column_so_columns_stay_apart() -> None:
    long = obj("NylasCredential", "example-workspace-" + "x" * 40, {"phase": "Pending"})
    (row,) = progress.rows([long], NOW)
    width = progress.name_width([row])
    assert width == len(row.qualified_name) + 2
    assert f"{row.qualified_name}  Pending" in row.render(NOW, width)
    assert progress.name_width([]) == progress.MIN_NAME_WIDTH


def test_a_ready_grant_shows_its_grant_id_and_email() -> None:
    (row,) = progress.rows(
        [obj("ServiceAccountGrant", "a", ready(phase="Ready", grantId="g-1"), email="a@x.io")], NOW
    )
    assert row.detail == "grant g-1 for a@x.io"


def test_only_changes_are_reported_and_a_countdown_is_not_a_change() -> None:
    settling = {"phase": "ConsentSettling", "eligibleAt": "2025-01-01T12:00:25Z"}
    first = progress.rows([obj("ServiceAccountGrant", "a", settling)], NOW)
    assert progress.changed({}, first) == first
    later = progress.rows(
        [obj("ServiceAccountGrant", "a", settling)], datetime(2025, 1, 1, 12, 0, 10, tzinfo=UTC)
    )
    assert progress.changed({r.key: r for r in first}, later) == []
    done = progress.rows([obj("ServiceAccountGrant", "a", ready(phase="Ready", grantId="g"))], NOW)
    assert [r.phase for r in progress.changed({r.key: r for r in first}, done)] == ["Ready"]


def test_consent_urls_are_found_once_and_only_while_waiting() -> None:
    waiting = obj(
        "NylasCredential",
        "contoso",
        {
            "phase": "AwaitingConsent",
            "consentUrl": "http://emu/auth?a",
            "consent": [
                {"consentUrl": "http://emu/auth?a"},
                {"consentUrl": "http://emu/auth?b"},
                {"consentUrl": "http://emu/auth?c", "grantedAt": "2025-01-01T11:00:00Z"},
            ],
        },
    )
    granted = obj("NylasCredential", "other", {"phase": "ConsentSettling", "consentUrl": "http://emu/auth?d"})
    found = progress.consent_requests([waiting, granted, obj("ServiceAccountGrant", "g")])
    assert [(r.credential, r.url) for r in found] == [
        ("contoso", "http://emu/auth?a"),
        ("contoso", "http://emu/auth?b"),
    ]


def test_grants_ready_counts_only_ready_for_the_current_generation() -> None:
    objects = [
        obj("ServiceAccountGrant", "a", ready()),
        obj("ServiceAccountGrant", "b", ready(generation=1), generation=2),  # stale
        obj("ServiceAccountGrant", "c", ready(status="False")),
        obj("ServiceAccountGrant", "d", ready(generation=None)),
        obj("NylasCredential", "x", ready()),
    ]
    assert progress.grants_ready(objects) == (2, 4)
    assert progress.grants_ready([]) == (0, 0)


def test_a_refused_consent_is_a_change_worth_a_row() -> None:
    waiting = {"phase": "AwaitingConsent", "consentUrl": "http://emu/auth?a"}
    denied = {
        "phase": "AwaitingConsent",
        "consentUrl": "http://emu/auth?b",
        "conditions": [{"type": "ConsentGranted", "status": "False", "reason": "ConsentDenied"}],
    }
    before = progress.rows([obj("NylasCredential", "c", waiting)], NOW)
    after = progress.rows([obj("NylasCredential", "c", denied)], NOW)
    (row,) = progress.changed({r.key: r for r in before}, after)
    assert "refused" in row.detail
