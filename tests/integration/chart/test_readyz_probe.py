"""The `helm test` hook's script (files/tests/readyz.py) against the operator's real /readyz.

No kubelet runs here, so the hook's pod never starts: its script runs as a process instead,
with the same arguments, against `make_health_app` served on loopback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from chart_tools import CHART

from nylas_operator.observability.health import HealthState, make_health_app
from nylas_operator.observability.serving import RunningSite, start_site

SCRIPT = (CHART / "files" / "tests" / "readyz.py").read_text()


async def probe(url: str, timeout: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCRIPT,
        url,
        timeout,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def health() -> AsyncIterator[tuple[HealthState, RunningSite, asyncio.Event]]:
    state = HealthState(canary=None)
    refused = asyncio.Event()  # set once /readyz has answered "not ready"
    app = make_health_app(state)

    @web.middleware
    async def watch(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        if response.status != 200:
            refused.set()
        return response

    app.middlewares.append(watch)
    site = await start_site(app, "127.0.0.1", 0)
    yield state, site, refused
    await site.close()


async def test_passes_once_the_operator_is_ready(
    health: tuple[HealthState, RunningSite, asyncio.Event],
) -> None:
    state, site, refused = health
    running = asyncio.create_task(probe(f"{site.url}/readyz", "30"))
    await asyncio.wait_for(refused.wait(), 30)  # told "not started": it keeps asking
    assert not running.done()
    state.mark_started()
    code, out, _ = await running
    assert code == 0
    assert '"status": "ok"' in out


async def test_fails_with_the_operator_s_reason(
    health: tuple[HealthState, RunningSite, asyncio.Event],
) -> None:
    _, site, _ = health
    code, _, err = await probe(f"{site.url}/readyz", "1")
    assert code == 1
    assert "not ready: 500" in err and "operator not started yet" in err


async def test_fails_when_nothing_answers() -> None:
    code, _, err = await probe("http://127.0.0.1:9/readyz", "1")
    assert code == 1
    assert "not ready" in err
