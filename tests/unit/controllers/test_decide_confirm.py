"""Decision tables of Microsoft's confirmation of a consent (``--confirm-consent``): pure, a fake
clock, no cluster, no Microsoft.

A recorded consent is confirmed only by a token for that tenant whose roles cover the scopes;
checks start at the settle end and back off; a consent Microsoft keeps refusing is dropped after
the timeout (a new consent URL); grants wait for the confirmation with a precise reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nylas_operator.api import conditions as c
from nylas_operator.api.credential import NylasCredentialStatus
from nylas_operator.controllers import consent
from nylas_operator.controllers import decide_confirm as d
from nylas_operator.controllers import decide_credential as dc
from nylas_operator.controllers.status import Report
from nylas_operator.entra import Answer

NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
TENANT = "6f1c2a3b-0000-4000-8000-00000000abcd"
OTHER = "0d9e8f7a-1111-4111-8111-11111111dcba"
TIMEOUT = timedelta(hours=1)


def at(seconds: float) -> str:
    return c.now_rfc3339(NOW + timedelta(seconds=seconds))


def granted(settled: float = -10, **fields: Any) -> dict[str, Any]:
    """A consent recorded by the callback, settled ``-settled`` seconds ago."""
    return {
        "scopeSet": "default",
        "grantedAt": at(settled - 300),
        "grantedBy": "callback",
        "settledAt": at(settled),
        **fields,
    }


# -- what the token says ---------------------------------------------------------------------------
def test_scopes_stand_for_graph_roles() -> None:
    assert d.roles_needed(None) == set()
    assert d.roles_needed(["https://graph.microsoft.com/Mail.Read", "Calendars.Read", "offline_access"]) == {
        "Mail.Read",
        "Calendars.Read",
    }
    assert d.roles_needed(["https://graph.microsoft.com/.default", "openid"]) == set()
    assert d.roles_needed(["https://outlook.office365.com/full_access_as_app", "api://x/Y"]) == set()


VERDICTS = [
    (
        "roles cover the scopes",
        granted(scopes=["Mail.Read"]),
        Answer(True, ("Mail.Read", "User.Read.All")),
        None,
    ),
    (
        "role names compare case-insensitively",
        granted(scopes=["mail.read"]),
        Answer(True, ("Mail.Read",)),
        None,
    ),
    ("the default set: any role", granted(), Answer(True, ("Mail.ReadWrite",)), None),
    (
        "the default set: no role yet (consent still propagating)",
        granted(),
        Answer(True, ()),
        "Microsoft's token carries no application permission yet",
    ),
    (
        "another resource's scopes: a token for the tenant is enough",
        granted(scopes=["https://outlook.office365.com/full_access_as_app"]),
        Answer(True, ()),
        None,
    ),
    (
        "a role is missing",
        granted(scopes=["Mail.Read", "Calendars.Read"]),
        Answer(True, ("Mail.Read",)),
        "Microsoft's token lacks the consented roles Calendars.Read",
    ),
    (
        "never consented in that tenant",
        granted(),
        Answer(False, code="AADSTS700016"),
        "Microsoft refused a token for the tenant: AADSTS700016 (the app is not in that tenant: nobody "
        "consented there)",
    ),
    (
        "an unknown code",
        granted(),
        Answer(False, code="AADSTS1"),
        "Microsoft refused a token for the tenant: AADSTS1",
    ),
    (
        "the redirect named another tenant than the token's",
        granted(tenantId=OTHER),
        Answer(True, ("Mail.Read",), tenant_id=TENANT),
        "Microsoft's token is for another tenant than the consent redirect named",
    ),
    (
        "Microsoft unreachable",
        granted(),
        Answer(False, unavailable="ConnectError"),
        "could not ask Microsoft (ConnectError); asking again",
    ),
]


@pytest.mark.parametrize(
    ("record", "answer", "expected"), [v[1:] for v in VERDICTS], ids=[v[0] for v in VERDICTS]
)
def test_what_an_answer_means(record: dict[str, Any], answer: Answer, expected: str | None) -> None:
    assert d.verdict(record, answer) == expected


# -- who is asked, when ----------------------------------------------------------------------------
DUE = [
    # name, record, spec tenant, enabled, last check (seconds from NOW) → tenant asked (or "-")
    ("off", granted(), TENANT, False, None, "-"),
    ("pending", {"scopeSet": "default", "stateHash": "a" * 64}, TENANT, True, None, "-"),
    ("still settling", granted(settled=+30), TENANT, True, None, "-"),
    ("settled, never asked", granted(), TENANT, True, None, TENANT),
    ("already confirmed", granted(confirmedAt=at(-5)), TENANT, True, None, "-"),
    ("asked 3 s ago (backoff 5 s)", granted(settled=-10), TENANT, True, -3, "-"),
    ("asked 6 s ago (backoff 5 s)", granted(settled=-10), TENANT, True, -6, TENANT),
    ("asked 40 s ago, 60 s after settling (backoff 60 s)", granted(settled=-100), TENANT, True, -40, "-"),
    (
        "a domain-named tenant is asked by its name",
        granted(),
        "contoso.example",
        True,
        None,
        "contoso.example",
    ),
    ("'common': the tenant the redirect named", granted(tenantId=OTHER), "common", True, None, OTHER),
    ("'common', a callback that named no tenant: nobody to ask", granted(), "common", True, None, None),
    (
        "'common', consent by annotation: not checked",
        granted(grantedBy="annotation"),
        "common",
        True,
        None,
        "-",
    ),
    ("a tenant, consent by annotation: checked", granted(grantedBy="annotation"), TENANT, True, None, TENANT),
]


@pytest.mark.parametrize(
    ("record", "tenant", "enabled", "last", "expected"), [x[1:] for x in DUE], ids=[x[0] for x in DUE]
)
def test_which_records_are_due(
    record: dict[str, Any], tenant: str, enabled: bool, last: float | None, expected: str | None
) -> None:
    checked = {} if last is None else {"default": NOW + timedelta(seconds=last)}
    due = d.due([record], spec_tenant=tenant, enabled=enabled, now=NOW, last_checked=checked)
    assert [x.tenant for x in due] == ([] if expected == "-" else [expected])


def test_checks_back_off_to_a_cap() -> None:
    settled = NOW
    spacing = [
        d.recheck_after(settled, settled + timedelta(seconds=s)).total_seconds() for s in (0, 5, 10, 20, 999)
    ]
    assert spacing == [5, 5, 10, 20, 300]
    records = [granted(settled=-20)]
    last = {"default": NOW - timedelta(seconds=5)}
    assert d.next_check(
        records, spec_tenant=TENANT, enabled=True, now=NOW, last_checked=last
    ) == pytest.approx(10.1)
    assert d.next_check(records, spec_tenant=TENANT, enabled=False, now=NOW, last_checked=last) is None


# -- what a check does to the record ---------------------------------------------------------------
def test_a_confirmation_records_the_time_and_the_role_names_only() -> None:
    record, out = granted(scopes=["Mail.Read"], confirmError="old"), d.Outcome()
    d.apply_answer(record, Answer(True, ("Mail.Read",), tenant_id=TENANT), now=NOW, timeout=TIMEOUT, out=out)
    assert record["confirmedAt"] == at(0) and record["confirmedRoles"] == ["Mail.Read"]
    assert "confirmError" not in {k for k, v in record.items() if v is not None}
    assert out.events == [
        ("Normal", "ConsentConfirmed", "Microsoft confirmed the admin consent for scope set default")
    ]
    assert not out.dropped


def test_a_refusal_is_shown_once_and_kept_until_the_timeout_then_dropped() -> None:
    record, out = granted(), d.Outcome()
    refused = Answer(False, code="AADSTS700016")
    d.apply_answer(record, refused, now=NOW, timeout=TIMEOUT, out=out)
    assert record["confirmError"].startswith("Microsoft refused a token for the tenant: AADSTS700016")
    assert [e[:2] for e in out.events] == [("Warning", "ConsentNotConfirmed")]
    d.apply_answer(record, refused, now=NOW, timeout=TIMEOUT, out=out)
    assert len(out.events) == 1 and not out.dropped  # the same reason: no second event
    late = NOW + TIMEOUT + timedelta(seconds=10)
    d.apply_answer(record, refused, now=late, timeout=TIMEOUT, out=out)
    assert out.dropped == ["default"]
    assert "a new consent URL is issued" in out.events[-1][2] and out.events[-1][0] == "Warning"


def test_a_reason_longer_than_status_keeps_is_shown_once() -> None:
    record, out = granted(), d.Outcome()
    endless = Answer(False, unavailable="x" * 2000)  # capped when stored
    d.apply_answer(record, endless, now=NOW, timeout=TIMEOUT, out=out)
    d.apply_answer(record, endless, now=NOW, timeout=TIMEOUT, out=out)
    assert len(record["confirmError"]) <= 1024 and len(out.events) == 1


def test_microsoft_unreachable_never_drops_a_consent() -> None:
    record, out = granted(), d.Outcome()
    late = NOW + 10 * TIMEOUT
    d.apply_answer(record, Answer(False, unavailable="ConnectTimeout"), now=late, timeout=TIMEOUT, out=out)
    assert not out.dropped and "ConnectTimeout" in record["confirmError"]


def test_nobody_to_ask_is_a_refusal() -> None:
    record, out = granted(), d.Outcome()
    d.apply_answer(record, None, now=NOW + 2 * TIMEOUT, timeout=TIMEOUT, out=out)
    assert out.dropped == ["default"] and "named no tenant" in out.events[0][2]


def test_a_dropped_consent_gets_a_new_url_and_forgets_the_grant() -> None:
    records = [granted(tenantId=OTHER, confirmError="x"), {"scopeSet": "other", "grantedAt": at(-1)}]
    dc.drop_unconfirmed(
        records, ["default"], NOW, timedelta(hours=1), lambda state, scopes: f"https://u/{state}"
    )
    fresh = records[0]
    assert set(fresh) == {"scopeSet", "consentUrl", "stateHash", "requestedAt", "expiresAt"}
    assert fresh["expiresAt"] == at(3600) and records[1]["grantedAt"] == at(-1)


def test_a_callback_grant_records_the_tenant_the_redirect_named() -> None:
    record = {"scopeSet": "default", "stateHash": "b" * 64, "requestedAt": at(-60)}
    outcome = (
        '{"stateHash": "' + "b" * 64 + '", "at": "' + at(0) + '", "granted": true, "tenant": "' + OTHER + '"}'
    )
    plan = dc.plan_consent(
        old_records=[record],
        needed={"default": None},
        annotations={"nylas-operator.io/consent-default": outcome},
        now=NOW,
        delay=timedelta(minutes=5),
        state_ttl=timedelta(hours=1),
        make_url=lambda state, scopes: None,
    )
    assert plan.records[0]["tenantId"] == OTHER and plan.records[0]["grantedBy"] == "callback"


# -- what the credential shows ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (granted(), "False:ConsentConfirming"),
        (
            granted(confirmError="Microsoft refused a token for the tenant: AADSTS700016"),
            "False:ConsentNotConfirmed",
        ),
        (granted(confirmedAt=at(-1)), "True:ConsentSettled"),
    ],
    ids=["not asked yet", "refused", "confirmed"],
)
def test_the_credential_is_ready_only_once_microsoft_confirmed(record: dict[str, Any], expected: str) -> None:
    report = Report({"metadata": {"generation": 1}, "status": {}}, NOW, NylasCredentialStatus)
    dc.report_consent(
        report, [record], has_callback=True, confirming=lambda r: consent.awaits_confirmation(r, TENANT, True)
    )
    settled = c.find_condition(report.conditions, c.CONSENT_SETTLED)
    assert settled is not None and f"{settled['status']}:{settled['reason']}" == expected
    ready = c.find_condition(report.conditions, c.READY)
    assert ready is not None and (ready["status"] == "True") == expected.startswith("True")
    if not expected.startswith("True"):
        assert report.get("phase") == c.CONSENT_SETTLING
        if "NotConfirmed" in expected:
            assert "AADSTS700016" in settled["message"]
