"""HTTPS_PROXY/NO_PROXY (docs/production.md): the Nylas client goes through the proxy, the
Kubernetes client never does (like kopf's own). A recording proxy and a stand-in apiserver run
on loopback; the Nylas target address is never dialled, only named to the proxy."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import kopf
import pytest
from aiohttp import web

from nylas_operator.kube import Kube
from nylas_operator.nylas.client import NylasClient
from nylas_operator.nylas.errors import NylasConnectError
from nylas_operator.nylas.retry import RetryPolicy
from nylas_operator.nylas.settings import NylasSettings

# Nothing listens here; a request that reaches it directly fails to connect.
NYLAS = "http://127.0.0.1:9"


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[str, Recorder]]:
    """An HTTP proxy that records each request line and answers as Nylas would, itself."""
    recorder = Recorder()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        recorder.lines.append(head.split(b"\r\n", 1)[0].decode())
        body = json.dumps({"request_id": "r", "data": [], "limit": 200, "offset": 0}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", recorder


@pytest.fixture
async def apiserver() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def get(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.json_response({"metadata": {"name": request.match_info["name"]}})

    app = web.Application()
    app.router.add_get("/apis/nylas-operator.io/v1alpha1/namespaces/{ns}/serviceaccountgrants/{name}", get)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


def _proxy_env(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, url)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


async def test_nylas_requests_go_through_the_proxy(
    proxy: tuple[str, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, recorder = proxy
    _proxy_env(monkeypatch, url)
    client = NylasClient("nyk_test", api_url=NYLAS, settings=NylasSettings(), application_id="app")
    try:
        page = await client.connectors.list()
    finally:
        await client.aclose()
    assert page.items == []
    # Absolute-form request line: the proxy was asked for Nylas' URL.
    assert recorder.lines == [f"GET {NYLAS}/v3/connectors HTTP/1.1"]


async def test_no_proxy_sends_nylas_requests_directly(
    proxy: tuple[str, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, recorder = proxy
    _proxy_env(monkeypatch, url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    settings = NylasSettings(retry=RetryPolicy(max_attempts=1))
    client = NylasClient("nyk_test", api_url=NYLAS, settings=settings, application_id="app")
    try:
        with pytest.raises(NylasConnectError):  # nothing listens on port 9: it was dialled directly
            await client.connectors.list()
    finally:
        await client.aclose()
    assert recorder.lines == []


async def test_the_kubernetes_client_ignores_proxy_variables(
    proxy: tuple[str, Recorder], apiserver: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, recorder = proxy
    server, seen = apiserver
    _proxy_env(monkeypatch, url)
    kube = Kube(kopf.ConnectionInfo(server=server, insecure=True))
    try:
        body = await kube.get_object("serviceaccountgrants", "ns", "dana")
    finally:
        await kube.aclose()
    assert body == {"metadata": {"name": "dana"}}
    assert seen == ["/apis/nylas-operator.io/v1alpha1/namespaces/ns/serviceaccountgrants/dana"]
    assert recorder.lines == []
