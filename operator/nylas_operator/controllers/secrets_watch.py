"""Secret rotation: a changed Secret wakes the objects that reference it, within seconds.

Owns: the Secret ``on.event`` handler. It never uses kopf change handlers on Secrets (kopf would
copy their data into an annotation and its debug logs) and no ``kopf.index`` (its start-up cost
grows about quadratically with the number of objects). It keeps, in memory only, a keyed digest
of each Secret's data; when the digest changes (or the Secret appears or disappears after
start-up), it asks the scheduler to reconcile the connectors and credentials of that namespace
that reference the Secret. Initial-listing events only record the digest: at start-up every object is resumed
anyway. The handler returns None, so kopf writes nothing into Secrets.
It also feeds every Secret event to the Kubernetes helper's in-memory watch cache, from which
reconciles read Secret values (memory only; never logged).
Does not own: re-reading the Secret (the woken object's reconcile does).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from typing import Any

import kopf

from nylas_operator.controllers.context import context_of
from nylas_operator.controllers.scheduler import Scheduler
from nylas_operator.kube import CONNECTORS, CREDENTIALS, SECRETS, Kube

log = logging.getLogger("nylas_operator.secrets")

_KEY = secrets.token_bytes(32)
_digests: dict[tuple[str, str], bytes] = {}


def digest(data: Mapping[str, Any] | None) -> bytes:
    mac = hmac.new(_KEY, digestmod=hashlib.sha256)
    for key in sorted(data or {}):
        mac.update(key.encode() + b"\0" + str((data or {})[key]).encode() + b"\0")
    return mac.digest()


def referenced_secrets(plural: str, spec: Mapping[str, Any]) -> set[str]:
    """Names of the Secrets an object's spec references."""
    refs: list[Any] = []
    if plural == CONNECTORS:
        refs = [
            (spec.get("application") or {}).get("apiKeySecretRef"),
            (spec.get("providerApp") or {}).get("clientSecretRef"),
        ]
    elif plural == CREDENTIALS:
        refs = [
            (spec.get("adminConsent") or {}).get("clientSecretRef"),
            (spec.get("serviceAccount") or {}).get("keySecretRef"),
        ]
    return {r["name"] for r in refs if isinstance(r, Mapping) and r.get("name")}


def changed(event_type: str | None, namespace: str, name: str, data: Mapping[str, Any] | None) -> bool:
    """Record the Secret's digest; True when referencing objects should be woken."""
    key = (namespace, name)
    if event_type == "DELETED":
        return _digests.pop(key, None) is not None
    new = digest(data)
    old = _digests.get(key)
    _digests[key] = new
    if event_type is None:  # initial listing: start-up resumes every object anyway
        return False
    return old is None or not hmac.compare_digest(old, new)


def wake_referrers(kube: Kube, scheduler: Scheduler, namespace: str, name: str) -> int:
    """Bump the connectors and credentials that reference the Secret ``name``. They come from the
    watch cache, not a LIST: every new Secret in a served namespace (each grant's output Secret
    too) is a change here. One the cache does not show yet reads the Secret itself anyway."""
    count = 0
    for plural in (CONNECTORS, CREDENTIALS):
        for obj in kube.cache.items(plural, namespace):
            if obj["metadata"].get("deletionTimestamp"):
                continue
            if name in referenced_secrets(plural, obj.get("spec") or {}):
                scheduler.now((plural, namespace, obj["metadata"]["name"]), "secret")
                count += 1
    return count


async def on_secret_event(
    type: str | None,
    body: kopf.Body,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    meta = body.get("metadata") or {}
    namespace, name = meta.get("namespace"), meta.get("name")
    if not namespace or not name:
        return None
    ctx = context_of(memo)
    # The cache first: the objects woken below read the new values from it.
    ctx.kube.observe(SECRETS, type, body)
    if not changed(type, namespace, name, body.get("data")):
        return None
    woken = wake_referrers(ctx.kube, ctx.scheduler, namespace, name)
    if woken:
        log.info("Secret %s/%s changed: woke %d object(s)", namespace, name, woken)
    return None


def register(registry: kopf.OperatorRegistry) -> None:
    kopf.on.event("v1", "secrets", registry=registry, id="secret-rotation")(on_secret_event)
