"""`nylas-operator emulator` as a real process: prints the URL of a free port and serves it."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time

import httpx


def test_cli_prints_the_listening_url_and_serves(tmp_path: object) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "nylas_operator.cli", "emulator", "--port", "0", "--api-key", "cli-key",
         "--application-id", "cli-app", "--scope-cache-delay", "1.5", "--consent", "prompt", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 20
        line = ""
        while not line and time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                line = process.stdout.readline()
        assert line.startswith("Nylas emulator listening on http://127.0.0.1:"), line
        assert "cli-key" not in line
        url = line.split()[4]
        assert not url.endswith(":0")
        response = httpx.get(url + "/v3/connectors", headers={"Authorization": "Bearer cli-key"})
        assert response.status_code == 200
        config = httpx.get(url + "/_emulator/config").json()
        assert (config["consent_mode"], config["scope_cache_delay"]) == ("prompt", 1.5)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
