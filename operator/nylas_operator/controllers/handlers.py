"""Registering each kind's handlers on our own kopf registry (never kopf's global default).

Owns: the table of kinds (plural, typed status model, reconcile shell, delete, which objects get
the finalizer), one create/update/resume handler trio per kind calling its ``reconcile`` through
``flow.run`` (which trigger fired does not matter), and a delete handler (its finalizer is
``nylas-operator.io/finalizer``, set in the runner; a kind may limit it to the objects whose
deletion needs the operator, e.g. grants with ``deletionPolicy: Delete``). Every handler
returns None: kopf would copy return values into ``status.<handler id>``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import kopf
from pydantic import BaseModel

from nylas_operator.api.common import GROUP, VERSION
from nylas_operator.api.connector import NylasConnectorStatus
from nylas_operator.api.credential import NylasCredentialStatus
from nylas_operator.api.grant import ServiceAccountGrantStatus
from nylas_operator.controllers import activity, connector, credential, flow, grant
from nylas_operator.controllers.context import Context, context_of
from nylas_operator.controllers.scheduler import Key
from nylas_operator.kube import CONNECTORS, CREDENTIALS, GRANTS

Delete = Callable[[Context, Mapping[str, Any], float], Awaitable[None]]


@dataclass(frozen=True)
class Kind:
    plural: str
    status: type[BaseModel]
    reconcile: flow.Reconcile
    delete: Delete
    needs_finalizer: Callable[[Mapping[str, Any]], bool] | None = None
    """Which objects get the finalizer (and the delete handler); None: all. kopf adds and removes
    the finalizer as the answer changes."""


KINDS = (
    Kind(CONNECTORS, NylasConnectorStatus, connector.reconcile, connector.delete),
    Kind(CREDENTIALS, NylasCredentialStatus, credential.reconcile, credential.delete),
    Kind(GRANTS, ServiceAccountGrantStatus, grant.reconcile, grant.delete, grant.deletes_from_nylas),
)


def register_kind(registry: kopf.OperatorRegistry, kind: Kind) -> None:
    plural = kind.plural

    async def on_change(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, **_: Any) -> None:
        await flow.run(context_of(memo), plural, kind.status, body, patch, kind.reconcile, logger)

    async def on_delete(body: kopf.Body, memo: kopf.Memo, runtime: timedelta, **_: Any) -> None:
        await kind.delete(context_of(memo), body, runtime.total_seconds())

    for decorator, cause in (
        (kopf.on.resume, "resume"),
        (kopf.on.create, "create"),
        (kopf.on.update, "update"),
    ):
        decorator(GROUP, VERSION, plural, registry=registry, id=f"{plural}.{cause}")(on_change)

    needs_finalizer = kind.needs_finalizer

    def when(body: kopf.Body, **_: Any) -> bool:
        return needs_finalizer is None or needs_finalizer(body)

    filtered = when if needs_finalizer is not None else None
    kopf.on.delete(GROUP, VERSION, plural, registry=registry, id=f"{plural}.delete", when=filtered)(on_delete)


BY_PLURAL = {kind.plural: kind for kind in KINDS}
log = logging.getLogger("nylas_operator.flow")


async def run_queued(ctx: Context, key: Key) -> None:
    """What the scheduler's workers run for a key (any of the three kinds)."""
    kind = BY_PLURAL[key[0]]
    await flow.run_queued(ctx, key, kind.status, kind.reconcile, log)


def build_registry() -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    activity.register(registry, gone={GRANTS: grant.gone, CONNECTORS: connector.gone})
    for kind in KINDS:
        register_kind(registry, kind)
    return registry
