"""Durations and the checked string types shared by the three kinds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from nylas_operator.api.common import DnsName, Duration, Email, cel_quote, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m", timedelta(minutes=5)),
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1.5h", timedelta(minutes=90)),
        ("250ms", timedelta(milliseconds=250)),
        ("2m30s500ms", timedelta(minutes=2, seconds=30, milliseconds=500)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "5 m", "-5m", "5d", "m5", "1h 30m", "5min"])
def test_parse_duration_rejects_other_shapes(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("type_", "good", "bad"),
    [
        (DnsName, ["a", "nylas-key", "a.b-c.d"], ["A", "-a", "a-", "ns/name", "a_b", ""]),
        (Duration, ["5m", "1h30m"], ["5", "five minutes"]),
        (Email, ["a@b.co", "first.last+tag@example.org"], ["ab.co", "a@b", "a b@c.d", "@b.co"]),
    ],
)
def test_checked_strings_validate_in_python_too(type_: Any, good: list[str], bad: list[str]) -> None:
    adapter: TypeAdapter[str] = TypeAdapter(type_)
    for value in good:
        assert adapter.validate_python(value) == value
    for value in bad:
        with pytest.raises(ValidationError):
            adapter.validate_python(value)


def test_cel_quote_escapes_backslashes_and_quotes() -> None:
    assert cel_quote(r"^a\.b'c$") == r"'^a\\.b\'c$'"
