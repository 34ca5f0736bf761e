"""Two replicas, one Lease (issue 11): exactly one acts; failover after SIGKILL; a frozen leader
(SIGSTOP past its lease) writes nothing to Nylas after it wakes up.

Each replica is a real ``nylas-operator run --leader-elect`` process against the real apiserver and
the emulator. Which replica sent a Nylas request is in the emulator's journal (the User-Agent names
the replica's identity, whose first part is its POD_NAME). Short Lease timings keep the tests short;
the rules are the same as with the defaults.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from e2e import kube as k
from e2e.test_google import SCOPES, google_objects
from nylas_operator.runner import LOST_LEASE_EXIT_CODE

pytestmark = pytest.mark.cluster

LEASE, RENEW, RETRY = 6.0, 4.0, 1.0
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def replica(factory: Callable[..., Any], namespace: str, name: str, **options: str) -> Any:
    return factory(
        namespace,
        args=("--leader-elect", "--leader-election-namespace", namespace),
        leader_election_name="nylas-operator-test",
        leader_election_lease_duration=f"{LEASE:g}s",
        leader_election_renew_deadline=f"{RENEW:g}s",
        leader_election_retry_period=f"{RETRY:g}s",
        env={"POD_NAME": name},
        wait=False,
        **options,
    )


def holder(kubectl: k.Kubectl, namespace: str) -> str:
    out = kubectl("get", "lease", "nylas-operator-test", "-n", namespace, "-o", "json", check=False)
    return str(json.loads(out)["spec"].get("holderIdentity") or "") if out.strip() else ""


def grants(count: int) -> list[dict[str, Any]]:
    return [
        k.grant(f"user-{i}", "workspace", f"user-{i}@acme.example", scopes=SCOPES, deletionPolicy="Orphan")
        for i in range(count)
    ]


def writes_by(emulator: Any, pod: str, after: float = 0.0) -> list[Any]:
    return [
        e
        for e in emulator.journal()
        if e.method in WRITES and f"({pod}_" in (e.user_agent or "") and e.time > after
    ]


def assert_each_nylas_object_created_once(emulator: Any, count: int) -> None:
    journal = emulator.journal()
    creates = Counter(e.email for e in journal if e.method == "POST" and e.path == "/v3/connect/custom")
    assert creates == Counter({f"user-{i}@acme.example": 1 for i in range(count)}), creates
    assert len([e for e in journal if e.method == "POST" and e.path == "/v3/connectors"]) == 1
    assert len([e for e in journal if e.method == "POST" and e.path.endswith("/creds")]) == 1


def start_pair(
    factory: Callable[..., Any], kubectl: k.Kubectl, namespace: str, **options: str
) -> tuple[Any, Any]:
    a = replica(factory, namespace, "replica-a", **options)
    a.wait_healthy(role="leader")
    b = replica(factory, namespace, "replica-b", **options)
    b.wait_healthy(role="standby")
    assert holder(kubectl, namespace).startswith("replica-a_")
    report = b.readiness(role="standby")
    assert report is not None and str(report.get("leader", "")).startswith("replica-a_")
    return a, b


def test_sigkill_of_the_leader_the_standby_takes_over_and_nothing_is_written_twice(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator_factory: Callable[..., Any]
) -> None:
    count = 8
    a, b = start_pair(operator_factory, kubectl, namespace, nylas_rate="2", nylas_burst="1")
    k.apply(kubectl, namespace, google_objects(emulator)[:-1] + grants(count))
    k.eventually(lambda: len(writes_by(emulator, "replica-a")) >= 4, timeout=60, what="replica-a at work")
    assert not writes_by(emulator, "replica-b"), "the standby wrote to Nylas"
    a.kill()
    killed = time.monotonic()
    k.eventually(lambda: holder(kubectl, namespace).startswith("replica-b_"), timeout=30, what="takeover")
    taken = time.monotonic() - killed
    # b saw a's last renewal at most one retry after it happened, and tries every retry period.
    assert taken <= LEASE + 2 * RETRY + 2.0, f"takeover after {taken:.1f}s"
    b.wait_healthy(role="leader")
    for i in range(count):
        k.wait_condition(kubectl, namespace, "serviceaccountgrant", f"user-{i}", "Ready", timeout=90)
    assert writes_by(emulator, "replica-b"), "the new leader did not act"
    assert_each_nylas_object_created_once(emulator, count)


def test_sigstop_past_the_lease_the_old_leader_writes_nothing_after_waking(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator_factory: Callable[..., Any]
) -> None:
    count = 8
    a, b = start_pair(operator_factory, kubectl, namespace, nylas_rate="2", nylas_burst="1")
    k.apply(kubectl, namespace, google_objects(emulator)[:-1] + grants(count))
    k.eventually(lambda: len(writes_by(emulator, "replica-a")) >= 4, timeout=60, what="replica-a at work")
    assert a.proc is not None
    os.kill(a.proc.pid, signal.SIGSTOP)
    stopped = time.time()
    try:
        k.eventually(lambda: holder(kubectl, namespace).startswith("replica-b_"), timeout=30, what="takeover")
        b.wait_healthy(role="leader")
    finally:
        os.kill(a.proc.pid, signal.SIGCONT)  # with work still queued: grants it had not reached
    woke = time.time()
    assert a.proc.wait(30) == LOST_LEASE_EXIT_CODE, a.logs()[-3000:]
    assert "lost the lease" in a.logs()
    for i in range(count):
        k.wait_condition(kubectl, namespace, "serviceaccountgrant", f"user-{i}", "Ready", timeout=90)
    late = writes_by(emulator, "replica-a", after=woke)
    assert not late, f"the old leader wrote after waking: {[(e.method, e.path) for e in late]}"
    # Nothing after the freeze either (a request already on the wire is journalled before it).
    assert not writes_by(emulator, "replica-a", after=stopped + 0.5)
    assert_each_nylas_object_created_once(emulator, count)
