"""A small synchronous client for the three kinds: list, watch, get, annotate (merge patch).

Owns: the HTTP session (httpx, TLS and headers from ``kopf.ConnectionInfo`` as in ``kube.py``),
paging, watching (with bookmarks; an expired version is ``Expired``), and turning apiserver
refusals into ``ApiError`` with the apiserver's own message (which names the user and verb for a
403 and the admission policy for a denial). Bodies of our objects hold no secret values (Secrets
are only referenced), so they can be shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

import httpx

from nylas_operator.api.common import GROUP, VERSION
from nylas_operator.plugin.kubeconfig import Target

CONNECTORS: Final = "nylasconnectors"
CREDENTIALS: Final = "nylascredentials"
GRANTS: Final = "serviceaccountgrants"
KIND_OF: Final = {CONNECTORS: "NylasConnector", CREDENTIALS: "NylasCredential", GRANTS: "ServiceAccountGrant"}


class ApiError(Exception):
    """The apiserver refused or could not be reached; ``str()`` is meant for the user."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Expired(Exception):
    """A watch's resourceVersion is gone from the apiserver's history (HTTP 410): list again."""


class Client:
    def __init__(self, target: Target, *, timeout: float = 30.0) -> None:
        try:
            verify = target.info.as_ssl_context()
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: a bad CA or key file
            raise ApiError(f"the kubeconfig's certificates cannot be used: {type(exc).__name__}") from None
        self._http = httpx.Client(
            base_url=target.info.server.rstrip("/"),
            headers={**target.info.as_http_headers(), "User-Agent": "kubectl-nylas"},
            verify=verify,
            timeout=timeout,
            # kubectl's choice: the kubeconfig's proxy-url, else HTTPS_PROXY/NO_PROXY from the environment.
            proxy=target.info.proxy_url or None,
        )
        self.server = target.info.server

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def path(plural: str, namespace: str | None, name: str | None = None) -> str:
        base = f"/apis/{GROUP}/{VERSION}"
        path = f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"
        return f"{path}/{name}" if name else path

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise ApiError(f"cannot reach the apiserver at {self.server}: {type(exc).__name__}") from None
        if response.status_code >= 400 and response.status_code != 404:
            raise ApiError(_refusal(method, path, response), response.status_code)
        return response

    def list_objects(
        self, plural: str, namespace: str | None, *, selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Every object of ``plural`` in ``namespace`` (None: all namespaces), paged by 500."""
        return self.list_with_version(plural, namespace, selector=selector)[0]

    def list_with_version(
        self, plural: str, namespace: str | None, *, selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """The objects and the list's resourceVersion (where a watch of them starts)."""
        items: list[dict[str, Any]] = []
        version = ""
        token: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 500}
            if token:
                params["continue"] = token
            if selector:
                params["labelSelector"] = selector
            response = self._request("GET", self.path(plural, namespace), params=params)
            if response.status_code == 404:
                raise ApiError(
                    f"the {KIND_OF[plural]} kind is not installed in this cluster "
                    "(apply the CRDs: crds/ or the Helm chart)",
                    404,
                )
            doc = response.json()
            items.extend(doc.get("items") or [])
            meta = doc.get("metadata") or {}
            version = version or str(meta.get("resourceVersion") or "")  # the first page's snapshot
            token = meta.get("continue")
            if not token:
                return items, version

    def watch(
        self,
        plural: str,
        namespace: str | None,
        *,
        resource_version: str,
        seconds: float,
        selector: str | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Watch events (type, object) after ``resource_version`` for at most ``seconds``.

        Raises ``Expired`` when that version is too old (the caller lists again)."""
        params: dict[str, Any] = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": max(1, int(seconds)),
        }
        if selector:
            params["labelSelector"] = selector
        path = self.path(plural, namespace)
        try:
            with self._http.stream(
                "GET", path, params=params, timeout=httpx.Timeout(10.0, read=seconds + 30.0)
            ) as response:
                if response.status_code == 410:
                    raise Expired(resource_version)
                if response.status_code >= 400:
                    response.read()
                    raise ApiError(_refusal("GET", path, response), response.status_code)
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    kind, obj = str(event.get("type")), dict(event.get("object") or {})
                    if kind == "ERROR":
                        if obj.get("code") == 410:
                            raise Expired(resource_version)
                        raise ApiError(
                            str(obj.get("message") or "the watch failed"), int(obj.get("code") or 0)
                        )
                    yield kind, obj
        except httpx.TransportError as exc:
            raise ApiError(f"cannot reach the apiserver at {self.server}: {type(exc).__name__}") from None

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        response = self._request("GET", self.path(plural, namespace, name))
        return None if response.status_code == 404 else dict(response.json())

    def annotate(
        self, plural: str, namespace: str, name: str, annotations: Mapping[str, str | None]
    ) -> dict[str, Any] | None:
        """Merge-patch ``metadata.annotations`` as the user; None if the object is gone."""
        response = self._request(
            "PATCH",
            self.path(plural, namespace, name),
            json={"metadata": {"annotations": dict(annotations)}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        return None if response.status_code == 404 else dict(response.json())


def _refusal(method: str, path: str, response: httpx.Response) -> str:
    """The apiserver's Status message (it names the user, verb and resource, or the policy)."""
    try:
        body = response.json()
        message = str(body.get("message") or "") if isinstance(body, dict) else ""
    except ValueError:
        message = ""
    if response.status_code == 401:
        return "the apiserver rejected the credentials (401): log in again or check the kubeconfig's user"
    return message or f"{method} {path}: HTTP {response.status_code}"
