"""Fault injection and the rate limit over real HTTP: rates, seeds, drops, latency, scope of faults."""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest

from fixtures.emulator import api_client, make_connector
from nylas_operator.emulator.config import Behaviour, EmulatorConfig, FaultConfig
from nylas_operator.emulator.harness import RunningEmulator


def _statuses(api: httpx.Client, n: int) -> list[int]:
    return [api.get("/v3/connectors").status_code for _ in range(n)]


def test_rates_are_honoured_statistically(emulator: RunningEmulator, emulator_api: httpx.Client) -> None:
    emulator.set_faults(rates={"429": 0.2, "500": 0.1, "503": 0.1}, seed=7, retry_after=3)
    counts = Counter(_statuses(emulator_api, 1000))
    # Binomial(1000, p) stays within about 4 standard deviations of its mean.
    assert abs(counts[429] - 200) < 55
    assert abs(counts[500] - 100) < 40
    assert abs(counts[503] - 100) < 40
    assert counts[200] + counts[429] + counts[500] + counts[503] == 1000
    injected = emulator.set_faults()["injected"]
    assert (injected["429"], injected["500"], injected["503"]) == (counts[429], counts[500], counts[503])


def test_injected_answers_are_nylas_envelopes_with_retry_after(
    emulator: RunningEmulator, emulator_api: httpx.Client
) -> None:
    emulator.set_faults(rates={"429": 1.0}, retry_after=3)
    response = emulator_api.get("/v3/connectors")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.json()["request_id"] == response.headers["X-Request-Id"]
    assert response.json()["error"]["type"] == "rate_limit_error"
    emulator.set_faults(rates={"503": 1.0})
    response = emulator_api.get("/v3/connectors")
    assert response.status_code == 503
    assert "Retry-After" not in response.headers


def test_the_same_seed_gives_the_same_faults(emulator: RunningEmulator, emulator_api: httpx.Client) -> None:
    emulator.set_faults(rate=0.5, seed=42)
    first = _statuses(emulator_api, 60)
    emulator.set_faults(rate=0.5, seed=42)
    assert _statuses(emulator_api, 60) == first
    assert len(set(first)) > 1


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(faults=FaultConfig(rates={"500": 1.0}, seed=1))])
def test_faults_configured_at_start_spare_control_and_consent(
    emulator: RunningEmulator, emulator_api: httpx.Client
) -> None:
    assert emulator_api.get("/v3/connectors").status_code == 500
    assert emulator.state()["connectors"] == []  # /_emulator is never faulted
    browser = httpx.get(emulator.url + "/v3/connect/auth", params={"response_type": "adminconsent"})
    assert browser.status_code == 400  # a real answer about its parameters, not an injected 500


def test_a_dropped_connection_sends_nothing_and_applies_nothing(
    emulator: RunningEmulator, emulator_api: httpx.Client
) -> None:
    emulator.set_faults(rates={"drop": 1.0})
    body = {"provider": "google", "settings": {"client_id": "a", "client_secret": "b"}}
    with pytest.raises(httpx.RemoteProtocolError):
        emulator_api.post("/v3/connectors", json=body)
    emulator.clear_faults()
    assert emulator.state()["connectors"] == []
    [entry] = emulator.journal()
    assert (entry.dropped, entry.status, entry.fault) == (True, None, "drop")


def test_drop_after_applies_the_request_but_loses_the_answer(
    emulator: RunningEmulator, emulator_api: httpx.Client
) -> None:
    emulator.set_faults(rates={"drop_after": 1.0})
    body = {"provider": "google", "settings": {"client_id": "a", "client_secret": "b"}}
    with pytest.raises(httpx.RemoteProtocolError):
        emulator_api.post("/v3/connectors", json=body)
    emulator.clear_faults()
    assert [c["provider"] for c in emulator.state()["connectors"]] == ["google"]
    assert emulator_api.post("/v3/connectors", json=body).status_code == 400  # the retry sees the twin


def test_hold_after_rule_applies_the_request_then_holds_the_answer(
    emulator: RunningEmulator, emulator_api: httpx.Client
) -> None:
    rule = {"method": "POST", "path": "/v3/connectors/*/creds", "kind": "hold_after", "hold_seconds": 30}
    emulator.set_faults(rules=[{**rule, "times": 1}], rates={"500": 1.0})
    assert emulator_api.get("/v3/connectors").status_code == 500  # other calls: the dice
    emulator.set_faults(rates={})
    make_connector(emulator_api, "microsoft")
    body = {"name": "k8s:ns/held", "credential_type": "adminconsent", "credential_data": {"tenant": "t"}}
    with pytest.raises(httpx.ReadTimeout):  # the client gives up while the answer is held
        emulator_api.post("/v3/connectors/microsoft/creds", json=body, timeout=1.0)
    assert [c["name"] for c in emulator.state()["credentials"]] == ["k8s:ns/held"]  # yet it is applied
    held = [e for e in emulator.journal() if e.path == "/v3/connectors/microsoft/creds"]
    assert [e.fault for e in held] == ["hold_after"]
    other = {**body, "name": "k8s:ns/next"}
    assert emulator_api.post("/v3/connectors/microsoft/creds", json=other).status_code == 201  # times=1
    assert emulator.set_faults()["rules"] == [{**rule, "times": 1}]


def test_latency_is_added_to_api_calls_only(emulator: RunningEmulator, emulator_api: httpx.Client) -> None:
    emulator.set_faults(latency_ms=150)
    started = time.monotonic()
    emulator_api.get("/v3/connectors")
    assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    emulator.state()
    assert time.monotonic() - started < 0.15


def test_bad_fault_settings_are_refused(emulator: RunningEmulator) -> None:
    from nylas_operator.emulator.harness import ControlError

    for settings in (
        {"rates": {"418": 0.1}},
        {"rates": {"500": 0.7, "503": 0.7}},
        {"colour": "red"},
        {"rules": [{"method": "POST", "path": "/v3/connect/custom", "kind": "hold"}]},
        {"rules": [{"method": "POST", "kind": "drop_after"}]},
    ):
        with pytest.raises(ControlError) as caught:
            emulator.set_faults(**settings)
        assert caught.value.status == 400


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(behaviour=Behaviour(rate_limit_per_second=20))])
def test_the_rate_limit_is_per_application(emulator: RunningEmulator, emulator_api: httpx.Client) -> None:
    emulator.add_application("second", "second-key")
    statuses = _statuses(emulator_api, 40)
    assert statuses[:20] == [200] * 20
    assert 429 in statuses[20:]
    limited = emulator_api.get("/v3/connectors")
    if limited.status_code == 429:
        assert limited.json()["error"]["type"] == "nylas_rate_limit_exceeded"
        assert "Retry-After" not in limited.headers
    with api_client(emulator, "second-key") as other:
        assert other.get("/v3/connectors").status_code == 200
    time.sleep(1.05)
    assert emulator_api.get("/v3/connectors").status_code == 200


def test_rate_limit_is_off_by_default(emulator_api: httpx.Client) -> None:
    make_connector(emulator_api)
    assert set(_statuses(emulator_api, 120)) == {200}
