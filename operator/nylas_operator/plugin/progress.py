"""Pure: how far a set of grants is from all Ready, and when ``wait`` must stop.

Owns: counting by phase, which grants failed for good (phase Failed: the operator stopped until
the spec or a Secret changes), the earliest time a settling grant becomes eligible, the one-line
summary and the exit codes of ``wait``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from nylas_operator.api import conditions as c
from nylas_operator.plugin.tree import state

EXIT_READY: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_TIMEOUT: Final = 3
EXIT_FAILED: Final = 4
_UNREPORTED: Final = ("NotObserved", "NoStatus")  # tree.state's reasons: the phase is old or absent


@dataclass(frozen=True)
class Progress:
    total: int
    ready: int
    phases: tuple[tuple[str, int], ...]
    """Not-ready grants by phase, most numerous first."""
    failed: tuple[tuple[str, str, str], ...]
    """(namespace/name, reason, message) of grants in phase Failed."""
    next_eligible: str | None

    @property
    def done(self) -> bool:
        return self.total > 0 and self.ready == self.total

    def line(self) -> str:
        parts = [f"{self.ready}/{self.total} Ready"]
        parts += [f"{count} {phase}" for phase, count in self.phases]
        text = ", ".join(parts)
        if self.next_eligible:
            text += f" (next grant eligible at {self.next_eligible})"
        return text


def summarize(grants: Iterable[Mapping[str, Any]]) -> Progress:
    phases: Counter[str] = Counter()
    failed: list[tuple[str, str, str]] = []
    eligible: list[str] = []
    total = ready = 0
    for grant in grants:
        total += 1
        phase, reason, message, is_ready = state(grant)
        if is_ready:
            ready += 1
            continue
        phases[reason if reason in _UNREPORTED else phase] += 1
        meta = grant.get("metadata") or {}
        if phase == c.FAILED and reason not in _UNREPORTED:
            failed.append((f"{meta.get('namespace')}/{meta.get('name')}", reason, message))
        when = (grant.get("status") or {}).get("eligibleAt")
        if phase == c.CONSENT_SETTLING and when:
            eligible.append(str(when))
    return Progress(
        total=total,
        ready=ready,
        phases=tuple(sorted(phases.items(), key=lambda kv: (-kv[1], kv[0]))),
        failed=tuple(sorted(failed)),
        next_eligible=min(eligible) if eligible else None,
    )
