"""Errors, retries under injected faults, Retry-After, the rate limiter, and redaction, over a real socket."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
import traceback
from collections.abc import Awaitable, Callable

import pytest
from nylas_contract import MakeClient, admin_consent

from nylas_operator.emulator.harness import RunningEmulator
from nylas_operator.nylas import (
    ConnectorCreate,
    GoogleConnectorSettings,
    LimiterRegistry,
    MicrosoftConnectorSettings,
    NylasConnectError,
    NylasConnectionDropped,
    NylasError,
    NylasNotFoundError,
    NylasRateLimitedError,
    NylasServerError,
    Provider,
    RetryPolicy,
)

ONE_SHOT = RetryPolicy(max_attempts=1)


def _last_seq(emu: RunningEmulator) -> int:
    entries = emu.journal()
    return entries[-1].seq if entries else 0


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("429", NylasRateLimitedError),
        ("500", NylasServerError),
        ("503", NylasServerError),
        ("drop", NylasConnectionDropped),
    ],
)
async def test_each_fault_surfaces_as_its_error(
    make_client: MakeClient, emu: RunningEmulator, kind: str, cls: type[NylasError]
) -> None:
    emu.set_faults(rates={kind: 1.0})
    client = make_client(retry=ONE_SHOT)
    with pytest.raises(cls) as info:
        await client.grants.list()
    assert info.value.retryable


async def test_not_found_and_connection_refused(make_client: MakeClient, emu: RunningEmulator) -> None:
    with pytest.raises(NylasNotFoundError):
        await make_client().grants.get("no-such-grant")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = make_client(api_url=f"http://127.0.0.1:{port}", retry=RetryPolicy(max_attempts=2, base_delay=0.01))
    with pytest.raises(NylasConnectError):
        await dead.grants.list()


async def test_retries_absorb_faults_and_every_attempt_is_counted(
    make_client: MakeClient, emu: RunningEmulator
) -> None:
    attempts: list[int | str] = []
    client = make_client(observer=lambda endpoint, method, outcome, seconds: attempts.append(outcome))
    emu.set_faults(rates={"500": 0.2, "503": 0.2, "drop": 0.1}, seed=7)
    mark = _last_seq(emu)
    for _ in range(30):
        assert (await client.grants.list(limit=1)).items == []
    journal = emu.journal(after=mark)
    faults = [e for e in journal if e.fault]
    assert len(journal) == len(attempts) > 30
    assert len(journal) - len(faults) == 30  # exactly one good answer per call
    assert faults, "the seed injects some faults"
    assert sorted(str(a) for a in attempts if a != 200) == sorted(
        "dropped" if e.dropped else str(e.status) for e in faults
    )


async def test_retry_after_is_honoured(make_client: MakeClient, emu: RunningEmulator) -> None:
    emu.set_faults(rates={"429": 1.0}, retry_after=1)
    client = make_client(retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_retry_after=5.0))
    mark = _last_seq(emu)
    with pytest.raises(NylasRateLimitedError) as info:
        await client.grants.list()
    assert info.value.retry_after == 1.0
    times = [e.time for e in emu.journal(after=mark)]
    assert len(times) == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(1.0 <= gap < 2.5 for gap in gaps), gaps  # honoured, and not much more


async def test_connector_create_is_not_resent_after_the_answer_was_lost(
    make_client: MakeClient, emu: RunningEmulator
) -> None:
    client = make_client()
    emu.set_faults(rates={"drop_after": 1.0})
    mark = _last_seq(emu)
    body = ConnectorCreate(
        provider=Provider.GOOGLE, settings=GoogleConnectorSettings(client_id="c", client_secret="s")
    )
    with pytest.raises(NylasConnectionDropped):
        await client.connectors.create(body)
    emu.clear_faults()
    assert len(emu.journal(after=mark)) == 1
    assert (await client.connectors.get("google")).provider == "google"  # the lookup heals it


async def test_custom_auth_is_resent_and_stays_one_grant(
    make_client: MakeClient, emu: RunningEmulator
) -> None:
    client = make_client()
    await client.connectors.create(
        ConnectorCreate(
            provider=Provider.MICROSOFT, settings=MicrosoftConnectorSettings(client_id="c", client_secret="s")
        )
    )
    cred = await client.credentials.create("microsoft", admin_consent())
    emu.approve_consent(cred.id, decided_at=time.time() - 3600)
    emu.set_faults(rates={"drop_after": 0.5}, seed=3)
    grants = {
        (
            await client.auth.custom(
                provider="microsoft", email_address="a@acme.example", credential_id=cred.id
            )
        ).id
        for _ in range(5)
    }
    emu.clear_faults()
    assert len(grants) == 1
    assert [g["id"] for g in emu.grants()] == list(grants)


async def test_rate_limiter_bounds_requests_per_second(make_client: MakeClient, emu: RunningEmulator) -> None:
    registry = LimiterRegistry()
    # Two clients of the same application share one budget: 20/s after a burst of 5.
    first = make_client(rate=20, burst=5, registry=registry)
    second = make_client(rate=20, burst=5, registry=registry)
    assert first.limiter is second.limiter
    mark = _last_seq(emu)
    started = time.monotonic()
    await asyncio.wait_for(
        asyncio.gather(*(c.grants.list(limit=1) for c in (first, second) for _ in range(25))), timeout=30
    )
    elapsed = time.monotonic() - started
    assert elapsed >= (50 - 5) / 20 * 0.95, elapsed
    times = sorted(e.time for e in emu.journal(after=mark))
    assert len(times) == 50
    # No one-second window holds more than the burst plus one second's refill.
    assert max(sum(1 for t in times[i:] if t - start < 1.0) for i, start in enumerate(times)) <= 5 + 20 + 1


SECRET_KEY = "nyk_v0_CONTRACT_SECRET_KEY_7f3a9b"
CLIENT_SECRET = "contract-azure-client-secret-42"


async def test_no_secret_in_errors_logs_or_tracebacks(
    make_client: MakeClient, emu: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emu.add_application("secret-app", SECRET_KEY)
    client = make_client(
        api_key=SECRET_KEY, application_id="secret-app", retry=RetryPolicy(max_attempts=2, base_delay=0.01)
    )
    wrong = make_client(api_key=SECRET_KEY + "-wrong")
    failures: list[NylasError] = []
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: wrong.grants.list(),  # 401
        lambda: client.credentials.create("microsoft", admin_consent(secret=CLIENT_SECRET)),  # no connector
        lambda: client.grants.get("missing"),  # 404
    ]
    for call in calls:
        with pytest.raises(NylasError) as info:
            await call()
        failures.append(info.value)
    for kind in ("429", "500", "drop"):
        emu.set_faults(rates={kind: 1.0})
        with pytest.raises(NylasError) as info:
            await client.credentials.create("microsoft", admin_consent(secret=CLIENT_SECRET))
        failures.append(info.value)
    emu.clear_faults()
    assert {type(f).__name__ for f in failures} >= {"NylasUnauthorizedError", "NylasRateLimitedError"}
    texts = [caplog.text, repr(client), repr(wrong)]
    for failure in failures:
        texts += [str(failure), repr(failure), "".join(traceback.format_exception(failure))]
    for text in texts:
        assert SECRET_KEY not in text
        assert CLIENT_SECRET not in text
