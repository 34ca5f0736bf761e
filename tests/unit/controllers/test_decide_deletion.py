"""Decision table of a failing Nylas delete (pure; a fake clock and fixed dice, no cluster).

A failed delete keeps the finalizer and retries: the backoff doubles from ``--min-retry-delay``
to ``--max-retry-delay`` and is jittered; the condition says the error's class, the attempt and
the next try, never the error's text; a reminder event goes out every tenth attempt only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nylas_operator.api import conditions as c
from nylas_operator.controllers import decide_deletion as d
from nylas_operator.settings import RetrySettings

NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
SETTINGS = RetrySettings(min_delay=timedelta(seconds=5), max_delay=timedelta(minutes=5), jitter=0.3)


def top(n: int) -> float:  # the dice's highest roll: no jitter taken off
    return d.delay_after(n, SETTINGS, rng=lambda: 1.0)


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0), (5, 80.0), (6, 160.0), (7, 300.0), (8, 300.0), (500, 300.0)],
)
def test_backoff_doubles_from_the_first_delay_up_to_the_cap(failures: int, seconds: float) -> None:
    assert top(failures) == seconds


def test_backoff_never_below_the_floor_of_its_jitter_and_never_zero() -> None:
    assert d.delay_after(1, SETTINGS, rng=lambda: 0.0) == pytest.approx(3.5)  # 5 s * (1 - 0.3)
    assert d.delay_after(0, SETTINGS, rng=lambda: 0.0) == pytest.approx(3.5)  # no hot loop
    assert d.delay_after(50, SETTINGS, rng=lambda: 0.0) == pytest.approx(210.0)
    cap = RetrySettings(min_delay=timedelta(seconds=5), max_delay=timedelta(minutes=10), jitter=0.0)
    assert d.delay_after(8, cap) == 600.0


@pytest.mark.parametrize(
    ("previous", "attempts", "delay", "next_at", "event"),
    [
        (0, 1, 5.0, "2030-01-01T12:00:05Z", False),  # the first failure's event is Ready's transition
        (1, 2, 10.0, "2030-01-01T12:00:10Z", False),
        (8, 9, 300.0, "2030-01-01T12:05:00Z", False),
        (9, 10, 300.0, "2030-01-01T12:05:00Z", True),
        (10, 11, 300.0, "2030-01-01T12:05:00Z", False),
        (19, 20, 300.0, "2030-01-01T12:05:00Z", True),
        (-3, 1, 5.0, "2030-01-01T12:00:05Z", False),  # a forged negative count starts over
    ],
)
def test_after_failure_counts_the_attempt_and_says_when_the_next_one_is(
    previous: int, attempts: int, delay: float, next_at: str, event: bool
) -> None:
    error = d.error_class("NylasServerError", 503)
    retry = d.after_failure("grant", error, previous, NOW, SETTINGS, rng=lambda: 1.0)
    assert (retry.attempts, retry.delay) == (attempts, delay)
    assert retry.message.startswith("deleting the Nylas grant failed: NylasServerError (HTTP 503);")
    assert f"attempt {attempts}, next try at {next_at}" in retry.message
    assert "deletionPolicy: Orphan" in retry.message
    assert (retry.event is not None) == event
    if retry.event is not None:
        assert f"failed {attempts} time(s), last with NylasServerError (HTTP 503)" in retry.event


def test_the_error_is_named_by_class_and_status_only() -> None:
    assert d.error_class("NylasTransportError", None) == "NylasTransportError"
    assert d.error_class("NylasUnauthorizedError", 401) == "NylasUnauthorizedError (HTTP 401)"


def test_messages_are_capped_and_printable() -> None:
    error = "Weird\nError" + "x" * 1000
    retry = d.after_failure("connector", error, 9, NOW, SETTINGS, rng=lambda: 1.0)
    assert len(retry.message) <= d.MESSAGE_LIMIT and "\n" not in retry.message
    assert retry.event is not None and len(retry.event) <= d.MESSAGE_LIMIT
    assert retry.message.endswith("…")


def test_the_next_try_in_the_message_is_the_delay_chosen() -> None:
    retry = d.after_failure("credential", "NylasServerError (HTTP 500)", 2, NOW, SETTINGS, rng=lambda: 0.5)
    assert retry.delay == pytest.approx(20.0 * 0.85)
    assert c.now_rfc3339(NOW + timedelta(seconds=retry.delay)) in retry.message
