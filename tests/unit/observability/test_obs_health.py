"""Health: startup, silent streams, the watch canary, readiness, and the HTTP apps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from nylas_operator.observability.health import HealthState, make_health_app, make_metrics_app
from nylas_operator.observability.metrics import Metrics
from nylas_operator.observability.serving import RunningSite, start_site


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeWatch:
    """Stands in for 'PATCH an annotation, then kopf's on.event handler sees it' (pure logic)."""

    def __init__(self, health: HealthState, resource: str) -> None:
        self.health, self.resource = health, resource
        self.written: list[str] = []
        self.alive = True
        self.fail_writes = False
        self.deliver_before_return = False

    async def write(self, token: str) -> None:
        if self.fail_writes:
            raise ConnectionRefusedError("apiserver down")
        self.written.append(token)
        if self.alive and self.deliver_before_return:
            self.deliver(token)

    def deliver(self, token: str) -> None:
        self.health.note_event(self.resource, canary_token=token)


def make(clock: Clock, **kwargs: Any) -> tuple[HealthState, FakeWatch]:
    watch: FakeWatch | None = None

    async def canary(token: str) -> None:
        assert watch is not None
        await watch.write(token)

    health = HealthState(canary=canary, canary_resource="configmaps", clock=clock, **kwargs)
    watch = FakeWatch(health, "configmaps")
    return health, watch


def checks(problems: list[Any]) -> list[tuple[str, str | None]]:
    return [(p.check, p.resource) for p in problems]


def test_startup_gate() -> None:
    clock = Clock()
    health = HealthState(startup_timeout=60, clock=clock)
    assert health.liveness() == []  # starting is alive...
    assert checks(health.readiness()) == [("startup", None)]  # ...but not ready
    clock.now += 61
    assert checks(health.liveness()) == [("startup", None)]  # stuck in startup: restart
    health.mark_started()
    assert health.liveness() == [] and health.readiness() == []


def test_silent_stream_fails_liveness_and_names_the_resource() -> None:
    clock = Clock()
    health = HealthState(silence_thresholds={"v1/pods": 30.0}, clock=clock)
    health.mark_started()
    clock.now += 29
    assert health.liveness() == []
    clock.now += 2  # no event ever since startup
    assert checks(health.liveness()) == [("silence", "v1/pods")]
    health.note_event("v1/pods")
    assert health.liveness() == []
    clock.now += 31
    [problem] = health.liveness()
    assert problem.resource == "v1/pods" and "31s" in problem.detail
    health.note_event("other")  # events of other resources do not help
    assert checks(health.liveness()) == [("silence", "v1/pods")]


async def test_canary_observed_keeps_liveness_green() -> None:
    clock = Clock()
    health, watch = make(clock, canary_deadline=10)
    health.mark_started()
    for _ in range(5):
        await health.canary_once()
        clock.now += 5
        watch.deliver(watch.written[-1])
        clock.now += 20
        assert health.liveness() == []


async def test_canary_not_observed_fails_then_recovers() -> None:
    clock = Clock()
    health, watch = make(clock, canary_deadline=10)
    health.mark_started()
    watch.alive = False
    await health.canary_once()
    clock.now += 10
    assert health.liveness() == []  # at the deadline: not yet
    clock.now += 1
    [problem] = health.liveness()
    assert (problem.check, problem.resource) == ("canary", "configmaps")
    await health.canary_once()  # a newer write does not reset the clock of the older unseen one
    assert checks(health.liveness()) == [("canary", "configmaps")]
    watch.deliver(watch.written[-1])  # the stream came back: the newest token confirms all earlier
    assert health.liveness() == []


async def test_event_delivered_before_the_write_returns_counts() -> None:
    clock = Clock()
    health, watch = make(clock, canary_deadline=10)
    health.mark_started()
    watch.deliver_before_return = True
    await health.canary_once()
    clock.now += 60
    assert health.liveness() == []


async def test_foreign_and_old_tokens_prove_nothing() -> None:
    clock = Clock()
    health, watch = make(clock, canary_deadline=10)
    health.mark_started()
    await health.canary_once()
    watch.deliver("1700000000-deadbeef")  # e.g. left on the object by the previous process
    health.note_event("configmaps")  # an ordinary event without the token
    clock.now += 11
    assert checks(health.liveness()) == [("canary", "configmaps")]


async def test_canary_write_failures_fail_readiness_not_liveness() -> None:
    clock = Clock()
    health, watch = make(clock, canary_deadline=10, write_failures_unready=3)
    health.mark_started()
    watch.fail_writes = True
    for _ in range(2):
        await health.canary_once()
    assert health.readiness() == []
    await health.canary_once()
    clock.now += 100
    assert health.liveness() == []  # a failed write is not an unseen write
    assert checks(health.readiness()) == [("canary-write", "configmaps")]
    watch.fail_writes = False
    await health.canary_once()
    watch.deliver(watch.written[-1])
    assert health.readiness() == []


async def test_a_token_lost_to_an_apiserver_outage_does_not_fail_liveness() -> None:
    """The write lands, then the apiserver stops before the watch delivers it (CI saw this once):
    the failed writes that follow are the outage, not a dead watch."""
    clock = Clock()
    health, watch = make(clock, canary_deadline=10, write_failures_unready=3)
    health.mark_started()
    await health.canary_once()  # written; its event is lost with the connection
    watch.fail_writes = True
    await health.canary_once()
    clock.now += 100
    assert health.liveness() == []
    assert health.readiness() == []  # one failed write: not yet unready (3 in a row)
    watch.fail_writes = False
    await health.canary_once()  # back: a fresh token, checked against the deadline again
    clock.now += 11
    assert checks(health.liveness()) == [("canary", "configmaps")]
    watch.deliver(watch.written[-1])
    assert health.liveness() == []


def test_stopping_fails_readiness_only() -> None:
    health = HealthState()
    health.mark_started()
    health.mark_stopping()
    assert health.liveness() == []
    assert checks(health.readiness()) == [("stopping", None)]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def get_json(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as response:
        assert response.headers["Content-Type"].startswith("application/json")
        return response.status, await response.json()


async def test_health_app_with_the_real_canary_loop(http: aiohttp.ClientSession) -> None:
    """Real time, short intervals: a live watch keeps /healthz at 200; a dead one turns it 500."""
    delivered: asyncio.Queue[str] = asyncio.Queue()
    dead = asyncio.Event()

    async def canary(token: str) -> None:
        if not dead.is_set():
            delivered.put_nowait(token)

    health = HealthState(canary=canary, canary_resource="leases", canary_interval=0.05, canary_deadline=0.3)

    async def watch() -> None:
        while True:
            token = await delivered.get()
            await asyncio.sleep(0.01)  # the watch lags a little behind the write
            health.note_event("leases", canary_token=token)

    site: RunningSite = await start_site(make_health_app(health))
    tasks = [asyncio.create_task(health.run_canary()), asyncio.create_task(watch())]
    try:
        status, body = await get_json(http, f"{site.url}/readyz")
        assert status == 500 and body["problems"][0]["check"] == "startup"
        health.mark_started()
        await asyncio.sleep(0.5)
        assert await get_json(http, f"{site.url}/healthz") == (200, {"status": "ok", "problems": []})
        assert (await get_json(http, f"{site.url}/readyz"))[0] == 200
        dead.set()
        status, body = 200, {}
        async with asyncio.timeout(5):
            while status == 200:
                await asyncio.sleep(0.05)
                status, body = await get_json(http, f"{site.url}/healthz")
        assert status == 500
        assert body["status"] == "fail"
        assert body["problems"][0]["check"] == "canary" and body["problems"][0]["resource"] == "leases"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await site.close()


async def test_metrics_app_serves_the_dedicated_registry(http: aiohttp.ClientSession) -> None:
    metrics = Metrics()
    metrics.record_reconcile("NylasConnector", "success")
    site = await start_site(make_metrics_app(metrics.registry))
    try:
        async with http.get(f"{site.url}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=")
            text = await response.text()
        assert 'nylas_operator_reconcile_total{kind="NylasConnector",result="success"} 1.0' in text
        # The registry's own runtime collectors (the global registry is not served).
        assert "python_gc_objects_collected_total" in text
        assert "nylas_operator_build_info{" in text
    finally:
        await site.close()
