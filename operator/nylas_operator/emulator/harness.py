"""Run the emulator inside a test process, and a small typed client for its /_emulator API.

Owns the background thread (its own event loop, a real socket) behind `run_emulator(...)` and
`EmulatorControl`, which talks plain HTTP (stdlib only) so it works from sync and async tests
alike. It never reaches into the server's memory: tests see exactly what the HTTP API shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from nylas_operator.emulator.app import Serving, serve
from nylas_operator.emulator.config import EmulatorConfig
from nylas_operator.emulator.journal import JournalEntry

START_TIMEOUT = 10.0
CONTROL_TIMEOUT = 10.0


class ControlError(RuntimeError):
    """A /_emulator call failed; carries the HTTP status and the error body."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"emulator control call failed with {status}: {body}")
        self.status = status
        self.body = body


@dataclass
class EmulatorControl:
    """Typed calls to /_emulator on a running emulator (in this process or another)."""

    url: str

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + "/_emulator" + path, data=data, method=method)  # noqa: S310
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=CONTROL_TIMEOUT) as response:  # noqa: S310 - our own URL
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ControlError(exc.code, exc.read().decode(errors="replace")) from None

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/state")
        return result

    def grants(self) -> list[dict[str, Any]]:
        return list(self.state()["grants"])

    def credentials(self) -> list[dict[str, Any]]:
        return list(self.state()["credentials"])

    def connectors(self) -> list[dict[str, Any]]:
        return list(self.state()["connectors"])

    def token_requests(self) -> list[dict[str, Any]]:
        """Requests to the Microsoft token stand-in: tenant, client_id, outcome."""
        return list(self.state()["token_requests"])

    def journal(self, after: int = 0) -> list[JournalEntry]:
        raw = self._call("GET", f"/journal?after={after}")["entries"]
        return [JournalEntry(**entry) for entry in raw]

    def reset(self) -> None:
        self._call("POST", "/reset")

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """E.g. `set_faults(rates={"429": 0.2}, seed=1)`, `set_faults(rate=0.3)`, `latency_ms=50`,
        `set_faults(rules=[{"method": "POST", "path": "/v3/connect/custom", "kind": "drop"}])`."""
        result: dict[str, Any] = self._call("PUT", "/faults", settings)
        return result

    def hold_after(self, method: str, path: str, seconds: float, times: int | None = 1) -> dict[str, Any]:
        """Apply matching calls, then hold their answers for ``seconds`` (replaces all rules)."""
        rule = {"method": method, "path": path, "kind": "hold_after", "hold_seconds": seconds, "times": times}
        return self.set_faults(rules=[rule])

    def clear_faults(self) -> None:
        self.set_faults(rates={}, rules=[], latency_ms=0.0)

    def configure(self, **behaviour: Any) -> dict[str, Any]:
        """Change behaviour knobs, e.g. `configure(consent_mode="prompt", scope_cache_delay=0.5)`."""
        result: dict[str, Any] = self._call("PUT", "/config", behaviour)
        return result

    def add_application(
        self,
        application_id: str,
        api_key: str,
        name: str = "Emulated application",
        redirect_uris: list[str] | None = None,
    ) -> None:
        """``redirect_uris``: None accepts any redirect URI; a list enforces registration."""
        body: dict[str, Any] = {"application_id": application_id, "api_key": api_key, "name": name}
        if redirect_uris is not None:
            body["redirect_uris"] = redirect_uris
        self._call("POST", "/applications", body)

    def approve_consent(
        self, credential_id: str, decided_at: float | None = None, scopes: list[str] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"credential_id": credential_id, "decision": "approve"}
        if decided_at is not None:
            body["decided_at"] = decided_at
        if scopes is not None:
            body["scopes"] = scopes
        result: dict[str, Any] = self._call("POST", "/consent", body)
        return result

    def revoke_consent(self, credential_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "POST", "/consent", {"credential_id": credential_id, "decision": "deny"}
        )
        return result

    def invalidate_grant(self, grant_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"/grants/{grant_id}/invalidate")
        return result

    def delete_grant(self, grant_id: str) -> None:
        self._call("DELETE", f"/grants/{grant_id}")


@dataclass
class RunningEmulator(EmulatorControl):
    """A started emulator: its URL, the first application's credentials, and the control calls."""

    api_key: str = field(default="", repr=False)
    application_id: str = ""
    config: EmulatorConfig = field(default_factory=EmulatorConfig, repr=False)


@contextlib.contextmanager
def run_emulator(config: EmulatorConfig | None = None) -> Iterator[RunningEmulator]:
    """Serve the emulator on a background thread for the duration of the `with` block."""
    config = (config or EmulatorConfig()).validated()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, Any] = {}

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            box["serving"] = loop.run_until_complete(serve(config))
        except BaseException as exc:  # reported to the caller below
            box["error"] = exc
            started.set()
            return
        started.set()
        loop.run_forever()
        serving: Serving = box["serving"]
        loop.run_until_complete(serving.runner.cleanup())
        loop.close()

    thread = threading.Thread(target=main, name="nylas-emulator", daemon=True)
    thread.start()
    if not started.wait(START_TIMEOUT):
        raise TimeoutError("the emulator did not start in time")
    if "error" in box:
        raise RuntimeError("the emulator failed to start") from box["error"]
    first = config.applications[0]
    try:
        yield RunningEmulator(
            url=box["serving"].url, api_key=first.api_key, application_id=first.application_id, config=config
        )
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(START_TIMEOUT)
