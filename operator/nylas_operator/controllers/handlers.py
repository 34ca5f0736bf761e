"""Registering the kinds kopf runs on our own kopf registry (never kopf's global default), and
which code runs a queued key of each kind.

Owns: the table of kinds (plural, typed status model, reconcile shell, delete), one
create/update/resume handler trio per kopf-run kind (connectors, credentials) calling its
``reconcile`` through ``flow.run`` (which trigger fired does not matter), and a delete handler (its
finalizer is ``nylas-operator.io/finalizer``, set in the runner). Every handler returns None: kopf
would copy return values into ``status.<handler id>``. Grants are not run by kopf: ``informer.py``
watches them and the scheduler's runs of a grant go to it (``runner_for``).
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
from nylas_operator.controllers import activity, connector, credential, flow
from nylas_operator.controllers.context import Context, context_of
from nylas_operator.controllers.informer import GrantInformer
from nylas_operator.controllers.scheduler import Key, Run
from nylas_operator.kube import CONNECTORS, CREDENTIALS, GRANTS

Delete = Callable[[Context, Mapping[str, Any], float], Awaitable[None]]


@dataclass(frozen=True)
class Kind:
    plural: str
    status: type[BaseModel]
    reconcile: flow.Reconcile
    delete: Delete


KINDS = (
    Kind(CONNECTORS, NylasConnectorStatus, connector.reconcile, connector.delete),
    Kind(CREDENTIALS, NylasCredentialStatus, credential.reconcile, credential.delete),
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

    kopf.on.delete(GROUP, VERSION, plural, registry=registry, id=f"{plural}.delete")(on_delete)


BY_PLURAL = {kind.plural: kind for kind in KINDS}
log = logging.getLogger("nylas_operator.flow")


async def run_queued(ctx: Context, key: Key) -> None:
    """What the scheduler's workers run for a key of a kopf-run kind."""
    kind = BY_PLURAL[key[0]]
    await flow.run_queued(ctx, key, kind.status, kind.reconcile, log)


def runner_for(ctx: Context, grants: GrantInformer) -> Run:
    """The scheduler's run: grants to their informer, the other kinds to ``run_queued``."""

    async def run(key: Key) -> None:
        if key[0] == GRANTS:
            await grants.run(key)
        else:
            await run_queued(ctx, key)

    return run


def build_registry() -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    activity.register(registry, [kind.plural for kind in KINDS], gone={CONNECTORS: connector.gone})
    for kind in KINDS:
        register_kind(registry, kind)
    return registry
