"""The operator's own small Kubernetes client, for what kopf has no API for.

Owns: reading one Secret, listing/reading our objects, merge-patching their metadata and status,
writing a grant's output Secret with an ownerReference, posting Events (in the background, in
order per object, from bounded queues), writing the health canary ConfigMap. Credentials come from
``login.CredentialSource`` (a rotated token is picked up; a 401 re-reads it) on one shared
``httpx.AsyncClient``; the watch streams of the watches kopf does not run (grants, Secrets'
metadata) on a client of their own. Does not own: deciding anything (``controllers/``).

Secret values are returned as ``SecretStr`` and never logged; errors carry paths, not bodies.

Load: at most ``concurrency`` requests are in flight (an ``asyncio.Semaphore``, O(1) to wait on)
over as many kept-alive connections; with ~1,000 handlers at once, queueing inside httpx's pool
costs O(queued x connections) per request and re-handshakes TLS. Transport failures (connect, read,
pool timeouts, dropped connections) become ``KubeUnavailable``, which the controllers retry soon.
Reads of connectors, credentials and Secrets may be served from ``WatchCache`` (fed by kopf's
watch events through ``observe()`` and by our own writes).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import zlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import httpx
import kopf
from pydantic import SecretStr

from nylas_operator.api.common import GROUP, VERSION
from nylas_operator.login import BearerAuth, CredentialSource, tls_verify
from nylas_operator.watchcache import WatchCache

log = logging.getLogger("nylas_operator.kube")

EVENT_QUEUE_SIZE: Final = 1000  # per poster; client-go's event broadcaster queues 1000
EVENT_POSTERS: Final = 4  # events in flight at most: they come after status writes
EVENT_FLUSH_SECONDS: Final = 5.0  # how long a stopping operator waits for its last events

CONNECTORS: Final = "nylasconnectors"
CREDENTIALS: Final = "nylascredentials"
GRANTS: Final = "serviceaccountgrants"
KINDS: Final = {CONNECTORS: "NylasConnector", CREDENTIALS: "NylasCredential", GRANTS: "ServiceAccountGrant"}
SECRETS: Final = "secrets"
FINALIZER: Final = "nylas-operator.io/finalizer"
"""Ours, not kopf's default name: any other kopf operator that only watches our kinds removes
kopf's default, and two operators sharing one fight (#664, #1055)."""
METADATA_LIST: Final = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
METADATA_WATCH: Final = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
CACHED: Final = frozenset({CONNECTORS, CREDENTIALS})
"""Kinds whose latest bodies are kept from the watch (few objects, read by every grant reconcile);
Secrets are kept once read (``WatchCache`` on-demand)."""


class KubeError(Exception):
    """The apiserver answered an unexpected status (the text has method, path and status only)."""

    def __init__(self, method: str, path: str, status: int) -> None:
        self.status = status
        super().__init__(f"{method} {path}: HTTP {status}")


class WatchExpired(Exception):
    """410 Gone: the apiserver no longer serves a watch from this resourceVersion."""

    def __init__(self, resource_version: str) -> None:
        super().__init__(f"resourceVersion {resource_version} is too old")


class KubeUnavailable(KubeError):
    """No answer: connect/read/pool timeout or a dropped connection (the text names the error type)."""

    def __init__(self, method: str, path: str, error: Exception) -> None:
        self.status = 0
        Exception.__init__(self, f"{method} {path}: {type(error).__name__}")


class Kube:
    def __init__(
        self,
        info: kopf.ConnectionInfo,
        *,
        credentials: CredentialSource | None = None,
        timeout: float = 30.0,
        concurrency: int = 16,
    ) -> None:
        """``info``: the server and TLS settings (and the token when ``credentials`` is None);
        ``credentials``: where each request's token comes from (re-read on rotation and on 401)."""
        verify = tls_verify(info)
        source = credentials or CredentialSource.static(info)
        self._http = httpx.AsyncClient(
            base_url=info.server.rstrip("/"),
            headers={"User-Agent": "nylas-operator"},
            auth=BearerAuth(source),
            verify=verify,
            # The semaphore below already queues: the pool never waits, and every connection
            # is kept alive (no TLS handshake per burst request).
            limits=httpx.Limits(
                max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=60
            ),
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout), pool=timeout),
            # The apiserver is reached directly, as kopf's own client does: HTTPS_PROXY and
            # NO_PROXY are for the Nylas API (docs/production.md), and httpx cannot match the
            # apiserver's address against a NO_PROXY CIDR.
            trust_env=False,
        )
        self._slots = asyncio.Semaphore(concurrency)
        self._verify = verify
        self._watch_http: httpx.AsyncClient | None = None
        self.cache = WatchCache(CACHED, on_demand=frozenset({SECRETS}))
        self._events: list[asyncio.Queue[dict[str, Any]]] = []
        self._event_tasks: list[asyncio.Task[None]] = []
        self.on_event_dropped: Callable[[], None] | None = None  # e.g. a metric's inc()
        self.on_written: Callable[[str, str, str, str], None] | None = None
        """Told (plural, namespace, name, resourceVersion) after each object write of this process:
        an informer then knows which watch event is older than its own write."""

    async def aclose(self) -> None:
        await self.flush_events(EVENT_FLUSH_SECONDS)
        for task in self._event_tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._http.aclose()
        if self._watch_http is not None:
            await self._watch_http.aclose()

    def observe(self, plural: str, event_type: str | None, body: Mapping[str, Any]) -> None:
        """Feed one watch event of a cached kind (a shallow copy of the body may be kept)."""
        if self.cache.caches(plural):
            self.cache.observe(plural, event_type, dict(body))

    async def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One request within the concurrency bound; no answer → ``KubeUnavailable``."""
        async with self._slots:
            try:
                return await self._http.request(method, path, **kw)
            except httpx.TransportError as exc:  # incl. PoolTimeout, ConnectError, ReadTimeout
                raise KubeUnavailable(method, path, exc) from None

    async def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        response = await self._send(method, path, **kw)
        if response.status_code >= 400 and response.status_code != 404:
            raise KubeError(method, path, response.status_code)
        return response

    # -- Secrets -------------------------------------------------------------------------------
    async def read_secret(self, namespace: str, name: str) -> Secret | None:
        """From the watch cache when the Secret was read before, else one GET (cached too).
        Each key's version is its *content version* (``watchcache``): a new resourceVersion with
        the same value keeps the old one."""
        body = self.cache.get(SECRETS, namespace, name)
        if body is None:
            body = await self.refresh_secret(namespace, name)
            if body is None:
                return None
        return Secret.from_body(body, self.cache.content_versions(SECRETS, namespace, name))

    async def refresh_secret(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """One GET of a Secret into the cache (None and dropped from it when it is gone)."""
        self.cache.begin_read(SECRETS, namespace, name)
        try:
            response = await self._request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
            if response.status_code == 404:
                self.cache.drop(SECRETS, namespace, name)
                return None
            body: dict[str, Any] = response.json()
            self.cache.put(SECRETS, body)
        finally:
            self.cache.end_read(SECRETS, namespace, name)
        return self.cache.get(SECRETS, namespace, name) or body

    async def list_secret_metadata(
        self, namespace: str | None, limit: int = 500
    ) -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
        """Pages of Secrets' metadata only (``PartialObjectMetadataList``: no data), each with the
        list's resourceVersion."""
        path = f"/api/v1/namespaces/{namespace}/secrets" if namespace else "/api/v1/secrets"
        token: str | None = None
        while True:
            params: dict[str, Any] = {"limit": limit}
            if token:
                params["continue"] = token
            response = await self._request("GET", path, params=params, headers={"Accept": METADATA_LIST})
            doc = response.json()
            meta = doc.get("metadata") or {}
            yield (
                [item.get("metadata") or {} for item in doc.get("items") or []],
                str(meta.get("resourceVersion") or ""),
            )
            token = meta.get("continue")
            if not token:
                return

    async def watch_secret_metadata(
        self, namespace: str | None, resource_version: str, *, server_timeout: int
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Watch events of Secrets, metadata only: (type, metadata). ``WatchExpired`` when the
        apiserver no longer has ``resource_version`` (410 Gone: re-list)."""
        path = f"/api/v1/namespaces/{namespace}/secrets" if namespace else "/api/v1/secrets"
        async for type_, obj in self._watch(path, resource_version, server_timeout, METADATA_WATCH):
            yield type_, dict(obj.get("metadata") or {})

    async def watch_objects(
        self, plural: str, namespace: str | None, resource_version: str, *, server_timeout: int
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Watch events of one of our kinds: (type, object); ``WatchExpired`` after a 410."""
        async for event in self._watch(self._path(plural, namespace), resource_version, server_timeout):
            yield event

    async def _watch(
        self, path: str, resource_version: str, server_timeout: int, accept: str = "application/json"
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        params = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(server_timeout),
        }
        # Its own client: a watch holds its connection for minutes, not one of the request slots.
        if self._watch_http is None:
            self._watch_http = httpx.AsyncClient(
                base_url=self._http.base_url,
                headers={"User-Agent": "nylas-operator"},
                auth=self._http.auth,
                verify=self._verify,
                timeout=httpx.Timeout(server_timeout + 60.0, connect=10.0),
                trust_env=False,
            )
        try:
            async with self._watch_http.stream(
                "GET", path, params=params, headers={"Accept": accept}
            ) as response:
                if response.status_code == 410:
                    raise WatchExpired(resource_version)
                if response.status_code >= 400:
                    raise KubeError("GET", path + "?watch", response.status_code)
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        if obj.get("code") == 410:
                            raise WatchExpired(resource_version)
                        raise KubeError("GET", path + "?watch", int(obj.get("code") or 500))
                    yield str(event.get("type")), obj
        except httpx.TransportError as exc:
            raise KubeUnavailable("GET", path + "?watch", exc) from None

    async def write_owned_secret(
        self, namespace: str, name: str, data: Mapping[str, str], owner: Mapping[str, Any]
    ) -> SecretWrite:
        """Create or update the output Secret of ``owner`` (a grant); never touch a Secret the
        operator did not create for it.

        Ours means both marks the operator puts on creation: a controller ownerReference to this
        owner's uid and the label ``nylas-operator.io/grant=<owner name>``. A Secret missing either
        (a user's, another tool's, another grant's, or one with an ownerReference copied onto it)
        is left exactly as it is, and the result says why (falsy, with ``reason``)."""
        path = f"/api/v1/namespaces/{namespace}/secrets"
        ref = owner_reference(owner)
        label = {OUTPUT_SECRET_LABEL: ref["name"]}
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        response = await self._request("GET", f"{path}/{name}")
        if response.status_code == 404:
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "ownerReferences": [ref], "labels": label},
                "type": "Opaque",
                "data": encoded,
            }
            created = await self._send("POST", path, json=body)
            if created.status_code == 409:  # created by someone else meanwhile: not ours
                return SecretWrite.refused(f"Secret {name!r} was created by someone else meanwhile")
            if created.status_code >= 400:
                raise KubeError("POST", path, created.status_code)
            return SecretWrite(written=True)
        current = response.json()
        refusal = foreign_secret_reason(name, current.get("metadata") or {}, ref)
        if refusal is not None:
            return SecretWrite.refused(refusal)
        if current.get("data") != encoded:
            # Guarded by resourceVersion: a change in between (someone re-labels it) is a 409,
            # and the next reconcile looks again instead of overwriting.
            version = (current.get("metadata") or {}).get("resourceVersion")
            patched = await self._send(
                "PATCH",
                f"{path}/{name}",
                json={"metadata": {"resourceVersion": version}, "data": encoded},
                headers={"Content-Type": "application/merge-patch+json"},
            )
            if patched.status_code == 409:
                return SecretWrite.refused(f"Secret {name!r} changed while it was being written")
            if patched.status_code >= 400:
                raise KubeError("PATCH", f"{path}/{name}", patched.status_code)
        return SecretWrite(written=True)

    # -- our objects ---------------------------------------------------------------------------
    @staticmethod
    def _path(plural: str, namespace: str | None, name: str | None = None) -> str:
        base = f"/apis/{GROUP}/{VERSION}"
        path = f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"
        return f"{path}/{name}" if name else path

    async def list_objects(self, plural: str, namespace: str | None) -> list[dict[str, Any]]:
        """Every object of a kind in a namespace (None: all namespaces), paged by 500."""
        return [item async for page in self.list_pages(plural, namespace) for item in page]

    async def list_pages(
        self, plural: str, namespace: str | None, limit: int = 500
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The same, one page at a time: 10,000 parsed bodies at once cost more than 100 MB."""
        async for items, _ in self.list_versioned(plural, namespace, limit):
            yield items

    async def list_versioned(
        self, plural: str, namespace: str | None, limit: int = 500
    ) -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
        """Pages of a kind, each with the list's resourceVersion (where a watch starts)."""
        token: str | None = None
        while True:
            params: dict[str, Any] = {"limit": limit}
            if token:
                params["continue"] = token
            response = await self._request("GET", self._path(plural, namespace), params=params)
            if response.status_code == 404:
                return
            doc = response.json()
            meta = doc.get("metadata") or {}
            yield list(doc.get("items") or []), str(meta.get("resourceVersion") or "")
            token = meta.get("continue")
            if not token:
                return

    async def get_object(
        self, plural: str, namespace: str, name: str, *, cached: bool = False
    ) -> dict[str, Any] | None:
        """``cached``: the watch cache's body when there is one (as fresh as the watch)."""
        if cached and (hit := self.cache.get(plural, namespace, name)) is not None:
            return dict(hit)
        response = await self._request("GET", self._path(plural, namespace, name))
        if response.status_code == 404:
            return None
        body = dict(response.json())
        self.cache.put(plural, body)
        return body

    async def read_crd(self, plural: str) -> dict[str, Any] | None:
        """Our CustomResourceDefinition of ``plural`` (None when it is not installed)."""
        path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{plural}.{GROUP}"
        response = await self._request("GET", path)
        return None if response.status_code == 404 else dict(response.json())

    async def patch_object(
        self, plural: str, namespace: str, name: str, body: Mapping[str, Any], *, status: bool = False
    ) -> bool:
        """JSON merge patch of the object (or its status subresource); False if it is gone."""
        path = self._path(plural, namespace, name) + ("/status" if status else "")
        response = await self._request(
            "PATCH", path, json=dict(body), headers={"Content-Type": "application/merge-patch+json"}
        )
        if response.status_code == 404:
            return False
        self._written(plural, namespace, name, response)
        return True

    def _written(self, plural: str, namespace: str, name: str, response: httpx.Response) -> dict[str, Any]:
        body: dict[str, Any] = response.json()
        if self.cache.caches(plural):  # write-through: readers woken after this see the write
            self.cache.put(plural, body)
        if self.on_written is not None:
            self.on_written(plural, namespace, name, str(body.get("metadata", {}).get("resourceVersion", "")))
        return body

    async def set_finalizers(
        self, plural: str, namespace: str, name: str, finalizers: list[str], resource_version: str
    ) -> dict[str, Any] | None:
        """Replace the finalizers if the object is still at ``resource_version``: the new body;
        None when it changed meanwhile (409) or is gone (404): read it again."""
        path = self._path(plural, namespace, name)
        body = {"metadata": {"resourceVersion": resource_version, "finalizers": finalizers}}
        response = await self._send(
            "PATCH", path, json=body, headers={"Content-Type": "application/merge-patch+json"}
        )
        if response.status_code in (404, 409):
            return None
        if response.status_code >= 400:
            raise KubeError("PATCH", path, response.status_code)
        return self._written(plural, namespace, name, response)

    async def annotate(
        self, plural: str, namespace: str, name: str, annotations: Mapping[str, str | None]
    ) -> bool:
        return await self.patch_object(
            plural, namespace, name, {"metadata": {"annotations": dict(annotations)}}
        )

    async def annotate_if_unchanged(
        self,
        plural: str,
        namespace: str,
        name: str,
        annotations: Mapping[str, str | None],
        resource_version: str,
    ) -> bool | None:
        """Annotate only if the object is still at ``resource_version``: True when written, False
        when it changed meanwhile (HTTP 409), None when it is gone. Two writers that read the same
        version cannot both succeed."""
        path = self._path(plural, namespace, name)
        body = {"metadata": {"resourceVersion": resource_version, "annotations": dict(annotations)}}
        response = await self._send(
            "PATCH", path, json=body, headers={"Content-Type": "application/merge-patch+json"}
        )
        if response.status_code == 404:
            return None
        if response.status_code == 409:
            return False
        if response.status_code >= 400:
            raise KubeError("PATCH", path, response.status_code)
        self._written(plural, namespace, name, response)
        return True

    # -- the health canary ConfigMap -------------------------------------------------------------
    async def ensure_configmap(self, namespace: str, name: str, labels: Mapping[str, str]) -> None:
        """Create the ConfigMap with ``labels``, or restore those labels if it exists."""
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": dict(labels)}}
        created = await self._send("POST", path, json=body)
        if created.status_code == 409:
            await self.patch_configmap(namespace, name, {"metadata": {"labels": dict(labels)}})
        elif created.status_code >= 400:
            raise KubeError("POST", path, created.status_code)

    async def patch_configmap(self, namespace: str, name: str, body: Mapping[str, Any]) -> bool:
        """JSON merge patch of a ConfigMap; False if it does not exist."""
        response = await self._request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/configmaps/{name}",
            json=dict(body),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        return response.status_code != 404

    # -- events --------------------------------------------------------------------------------
    async def post_event(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """A core/v1 Event about ``obj``, posted in the background, in the order recorded per
        object (as client-go's recorder does: a reconcile never waits for its events, and its
        status write is not delayed by them). Best effort: failures are logged at DEBUG, never
        raised; when ``EVENT_QUEUE_SIZE`` events wait for one poster, new ones are dropped and
        counted."""
        meta = obj.get("metadata", {})
        namespace = meta.get("namespace", "default")
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta.get('name', 'object')}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": meta.get("name"),
                "namespace": namespace,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "source": {"component": "nylas-operator"},
            "reportingComponent": "nylas-operator",
        }
        if not self._events:
            self._events = [asyncio.Queue(maxsize=EVENT_QUEUE_SIZE) for _ in range(EVENT_POSTERS)]
            self._event_tasks = [
                asyncio.create_task(self._post_events(queue), name=f"kubernetes events {i}")
                for i, queue in enumerate(self._events)
            ]
        # One poster per object (by uid): its events stay in order, other objects' run beside.
        queue = self._events[event_poster(str(meta.get("uid") or meta.get("name")))]
        try:
            queue.put_nowait(body)
        except asyncio.QueueFull:
            if self.on_event_dropped is not None:
                self.on_event_dropped()
            log.debug("event %s for %s/%s dropped: the queue is full", reason, namespace, meta.get("name"))

    async def flush_events(self, seconds: float) -> None:
        """Wait (at most ``seconds``) until every recorded event was posted or given up."""
        if self._events:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(queue.join() for queue in self._events)), seconds)

    async def _post_events(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            body = await queue.get()
            try:
                await self._post_event(body)
            finally:
                queue.task_done()

    async def _post_event(self, body: dict[str, Any]) -> None:
        namespace, reason = body["metadata"]["namespace"], body["reason"]
        name = body["involvedObject"]["name"]
        try:
            response = await self._send("POST", f"/api/v1/namespaces/{namespace}/events", json=body)
            if response.status_code >= 400:
                # A terminating namespace refuses new events: expected during teardown.
                log.debug(
                    "event %s for %s/%s not posted: HTTP %s", reason, namespace, name, response.status_code
                )
        except (httpx.HTTPError, KubeError) as exc:
            log.debug("event %s not posted: %s", reason, type(exc).__name__)


def event_poster(uid: str) -> int:
    """Which poster takes an object's events (stable across processes, unlike ``hash``)."""
    return zlib.crc32(uid.encode()) % EVENT_POSTERS


class Secret:
    """A Secret's data as ``SecretStr`` values (decoded), its resourceVersion and each key's
    content version (the resourceVersion at which its value last changed, as far as this process
    saw; the resourceVersion when unknown)."""

    __slots__ = ("data", "resource_version", "versions")

    def __init__(
        self, data: dict[str, SecretStr], resource_version: str, versions: Mapping[str, str] | None = None
    ) -> None:
        self.data = data
        self.resource_version = resource_version
        self.versions = dict(versions or {})

    def version_of(self, key: str) -> str:
        return self.versions.get(key, self.resource_version)

    def __repr__(self) -> str:
        return f"Secret(keys={sorted(self.data)}, resource_version={self.resource_version!r})"

    @classmethod
    def from_body(cls, body: Mapping[str, Any], versions: Mapping[str, str] | None = None) -> Secret:
        data: dict[str, SecretStr] = {}
        for key, value in (body.get("data") or {}).items():
            try:
                data[key] = SecretStr(base64.b64decode(value).decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue  # not text: treated as a missing key by the caller
        for key, value in (body.get("stringData") or {}).items():
            data.setdefault(key, SecretStr(str(value)))
        return cls(data, str((body.get("metadata") or {}).get("resourceVersion", "")), versions)


OUTPUT_SECRET_LABEL: Final = f"{GROUP}/grant"
"""Set on every output Secret the operator creates (value: the grant's name)."""


@dataclass(frozen=True, slots=True)
class SecretWrite:
    """Outcome of ``write_owned_secret``: truthy when written (or already up to date)."""

    written: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.written

    @classmethod
    def refused(cls, reason: str) -> SecretWrite:
        return cls(written=False, reason=reason)


def foreign_secret_reason(name: str, meta: Mapping[str, Any], ref: Mapping[str, Any]) -> str | None:
    """Why the existing Secret ``name`` is not the operator's output Secret for ``ref``'s owner
    (None when it is: a controller ownerReference to that uid and our label with its name)."""
    owners = meta.get("ownerReferences") or []
    owned = any(o.get("uid") == ref["uid"] and o.get("controller") for o in owners)
    labelled = (meta.get("labels") or {}).get(OUTPUT_SECRET_LABEL) == ref["name"]
    if owned and labelled:
        return None
    what = f"{ref['kind']} {ref['name']}"
    if not owned and not labelled:
        why = "the operator did not create it"
    elif not owned:
        why = f"it is labelled {OUTPUT_SECRET_LABEL}={ref['name']} but not owned by this {ref['kind']}"
    else:
        why = f"it lacks the label {OUTPUT_SECRET_LABEL}={ref['name']} the operator sets on creation"
    return (
        f"Secret {name!r} exists and {why}: not overwritten. Delete it or choose another "
        f"writeGrantToSecret.name for {what}"
    )


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    meta = owner["metadata"]
    return {
        "apiVersion": owner.get("apiVersion", f"{GROUP}/{VERSION}"),
        "kind": owner.get("kind", KINDS[GRANTS]),
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
