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
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nylas_operator.api.common import parse_duration
from nylas_operator.api.conditions import Reason, now_rfc3339, parse_rfc3339
from nylas_operator.api.credential import COMMON_TENANT, SHARED_TENANTS
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


def confirm_tenant(record: Mapping[str, Any], spec_tenant: str | None) -> str | None:
    """The tenant Microsoft is asked about for a consent record: the credential's own tenant (id
    or domain), else (for 'common' and the other shared aliases) the tenant the redirect named."""
    tenant = (spec_tenant or COMMON_TENANT).strip()
    if tenant.lower() not in SHARED_TENANTS:
        return tenant
    returned = record.get("tenantId")
    return str(returned) if returned else None


def awaits_confirmation(record: Mapping[str, Any], spec_tenant: str | None, enabled: bool) -> bool:
    """Whether grants of this granted record must wait for Microsoft's confirmation
    (``--confirm-consent``). Every callback consent must be confirmed (one without a tenant never
    is); a consent by annotation (an approver's act, docs/security.md) only when a tenant is known."""
    if not enabled or not record.get("grantedAt") or record.get("confirmedAt"):
        return False
    return record.get("grantedBy") != "annotation" or confirm_tenant(record, spec_tenant) is not None


def unconfirmed_message(record: Mapping[str, Any], where: str) -> tuple[str, str]:
    """The reason and message of a condition for a settled consent still waiting for Microsoft."""
    error = record.get("confirmError")
    if error:
        return Reason.CONSENT_NOT_CONFIRMED, f"Microsoft has not confirmed the admin consent{where}: {error}"
    return Reason.CONSENT_CONFIRMING, f"waiting for Microsoft to confirm the admin consent{where}"


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


WRITE_ATTEMPTS = 8
"""Guarded writes a callback tries before it gives up (each after a fresh read): other callbacks
for the same credential (e.g. a flood of forged refusals) can make a write conflict, never win."""

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def tenant_matches(expected: str | None, returned: str | None) -> bool:
    """Whether the ``tenant`` a redirect names may record consent for a credential of ``expected``.

    A shared alias ('common', ...) names no customer: any tenant may consent. A tenant id (GUID)
    must come back exactly (case-insensitive). A domain name cannot be mapped to Microsoft's tenant
    id without asking Microsoft, so a returned tenant id is accepted for it, any other name only if
    it equals the domain (docs/security.md: name the tenant by id to get the full check).
    """
    wanted = (expected or COMMON_TENANT).strip().lower()
    if wanted in SHARED_TENANTS:
        return True
    got = (returned or "").strip().lower()
    if not got:
        return False
    if got == wanted:
        return True
    return _GUID.fullmatch(wanted) is None and _GUID.fullmatch(got) is not None


def pending_grant(annotations: Mapping[str, str], key: str, state_hash: str) -> bool:
    """A granted outcome for this state is written and waits for the operator: the state is used."""
    raw = annotations.get(RESULT_ANNOTATION_PREFIX + key)
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return False
    return (
        isinstance(value, dict)
        and value.get("granted") is True
        and hashes_equal(str(value.get("stateHash") or ""), state_hash)
    )


def callback_admissible(
    body: Mapping[str, Any] | None, key: str, state_hash: str, outcome: ConsentOutcome, now: datetime
) -> bool:
    """Whether a callback naming ``state_hash`` may write its outcome into the credential ``body``.

    Pure: the one place that says why a callback is refused (all refusals look the same outside).
    The state must be the current, unexpired state of a record not yet granted, no grant for it may
    be waiting for the operator, and on a credential bound to a tenant the redirect's tenant must be
    that tenant (a grant must name one; a refusal may name none).
    """
    if body is None:
        return False
    record = find_record(dict(body.get("status") or {}), key)
    if (
        record is None
        or record.get("grantedAt")
        or not hashes_equal(str(record.get("stateHash") or ""), state_hash)
        or state_expired(record, now)
    ):
        return False
    annotations = dict((body.get("metadata") or {}).get("annotations") or {})
    if pending_grant(annotations, key, state_hash):
        return False
    tenant = ((body.get("spec") or {}).get("adminConsent") or {}).get("tenant")
    if outcome.granted or outcome.tenant is not None:
        return tenant_matches(tenant, outcome.tenant)
    return True


class Recorder:
    """The callback's ``ConsentRecorder``: every kind of miss is the same ``refused()``.

    A refusal by the provider never uses up the state (anyone holding the URL can send one, and the
    administrator must be able to retry the same link); a grant does, once: its write is guarded by
    the credential's resourceVersion, so of concurrent callbacks with one state exactly one wins.
    """

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
        for _ in range(WRITE_ATTEMPTS):
            body = await self._kube.get_object(CREDENTIALS, namespace, name)  # KubeError → 503, state kept
            now: datetime = self._clock()
            if body is None or not callback_admissible(body, key, state_hash, outcome, now):
                return RecordResult.refused()
            written = await self._kube.annotate_if_unchanged(
                CREDENTIALS,
                namespace,
                name,
                {RESULT_ANNOTATION_PREFIX + key: json.dumps(_result_value(state_hash, outcome, now))},
                str(body["metadata"].get("resourceVersion") or ""),
            )
            if written is None:
                return RecordResult.refused()
            if written:
                return self._accepted(body, state_hash, outcome, now)
        log.warning(
            "consent callback for %s/%s gave up after %d conflicting writes", namespace, name, WRITE_ATTEMPTS
        )
        return RecordResult.refused()

    def _accepted(
        self, body: Mapping[str, Any], state_hash: str, outcome: ConsentOutcome, now: datetime
    ) -> RecordResult:
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        log.info(
            "consent %s recorded for NylasCredential %s/%s",
            "grant" if outcome.granted else "refusal",
            namespace,
            name,
        )
        if not outcome.granted:  # the state stays usable: a refusal is shown, never final
            return RecordResult(accepted=True, display_name=f"{namespace}/{name}")
        self._index.used.add(state_hash)
        self._index.forget(state_hash)
        spec = body.get("spec") or {}
        delay = delay_of(spec.get("scopeCacheDelay"), default=self._default_delay)
        return RecordResult(
            accepted=True, grants_after=ceil_second(now) + delay, display_name=f"{namespace}/{name}"
        )


def _result_value(state_hash: str, outcome: ConsentOutcome, now: datetime) -> dict[str, Any]:
    value: dict[str, Any] = {
        "stateHash": state_hash,
        "at": now_rfc3339(ceil_second(now)),
        "granted": outcome.granted,
    }
    if outcome.tenant:
        value["tenant"] = outcome.tenant
    if not outcome.granted:
        value.update(error=outcome.error or "access_denied", errorDescription=outcome.error_description)
    return value


def state_expired(record: Mapping[str, Any], now: datetime) -> bool:
    """The record's consent URL state is past ``expiresAt`` (a new URL is issued; a callback with it
    is refused)."""
    expires = record.get("expiresAt")
    return bool(expires) and parse_rfc3339(str(expires)) <= now
