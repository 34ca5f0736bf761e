"""Small helpers for e2e tests: manifests, kubectl apply/get, bounded waits."""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import yaml

from fixtures import leaks

GROUP_VERSION = "nylas-operator.io/v1alpha1"
API_KEY_SECRET = "nylas-api-key"
AZURE_SECRET = "azure-app"
GOOGLE_SECRET = "google-sa-key"
AZURE_CLIENT_SECRET = "azure-client-secret-value-e2e"  # a value the leak scan looks for

T = TypeVar("T")
Kubectl = Callable[..., str]


def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    """A Secret manifest; its values are registered for the leak scan (scenario 17)."""
    leaks.register_secret_data(data)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def connector(
    name: str,
    emu: Any,
    provider: str,
    *,
    scopes: list[str] | None = None,
    deletion_policy: str = "Orphan",
    client_secret_name: str = AZURE_SECRET,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "provider": provider,
        "application": {
            "apiKeySecretRef": {"name": API_KEY_SECRET, "key": "apiKey"},
            "clientId": emu.application_id,
            "apiUrl": emu.url,
        },
        "providerApp": {
            "clientId": f"{provider}-app-id",
            "clientSecretRef": {"name": client_secret_name, "key": "clientSecret"},
        },
        "deletionPolicy": deletion_policy,
    }
    if scopes:
        spec["scopes"] = scopes
    return {"apiVersion": GROUP_VERSION, "kind": "NylasConnector", "metadata": {"name": name}, "spec": spec}


def credential(name: str, connector_name: str, type_: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"connectorRef": {"name": connector_name}, "type": type_, **spec}
    return {"apiVersion": GROUP_VERSION, "kind": "NylasCredential", "metadata": {"name": name}, "spec": body}


def grant(name: str, credential_name: str, email: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"credentialRef": {"name": credential_name}, "email": email, **spec}
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "ServiceAccountGrant",
        "metadata": {"name": name},
        "spec": body,
    }


def apply(kubectl: Kubectl, namespace: str, objects: Iterable[dict[str, Any]]) -> None:
    docs = list(objects)
    leaks.register_manifests(docs)  # Secrets from examples/ or hand-made manifests too
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(docs))


def get(kubectl: Kubectl, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
    out = kubectl("get", "-n", namespace, kind, name, "-o", "json", "--ignore-not-found", check=False)
    return json.loads(out) if out.strip() else None


def items(kubectl: Kubectl, namespace: str, kind: str) -> list[dict[str, Any]]:
    return list(json.loads(kubectl("get", "-n", namespace, kind, "-o", "json"))["items"])


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def eventually(probe: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.3) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def wait_condition(
    kubectl: Kubectl,
    namespace: str,
    kind: str,
    name: str,
    type_: str,
    status: str = "True",
    *,
    reason: str | None = None,
    timeout: float = 60.0,
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        obj = get(kubectl, namespace, kind, name)
        cond = condition(obj, type_)
        if cond and cond.get("status") == status and (reason is None or cond.get("reason") == reason):
            return obj
        return None

    return eventually(probe, timeout=timeout, what=f"{kind}/{name} {type_}={status} {reason or ''}")


def wait_all_ready(kubectl: Kubectl, namespace: str, kind: str, *, timeout: int = 60) -> None:
    """`kubectl wait --for=condition=Ready` on every object of a kind: what users run."""
    kubectl(
        "wait",
        "-n",
        namespace,
        "--for=condition=Ready",
        kind,
        "--all",
        f"--timeout={timeout}s",
        timeout=timeout + 10,
    )


def events(kubectl: Kubectl, namespace: str) -> list[dict[str, Any]]:
    return list(json.loads(kubectl("get", "-n", namespace, "events", "-o", "json"))["items"])


def parse_time(text: str) -> float:
    """An RFC 3339 timestamp from status (``...Z``) as seconds since the epoch."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@contextlib.contextmanager
def watch(namespace: str, kind: str, template: str) -> Iterator[list[str]]:
    """Lines of ``kubectl get --watch -o jsonpath=template`` (one per object version) while inside.

    Catches short-lived states a poll can miss, e.g. a status written and replaced within a reconcile.
    """
    proc = subprocess.Popen(
        ["kubectl", "get", "-n", namespace, kind, "--watch", "-o", "jsonpath=" + template + '{"\\n"}'],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield lines
    finally:
        proc.terminate()
        proc.wait(10)
        reader.join(5)
