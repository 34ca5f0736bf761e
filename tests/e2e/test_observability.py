"""Observability of the running operator (issue 5): metrics, the liveness canary, JSON logs, Events.

The operator runs as a subprocess against the real apiserver with the emulator as Nylas. The
apiserver-outage test uses a private control plane: stopping the session's apiserver would
disturb every other test.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import nylas_operator
from e2e import kube as k
from e2e.test_microsoft import MAILBOXES, OPERATOR_DELAY, consent_url_on_credential, microsoft_objects
from fixtures.controlplane import install_crds
from fixtures.operator import OperatorProcess
from nylas_operator.devcluster.build import ensure_binaries
from nylas_operator.devcluster.controlplane import ControlPlane

pytestmark = pytest.mark.cluster

CANARY = "nylas-operator-canary"
CANARY_LABEL = "nylas-operator.io/canary"
FAST_CANARY = ("--canary-interval", "1s", "--canary-deadline", "4s")
WRONG_KEY = "nyk_v0_this-key-is-wrong-for-sure"

Samples = list[tuple[str, dict[str, str], float]]


# -- helpers ------------------------------------------------------------------------------------


def scrape(url: str) -> Samples:
    text = httpx.get(url, timeout=5).text
    return [
        (s.name, dict(s.labels), s.value) for f in text_string_to_metric_families(text) for s in f.samples
    ]


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(v for n, lab, v in samples if n == name and labels.items() <= lab.items())


def metric(url: str, name: str, **labels: str) -> float:
    return total(scrape(url), name, **labels)


def status_of(url: str) -> tuple[int, dict[str, Any]]:
    try:
        response = httpx.get(url, timeout=2)
    except httpx.HTTPError as exc:
        return 0, {"error": type(exc).__name__}
    return response.status_code, response.json()


def wait_status(url: str, code: int, *, timeout: float, what: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        got, body = status_of(url)
        return body if got == code else None

    return k.eventually(probe, timeout=timeout, what=what, interval=0.25)


@contextlib.contextmanager
def watch_objects(kubeconfig: str, namespace: str, kind: str, name: str) -> Iterator[list[dict[str, Any]]]:
    """Every version of one object, as a ``kubectl get -w`` sees it; filled when the block ends."""
    seen: list[dict[str, Any]] = []
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            ["kubectl", "--kubeconfig", kubeconfig, "get", kind, "-n", namespace, "-w", "-o", "json",
             "--output-watch-events", "--field-selector", f"metadata.name={name}"],
            stdout=out,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            time.sleep(1.0)  # let the watch start before the object exists
            yield seen
        finally:
            time.sleep(1.0)  # the last versions still travel
            proc.terminate()
            proc.wait(10)
        out.seek(0)
        text, decoder, at = out.read().decode(), json.JSONDecoder(), 0
        while (at := _skip_space(text, at)) < len(text):
            event, at = decoder.raw_decode(text, at)
            seen.append(event["object"])


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def ready_transitions(versions: list[dict[str, Any]]) -> list[str]:
    """Reasons of the successive distinct (status, reason) values of the Ready condition."""
    out: list[str] = []
    last: tuple[Any, Any] | None = None
    for obj in versions:
        cond = k.condition(obj, "Ready")
        if cond is None:
            continue
        now = (cond.get("status"), cond.get("reason"))
        if now != last:
            out.append(str(cond.get("reason")))
            last = now
    return out


# -- metrics, JSON logs and Events over a Microsoft flow ------------------------------------------


def test_metrics_logs_and_events_over_a_microsoft_flow(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator_factory: Any, control_plane: Any
) -> None:
    started = time.time()
    op = operator_factory(namespace, args=("--log-format", "json", "--log-level", "debug", *FAST_CANARY))
    broken = k.connector(
        "broken", emulator, "google", scopes=["https://www.googleapis.com/auth/gmail.readonly"]
    )
    broken["spec"]["application"]["apiKeySecretRef"]["name"] = "wrong-key"
    with watch_objects(
        str(control_plane.kubeconfig), namespace, "serviceaccountgrant", "mailbox-0"
    ) as versions:
        k.apply(
            kubectl,
            namespace,
            [*microsoft_objects(emulator), k.secret("wrong-key", {"apiKey": WRONG_KEY}), broken],
        )
        url = consent_url_on_credential(kubectl, namespace)

        # Objects by phase come from the watch, with no LIST per scrape.
        awaiting = {"kind": "ServiceAccountGrant", "phase": "AwaitingConsent"}
        k.eventually(
            lambda: metric(op.metrics_url, "nylas_operator_objects", **awaiting) == 3,
            timeout=20,
            what="3 grants AwaitingConsent in the metrics",
        )
        # A wrong API key: an error by kind and reason, and a 401 by endpoint template.
        unauthorized = {"kind": "NylasConnector", "reason": "Unauthorized"}
        k.eventually(
            lambda: metric(op.metrics_url, "nylas_operator_reconcile_errors_total", **unauthorized),
            timeout=30,
            what="an Unauthorized reconcile error of the broken connector",
        )
        errors = scrape(op.metrics_url)
        assert total(errors, "nylas_operator_nylas_requests_total", status="401") >= 1
        assert all("wrong" not in lab.get("endpoint", "") for _, lab, _ in errors)

        assert httpx.get(url, follow_redirects=True, timeout=10).status_code == 200
        for i in range(len(MAILBOXES)):
            k.wait_condition(kubectl, namespace, "serviceaccountgrant", f"mailbox-{i}", "Ready", timeout=60)

    k.eventually(
        lambda: (
            metric(op.metrics_url, "nylas_operator_objects", kind="ServiceAccountGrant", phase="Ready") == 3
        ),
        timeout=20,
        what="3 grants Ready in the metrics",
    )
    samples = scrape(op.metrics_url)
    assert total(samples, "nylas_operator_objects", kind="ServiceAccountGrant", phase="AwaitingConsent") == 0
    assert total(samples, "nylas_operator_objects", kind="NylasCredential", phase="Ready") == 1
    assert total(samples, "nylas_operator_objects", kind="NylasConnector", phase="Ready") == 1
    assert total(samples, "nylas_operator_objects", kind="NylasConnector") == 2  # + the broken one

    # Reconciles by kind and result; Nylas requests by endpoint template, method and status.
    assert (
        total(
            samples, "nylas_operator_reconcile_total", kind="ServiceAccountGrant", result="ReconcileSuccess"
        )
        >= 3
    )
    custom = {"endpoint": "/v3/connect/custom", "method": "POST"}
    assert total(samples, "nylas_operator_nylas_requests_total", **custom, status="201") == 3
    count = total(samples, "nylas_operator_nylas_request_duration_seconds_count", **custom)
    assert count >= 3
    assert (
        total(samples, "nylas_operator_nylas_request_duration_seconds_bucket", **custom, le="+Inf") == count
    )
    assert 0 < total(samples, "nylas_operator_nylas_request_duration_seconds_sum", **custom) < 30 * count
    endpoints = {lab["endpoint"] for n, lab, _ in samples if n == "nylas_operator_nylas_requests_total"}
    assert all("@" not in e for e in endpoints), endpoints  # no email or id in a label
    # Consent and settle waits after the Microsoft flow.
    assert total(samples, "nylas_operator_consent_wait_seconds_count", kind="NylasCredential") == 1
    assert total(samples, "nylas_operator_settle_wait_seconds_count", kind="ServiceAccountGrant") == 3
    assert (
        total(samples, "nylas_operator_settle_wait_seconds_sum", kind="ServiceAccountGrant")
        >= 3 * OPERATOR_DELAY
    )
    # Reconcile durations by kind: one observation per counted reconcile that wrote its status.
    for kind in ("NylasConnector", "NylasCredential", "ServiceAccountGrant"):
        durations = total(samples, "nylas_operator_reconcile_duration_seconds_count", kind=kind)
        assert 0 < durations <= total(samples, "nylas_operator_reconcile_total", kind=kind), kind
        assert (
            total(samples, "nylas_operator_reconcile_duration_seconds_bucket", kind=kind, le="+Inf")
            == durations
        )
    # What runs, and the process behind it (prometheus_client's collectors on our registry).
    [build] = [lab for n, lab, v in samples if n == "nylas_operator_build_info" and v == 1]
    assert build["version"] == nylas_operator.__version__
    assert set(build) == {"version", "commit", "python"}
    assert total(samples, "process_resident_memory_bytes") > 0
    assert total(samples, "process_start_time_seconds") > 0
    assert total(samples, "python_gc_collections_total") > 0
    # Watch activity per resource, the canary's included.
    for resource in ("serviceaccountgrants", "nylascredentials", "nylasconnectors", "configmaps"):
        assert (
            total(samples, "nylas_operator_watch_last_event_timestamp_seconds", resource=resource) >= started
        )

    # Events on transitions only: one per change of the Ready condition, where the transition to
    # Available is reported by the Created event of the same run (one event, not two).
    transitions = ready_transitions(versions)
    assert transitions[-1] == "Available" and "AwaitingConsent" in transitions, transitions
    about_grant = {"kind": "ServiceAccountGrant", "name": "mailbox-0"}

    def grant_events() -> list[dict[str, Any]]:
        return [e for e in k.events(kubectl, namespace) if about_grant.items() <= e["involvedObject"].items()]

    # Events are posted in the background: wait for the one of the last transition.
    events = k.eventually(
        lambda: (found := grant_events()) and any(e["reason"] == "Created" for e in found) and found,
        timeout=20,
        what="the Created event of mailbox-0",
    )
    reasons = Counter(e["reason"] for e in events)
    assert reasons.pop("Created") == 1
    assert reasons == Counter(transitions[:-1]), (events, transitions)
    # More reconciles without a transition (an annotation is a change for kopf): no more Events.
    reconciles = "nylas_operator_reconcile_total"
    for touch in ("1", "2"):
        before = metric(op.metrics_url, reconciles, kind="ServiceAccountGrant")
        kubectl(
            "annotate",
            "-n",
            namespace,
            "serviceaccountgrant/mailbox-0",
            f"example.com/touch={touch}",
            "--overwrite",
        )
        k.eventually(
            lambda: metric(op.metrics_url, reconciles, kind="ServiceAccountGrant") > before,  # noqa: B023
            timeout=20,
            what="a reconcile after the annotation",
        )
    time.sleep(1.0)
    again = grant_events()
    assert len(again) == len(events), again

    # JSON lines from kopf's and our loggers, with the object reference; DEBUG is on.
    assert status_of(op.health_url)[0] == 200
    lines = [json.loads(line) for line in op.logs().splitlines() if line.strip()]
    assert {"kopf.objects", "nylas_operator.lifecycle"} <= {d["logger"] for d in lines}
    assert any(d["level"] == "debug" for d in lines)
    about = [d for d in lines if (d.get("object") or {}).get("name") == "mailbox-0"]
    assert about and all(
        d["object"]["kind"] == "ServiceAccountGrant" and d["object"]["namespace"] == namespace for d in about
    )
    # The canary's per-event lines are demoted to DEBUG.
    assert not [d for d in lines if "health-canary" in d["message"] and d["level"] != "debug"]
    for secret in (emulator.api_key, k.AZURE_CLIENT_SECRET, WRONG_KEY):
        assert secret not in op.logs()


# -- the liveness canary ---------------------------------------------------------------------------


def test_canary_fails_liveness_when_the_watch_delivers_nothing(
    kubectl: k.Kubectl, namespace: str, operator_factory: Any
) -> None:
    op = operator_factory(namespace, args=FAST_CANARY)
    cm = json.loads(kubectl("get", "-n", namespace, "configmap", CANARY, "-o", "json"))
    assert cm["metadata"]["labels"][CANARY_LABEL] == "true"
    wait_status(op.health_url, 200, timeout=10, what="healthy")
    time.sleep(5)  # several canary round trips (deadline 4 s): still healthy
    assert status_of(op.health_url)[0] == 200

    # Without the label the server-side filtered watch delivers nothing, while writes still work.
    kubectl("label", "-n", namespace, "configmap", CANARY, f"{CANARY_LABEL}-")
    body = wait_status(op.health_url, 500, timeout=20, what="/healthz failing on the canary")
    assert [p["check"] for p in body["problems"]] == ["canary"]
    assert status_of(op.ready_url)[0] == 500

    kubectl("label", "-n", namespace, "configmap", CANARY, f"{CANARY_LABEL}=true")
    wait_status(op.health_url, 200, timeout=20, what="/healthz recovered")
    wait_status(op.ready_url, 200, timeout=10, what="/readyz recovered")
    assert op.running


def test_no_canary_flag_writes_no_configmap(
    kubectl: k.Kubectl, namespace: str, operator_factory: Any
) -> None:
    op = operator_factory(namespace, args=("--no-canary",))
    assert status_of(op.health_url)[0] == 200
    assert not kubectl(
        "get", "-n", namespace, "configmap", CANARY, "--ignore-not-found", "-o", "name"
    ).strip()


def test_apiserver_outage_fails_readiness_then_everything_recovers(control_plane: Any) -> None:
    # A private control plane: stopping the shared apiserver would disturb every other test.
    with ControlPlane(ensure_binaries(build=False)) as plane, tempfile.TemporaryDirectory() as logs:
        install_crds(plane)
        plane.kubectl("create", "namespace", "watched")
        op = OperatorProcess(
            ["watched"], [*FAST_CANARY, "--canary-deadline", "10s"], Path(logs), str(plane.kubeconfig)
        )
        try:
            op.start()
            wait_status(op.health_url, 200, timeout=10, what="healthy")

            plane.stop_apiserver()
            body = wait_status(
                op.ready_url, 500, timeout=30, what="/readyz failing while the apiserver is down"
            )
            assert "canary-write" in [p["check"] for p in body["problems"]]
            # By design a restart cannot fix the apiserver: liveness stays green through the outage.
            assert status_of(op.health_url)[0] == 200

            plane.start_apiserver()
            back = time.time()
            wait_status(op.ready_url, 200, timeout=60, what="/readyz recovered after the apiserver restart")
            # The watch works again: fresh canary tokens come back through it.
            stamp = "nylas_operator_watch_last_event_timestamp_seconds"
            k.eventually(
                lambda: metric(op.metrics_url, stamp, resource="configmaps") > back,
                timeout=30,
                what="canary events through the re-established watch",
            )
            assert status_of(op.health_url)[0] == 200
            assert op.running
        finally:
            op.kill()
