"""Fault injection for /v3 API calls: which call fails, and how.

Owns the seeded dice and the current fault settings (changeable while running). It does not
apply faults to requests (`pipeline.py` does) and never touches /_emulator.
"""

from __future__ import annotations

import random

from nylas_operator.emulator.config import FAULT_KINDS, FaultConfig


class FaultInjector:
    def __init__(self, config: FaultConfig) -> None:
        self.config = config.validated()
        self._rng = random.Random(config.seed)
        self.injected: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)

    def set(self, config: FaultConfig) -> None:
        """Replace the settings; a new seed restarts the dice so runs can be repeated."""
        self.config = config.validated()
        self._rng = random.Random(config.seed)

    def draw(self) -> str | None:
        """One roll per API call: a fault kind, or None to answer normally."""
        if not self.config.rates:
            return None
        roll = self._rng.random()
        bound = 0.0
        for kind in FAULT_KINDS:  # fixed order keeps a seeded run repeatable
            bound += self.config.rates.get(kind, 0.0)
            if roll < bound:
                self.injected[kind] += 1
                return kind
        return None
