"""What every handler needs, built once at startup and kept on kopf's ``memo``.

Owns: the ``Context`` dataclass (settings, Kubernetes helper, Nylas client pool, claims, scheduler,
grant directory,
consent index, drift registry, clock). Handlers get it with ``context_of(memo)``; unit tests build
one with fakes. Does not own: creating the pieces (``runner.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nylas_operator.controllers.claims import Claims
from nylas_operator.controllers.clients import ClientPool
from nylas_operator.controllers.consent import ConsentIndex
from nylas_operator.controllers.directory import GrantDirectory
from nylas_operator.controllers.drift import DriftRegistry
from nylas_operator.controllers.index import UsageIndex
from nylas_operator.controllers.scheduler import Scheduler
from nylas_operator.kube import Kube
from nylas_operator.settings import OperatorSettings


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    settings: OperatorSettings
    kube: Kube
    clients: ClientPool
    scheduler: Scheduler
    consents: ConsentIndex
    drift: DriftRegistry
    claims: Claims = field(default_factory=Claims)
    directory: GrantDirectory = field(default_factory=GrantDirectory)
    usage: UsageIndex = field(default_factory=UsageIndex)
    clock: Callable[[], datetime] = utcnow
    metrics: Any = None
    confirmer: Any = None
    """The Microsoft token client (``entra.TokenClient``) with ``--confirm-consent``, else None."""
    confirm_checks: dict[tuple[str, str, str], datetime] = field(default_factory=dict)
    """(namespace, credential, scope set) → when Microsoft was last asked (``confirmation.py``)."""

    def now(self) -> datetime:
        return self.clock()


def context_of(memo: Any) -> Context:
    ctx = getattr(memo, "ctx", None)
    if not isinstance(ctx, Context):
        raise RuntimeError("the operator context is missing: the startup handler did not run")
    return ctx
