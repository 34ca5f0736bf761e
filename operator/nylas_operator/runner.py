"""``nylas-operator run``: build the settings once, tune kopf, wire the pieces, run kopf standalone.

Owns: the command line (each option has a ``NYLAS_OPERATOR_*`` environment variable), kopf's
tuning (one comment per setting), where the liveness canary lives (``canary_home``), the process's
identity (``operator_identity``), the order of a leader-elected start (standby endpoints, the
Lease, then kopf; exit when the Lease is lost: ``become_leader``, ``lead``), the startup
wiring (Kubernetes helper, Nylas client pool, scheduler, drift loops, consent index and callback
endpoint, health and metrics endpoints) and the warm-up that fills the claims table and the
consent index from a LIST before any handler runs.
Does not own: handlers (``controllers/``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Coroutine, Mapping, Sequence
from datetime import timedelta
from typing import Any, Final, cast

import click
import httpx
import kopf

from nylas_operator import clioptions
from nylas_operator.controllers import canary as canary_module
from nylas_operator.controllers.handlers import build_registry
from nylas_operator.controllers.lifecycle import register_lifecycle
from nylas_operator.entra import DEFAULT_LOGIN_HOSTS, DEFAULT_LOGIN_URL, check_login_url
from nylas_operator.kube import FINALIZER, KINDS
from nylas_operator.leader import LeaseElector, lease_timings
from nylas_operator.login import BearerAuth, CredentialSource, tls_verify
from nylas_operator.nylas.hosts import parse_allowed_hosts
from nylas_operator.observability.health import make_standby_app
from nylas_operator.observability.serving import start_site
from nylas_operator.settings import (
    CanarySettings,
    ConsentSettings,
    DriftSettings,
    LeaderElectionSettings,
    LoggingSettings,
    NylasSettings,
    OperatorSettings,
    ProcessingSettings,
    RetrySettings,
    ServerSettings,
    WatchSettings,
)

log = logging.getLogger("nylas_operator.runner")

# on.event handlers that only take note of an event: kopf's per-event INFO lines go to DEBUG.
WATCH_ONLY_HANDLERS = (
    *(f"{plural}.activity" for plural in KINDS),
    canary_module.HANDLER_ID,
)
KOPF_PREFIX = "kopf.nylas-operator.io"
LOST_LEASE_EXIT_CODE: Final = 3


def _allowed_hosts(_: click.Context, __: click.Parameter, value: str) -> tuple[str, ...]:
    try:
        parse_allowed_hosts([value])
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return tuple(part.strip() for part in value.split(",") if part.strip())


@click.command("run")
@click.option(
    "--namespace",
    "-n",
    "namespaces",
    multiple=True,
    envvar="NYLAS_OPERATOR_NAMESPACES",
    help="Serve this namespace (repeatable).",
)
@click.option(
    "--all-namespaces",
    "-A",
    is_flag=True,
    envvar="NYLAS_OPERATOR_ALL_NAMESPACES",
    help="Serve every namespace.",
)
@click.option(
    "--callback-listen",
    callback=clioptions.listen,
    envvar="NYLAS_OPERATOR_CALLBACK_LISTEN",
    help="HOST:PORT of an in-process consent callback (off, the default: run `nylas-operator "
    "consent-server` instead, which needs no Secret access; the chart does).",
)
@click.option(
    "--callback-url",
    envvar="NYLAS_OPERATOR_CALLBACK_URL",
    help="Public URL of the callback endpoint, used as redirect_uri in consent URLs.",
)
@click.option(
    "--register-callback-url/--no-register-callback-url",
    default=False,
    envvar="NYLAS_OPERATOR_REGISTER_CALLBACK_URL",
    show_default=True,
    help="Add --callback-url to the Nylas application's redirect URIs when it is missing "
    "(otherwise credentials report the URL to register).",
)
@click.option(
    "--health-listen",
    default="0.0.0.0:8080",
    callback=clioptions.listen,
    envvar="NYLAS_OPERATOR_HEALTH_LISTEN",
    show_default=True,
    help="HOST:PORT of /healthz and /readyz (off to disable).",
)
@click.option(
    "--metrics-listen",
    callback=clioptions.listen,
    envvar="NYLAS_OPERATOR_METRICS_LISTEN",
    help="HOST:PORT of /metrics (off to disable).",
)
@click.option(
    "--canary/--no-canary",
    default=True,
    envvar="NYLAS_OPERATOR_CANARY",
    show_default=True,
    help=f"Liveness canary: tokens written to the ConfigMap {canary_module.NAME} must come back "
    "through the watch.",
)
@click.option(
    "--canary-namespace",
    envvar="NYLAS_OPERATOR_CANARY_NAMESPACE",
    help="Namespace of the canary ConfigMap (a served one); default: POD_NAMESPACE if served, "
    "else the first --namespace.",
)
@click.option(
    "--canary-interval",
    default="60s",
    callback=clioptions.duration,
    envvar="NYLAS_OPERATOR_CANARY_INTERVAL",
    show_default=True,
    help="Time between canary writes.",
)
@click.option(
    "--canary-deadline",
    default="30s",
    callback=clioptions.duration,
    envvar="NYLAS_OPERATOR_CANARY_DEADLINE",
    show_default=True,
    help="A canary write not seen through the watch within this fails /healthz.",
)
@click.option(
    "--log-level",
    default="INFO",
    envvar="NYLAS_OPERATOR_LOG_LEVEL",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option(
    "--log-format",
    default="text",
    envvar="NYLAS_OPERATOR_LOG_FORMAT",
    show_default=True,
    type=click.Choice(["text", "json"]),
)
@click.option(
    "--scope-cache-delay",
    default="5m",
    callback=clioptions.duration,
    envvar="NYLAS_OPERATOR_SCOPE_CACHE_DELAY",
    show_default=True,
    help="Default wait after admin consent before grants are created.",
)
@click.option(
    "--consent-state-ttl",
    default="1h",
    callback=clioptions.duration,
    envvar="NYLAS_OPERATOR_CONSENT_STATE_TTL",
    show_default=True,
    help="How long a consent URL stays valid; an expired one is replaced by a new URL at once.",
)
@click.option(
    "--confirm-consent/--no-confirm-consent",
    default=False,
    envvar="NYLAS_OPERATOR_CONFIRM_CONSENT",
    show_default=True,
    help="Before grants are created, ask Microsoft (a client-credentials token for the consenting "
    "tenant, with the Azure app secret) whether the tenant really consented the scopes.",
)
@click.option(
    "--microsoft-login-url",
    default=DEFAULT_LOGIN_URL,
    envvar="NYLAS_OPERATOR_MICROSOFT_LOGIN_URL",
    show_default=True,
    help="Microsoft's login endpoint for --confirm-consent (sovereign clouds differ).",
)
@click.option(
    "--microsoft-allowed-hosts",
    default=",".join(DEFAULT_LOGIN_HOSTS),
    callback=_allowed_hosts,
    envvar="NYLAS_OPERATOR_MICROSOFT_ALLOWED_HOSTS",
    show_default=True,
    help="Comma-separated hosts --microsoft-login-url may name; the Azure client secret goes nowhere else.",
)
@click.option(
    "--consent-confirm-timeout",
    default="1h",
    callback=clioptions.duration,
    envvar="NYLAS_OPERATOR_CONSENT_CONFIRM_TIMEOUT",
    show_default=True,
    help="How long after the settle wait a consent Microsoft does not confirm is kept; then it is "
    "dropped (Warning event) and a new consent URL is issued.",
)
@click.option(
    "--drift-interval",
    default="10m",
    callback=clioptions.duration,
    envvar="NYLAS_OPERATOR_DRIFT_INTERVAL",
    show_default=True,
    help="Time between drift checks of one Nylas application.",
)
@click.option(
    "--min-retry-delay",
    default="5s",
    callback=clioptions.duration,
    envvar="NYLAS_OPERATOR_MIN_RETRY_DELAY",
    show_default=True,
    help="First backoff delay after a failed reconcile.",
)
@click.option(
    "--max-retry-delay",
    default="5m",
    callback=clioptions.duration,
    envvar="NYLAS_OPERATOR_MAX_RETRY_DELAY",
    show_default=True,
    help="Cap of the backoff delay after failed reconciles.",
)
@click.option(
    "--deletion-give-up",
    default="10m",
    callback=clioptions.duration,
    envvar="NYLAS_OPERATOR_DELETION_GIVE_UP",
    show_default=True,
    help="How long a Delete deletion whose connector's API key Secret is gone (and whose key the operator "
    "no longer holds) waits for it before orphaning its Nylas object. A failing Nylas delete never gives "
    "up: it keeps the finalizer and retries with backoff (--min-retry-delay up to --max-retry-delay).",
)
@click.option(
    "--nylas-rate",
    default=NylasSettings.rate,
    type=click.FloatRange(min=0.1),
    envvar="NYLAS_OPERATOR_NYLAS_RATE",
    show_default=True,
    help="Nylas requests per second per application (Nylas allows 50/s; leave room for other users).",
)
@click.option(
    "--nylas-burst",
    default=NylasSettings.burst,
    type=click.IntRange(min=1),
    envvar="NYLAS_OPERATOR_NYLAS_BURST",
    show_default=True,
    help="Nylas requests per application allowed back to back before pacing starts.",
)
@click.option(
    "--nylas-allowed-hosts",
    default=",".join(NylasSettings.allowed_hosts),
    callback=_allowed_hosts,
    envvar="NYLAS_OPERATOR_NYLAS_ALLOWED_HOSTS",
    show_default=True,
    help="Comma-separated hosts a connector's apiUrl may name (host, *.domain, IP or CIDR); the API "
    "key and the provider's client secret are never sent anywhere else.",
)
@click.option(
    "--max-concurrent-reconciles",
    default=ProcessingSettings.max_concurrent_reconciles,
    type=click.IntRange(min=1),
    envvar="NYLAS_OPERATOR_MAX_CONCURRENT_RECONCILES",
    show_default=True,
    help="Objects of one kind reconciled at once; the others wait (bounds memory on bulk applies).",
)
@click.option(
    "--leader-elect/--no-leader-elect",
    default=False,
    envvar="NYLAS_OPERATOR_LEADER_ELECT",
    show_default=True,
    help="Act only while holding a coordination.k8s.io Lease (for more than one replica).",
)
@click.option(
    "--leader-election-namespace",
    envvar="NYLAS_OPERATOR_LEADER_ELECTION_NAMESPACE",
    help="Namespace of the Lease; default: POD_NAMESPACE.",
)
@click.option(
    "--leader-election-name",
    default=LeaderElectionSettings.name,
    envvar="NYLAS_OPERATOR_LEADER_ELECTION_NAME",
    show_default=True,
    help="Name of the Lease (one per installation).",
)
@click.option(
    "--leader-election-lease-duration",
    default="15s",
    callback=clioptions.duration,
    envvar="NYLAS_OPERATOR_LEADER_ELECTION_LEASE_DURATION",
    show_default=True,
    help="A standby takes over a Lease not renewed for this long.",
)
@click.option(
    "--leader-election-renew-deadline",
    default="10s",
    callback=clioptions.duration,
    envvar="NYLAS_OPERATOR_LEADER_ELECTION_RENEW_DEADLINE",
    show_default=True,
    help="The leader stops writing and exits when it could not renew for this long.",
)
@click.option(
    "--leader-election-retry-period",
    default="2s",
    callback=clioptions.duration,
    envvar="NYLAS_OPERATOR_LEADER_ELECTION_RETRY_PERIOD",
    show_default=True,
    help="Time between renewals (leader) and tries (standby).",
)
def run(
    namespaces: Sequence[str],
    all_namespaces: bool,
    callback_listen: tuple[str, int] | None,
    callback_url: str | None,
    register_callback_url: bool,
    health_listen: tuple[str, int] | None,
    metrics_listen: tuple[str, int] | None,
    canary: bool,
    canary_namespace: str | None,
    canary_interval: timedelta,
    canary_deadline: timedelta,
    log_level: str,
    log_format: str,
    scope_cache_delay: timedelta,
    consent_state_ttl: timedelta,
    confirm_consent: bool,
    microsoft_login_url: str,
    microsoft_allowed_hosts: tuple[str, ...],
    consent_confirm_timeout: timedelta,
    drift_interval: timedelta,
    min_retry_delay: timedelta,
    max_retry_delay: timedelta,
    deletion_give_up: timedelta,
    nylas_rate: float,
    nylas_burst: int,
    nylas_allowed_hosts: tuple[str, ...],
    max_concurrent_reconciles: int,
    leader_elect: bool,
    leader_election_namespace: str | None,
    leader_election_name: str,
    leader_election_lease_duration: timedelta,
    leader_election_renew_deadline: timedelta,
    leader_election_retry_period: timedelta,
) -> None:
    """Run the operator against the current kubeconfig (or the pod's service account)."""
    if bool(namespaces) == all_namespaces:
        raise click.UsageError("give --namespace (repeatable) or --all-namespaces")
    if canary_interval.total_seconds() <= 0 or canary_deadline.total_seconds() <= 0:
        raise click.UsageError("--canary-interval and --canary-deadline must be positive")
    watch = WatchSettings(namespaces=tuple(namespaces), all_namespaces=all_namespaces)
    try:
        check_login_url(microsoft_login_url, microsoft_allowed_hosts)
    except ValueError as exc:
        raise click.UsageError(f"--microsoft-login-url: {exc} (--microsoft-allowed-hosts)") from None
    try:
        where = canary_home(canary_namespace, os.environ.get("POD_NAMESPACE"), watch) if canary else None
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    election = LeaderElectionSettings(
        enabled=leader_elect,
        namespace=leader_election_namespace or os.environ.get("POD_NAMESPACE") or None,
        name=leader_election_name,
        lease_duration=leader_election_lease_duration,
        renew_deadline=leader_election_renew_deadline,
        retry_period=leader_election_retry_period,
    )
    if leader_elect:
        if not election.namespace:
            raise click.UsageError("--leader-elect needs --leader-election-namespace (or POD_NAMESPACE)")
        try:
            lease_timings(election.lease_duration, election.renew_deadline, election.retry_period)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    settings = OperatorSettings(
        nylas=NylasSettings(rate=nylas_rate, burst=nylas_burst, allowed_hosts=nylas_allowed_hosts),
        processing=ProcessingSettings(max_concurrent_reconciles=max_concurrent_reconciles),
        consent=ConsentSettings(
            scope_cache_delay=scope_cache_delay,
            state_ttl=consent_state_ttl,
            callback_url=callback_url,
            callback_listen=callback_listen,
            register_callback_url=register_callback_url,
            confirm=confirm_consent,
            login_url=microsoft_login_url,
            login_allowed_hosts=microsoft_allowed_hosts,
            confirm_timeout=consent_confirm_timeout,
        ),
        drift=DriftSettings(interval=drift_interval),
        retry=RetrySettings(
            min_delay=min_retry_delay, max_delay=max_retry_delay, deletion_give_up=deletion_give_up
        ),
        server=ServerSettings(health_listen=health_listen, metrics_listen=metrics_listen),
        canary=CanarySettings(
            enabled=where is not None, namespace=where, interval=canary_interval, deadline=canary_deadline
        ),
        logging=LoggingSettings(level=log_level.upper(), format="json" if log_format == "json" else "text"),
        watch=watch,
        leader_election=election,
    )
    from nylas_operator.observability.logging import configure_logging

    configure_logging(settings.logging.level, settings.logging.format, quiet_handlers=WATCH_ONLY_HANDLERS)
    if canary and where is None:
        log.warning("no health canary: serving all namespaces outside a pod; set --canary-namespace")
    asyncio.run(operate(settings, operator_identity(os.environ)))


def canary_home(explicit: str | None, pod_namespace: str | None, watch: WatchSettings) -> str | None:
    """The canary's namespace: it must be served, because kopf watches only served namespaces.

    Explicit wins (an error if not served); else the pod's own namespace if served; else the first
    served namespace; None when serving all namespaces with neither (a run outside a pod).
    """
    served = set(watch.namespaces)
    if explicit:
        if not watch.all_namespaces and explicit not in served:
            raise ValueError(f"--canary-namespace {explicit} is not a served namespace (--namespace)")
        return explicit
    if pod_namespace and (watch.all_namespaces or pod_namespace in served):
        return pod_namespace
    return watch.namespaces[0] if watch.namespaces else None


def operator_identity(env: Mapping[str, str]) -> str:
    """This process's name for kopf and the Lease: the Pod's name (or the host's) and a random part
    (a restarted container keeps its Pod name and pid 1). Never the passwd database: the image's
    uid 65532 has no entry there, and kopf's own fallback (``getpass.getuser()``) raises KeyError."""
    name = env.get("POD_NAME") or socket.gethostname() or "nylas-operator"
    return f"{name}_{uuid.uuid4().hex[:8]}"


async def operate(settings: OperatorSettings, identity: str) -> None:
    credentials = CredentialSource.from_environment()
    memo = kopf.Memo()
    memo.credentials = credentials
    memo.identity = identity
    registry = build_registry()
    register_lifecycle(registry, settings, login=login, tune=tune_kopf, kopf_prefix=KOPF_PREFIX)
    log.info("starting as %s with credentials from the %s", identity, credentials.describe)

    def running() -> Coroutine[Any, Any, None]:
        return kopf.operator(
            registry=registry,
            # Given: kopf's own guess reads the passwd database. (kopf's Identity is an unexported
            # NewType of str.)
            identity=cast(Any, identity),
            standalone=True,  # kopf's peering is not leader election (leader.py is)
            clusterwide=settings.watch.all_namespaces,
            namespaces=settings.watch.namespaces,
            memo=memo,
        )

    if not settings.leader_election.enabled:
        await running()
        return
    async with await lease_client(credentials, settings.leader_election) as http:
        elector = await become_leader(http, settings, identity)
        memo.leader = elector
        await lead(running(), elector)


async def lease_client(credentials: CredentialSource, election: LeaderElectionSettings) -> httpx.AsyncClient:
    """A small client of its own for the Lease: its requests never queue behind reconciles."""
    info = await credentials.current()
    return httpx.AsyncClient(
        base_url=info.server.rstrip("/"),
        auth=BearerAuth(credentials),
        verify=tls_verify(info),
        headers={"User-Agent": "nylas-operator/leader-election"},
        timeout=election.renew_deadline.total_seconds(),
    )


async def become_leader(http: httpx.AsyncClient, settings: OperatorSettings, identity: str) -> LeaseElector:
    """Wait for the Lease, answering the probes as a standby meanwhile; nothing else runs yet."""
    election = settings.leader_election
    assert election.namespace is not None
    elector = LeaseElector(
        http,
        namespace=election.namespace,
        name=election.name,
        identity=identity,
        timings=lease_timings(election.lease_duration, election.renew_deadline, election.retry_period),
    )
    listen = settings.server.health_listen
    site = await start_site(make_standby_app(lambda: elector.holder), *listen) if listen else None
    try:
        await elector.acquire()
    finally:
        if site is not None:
            await site.close()  # kopf's startup serves the leader's endpoints on the same address
    return elector


async def lead(running: Coroutine[Any, Any, None], elector: LeaseElector) -> None:
    """Run kopf while renewing; on loss exit at once (controller-runtime's way): the Pod restarts as a
    standby, and no cleanup handler, retry or queued write gets to run after the Lease is gone."""
    operator = asyncio.create_task(running, name="kopf")
    holding = asyncio.create_task(elector.hold(), name="leader lease")
    done, _ = await asyncio.wait({operator, holding}, return_when=asyncio.FIRST_COMPLETED)
    if holding in done:
        log.error("leader election lost: exiting")
        logging.shutdown()
        os._exit(LOST_LEASE_EXIT_CODE)
    holding.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await holding
    await elector.release()  # kopf stopped cleanly: hand over without waiting the Lease out
    operator.result()


def tune_kopf(settings: kopf.OperatorSettings, processing: ProcessingSettings) -> None:
    """kopf's settings, each with its reason (kopf-notes.md §2, §7)."""
    # Our own finalizer name (kube.FINALIZER: why); grants manage it without kopf (informer.py).
    settings.persistence.finalizer = FINALIZER
    # Progress (retry state) under our own prefix, not kopf.zalando.org; the prefix starts with
    # "kopf." so these keys are excluded from the essence, while our own nylas-operator.io/*
    # annotations (pause, consent) stay in it and cause updates.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    # The diffbase storage is chosen at start by the installed CRDs (lifecycle.py, diffbase.py).
    # Events only when we post them (transitions); kopf would post handler retries and failures.
    settings.posting.enabled = False
    # Watches: the server ends each watch after 10 min, the client gives up 1 min later; kopf's
    # bookmarks + inactivity_timeout (1.44+) catch silent streams in between.
    settings.watching.server_timeout = 600
    settings.watching.client_timeout = 660
    settings.watching.connect_timeout = 30
    # Page the initial LIST of large namespaces instead of one huge response.
    settings.watching.chunk_size = 500
    # Other API requests (patches, lists) must not hang for kopf's default 5 minutes.
    settings.networking.request_timeout = 60
    settings.networking.connect_timeout = 30
    # Exceptions no controller classified (flow.run turns apiserver failures into short
    # TemporaryErrors and Nylas failures into conditions): retry soon, but without spinning.
    settings.execution.default_backoff = 10
    # All handlers are async; the executor only serves kopf internals.
    settings.execution.max_workers = 4
    # No peering objects: a single replica runs standalone.
    settings.peering.standalone = True
    # kopf runs connectors and credentials only (grants: controllers/informer.py). An idle worker
    # keeps the last body it handled until it exits, and holds one of the ``worker_limit`` slots:
    # a short idle time keeps a restart with many objects from holding them all at once.
    settings.queueing.idle_timeout = 0.2
    # At most this many objects per kind are processed at once; the others wait with just their
    # latest event.
    settings.queueing.worker_limit = processing.max_concurrent_reconciles
    # After its own PATCH kopf waits this long for the watch to show it before running handlers
    # again; on a loaded apiserver the watch lags more than the default 5 s and kopf re-ran
    # create handlers on stale bodies (a second reconcile, more PATCHes). Only the lagging
    # object waits.
    settings.persistence.consistency_timeout = 30


async def login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    """kopf's login handler: the credentials of ``login.CredentialSource`` (again after a 401)."""
    credentials: CredentialSource = memo.credentials
    return await credentials.for_kopf()
