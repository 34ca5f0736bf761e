"""The Lease rules of ``leader.py`` against an in-memory Lease endpoint (resourceVersion checked like
the apiserver) and a fake clock. The real thing, as processes: tests/e2e/test_leader_election.py."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from nylas_operator.leader import LeaseElector, LeaseTimings
from nylas_operator.runner import run

PATH = "/apis/coordination.k8s.io/v1/namespaces/ops/leases/op"
TIMINGS = LeaseTimings(lease_duration=15, renew_deadline=10, retry_period=2)


class LeaseStore:
    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.fail = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.fail:
            return httpx.Response(503)
        if request.method == "GET":
            return httpx.Response(200, json=self.lease) if self.lease else httpx.Response(404)
        body = json.loads(request.content)
        if request.method == "POST":
            if self.lease is not None:
                return httpx.Response(409)
        elif self.lease is None or body["metadata"].get("resourceVersion") != str(self.version):
            return httpx.Response(409)
        self.version += 1
        body["metadata"]["resourceVersion"] = str(self.version)
        self.lease = copy.deepcopy(body)
        return httpx.Response(201 if request.method == "POST" else 200, json=body)

    @property
    def holder(self) -> str | None:
        return (self.lease or {}).get("spec", {}).get("holderIdentity")


def elector(store: LeaseStore, identity: str, now: list[float]) -> LeaseElector:
    http = httpx.AsyncClient(transport=httpx.MockTransport(store), base_url="https://apiserver")
    return LeaseElector(
        http, namespace="ops", name="op", identity=identity, timings=TIMINGS, clock=lambda: now[0]
    )


def test_timings_must_let_the_leader_stop_before_its_lease_can_be_taken() -> None:
    with pytest.raises(ValueError, match="renew deadline < lease duration"):
        LeaseTimings(lease_duration=10, renew_deadline=10, retry_period=2)
    with pytest.raises(ValueError):
        LeaseTimings(lease_duration=15, renew_deadline=2, retry_period=2)


async def test_first_takes_the_lease_second_waits_out_the_duration_on_its_own_clock() -> None:
    store, now = LeaseStore(), [100.0]
    a, b = elector(store, "a", now), elector(store, "b", now)
    assert await a._attempt() and store.holder == "a"
    assert store.lease is not None and store.lease["spec"]["leaseTransitions"] == 0
    assert not await b._attempt() and b.holder == "a"
    now[0] += 14.9  # a stopped renewing; b first saw this record 14.9 s ago
    assert not await b._attempt()
    now[0] += 0.2
    assert await b._attempt() and store.holder == "b"
    assert store.lease["spec"]["leaseTransitions"] == 1


async def test_a_renewed_record_restarts_the_standbys_count() -> None:
    store, now = LeaseStore(), [0.0]
    a, b = elector(store, "a", now), elector(store, "b", now)
    assert await a._attempt()
    assert not await b._attempt()
    now[0] += 10
    assert await a._attempt()  # renewal: a new renewTime
    now[0] += 10
    assert not await b._attempt()  # 20 s since b's first look, but only 10 s since the renewal
    now[0] += 15
    assert await b._attempt()


async def test_released_lease_is_free_at_once() -> None:
    store, now = LeaseStore(), [0.0]
    a, b = elector(store, "a", now), elector(store, "b", now)
    await a.acquire()
    assert not await b._attempt()
    await a.release()
    assert store.holder is None and not a.may_write()
    assert await b._attempt() and store.holder == "b"


async def test_the_fence_closes_at_the_renew_deadline() -> None:
    store, now = LeaseStore(), [0.0]
    a = elector(store, "a", now)
    assert not a.may_write()
    await a.acquire()
    assert a.may_write()
    now[0] += 9.9
    assert a.may_write()
    now[0] += 0.1  # e.g. a process frozen by SIGSTOP wakes up here: no write gets through
    assert not a.may_write()


async def test_leader_that_cannot_renew_gives_up_by_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    store, now = LeaseStore(), [0.0]
    a = elector(store, "a", now)
    await a.acquire()
    store.fail = True

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr("nylas_operator.leader.asyncio.sleep", sleep)
    await a.hold()  # returns: lost
    assert now[0] == pytest.approx(10.0) and not a.may_write() and not a.leading


async def test_leader_that_sees_another_holder_gives_up_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    store, now = LeaseStore(), [0.0]
    a, b = elector(store, "a", now), elector(store, "b", now)
    await a.acquire()
    assert not await b._attempt()
    now[0] += 16
    assert await b._attempt()  # e.g. a was frozen past its lease

    async def sleep(seconds: float) -> None:
        now[0] += 0.5

    monkeypatch.setattr("nylas_operator.leader.asyncio.sleep", sleep)
    now[0] = 5.0  # a's own clock: still within its deadline, yet the record says b
    await a.hold()
    assert not a.may_write() and store.holder == "b"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--leader-elect"], {}, "--leader-elect needs --leader-election-namespace"),
        (
            ["--leader-elect", "--leader-election-namespace=ops", "--leader-election-renew-deadline=20s"],
            {},
            "renew deadline < lease duration",
        ),
        (["--leader-elect", "--leader-election-retry-period=soon"], {"POD_NAMESPACE": "ops"}, "retry-period"),
    ],
)
def test_bad_leader_election_flags_are_usage_errors(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = CliRunner().invoke(run, ["--namespace=ops", *args], env={"POD_NAMESPACE": "", **env})
    assert result.exit_code == 2, result.output
    assert message in result.output
