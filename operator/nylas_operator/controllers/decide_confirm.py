"""Microsoft's confirmation of an admin consent: pure decisions (``--confirm-consent``).

Owns: which granted consent records are due for a check (settled, not confirmed, the backoff
since the last check passed), what a token endpoint ``Answer`` means for a record (confirmed: a
token for that tenant whose roles cover the scopes; not confirmed: a stable reason, e.g.
Microsoft's AADSTS code; unavailable: ask again), when to ask again, and when to give up (the
record is dropped after ``confirm_timeout`` past its settle end, so a new consent URL is issued).
Why after the settle wait: Microsoft propagates a new consent with a delay, so a genuine consent
may not show its roles at once. No I/O here: ``confirmation.py`` asks, ``credential.py`` reports;
``tests/unit/controllers/test_decide_confirm.py`` drives these tables with a fake clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nylas_operator.api import conditions as c
from nylas_operator.controllers.consent import awaits_confirmation, confirm_tenant
from nylas_operator.entra import Answer

MIN_RECHECK = timedelta(seconds=5)
MAX_RECHECK = timedelta(minutes=5)
MAX_ROLES = 64
GRAPH_PREFIXES = (
    "https://graph.microsoft.com/",
    "https://graph.microsoft.us/",
    "https://microsoftgraph.chinacloudapi.cn/",
)
NOT_ROLES = frozenset({"offline_access", "openid", "profile", "email", ".default"})
KNOWN_CODES = {
    "AADSTS700016": "the app is not in that tenant: nobody consented there",
    "AADSTS7000215": "the Azure app's client secret is wrong",
    "AADSTS7000222": "the Azure app's client secret has expired",
    "AADSTS90002": "the tenant does not exist",
    "AADSTS900023": "the tenant name is not valid",
    "AADSTS500011": "Microsoft Graph is not in that tenant",
}


def roles_needed(scopes: Iterable[str] | None) -> set[str]:
    """The Microsoft Graph application roles a scope set stands for: permission names without the
    Graph prefix. OpenID scopes and ``.default`` stand for none; so do scopes of another resource
    (``https://outlook.office365.com/…``): their roles are not in a Graph token, which then only
    proves that the app is in the tenant."""
    out: set[str] = set()
    for scope in scopes or ():
        name = scope
        for prefix in GRAPH_PREFIXES:
            if name.lower().startswith(prefix):
                name = name[len(prefix) :]
        if "/" in name or ":" in name or name.lower() in NOT_ROLES:
            continue
        out.add(name)
    return out


def verdict(record: Mapping[str, Any], answer: Answer) -> str | None:
    """None when ``answer`` confirms ``record``'s consent, else why not (stable text: it goes into
    conditions; no token, no trace id, no time)."""
    if not answer.issued:
        if answer.unavailable:
            return f"could not ask Microsoft ({answer.unavailable}); asking again"
        code = str(answer.code)
        meaning = KNOWN_CODES.get(code)
        return f"Microsoft refused a token for the tenant: {code}" + (f" ({meaning})" if meaning else "")
    returned = record.get("tenantId")
    if returned and answer.tenant_id and str(returned).lower() != answer.tenant_id.lower():
        return "Microsoft's token is for another tenant than the consent redirect named"
    have = {r.lower() for r in answer.roles}
    needed = roles_needed(record.get("scopes"))
    if not needed and not record.get("scopes"):  # the default set: the app's permissions, some role
        return None if have else "Microsoft's token carries no application permission yet"
    missing = sorted(r for r in needed if r.lower() not in have)
    if missing:
        return "Microsoft's token lacks the consented roles " + ", ".join(missing)
    return None


def recheck_after(settled: datetime, checked: datetime) -> timedelta:
    """Backoff without a counter: the next check waits as long as has passed since the settle end
    (so checks double their spacing), between ``MIN_RECHECK`` and ``MAX_RECHECK``."""
    return min(max(checked - settled, MIN_RECHECK), MAX_RECHECK)


@dataclass(frozen=True)
class Due:
    scope_set: str
    tenant: str | None
    """The tenant to ask; None: nobody to ask (a callback that named no tenant on 'common')."""


def _due_at(
    record: Mapping[str, Any],
    spec_tenant: str | None,
    enabled: bool,
    now: datetime,
    last_checked: Mapping[str, datetime],
) -> datetime | None:
    """When ``record`` should next be asked about: None while it waits for nothing from Microsoft
    (or still settles: the settle wake covers that), ``now`` when never asked, else the backoff."""
    if not awaits_confirmation(record, spec_tenant, enabled):
        return None
    settled = c.parse_rfc3339(str(record["settledAt"]))
    if settled > now:
        return None
    last = last_checked.get(str(record["scopeSet"]))
    return now if last is None else last + recheck_after(settled, last)


def due(
    records: list[dict[str, Any]],
    *,
    spec_tenant: str | None,
    enabled: bool,
    now: datetime,
    last_checked: Mapping[str, datetime],
) -> list[Due]:
    """The records to ask Microsoft about in this run."""
    return [
        Due(str(record["scopeSet"]), confirm_tenant(record, spec_tenant))
        for record in records
        if (at := _due_at(record, spec_tenant, enabled, now, last_checked)) is not None and at <= now
    ]


@dataclass
class Outcome:
    """What the checks of one run did to the records."""

    events: list[tuple[str, str, str]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    """Scope sets whose unconfirmed consent is given up: issue a new consent URL."""


def apply_answer(
    record: dict[str, Any], answer: Answer | None, *, now: datetime, timeout: timedelta, out: Outcome
) -> None:
    """Record what Microsoft said about ``record`` (``answer`` None: there was no tenant to ask)."""
    key = record["scopeSet"]
    if answer is None:
        reason = "the consent redirect named no tenant: there is nobody to ask"
    else:
        found = verdict(record, answer)
        if found is None:
            record.update(
                confirmedAt=c.now_rfc3339(now),
                confirmedRoles=list(answer.roles[:MAX_ROLES]),
                confirmError=None,
            )
            out.events.append(
                ("Normal", "ConsentConfirmed", f"Microsoft confirmed the admin consent for scope set {key}")
            )
            return
        reason = found
    definitive = answer is None or not answer.unavailable
    settled = c.parse_rfc3339(str(record["settledAt"]))
    if definitive and now >= settled + timeout:
        out.dropped.append(key)
        out.events.append(
            (
                "Warning",
                c.Reason.CONSENT_NOT_CONFIRMED,
                f"Microsoft did not confirm the admin consent for scope set {key} ({reason}); "
                "it is dropped and a new consent URL is issued",
            )
        )
        return
    shown = c.cap_message(reason, 1024)
    if record.get("confirmError") != shown:  # compared as stored: a long reason warns once
        out.events.append(("Warning", c.Reason.CONSENT_NOT_CONFIRMED, f"scope set {key}: {shown}"))
    record["confirmError"] = shown


def next_check(
    records: list[dict[str, Any]],
    *,
    spec_tenant: str | None,
    enabled: bool,
    now: datetime,
    last_checked: Mapping[str, datetime],
) -> float | None:
    """Seconds until the next check of a settled record still waiting for Microsoft, if any (the
    scheduler's timer: no handler sleeps)."""
    times = [
        at
        for record in records
        if (at := _due_at(record, spec_tenant, enabled, now, last_checked)) is not None
    ]
    return max((min(times) - now).total_seconds(), 0.0) + 0.1 if times else None
