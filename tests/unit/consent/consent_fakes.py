"""An in-memory ConsentRecorder with the semantics the real one must have (unit tests only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from nylas_operator.consent import tokens
from nylas_operator.consent.recording import ConsentOutcome, RecordResult


@dataclass
class Pending:
    issued_at: datetime
    display_name: str | None = None
    used: bool = False


@dataclass
class FakeRecorder:
    ttl: timedelta = timedelta(hours=1)
    settle: timedelta = timedelta(minutes=5)
    pending: dict[str, Pending] = field(default_factory=dict)
    calls: list[tuple[str, ConsentOutcome]] = field(default_factory=list)
    recorded: list[tuple[str, ConsentOutcome]] = field(default_factory=list)
    fail_next: bool = False

    def issue(self, *, age: timedelta = timedelta(0), display_name: str | None = "team-a/ms-cred") -> str:
        token, digest = tokens.new_state()
        self.pending[digest] = Pending(issued_at=datetime.now(UTC) - age, display_name=display_name)
        return token

    async def record(self, state_hash: str, outcome: ConsentOutcome) -> RecordResult:
        self.calls.append((state_hash, outcome))
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("apiserver unreachable")
        entry = self.pending.get(state_hash)
        if entry is None or entry.used or datetime.now(UTC) >= entry.issued_at + self.ttl:
            return RecordResult.refused()
        self.recorded.append((state_hash, outcome))
        if not outcome.granted:
            return RecordResult(accepted=True, display_name=entry.display_name)  # kept: retry allowed
        entry.used = True
        return RecordResult(
            accepted=True,
            grants_after=datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC),
            display_name=entry.display_name,
        )
