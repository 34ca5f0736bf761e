"""The `curl` the sandbox prints really approves a consent on the emulator's prompt page.

A real emulator (prompt mode) and a real HTTP server standing in for the operator's callback; the
command runs in bash exactly as printed.
"""

from __future__ import annotations

import http.server
import subprocess
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from fixtures.emulator import api_client, make_connector, make_credential
from nylas_operator.emulator.config import Behaviour, EmulatorConfig
from nylas_operator.emulator.harness import RunningEmulator, run_emulator
from nylas_operator.sandbox import messages


@pytest.fixture
def prompting_emulator() -> Iterator[RunningEmulator]:
    with run_emulator(EmulatorConfig(behaviour=Behaviour(consent_mode="prompt", scope_cache_delay=1))) as emu:
        yield emu


@pytest.fixture
def callback() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = b"<html>consent recorded</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/consent/callback", hits
    finally:
        server.shutdown()
        server.server_close()


def test_the_printed_curl_approves_and_reaches_the_callback(
    prompting_emulator: RunningEmulator, callback: tuple[str, list[str]]
) -> None:
    redirect_uri, hits = callback
    with api_client(prompting_emulator) as api:
        make_connector(api)
        cred = make_credential(api, tenant="contoso.onmicrosoft.com")
    query = {
        "client_id": prompting_emulator.application_id,
        "provider": "microsoft",
        "response_type": "adminconsent",
        "credential_id": cred["id"],
        "redirect_uri": redirect_uri,
        "state": "s-123",
    }
    url = f"{prompting_emulator.url}/v3/connect/auth?{urlencode(query)}"

    result = subprocess.run(
        ["bash", "-c", messages.approve_command(url)], capture_output=True, text=True, timeout=30, check=False
    )

    assert result.returncode == 0, result.stderr
    assert "consent recorded" in result.stdout
    assert len(hits) == 1
    params = parse_qs(urlsplit(hits[0]).query)
    assert params["admin_consent"] == ["true"]
    assert params["state"] == ["s-123"]
    consents = prompting_emulator.state().get("consents")
    assert consents, "the emulator recorded the approval"
