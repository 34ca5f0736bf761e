"""The one scheduler: delayed and immediate runs, one run per object at a time, and no queued run
before the watch shows this process's last write. Real asyncio timers, short delays, no cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from nylas_operator.controllers import scheduler as sched
from nylas_operator.controllers.scheduler import Key, Scheduler

A: Key = ("serviceaccountgrants", "ns", "a")
B: Key = ("serviceaccountgrants", "ns", "b")


class Recorder:
    def __init__(self) -> None:
        self.runs: list[Key] = []
        self.event = asyncio.Event()

    async def __call__(self, key: Key) -> None:
        self.runs.append(key)
        self.event.set()

    async def next_run(self, timeout: float = 2.0) -> Key:
        await asyncio.wait_for(self.event.wait(), timeout)
        self.event.clear()
        return self.runs[-1]


async def test_an_object_asked_for_many_times_runs_once() -> None:
    s, runs = Scheduler(workers=2), Recorder()
    s.start(runs)
    try:
        for _ in range(5):
            s.now(A)
        s.now(B)
        await runs.next_run()
        await asyncio.wait_for(_until(lambda: len(runs.runs) >= 2), 2)
        await asyncio.sleep(0)  # nothing else is queued
        assert sorted(runs.runs) == [A, B]
    finally:
        await s.close()


async def test_a_later_timer_replaces_the_pending_one() -> None:
    s, runs = Scheduler(workers=1), Recorder()
    s.start(runs)
    try:
        s.after(A, 30, "settle")
        s.after(A, 0.01, "retry")
        assert await runs.next_run() == A
        assert not s.pending(A) and runs.runs == [A]
    finally:
        await s.close()


async def test_a_queued_run_waits_until_the_watch_shows_this_process_write() -> None:
    s, runs = Scheduler(workers=1), Recorder()
    s.start(runs)
    try:
        s.written(A)
        s.now(A, "parent-changed")
        await asyncio.sleep(0.05)
        assert runs.runs == []  # kopf's patch of A has not landed yet
        s.seen(A)
        assert await runs.next_run() == A
    finally:
        await s.close()


async def test_a_write_the_watch_never_shows_does_not_hold_runs_for_ever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sched, "UNSEEN_PATIENCE", 0.05)
    s, runs = Scheduler(workers=1), Recorder()
    s.start(runs)
    try:
        s.written(A)
        s.now(A)
        assert await runs.next_run() == A
    finally:
        await s.close()


async def test_one_turn_per_object_and_none_between_objects() -> None:
    s = Scheduler()
    order: list[str] = []
    inside = asyncio.Event()

    async def hold(key: Key, name: str) -> None:
        async with s.turn(key):
            order.append(f"{name} in")
            inside.set()
            await asyncio.sleep(0.02)
            order.append(f"{name} out")

    first = asyncio.create_task(hold(A, "a1"))
    await inside.wait()
    await asyncio.gather(hold(A, "a2"), hold(B, "b"), first)
    assert order.index("a1 out") < order.index("a2 in")  # same object: one after the other
    assert order.index("b in") < order.index("a1 out")  # another object: not held up
    assert s._turns == {}  # nothing kept once every turn is over


async def test_forget_drops_timers_and_counters() -> None:
    s, runs = Scheduler(workers=1), Recorder()
    s.start(runs)
    try:
        s.after(A, 0.02, "settle")
        assert s.failed(A) == 0 and s.failed(A) == 1
        s.forget(A)
        await asyncio.sleep(0.05)
        assert runs.runs == [] and s.failed(A) == 0
    finally:
        await s.close()


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.001)
