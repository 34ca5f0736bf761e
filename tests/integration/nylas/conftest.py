"""Fixtures of the Nylas client's contract tests: the emulator over a real socket, no transport mocks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from nylas_contract import FAST_RETRY, MakeClient

from nylas_operator.emulator.harness import RunningEmulator
from nylas_operator.nylas import LimiterRegistry, NylasClient, NylasSettings, RetryPolicy


@pytest.fixture
def emu(shared_emulator: RunningEmulator) -> Iterator[RunningEmulator]:
    """A reset emulator; faults are cleared again afterwards so the next user starts clean."""
    yield shared_emulator
    shared_emulator.clear_faults()


@pytest.fixture
async def make_client(emu: RunningEmulator) -> AsyncIterator[MakeClient]:
    made: list[NylasClient] = []

    def make(
        *,
        api_key: str | None = None,
        retry: RetryPolicy = FAST_RETRY,
        rate: float = 1000.0,
        burst: int = 100,
        registry: LimiterRegistry | None = None,
        **kwargs: Any,
    ) -> NylasClient:
        client = NylasClient(
            emu.api_key if api_key is None else api_key,
            api_url=kwargs.pop("api_url", emu.url),
            application_id=kwargs.pop("application_id", emu.application_id),
            settings=NylasSettings(retry=retry, rate=rate, burst=burst),
            registry=registry if registry is not None else LimiterRegistry(),
            **kwargs,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
async def client(make_client: MakeClient) -> NylasClient:
    return make_client()
