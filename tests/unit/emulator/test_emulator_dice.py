"""Fault dice and the rate limiter (pure logic, fake clock)."""

from __future__ import annotations

import pytest

from nylas_operator.emulator.config import Behaviour, EmulatorConfig, FaultConfig
from nylas_operator.emulator.errors import ApiError
from nylas_operator.emulator.faults import FaultInjector
from nylas_operator.emulator.ratelimit import RateLimiter


def test_seeded_dice_repeat_and_zero_rates_never_fault() -> None:
    config = FaultConfig(rates={"429": 0.3, "drop": 0.2}, seed=9)
    first = [FaultInjector(config).draw() for _ in range(1)]
    a, b = FaultInjector(config), FaultInjector(config)
    assert [a.draw() for _ in range(200)] == [b.draw() for _ in range(200)]
    assert first
    quiet = FaultInjector(FaultConfig(rates={"500": 0.0}, seed=1))
    assert {quiet.draw() for _ in range(500)} == {None}
    loud = FaultInjector(FaultConfig(rates={"503": 1.0}))
    assert {loud.draw() for _ in range(50)} == {"503"}
    assert loud.injected["503"] == 50


def test_even_split_and_validation() -> None:
    assert FaultConfig.even(0.3).rates == pytest.approx({"429": 0.1, "500": 0.1, "503": 0.1})
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultConfig(rates={"404": 0.1}).validated()
    with pytest.raises(ValueError, match="more than 1"):
        FaultConfig(rates={"429": 0.6, "500": 0.6}).validated()
    with pytest.raises(ValueError, match="reauth_status"):
        EmulatorConfig(behaviour=Behaviour(reauth_status=204)).validated()


def test_rate_limiter_sliding_window() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    for _ in range(5):
        limiter.check("app", 5)
    with pytest.raises(ApiError) as caught:
        limiter.check("app", 5)
    assert (caught.value.status, caught.value.type) == (429, "nylas_rate_limit_exceeded")
    limiter.check("other", 5)
    now[0] = 1.0
    limiter.check("app", 5)
    limiter.check("app", None)


def test_endpoint_rules_match_method_and_glob_and_count_down() -> None:
    rule = {"method": "POST", "path": "/v3/connectors/*/creds", "kind": "hold_after", "times": 2}
    injector = FaultInjector(FaultConfig(rules=({**rule, "hold_seconds": 5.0},), rates={"500": 1.0}))
    assert injector.match("GET", "/v3/connectors/google/creds") is None
    assert injector.match("POST", "/v3/connectors/google/creds/x") is None
    first = injector.match("POST", "/v3/connectors/google/creds")
    assert first is not None and (first.kind, first.hold_seconds) == ("hold_after", 5.0)
    assert injector.match("post", "/v3/connectors/microsoft/creds") is first
    assert injector.match("POST", "/v3/connectors/google/creds") is None  # used up: the dice decide
    assert injector.injected["hold_after"] == 2
    injector.set(injector.config)  # setting again restores the counts
    assert injector.match("POST", "/v3/connectors/google/creds") is not None
    forever = FaultInjector(FaultConfig(rules=({"method": "*", "path": "/v3/grants*", "kind": "503"},)))
    assert all(forever.match("DELETE", "/v3/grants/g1") for _ in range(20))


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault rule kind"):
        FaultConfig(rules=({"method": "POST", "path": "/v3/x", "kind": "teapot"},)).validated()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times"):
        FaultConfig(rules=({"method": "POST", "path": "/v3/x", "kind": "500", "times": 0},)).validated()  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        FaultConfig(rules=({"method": "POST", "path": "/v3/x", "kind": "500", "colour": 1},))  # type: ignore[arg-type]
