"""Pure decision logic of the controllers: errors, consent plans, claims, drift, keys, status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from nylas_operator import nylas
from nylas_operator.api.conditions import Reason
from nylas_operator.api.grant import ServiceAccountGrantStatus
from nylas_operator.controllers import consent, decide_credential
from nylas_operator.controllers.decide_grant import deletes_from_nylas, refused
from nylas_operator.controllers.drift import INVALID, MISSING, Known, find_drift
from nylas_operator.controllers.errors import backoff, classify
from nylas_operator.controllers.references import Unresolved, parse_service_account_key
from nylas_operator.controllers.status import Report
from nylas_operator.settings import RetrySettings

NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
RETRY = RetrySettings(min_delay=timedelta(seconds=5), max_delay=timedelta(seconds=60), jitter=0.0)


def status_error(cls: type[nylas.NylasStatusError], status: int, **kw: Any) -> nylas.NylasStatusError:
    return cls(
        status=status, method="POST", path="/v3/connect/custom", base_url="https://api.eu.nylas.com", **kw
    )


# -- classify ------------------------------------------------------------------------------------
def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n, RETRY) for n in range(6)] == [5, 10, 20, 40, 60, 60]


def test_backoff_jitter_stays_within_its_fraction() -> None:
    settings = RetrySettings(min_delay=timedelta(seconds=10), jitter=0.5)
    assert backoff(0, settings, rng=lambda: 0.0) == 5.0
    assert backoff(0, settings, rng=lambda: 0.999) == pytest.approx(9.995)


def test_unauthorized_retries_and_names_the_region_url() -> None:
    failure = classify(status_error(nylas.NylasUnauthorizedError, 401), attempt=0, settings=RETRY)
    assert failure.reason == Reason.UNAUTHORIZED and not failure.terminal
    assert "https://api.eu.nylas.com" in failure.message


def test_rate_limit_honours_retry_after_when_longer_than_backoff() -> None:
    failure = classify(
        status_error(nylas.NylasRateLimitedError, 429, retry_after=42.0), attempt=0, settings=RETRY
    )
    assert failure.retry_after == 42.0 and failure.reason == Reason.RATE_LIMITED


def test_server_errors_and_transport_errors_retry() -> None:
    assert not classify(status_error(nylas.NylasServerError, 503), attempt=3, settings=RETRY).terminal
    dropped = nylas.NylasConnectionDropped(method="GET", path="/v3/grants", base_url="x", detail="reset")
    assert classify(dropped, attempt=0, settings=RETRY).reason == Reason.NYLAS_UNAVAILABLE


def test_plain_bad_request_is_terminal_but_provider_refusals_retry() -> None:
    assert classify(status_error(nylas.NylasBadRequestError, 400), attempt=0, settings=RETRY).terminal
    provider = nylas.ProviderError("unauthorized_client", "DWD missing")
    failure = classify(
        status_error(nylas.NylasBadRequestError, 400, provider_error=provider), attempt=0, settings=RETRY
    )
    assert not failure.terminal


@pytest.mark.parametrize("status", [400, 403])
def test_not_propagated_consent_retries_with_a_stable_message(status: int) -> None:
    cls = nylas.NylasBadRequestError if status == 400 else nylas.NylasForbiddenError
    exc = status_error(
        cls, status, provider_error=nylas.ProviderError("AADSTS65001", "not consented"), request_id="req-123"
    )
    failure = classify(exc, attempt=1, settings=RETRY)
    assert failure.reason == Reason.SCOPES_NOT_PROPAGATED and failure.retry_after == 10
    assert "req-123" not in failure.message


# -- consent plans ---------------------------------------------------------------------------------
def plan(
    records: list[dict[str, Any]],
    annotations: dict[str, str] | None = None,
    needed: dict[str, list[str] | None] | None = None,
    now: datetime = NOW,
) -> decide_credential.ConsentPlan:
    return decide_credential.plan_consent(
        old_records=records,
        needed=needed or {"default": None},
        annotations=annotations or {},
        now=now,
        delay=timedelta(minutes=5),
        state_ttl=timedelta(hours=24),
        make_url=lambda state, scopes: f"https://nylas.example/auth?state={state}",
    )


def test_a_new_scope_set_gets_a_url_and_only_the_state_hash_is_kept() -> None:
    (record,) = plan([]).records
    state = record["consentUrl"].split("state=")[1]
    assert record["stateHash"] != state and len(record["stateHash"]) == 64
    assert record["expiresAt"] == "2030-01-02T12:00:00Z"


def test_annotation_consent_grants_pending_sets_and_is_removed() -> None:
    pending = plan([]).records
    result = plan(pending, {consent.ADMIN_CONSENT_ANNOTATION: "granted"})
    (record,) = result.records
    assert record["grantedBy"] == "annotation" and record["settledAt"] == "2030-01-01T12:05:00Z"
    assert "stateHash" not in record and "consentUrl" not in record
    assert result.remove_annotations == [consent.ADMIN_CONSENT_ANNOTATION]


def test_callback_result_with_the_current_state_grants() -> None:
    (pending,) = plan([], now=NOW - timedelta(minutes=10)).records
    value = json.dumps({"stateHash": pending["stateHash"], "at": "2030-01-01T11:59:00Z", "granted": True})
    (record,) = plan([pending], {consent.RESULT_ANNOTATION_PREFIX + "default": value}).records
    assert record["grantedAt"] == "2030-01-01T11:59:00Z" and record["grantedBy"] == "callback"


def test_callback_result_for_a_replaced_state_is_ignored() -> None:
    (pending,) = plan([]).records
    value = json.dumps({"stateHash": "0" * 64, "at": "2030-01-01T11:59:00Z", "granted": True})
    result = plan([pending], {consent.RESULT_ANNOTATION_PREFIX + "default": value})
    assert "grantedAt" not in result.records[0]
    assert result.remove_annotations == [consent.RESULT_ANNOTATION_PREFIX + "default"]


def test_denied_consent_keeps_the_reason_and_the_url() -> None:
    (pending,) = plan([]).records
    value = json.dumps(
        {
            "stateHash": pending["stateHash"],
            "at": "2030-01-01T11:59:00Z",
            "granted": False,
            "error": "access_denied",
            "errorDescription": "admin said no",
        }
    )
    (record,) = plan([pending], {consent.RESULT_ANNOTATION_PREFIX + "default": value}).records
    assert record["error"] == "access_denied" and record["errorDescription"] == "admin said no"
    assert record["stateHash"] == pending["stateHash"] and record["consentUrl"] == pending["consentUrl"]


def test_an_expired_state_is_replaced() -> None:
    (pending,) = plan([]).records
    (later,) = plan([pending], now=NOW + timedelta(hours=25)).records
    assert later["stateHash"] != pending["stateHash"]


def test_changed_scope_set_needs_its_own_consent() -> None:
    granted = plan(plan([]).records, {consent.ADMIN_CONSENT_ANNOTATION: "granted"}).records
    key = consent.scope_set_key(["Mail.Read"])
    records = plan(granted, needed={"default": None, key: ["Mail.Read"]}).records
    assert records[0].get("grantedAt") and not records[1].get("grantedAt") and records[1]["consentUrl"]


def test_scope_set_key_ignores_order_and_duplicates() -> None:
    assert consent.scope_set_key(["b", "a", "a"]) == consent.scope_set_key(["a", "b"])
    assert consent.scope_set_key(None) == consent.scope_set_key([]) == "default"


def test_consent_time_is_rounded_up_never_down() -> None:
    assert consent.ceil_second(NOW.replace(microsecond=1)) == NOW + timedelta(seconds=1)
    assert consent.ceil_second(NOW) == NOW


# -- drift ----------------------------------------------------------------------------------------------
def test_drift_finds_missing_and_invalid_grants_only() -> None:
    known = {
        "u1": Known("ns", "a", "a@x.example", "g1"),
        "u2": Known("ns", "b", "b@x.example", "g2"),
        "u3": Known("ns", "c", "c@x.example", "g3"),
    }
    grants = [
        nylas.Grant(id="g1", provider="google", grant_status="valid"),
        nylas.Grant(id="g2", provider="google", grant_status="invalid"),
    ]
    assert find_drift(known, grants) == {"u2": INVALID, "u3": MISSING}


# -- service account keys ----------------------------------------------------------------------------
GOOD_KEY = {
    "type": "service_account",
    "private_key_id": "abc",
    "client_email": "sa@p.iam.gserviceaccount.com",
    "private_key": "-----BEGIN PRIVATE KEY-----\nTOPSECRETMATERIAL\n-----END PRIVATE KEY-----\n",
}


def test_a_good_key_parses_and_hides_the_private_key() -> None:
    data = parse_service_account_key(SecretStr(json.dumps(GOOD_KEY)), "Secret 'k'")
    assert data.client_email == GOOD_KEY["client_email"] and "TOPSECRET" not in repr(data)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"private_key": "TOPSECRETMATERIAL"}, "not a PEM private key"),
        ({"client_email": "nobody"}, "client_email"),
        ({"private_key_id": None}, "private_key_id"),
        ({"type": "authorized_user"}, "type"),
    ],
)
def test_bad_keys_are_terminal_with_a_reason_and_no_content(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(Unresolved) as info:
        parse_service_account_key(SecretStr(json.dumps({**GOOD_KEY, **change})), "Secret 'k'")
    assert info.value.terminal and info.value.reason == Reason.INVALID_SERVICE_ACCOUNT_KEY
    assert problem in info.value.message and "TOPSECRET" not in info.value.message


# -- status ---------------------------------------------------------------------------------------------
def body(status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "x", "namespace": "ns", "generation": 2}, "status": status or {}}


def test_an_unchanged_report_writes_nothing() -> None:
    first = Report(body(), NOW, ServiceAccountGrantStatus)
    first.ready()
    first.set(grant_id="g1")
    written = first.status_patch()
    assert written["observedGeneration"] == 2 and written["phase"] == "Ready"
    again = Report(body(written), NOW + timedelta(minutes=3), ServiceAccountGrantStatus)
    again.ready()
    again.set(grant_id="g1")
    assert again.status_patch() == {} and again.transition_events() == []


def test_a_ready_transition_posts_one_event() -> None:
    report = Report(body(), NOW, ServiceAccountGrantStatus)
    report.not_ready(Reason.CONFLICT, "taken", phase="Failed", synced=False)
    assert [(t, r) for t, r, _ in report.transition_events()] == [("Warning", "Conflict")]


# -- grant creation and deletion -----------------------------------------------------------------
def test_only_a_client_error_means_nylas_created_nothing() -> None:
    assert refused(status_error(nylas.NylasStatusError, 400))
    assert refused(status_error(nylas.NylasRateLimitedError, 429))
    assert not refused(status_error(nylas.NylasServerError, 503))  # may have been applied
    lost = nylas.NylasConnectionDropped(
        method="POST", path="/v3/connect/custom", base_url="https://api.eu.nylas.com", detail="closed"
    )
    assert not refused(lost)


def test_only_delete_policy_grants_need_the_finalizer() -> None:
    assert deletes_from_nylas({"spec": {"deletionPolicy": "Delete"}})
    assert not deletes_from_nylas({"spec": {"deletionPolicy": "Orphan"}})
    assert not deletes_from_nylas({"spec": {}})  # Orphan is the default
