"""The pieces that keep the operator cheap under load: watch cache, apiserver retry delays, the
grant directory, dependents' wake-ups, one event per transition (pure logic; no Kubernetes or
Nylas)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from nylas_operator.api.grant import ServiceAccountGrantStatus
from nylas_operator.controllers.clients import AppKey
from nylas_operator.controllers.directory import GrantDirectory
from nylas_operator.controllers.errors import classify
from nylas_operator.controllers.scheduler import Scheduler
from nylas_operator.controllers.status import Report
from nylas_operator.kube import KubeError, KubeUnavailable
from nylas_operator.settings import RetrySettings
from nylas_operator.watchcache import WatchCache


def body(name: str, rv: str, **extra: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name, "resourceVersion": rv}, **extra}


def test_cache_never_goes_back_to_an_older_version() -> None:
    cache = WatchCache(frozenset({"creds"}))
    cache.put("creds", body("a", "10", status={"v": "written"}))
    cache.observe("creds", "MODIFIED", body("a", "9", status={"v": "late event"}))
    assert cache.get("creds", "ns", "a") == body("a", "10", status={"v": "written"})
    cache.observe("creds", "MODIFIED", body("a", "11"))
    assert cache.get("creds", "ns", "a") == body("a", "11")
    cache.observe("creds", "DELETED", body("a", "12"))
    assert cache.get("creds", "ns", "a") is None
    cache.put("other", body("b", "1"))
    assert cache.get("other", "ns", "b") is None


def test_cache_lists_one_kind_in_one_namespace() -> None:
    cache = WatchCache(frozenset({"creds", "connectors"}))
    cache.observe("creds", None, body("a", "1"))
    cache.observe("creds", "ADDED", body("b", "2"))
    cache.observe("connectors", "ADDED", body("c", "3"))
    cache.observe("creds", "ADDED", {"metadata": {"namespace": "other", "name": "d", "resourceVersion": "4"}})
    assert sorted(b["metadata"]["name"] for b in cache.items("creds", "ns")) == ["a", "b"]
    cache.observe("creds", "DELETED", body("a", "5"))
    assert [b["metadata"]["name"] for b in cache.items("creds", "ns")] == ["b"]


def test_on_demand_kinds_keep_only_what_was_read_and_refuse_stale_reads() -> None:
    cache = WatchCache(frozenset(), on_demand=frozenset({"secrets"}))
    cache.observe("secrets", None, body("unread", "5"))
    assert cache.get("secrets", "ns", "unread") is None  # never read: not kept
    assert cache.keys("secrets") == []
    cache.begin_read("secrets", "ns", "unread")
    cache.observe("secrets", "MODIFIED", body("unread", "5"))  # metadata only, during the GET
    cache.put("secrets", body("unread", "4"))  # a GET answer older than the event already seen
    assert cache.get("secrets", "ns", "unread") is None
    cache.put("secrets", body("unread", "6", data={"k": "dg=="}))
    cache.end_read("secrets", "ns", "unread")
    assert cache.get("secrets", "ns", "unread") == body("unread", "6", data={"k": "dg=="})
    # A metadata-only event never replaces a body: the Secret watch re-reads it instead.
    cache.observe("secrets", "MODIFIED", body("unread", "7"))
    assert cache.get("secrets", "ns", "unread") == body("unread", "6", data={"k": "dg=="})
    assert "dg==" not in repr(cache)
    cache.observe("secrets", "DELETED", body("unread", "8"))
    assert cache.get("secrets", "ns", "unread") is None
    assert cache.content("secrets", "ns", "unread") is None


def test_unread_secrets_leave_nothing_behind() -> None:
    cache = WatchCache(frozenset(), on_demand=frozenset({"secrets"}))
    for i in range(100):
        cache.observe("secrets", "ADDED", body(f"s{i}", str(i)))
        cache.begin_read("secrets", "ns", f"r{i}")
        cache.observe("secrets", "MODIFIED", body(f"r{i}", str(i)))
        cache.end_read("secrets", "ns", f"r{i}")
    assert (cache._bodies, cache._seen, cache._reading, cache._content) == ({}, {}, {}, {})


def test_content_versions_move_only_when_a_value_changes() -> None:
    cache = WatchCache(frozenset(), on_demand=frozenset({"secrets"}))
    cache.put("secrets", body("s", "10", data={"apiKey": "YQ==", "other": "Yg=="}))
    assert cache.content_versions("secrets", "ns", "s") == {"apiKey": "10", "other": "10"}
    before = cache.content("secrets", "ns", "s")
    cache.put("secrets", body("s", "11", data={"apiKey": "YQ==", "other": "Yg=="}, labels={"x": "y"}))
    assert cache.content_versions("secrets", "ns", "s") == {"apiKey": "10", "other": "10"}
    assert cache.content("secrets", "ns", "s") == before
    cache.put("secrets", body("s", "12", data={"apiKey": "YQ==", "other": "Yw=="}))
    assert cache.content_versions("secrets", "ns", "s") == {"apiKey": "10", "other": "12"}
    cache.put("secrets", body("s", "13", data={"apiKey": "ZA=="}))
    assert cache.content_versions("secrets", "ns", "s") == {"apiKey": "13"}
    assert all(b"ZA==" not in digest for digest, _ in (cache.content("secrets", "ns", "s") or {}).values())


def test_transient_apiserver_failures_retry_within_about_a_second() -> None:
    settings = RetrySettings(min_delay=timedelta(seconds=5), jitter=0.0)
    busy = KubeUnavailable("GET", "/api/v1/x", httpx.PoolTimeout("pool"))
    assert str(busy) == "GET /api/v1/x: PoolTimeout"
    assert classify(busy, attempt=0, settings=settings).retry_after == 0.5
    assert classify(busy, attempt=10, settings=settings).retry_after == 5.0  # capped at min_delay
    for status in (409, 429, 503):
        assert classify(KubeError("PATCH", "/p", status), attempt=0, settings=settings).retry_after == 0.5
    forbidden = classify(KubeError("GET", "/p", 403), attempt=0, settings=settings)
    assert forbidden.retry_after == 5.0 and not forbidden.terminal


class FakeGrants:
    def __init__(self, emails: list[str]) -> None:
        self.emails = emails
        self.calls = 0

    async def list_all(self) -> list[Any]:
        self.calls += 1
        await asyncio.sleep(0.01)
        return [type("G", (), {"email": e})() for e in self.emails]


async def test_directory_lists_once_for_concurrent_callers_and_learns_creations() -> None:
    grants = FakeGrants(["Dana@Acme.example"])
    client: Any = type("C", (), {"grants": grants})()
    app = AppKey("http://nylas", "app")
    directory = GrantDirectory()
    answers = await asyncio.gather(
        *(directory.has(app, client, e) for e in ("dana@acme.example", "eve@acme.example") * 5)
    )
    assert answers == [True, False] * 5 and grants.calls == 1
    directory.add(app, "Eve@acme.example")
    assert await directory.has(app, client, "eve@ACME.example") and grants.calls == 1
    assert "acme" not in repr(directory)


def test_a_parent_transition_wakes_only_dependents_that_read_an_older_version() -> None:
    scheduler = Scheduler()
    old, new, failed, never = (("g", "ns", n) for n in ("old", "new", "failed", "never"))
    scheduler.read_parent(old, "41")
    scheduler.read_parent(new, "42")
    scheduler.read_parent(failed, "0")  # its reconcile started but found no parent
    assert scheduler.stale([old, new, failed, never], "42") == [old, failed]
    scheduler.read_parent(new, "opaque")
    assert scheduler.stale([new], "42") == [new]  # not comparable: woken
    scheduler.forget(old)
    assert scheduler.stale([old], "42") == []


def test_one_event_when_a_run_both_creates_and_makes_ready() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    report = Report({"metadata": {"generation": 1}, "status": {}}, now, ServiceAccountGrantStatus)
    report.event("Normal", "Created", "created the Nylas grant")
    report.ready()
    assert report.transition_events() == [("Normal", "Created", "created the Nylas grant")]
    failing = Report({"metadata": {"generation": 1}, "status": {}}, now, ServiceAccountGrantStatus)
    failing.event("Warning", "GrantMissing", "repairing")
    failing.ready()
    assert [e[1] for e in failing.transition_events()] == ["GrantMissing", "Available"]
