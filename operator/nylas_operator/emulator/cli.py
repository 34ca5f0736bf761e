"""`nylas-operator emulator`: run the Nylas v3 API emulator in the foreground.

Owns the command-line options and the foreground serve loop; everything else is in `app.py`.
The API key is never printed.
"""

from __future__ import annotations

import asyncio
import signal

import click

from nylas_operator.emulator.app import serve
from nylas_operator.emulator.config import (
    CONSENT_MODES,
    DEFAULT_API_KEY,
    DEFAULT_APPLICATION_ID,
    FAULT_KINDS,
    ApplicationConfig,
    Behaviour,
    EmulatorConfig,
    FaultConfig,
)


def _extra_application(value: str) -> ApplicationConfig:
    app_id, sep, key = value.partition("=")
    if not sep or not app_id or not key:
        raise click.BadParameter("expected APPLICATION_ID=API_KEY")
    return ApplicationConfig(application_id=app_id, api_key=key)


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=0, show_default=True, type=int, help="0 picks a free port.")
@click.option(
    "--api-key", default=DEFAULT_API_KEY, envvar="NYLAS_EMULATOR_API_KEY", help="API key of the application."
)
@click.option("--application-id", default=DEFAULT_APPLICATION_ID, show_default=True)
@click.option(
    "--extra-application", multiple=True, metavar="ID=KEY", help="Another application (repeatable)."
)
@click.option(
    "--scope-cache-delay", default=300.0, show_default=True, type=float, help="Seconds after consent."
)
@click.option(
    "--consent", "consent_mode", default="auto", show_default=True, type=click.Choice(CONSENT_MODES)
)
@click.option("--fault-rate", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0))
@click.option("--fault-kinds", default="429,500,503", show_default=True, help=f"Of: {','.join(FAULT_KINDS)}.")
@click.option("--latency-ms", default=0.0, show_default=True, type=click.FloatRange(0.0))
@click.option("--retry-after", default=1, show_default=True, type=int, help="Retry-After of injected 429s.")
@click.option("--seed", default=None, type=int, help="Seed of the fault dice.")
@click.option(
    "--rate-limit", default=None, type=float, help="Requests/s per application (Nylas: 50); off if unset."
)
@click.option(
    "--duplicate-connector-status", default=400, show_default=True, type=click.Choice(["400", "409"])
)
@click.option("--reauth-status", default=200, show_default=True, type=click.Choice(["200", "201"]))
@click.option("--credential-dedup-status", default=200, show_default=True, type=click.Choice(["200", "201"]))
@click.option("--consent-pending-status", default=400, show_default=True, type=click.Choice(["400", "403"]))
def emulator(**opts: object) -> None:
    """Run the Nylas v3 API emulator (connectors, credentials, grants, admin consent)."""
    kinds = tuple(k.strip() for k in str(opts["fault_kinds"]).split(",") if k.strip())
    try:
        config = EmulatorConfig(
            host=str(opts["host"]),
            port=int(str(opts["port"])),
            applications=(
                ApplicationConfig(application_id=str(opts["application_id"]), api_key=str(opts["api_key"])),
                *(_extra_application(str(v)) for v in opts["extra_application"]),  # type: ignore[attr-defined]
            ),
            behaviour=Behaviour(
                consent_mode=opts["consent_mode"],  # type: ignore[arg-type]
                scope_cache_delay=float(str(opts["scope_cache_delay"])),
                rate_limit_per_second=None if opts["rate_limit"] is None else float(str(opts["rate_limit"])),
                duplicate_connector_status=int(str(opts["duplicate_connector_status"])),
                reauth_status=int(str(opts["reauth_status"])),
                credential_dedup_status=int(str(opts["credential_dedup_status"])),
                consent_pending_status=int(str(opts["consent_pending_status"])),
            ),
            faults=FaultConfig.even(
                float(str(opts["fault_rate"])) if kinds else 0.0,
                kinds,
                latency_ms=float(str(opts["latency_ms"])),
                retry_after=int(str(opts["retry_after"])),
                seed=None if opts["seed"] is None else int(str(opts["seed"])),
            ),
        ).validated()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    asyncio.run(_serve_forever(config))


async def _serve_forever(config: EmulatorConfig) -> None:
    serving = await serve(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    apps = ", ".join(a.application_id for a in config.applications)
    click.echo(f"Nylas emulator listening on {serving.url} (applications: {apps})", err=False)
    try:
        await stop.wait()
    finally:
        await serving.runner.cleanup()
