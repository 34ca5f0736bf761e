"""Events are posted in the background, in order, from a bounded queue (pure queue logic; the
apiserver side is covered by the e2e tests that read the events back)."""

from __future__ import annotations

import asyncio
import json

import httpx
import kopf
import pytest

from nylas_operator import kube as kube_module
from nylas_operator.kube import Kube, event_poster

GRANT = {
    "apiVersion": "nylas-operator.io/v1alpha1",
    "kind": "ServiceAccountGrant",
    "metadata": {"name": "dana", "namespace": "ns", "uid": "u1", "resourceVersion": "7"},
}


def kube_with(handler: httpx.MockTransport) -> Kube:
    kube = Kube(kopf.ConnectionInfo(server="http://apiserver.invalid", insecure=True))
    kube._http = httpx.AsyncClient(base_url="http://apiserver.invalid", transport=handler)
    return kube


async def test_post_event_returns_before_the_apiserver_answers_and_keeps_order() -> None:
    release = asyncio.Event()
    posted: list[str] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        await release.wait()
        posted.append(json.loads(request.content)["reason"])
        return httpx.Response(201, json={})

    kube = kube_with(httpx.MockTransport(answer))
    for reason in ("Degraded", "Reauthenticated", "Created"):
        await asyncio.wait_for(kube.post_event(GRANT, "Normal", reason, "m"), 1.0)  # never waits
    assert posted == []
    release.set()
    await kube.flush_events(5.0)
    assert posted == ["Degraded", "Reauthenticated", "Created"]
    await kube.aclose()


async def test_one_object_at_a_time_while_other_objects_go_on() -> None:
    release = asyncio.Event()
    in_flight: dict[str, int] = {}
    most: dict[str, int] = {}
    posted: list[tuple[str, str]] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        event = json.loads(request.content)
        uid = event["involvedObject"]["uid"]
        in_flight[uid] = in_flight.get(uid, 0) + 1
        most[uid] = max(most.get(uid, 0), in_flight[uid])
        if uid == "u1":
            await release.wait()  # the first object's apiserver is slow
        posted.append((uid, event["reason"]))
        in_flight[uid] -= 1
        return httpx.Response(201, json={})

    kube = kube_with(httpx.MockTransport(answer))
    # An object whose events another poster takes.
    uid2 = next(u for u in (f"u{i}" for i in range(2, 99)) if event_poster(u) != event_poster("u1"))
    other = {**GRANT, "metadata": {**GRANT["metadata"], "name": "erin", "uid": uid2}}
    for i in range(1, 4):
        await kube.post_event(GRANT, "Normal", f"first-{i}", "m")
    await kube.post_event(other, "Normal", "other", "m")
    for _ in range(20):
        await asyncio.sleep(0)
        if (uid2, "other") in posted:
            break
    assert (uid2, "other") in posted, "another object's event does not wait behind a slow one"
    assert not [p for p in posted if p[0] == "u1"]
    release.set()
    await kube.flush_events(5.0)
    assert [reason for uid, reason in posted if uid == "u1"] == ["first-1", "first-2", "first-3"]
    assert most["u1"] == 1, "one object's events are posted one after the other"
    await kube.aclose()


async def test_a_full_queue_drops_and_counts_and_close_flushes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube_module, "EVENT_QUEUE_SIZE", 2)
    release = asyncio.Event()
    posted: list[str] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        await release.wait()
        posted.append(json.loads(request.content)["reason"])
        return httpx.Response(500)  # a refusal is logged, not raised

    kube = kube_with(httpx.MockTransport(answer))
    dropped: list[int] = []
    kube.on_event_dropped = lambda: dropped.append(1)
    for reason in ("a", "b", "c", "d"):
        await kube.post_event(GRANT, "Warning", reason, "m")
        await asyncio.sleep(0)  # the poster takes "a" off the queue and waits for its answer
    assert dropped == [1]  # "a" in flight, "b" and "c" queued, "d" dropped
    release.set()
    await kube.aclose()  # flushes what was queued
    assert posted == ["a", "b", "c"]
