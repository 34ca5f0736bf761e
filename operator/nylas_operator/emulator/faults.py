"""Fault injection for /v3 API calls: which call fails, and how.

Owns the seeded dice, the endpoint-scoped rules (with their remaining counts) and the current
fault settings (changeable while running). It does not apply faults to requests (`pipeline.py`
does) and never touches /_emulator.
"""

from __future__ import annotations

import fnmatch
import random

from nylas_operator.emulator.config import FAULT_KINDS, RULE_KINDS, FaultConfig, FaultRule


class FaultInjector:
    def __init__(self, config: FaultConfig) -> None:
        self.injected: dict[str, int] = dict.fromkeys(RULE_KINDS, 0)
        self.set(config)

    def set(self, config: FaultConfig) -> None:
        """Replace the settings; a new seed restarts the dice so runs can be repeated, and every
        rule gets its full count again."""
        self.config = config.validated()
        self._rng = random.Random(config.seed)
        self._remaining: list[int | None] = [rule.times for rule in self.config.rules]

    def match(self, method: str, path: str) -> FaultRule | None:
        """The first rule for this call that has calls left (and count it), or None."""
        for index, rule in enumerate(self.config.rules):
            left = self._remaining[index]
            if left == 0 or rule.method not in ("*", method.upper()):
                continue
            if not fnmatch.fnmatchcase(path, rule.path):
                continue
            if left is not None:
                self._remaining[index] = left - 1
            self.injected[rule.kind] += 1
            return rule
        return None

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
