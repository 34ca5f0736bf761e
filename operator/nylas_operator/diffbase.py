"""Where kopf keeps the configuration it last handled: in ``status``, not in an annotation.

Owns: ``StatusDiffBase``, kopf's diffbase storage for our kinds. kopf writes the diffbase after
every handled change; in an annotation that is a body PATCH of its own, next to the status PATCH
of the same cycle, while in ``status`` it rides in that one status PATCH (one apiserver write and
one watch event less per reconcile). Objects handled by an earlier version keep their annotation
until their next handled change: it is read when the status field is missing (so they are not
taken for new objects and re-created) and removed by the first status write.
Does not own: what goes into the essence (kopf) or the status schema (``api/common.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

import kopf

from nylas_operator.api.common import HANDLED_CONFIGURATION_FIELD

LEGACY_ANNOTATION_KEY = "last-handled-configuration"


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
