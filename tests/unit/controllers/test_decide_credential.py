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
from nylas_operator.settings import ConsentSettings

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


def issued(ago: timedelta = timedelta(minutes=10)) -> dict[str, Any]:
    """A pending record whose URL was issued ``ago`` before NOW."""
    (pending,) = plan([], now=NOW - ago).records
    return pending


def test_a_callback_outcome_is_applied_once_with_an_event_and_its_annotation_removed() -> None:
    pending = issued()
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


def test_a_refusal_is_shown_with_a_warning_and_the_same_url_still_works() -> None:
    pending = issued()
    result = plan([pending], outcome(pending["stateHash"], granted=False, error="access_denied"))
    (refused,) = result.records
    assert refused["error"] == "access_denied"
    assert [e[:2] for e in result.events] == [("Warning", "ConsentDenied")]
    # Not burnt: the URL and its state stay, and a later grant with that state is recorded.
    assert (refused["stateHash"], refused["consentUrl"]) == (pending["stateHash"], pending["consentUrl"])
    assert refused["expiresAt"] == pending["expiresAt"]
    (granted,) = plan([refused], outcome(pending["stateHash"])).records
    assert granted["grantedAt"] == at(-30) and "error" not in granted and "stateHash" not in granted


def test_a_refusal_never_undoes_a_grant() -> None:
    pending = issued()
    (granted,) = plan([pending], outcome(pending["stateHash"])).records
    result = plan([granted], outcome(pending["stateHash"], granted=False, error="forged"))
    assert result.records[0]["grantedAt"] == at(-30) and "error" not in result.records[0]
    assert result.events == [] and result.remove_annotations


# The annotation is the operator's own channel: it is never believed beyond "the holder of the
# current state said so". Times are clamped to [max(requestedAt, now - RESULT_LAG), now].
FORGED = [
    # name, annotation value (None: the record's state hash) → grantedAt (None: nothing recorded)
    ("a time far in the past", {"at": "2000-01-01T00:00:00Z"}, at(-120)),
    ("a time before the URL was issued", {"at": at(-3600)}, at(-120)),
    ("a time far in the future", {"at": "2999-01-01T00:00:00Z"}, at(0)),
    ("a time a little in the future", {"at": at(30)}, at(0)),
    ("a time within the lag", {"at": at(-90)}, at(-90)),
    ("another state hash", {"stateHash": "0" * 64}, None),
    ("no state hash", {"stateHash": None}, None),
    ("granted as a string", {"granted": "true"}, "refusal"),
    ("no time", {"at": None}, None),
    ("a time that is not one", {"at": "yesterday"}, None),
]  # fmt: skip


@pytest.mark.parametrize(("change", "granted_at"), [f[1:] for f in FORGED], ids=[f[0] for f in FORGED])
def test_a_forged_or_odd_result_annotation_changes_nothing_it_should_not(
    change: dict[str, Any], granted_at: str | None
) -> None:
    pending = issued(timedelta(minutes=30))
    value = {"stateHash": pending["stateHash"], "at": at(-30), "granted": True, **change}
    annotation = consent.RESULT_ANNOTATION_PREFIX + "default"
    result = plan([pending], {annotation: json.dumps(value)})
    (record,) = result.records
    assert annotation in result.remove_annotations  # always consumed
    if granted_at is None:
        assert record == pending and result.events == []
    elif granted_at == "refusal":  # only a JSON true grants; anything else is at most a refusal
        assert "grantedAt" not in record and record["stateHash"] == pending["stateHash"]
    else:
        assert record["grantedAt"] == granted_at
        assert record["settledAt"] == c.now_rfc3339(c.parse_rfc3339(granted_at) + DELAY)


def test_an_annotation_that_is_not_an_object_changes_nothing() -> None:
    pending = issued()
    for raw in ("[]", '"granted"', "null", "42"):
        result = plan([pending], {consent.RESULT_ANNOTATION_PREFIX + "default": raw})
        assert result.records == [pending] and result.events == []


def test_an_expired_url_is_reissued_and_the_old_state_no_longer_counts() -> None:
    """Through the clock alone: the run the scheduler starts at expiresAt issues a fresh state."""
    ttl = ConsentSettings().state_ttl
    assert ttl == timedelta(hours=1)  # the default: short, the URL is readable by every reader
    (first,) = d.plan_consent(
        old_records=[], needed={"default": None}, annotations={}, now=NOW, delay=DELAY,
        state_ttl=ttl, make_url=lambda state, _: f"https://login.example/?state={state}",
    ).records  # fmt: skip
    assert first["expiresAt"] == at(3600)
    r = report()
    d.report_consent(r, [first], has_callback=True)
    assert r.wake_after == 3601.0  # the scheduler looks again just after the expiry
    later = NOW + timedelta(seconds=3601)
    (second,) = d.plan_consent(
        old_records=[first], needed={"default": None}, annotations={},
        now=later, delay=DELAY, state_ttl=ttl,
        make_url=lambda state, _: f"https://login.example/?state={state}",
    ).records  # fmt: skip
    assert second["stateHash"] != first["stateHash"] and second["consentUrl"] != first["consentUrl"]
    assert second["expiresAt"] == c.now_rfc3339(later + ttl) and "grantedAt" not in second
    # An outcome for the replaced state is stale: it changes nothing.
    stale = plan([second], outcome(first["stateHash"]), now=later)
    assert stale.records == [second] and stale.events == []
    # Before the expiry the same URL is kept.
    (same,) = d.plan_consent(
        old_records=[first], needed={"default": None}, annotations={}, now=NOW + timedelta(seconds=3599),
        delay=DELAY, state_ttl=ttl, make_url=lambda state, _: f"https://login.example/?state={state}",
    ).records  # fmt: skip
    assert same["stateHash"] == first["stateHash"]


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
