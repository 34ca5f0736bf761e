"""The callback behind its connection guard, on a real loopback server: idle, slow and noisy
clients never keep an administrator's callback out.

Clients come from distinct loopback addresses (127.0.0.0/8 is all local on Linux), so the
per-client share is exercised as it would be with real remote clients.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from consent_fakes import FakeRecorder

from nylas_operator.consent.callback import make_callback_app
from nylas_operator.consent.clientaddr import parse_proxies
from nylas_operator.consent.guard import GuardedSite, GuardLimits, start_guarded_site

ADMIN = "127.0.0.1"


async def open_idle(site: GuardedSite, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(site.host, site.port, local_addr=(source, 0))


async def callback(site: GuardedSite, token: str, source: str = ADMIN) -> bytes:
    """A browser's callback: connect, send the request at once, read the whole answer."""
    reader, writer = await open_idle(site, source)
    try:
        request = (
            f"GET /consent/callback?admin_consent=true&tenant=t&state={token} HTTP/1.1\r\n"
            f"Host: {site.host}\r\n\r\n"
        )
        writer.write(request.encode())
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()


async def closed_by_server(reader: asyncio.StreamReader, timeout: float) -> bool:
    with contextlib.suppress(ConnectionError):
        return await asyncio.wait_for(reader.read(), timeout) == b""
    return True


@pytest.fixture
async def conns() -> AsyncIterator[list[asyncio.StreamWriter]]:
    writers: list[asyncio.StreamWriter] = []
    yield writers
    for writer in writers:
        writer.close()


async def serve(recorder: FakeRecorder, limits: GuardLimits) -> GuardedSite:
    return await start_guarded_site(make_callback_app(recorder), "127.0.0.1", 0, limits)


async def test_many_idle_connections_from_one_client_then_a_real_callback_succeeds(
    recorder: FakeRecorder, conns: list[asyncio.StreamWriter]
) -> None:
    site = await serve(recorder, GuardLimits(max_connections=64, header_timeout=30))
    try:
        readers = []
        for _ in range(200):  # far more than the cap, all idle (no byte sent)
            reader, writer = await open_idle(site, "127.0.0.2")
            readers.append(reader)
            conns.append(writer)
        # The noisy client holds only its share; the others were closed on arrival.
        assert site.guard.open_connections == site.guard.limits.per_client == 8
        assert await closed_by_server(readers[-1], 5)
        answer = await callback(site, recorder.issue())
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert len(recorder.recorded) == 1
    finally:
        await site.close()


async def test_idle_connections_from_many_clients_are_evicted_oldest_first(
    recorder: FakeRecorder, conns: list[asyncio.StreamWriter]
) -> None:
    site = await serve(recorder, GuardLimits(max_connections=8, header_timeout=30, per_client=2))
    try:
        first = None
        for i in range(2, 12):  # 10 clients x 2 idle connections = 20 > 8
            for _ in range(2):
                reader, writer = await open_idle(site, f"127.0.0.{i}")
                first = first or reader
                conns.append(writer)
        assert site.guard.open_connections == 8
        assert first is not None and await closed_by_server(first, 5)  # the oldest went first
        answer = await callback(site, recorder.issue())
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert site.guard.stats.evicted >= 12
    finally:
        await site.close()


async def test_a_slow_client_is_closed_at_the_header_deadline(
    recorder: FakeRecorder, conns: list[asyncio.StreamWriter]
) -> None:
    site = await serve(recorder, GuardLimits(max_connections=8, header_timeout=0.5))
    try:
        reader, writer = await open_idle(site, "127.0.0.2")
        conns.append(writer)
        writer.write(b"GET /consent/callback?state=")  # ...and never the rest of the headers
        await writer.drain()
        assert await closed_by_server(reader, 5)
        assert site.guard.stats.timed_out == 1 and site.guard.open_connections == 0
        # A request that sends its headers in time is served, and the connection is not kept.
        answer = await callback(site, recorder.issue())
        assert answer.startswith(b"HTTP/1.1 200") and b"Connection: close" in answer
    finally:
        await site.close()


async def test_trusted_proxies_are_not_held_to_the_per_client_share(
    recorder: FakeRecorder, conns: list[asyncio.StreamWriter]
) -> None:
    proxies = parse_proxies(["127.0.0.3"])
    limits = GuardLimits(max_connections=16, header_timeout=30, per_client=2, trusted_proxies=proxies)
    site = await serve(recorder, limits)
    try:
        for _ in range(6):
            _, writer = await open_idle(site, "127.0.0.3")
            conns.append(writer)
        assert site.guard.open_connections == 6  # an ingress controller serves many browsers
    finally:
        await site.close()
