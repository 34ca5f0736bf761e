"""Which callbacks may write an outcome (pure tables; the real-apiserver races are in
tests/integration/consent/test_consent_server.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nylas_operator.api import conditions as c
from nylas_operator.consent import tokens
from nylas_operator.consent.recording import ConsentOutcome
from nylas_operator.controllers import consent

NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
GUID = "6f1c2a3b-0000-4000-8000-00000000abcd"
OTHER_GUID = "0d9e8f7a-1111-4111-8111-11111111dcba"

TENANTS = [
    # credential tenant, tenant in the redirect → may record
    ("common", None, True),
    ("common", OTHER_GUID, True),
    ("organizations", OTHER_GUID, True),
    (GUID, GUID, True),
    (GUID, GUID.upper(), True),
    (GUID, OTHER_GUID, False),
    (GUID, None, False),
    (GUID, "", False),
    (GUID, "contoso.example", False),
    ("contoso.example", "contoso.example", True),
    ("contoso.example", "CONTOSO.example", True),
    ("contoso.example", "fabrikam.example", False),
    ("contoso.example", None, False),
    ("contoso.example", GUID, True),  # a domain cannot be mapped to its id offline (documented)
]


@pytest.mark.parametrize(("expected", "returned", "ok"), TENANTS)
def test_the_redirect_tenant_must_be_the_credential_tenant(
    expected: str, returned: str | None, ok: bool
) -> None:
    assert consent.tenant_matches(expected, returned) is ok


STATE = tokens.hash_state("s" * 43)


def credential(tenant: str = GUID, **record: Any) -> dict[str, Any]:
    base = {"scopeSet": "default", "stateHash": STATE, "expiresAt": c.now_rfc3339(NOW + timedelta(hours=1))}
    return {
        "metadata": {"namespace": "ns", "name": "cred", "resourceVersion": "7", "annotations": {}},
        "spec": {"adminConsent": {"tenant": tenant}},
        "status": {"consent": [{**base, **record}]},
    }


def with_annotation(body: dict[str, Any], **value: Any) -> dict[str, Any]:
    body["metadata"]["annotations"][consent.RESULT_ANNOTATION_PREFIX + "default"] = json.dumps(value)
    return body


GRANT = ConsentOutcome(granted=True, tenant=GUID)
WRONG_TENANT = ConsentOutcome(granted=True, tenant=OTHER_GUID)
REFUSAL = ConsentOutcome(granted=False, error="access_denied")
REFUSAL_OTHER_TENANT = ConsentOutcome(granted=False, error="access_denied", tenant=OTHER_GUID)

ADMISSIBLE = [
    ("the current state, the right tenant", credential(), GRANT, True),
    ("a refusal without a tenant", credential(), REFUSAL, True),
    ("the wrong tenant", credential(), WRONG_TENANT, False),
    ("a refusal naming the wrong tenant", credential(), REFUSAL_OTHER_TENANT, False),
    ("a grant naming no tenant", credential(), ConsentOutcome(granted=True), False),
    ("a shared tenant takes any", credential("common"), WRONG_TENANT, True),
    ("already granted", credential(grantedAt="2030-01-01T11:00:00Z"), GRANT, False),
    ("another state", credential(stateHash="0" * 64), GRANT, False),
    ("expired", credential(expiresAt=c.now_rfc3339(NOW)), GRANT, False),
    ("a grant for it waits for the operator", with_annotation(credential(), stateHash=STATE, granted=True),
     GRANT, False),
    ("a refusal after a waiting grant", with_annotation(credential(), stateHash=STATE, granted=True),
     REFUSAL, False),
    ("after a waiting refusal", with_annotation(credential(), stateHash=STATE, granted=False), GRANT, True),
    ("a waiting grant of an older state", with_annotation(credential(), stateHash="1" * 64, granted=True),
     GRANT, True),
    ("gone", None, GRANT, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "outcome", "ok"), [a[1:] for a in ADMISSIBLE], ids=[a[0] for a in ADMISSIBLE]
)
def test_which_callbacks_may_write(body: dict[str, Any] | None, outcome: ConsentOutcome, ok: bool) -> None:
    assert consent.callback_admissible(body, "default", STATE, outcome, NOW) is ok
