"""Every Nylas call is bounded: a bad ``apiUrl`` that answers slowly, endlessly or hugely cannot hold
a worker or fill memory, and a host that is not allowed gets nothing at all.

The "bad Nylas" is a real HTTP server on loopback (raw asyncio, so it can misbehave at the byte
level); no transport mocks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from nylas_operator.nylas import LimiterRegistry, NylasClient, NylasSettings, RetryPolicy
from nylas_operator.nylas.errors import NylasResponseError, NylasStatusError, NylasTimeoutError
from nylas_operator.nylas.hosts import NylasHostNotAllowed

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
Behaviour = Callable[[asyncio.StreamWriter], Awaitable[None]]


@dataclass
class BadNylas:
    """Answers every request with ``behaviour``; counts requests that arrived."""

    behaviour: Behaviour
    requests: int = 0
    server: asyncio.Server | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            await reader.readuntil(b"\r\n\r\n")
            self.requests += 1
            await self.behaviour(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self.tasks.discard(task)


@pytest.fixture
async def bad_nylas() -> AsyncIterator[Callable[[Behaviour], Awaitable[BadNylas]]]:
    made: list[BadNylas] = []

    async def start(behaviour: Behaviour) -> BadNylas:
        bad = BadNylas(behaviour)
        bad.server = await asyncio.start_server(bad.handle, "127.0.0.1", 0)
        made.append(bad)
        return bad

    yield start
    for bad in made:
        assert bad.server is not None
        bad.server.close()
        for task in list(bad.tasks):
            task.cancel()


def client(url: str, **settings: object) -> NylasClient:
    base = {"retry": RetryPolicy(max_attempts=1), "allowed_hosts": ("127.0.0.0/8",), **settings}
    return NylasClient(
        "nyk_test",
        api_url=url,
        settings=NylasSettings(**base),
        registry=LimiterRegistry(),  # type: ignore[arg-type]
    )


async def trickle(writer: asyncio.StreamWriter) -> None:
    """Headers, then one byte of a never-ending body every 0.1 s: each read is quick, so httpx's
    per-read timeout never fires."""
    writer.write(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
    while True:
        writer.write(b"1\r\n \r\n")
        await writer.drain()
        await asyncio.sleep(0.1)


async def test_a_trickling_answer_is_cut_at_the_attempt_deadline(
    bad_nylas: Callable[..., Awaitable[BadNylas]],
) -> None:
    bad = await bad_nylas(trickle)
    async with client(bad.url, attempt_deadline=1.0) as nylas:
        started = time.monotonic()
        with pytest.raises(NylasTimeoutError, match=r"no complete answer within 1s"):
            await nylas.grants.get("g-1")
        assert time.monotonic() - started < 5
    assert bad.requests == 1


def huge(size: int, *, declared: bool) -> Behaviour:
    async def send(writer: asyncio.StreamWriter) -> None:
        length = f"Content-Length: {size}\r\n" if declared else "Transfer-Encoding: chunked\r\n"
        writer.write(HEAD + length.encode() + b"\r\n")
        block = b"x" * 65536
        sent = 0
        while sent < size:
            part = block[: min(len(block), size - sent)]
            writer.write(part if declared else f"{len(part):x}\r\n".encode() + part + b"\r\n")
            await writer.drain()
            sent += len(part)
        if not declared:
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    return send


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_huge_answer_is_refused_past_the_cap(
    bad_nylas: Callable[..., Awaitable[BadNylas]], declared: bool
) -> None:
    bad = await bad_nylas(huge(64 * 1024 * 1024, declared=declared))  # 64 MiB, cap 1 MiB
    async with client(bad.url, max_response_bytes=1024 * 1024, attempt_deadline=20.0) as nylas:
        with pytest.raises(NylasResponseError, match=r"larger than 1048576 bytes"):
            await nylas.grants.get("g-1")


async def test_an_answer_under_the_cap_is_read() -> None:
    """The cap is not off by one: a body of exactly the cap is parsed."""
    body = b'{"request_id": "r", "data": {"id": "g-1", "grant_status": "valid", "provider": "google"}}'

    async def exact(writer: asyncio.StreamWriter) -> None:
        writer.write(HEAD + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()

    server = await asyncio.start_server(lambda r, w: _serve_once(r, w, exact), "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        async with client(url, max_response_bytes=len(body)) as nylas:
            grant = await nylas.grants.get("g-1")
            assert grant.id == "g-1"
    finally:
        server.close()


async def _serve_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, then: Behaviour) -> None:
    await reader.readuntil(b"\r\n\r\n")
    await then(writer)
    writer.close()


async def test_a_huge_error_answer_is_cut_not_read_whole(
    bad_nylas: Callable[..., Awaitable[BadNylas]],
) -> None:
    async def error(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 67108864\r\n\r\n")
        for _ in range(1024):
            writer.write(b"e" * 65536)
            await writer.drain()

    bad = await bad_nylas(error)
    async with client(bad.url, max_response_bytes=1024 * 1024, attempt_deadline=20.0) as nylas:
        with pytest.raises(NylasStatusError) as caught:
            await nylas.grants.get("g-1")
    assert caught.value.status == 500 and len(str(caught.value)) < 2000


async def test_a_host_not_allowed_gets_nothing(bad_nylas: Callable[..., Awaitable[BadNylas]]) -> None:
    bad = await bad_nylas(huge(10, declared=True))
    url = bad.url.replace("127.0.0.1", "localhost")
    async with client(url, allowed_hosts=("api.us.nylas.com", "10.0.0.0/8")) as nylas:
        with pytest.raises(
            NylasHostNotAllowed, match=r"'localhost' is not in the operator's allowed hosts"
        ) as caught:
            await nylas.grants.get("g-1")
        assert not caught.value.retryable
    assert bad.requests == 0
