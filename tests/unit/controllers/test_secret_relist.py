"""What a re-list of Secrets' metadata after a 410 decides (pure; no Kubernetes)."""

from __future__ import annotations

import pytest

from nylas_operator.controllers.secrets_watch import Relist, compare

A, B, C = ("ns", "a"), ("ns", "b"), ("ns", "c")


@pytest.mark.parametrize(
    ("cached", "listed", "referenced", "expected"),
    [
        pytest.param({A: "5"}, {A: "5"}, [A], Relist(), id="unchanged: nothing"),
        pytest.param({A: "5"}, {A: "9"}, [A], Relist(reread=[A]), id="new version: read again"),
        pytest.param({A: "5"}, {}, [A], Relist(gone=[A]), id="deleted during the gap"),
        pytest.param({}, {A: "5"}, [A], Relist(appeared=[A]), id="created during the gap"),
        pytest.param({}, {}, [A], Relist(), id="still missing"),
        pytest.param(
            {A: "1", B: "2"},
            {A: "1", B: "3", C: "4"},
            [A, B, C],
            Relist(reread=[B], appeared=[C]),
            id="mixed",
        ),
        pytest.param({A: "1"}, {A: "2"}, [], Relist(reread=[A]), id="cached, no longer referenced"),
    ],
)
def test_relist_compares_with_what_was_read(
    cached: dict[tuple[str, str], str],
    listed: dict[tuple[str, str], str],
    referenced: list[tuple[str, str]],
    expected: Relist,
) -> None:
    assert compare(cached, listed, referenced) == expected
