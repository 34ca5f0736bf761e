"""set_condition and friends: merge by type, keep lastTransitionTime unless the status flips."""

from __future__ import annotations

from datetime import UTC, datetime

from nylas_operator.api.conditions import (
    MAX_MESSAGE,
    cap_message,
    find_condition,
    is_true,
    make_condition,
    now_rfc3339,
    parse_rfc3339,
    set_condition,
    set_conditions,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
T1 = datetime(2026, 1, 2, 4, 0, 0, tzinfo=UTC)


def test_make_condition_maps_booleans_and_generation() -> None:
    assert make_condition("Ready", True, "Available", "ok", generation=4) == {
        "type": "Ready",
        "status": "True",
        "reason": "Available",
        "message": "ok",
        "observedGeneration": 4,
    }
    assert make_condition("Ready", False, "Pending")["status"] == "False"
    assert make_condition("Ready", "Unknown", "Pending")["status"] == "Unknown"
    assert "observedGeneration" not in make_condition("Ready", True, "Available")


def test_new_condition_is_appended_with_a_transition_time() -> None:
    synced = make_condition("Synced", True, "ReconcileSuccess")
    result = set_condition([synced], make_condition("Ready", False, "Pending"), now=T0)
    assert [c["type"] for c in result] == ["Synced", "Ready"]
    assert result[1]["lastTransitionTime"] == "2026-01-02T03:04:05Z"
    assert result[0] == synced


def test_same_status_keeps_the_transition_time_but_takes_the_new_reason() -> None:
    first = set_condition([], make_condition("Ready", False, "Pending"), now=T0)
    second = set_condition(first, make_condition("Ready", False, "AwaitingConsent", "open the URL"), now=T1)
    assert second[0]["lastTransitionTime"] == "2026-01-02T03:04:05Z"
    assert (second[0]["reason"], second[0]["message"]) == ("AwaitingConsent", "open the URL")


def test_flipped_status_moves_the_transition_time() -> None:
    first = set_condition([], make_condition("Ready", False, "Pending"), now=T0)
    second = set_condition(first, make_condition("Ready", True, "Available"), now=T1)
    assert second[0]["lastTransitionTime"] == "2026-01-02T04:00:00Z"


def test_identical_condition_returns_an_equal_list_and_inputs_are_not_mutated() -> None:
    first = set_condition([], make_condition("Ready", True, "Available", generation=2), now=T0)
    snapshot = [dict(c) for c in first]
    again = set_condition(first, make_condition("Ready", True, "Available", generation=2), now=T1)
    assert again == first
    assert first == snapshot
    assert again is not first


def test_set_conditions_applies_in_order() -> None:
    result = set_conditions(
        [],
        [
            make_condition("Ready", False, "Pending"),
            make_condition("Synced", True, "ReconcileSuccess"),
            make_condition("Ready", True, "Available"),
        ],
        now=T0,
    )
    assert [(c["type"], c["status"]) for c in result] == [("Ready", "True"), ("Synced", "True")]


def test_find_and_is_true() -> None:
    conditions = [
        make_condition("Ready", True, "Available"),
        make_condition("Synced", False, "ReconcileError"),
    ]
    assert find_condition(conditions, "Synced") == conditions[1]
    assert find_condition(conditions, "Missing") is None
    assert find_condition(None, "Ready") is None
    assert is_true(conditions, "Ready")
    assert not is_true(conditions, "Synced")
    assert not is_true(None, "Ready")


def test_rfc3339_round_trip() -> None:
    text = now_rfc3339(T0)
    assert text == "2026-01-02T03:04:05Z"
    assert parse_rfc3339(text) == T0.replace(microsecond=0)


def test_condition_messages_are_capped_and_single_line() -> None:
    huge = "x" * 100_000
    cond = make_condition("Ready", False, "NylasRejected", huge)
    assert len(cond["message"]) == MAX_MESSAGE and cond["message"].endswith("…")
    assert make_condition("Ready", True, "Available", "fine")["message"] == "fine"
    assert cap_message("a\nb\x1b[31mc") == "a b [31mc"
    assert cap_message("y" * MAX_MESSAGE) == "y" * MAX_MESSAGE  # exactly the cap is not cut
