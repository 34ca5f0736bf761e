"""Helpers of the Nylas client's contract tests (request builders, the fast retry policy)."""

from __future__ import annotations

from collections.abc import Callable

from fixtures.emulator import FAKE_PEM
from nylas_operator.nylas import (
    AdminConsentCredentialData,
    CredentialCreate,
    CredentialType,
    NylasClient,
    RetryPolicy,
    ServiceAccountCredentialData,
)

FAST_RETRY = RetryPolicy(max_attempts=6, base_delay=0.02, max_delay=0.2, max_retry_after=5.0, deadline=20.0)
GOOGLE_SCOPES = ["https://www.googleapis.com/auth/userinfo.email", "https://www.googleapis.com/auth/calendar"]

MakeClient = Callable[..., NylasClient]


def admin_consent(
    name: str = "acme", tenant: str = "acme-tenant", secret: str | None = None
) -> CredentialCreate:
    return CredentialCreate(
        name=name,
        credential_type=CredentialType.ADMINCONSENT,
        credential_data=AdminConsentCredentialData(
            tenant=tenant, client_id="azure-app" if secret else None, client_secret=secret
        ),
    )


def service_account(name: str = "workspace", private_key: str = FAKE_PEM) -> CredentialCreate:
    return CredentialCreate(
        name=name,
        credential_type=CredentialType.SERVICEACCOUNT,
        credential_data=ServiceAccountCredentialData.model_validate(
            {
                "type": "service_account",
                "project_id": "acme-project",
                "private_key_id": "0123456789abcdef",
                "private_key": private_key,
                "client_email": "bulk@acme-project.iam.gserviceaccount.com",
                "client_id": "1234567890",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        ),
    )
