"""Start and stop an aiohttp application on a host and port, without an access log.

Owns: the ``AppRunner``/``TCPSite`` dance and reporting the bound port (port 0 picks a free one).
Does not own: which apps exist or where they listen (the runner's options).
The access log is off because the consent callback's request line carries the ``state`` token.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True, slots=True)
class RunningSite:
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_site(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> RunningSite:
    """Serve ``app`` on ``host:port`` (the event loop must be running); returns the bound port."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = port
    for address in runner.addresses:
        if isinstance(address, tuple):
            bound = int(address[1])
            break
    return RunningSite(runner=runner, host=host, port=bound)


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` / ``[::1]:PORT`` / ``:PORT`` (all interfaces) → ``(host, port)``."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - an explicit ':PORT' means every interface
    return host, int(port)
