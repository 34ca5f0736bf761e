"""The objects the benchmarks create, and the setup every benchmark shares.

Owns: manifests of the Secrets, connectors, credentials and grants (pointed at the emulator), the
"pre-consented" setup (consent approved in the emulator and recorded on the credential by annotation,
with a chosen scope-cache delay), bulk creation of grants, and the bare client's "floor" writes.
Does not own: processes or measurements (``common.py``).
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass
from typing import Any

from bench.common import Emulator
from bench.kube import CONNECTORS, CREDENTIALS, GRANTS, GROUP, VERSION, KubeClient, bounded, is_ready

API_VERSION = f"{GROUP}/{VERSION}"
FINALIZER = "nylas-operator.io/finalizer"
FAKE_GOOGLE_KEY = (
    '{"type": "service_account", "project_id": "bench", "private_key_id": "0123456789abcdef",'
    ' "private_key": "-----BEGIN PRIVATE KEY-----\\nQmVuY2htYXJrRmFrZUtleQ==\\n-----END PRIVATE KEY-----\\n",'
    ' "client_email": "bulk@bench.iam.gserviceaccount.com", "client_id": "1", '
    '"token_uri": "https://oauth2.googleapis.com/token"}'
)
GOOGLE_SCOPES = ["https://www.googleapis.com/auth/calendar"]


@dataclass(frozen=True)
class Provider:
    name: str  # microsoft | google
    connector: str
    credential: str


MICROSOFT = Provider("microsoft", "ms", "ms-cred")
GOOGLE = Provider("google", "gw", "gw-cred")


def connector(provider: Provider, emu: Emulator) -> dict[str, Any]:
    app: dict[str, Any] = {
        "clientId": f"{provider.name}-app",
        "clientSecretRef": {"name": "app", "key": "secret"},
    }
    spec: dict[str, Any] = {
        "provider": provider.name,
        "application": {
            "apiKeySecretRef": {"name": "nylas", "key": "apiKey"},
            "clientId": emu.application_id,
            "apiUrl": emu.url,
        },
        "providerApp": app,
    }
    return {
        "apiVersion": API_VERSION,
        "kind": "NylasConnector",
        "metadata": {"name": provider.connector},
        "spec": spec,
    }


def credential(provider: Provider, scope_cache_delay: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"connectorRef": {"name": provider.connector}}
    if provider.name == "microsoft":
        spec.update(
            type="adminconsent", adminConsent={"tenant": "bench-tenant"}, scopeCacheDelay=scope_cache_delay
        )
    else:
        spec.update(
            type="serviceaccount", serviceAccount={"keySecretRef": {"name": "google-key", "key": "key"}}
        )
    return {
        "apiVersion": API_VERSION,
        "kind": "NylasCredential",
        "metadata": {"name": provider.credential},
        "spec": spec,
    }


def grant(provider: Provider, name: str, email: str, deletion_policy: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"credentialRef": {"name": provider.credential}, "email": email}
    if deletion_policy is not None:
        spec["deletionPolicy"] = deletion_policy
    if provider.name == "google":
        spec["scopes"] = GOOGLE_SCOPES
    return {
        "apiVersion": API_VERSION,
        "kind": "ServiceAccountGrant",
        "metadata": {"name": name},
        "spec": spec,
    }


def grant_names(provider: Provider, n: int, prefix: str = "g") -> list[tuple[str, str]]:
    """(object name, email) pairs; emails are unique per provider."""
    return [
        (f"{prefix}-{provider.name[:2]}-{i:05d}", f"user{i:05d}@{provider.name}.bench.example")
        for i in range(n)
    ]


async def wait_until(
    kube: KubeClient, plural: str, namespace: str, name: str, check: Any, within: float
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = await kube.get(plural, namespace, name)
        if check(body):
            return body
        await asyncio.sleep(0.3)
    raise TimeoutError(f"{plural}/{name} not as expected after {within:.0f}s; status={body.get('status')}")


async def secrets(kube: KubeClient, namespace: str, emu: Emulator) -> None:
    await kube.create_secret(namespace, "nylas", {"apiKey": emu.api_key})
    await kube.create_secret(namespace, "app", {"secret": "bench-client-secret"})
    await kube.create_secret(namespace, "google-key", {"key": FAKE_GOOGLE_KEY})


async def setup_provider(
    kube: KubeClient,
    namespace: str,
    emu: Emulator,
    provider: Provider,
    *,
    scope_cache_delay: str = "0s",
    consent: bool = True,
    within: float = 120.0,
) -> dict[str, Any]:
    """Connector + credential Ready (Microsoft: consent approved in the emulator, then recorded by
    annotation); returns the credential. The operator must be running on ``namespace``."""
    await kube.create(CONNECTORS, namespace, connector(provider, emu))
    await kube.create(CREDENTIALS, namespace, credential(provider, scope_cache_delay))
    body = await wait_until(
        kube,
        CREDENTIALS,
        namespace,
        provider.credential,
        lambda b: (b.get("status") or {}).get("credentialId"),
        within,
    )
    if provider.name == "microsoft" and not consent:
        return body
    if provider.name == "microsoft":
        record_consent(emu, body["status"]["credentialId"])
        await kube.merge_patch(
            CREDENTIALS,
            namespace,
            provider.credential,
            {"metadata": {"annotations": {"nylas-operator.io/admin-consent": "granted"}}},
        )
    return await wait_until(kube, CREDENTIALS, namespace, provider.credential, _consented, within)


def record_consent(emu: Emulator, credential_id: str) -> None:
    # Approved a second before the operator records it: the emulator's settle window then always
    # ends no later than the operator's, whatever the rounding of grantedAt.
    emu.control.approve_consent(credential_id, decided_at=time.time() - 1.0)


def _consented(body: dict[str, Any]) -> bool:
    status = body.get("status") or {}
    if (body["spec"].get("type")) == "serviceaccount":
        return is_ready(body)
    return any(r.get("grantedAt") for r in status.get("consent") or [])


async def create_grants(
    kube: KubeClient,
    namespace: str,
    provider: Provider,
    pairs: list[tuple[str, str]],
    concurrency: int,
    deletion_policy: str | None = None,
) -> float:
    """Bulk-create the grant objects; returns the seconds it took."""
    started = time.monotonic()
    await bounded(
        concurrency,
        [
            functools.partial(kube.create, GRANTS, namespace, grant(provider, n, e, deletion_policy))
            for n, e in pairs
        ],
    )
    return time.monotonic() - started


def ready_status(generation: int, email: str, index: int) -> dict[str, Any]:
    """A realistic final status of a Ready Microsoft grant (what the operator's one write holds)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def cond(type_: str, reason: str) -> dict[str, Any]:
        return {
            "type": type_,
            "status": "True",
            "reason": reason,
            "message": "",
            "lastTransitionTime": now,
            "observedGeneration": generation,
        }

    return {
        "phase": "Ready",
        "observedGeneration": generation,
        "grantId": f"floor-grant-{index:06d}-0123456789abcdef",
        "grantStatus": "valid",
        "provider": "microsoft",
        "credentialId": "floor-credential-0123456789abcdef",
        "eligibleAt": now,
        "conditions": [
            cond("Ready", "Available"),
            cond("Synced", "ReconcileSuccess"),
            cond("CredentialsResolved", "Resolved"),
            cond("ConsentGranted", "ConsentGranted"),
            cond("ConsentSettled", "ConsentSettled"),
        ],
    }


async def floor_writes(
    kube: KubeClient, namespace: str, names: list[tuple[str, str]], concurrency: int
) -> float:
    """The minimum any operator must write per object: add a finalizer, write a Ready status.

    Sequential per object (the status write follows the finalizer, as an operator's would); objects
    in parallel with at most ``concurrency`` in flight. Returns the seconds it took.
    """

    async def one(index: int, name: str, email: str) -> None:
        body = await kube.merge_patch(GRANTS, namespace, name, {"metadata": {"finalizers": [FINALIZER]}})
        generation = int(body["metadata"].get("generation") or 1)
        await kube.merge_patch(
            GRANTS, namespace, name, {"status": ready_status(generation, email, index)}, status=True
        )

    started = time.monotonic()
    await bounded(concurrency, [functools.partial(one, i, n, e) for i, (n, e) in enumerate(names)])
    return time.monotonic() - started


async def ready_grants(
    kube: KubeClient,
    namespace: str,
    provider: Provider,
    start: int,
    stop: int,
    *,
    concurrency: int = 32,
    within: float = 3600.0,
    watcher: Any = None,
) -> tuple[float, bool]:
    """Create grants ``start..stop-1`` and wait until all are Ready (by ``watcher``, a ReadyWatcher
    on ``namespace``); returns (seconds from the first create to the last Ready, all ready)."""
    pairs = grant_names(provider, stop)[start:]
    started = time.time()
    await create_grants(kube, namespace, provider, pairs, concurrency)
    done = await watcher.wait_ready([name for name, _ in pairs], within)
    finished = max((watcher.ready_at.get(name, 0.0) for name, _ in pairs), default=started)
    return (finished if done else time.time()) - started, bool(done)
