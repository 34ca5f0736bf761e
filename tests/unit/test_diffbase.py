"""kopf's diffbase in status, with the annotation of earlier versions read once and removed."""

from __future__ import annotations

import json
from typing import Any

import kopf

from nylas_operator.diffbase import StatusDiffBase
from nylas_operator.runner import KOPF_PREFIX

LEGACY = f"{KOPF_PREFIX}/last-handled-configuration"


def body(status: dict[str, Any] | None = None, annotations: dict[str, str] | None = None) -> kopf.Body:
    raw: dict[str, Any] = {
        "apiVersion": "nylas-operator.io/v1alpha1",
        "kind": "ServiceAccountGrant",
        "metadata": {"name": "dana", "namespace": "ns", "annotations": annotations or {}},
        "spec": {"email": "dana@acme.example", "credentialRef": {"name": "m365"}},
        "status": status or {},
    }
    return kopf.Body(raw)


def test_stores_in_status_only() -> None:
    storage = StatusDiffBase(legacy_prefix=KOPF_PREFIX)
    b = body()
    patch = kopf.Patch()
    storage.store(body=b, patch=patch, essence=storage.build(body=b))
    assert set(patch) == {"status"}
    stored = json.loads(patch["status"]["lastHandledConfiguration"])
    assert stored == {"spec": {"email": "dana@acme.example", "credentialRef": {"name": "m365"}}}


def test_round_trip_through_status() -> None:
    storage = StatusDiffBase(legacy_prefix=KOPF_PREFIX)
    b = body()
    patch = kopf.Patch()
    essence = storage.build(body=b)
    storage.store(body=b, patch=patch, essence=essence)
    handled = body(status=dict(patch["status"]))
    assert storage.fetch(body=handled) == essence
    assert storage.build(body=handled) == essence, "the stored field is not part of the essence"


def test_new_object_has_no_diffbase() -> None:
    assert StatusDiffBase(legacy_prefix=KOPF_PREFIX).fetch(body=body()) is None


def test_legacy_annotation_is_read_and_then_removed() -> None:
    storage = StatusDiffBase(legacy_prefix=KOPF_PREFIX)
    old = {"spec": {"email": "dana@acme.example", "credentialRef": {"name": "m365"}}}
    legacy = body(annotations={LEGACY: json.dumps(old) + "\n"})  # even without kopf's marker
    assert storage.fetch(body=legacy) == old, "an object handled before is not taken for a new one"
    essence = storage.build(body=legacy)
    assert essence == old, "the legacy annotation is no configuration change"
    patch = kopf.Patch()
    storage.store(body=legacy, patch=patch, essence=essence)
    assert patch["metadata"]["annotations"][LEGACY] is None
    assert json.loads(patch["status"]["lastHandledConfiguration"]) == old


def test_status_wins_over_legacy_annotation() -> None:
    storage = StatusDiffBase(legacy_prefix=KOPF_PREFIX)
    new = {"spec": {"email": "new@acme.example"}}
    both = body(
        status={"lastHandledConfiguration": json.dumps(new)},
        annotations={LEGACY: json.dumps({"spec": {"email": "old@acme.example"}})},
    )
    assert storage.fetch(body=both) == new
