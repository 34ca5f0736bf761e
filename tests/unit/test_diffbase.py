"""kopf's diffbase in status, with the annotation of earlier versions read once and removed."""

from __future__ import annotations

import json
from typing import Any

import kopf
import pytest

from nylas_operator.diffbase import StatusDiffBase, has_status_field, storage_for
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


def installed_crds() -> dict[str, dict[str, Any]]:
    from pathlib import Path

    import yaml

    crds = {}
    for path in sorted((Path(__file__).resolve().parents[2] / "crds").glob("*.yaml")):
        body = yaml.safe_load(path.read_text())
        crds[body["spec"]["names"]["plural"]] = body
    return crds


def test_the_crds_of_this_version_have_room_for_the_diffbase() -> None:
    crds = installed_crds()
    grants = crds.pop("serviceaccountgrants")
    assert sorted(crds) == ["nylasconnectors", "nylascredentials"]
    assert all(has_status_field(crd) for crd in crds.values())
    assert isinstance(storage_for(crds, KOPF_PREFIX), StatusDiffBase)
    # Grants are not run by kopf (informer.py): no diffbase, no room for one; an old grant's
    # field is pruned by the apiserver at its next status write.
    assert not has_status_field(grants)


def test_older_crds_keep_the_diffbase_in_the_annotation(caplog: pytest.LogCaptureFixture) -> None:
    crds = installed_crds()
    del crds["serviceaccountgrants"]  # not run by kopf: lifecycle._diffbase_storage leaves it out
    old = crds["nylascredentials"]
    for version in old["spec"]["versions"]:
        del version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"][
            "lastHandledConfiguration"
        ]
    assert not has_status_field(old)
    storage = storage_for(crds, KOPF_PREFIX)
    assert isinstance(storage, kopf.AnnotationsDiffBaseStorage)
    b = body()
    patch = kopf.Patch()
    storage.store(body=b, patch=patch, essence=storage.build(body=b))
    assert LEGACY in patch["metadata"]["annotations"] and "status" not in patch
    assert "nylascredentials" in caplog.text and "apply the CRDs" in caplog.text
    assert not has_status_field(None), "a CRD that is not installed has no room either"


def test_unreadable_crds_count_as_this_version_but_a_missing_one_does_not() -> None:
    # lifecycle._diffbase_storage leaves out the CRDs it could not read (no answer, no RBAC).
    assert isinstance(storage_for({}, KOPF_PREFIX), StatusDiffBase)
    not_installed = storage_for({"nylascredentials": None}, KOPF_PREFIX)
    assert isinstance(not_installed, kopf.AnnotationsDiffBaseStorage)
