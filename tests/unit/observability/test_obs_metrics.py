"""Metrics: path templating, label hygiene, exposition on a dedicated registry."""

from __future__ import annotations

import platform

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import nylas_operator
from nylas_operator.observability.endpoints import endpoint_template
from nylas_operator.observability.metrics import Metrics, label


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/v3/grants/0a1b2c3d-4e5f", "/v3/grants/{grant_id}"),
        ("/v3/grants/abc?email=alice@example.com&limit=5", "/v3/grants/{grant_id}"),
        ("/v3/grants?email=alice@example.com", "/v3/grants"),
        ("/v3/grants/{grant_id}", "/v3/grants/{grant_id}"),
        ("/v3/connectors", "/v3/connectors"),
        ("/v3/connectors/microsoft", "/v3/connectors/{provider}"),
        ("/v3/connectors/google/creds", "/v3/connectors/{provider}/creds"),
        ("/v3/connectors/microsoft/creds/9f8e7d", "/v3/connectors/{provider}/creds/{credential_id}"),
        (
            "/v3/connectors/{provider}/creds/{credential_id}",
            "/v3/connectors/{provider}/creds/{credential_id}",
        ),
        ("/v3/connect/custom", "/v3/connect/custom"),
        ("/v3/applications/redirect-uris/r-1", "/v3/applications/redirect-uris/{redirect_uri_id}"),
        ("/v3/unknown/alice@example.com/x", "/v3/{id}/{id}/{id}"),
        ("/v3/grants/a/b/c/d/e/f/g", "/v3/grants/{id}/{id}/{id}/{id}/{more}"),
        ("", "/"),
    ],
)
def test_endpoint_template(path: str, template: str) -> None:
    assert endpoint_template(path) == template


def test_label_guard() -> None:
    assert label("NylasCredential") == "NylasCredential"
    assert label("AwaitingConsent") == "AwaitingConsent"
    assert label("nylascredentials.nylas-operator.io") == "nylascredentials.nylas-operator.io"
    for bad in ("alice@example.com", "has space", "", None, "x" * 65, "k8s:ns/name with space", "é"):
        assert label(bad) == "other"


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_series_and_labels_in_exposition() -> None:
    m = Metrics()
    m.record_reconcile("ServiceAccountGrant", "success")
    m.record_reconcile("ServiceAccountGrant", "success")
    m.record_reconcile_error("NylasCredential", "Unauthorized")
    m.observe_nylas_request("/v3/grants/abc123", "get", 200, 0.12)
    m.observe_nylas_request("/v3/grants/{grant_id}", "GET", "200", 0.3)
    m.observe_nylas_request("/v3/connect/custom", "POST", "timeout", 10.0)
    m.observe_nylas_request("/v3/connect/custom", "BREW", "<html>", 1.0)
    m.observe_consent_wait("NylasCredential", 420.0)
    m.observe_settle_wait("ServiceAccountGrant", 301.0)
    m.note_watch_event("servicegrants", at=1700000000.0)
    got = samples(m)

    def value(name: str, **labels: str) -> float:
        return got[(name, frozenset(labels.items()))]

    assert value("nylas_operator_reconcile_total", kind="ServiceAccountGrant", result="success") == 2
    assert value("nylas_operator_reconcile_errors_total", kind="NylasCredential", reason="Unauthorized") == 1
    assert (
        value(
            "nylas_operator_nylas_requests_total",
            endpoint="/v3/grants/{grant_id}",
            method="GET",
            status="200",
        )
        == 2
    )
    assert (
        value(
            "nylas_operator_nylas_requests_total",
            endpoint="/v3/connect/custom",
            method="POST",
            status="timeout",
        )
        == 1
    )
    assert (
        value(
            "nylas_operator_nylas_requests_total",
            endpoint="/v3/connect/custom",
            method="other",
            status="other",
        )
        == 1
    )
    assert (
        value(
            "nylas_operator_nylas_request_duration_seconds_count",
            endpoint="/v3/grants/{grant_id}",
            method="GET",
        )
        == 2
    )
    assert (
        value(
            "nylas_operator_nylas_request_duration_seconds_bucket",
            endpoint="/v3/grants/{grant_id}",
            method="GET",
            le="0.25",
        )
        == 1
    )
    assert value("nylas_operator_consent_wait_seconds_sum", kind="NylasCredential") == 420.0
    assert value("nylas_operator_settle_wait_seconds_bucket", kind="ServiceAccountGrant", le="330.0") == 1
    assert (
        value("nylas_operator_watch_last_event_timestamp_seconds", resource="servicegrants") == 1700000000.0
    )
    # Label names are exactly the documented sets.
    names = {(n, frozenset(k for k, _ in ls)) for (n, ls) in got}
    assert (
        "nylas_operator_nylas_request_duration_seconds_bucket",
        frozenset({"endpoint", "method", "le"}),
    ) in names
    # Dedicated registry: nothing leaked into the global one.
    assert b"nylas_operator_reconcile_total" not in generate_latest(REGISTRY)


def test_observer_hook_signature_is_positional() -> None:
    m = Metrics()
    hook = m.observe_nylas_request
    hook("/v3/grants", "GET", 429, 0.01)
    assert (
        samples(m)[
            (
                "nylas_operator_nylas_requests_total",
                frozenset({"endpoint": "/v3/grants", "method": "GET", "status": "429"}.items()),
            )
        ]
        == 1
    )


def test_objects_gauge_comes_from_the_snapshot_at_scrape_time() -> None:
    m = Metrics()
    counts = {("ServiceAccountGrant", "Ready"): 3, ("ServiceAccountGrant", "AwaitingConsent"): 1}
    m.set_objects_source(lambda: counts)
    got = samples(m)
    assert (
        got[("nylas_operator_objects", frozenset({"kind": "ServiceAccountGrant", "phase": "Ready"}.items()))]
        == 3
    )
    counts = {("ServiceAccountGrant", "Ready"): 4, ("ServiceAccountGrant", ""): 2, ("bad kind!", "Ready"): 1}
    got = samples(m)
    objects = {ls: v for (n, ls), v in got.items() if n == "nylas_operator_objects"}
    assert objects == {
        frozenset({"kind": "ServiceAccountGrant", "phase": "Ready"}.items()): 4,
        frozenset({"kind": "ServiceAccountGrant", "phase": "Unknown"}.items()): 2,
        frozenset({"kind": "other", "phase": "Ready"}.items()): 1,
    }  # the AwaitingConsent series disappears when the snapshot no longer has it

    def broken() -> dict[tuple[str, str], int]:
        raise RuntimeError("boom")

    m.set_objects_source(broken)
    text = generate_latest(m.registry).decode()  # the scrape still works
    assert "# TYPE nylas_operator_objects gauge" in text
    assert "nylas_operator_objects{" not in text


def test_build_info_and_reconcile_duration() -> None:
    m = Metrics(commit="0123abc")
    m.observe_reconcile_duration("ServiceAccountGrant", 0.3)
    m.observe_reconcile_duration("ServiceAccountGrant", -1.0)  # a clock step never goes negative
    m.observe_reconcile_duration("alice@example.com", 1.0)
    got = samples(m)
    [build] = [
        dict(ls) for (name, ls), value in got.items() if name == "nylas_operator_build_info" and value == 1
    ]
    assert build == {
        "version": nylas_operator.__version__,
        "commit": "0123abc",
        "python": platform.python_version(),
    }
    grant = frozenset({"kind": "ServiceAccountGrant"}.items())
    assert got[("nylas_operator_reconcile_duration_seconds_count", grant)] == 2
    assert got[("nylas_operator_reconcile_duration_seconds_sum", grant)] == 0.3
    assert got[("nylas_operator_reconcile_duration_seconds_count", frozenset({"kind": "other"}.items()))] == 1


def test_names_follow_the_prometheus_naming_guide() -> None:
    m = Metrics()
    m.note_watch_event("configmaps", at=1.0)
    text = generate_latest(m.registry).decode()
    families = list(text_string_to_metric_families(text))
    ours = {f.name: f.type for f in families if f.name.startswith("nylas_operator_")}
    for name, kind in ours.items():
        if kind == "counter":
            assert not name.endswith("_total"), name  # the parser strips it: exposed with _total
        if "timestamp" in name:
            assert name.endswith("_timestamp_seconds"), name
        if kind == "histogram":
            assert name.endswith("_seconds"), name  # every histogram here measures time
    assert ours["nylas_operator_build_info"] == "gauge"
    assert ours["nylas_operator_reconcile_duration_seconds"] == "histogram"
    assert "nylas_operator_watch_last_event_timestamp_seconds" in ours
    # Counters are exposed with _total; process and Python collectors sit beside ours.
    assert "nylas_operator_events_dropped_total 0.0" in text
    for runtime in (
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "python_info{",
        "python_gc_",
    ):
        assert runtime in text, runtime
    # Two Metrics (two registries) in one process do not clash.
    assert "python_info{" in generate_latest(Metrics().registry).decode()
