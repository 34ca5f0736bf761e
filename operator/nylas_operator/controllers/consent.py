"""Microsoft admin consent, controller side: records per scope set, the state index, the recorder.

Owns: the scope-set key; the in-memory index from state hash to credential; ``Recorder``, the
``ConsentRecorder`` the callback endpoint calls. Issuing consent URLs (a fresh 256-bit state per
URL, only its hash in status, expiring) and applying recorded outcomes to ``status.consent`` are
decisions (``decide_credential.py``).

Both ways of recording consent end in the same place. The callback's recorder does not write
status (the credential's handler could overwrite it with an older list): it writes an annotation
``nylas-operator.io/consent-<set>`` with the outcome and the state hash; the annotation change
wakes the credential, whose handler moves it into status and removes it. The annotation
``nylas-operator.io/admin-consent=granted`` (set by a person) is handled the same way.
Does not own: tokens and the HTTP endpoint (``nylas_operator.consent``), the URL format
(``nylas.auth``), the grant's wait (``grant.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nylas_operator.api.common import parse_duration
from nylas_operator.api.conditions import now_rfc3339, parse_rfc3339
from nylas_operator.consent.recording import ConsentOutcome, RecordResult
from nylas_operator.consent.tokens import hashes_equal, is_state_hash
from nylas_operator.kube import CREDENTIALS, Kube

log = logging.getLogger("nylas_operator.consent")

ADMIN_CONSENT_ANNOTATION = "nylas-operator.io/admin-consent"
RESULT_ANNOTATION_PREFIX = "nylas-operator.io/consent-"
DEFAULT_SET = "default"


def scope_set_key(scopes: Iterable[str] | None) -> str:
    """``default`` (the app's permissions) or a short hash of the sorted, de-duplicated scopes."""
    unique = sorted(set(scopes or ()))
    if not unique:
        return DEFAULT_SET
    return hashlib.sha256(" ".join(unique).encode()).hexdigest()[:16]


def find_record(status: dict[str, Any], key: str) -> dict[str, Any] | None:
    for record in status.get("consent") or []:
        if record.get("scopeSet") == key:
            return dict(record)
    return None


def ceil_second(moment: datetime) -> datetime:
    """Round up to a whole second: status times have no fractions, and a consent must never look
    earlier than it was (the settle wait would end early)."""
    if moment.microsecond:
        return moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment


def delay_of(*durations: str | None, default: timedelta) -> timedelta:
    """The first duration set (a grant's, then its credential's), else the operator default."""
    for text in durations:
        if text:
            return parse_duration(text)
    return default


@dataclass
class ConsentIndex:
    """state hash → (namespace, credential name, scope set), from the credentials' status as the
    watch shows it (and the start-up LIST); reconciles never change it."""

    by_hash: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def register(self, state_hash: str, namespace: str, name: str, key: str) -> None:
        if is_state_hash(state_hash) and state_hash not in self.used:
            self.by_hash[state_hash] = (namespace, name, key)

    def forget(self, state_hash: str) -> None:
        self.by_hash.pop(state_hash, None)

    def forget_credential(self, namespace: str, name: str) -> None:
        for h in [h for h, v in self.by_hash.items() if v[:2] == (namespace, name)]:
            del self.by_hash[h]

    def observe(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """One watch event of a credential (the index's only input besides the start-up LIST)."""
        meta = body.get("metadata") or {}
        self.forget_credential(str(meta.get("namespace")), str(meta.get("name")))
        if event_type != "DELETED":
            self.index_credential(body)

    def index_credential(self, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        for record in (body.get("status") or {}).get("consent") or []:
            if record.get("stateHash") and not record.get("grantedAt"):
                self.register(
                    record["stateHash"], meta["namespace"], meta["name"], record.get("scopeSet", "")
                )


class Recorder:
    """The callback's ``ConsentRecorder``: every kind of miss is the same ``refused()``."""

    def __init__(self, kube: Kube, index: ConsentIndex, *, default_delay: timedelta, clock: Any) -> None:
        self._kube = kube
        self._index = index
        self._default_delay = default_delay
        self._clock = clock

    async def record(self, state_hash: str, outcome: ConsentOutcome) -> RecordResult:
        entry = self._index.by_hash.get(state_hash)
        if entry is None or state_hash in self._index.used:
            return RecordResult.refused()
        namespace, name, key = entry
        body = await self._kube.get_object(CREDENTIALS, namespace, name)  # KubeError → 503, state kept
        record = find_record(dict((body or {}).get("status") or {}), key)
        now: datetime = self._clock()
        if (
            body is None
            or record is None
            or record.get("grantedAt")
            or not hashes_equal(str(record.get("stateHash") or ""), state_hash)
            or state_expired(record, now)
        ):
            return RecordResult.refused()
        value: dict[str, Any] = {
            "stateHash": state_hash,
            "at": now_rfc3339(ceil_second(now)),
            "granted": outcome.granted,
        }
        if not outcome.granted:
            value.update(error=outcome.error or "access_denied", errorDescription=outcome.error_description)
        patched = await self._kube.annotate(
            CREDENTIALS, namespace, name, {RESULT_ANNOTATION_PREFIX + key: json.dumps(value)}
        )
        if not patched:
            return RecordResult.refused()
        self._index.used.add(state_hash)
        self._index.forget(state_hash)
        log.info(
            "consent %s recorded for NylasCredential %s/%s",
            "grant" if outcome.granted else "refusal",
            namespace,
            name,
        )
        if not outcome.granted:
            return RecordResult(accepted=True, display_name=f"{namespace}/{name}")
        spec = (body.get("spec") or {}) if body else {}
        delay = delay_of(spec.get("scopeCacheDelay"), default=self._default_delay)
        return RecordResult(
            accepted=True, grants_after=ceil_second(now) + delay, display_name=f"{namespace}/{name}"
        )


def state_expired(record: Mapping[str, Any], now: datetime) -> bool:
    """The record's consent URL state is past ``expiresAt`` (a new URL is issued; a callback with it
    is refused)."""
    expires = record.get("expiresAt")
    return bool(expires) and parse_rfc3339(str(expires)) <= now
