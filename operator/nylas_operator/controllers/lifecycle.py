"""Operator start and stop: build the ``Context``, warm the in-memory tables, serve endpoints.

Owns: kopf's login/startup/cleanup handlers on our registry. Startup tunes kopf (``runner``),
serves ``/healthz``/``/readyz`` first (readiness fails until startup ends), picks where kopf keeps
its diffbase by the installed CRDs (``diffbase.py``), creates the Kubernetes
helper (credentials from ``memo.credentials``, ``login.py``), the objects-by-phase book
(``memo.phases``), the Nylas client pool (its observer feeds metrics; each new application starts
a drift loop; its requests name this replica, and with leader election every write passes the
Lease's fence, ``memo.leader``), the scheduler (its workers run queued reconciles), the consent
index and recorder;
then LISTs the served namespaces once to fill the claims table and the consent index before any
object handler runs (so a restart decides conflicts like before); then starts the callback and
metrics servers, ensures the canary ConfigMap, starts the canary loop and marks the operator
started. The grant informer (``informer.py``) starts after the warm-up. Does not own: any reconcile logic.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import httpx
import kopf

from nylas_operator import buildinfo
from nylas_operator.consent.callback import make_callback_app
from nylas_operator.controllers import canary, handlers
from nylas_operator.controllers.activity import PhaseBook
from nylas_operator.controllers.claims import Claims
from nylas_operator.controllers.clients import AppKey, ClientPool
from nylas_operator.controllers.consent import ConsentIndex, Recorder
from nylas_operator.controllers.context import Context, context_of, utcnow
from nylas_operator.controllers.drift import DriftRegistry, Known
from nylas_operator.controllers.informer import GrantInformer
from nylas_operator.controllers.scheduler import Scheduler
from nylas_operator.controllers.secrets_watch import SecretWatches
from nylas_operator.diffbase import storage_for
from nylas_operator.entra import TokenClient
from nylas_operator.kube import CONNECTORS, CREDENTIALS, GRANTS, Kube, KubeError
from nylas_operator.leader import LeaseElector
from nylas_operator.login import CredentialSource
from nylas_operator.observability.health import HealthState, make_health_app, make_metrics_app
from nylas_operator.observability.metrics import Metrics
from nylas_operator.observability.serving import start_site
from nylas_operator.settings import OperatorSettings, ProcessingSettings

log = logging.getLogger("nylas_operator.lifecycle")

QUEUED_WORKERS = 64


Login = Callable[..., Any]
Tune = Callable[[kopf.OperatorSettings, ProcessingSettings], None]


def register_lifecycle(
    registry: kopf.OperatorRegistry, op: OperatorSettings, *, login: Login, tune: Tune, kopf_prefix: str
) -> None:
    """``login``, ``tune`` and ``kopf_prefix`` are the runner's (it owns how kopf is run)."""
    kopf.on.login(registry=registry, id="login")(login)

    async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        tune(settings, op.processing)
        if op.canary.enabled and op.canary.namespace:
            canary.tune(settings)
        await start(memo, op, settings, kopf_prefix)

    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        await stop(memo)

    kopf.on.startup(registry=registry, id="startup")(startup)
    kopf.on.cleanup(registry=registry, id="cleanup")(cleanup)
    if op.canary.enabled and op.canary.namespace:
        canary.register(registry)  # no ConfigMap watch at all without a canary


async def start(
    memo: kopf.Memo, op: OperatorSettings, settings: kopf.OperatorSettings, kopf_prefix: str
) -> Context:
    credentials: CredentialSource = memo.credentials
    kube = Kube(await credentials.current(), credentials=credentials)
    # Queued runs wait mostly on the apiserver and the Nylas budget: a few dozen at once suffice.
    scheduler = Scheduler(workers=min(QUEUED_WORKERS, op.processing.max_concurrent_reconciles))
    metrics = Metrics(commit=buildinfo.git_commit())
    kube.on_event_dropped = metrics.events_dropped_total.inc
    memo.phases = PhaseBook()
    metrics.set_objects_source(memo.phases.counts)
    metrics.set_blocked_source(memo.phases.blocked)
    memo.health = _health(kube, op)  # first: /readyz answers "not started" during the warm-up
    leader: LeaseElector | None = getattr(memo, "leader", None)
    memo.health.role = "leader" if leader is not None else None
    memo.sites = await _serve_health(memo.health, op)
    settings.persistence.diffbase_storage = await _diffbase_storage(kube, kopf_prefix)
    drift_ref: list[DriftRegistry] = []

    def new_app(app: AppKey) -> None:
        drift_ref[0].start(app)

    nylas_settings = dataclasses.replace(
        op.nylas.client(),
        # Which replica sent a request, in Nylas's logs (and the emulator's journal).
        user_agent=f"nylas-operator ({memo.identity})",
        # The leader's fence: nothing is written to Nylas once the Lease may have passed on.
        write_gate=leader.may_write if leader is not None else None,
    )
    clients = ClientPool(nylas_settings, observer=metrics.observe_nylas_request, on_new_app=new_app)
    claims = Claims()
    drift = DriftRegistry(op.drift, scheduler, clients.for_app, lambda app: known_grants(claims, app))
    drift_ref.append(drift)
    ctx = Context(
        settings=op,
        kube=kube,
        clients=clients,
        scheduler=scheduler,
        consents=ConsentIndex(),
        drift=drift,
        claims=claims,
        metrics=metrics,
        confirmer=_confirmer(op),
    )
    memo.ctx = ctx
    await _start_watches(memo, ctx)
    memo.sites += await _serve(ctx, metrics)
    if op.canary.enabled and op.canary.namespace:
        try:
            await canary.ensure(kube, op.canary.namespace)
        except (KubeError, httpx.HTTPError) as exc:  # the loop's writes retry and report it
            log.warning("could not create the health canary ConfigMap: %s", exc)
        memo.canary_task = asyncio.create_task(memo.health.run_canary(), name="health canary")
    memo.health.mark_started()
    return ctx


async def _start_watches(memo: kopf.Memo, ctx: Context) -> None:
    op = ctx.settings
    scopes: list[str | None] = [None] if op.watch.all_namespaces else list(op.watch.namespaces)
    memo.grants = GrantInformer(ctx, memo, scopes)
    ctx.scheduler.start(handlers.runner_for(ctx, memo.grants))
    await warm_claims(ctx, scopes, memo.grants)
    memo.grants.start()  # lists the grants again and looks at each (kopf resumes the other kinds)
    # Secrets: metadata only, from now on (start-up resumes every object, which reads its Secrets).
    memo.secret_watches = SecretWatches(ctx.kube, ctx.scheduler, scopes)
    memo.secret_watches.start()


async def _diffbase_storage(kube: Kube, kopf_prefix: str) -> kopf.DiffBaseStorage:
    """In status when the installed CRDs of the kinds kopf runs have room for it (``diffbase.py``;
    grants have no diffbase: ``informer.py``)."""
    crds: dict[str, Any] = {}
    for plural in (CONNECTORS, CREDENTIALS):
        try:
            crds[plural] = await kube.read_crd(plural)
        except (KubeError, httpx.HTTPError) as exc:  # no answer: judge by the CRDs that answered
            log.warning("could not read the CRD of %s: %s", plural, exc)
    return storage_for(crds, kopf_prefix)


def known_grants(claims: Claims, app: AppKey) -> dict[str, Known]:
    """The drift loop's view of the claims index: the Ready grants of ``app``."""
    return {
        uid: Known(e.claimant.namespace, e.claimant.name, e.email, str(e.grant_id))
        for uid, e in claims.known(app).items()
    }


async def warm_claims(
    ctx: Context, namespaces: list[str | None], grants: GrantInformer | None = None
) -> None:
    """Fill the claims table, the consent index and the usage index from one LIST per kind, before
    any handler runs (``grants``: told of each grant listed)."""
    for namespace in namespaces:
        try:
            connectors = await ctx.kube.list_objects(CONNECTORS, namespace)
            credentials = await ctx.kube.list_objects(CREDENTIALS, namespace)
        except KubeError as exc:
            log.warning("warm-up LIST failed in %s: %s", namespace or "all namespaces", exc)
            continue
        for body in connectors:
            ctx.claims.observe(CONNECTORS, None, body)
        for body in credentials:  # the consent states the callback endpoint matches against
            ctx.consents.index_credential(body)
            ctx.usage.observe(CREDENTIALS, None, body)
            ctx.claims.observe(CREDENTIALS, None, body)
        try:
            # Page by page: holding every grant body at once would set the process's memory
            # high-water mark (RSS) for its whole life.
            async for page in ctx.kube.list_pages(GRANTS, namespace):
                for body in page:
                    ctx.usage.observe(GRANTS, None, body)
                    ctx.claims.observe(GRANTS, None, body)
                    if grants is not None:
                        grants.note_listed(body)
        except KubeError as exc:
            log.warning("warm-up LIST of grants failed in %s: %s", namespace or "all namespaces", exc)


async def _serve(ctx: Context, metrics: Any) -> list[Any]:
    sites: list[Any] = []
    op = ctx.settings
    if op.consent.callback_listen is not None:
        recorder = Recorder(ctx.kube, ctx.consents, default_delay=op.consent.scope_cache_delay, clock=utcnow)
        sites.append(await start_site(make_callback_app(recorder), *op.consent.callback_listen))
    if op.server.metrics_listen is not None:
        sites.append(await start_site(make_metrics_app(metrics.registry), *op.server.metrics_listen))
    for site in sites:
        log.info("serving on %s", site.url)
    return sites


def _health(kube: Kube, op: OperatorSettings) -> HealthState:
    namespace = op.canary.namespace if op.canary.enabled else None

    async def write(token: str) -> None:
        assert namespace is not None
        await canary.write_token(kube, namespace, token)

    return HealthState(
        canary=write if namespace else None,
        canary_resource=canary.RESOURCE,
        canary_interval=op.canary.interval.total_seconds(),
        canary_deadline=op.canary.deadline.total_seconds(),
    )


async def _serve_health(health: HealthState, op: OperatorSettings) -> list[Any]:
    if op.server.health_listen is None:
        return []
    site = await start_site(make_health_app(health), *op.server.health_listen)
    log.info("serving health on %s", site.url)
    return [site]


def _confirmer(op: OperatorSettings) -> TokenClient | None:
    """The Microsoft token client with ``--confirm-consent`` (its host was checked at start-up)."""
    consent = op.consent
    if not consent.confirm:
        return None
    return TokenClient(
        login_url=consent.login_url,
        allowed_hosts=consent.login_allowed_hosts,
        deadline=consent.login_deadline,
    )


async def stop(memo: kopf.Memo) -> None:
    ctx = context_of(memo)
    task = getattr(memo, "canary_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    health = getattr(memo, "health", None)
    if health is not None:
        health.mark_stopping()
    for site in getattr(memo, "sites", []):
        await site.close()
    watches: SecretWatches | None = getattr(memo, "secret_watches", None)
    if watches is not None:
        await watches.stop()
    informer: GrantInformer | None = getattr(memo, "grants", None)
    if informer is not None:
        await informer.stop()
    await ctx.drift.stop()
    if ctx.confirmer is not None:
        await ctx.confirmer.close()
    await ctx.scheduler.close()
    await ctx.clients.aclose()
    await ctx.kube.aclose()
