"""What the sandbox shows while it runs: a `kubectl get nylas -w` style list of changes.

Owns: turning the objects of the three kinds (as ``kubectl get -o json`` returns them) into compact
rows, deciding which rows changed, finding the consent URLs still waiting for an administrator,
and deciding when every grant is Ready. Pure functions of their inputs (the clock is a parameter).
Does not own: reading the objects (``command``) or printing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SHORT_KINDS = {"NylasConnector": "connector", "NylasCredential": "credential", "ServiceAccountGrant": "grant"}
MIN_NAME_WIDTH = 40
_MAX_DETAIL = 70

Key = tuple[str, str, str]


@dataclass(frozen=True)
class Row:
    kind: str
    namespace: str
    name: str
    phase: str
    ready: str
    detail: str

    @property
    def key(self) -> Key:
        return (self.kind, self.namespace, self.name)

    @property
    def qualified_name(self) -> str:
        return f"{self.namespace}/{self.name}"

    def render(self, now: datetime, name_width: int = MIN_NAME_WIDTH) -> str:
        return (
            f"{now.strftime('%H:%M:%S'):<9}{self.kind:<11}{self.qualified_name:<{name_width}}"
            f"{self.phase:<17}{self.detail}"
        ).rstrip()


def header(name_width: int = MIN_NAME_WIDTH) -> str:
    return f"{'TIME':<9}{'KIND':<11}{'NAMESPACE/NAME':<{name_width}}{'PHASE':<17}DETAIL"


def name_width(rows: Iterable[Row]) -> int:
    """Wide enough for every NAMESPACE/NAME plus two spaces, and never narrower than the default."""
    return max([MIN_NAME_WIDTH, *(len(r.qualified_name) + 2 for r in rows)])


@dataclass(frozen=True)
class ConsentRequest:
    namespace: str
    credential: str
    url: str


def _condition(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for condition in obj.get("status", {}).get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == type_:
            return condition
    return None


def is_ready(obj: Mapping[str, Any]) -> bool:
    """Ready=True, computed for the object's current generation when the condition says which."""
    condition = _condition(obj, "Ready")
    if condition is None or condition.get("status") != "True":
        return False
    observed = condition.get("observedGeneration")
    generation = obj.get("metadata", {}).get("generation")
    return observed is None or generation is None or observed == generation


def _when(timestamp: str | None, now: datetime) -> str:
    """``12:00:30 (in 25s)`` for an RFC 3339 time; the raw text if it does not parse."""
    if not timestamp:
        return "?"
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    if moment.tzinfo is None or now.tzinfo is None:
        return timestamp
    seconds = round((moment - now).total_seconds())
    local = moment.astimezone(now.tzinfo).strftime("%H:%M:%S")
    return f"{local} (in {seconds}s)" if seconds > 0 else local


def _detail(kind: str, obj: Mapping[str, Any], now: datetime) -> str:
    status = obj.get("status") or {}
    phase = status.get("phase") or ""
    if kind == "ServiceAccountGrant":
        if is_ready(obj) and status.get("grantId"):
            return f"grant {status['grantId']} for {obj.get('spec', {}).get('email', '?')}"
        if phase == "ConsentSettling":
            return f"Microsoft scope cache: grant is created at {_when(status.get('eligibleAt'), now)}"
        if phase == "AwaitingConsent":
            return "waiting for an administrator to approve the consent URL"
    if kind == "NylasCredential":
        if phase == "AwaitingConsent":
            if any(c.get("reason") == "ConsentDenied" for c in status.get("conditions") or []):
                return "the administrator refused; approve the new consent URL"
            return "waiting for an administrator to approve the consent URL"
        if phase == "ConsentSettling":
            return f"consent recorded; settles at {_when(status.get('settledAt'), now)}"
    condition = _condition(obj, "Ready")
    message = str(condition.get("message") or condition.get("reason") or "") if condition else ""
    return message if len(message) <= _MAX_DETAIL else message[: _MAX_DETAIL - 1] + "…"


def rows(objects: Iterable[Mapping[str, Any]], now: datetime) -> list[Row]:
    """One row per object of the three kinds, in kind order (connectors, credentials, grants).

    Objects the operator has not looked at yet (no status at all) have no row: nothing to show.
    """
    order = list(SHORT_KINDS)
    result = []
    for obj in objects:
        kind = obj.get("kind", "")
        if kind not in SHORT_KINDS or not obj.get("status"):
            continue
        meta = obj.get("metadata", {})
        ready_condition = _condition(obj, "Ready")
        result.append(
            (
                order.index(kind),
                Row(
                    kind=SHORT_KINDS[kind],
                    namespace=str(meta.get("namespace", "")),
                    name=str(meta.get("name", "")),
                    phase=str((obj.get("status") or {}).get("phase") or "-"),
                    ready=str(ready_condition.get("status")) if ready_condition else "-",
                    detail=_detail(kind, obj, now),
                ),
            )
        )
    result.sort(key=lambda item: (item[0], item[1].namespace, item[1].name))
    return [row for _, row in result]


def _same(a: Row, b: Row) -> bool:
    # A countdown in the detail changes every second; only a new phase, readiness or message counts.
    return (a.phase, a.ready, a.detail.split(" (in ")[0]) == (b.phase, b.ready, b.detail.split(" (in ")[0])


def changed(previous: Mapping[Key, Row], current: Iterable[Row]) -> list[Row]:
    """The rows that are new or whose phase, readiness or detail changed since ``previous``."""
    return [row for row in current if row.key not in previous or not _same(previous[row.key], row)]


def consent_requests(objects: Iterable[Mapping[str, Any]]) -> list[ConsentRequest]:
    """Consent URLs of credentials that wait for an administrator (one per distinct URL)."""
    found: dict[str, ConsentRequest] = {}
    for obj in objects:
        if obj.get("kind") != "NylasCredential":
            continue
        meta = obj.get("metadata", {})
        status = obj.get("status") or {}
        urls: list[str] = []
        if status.get("phase") == "AwaitingConsent" and status.get("consentUrl"):
            urls.append(str(status["consentUrl"]))
        for record in status.get("consent") or []:
            if isinstance(record, Mapping) and record.get("consentUrl") and not record.get("grantedAt"):
                urls.append(str(record["consentUrl"]))
        for url in urls:
            found.setdefault(
                url, ConsentRequest(str(meta.get("namespace", "")), str(meta.get("name", "")), url)
            )
    return list(found.values())


def grants_ready(objects: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """(Ready grants, all grants)."""
    grants = [o for o in objects if o.get("kind") == "ServiceAccountGrant"]
    return sum(1 for g in grants if is_ready(g)), len(grants)
