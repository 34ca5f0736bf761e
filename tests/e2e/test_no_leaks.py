"""Secrets never leak (scenario 17): after the whole suite ran with DEBUG logs, no secret value the
tests used appears in any operator log, Event, status, annotation or label of any object in any
namespace, nor in a grant's output Secret.

Runs last (``leakscan`` marker, ordered by ``tests/conftest.py``). It first plays a small scenario
of its own (create, output Secret, rotation, a refused API key), so that it scans something
meaningful even when run alone (``pytest -k leak``). What the session left is in
``fixtures.leaks``: the registered values, every operator's log, and snapshots of the namespaces
taken before their deletion; the live cluster is listed too (``-A``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from e2e import kube as k
from e2e.test_google import google_objects
from fixtures import leaks

pytestmark = [pytest.mark.cluster, pytest.mark.leakscan]

# Test values the scan looks for.
ROTATED_CLIENT_SECRET = "leakscan-rotated-client-secret"
REFUSED_API_KEY = "nyk_leakscan_refused_api_key"
OUTPUT_SECRET = "dana-grant"


def mini_scenario(kubectl: k.Kubectl, namespace: str, emulator: Any) -> None:
    objects = google_objects(emulator)
    for obj in objects:
        if obj["kind"] == "ServiceAccountGrant":
            obj["spec"]["writeGrantToSecret"] = {"name": OUTPUT_SECRET}
    k.apply(kubectl, namespace, objects)
    k.wait_condition(kubectl, namespace, "serviceaccountgrant", "dana", "Ready", timeout=60)
    k.eventually(
        lambda: k.get(kubectl, namespace, "secret", OUTPUT_SECRET), timeout=30, what="the output Secret"
    )
    before = max(e.seq for e in emulator.journal())
    k.apply(kubectl, namespace, [k.secret(k.AZURE_SECRET, {"clientSecret": ROTATED_CLIENT_SECRET})])
    k.eventually(
        lambda: [e for e in emulator.journal(after=before) if e.method == "PATCH"],
        timeout=30,
        what="the rotated client secret sent to Nylas",
    )
    k.apply(kubectl, namespace, [k.secret(k.API_KEY_SECRET, {"apiKey": REFUSED_API_KEY})])
    k.wait_condition(
        kubectl, namespace, "nylasconnector", "google", "Ready", "False", reason="Unauthorized", timeout=60
    )


def test_no_secret_value_appears_anywhere(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    mini_scenario(kubectl, namespace, emulator)
    leaks.snapshot_namespace(kubectl, namespace)
    secrets = leaks.values()

    # The scan must be able to see: the values are found where they legitimately are.
    api_key_secret = k.get(kubectl, namespace, "secret", k.API_KEY_SECRET)
    assert leaks.scan([("control", json.dumps(api_key_secret))], secrets), "the scanner finds nothing"

    logs = sorted(leaks.log_dir().glob("*.log"))
    sources = [(f"log {path.name}", path.read_text(errors="replace")) for path in logs]
    log_lines = sum(text.count("\n") for _, text in sources)
    objects: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(leaks.snapshot_dir().glob("*.json")):
        objects.extend((f"snapshot {path.stem}", obj) for obj in json.loads(path.read_text()))
    objects.extend(("live", obj) for obj in leaks.list_objects(kubectl, "-A"))
    for where, obj in objects:
        meta = obj.get("metadata") or {}
        label = f"{where}: {obj.get('kind')} {meta.get('namespace')}/{meta.get('name')}"
        sources.append((label, json.dumps(obj)))

    kinds: dict[str, int] = {}
    for _, obj in objects:
        kinds[str(obj.get("kind"))] = kinds.get(str(obj.get("kind")), 0) + 1
    annotations = sum(len((obj.get("metadata") or {}).get("annotations") or {}) for _, obj in objects)
    kopf_state = sum(  # kopf's diffbase (status) and retry state (annotations) are scanned too
        1
        for _, obj in objects
        if "lastHandledConfiguration" in (obj.get("status") or {})
        or any(a.startswith("kopf.") for a in (obj.get("metadata") or {}).get("annotations") or {})
    )
    outputs = sum(1 for _, obj in objects if "decodedData" in obj)
    with capsys.disabled():  # the counts show what was scanned, also in a quiet run
        print(
            f"\nleak scan: {len(secrets)} secret forms, {len(logs)} operator logs ({log_lines} lines), "
            f"{len(objects)} objects {dict(sorted(kinds.items()))}, {annotations} annotations "
            f"({kopf_state} objects with kopf state), {outputs} grant output Secrets"
        )
    assert len(secrets) > 0 and log_lines > 0 and len(objects) > 0
    assert kinds.get("ServiceAccountGrant") and kinds.get("Event") and kopf_state and outputs
    for value in (ROTATED_CLIENT_SECRET, REFUSED_API_KEY, emulator.api_key):
        assert value in secrets

    hits = leaks.scan(sources, secrets)
    assert not hits, "secret values leaked:\n" + "\n".join(str(h) for h in hits[:50])
