"""Connection limits in front of the public callback: a cap, a per-client share, a header deadline.

Owns: serving an aiohttp app through ``GuardedSite``, whose protocol wrapper counts connections
before aiohttp sees them. A connection must send its request line and headers within
``header_timeout`` of connecting, or it is closed (slowloris: aiohttp itself has no header
deadline). At most ``max_connections`` are open; when full, a new connection closes the oldest one
still waiting for its headers (idle or slow), and only if none is waiting is the new one refused.
A client that is not a trusted proxy holds at most ``per_client`` connections. So one noisy
client can neither hold every slot nor keep an administrator's callback out: its idle
connections are the first to go, and a real browser sends its headers at once.
Does not own: the endpoint (``callback``), which address a trusted proxy forwards (``clientaddr``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from nylas_operator.consent.clientaddr import Network, is_trusted, parse_address

log = logging.getLogger("nylas_operator.consent")

HEADERS_END = b"\r\n\r\n"


@dataclass(frozen=True, slots=True)
class GuardLimits:
    max_connections: int = 256
    header_timeout: float = 10.0
    trusted_proxies: tuple[Network, ...] = ()
    per_client: int = field(default=0)  # 0: max_connections // 8 (at least 1)

    def __post_init__(self) -> None:
        if self.max_connections < 1 or self.header_timeout <= 0:
            raise ValueError("max_connections must be >= 1 and header_timeout > 0")
        if self.per_client <= 0:
            object.__setattr__(self, "per_client", max(1, self.max_connections // 8))


@dataclass
class GuardStats:
    """Counters for tests and logs: what the guard closed and why."""

    refused: int = 0
    evicted: int = 0
    timed_out: int = 0


class ConnectionGuard:
    def __init__(self, limits: GuardLimits) -> None:
        self.limits = limits
        self.stats = GuardStats()
        self._open: set[_Guarded] = set()
        self._waiting: OrderedDict[_Guarded, None] = OrderedDict()  # headers not complete, oldest first
        self._per_client: Counter[str] = Counter()

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def wrap(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _Guarded(self, factory)

    def admit(self, conn: _Guarded) -> bool:
        limits = self.limits
        proxy = is_trusted(parse_address(conn.client or ""), limits.trusted_proxies)
        counted = conn.client is not None and not proxy
        if counted and self._per_client[conn.client or ""] >= limits.per_client:
            self.stats.refused += 1
            return False
        if len(self._open) >= limits.max_connections:
            if not self._waiting:
                self.stats.refused += 1
                return False
            oldest = next(iter(self._waiting))
            self.stats.evicted += 1
            oldest.close()
            self.forget(oldest)
        self._open.add(conn)
        self._waiting[conn] = None
        if counted:
            conn.counted = True
            self._per_client[conn.client or ""] += 1
        return True

    def headers_done(self, conn: _Guarded) -> None:
        self._waiting.pop(conn, None)

    def forget(self, conn: _Guarded) -> None:
        if conn not in self._open:
            return
        self._open.discard(conn)
        self._waiting.pop(conn, None)
        if conn.counted:
            conn.counted = False
            key = conn.client or ""
            self._per_client[key] -= 1
            if self._per_client[key] <= 0:
                del self._per_client[key]

    def timed_out(self, conn: _Guarded) -> None:
        self.stats.timed_out += 1
        conn.close()
        self.forget(conn)


class _Guarded(asyncio.Protocol):
    """Delegates to aiohttp's protocol once admitted; watches for the end of the headers."""

    def __init__(self, guard: ConnectionGuard, factory: Callable[[], asyncio.Protocol]) -> None:
        self._guard = guard
        self._factory = factory
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""
        self.client: str | None = None
        self.counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a TCP server's transports are
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self.client = str(peer[0]) if isinstance(peer, tuple) and peer else None
        if not self._guard.admit(self):
            transport.abort()
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._guard.limits.header_timeout, self._guard.timed_out, self)
        self._inner = self._factory()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        if self._timer is not None:
            if HEADERS_END in self._tail + data:
                self._timer.cancel()
                self._timer = None
                self._guard.headers_done(self)
            else:
                self._tail = (self._tail + data)[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._guard.forget(self)
        if self._inner is not None:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None and not self._transport.is_closing():
            # abort: a slow client gets no chance to hold the socket open through a graceful close.
            self._transport.abort()


class GuardedSite:
    """``app`` served on ``host:port`` behind a ``ConnectionGuard`` (aiohttp access log off)."""

    def __init__(self, runner: web.AppRunner, server: asyncio.Server, guard: ConnectionGuard, host: str):
        self.runner = runner
        self.guard = guard
        self.host = host
        self._server = server
        sockets = server.sockets or ()
        self.port = int(sockets[0].getsockname()[1]) if sockets else 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def close(self) -> None:
        self._server.close()
        await self.runner.cleanup()  # closes the connections aiohttp still serves


async def start_guarded_site(
    app: web.Application, host: str, port: int, limits: GuardLimits, *, backlog: int = 128
) -> GuardedSite:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    handler = runner.server
    assert handler is not None
    guard = ConnectionGuard(limits)
    try:
        server = await asyncio.get_running_loop().create_server(
            guard.wrap(handler), host, port, backlog=backlog, reuse_address=True
        )
    except BaseException:
        await runner.cleanup()
        raise
    return GuardedSite(runner, server, guard, host)
