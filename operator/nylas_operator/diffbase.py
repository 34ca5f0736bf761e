"""Where kopf keeps the configuration it last handled: in ``status``, not in an annotation.

Owns: ``StatusDiffBase``, kopf's diffbase storage for the kinds kopf runs (connectors and
credentials; grants have no diffbase, ``controllers/informer.py``). kopf writes the diffbase after
every handled change; in an annotation that is a body PATCH of its own, next to the status PATCH
of the same cycle, while in ``status`` it rides in that one status PATCH (one apiserver write and
one watch event less per reconcile). Objects handled by an earlier version keep their annotation
until their next handled change: it is read when the status field is missing (so they are not
taken for new objects and re-created) and removed by the first status write.
``storage_for()`` checks the installed CRDs at start: CRDs older than the operator have no such
status field, the apiserver would prune it and kopf would handle every object again and again, so
the annotation is kept until the CRDs are updated.
Does not own: what goes into the essence (kopf) or the status schema (``api/common.py``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any, cast

import kopf

from nylas_operator.api.common import HANDLED_CONFIGURATION_FIELD

LEGACY_ANNOTATION_KEY = "last-handled-configuration"
log = logging.getLogger("nylas_operator.diffbase")


class StatusDiffBase(kopf.StatusDiffBaseStorage):
    def __init__(self, legacy_prefix: str) -> None:
        super().__init__(field=f"status.{HANDLED_CONFIGURATION_FIELD}")
        self._legacy = f"{legacy_prefix}/{LEGACY_ANNOTATION_KEY}"

    def build(self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None) -> kopf.BodyEssence:
        essence = super().build(body=body, extra_fields=extra_fields)
        # The legacy annotation is bookkeeping, not configuration (kopf skips it only while the
        # object still carries kopf's marker annotation for our prefix).
        annotations = cast(dict[str, Any], essence.get("metadata", {})).get("annotations")
        if annotations and self._legacy in annotations:
            del annotations[self._legacy]
            self.remove_empty_stanzas(essence)
        return essence

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        essence = super().fetch(body=body)
        if essence is None:
            encoded = body.metadata.annotations.get(self._legacy)
            essence = cast(kopf.BodyEssence, json.loads(encoded)) if encoded else None
        return essence

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        super().store(body=body, patch=patch, essence=essence)
        if self._legacy in body.metadata.annotations:
            patch.meta.annotations[self._legacy] = None  # migrated: the status field has it now


def has_status_field(crd: Mapping[str, Any] | None) -> bool:
    """True when every served version of ``crd`` has room for the diffbase in its status schema."""
    versions = [v for v in (crd or {}).get("spec", {}).get("versions", []) if v.get("served")]
    return bool(versions) and all(
        HANDLED_CONFIGURATION_FIELD
        in (v.get("schema", {}).get("openAPIV3Schema", {}).get("properties", {}).get("status", {})).get(
            "properties", {}
        )
        for v in versions
    )


def storage_for(crds: Mapping[str, Mapping[str, Any] | None], legacy_prefix: str) -> kopf.DiffBaseStorage:
    """``StatusDiffBase`` when every CRD (plural → CRD body) has the status field, else the annotation."""
    outdated = sorted(plural for plural, crd in crds.items() if not has_status_field(crd))
    if not outdated:
        return StatusDiffBase(legacy_prefix=legacy_prefix)
    log.warning(
        "the installed CRDs of %s have no status.%s (older than this operator): kopf's record of "
        "handled changes stays in an annotation; apply the CRDs of this version (crds/ or the chart)",
        ", ".join(outdated),
        HANDLED_CONFIGURATION_FIELD,
    )
    return kopf.AnnotationsDiffBaseStorage(prefix=legacy_prefix, key=LEGACY_ANNOTATION_KEY)
