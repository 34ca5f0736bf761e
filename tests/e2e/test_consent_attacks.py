"""Attacks on the consent state (issue 13): the operator, its consent server as its own process,
the emulator as Nylas and Microsoft, a real apiserver.

- someone who may only read grants cannot obtain the state;
- a forged refusal (anyone holding the URL can send one) does not burn the state;
- a callback naming another tenant than the credential's is refused like any bad state;
- concurrent callbacks with one valid state: exactly one is accepted;
- result annotations naming a stale state change nothing, and odd times do not move the settle wait;
- with ``--confirm-consent``, a forged grant for a tenant that never consented at "Microsoft" (the
  emulator's token stand-in) creates no grant, and is dropped for a new URL; the genuine path works.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from e2e import kube as k
from e2e.test_microsoft import MAILBOXES, consent_url_on_credential, microsoft_objects
from fixtures.users import user_kubeconfig

pytestmark = pytest.mark.cluster

TENANT = "6f1c2a3b-0000-4000-8000-00000000abcd"
OTHER_TENANT = "0d9e8f7a-1111-4111-8111-11111111dcba"
RESULT = "nylas-operator.io/consent-default"


@pytest.fixture
def operator(operator_factory: Any, namespace: str) -> Any:
    """As installed by the chart: the callback is its own process (``consent-server``)."""
    return operator_factory(namespace, consent_server=True)


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def bound_objects(emu: Any) -> list[dict[str, Any]]:
    """``microsoft_objects`` with the credential bound to one tenant (by its id)."""
    objects = microsoft_objects(emu)
    for obj in objects:
        if obj["kind"] == "NylasCredential":
            obj["spec"]["adminConsent"] = {"tenant": TENANT}
    return objects


def credential(kubectl: k.Kubectl, ns: str, name: str = "contoso") -> dict[str, Any]:
    body = k.get(kubectl, ns, "nylascredential", name)
    assert body is not None
    return body


def unknown_answer(operator: Any) -> httpx.Response:
    params = {"admin_consent": "true", "tenant": TENANT, "state": "A" * 43}
    return httpx.get(operator.callback_url, params=params, timeout=10)


def test_a_grant_reader_cannot_obtain_the_state(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any, control_plane: Any, tmp_path: Path
) -> None:
    k.apply(kubectl, namespace, microsoft_objects(emulator))
    url = consent_url_on_credential(kubectl, namespace)  # also: no grant carries it
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "grant-reader"},
        "rules": [
            {
                "apiGroups": ["nylas-operator.io"],
                "resources": ["serviceaccountgrants", "serviceaccountgrants/status"],
                "verbs": ["get", "list", "watch"],
            }
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "grant-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "grant-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "grant-reader"}],
    }
    k.apply(kubectl, namespace, [role, binding])
    kubeconfig = user_kubeconfig(control_plane, "grant-reader", tmp_path)

    def as_reader(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(control_plane.binaries.kubectl), f"--kubeconfig={kubeconfig}", "-n", namespace, *args],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    everything = k.eventually(
        lambda: (r := as_reader("get", "serviceaccountgrants", "-o", "json")).returncode == 0 and r,
        timeout=30,
        what="the reader's RBAC in effect",
    )
    assert len(json.loads(everything.stdout)["items"]) == len(MAILBOXES)
    wide = as_reader("get", "serviceaccountgrants", "-o", "wide")
    for text in (everything.stdout, wide.stdout):
        assert state_of(url) not in text and "state=" not in text
    assert "contoso" in wide.stdout  # the grant says which credential it waits for
    forbidden = as_reader("get", "nylascredentials", "contoso", "-o", "json")
    assert forbidden.returncode != 0 and "Forbidden" in forbidden.stderr


def test_a_forged_refusal_does_not_burn_the_state(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, microsoft_objects(emulator))
    url = consent_url_on_credential(kubectl, namespace)
    forged = {"error": "access_denied", "error_description": "forged", "state": state_of(url)}
    for _ in range(3):  # as often as the holder of the URL likes
        answer = httpx.get(operator.callback_url, params=forged, timeout=10)
        assert answer.status_code == 200, answer.text[:300]
    refused = k.wait_condition(
        kubectl, namespace, "nylascredential", "contoso", "ConsentGranted", "False",
        reason="ConsentDenied", timeout=30,
    )  # fmt: skip
    assert "forged" in (k.condition(refused, "ConsentGranted") or {})["message"]
    assert refused["status"]["consentUrl"] == url  # the same URL, still valid

    # The administrator opens that very URL: the consent is recorded.
    consented = httpx.get(url, follow_redirects=True, timeout=10)
    assert consented.status_code == 200 and "Consent recorded" in consented.text
    granted = k.wait_condition(kubectl, namespace, "nylascredential", "contoso", "ConsentGranted", timeout=30)
    assert granted["status"]["consent"][0]["grantedBy"] == "callback"
    # Once granted, a refusal with the state is refused like any used state.
    late = httpx.get(operator.callback_url, params=forged, timeout=10)
    assert (late.status_code, late.text) == (400, unknown_answer(operator).text)


def test_a_callback_for_another_tenant_is_refused(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, bound_objects(emulator))
    url = consent_url_on_credential(kubectl, namespace)
    unknown = unknown_answer(operator)
    for params in (
        {"admin_consent": "true", "tenant": OTHER_TENANT, "state": state_of(url)},
        {"admin_consent": "true", "state": state_of(url)},  # a grant that names no tenant
    ):
        answer = httpx.get(operator.callback_url, params=params, timeout=10)
        assert (answer.status_code, answer.text) == (400, unknown.text)
    body = credential(kubectl, namespace)
    assert RESULT not in (body["metadata"].get("annotations") or {})  # nothing recorded
    assert "grantedAt" not in body["status"]["consent"][0]
    # Not burnt: the administrator of the right tenant (the emulator reports the credential's).
    consented = httpx.get(url, follow_redirects=True, timeout=10)
    assert consented.status_code == 200 and f"tenant={TENANT}" in str(consented.url)
    k.wait_condition(kubectl, namespace, "nylascredential", "contoso", "ConsentGranted", timeout=30)


def test_concurrent_callbacks_with_one_state_have_one_winner(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, bound_objects(emulator))
    url = consent_url_on_credential(kubectl, namespace)
    params = {"admin_consent": "true", "tenant": TENANT, "state": state_of(url)}
    callers = 8
    start = threading.Barrier(callers)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def call() -> None:
        with httpx.Client(timeout=20) as client:
            start.wait(timeout=20)  # every caller sends at the same instant
            answer = client.get(operator.callback_url, params=params)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [400] * (callers - 1), codes
    assert sum("Consent recorded" in a.text for a in answers) == 1
    granted = k.wait_condition(kubectl, namespace, "nylascredential", "contoso", "ConsentGranted", timeout=30)
    assert granted["status"]["consent"][0]["grantedBy"] == "callback"


def rfc3339(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("claimed", "what"),
    [("2000-01-01T00:00:00Z", "far past"), ("2999-01-01T00:00:00Z", "far future")],
    ids=["far-past", "far-future"],
)
def test_result_annotations_never_move_the_settle_wait(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any, claimed: str, what: str
) -> None:
    """Without the admission policy (as here) anyone who may patch a credential can write the
    annotation: a stale state changes nothing, and the time it claims is clamped."""
    k.apply(kubectl, namespace, microsoft_objects(emulator))
    url = consent_url_on_credential(kubectl, namespace)

    def annotate(value: dict[str, Any]) -> None:
        kubectl(
            "annotate", "-n", namespace, "nylascredential", "contoso", "--overwrite",
            f"{RESULT}={json.dumps(value)}",
        )  # fmt: skip

    def consumed() -> dict[str, Any] | None:
        body = credential(kubectl, namespace)
        return None if RESULT in (body["metadata"].get("annotations") or {}) else body

    annotate({"stateHash": "0" * 64, "at": claimed, "granted": True})  # a state that is not current
    body = k.eventually(consumed, timeout=30, what="the stale annotation removed")
    assert "grantedAt" not in body["status"]["consent"][0]
    assert body["status"]["consentUrl"] == url

    state_hash = body["status"]["consent"][0]["stateHash"]
    before = time.time()
    annotate({"stateHash": state_hash, "at": claimed, "granted": True})
    granted = k.wait_condition(kubectl, namespace, "nylascredential", "contoso", "ConsentGranted", timeout=30)
    after = time.time()
    at = seconds(granted["status"]["consent"][0]["grantedAt"])
    # Clamped to [the operator's now - 2 min, the operator's now] (whole seconds, rounded up).
    assert before - 121 <= at <= after + 1, (what, rfc3339(at))


def test_a_forged_grant_microsoft_never_confirmed_creates_no_grant(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator_factory: Any
) -> None:
    confirming = operator_factory(
        namespace,
        consent_server=True,
        args=("--confirm-consent", f"--microsoft-login-url={emulator.url}"),
        consent_confirm_timeout="15s",
    )
    k.apply(kubectl, namespace, bound_objects(emulator))
    url = consent_url_on_credential(kubectl, namespace)
    # A reader of the credential replays its state by hand with a forged grant for the right tenant:
    # the callback cannot tell it from Microsoft's redirect, and records it.
    forged = {"admin_consent": "true", "tenant": TENANT, "state": state_of(url)}
    answer = httpx.get(confirming.callback_url, params=forged, timeout=10)
    assert answer.status_code == 200 and "Consent recorded" in answer.text
    # After the settle wait the operator asks Microsoft, which has no such consent: the grants wait.
    for i in range(len(MAILBOXES)):
        grant = k.wait_condition(
            kubectl, namespace, "serviceaccountgrant", f"mailbox-{i}", "Ready", "False",
            reason="ConsentNotConfirmed", timeout=60,
        )  # fmt: skip
        message = (k.condition(grant, "Ready") or {})["message"]
        assert "AADSTS700016" in message and "NylasCredential 'contoso'" in message, message
    body = credential(kubectl, namespace)
    assert (k.condition(body, "ConsentSettled") or {})["reason"] == "ConsentNotConfirmed"
    record = body["status"]["consent"][0]
    assert record["grantedBy"] == "callback" and "confirmedAt" not in record
    assert "AADSTS700016" in record["confirmError"]
    assert (TENANT, "AADSTS700016") in {(r["tenant"], r["outcome"]) for r in emulator.token_requests()}

    # After --consent-confirm-timeout the unconfirmed consent is dropped and a new URL issued.
    def new_url() -> str | None:
        current = credential(kubectl, namespace)["status"].get("consentUrl")
        return str(current) if current and current != url else None

    fresh = k.eventually(new_url, timeout=60, what="a new consent URL after the unconfirmed consent")
    warnings = [
        e for e in k.events(kubectl, namespace)
        if e["reason"] == "ConsentNotConfirmed" and "a new consent URL is issued" in e["message"]
    ]  # fmt: skip
    assert warnings and warnings[0]["type"] == "Warning"
    assert not [e for e in emulator.journal() if e.path == "/v3/connect/custom"]  # no grant was ever tried

    # The genuine administrator opens the new URL: Microsoft records the consent and confirms it.
    consented = httpx.get(fresh, follow_redirects=True, timeout=10)
    assert consented.status_code == 200 and "Consent recorded" in consented.text
    for i in range(len(MAILBOXES)):
        k.wait_condition(kubectl, namespace, "serviceaccountgrant", f"mailbox-{i}", "Ready", timeout=60)
    confirmed = credential(kubectl, namespace)
    record = confirmed["status"]["consent"][0]
    assert record["confirmedAt"] and "Mail.ReadWrite" in record["confirmedRoles"]
    # The token itself is kept nowhere: not in status, not in the logs (a JWT starts with "eyJ").
    assert "eyJ" not in json.dumps(confirmed) and "eyJ" not in confirming.logs()
