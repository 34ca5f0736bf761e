"""Builds the aiohttp application and runs it on a socket.

Owns the route table and the server lifecycle (`serve` for the CLI and the harness). It does not
hold state (`runtime.py`) or rules (`state.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from nylas_operator.emulator import (
    control,
    routes_applications,
    routes_auth,
    routes_connectors,
    routes_credentials,
    routes_grants,
    routes_token,
)
from nylas_operator.emulator.config import EmulatorConfig
from nylas_operator.emulator.pipeline import pipeline
from nylas_operator.emulator.runtime import RUNTIME, Runtime


def build_app(config: EmulatorConfig) -> web.Application:
    app = web.Application(middlewares=[pipeline])
    app[RUNTIME] = Runtime(config)
    for table in (
        routes_applications.routes,
        routes_connectors.routes,
        routes_credentials.routes,
        routes_grants.routes,
        routes_auth.routes,
        routes_token.routes,
        control.routes,
    ):
        app.router.add_routes(table)
    return app


@dataclass
class Serving:
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


async def serve(config: EmulatorConfig) -> Serving:
    """Start listening (port 0 picks a free port); stop with `await serving.runner.cleanup()`."""
    runner = web.AppRunner(build_app(config), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except BaseException:  # e.g. the port is taken: do not leave the runner set up
        await runner.cleanup()
        raise
    address = runner.addresses[0]
    return Serving(runner, config.host, int(address[1]))
