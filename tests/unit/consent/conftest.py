from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from consent_fakes import FakeRecorder

from nylas_operator.consent.callback import make_callback_app
from nylas_operator.observability.serving import RunningSite, start_site


@pytest.fixture
def recorder() -> FakeRecorder:
    return FakeRecorder()


@pytest.fixture
async def callback_site(recorder: FakeRecorder) -> AsyncIterator[RunningSite]:
    site = await start_site(make_callback_app(recorder))
    try:
        yield site
    finally:
        await site.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session
