"""The liveness canary's Kubernetes side: its ConfigMap, the token writes and the watch handler.

Owns: the ConfigMap's fixed name and label (the chart's RBAC names them), ``write_token`` (the
``HealthState`` canary callable), the ``on.event`` handler that hands seen tokens to
``HealthState.note_event`` and the server-side selectors that make kopf watch only this one
ConfigMap. Does not own: timing and the liveness verdict (``observability/health.py``).

The label is restored at every start-up but not at every write: someone removing it makes the
watch deliver nothing, liveness fails, and the restarted pod repairs it.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import kopf

from nylas_operator.api.common import GROUP
from nylas_operator.kube import Kube

log = logging.getLogger("nylas_operator.canary")

NAME: Final = "nylas-operator-canary"
LABEL: Final = f"{GROUP}/canary"
LABELS: Final = {LABEL: "true", "app.kubernetes.io/managed-by": "nylas-operator"}
TOKEN_ANNOTATION: Final = f"{GROUP}/canary-token"
RESOURCE: Final = "configmaps"
HANDLER_ID: Final = "health-canary"


def tune(settings: kopf.OperatorSettings) -> None:
    """Server-side filters: kopf lists and watches only the canary (by label and by name).

    The name selector also lets RBAC restrict list/watch with ``resourceNames``.
    """
    settings.watching.label_selectors["v1", RESOURCE] = f"{LABEL}=true"
    settings.watching.field_selectors["v1", RESOURCE] = f"metadata.name={NAME}"


async def ensure(kube: Kube, namespace: str) -> None:
    await kube.ensure_configmap(namespace, NAME, LABELS)


async def write_token(kube: Kube, namespace: str, token: str) -> None:
    """One canary write; recreates the ConfigMap if someone deleted it."""
    patch = {"metadata": {"annotations": {TOKEN_ANNOTATION: token}}}
    if not await kube.patch_configmap(namespace, NAME, patch):
        await ensure(kube, namespace)
        await kube.patch_configmap(namespace, NAME, patch)


async def on_canary_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    health = getattr(memo, "health", None)
    if health is None or body.get("metadata", {}).get("name") != NAME:
        return None
    token = (
        None if type == "DELETED" else body.get("metadata", {}).get("annotations", {}).get(TOKEN_ANNOTATION)
    )
    health.note_event(RESOURCE, canary_token=token)
    metrics = getattr(getattr(memo, "ctx", None), "metrics", None)
    if metrics is not None:
        metrics.note_watch_event(RESOURCE)
    return None


def register(registry: kopf.OperatorRegistry) -> None:
    kopf.on.event("v1", RESOURCE, registry=registry, id=HANDLER_ID)(on_canary_event)
