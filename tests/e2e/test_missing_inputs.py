"""Missing Secrets or keys, and a wrong API key (scenario 9).

- A missing Secret or key gives a precise reason naming the Secret and key (never a value); once
  the Secret appears or the key is added, the object recovers by itself: no operator restart, and
  well before the safety-net recheck (the operator here rechecks only every 60 s, so recovery within
  seconds proves the Secret watch woke it).
- A wrong API key gives ``Ready=False, Unauthorized`` naming the base URL that refused it; retries
  back off (counted in the emulator journal: few calls, growing gaps, capped), and fixing the key
  in its Secret recovers.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest

from e2e import kube as k
from e2e.test_google import google_objects

pytestmark = pytest.mark.cluster

RECOVERY_TIMEOUT = 20.0  # far below the 60 s safety-net recheck of the operator used here
WRONG_API_KEY = "nyk_wrong_key_for_backoff_e2e"  # a test value the leak scan looks for
SPARE_VALUE = "value-under-a-wrong-key-e2e"


def without_secrets(objects: list[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
    return [o for o in objects if not (o["kind"] == "Secret" and o["metadata"]["name"] in names)]


def wait_reason(kubectl: k.Kubectl, ns: str, kind: str, name: str, reason: str) -> dict[str, Any]:
    return k.wait_condition(kubectl, ns, kind, name, "Ready", "False", reason=reason, timeout=60)


def recover_within(kubectl: k.Kubectl, ns: str, kind: str, name: str) -> float:
    started = time.monotonic()
    k.wait_condition(kubectl, ns, kind, name, "Ready", timeout=RECOVERY_TIMEOUT)
    return time.monotonic() - started


def test_missing_secret_and_key_are_named_and_heal_by_themselves(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator_factory: Any
) -> None:
    operator_factory(namespace, max_retry_delay="60s")
    objects = google_objects(emulator)
    k.apply(kubectl, namespace, without_secrets(objects, k.API_KEY_SECRET, k.GOOGLE_SECRET))

    connector = wait_reason(kubectl, namespace, "nylasconnector", "google", "SecretNotFound")
    message = k.condition(connector, "Ready")["message"]  # type: ignore[index]
    assert repr(k.API_KEY_SECRET) in message and "API key" in message
    resolved = k.condition(connector, "CredentialsResolved")
    assert resolved is not None and (resolved["status"], resolved["reason"]) == ("False", "SecretNotFound")
    assert connector["status"]["phase"] == "Pending"
    wait_reason(kubectl, namespace, "nylascredential", "workspace", "ConnectorNotReady")
    assert not emulator.journal(), "nothing is sent to Nylas without the API key"

    # The Secret appears, but with the wrong key: the reason names the Secret and the key only.
    k.apply(kubectl, namespace, [k.secret(k.API_KEY_SECRET, {"api-key": SPARE_VALUE})])
    connector = wait_reason(kubectl, namespace, "nylasconnector", "google", "SecretKeyNotFound")
    message = k.condition(connector, "Ready")["message"]  # type: ignore[index]
    assert repr(k.API_KEY_SECRET) in message and "'apiKey'" in message
    assert SPARE_VALUE not in json.dumps(connector)

    # The key is added: the connector recovers by itself, then the credential names its own Secret.
    k.apply(kubectl, namespace, [k.secret(k.API_KEY_SECRET, {"apiKey": emulator.api_key})])
    assert recover_within(kubectl, namespace, "nylasconnector", "google") < RECOVERY_TIMEOUT
    credential = wait_reason(kubectl, namespace, "nylascredential", "workspace", "SecretNotFound")
    assert repr(k.GOOGLE_SECRET) in k.condition(credential, "Ready")["message"]  # type: ignore[index]

    k.apply(kubectl, namespace, [o for o in objects if o["metadata"]["name"] == k.GOOGLE_SECRET])
    recover_within(kubectl, namespace, "nylascredential", "workspace")
    recover_within(kubectl, namespace, "serviceaccountgrant", "dana")
    assert [g["email"] for g in emulator.state()["grants"]] == ["dana@acme.example"]


def test_wrong_api_key_names_the_endpoint_backs_off_and_recovers(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator_factory: Any
) -> None:
    operator_factory(namespace, min_retry_delay="1s", max_retry_delay="4s")
    # The key arrives after the objects, so one event (the Secret watch) starts the retries.
    k.apply(kubectl, namespace, without_secrets(google_objects(emulator), k.API_KEY_SECRET))
    wait_reason(kubectl, namespace, "nylasconnector", "google", "SecretNotFound")
    k.apply(kubectl, namespace, [k.secret(k.API_KEY_SECRET, {"apiKey": WRONG_API_KEY})])

    connector = wait_reason(kubectl, namespace, "nylasconnector", "google", "Unauthorized")
    message = k.condition(connector, "Ready")["message"]  # type: ignore[index]
    assert emulator.url in message and "401" in message, message
    assert WRONG_API_KEY not in json.dumps(connector)

    # Count the refused calls over a window: a capped exponential backoff, not a hot loop.
    window = 22.0

    def refused() -> list[float]:
        return sorted(e.time for e in emulator.journal() if e.status == 401)

    first = refused()[0]
    deadline = time.monotonic() + window + 2
    while time.monotonic() < deadline and time.time() < first + window:
        time.sleep(0.5)
    # Only the connector calls, and only its first call: which application the key belongs to.
    assert {e.path for e in emulator.journal()} == {"/v3/applications"}, "only the connector calls"
    times = [t for t in refused() if t <= first + window]
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(times)]
    print(f"401s in {window}s: {len(times)}, gaps {gaps}")
    # Delays 1, 2, 4, 4, 4... s (x 0.7-1.0 jitter) fit about 7 calls into the window.
    assert 4 <= len(times) <= 10, f"{len(times)} calls in {window}s, gaps {gaps}"
    # Jitter alone never doubles a gap (at most x 1/0.7); doubling means an exponential backoff.
    assert gaps[2] >= 2 * gaps[0] and gaps[-1] >= 2 * gaps[0], f"gaps do not grow: {gaps}"
    assert max(gaps) <= 4.0 + 2.0, f"gaps are not capped: {gaps}"
    assert min(gaps[2:]) >= 4.0 * 0.7 - 0.3, f"gaps shrink after reaching the cap: {gaps}"

    k.apply(kubectl, namespace, [k.secret(k.API_KEY_SECRET, {"apiKey": emulator.api_key})])
    recover_within(kubectl, namespace, "nylasconnector", "google")
    k.wait_condition(kubectl, namespace, "serviceaccountgrant", "dana", "Ready", timeout=60)
