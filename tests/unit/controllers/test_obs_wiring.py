"""The observability wiring's pure parts: phase book, activity stamps, canary home, quiet kopf lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import generate_latest

from nylas_operator.controllers import activity, canary
from nylas_operator.controllers.activity import PhaseBook
from nylas_operator.observability.health import HealthState
from nylas_operator.observability.logging import QuietHandlersFilter, configure_logging
from nylas_operator.observability.metrics import Metrics
from nylas_operator.runner import WATCH_ONLY_HANDLERS, canary_home
from nylas_operator.settings import WatchSettings


def body(name: str, phase: str | None = None, namespace: str = "ns") -> dict[str, Any]:
    status = {"phase": phase} if phase else {}
    return {"metadata": {"namespace": namespace, "name": name}, "status": status}


def test_phase_book_counts_by_kind_and_phase_and_forgets_deleted_objects() -> None:
    book = PhaseBook()
    book.seen("ServiceAccountGrant", "a", "g1", "AwaitingConsent")
    book.seen("ServiceAccountGrant", "a", "g2", "AwaitingConsent")
    book.seen("ServiceAccountGrant", "b", "g1", None)
    book.seen("NylasConnector", "a", "c", "Ready")
    assert book.counts() == {
        ("ServiceAccountGrant", "AwaitingConsent"): 2,
        ("ServiceAccountGrant", "Unknown"): 1,
        ("NylasConnector", "Ready"): 1,
    }
    book.seen("ServiceAccountGrant", "a", "g1", "Ready")  # a transition moves the object
    book.gone("ServiceAccountGrant", "b", "g1")
    book.gone("ServiceAccountGrant", "b", "never-seen")
    assert book.counts() == {
        ("ServiceAccountGrant", "AwaitingConsent"): 1,
        ("ServiceAccountGrant", "Ready"): 1,
        ("NylasConnector", "Ready"): 1,
    }


def test_activity_feeds_the_book_the_metrics_and_health() -> None:
    metrics, health = Metrics(), HealthState()
    memo = SimpleNamespace(phases=PhaseBook(), health=health, ctx=SimpleNamespace(metrics=metrics))
    metrics.set_objects_source(memo.phases.counts)
    activity.observe(memo, "serviceaccountgrants", None, body("g", "Ready"))
    activity.observe(memo, "serviceaccountgrants", "MODIFIED", body("h", "Failed"))
    activity.observe(memo, "serviceaccountgrants", "DELETED", body("h", "Failed"))
    text = generate_latest(metrics.registry).decode()
    assert 'nylas_operator_objects{kind="ServiceAccountGrant",phase="Ready"} 1.0' in text
    assert 'phase="Failed"' not in text
    assert 'nylas_operator_watch_last_event_timestamp_seconds{resource="serviceaccountgrants"}' in text


def test_activity_without_wiring_does_nothing() -> None:
    activity.observe(SimpleNamespace(), "nylasconnectors", None, body("c"))


async def test_canary_event_confirms_only_the_tokens_this_process_wrote() -> None:
    written: list[str] = []

    async def write(token: str) -> None:
        written.append(token)

    now = [0.0]
    health = HealthState(canary=write, canary_deadline=5.0, clock=lambda: now[0])
    health.mark_started()
    memo = SimpleNamespace(health=health, ctx=SimpleNamespace(metrics=None))

    def event(token: str | None, type_: str | None = "MODIFIED", name: str = canary.NAME) -> dict[str, Any]:
        annotations = {canary.TOKEN_ANNOTATION: token} if token else {}
        return {"type": type_, "body": {"metadata": {"name": name, "annotations": annotations}}}

    await health.canary_once()
    await canary.on_canary_event(memo=memo, **event("from-an-earlier-process"))  # type: ignore[arg-type]
    await canary.on_canary_event(memo=memo, **event(written[0], name="someone-else"))  # type: ignore[arg-type]
    now[0] = 6.0
    assert [p.check for p in health.liveness()] == ["canary"]
    await canary.on_canary_event(memo=memo, **event(written[0]))  # type: ignore[arg-type]
    assert health.liveness() == []


@pytest.mark.parametrize(
    ("explicit", "pod", "watch", "expected"),
    [
        (None, "ops", WatchSettings(all_namespaces=True), "ops"),
        (None, None, WatchSettings(all_namespaces=True), None),  # outside a pod: no canary
        ("mine", None, WatchSettings(all_namespaces=True), "mine"),
        (None, "team-b", WatchSettings(namespaces=("team-a", "team-b")), "team-b"),
        (None, "ops", WatchSettings(namespaces=("team-a", "team-b")), "team-a"),  # ops is not watched
        (None, None, WatchSettings(namespaces=("team-a",)), "team-a"),
        ("team-b", "team-a", WatchSettings(namespaces=("team-a", "team-b")), "team-b"),
    ],
)
def test_canary_home_is_always_a_served_namespace(
    explicit: str | None, pod: str | None, watch: WatchSettings, expected: str | None
) -> None:
    assert canary_home(explicit, pod, watch) == expected


def test_canary_home_refuses_an_unserved_explicit_namespace() -> None:
    with pytest.raises(ValueError, match="not a served namespace"):
        canary_home("ops", "ops", WatchSettings(namespaces=("team-a",)))


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_watch_only_handler_lines_are_debug(level: str) -> None:
    stream = io.StringIO()
    configure_logging(level, "json", stream=stream, quiet_handlers=WATCH_ONLY_HANDLERS)
    log = logging.getLogger("kopf.objects")
    log.info("Handler %s succeeded.", "'x'")  # not a quiet id (and args-style): untouched
    log.info("Handler 'health-canary' succeeded.")
    log.info("Handler 'serviceaccountgrants.activity' succeeded.")
    log.info("Handler 'serviceaccountgrants.create' succeeded.")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    got = [(d["level"], d["message"]) for d in lines]
    quiet = [
        ("debug", "Handler 'health-canary' succeeded."),
        ("debug", "Handler 'serviceaccountgrants.activity' succeeded."),
    ]
    expected = [("info", "Handler 'x' succeeded."), *(quiet if level == "DEBUG" else [])]
    expected.append(("info", "Handler 'serviceaccountgrants.create' succeeded."))
    assert got == expected


def test_quiet_filter_leaves_other_loggers_and_levels_alone() -> None:
    flt = QuietHandlersFilter({"health-canary"})
    record = logging.LogRecord(
        "nylas_operator.x", logging.INFO, "", 0, "Handler 'health-canary' succeeded.", None, None
    )
    assert flt.filter(record) and record.levelno == logging.INFO
    warning = logging.LogRecord(
        "kopf.objects", logging.WARNING, "", 0, "Handler 'health-canary' succeeded.", None, None
    )
    assert flt.filter(warning) and warning.levelno == logging.WARNING


async def test_every_secret_value_read_is_registered_for_redaction() -> None:
    from pydantic import SecretStr

    from nylas_operator.api.common import SecretKeySelector
    from nylas_operator.controllers.references import SecretValues, parse_service_account_key
    from nylas_operator.kube import Secret
    from nylas_operator.observability import redaction

    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    key_json = json.dumps({"private_key_id": "k1", "private_key": pem, "client_email": "sa@p.example"})

    class FakeKube:
        async def read_secret(self, namespace: str, name: str) -> Secret:
            values = {"apiKey": SecretStr("nyk_v0_unit-test-api-key"), "key.json": SecretStr(key_json)}
            return Secret(values, "7")

    redaction.clear_secrets()
    try:
        values = SecretValues()
        api_key = await values.read(FakeKube(), "ns", SecretKeySelector(name="s", key="apiKey"), "API key")  # type: ignore[arg-type]
        raw = await values.read(FakeKube(), "ns", SecretKeySelector(name="s", key="key.json"), "key")  # type: ignore[arg-type]
        parse_service_account_key(raw, "Secret s")
        text = f"key {api_key.get_secret_value()} and the PEM line MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
        assert redaction.redact(text) == "key [REDACTED] and the PEM line [REDACTED]"
    finally:
        redaction.clear_secrets()


def deleting(name: str, reason: str) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": "False", "reason": reason}]
    meta = {"namespace": "ns", "name": name, "deletionTimestamp": "2030-01-01T00:00:00Z"}
    return {"metadata": meta, "status": {"phase": "Deleting", "conditions": conditions}}


def test_blocked_deletions_gauge_counts_deleting_objects_whose_delete_failed() -> None:
    metrics = Metrics()
    memo = SimpleNamespace(phases=PhaseBook(), health=None, ctx=SimpleNamespace(metrics=metrics))
    metrics.set_blocked_source(memo.phases.blocked)
    activity.observe(memo, "serviceaccountgrants", "MODIFIED", deleting("a", "DeleteFailed"))
    activity.observe(memo, "serviceaccountgrants", "MODIFIED", deleting("b", "DeleteFailed"))
    activity.observe(memo, "nylascredentials", "MODIFIED", deleting("c", "InUse"))  # waiting, not failing
    failed_not_deleting = deleting("d", "DeleteFailed")
    del failed_not_deleting["metadata"]["deletionTimestamp"]
    activity.observe(memo, "nylasconnectors", "MODIFIED", failed_not_deleting)
    text = generate_latest(metrics.registry).decode()
    assert 'nylas_operator_deletions_blocked{kind="ServiceAccountGrant"} 2.0' in text
    assert 'nylas_operator_deletions_blocked{kind="NylasCredential"}' not in text
    assert 'nylas_operator_deletions_blocked{kind="NylasConnector"}' not in text
    # Deleted at last (the finalizer removed), or a later event no longer failing: counted out.
    activity.observe(memo, "serviceaccountgrants", "DELETED", deleting("a", "DeleteFailed"))
    activity.observe(memo, "serviceaccountgrants", "MODIFIED", deleting("b", "Deleting"))
    text = generate_latest(metrics.registry).decode()
    assert "# TYPE nylas_operator_deletions_blocked gauge" in text
    assert "nylas_operator_deletions_blocked{" not in text


def test_deletion_failures_counter_has_bounded_labels() -> None:
    metrics = Metrics()
    metrics.record_deletion_failure("ServiceAccountGrant", "NylasUnavailable")
    metrics.record_deletion_failure("ServiceAccountGrant", "not a token: alice@example.com")
    text = generate_latest(metrics.registry).decode()
    line = 'nylas_operator_deletion_failures_total{kind="ServiceAccountGrant",reason="NylasUnavailable"} 1.0'
    assert line in text
    assert 'reason="other"' in text and "alice" not in text
