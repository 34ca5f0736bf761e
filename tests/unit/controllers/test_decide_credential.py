"""Decision tables of the NylasCredential (pure; a fake clock, no cluster, no Nylas).

Consent records (URLs, callback outcomes, the annotation, expiry), what they mean for the
conditions and the phase, when to look again, and which grants hear about a change.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nylas_operator.api import conditions as c
from nylas_operator.api.credential import NylasCredentialSpec, NylasCredentialStatus
from nylas_operator.controllers import consent
from nylas_operator.controllers import decide_credential as d
from nylas_operator.controllers.references import Unresolved
from nylas_operator.controllers.status import Report

NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
DELAY = timedelta(minutes=5)


def at(seconds: float) -> str:
    return c.now_rfc3339(NOW + timedelta(seconds=seconds))


def spec(tenant: str = "contoso.example", scopes: list[str] | None = None) -> NylasCredentialSpec:
    return NylasCredentialSpec.model_validate(
        {
            "connectorRef": {"name": "conn"},
            "type": "adminconsent",
            "adminConsent": {"tenant": tenant, "scopes": scopes},
        }
    )


def report(old: dict[str, Any] | None = None, now: datetime = NOW) -> Report:
    return Report({"metadata": {"generation": 1}, "status": old or {}}, now, NylasCredentialStatus)


def reason(r: Report, type_: str) -> str | None:
    cond = c.find_condition(r.conditions, type_)
    return None if cond is None else f"{cond['status']}:{cond['reason']}"


def test_the_type_must_fit_the_connector_provider() -> None:
    d.check_type(spec(), "microsoft")
    with pytest.raises(Unresolved) as info:
        d.check_type(spec(), "google")
    assert info.value.reason == c.Reason.WRONG_PROVIDER and info.value.terminal


def grant(scopes: list[str] | None, *, deleting: bool = False, phase: str | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": f"g-{scopes}", "deletionTimestamp": "x" if deleting else None},
        "spec": {"scopes": scopes},
        "status": {"phase": phase},
    }


def test_each_live_grant_scope_set_needs_consent_but_not_on_a_shared_tenant() -> None:
    grants = [grant(["Mail.Read"]), grant(["Calendars.Read"], deleting=True), grant(None)]
    needed = d.needed_scope_sets(spec(), grants)
    assert list(needed) == ["default", consent.scope_set_key(["Mail.Read"])]
    assert list(d.needed_scope_sets(spec(tenant="common"), grants)) == ["default"]


# -- consent records ------------------------------------------------------------------------------
def plan(
    records: list[dict[str, Any]],
    annotations: dict[str, str] | None = None,
    now: datetime = NOW,
    url: bool = True,
) -> d.ConsentPlan:
    return d.plan_consent(
        old_records=records,
        needed={"default": None},
        annotations=annotations or {},
        now=now,
        delay=DELAY,
        state_ttl=timedelta(hours=24),
        make_url=lambda state, _scopes: f"https://login.example/?state={state}" if url else None,
    )


def outcome(state_hash: str, granted: bool = True, **extra: Any) -> dict[str, str]:
    value = {"stateHash": state_hash, "at": at(-30), "granted": granted, **extra}
    return {consent.RESULT_ANNOTATION_PREFIX + "default": json.dumps(value)}


def test_without_a_callback_url_no_state_is_kept() -> None:
    (record,) = plan([], url=False).records
    assert "stateHash" not in record and "consentUrl" not in record and record["requestedAt"] == at(0)


def test_a_callback_outcome_is_applied_once_with_an_event_and_its_annotation_removed() -> None:
    (pending,) = plan([]).records
    result = plan([pending], outcome(pending["stateHash"]))
    (record,) = result.records
    assert record["grantedAt"] == at(-30) and record["settledAt"] == at(270)
    assert result.events == [("Normal", "ConsentGranted", "admin consent recorded for scope set default")]
    assert result.newly_granted == [record]
    again = plan([record], outcome(pending["stateHash"]))
    assert again.events == [] and again.newly_granted == []


def test_an_unreadable_outcome_is_removed_and_ignored() -> None:
    (pending,) = plan([]).records
    result = plan([pending], {consent.RESULT_ANNOTATION_PREFIX + "default": "{not json"})
    assert "grantedAt" not in result.records[0] and result.remove_annotations


def test_a_refusal_is_recorded_with_a_warning() -> None:
    (pending,) = plan([]).records
    result = plan([pending], outcome(pending["stateHash"], granted=False, error="access_denied"))
    assert result.records[0]["error"] == "access_denied"
    assert [e[:2] for e in result.events] == [("Warning", "ConsentDenied")]


# -- what the records mean ------------------------------------------------------------------------
PENDING = {"scopeSet": "default", "consentUrl": "https://login.example/", "expiresAt": at(3600)}
DENIED = {**PENDING, "error": "access_denied", "errorDescription": "no"}
SETTLING = {"scopeSet": "default", "grantedAt": at(-60), "settledAt": at(240)}
SETTLED = {"scopeSet": "default", "grantedAt": at(-600), "settledAt": at(-300)}
OTHER_SETTLING = {"scopeSet": "abc", "grantedAt": at(-200), "settledAt": at(100)}

MEANING = [
    # name, records → phase, Ready, ConsentGranted, ConsentSettled, wake
    ("pending", [PENDING], c.AWAITING_CONSENT, "False:AwaitingConsent", "False:AwaitingConsent",
     "False:AwaitingConsent", 3601.0),
    ("refused", [DENIED], c.AWAITING_CONSENT, "False:ConsentDenied", "False:ConsentDenied",
     "False:AwaitingConsent", 3601.0),
    ("settling", [SETTLING], c.CONSENT_SETTLING, "False:ConsentSettling", "True:ConsentGranted",
     "False:ConsentSettling", 240.5),
    ("settled", [SETTLED], c.PHASE_READY, "True:Available", "True:ConsentGranted",
     "True:ConsentSettled", None),
    ("a second set still settling", [SETTLED, OTHER_SETTLING], c.CONSENT_SETTLING,
     "False:ConsentSettling", "True:ConsentGranted", "False:ConsentSettling", 100.5),
]  # fmt: skip


@pytest.mark.parametrize(
    ("records", "phase", "ready", "granted", "settled", "wake"),
    [m[1:] for m in MEANING],
    ids=[m[0] for m in MEANING],
)
def test_what_the_consent_records_mean(
    records: list[dict[str, Any]],
    phase: str,
    ready: str,
    granted: str,
    settled: str,
    wake: float | None,
) -> None:
    r = report()
    d.report_consent(r, records, has_callback=True)
    assert r.fields["phase"] == phase
    assert (reason(r, c.READY), reason(r, c.CONSENT_GRANTED), reason(r, c.CONSENT_SETTLED)) == (
        ready,
        granted,
        settled,
    )
    assert r.wake_after == wake
    assert r.fields["consentUrl"] == records[0].get("consentUrl")


def test_without_a_callback_the_message_says_how_to_record_consent() -> None:
    r = report()
    d.report_consent(r, [PENDING], has_callback=False)
    cond = c.find_condition(r.conditions, c.CONSENT_GRANTED)
    assert cond is not None and consent.ADMIN_CONSENT_ANNOTATION in cond["message"]


# -- who hears about it ---------------------------------------------------------------------------
def test_grants_are_woken_when_what_they_read_changed_and_ready_ones_are_spared() -> None:
    waiting, ready = grant(None, phase=c.AWAITING_CONSENT), grant(["x"], phase=c.PHASE_READY)
    old = {"credentialId": "c1", "consent": [PENDING]}
    r = report(old)
    d.report_consent(r, [SETTLED], has_callback=True)
    assert d.grants_to_wake(r, [waiting, ready], credential_id="c1", admin_consent=True) == [
        waiting["metadata"]["name"]
    ]
    same = report({**old, "consent": [SETTLED]})
    d.report_consent(same, [SETTLED], has_callback=True)
    assert d.grants_to_wake(same, [waiting], credential_id="c1", admin_consent=True) == []


def test_google_grants_hear_about_ready_and_a_new_credential_id_only() -> None:
    waiting = grant(None, phase=c.PENDING)
    r = report({"credentialId": "c1"})
    r.ready()
    assert d.grants_to_wake(r, [waiting], credential_id="c1", admin_consent=False) == ["g-None"]
    steady = report({"credentialId": "c1", "conditions": r.conditions})
    steady.ready()
    assert d.grants_to_wake(steady, [waiting], credential_id="c1", admin_consent=False) == []
    assert d.grants_to_wake(steady, [waiting], credential_id="c2", admin_consent=False) == ["g-None"]
