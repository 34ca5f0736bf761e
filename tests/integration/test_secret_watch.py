"""The metadata-only Secret watch on the real apiserver: rotations wake the referrers, a label
change does not, and a rotation during a watch gap (410 Gone: the watch resumes from a
resourceVersion the apiserver no longer serves) is found by the re-list's digest comparison.

The referrers are a connector body in the watch cache (kopf's watch feeds it in the operator);
the wake-ups go through the real scheduler, whose runner records them.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from nylas_operator.controllers.scheduler import Key, Scheduler
from nylas_operator.controllers.secrets_watch import SecretWatch
from nylas_operator.kube import CONNECTORS, SECRETS, Kube
from nylas_operator.login import CredentialSource

pytestmark = pytest.mark.cluster

WAIT = 15.0


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def put_secret(kubectl: Callable[..., str], namespace: str, name: str, value: str, **labels: str) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {"value": b64(value)},
    }
    kubectl("apply", "-f", "-", input=json.dumps(body))


def connector(namespace: str, name: str, api_key: str, client_secret: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": namespace, "name": name, "resourceVersion": "1"},
        "spec": {
            "application": {"apiKeySecretRef": {"name": api_key, "key": "value"}},
            "providerApp": {"clientSecretRef": {"name": client_secret, "key": "value"}},
        },
    }


class Woken:
    """The scheduler's runner: records every key it is asked to run."""

    def __init__(self) -> None:
        self.keys: asyncio.Queue[Key] = asyncio.Queue()

    async def __call__(self, key: Key) -> None:
        await self.keys.put(key)

    async def next(self) -> Key:
        return await asyncio.wait_for(self.keys.get(), WAIT)

    async def until(self, scheduler: Scheduler, sentinel: Key) -> set[Key]:
        """Everything run before ``sentinel``, queued now (one worker: runs in queue order)."""
        scheduler.now(sentinel, "test")
        seen: set[Key] = set()
        while (key := await self.next()) != sentinel:
            seen.add(key)
        return seen


@pytest.fixture
async def parts(control_plane: Any) -> AsyncIterator[tuple[Kube, Scheduler, Woken]]:
    credentials = CredentialSource.kubeconfig()  # KUBECONFIG points at the test plane
    kube = Kube(await credentials.current(), credentials=credentials)
    scheduler = Scheduler(workers=1)
    woken = Woken()
    scheduler.start(woken)
    yield kube, scheduler, woken
    await scheduler.close()
    await kube.aclose()


async def value_of(kube: Kube, namespace: str, name: str) -> str:
    secret = await kube.read_secret(namespace, name)
    assert secret is not None
    return secret.data["value"].get_secret_value()


async def test_rotation_wakes_the_referrers_and_a_label_change_does_not(
    parts: tuple[Kube, Scheduler, Woken], kubectl: Callable[..., str], namespace: str
) -> None:
    kube, scheduler, woken = parts
    put_secret(kubectl, namespace, "api-key", "key-1")
    put_secret(kubectl, namespace, "client-secret", "secret-1")
    for i in range(20):  # unrelated Secrets: nothing of them is kept
        put_secret(kubectl, namespace, f"unrelated-{i}", "x" * 100)
    kube.cache.put(CONNECTORS, connector(namespace, "google", "api-key", "client-secret"))
    watch = SecretWatch(kube, scheduler, namespace)
    task = asyncio.create_task(watch.run())
    try:
        await value_of(kube, namespace, "api-key")  # what a reconcile reads
        await value_of(kube, namespace, "client-secret")
        version = kube.cache.content_versions(SECRETS, namespace, "api-key")["value"]
        kubectl("label", "-n", namespace, "secret/api-key", "team=mail")
        put_secret(kubectl, namespace, "unrelated-0", "changed")
        put_secret(kubectl, namespace, "client-secret", "secret-2")
        # Events arrive in order: the wake of the rotation comes after the label change was seen.
        assert await woken.next() == (CONNECTORS, namespace, "google")
        assert await value_of(kube, namespace, "client-secret") == "secret-2"
        # One wake: the label change and the unrelated Secret woke nobody.
        assert await woken.until(scheduler, (CONNECTORS, namespace, "sentinel")) == set()
        assert kube.cache.content_versions(SECRETS, namespace, "api-key")["value"] == version
        assert sorted(name for _, _, name in kube.cache.keys(SECRETS)) == ["api-key", "client-secret"]
        # A referenced Secret created after its referent (a SecretNotFound wait) wakes it.
        kube.cache.put(CONNECTORS, connector(namespace, "late", "api-key", "created-later"))
        put_secret(kubectl, namespace, "created-later", "secret-3")
        assert await woken.next() == (CONNECTORS, namespace, "late")
    finally:
        task.cancel()
    assert watch.relists == 0


def compact(control_plane: Any, after: int, kubectl: Callable[..., str], namespace: str) -> None:
    """Compact etcd at its current revision (through its JSON gateway), past ``after``."""
    listed = json.loads(kubectl("get", "--raw", f"/api/v1/namespaces/{namespace}/secrets?limit=1"))
    revision = int(listed["metadata"]["resourceVersion"])
    assert revision > after
    answer = httpx.post(
        f"{control_plane.etcd_url}/v3/kv/compaction",
        json={"revision": str(revision), "physical": True},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


async def test_a_rotation_during_a_watch_gap_is_found_by_the_relist(
    parts: tuple[Kube, Scheduler, Woken], kubectl: Callable[..., str], namespace: str, control_plane: Any
) -> None:
    kube, scheduler, woken = parts
    for name in ("api-key", "client-secret", "labelled"):
        put_secret(kubectl, namespace, name, f"{name}-1")
    kube.cache.put(CONNECTORS, connector(namespace, "rotated", "api-key", "client-secret"))
    kube.cache.put(CONNECTORS, connector(namespace, "relabelled", "labelled", "labelled"))
    kube.cache.put(CONNECTORS, connector(namespace, "waiting", "labelled", "created-in-gap"))
    watch = SecretWatch(kube, scheduler, namespace)
    relisted = asyncio.Event()
    watch.on_relist = relisted.set
    await watch.list(first=True)
    for name in ("api-key", "client-secret", "labelled"):
        await value_of(kube, namespace, name)
    labelled_version = kube.cache.content_versions(SECRETS, namespace, "labelled")["value"]
    # The gap: no watch runs while the Secrets change.
    put_secret(kubectl, namespace, "api-key", "api-key-2")
    kubectl("label", "-n", namespace, "secret/labelled", "team=mail")
    put_secret(kubectl, namespace, "created-in-gap", "new")
    kubectl("delete", "-n", namespace, "secret/client-secret")
    # etcd forgets the history of the gap (compaction, as the apiserver does every 5 minutes)
    # and the apiserver restarts (its watch cache starts empty): the watch resumes from where it
    # was and gets 410 Gone.
    compact(control_plane, int(watch.resource_version or 0), kubectl, namespace)
    control_plane.restart_apiserver()
    task = asyncio.create_task(watch.run())
    try:
        await asyncio.wait_for(relisted.wait(), WAIT)
        assert watch.relists == 1
        assert watch.resource_version not in (None, "1")
        # "relabelled" is not woken: a new resourceVersion, the same digest.
        assert await woken.until(scheduler, (CONNECTORS, namespace, "sentinel")) == {
            (CONNECTORS, namespace, "rotated"),
            (CONNECTORS, namespace, "waiting"),
        }
        assert await value_of(kube, namespace, "api-key") == "api-key-2"
        assert await kube.read_secret(namespace, "client-secret") is None
        assert kube.cache.content_versions(SECRETS, namespace, "labelled")["value"] == labelled_version
        # After the re-list the watch follows changes again.
        put_secret(kubectl, namespace, "api-key", "api-key-3")
        assert await woken.next() == (CONNECTORS, namespace, "rotated")
    finally:
        task.cancel()
