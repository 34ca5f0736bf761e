"""``nylas-operator consent-server``: the public consent callback as its own, unprivileged process.

The callback is reachable from administrators' browsers (through an Ingress); the operator holds
cluster-wide Secret access. So the callback runs apart: this process may only read NylasCredentials
and annotate them with the outcome (the chart's ``<release>-consent`` ServiceAccount), and the
operator's own Deployment listens on nothing public.

Owns: the command line, the ``ListingRecorder`` (the controllers' ``Recorder`` over a consent index
filled from LISTs of credentials instead of kopf's watch), and serving the callback behind the
connection guard, plus ``/healthz``/``/readyz`` for probes. Does not own: what a callback records
(``controllers.consent.Recorder``: the same annotation the operator then moves into status), the
endpoint (``consent.callback``), the limits (``consent.guard``, ``consent.clientaddr``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import click

from nylas_operator import clioptions
from nylas_operator.consent.callback import DEFAULT_PATH, make_callback_app
from nylas_operator.consent.clientaddr import parse_proxies
from nylas_operator.consent.guard import GuardLimits, start_guarded_site
from nylas_operator.consent.recording import ConsentOutcome, RecordResult
from nylas_operator.controllers.consent import ConsentIndex, Recorder
from nylas_operator.controllers.context import utcnow
from nylas_operator.kube import CREDENTIALS, Kube, KubeError
from nylas_operator.login import CredentialSource
from nylas_operator.settings import ConsentServerSettings, LoggingSettings, WatchSettings

log = logging.getLogger("nylas_operator.consent")


MAX_MISS_WAIT = 2.0
"""Seconds a callback naming an unknown state may wait for the next LIST (the default interval is 1)."""


class ListingRecorder:
    """A ``ConsentRecorder`` for a process without kopf: on a state it does not know, it LISTs the
    served credentials again (at most once per ``refresh_interval``), then records like the operator.

    The Recorder re-reads the credential and checks the stored hash and expiry before it writes, so
    a stale index can only miss, never record against the wrong state.
    """

    def __init__(self, kube: Kube, settings: ConsentServerSettings, *, clock: Any = utcnow) -> None:
        self._kube = kube
        self._scopes: list[str | None] = (
            [None] if settings.watch.all_namespaces else list(settings.watch.namespaces)
        )
        self._interval = settings.refresh_interval
        self._index = ConsentIndex()
        self._recorder = Recorder(kube, self._index, default_delay=settings.scope_cache_delay, clock=clock)
        self._lock = asyncio.Lock()
        self._listed_at: float | None = None
        self.lists = 0

    async def record(self, state_hash: str, outcome: ConsentOutcome) -> RecordResult:
        if state_hash not in self._index.by_hash:
            await self.refresh(missed_at=time.monotonic())
        return await self._recorder.record(state_hash, outcome)

    async def refresh(self, *, force: bool = False, missed_at: float | None = None) -> None:
        """LIST again, at most once per ``refresh_interval``. A miss (``missed_at``) waits for the
        next LIST that starts after it when that is at most ``MAX_MISS_WAIT`` away: a state issued
        a moment after the last LIST is found, not refused; waiting misses share one LIST."""
        async with self._lock:
            now = time.monotonic()
            if missed_at is not None and self._listed_at is not None and self._listed_at >= missed_at:
                return  # a LIST that started after the miss has completed meanwhile
            if not force and self._listed_at is not None and now - self._listed_at < self._interval:
                remaining = self._interval - (now - self._listed_at)
                if missed_at is None or remaining > MAX_MISS_WAIT:
                    return
                await asyncio.sleep(remaining)
            started = time.monotonic()
            fresh = ConsentIndex(used=self._index.used)
            for namespace in self._scopes:
                async for page in self._kube.list_pages(CREDENTIALS, namespace):
                    for body in page:
                        fresh.index_credential(body)
            self._index.by_hash.clear()  # in place: the Recorder holds this index
            self._index.by_hash.update(fresh.by_hash)
            self._listed_at = started
            self.lists += 1


@click.command("consent-server")
@click.option(
    "--namespace",
    "-n",
    "namespaces",
    multiple=True,
    envvar="NYLAS_OPERATOR_NAMESPACES",
    help="Record consent for NylasCredentials of this namespace (repeatable).",
)
@click.option(
    "--all-namespaces",
    "-A",
    is_flag=True,
    envvar="NYLAS_OPERATOR_ALL_NAMESPACES",
    help="Record consent for NylasCredentials of every namespace.",
)
@click.option(
    "--callback-listen",
    default="0.0.0.0:8081",
    callback=clioptions.listen,
    show_default=True,
    envvar="NYLAS_OPERATOR_CALLBACK_LISTEN",
    help=f"HOST:PORT of the callback ({DEFAULT_PATH}).",
)
@click.option(
    "--health-listen",
    default="off",
    callback=clioptions.listen,
    show_default=True,
    envvar="NYLAS_OPERATOR_HEALTH_LISTEN",
    help="HOST:PORT of /healthz and /readyz (off to disable).",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    envvar="NYLAS_OPERATOR_TRUSTED_PROXIES",
    help="CIDR of a reverse proxy whose X-Forwarded-For is believed (repeatable, or comma-separated).",
)
@click.option(
    "--max-connections",
    default=ConsentServerSettings.max_connections,
    show_default=True,
    type=click.IntRange(min=1, max=100_000),
    envvar="NYLAS_OPERATOR_MAX_CONNECTIONS",
    help="Open connections at most; idle ones are closed first to make room.",
)
@click.option(
    "--header-timeout",
    default="10s",
    callback=clioptions.duration,
    show_default=True,
    envvar="NYLAS_OPERATOR_HEADER_TIMEOUT",
    help="Time a client has to send its request headers.",
)
@click.option(
    "--scope-cache-delay",
    default="5m",
    callback=clioptions.duration,
    show_default=True,
    envvar="NYLAS_OPERATOR_SCOPE_CACHE_DELAY",
    help="Default wait after consent, shown on the page (the operator applies it).",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    envvar="NYLAS_OPERATOR_LOG_LEVEL",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option(
    "--log-format",
    default="text",
    show_default=True,
    envvar="NYLAS_OPERATOR_LOG_FORMAT",
    type=click.Choice(["text", "json"]),
)
def consent_server(
    namespaces: Sequence[str],
    all_namespaces: bool,
    callback_listen: tuple[str, int] | None,
    health_listen: tuple[str, int] | None,
    trusted_proxies: Sequence[str],
    max_connections: int,
    header_timeout: timedelta,
    scope_cache_delay: timedelta,
    log_level: str,
    log_format: str,
) -> None:
    """Serve the consent callback (records consent on NylasCredentials; needs no Secret access)."""
    if bool(namespaces) == all_namespaces:
        raise click.UsageError("give --namespace (repeatable) or --all-namespaces")
    if callback_listen is None:
        raise click.UsageError("--callback-listen cannot be off: serving it is this command's job")
    if header_timeout.total_seconds() <= 0:
        raise click.UsageError("--header-timeout must be positive")
    try:
        parse_proxies(trusted_proxies)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--trusted-proxy") from None
    settings = ConsentServerSettings(
        listen=callback_listen,
        health_listen=health_listen,
        watch=WatchSettings(namespaces=tuple(namespaces), all_namespaces=all_namespaces),
        scope_cache_delay=scope_cache_delay,
        trusted_proxies=tuple(trusted_proxies),
        max_connections=max_connections,
        header_timeout=header_timeout,
        logging=LoggingSettings(level=log_level.upper(), format="json" if log_format == "json" else "text"),
    )
    from nylas_operator.observability.logging import configure_logging

    configure_logging(settings.logging.level, settings.logging.format)
    try:
        asyncio.run(serve(settings))
    except KubeError as exc:  # only 401/403 at start get here
        raise click.ClickException(
            f"cannot list NylasCredentials: {exc}; the consent server needs get, list and patch on "
            "nylascredentials (the chart's <release>-consent role)"
        ) from None


async def serve(settings: ConsentServerSettings, stop: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or ``stop`` is set)."""
    from nylas_operator.observability.health import HealthState, make_health_app
    from nylas_operator.observability.serving import start_site

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    proxies = parse_proxies(settings.trusted_proxies)
    credentials = CredentialSource.from_environment()  # a Pod's ServiceAccount, else the kubeconfig
    kube = Kube(await credentials.current(), credentials=credentials)
    health = HealthState()
    sites: list[Any] = []
    try:
        if settings.health_listen is not None:
            sites.append(await start_site(make_health_app(health), *settings.health_listen))
        recorder = ListingRecorder(kube, settings)
        try:
            await recorder.refresh(force=True)
        except KubeError as exc:
            if exc.status in (401, 403):  # misconfigured RBAC or credentials: fail loudly, at once
                raise
            # The apiserver is unreachable for now: serve anyway; a callback retries the LIST
            # (and answers 503, "try again", while it fails).
            log.warning("could not list NylasCredentials at start: %s", exc)
        app = make_callback_app(recorder, trusted_proxies=proxies)
        limits = GuardLimits(
            max_connections=settings.max_connections,
            header_timeout=settings.header_timeout.total_seconds(),
            trusted_proxies=proxies,
        )
        sites.append(await start_guarded_site(app, *settings.listen, limits))
        for site in sites:
            log.info("serving on %s", site.url)
        health.mark_started()
        await stop.wait()
        health.mark_stopping()
    finally:
        for site in reversed(sites):
            await site.close()
        await kube.aclose()
