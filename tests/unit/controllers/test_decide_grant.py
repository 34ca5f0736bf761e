"""Decision tables of the ServiceAccountGrant (pure; a fake clock, no cluster, no Nylas).

Each row is an observed snapshot and what the grant must show and do: every phase, condition and
reason the grant decides, every consent and settle transition, every drift and error class.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nylas_operator import nylas
from nylas_operator.api import conditions as c
from nylas_operator.api.connector import NylasConnectorSpec
from nylas_operator.api.credential import NylasCredentialSpec
from nylas_operator.api.grant import ServiceAccountGrantSpec, ServiceAccountGrantStatus
from nylas_operator.controllers import decide_grant as d
from nylas_operator.controllers.claims import Claimant
from nylas_operator.controllers.errors import Failure, report_failure, report_unresolved
from nylas_operator.controllers.references import Parent, Unresolved
from nylas_operator.controllers.status import Report

NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
DELAY = timedelta(minutes=5)
SELF = Claimant("ns", "alice", "uid-alice", "2030-01-01T00:00:00Z")
OTHER = Claimant("other", "first", "uid-first", "2029-01-01T00:00:00Z", established=True)


def at(seconds: float) -> str:
    return c.now_rfc3339(NOW + timedelta(seconds=seconds))


def connector(provider: str, scopes: list[str] | None = None) -> Parent:
    spec = {
        "provider": provider,
        "application": {"apiKeySecretRef": {"name": "k", "key": "k"}, "clientId": "app", "region": "us"},
        "providerApp": {"clientId": "p", "clientSecretRef": {"name": "s", "key": "s"}},
        "scopes": scopes,
    }
    return Parent({"metadata": {"name": "conn"}, "spec": spec}, NylasConnectorSpec.model_validate(spec))


def credential(
    provider: str = "microsoft",
    *,
    status: dict[str, Any] | None = None,
    tenant: str = "contoso.example",
    ready: bool = False,
) -> Parent:
    spec: dict[str, Any] = {"connectorRef": {"name": "conn"}}
    if provider == "microsoft":
        spec |= {"type": "adminconsent", "adminConsent": {"tenant": tenant}}
    else:
        spec |= {"type": "serviceaccount", "serviceAccount": {"keySecretRef": {"name": "sa", "key": "k"}}}
    body_status = {"credentialId": "cred-1", **(status or {})}
    if ready:
        body_status["conditions"] = [c.make_condition(c.READY, True, c.Reason.AVAILABLE)]
    body = {"metadata": {"name": "cred", "namespace": "ns"}, "spec": spec, "status": body_status}
    return Parent(body, NylasCredentialSpec.model_validate(spec))


def record(**fields: Any) -> dict[str, Any]:
    return {"scopeSet": "default", **fields}


@dataclass
class Case:
    provider: str = "microsoft"
    consent: list[dict[str, Any]] | None = None
    old: dict[str, Any] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    credential_status: dict[str, Any] | None = None
    credential_ready: bool = False
    tenant: str = "contoso.example"
    winner: Claimant = SELF
    drift: str | None = None
    connector_scopes: list[str] | None = None
    confirm: bool = False


def facts(case: Case) -> d.GrantFacts:
    cred_status = case.credential_status if case.credential_status is not None else {}
    if case.consent is not None:
        cred_status = {**cred_status, "consent": case.consent}
    spec = {"credentialRef": {"name": "cred"}, "email": "alice@contoso.example", **case.spec}
    return d.GrantFacts(
        spec=ServiceAccountGrantSpec.model_validate(spec),
        old=case.old,
        generation=2,
        credential=credential(
            case.provider, status=cred_status, tenant=case.tenant, ready=case.credential_ready
        ),
        connector=connector(case.provider, case.connector_scopes),
        winner=case.winner,
        uid=SELF.uid,
        drift=case.drift,
        default_delay=DELAY,
        confirm=case.confirm,
    )


def run(case: Case, now: datetime = NOW) -> tuple[d.GrantPlan, Report]:
    report = Report({"metadata": {"generation": 2}, "status": case.old}, now, ServiceAccountGrantStatus)
    return d.decide(facts(case), report), report


def reason(report: Report, type_: str) -> str | None:
    cond = c.find_condition(report.conditions, type_)
    return None if cond is None else f"{cond['status']}:{cond['reason']}"


# -- inputs that block ----------------------------------------------------------------------------
BLOCKED = [
    ("conflict", Case(winner=OTHER), c.Reason.CONFLICT, True),
    ("google without scopes", Case(provider="google"), c.Reason.SCOPES_REQUIRED, True),
    (
        "custom scopes on a shared tenant",
        Case(spec={"scopes": ["Mail.Read"]}, tenant="common"),
        c.Reason.CUSTOM_SCOPES_NEED_TENANT,
        True,
    ),
    (
        "credential not in Nylas yet",
        Case(credential_status={"credentialId": None}),
        c.Reason.CREDENTIAL_NOT_READY,
        False,
    ),
    (
        "google credential not Ready",
        Case(provider="google", connector_scopes=["gmail"]),
        c.Reason.CREDENTIAL_NOT_READY,
        False,
    ),
]


@pytest.mark.parametrize(
    ("case", "expected", "terminal"), [b[1:] for b in BLOCKED], ids=[b[0] for b in BLOCKED]
)
def test_blocking_inputs_have_a_precise_reason(case: Case, expected: str, terminal: bool) -> None:
    with pytest.raises(Unresolved) as info:
        run(case)
    assert (info.value.reason, info.value.terminal) == (expected, terminal)


def test_a_conflict_names_the_holder_only_in_the_same_namespace() -> None:
    with pytest.raises(Unresolved) as info:
        run(Case(winner=OTHER))
    assert "held elsewhere" in info.value.message
    assert "other" not in info.value.message.replace("another", "") and "first" not in info.value.message
    with pytest.raises(Unresolved) as info:
        run(Case(winner=Claimant("ns", "first", "uid-first", "2029-01-01T00:00:00Z", established=True)))
    assert "ServiceAccountGrant 'first' in this namespace" in info.value.message


# -- the consent gate (Microsoft) -----------------------------------------------------------------
GATE = [
    # name, consent records, old phase → step, phase, ConsentGranted, ConsentSettled, wake
    (
        "no record yet",
        [],
        None,
        "wait",
        c.AWAITING_CONSENT,
        "False:AwaitingConsent",
        "False:AwaitingConsent",
        None,
    ),
    (
        "pending with a URL",
        [record(consentUrl="https://login.example/x", stateHash="a" * 64)],
        None,
        "wait",
        c.AWAITING_CONSENT,
        "False:AwaitingConsent",
        "False:AwaitingConsent",
        None,
    ),
    (
        "refused",
        [record(error="access_denied")],
        c.AWAITING_CONSENT,
        "wait",
        c.AWAITING_CONSENT,
        "False:ConsentDenied",
        "False:AwaitingConsent",
        None,
    ),
    (
        "granted, settling for minutes",
        [record(grantedAt=at(0))],
        c.AWAITING_CONSENT,
        "wait",
        c.CONSENT_SETTLING,
        "True:ConsentGranted",
        "False:ConsentSettling",
        DELAY.total_seconds() + d.TIMER_SLACK,
    ),
    (
        "shown as settling, 2 s to go: looks again at the instant",
        [record(grantedAt=at(-298))],
        c.CONSENT_SETTLING,
        "wait",
        c.CONSENT_SETTLING,
        "True:ConsentGranted",
        "False:ConsentSettling",
        2 + d.TIMER_SLACK,
    ),
    (
        "a delay of about zero: nothing shown before Ready",
        [record(grantedAt=at(-299))],
        c.AWAITING_CONSENT,
        "settle",
        None,
        None,
        None,
        1 + d.TIMER_SLACK,
    ),
    (
        "settled",
        [record(grantedAt=at(-300))],
        c.CONSENT_SETTLING,
        "sync",
        None,
        "True:ConsentGranted",
        "True:ConsentSettled",
        None,
    ),
]


@pytest.mark.parametrize(
    ("records", "old_phase", "step", "phase", "granted", "settled", "wake"),
    [g[1:] for g in GATE],
    ids=[g[0] for g in GATE],
)
def test_consent_gate(
    records: list[dict[str, Any]],
    old_phase: str | None,
    step: str,
    phase: str | None,
    granted: str | None,
    settled: str | None,
    wake: float | None,
) -> None:
    plan, report = run(Case(consent=records, old={"phase": old_phase} if old_phase else {}))
    assert plan.step == step
    assert report.fields.get("phase") == phase
    assert reason(report, c.CONSENT_GRANTED) == granted
    assert reason(report, c.CONSENT_SETTLED) == settled
    assert report.wake_after == pytest.approx(wake)
    if step == "settle":
        shown = report.status_patch()  # nothing new about consent to show
        assert not {"phase", "conditions", "eligibleAt"} & set(shown)


def test_a_scope_set_the_credential_never_saw_wakes_it() -> None:
    plan, _ = run(Case(consent=[]))
    assert plan.wake_credential
    plan, _ = run(Case(consent=[record(consentUrl="https://login.example/x")]))
    assert not plan.wake_credential


def test_the_consent_url_stays_on_the_credential() -> None:
    """A grant's readers are not approvers: the URL (its state records consent) is never copied."""
    url = "https://login.example/x?state=SECRET"
    for records in ([record(consentUrl=url)], [record(consentUrl=url, error="access_denied")]):
        _, waiting = run(Case(consent=records))
        assert "SECRET" not in json.dumps(waiting.status_patch())
        assert "consentUrl" not in waiting.fields and waiting.fields["eligibleAt"] is None
        cond = c.find_condition(waiting.conditions, c.CONSENT_GRANTED)
        assert cond is not None and "NylasCredential" in cond["message"]
    _, settling = run(Case(consent=[record(grantedAt=at(0))]))
    assert "consentUrl" not in settling.fields and settling.fields["eligibleAt"] == at(300)


def test_settle_uses_the_grant_delay_then_the_credential_default() -> None:
    plan, _ = run(Case(consent=[record(grantedAt=at(-60))], spec={"scopeCacheDelay": "30s"}))
    assert plan.step == "sync" and plan.consent_at == NOW - timedelta(seconds=60)


def test_looking_again_at_the_instant_creates() -> None:
    case = Case(consent=[record(grantedAt=at(-299))])
    plan, report = run(case)
    assert plan.step == "settle" and report.wake_after is not None
    again, _ = run(case, now=NOW + timedelta(seconds=report.wake_after))
    assert again.step == "sync"


def test_custom_scopes_wait_for_their_own_set() -> None:
    scopes = ["Mail.Read", "Calendars.Read"]
    key = d.consent.scope_set_key(scopes)
    granted_default = [record(grantedAt=at(-600))]
    plan, _ = run(Case(consent=granted_default, spec={"scopes": scopes}))
    assert plan.step == "wait" and plan.wake_credential and plan.scope_set == key
    both = [*granted_default, {"scopeSet": key, "grantedAt": at(-600)}]
    plan, _ = run(Case(consent=both, spec={"scopes": scopes}))
    assert plan.step == "sync" and plan.scope_set == key


# -- Google and the steady state ------------------------------------------------------------------
def test_google_needs_no_consent() -> None:
    plan, report = run(Case(provider="google", connector_scopes=["gmail"], credential_ready=True))
    assert plan.step == "sync" and plan.scopes == ["gmail"] and plan.consent_at is None
    assert reason(report, c.CONSENT_GRANTED) == "True:ConsentNotRequired"
    assert reason(report, c.CONSENT_SETTLED) == "True:ConsentNotRequired"


READY = {"phase": c.PHASE_READY, "grantId": "g1", "observedGeneration": 2, "scopeSet": "default"}
STEADY = [
    ("ready and unchanged", READY, None, "keep"),
    ("spec changed", {**READY, "observedGeneration": 1}, None, "sync"),
    ("scope set changed", {**READY, "scopeSet": "abc"}, None, "sync"),
    ("drift found", READY, "missing", "sync"),
    ("not ready yet", {**READY, "phase": c.PENDING}, None, "sync"),
    ("no grant id", {**READY, "grantId": None}, None, "sync"),
]


@pytest.mark.parametrize(("old", "drift", "step"), [s[1:] for s in STEADY], ids=[s[0] for s in STEADY])
def test_nylas_is_asked_only_when_something_may_have_changed(
    old: dict[str, Any], drift: str | None, step: str
) -> None:
    plan, _ = run(Case(consent=[record(grantedAt=at(-600))], old=old, drift=drift))
    assert plan.step == step


# -- after asking Nylas ---------------------------------------------------------------------------
def grant(status: str = "valid") -> nylas.Grant:
    return nylas.Grant.model_validate(
        {"id": "g1", "grant_status": status, "provider": "microsoft", "email": "alice@contoso.example"}
    )


def degraded(reason_: str) -> dict[str, Any]:
    return {
        "phase": c.DEGRADED,
        "grantId": "g1",
        "scopeSet": "default",
        "conditions": [c.make_condition(c.READY, False, reason_)],
    }


SYNC = [
    ("nothing in Nylas", {}, None, None, "create"),
    ("found, recorded, same set", READY, grant(), None, "keep"),
    ("found by email, not recorded: adopted", {}, grant(), None, "keep"),
    ("missing, not shown yet", READY, None, c.Reason.GRANT_MISSING, "show-drift"),
    ("missing, shown", degraded(c.Reason.GRANT_MISSING), None, c.Reason.GRANT_MISSING, "create"),
    ("invalid, not shown yet", READY, grant("invalid"), c.Reason.GRANT_INVALID, "show-drift"),
    ("invalid, shown", degraded(c.Reason.GRANT_INVALID), grant("invalid"), c.Reason.GRANT_INVALID, "reauth"),
    ("created while still waiting", {**READY, "phase": c.CONSENT_SETTLING}, grant(), None, "reauth"),
    ("scope set changed", {**READY, "scopeSet": "abc"}, grant(), None, "reauth"),
]


@pytest.mark.parametrize(
    ("old", "existing", "drift", "action"), [s[1:] for s in SYNC], ids=[s[0] for s in SYNC]
)
def test_what_nylas_answers_decides_the_action(
    old: dict[str, Any], existing: nylas.Grant | None, drift: str | None, action: str
) -> None:
    assert d.sync_action(old, "default", existing, drift) == action


def test_drift_reasons_from_the_answers() -> None:
    assert d.drift_of(READY, True, None) == c.Reason.GRANT_MISSING
    assert d.drift_of(READY, False, grant("invalid")) == c.Reason.GRANT_INVALID
    assert d.drift_of(READY, False, grant()) is None


def test_shown_drift_is_degraded_with_its_reason_and_repaired_at_once() -> None:
    report = Report({"metadata": {"generation": 2}, "status": READY}, NOW, ServiceAccountGrantStatus)
    d.show_drift(report, c.Reason.GRANT_MISSING)
    assert report.fields["phase"] == c.DEGRADED and report.wake_after == 0.0
    assert reason(report, c.READY) == "False:GrantMissing"
    assert [(t, r) for t, r, _ in report.transition_events()] == [("Warning", "GrantMissing")]


@pytest.mark.parametrize(
    ("old", "listed", "lookup"),
    [({}, False, False), ({}, True, True), ({"grantId": "g1"}, False, True)],
    ids=["new mailbox: POST directly", "listed in Nylas", "lost grant id"],
)
def test_the_mailbox_is_looked_up_only_when_a_grant_may_exist(
    old: dict[str, Any], listed: bool, lookup: bool
) -> None:
    assert d.needs_lookup(old, listed) is lookup


# -- error classes --------------------------------------------------------------------------------
def fresh(old: dict[str, Any] | None = None) -> Report:
    return Report({"metadata": {"generation": 2}, "status": old or {}}, NOW, ServiceAccountGrantStatus)


ERRORS = [
    ("terminal input", Unresolved(c.Reason.CONFLICT, "taken", terminal=True), c.FAILED, None),
    ("missing Secret", Unresolved(c.Reason.SECRET_NOT_FOUND, "no Secret"), c.PENDING, 300.0),
]


@pytest.mark.parametrize(("exc", "phase", "wake"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_unresolved_inputs(exc: Unresolved, phase: str, wake: float | None) -> None:
    report = fresh()
    report_unresolved(report, exc, recheck=300.0)
    assert report.fields["phase"] == phase and report.wake_after == wake
    assert reason(report, c.READY) == f"False:{exc.reason}"
    assert reason(report, c.SYNCED) == f"False:{exc.reason}"
    resolved = reason(report, c.CREDENTIALS_RESOLVED)
    assert resolved == (f"False:{exc.reason}" if exc.reason == c.Reason.SECRET_NOT_FOUND else None)


def test_a_failed_repair_stays_degraded_and_retries() -> None:
    report = fresh(degraded(c.Reason.GRANT_MISSING))
    report.phase(c.DEGRADED)
    report_failure(report, Failure(c.Reason.NYLAS_UNAVAILABLE, "503", retry_after=4.0))
    assert report.fields["phase"] == c.DEGRADED and report.wake_after == 4.0
    assert reason(report, c.SYNCED) == "False:NylasUnavailable"


def test_a_terminal_nylas_failure_is_failed_and_waits_for_a_change() -> None:
    report = fresh()
    report_failure(report, Failure(c.Reason.NYLAS_REJECTED, "bad request", terminal=True))
    assert report.fields["phase"] == c.FAILED and report.wake_after is None


def test_an_unknown_status_field_is_a_bug_caught_at_once() -> None:
    with pytest.raises(TypeError, match="grantID"):
        fresh().set(grantID="g1")


# -- Microsoft's confirmation (--confirm-consent) --------------------------------------------------
SETTLED = {"grantedAt": at(-600), "grantedBy": "callback", "settledAt": at(-300)}
READY_OLD = {"phase": c.PHASE_READY, "grantId": "g-1", "observedGeneration": 2, "scopeSet": "default"}
CONFIRM = [
    # name, case → step, ConsentSettled
    ("off: settled is enough", Case(consent=[record(**SETTLED)]), "sync", "True:ConsentSettled"),
    ("on, not asked yet", Case(consent=[record(**SETTLED)], confirm=True), "wait", "False:ConsentConfirming"),
    (
        "on, Microsoft refused",
        Case(
            consent=[record(**SETTLED, confirmError="Microsoft refused a token: AADSTS700016")], confirm=True
        ),
        "wait",
        "False:ConsentNotConfirmed",
    ),
    (
        "on, confirmed",
        Case(consent=[record(**SETTLED, confirmedAt=at(-1))], confirm=True),
        "sync",
        "True:ConsentSettled",
    ),
    (
        "on, a grant Ready before the switch keeps its grant",
        Case(consent=[record(**SETTLED)], confirm=True, old=READY_OLD),
        "keep",
        "True:ConsentSettled",
    ),
    (
        "on, 'common' consented by annotation: nothing to ask",
        Case(consent=[record(**{**SETTLED, "grantedBy": "annotation"})], confirm=True, tenant="common"),
        "sync",
        "True:ConsentSettled",
    ),
    (
        "on, 'common' by a callback that named no tenant: waits",
        Case(consent=[record(**SETTLED)], confirm=True, tenant="common"),
        "wait",
        "False:ConsentConfirming",
    ),
]


@pytest.mark.parametrize(("case", "step", "settled"), [x[1:] for x in CONFIRM], ids=[x[0] for x in CONFIRM])
def test_a_grant_is_created_only_once_microsoft_confirmed(case: Case, step: str, settled: str) -> None:
    plan, report = run(case)
    assert (plan.step, reason(report, c.CONSENT_SETTLED)) == (step, settled)
    if step == "wait":
        assert report.get("phase") == c.CONSENT_SETTLING
        ready = c.find_condition(report.conditions, c.READY)
        assert ready is not None and ready["reason"] == settled.split(":")[1]
        assert "NylasCredential 'cred'" in ready["message"]
        assert report.wake_after is None  # the credential wakes its grants when the record changes
