"""Status as a value: conditions, phase and fields computed in a ``Report``, written once.

Owns: ``Report`` (collects what a reconcile found), typed by the kind's ``*Status`` model of the
api package: fields are set by their Python names (``grant_id``), an unknown name is a bug caught
at once, and the status to write is validated against the model before it leaves the process.
Also the diff against the current status (only changed fields are written; handlers return None,
so kopf stores no results), events on transitions of the Ready condition (plus explicit ones the
controllers add; an explicit Normal event in the run that makes the object Ready replaces that
transition's event). Writing is ``writer.py``'s.
Does not own: deciding conditions (the ``decide_*`` modules) or condition arithmetic
(``api/conditions.py``). Messages must be stable: no timestamps of "now", no request ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from nylas_operator.api import conditions as c


class Report:
    def __init__(self, body: Mapping[str, Any], now: datetime, model: type[BaseModel]) -> None:
        self.body = body
        self.now = now
        self.model = model
        self.old: dict[str, Any] = dict(body.get("status") or {})
        self.generation: int | None = (body.get("metadata") or {}).get("generation")
        self.conditions: list[dict[str, Any]] = [dict(x) for x in self.old.get("conditions") or []]
        self.fields: dict[str, Any] = {}
        self.annotations: dict[str, str | None] = {}
        self.dependents: list[tuple[str, str, str]] = []
        """Objects to wake once this status is written (they read it)."""
        self.events: list[tuple[str, str, str]] = []
        self.wake_after: float | None = None
        self.wake_reason = "retry"
        self.after_consent = False  # a Microsoft grant creation after the settle wait

    # -- building --------------------------------------------------------------------------------
    def condition(self, type_: str, status: bool | str, reason: str, message: str = "") -> None:
        new = c.make_condition(type_, status, reason, message, generation=self.generation)
        self.conditions = c.set_condition(self.conditions, new, now=self.now)

    def set(self, **fields: Any) -> None:
        """Status fields by their Python names in the kind's status model; None deletes a field."""
        for name, value in fields.items():
            self.fields[self._alias(name)] = value

    def phase(self, phase: str) -> None:
        self.fields["phase"] = phase

    def get(self, name: str) -> Any:
        """A field as it will be written (set in this run, else the current status)."""
        field = self._alias(name)
        return self.fields[field] if field in self.fields else self.old.get(field)

    def _alias(self, name: str) -> str:
        info = self.model.model_fields.get(name)
        if info is None:
            raise TypeError(f"{self.model.__name__} has no field {name!r}")
        return info.alias or name

    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))

    def wake(self, seconds: float, reason: str = "retry") -> None:
        """Reconcile again after ``seconds`` (the earliest request wins)."""
        if self.wake_after is None or seconds < self.wake_after:
            self.wake_after = max(seconds, 0.0)
            self.wake_reason = reason

    def not_ready(self, reason: str, message: str, *, phase: str, synced: bool = True) -> None:
        self.condition(c.READY, False, reason, message)
        if synced:
            self.condition(c.SYNCED, True, c.Reason.RECONCILE_SUCCESS)
        else:
            self.condition(c.SYNCED, False, reason, message)
        self.phase(phase)

    def ready(self, message: str = "") -> None:
        self.condition(c.READY, True, c.Reason.AVAILABLE, message)
        self.condition(c.SYNCED, True, c.Reason.RECONCILE_SUCCESS)
        self.phase(c.PHASE_READY)

    # -- writing ---------------------------------------------------------------------------------
    def status_patch(self) -> dict[str, Any]:
        """Only what differs from the current status (empty: no write at all)."""
        self.conditions = c.with_kstatus(
            self.conditions, phase=self.get("phase"), generation=self.generation, now=self.now
        )
        out = {k: v for k, v in self.fields.items() if self.old.get(k) != v}
        if self.conditions != list(self.old.get("conditions") or []):
            out["conditions"] = self.conditions
        if self.old.get("observedGeneration") != self.generation:
            out["observedGeneration"] = self.generation
        if out:  # what users will read must fit the published schema (a bug otherwise)
            self.model.model_validate({**self.old, **{k: v for k, v in out.items() if v is not None}})
        return out

    def transition_events(self) -> list[tuple[str, str, str]]:
        """Explicit events plus one for a changed Ready condition (status or reason). When the
        object becomes Ready in a run that already says what happened (e.g. ``Created``), that
        event stands for the transition: one event per object on the happy path."""
        before = c.find_condition(self.old.get("conditions"), c.READY)
        after = c.find_condition(self.conditions, c.READY)
        events = list(self.events)
        if after is not None and (
            before is None
            or (before.get("status"), before.get("reason")) != (after.get("status"), after.get("reason"))
        ):
            good = after.get("status") == "True"
            if good and events and all(type_ == "Normal" for type_, _, _ in events):
                return events
            waiting = after.get("reason") in _WAITING_REASONS
            events.append(
                (
                    "Normal" if good or waiting else "Warning",
                    str(after.get("reason")),
                    str(after.get("message")) or ("Ready" if good else "Not ready"),
                )
            )
        return events


_WAITING_REASONS = frozenset(
    {
        c.Reason.AWAITING_CONSENT,
        c.Reason.CONSENT_SETTLING,
        c.Reason.CONSENT_CONFIRMING,
        c.Reason.CREATING,
        c.Reason.CONNECTOR_NOT_READY,
        c.Reason.CREDENTIAL_NOT_READY,
        c.Reason.PAUSED,
        c.Reason.DELETING,
        c.Reason.IN_USE,
    }
)
