"""A small async Kubernetes client for the benchmarks: bulk writes and a Ready watcher.

Owns: an ``httpx.AsyncClient`` authenticated from a kubeconfig (client certificate), bounded-concurrency
bulk calls, and ``ReadyWatcher`` (one list + watch that timestamps the first Ready=True of each object).
Does not own: what objects look like (``scenario.py``) or processes (``common.py``). It is a benchmark
tool, not product code: it may be blunt (no retries beyond what a benchmark needs).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

GROUP = "nylas-operator.io"
VERSION = "v1alpha1"
GRANTS = "serviceaccountgrants"
CREDENTIALS = "nylascredentials"
CONNECTORS = "nylasconnectors"
MERGE = {"Content-Type": "application/merge-patch+json"}


def _ssl_from_kubeconfig(path: Path) -> tuple[str, ssl.SSLContext]:
    config = yaml.safe_load(path.read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
    )
    with tempfile.TemporaryDirectory(prefix="bench-kube-") as tmp:
        cert, key = Path(tmp) / "c.crt", Path(tmp) / "c.key"
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        context.load_cert_chain(str(cert), str(key))  # read now; the files may go afterwards
    return str(cluster["server"]), context


def path_of(plural: str, namespace: str, name: str | None = None) -> str:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{plural}"
    return base if name is None else f"{base}/{name}"


class KubeClient:
    """Async client with one connection pool of ``connections`` (HTTP/1.1, like kopf's aiohttp)."""

    def __init__(self, kubeconfig: Path, *, connections: int = 64) -> None:
        server, context = _ssl_from_kubeconfig(kubeconfig)
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.http = httpx.AsyncClient(base_url=server, verify=context, limits=limits, timeout=60.0)

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {response.status_code}: {response.text[:300]}")
        data: dict[str, Any] = response.json() if response.content else {}
        return data

    async def create_namespace(self, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        response = await self.http.post("/api/v1/namespaces", json=body)
        if response.status_code not in (201, 409):
            raise RuntimeError(f"create namespace {name}: HTTP {response.status_code}: {response.text[:300]}")

    async def create_secret(self, namespace: str, name: str, data: Mapping[str, str]) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": dict(data),
        }
        await self.request("POST", f"/api/v1/namespaces/{namespace}/secrets", json=body)

    async def create(self, plural: str, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self.request("POST", path_of(plural, namespace), json=body)

    async def get(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        return await self.request("GET", path_of(plural, namespace, name))

    async def list(self, plural: str, namespace: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            params = {"limit": "500", **({"continue": token} if token else {})}
            data = await self.request("GET", path_of(plural, namespace), params=params)
            items.extend(data.get("items") or [])
            token = (data.get("metadata") or {}).get("continue") or ""
            if not token:
                return items

    async def merge_patch(
        self, plural: str, namespace: str, name: str, patch: Mapping[str, Any], *, status: bool = False
    ) -> dict[str, Any]:
        path = path_of(plural, namespace, name) + ("/status" if status else "")
        return await self.request("PATCH", path, content=json.dumps(patch), headers=MERGE)


async def bounded(concurrency: int, jobs: Iterable[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Run the jobs with at most ``concurrency`` in flight; results in order; first error raises."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


def is_ready(body: Mapping[str, Any]) -> bool:
    for condition in (body.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


class ReadyWatcher:
    """Watches one kind in one namespace; records when each object was first seen Ready=True.

    ``seen[name]`` is the last body seen (for status fields), ``ready_at[name]`` a ``time.time()``.
    ``writes[name]`` counts the MODIFIED events seen (every apiserver write of the object is one:
    status, annotations, finalizers, kopf's bookkeeping), ``writes_at_ready[name]`` that count when
    it was first seen Ready. The stream is re-opened when the apiserver closes it; a 410 restarts
    from a fresh list.
    """

    def __init__(self, kube: KubeClient, plural: str, namespace: str) -> None:
        self.kube = kube
        self.plural = plural
        self.namespace = namespace
        self.seen: dict[str, dict[str, Any]] = {}
        self.ready_at: dict[str, float] = {}
        self.writes: dict[str, int] = {}
        self.writes_at_ready: dict[str, int] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listed = asyncio.Event()

    def _observe(self, body: dict[str, Any], deleted: bool = False, modified: bool = False) -> None:
        name = body["metadata"]["name"]
        if deleted:
            self.seen.pop(name, None)
            return
        self.seen[name] = body
        if modified:
            self.writes[name] = self.writes.get(name, 0) + 1
        if name not in self.ready_at and is_ready(body):
            self.ready_at[name] = time.time()
            self.writes_at_ready[name] = self.writes.get(name, 0)
        self._changed.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._listed.wait(), 60)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        path = path_of(self.plural, self.namespace)
        version = ""
        while True:
            if not version:
                data = await self.kube.request("GET", path)
                for item in data.get("items") or []:
                    self._observe(item)
                version = data["metadata"]["resourceVersion"]
                self._listed.set()
            params = {"watch": "1", "resourceVersion": version, "allowWatchBookmarks": "true"}
            try:
                async with self.kube.http.stream("GET", path, params=params, timeout=None) as response:
                    async for line in response.aiter_lines():
                        if not line:
                            continue
                        event = json.loads(line)
                        obj = event.get("object") or {}
                        if event.get("type") == "ERROR":
                            version = ""  # 410 Gone: list again
                            break
                        version = (obj.get("metadata") or {}).get("resourceVersion") or version
                        if event.get("type") in ("ADDED", "MODIFIED"):
                            self._observe(obj, modified=event.get("type") == "MODIFIED")
                        elif event.get("type") == "DELETED":
                            self._observe(obj, deleted=True)
            except (httpx.HTTPError, json.JSONDecodeError):
                await asyncio.sleep(0.2)

    async def wait_for(self, predicate: Callable[[ReadyWatcher], bool], within: float) -> bool:
        """Wait until ``predicate(self)`` holds; False on timeout."""
        deadline = time.monotonic() + within
        while not predicate(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))
        return True

    async def wait_ready(self, names: Iterable[str], within: float) -> bool:
        wanted = set(names)
        return await self.wait_for(lambda w: wanted <= w.ready_at.keys(), within)


_SAMPLE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\}\s+(?P<value>[0-9.e+]+)$")


async def apiserver_requests(kube: KubeClient) -> dict[str, int]:
    """The apiserver's own request counters, as ``VERB resource[/subresource]`` → count."""
    response = await kube.http.get("/metrics")
    counts: dict[str, int] = {}
    for line in response.text.splitlines():
        match = _SAMPLE.match(line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group("labels")))
        resource = labels.get("resource", "")
        if labels.get("subresource"):
            resource += "/" + labels["subresource"]
        key = f"{labels.get('verb', '?')} {resource}"
        counts[key] = counts.get(key, 0) + int(float(match.group("value")))
    return counts


def diff_counts(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    out = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0) > 0}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
