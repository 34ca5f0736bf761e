"""End-to-end scenarios: real apiserver + the emulator as Nylas + the operator as a subprocess."""

from __future__ import annotations

import pytest

from nylas_operator.emulator.config import Behaviour, EmulatorConfig

# The emulator refuses Microsoft grants for this long after consent; the operator waits longer.
EMULATOR_SCOPE_CACHE = 2.0


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(behaviour=Behaviour(scope_cache_delay=EMULATOR_SCOPE_CACHE))
