"""Fixtures of the Nylas client's unit tests (helpers live in nylas_mock.py)."""

from __future__ import annotations

from typing import Any

import pytest
from nylas_mock import FakeClock, Recorder, make_client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(recorder: Recorder, clock: FakeClock) -> Any:
    async with make_client(recorder, clock) as c:
        yield c
