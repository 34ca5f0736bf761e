"""NylasCredential: a connector credential; Microsoft admin consent lives here.

One admin approval for a tenant unlocks every mailbox of that tenant, so the consent record
(consent URL, state hash, grantedAt, settledAt) is kept in this object's status, per scope set.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from nylas_operator.api.common import (
    DELETION_POLICY_DESCRIPTION,
    HANDLED_CONFIGURATION_DESCRIPTION,
    URL_MESSAGE,
    URL_RULE,
    CamelModel,
    Condition,
    DeletionPolicy,
    Duration,
    LocalObjectReference,
    Scope,
    SecretKeySelector,
    cel,
    validations,
)

CredentialType = Literal["adminconsent", "serviceaccount"]
COMMON_TENANT = "common"
# Entra's multi-tenant aliases: none names one customer, so none can consent custom scopes.
SHARED_TENANTS = ("common", "organizations", "consumers")


class AdminConsentSpec(CamelModel):
    """Microsoft admin consent (bulk authentication with application permissions)."""

    model_config = ConfigDict(
        json_schema_extra={
            "additionalProperties": False,
            **validations(
                cel(
                    "has(self.clientId) == has(self.clientSecretRef)",
                    "spec.adminConsent.clientId and spec.adminConsent.clientSecretRef go together: "
                    "set both, or neither to use the connector's provider app",
                ),
                cel(
                    "!has(self.scopes) || size(self.scopes) == 0 || !(self.tenant in "
                    + "["
                    + ", ".join(f"'{t}'" for t in SHARED_TENANTS)
                    + "])",
                    "custom scopes need a specific tenant: set spec.adminConsent.tenant to the customer's "
                    "tenant id or domain (Microsoft cannot consent custom scopes for 'common', "
                    "'organizations' or 'consumers')",
                    fieldPath=".scopes",
                ),
            ),
        }
    )

    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Azure app id. Omit (with clientSecretRef) to use the connector's provider app.",
    )
    client_secret_ref: SecretKeySelector | None = Field(
        default=None, description="Azure app client secret, from a Secret in this namespace."
    )
    tenant: str = Field(
        default=COMMON_TENANT,
        min_length=1,
        max_length=128,
        description="The customer's Entra tenant id, or 'common' (then only the app's default "
        "permissions can be consented).",
    )
    scopes: list[Scope] | None = Field(
        default=None,
        max_length=64,
        description="Scopes the administrator is asked to consent to. Needs a specific tenant. "
        "Grants with their own scopes add consent requests for their scope set.",
    )
    redirect_uri: str | None = Field(
        default=None,
        max_length=2048,
        json_schema_extra=validations(cel(URL_RULE, URL_MESSAGE)),
        description="Where Nylas sends the administrator after consent. Defaults to the operator's "
        "callback URL (--callback-url). With a URL of your own, record consent by annotation.",
    )


class ServiceAccountSpec(CamelModel):
    """Google service account with domain-wide delegation."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": False})

    key_secret_ref: SecretKeySelector = Field(
        description="The service account's JSON key (the file Google lets you download), from a Secret in "
        "this namespace. It needs private_key_id, private_key and client_email."
    )


class NylasCredentialSpec(CamelModel):
    """Desired state of a connector credential."""

    model_config = ConfigDict(
        json_schema_extra={
            "additionalProperties": False,
            **validations(
                cel(
                    "self.type == 'adminconsent' || !has(self.adminConsent)",
                    "spec.adminConsent is only valid with type adminconsent",
                    fieldPath=".adminConsent",
                ),
                cel(
                    "self.type == 'serviceaccount' || !has(self.serviceAccount)",
                    "spec.serviceAccount is only valid with type serviceaccount",
                    fieldPath=".serviceAccount",
                ),
                cel(
                    "self.type != 'serviceaccount' || has(self.serviceAccount)",
                    "type serviceaccount needs spec.serviceAccount.keySecretRef",
                    fieldPath=".serviceAccount",
                    reason="FieldValueRequired",
                ),
                cel(
                    "self.type == oldSelf.type",
                    "spec.type is immutable: create a new NylasCredential instead",
                    fieldPath=".type",
                ),
                cel(
                    "self.connectorRef.name == oldSelf.connectorRef.name",
                    "spec.connectorRef is immutable: a credential cannot move to another connector",
                    fieldPath=".connectorRef",
                ),
            ),
        }
    )

    connector_ref: LocalObjectReference = Field(
        description="The NylasConnector (same namespace) this credential belongs to."
    )
    type: CredentialType = Field(
        description="adminconsent (Microsoft admin consent) or serviceaccount (Google service account)."
    )
    admin_consent: AdminConsentSpec | None = Field(
        default=None, description="Settings for type adminconsent (optional: defaults apply)."
    )
    service_account: ServiceAccountSpec | None = Field(
        default=None, description="Settings for type serviceaccount (required for that type)."
    )
    scope_cache_delay: Duration | None = Field(
        default=None,
        description="How long to wait after admin consent before grants are created, because Microsoft "
        "caches scopes (e.g. 5m). Defaults to the operator's --scope-cache-delay (5m).",
    )
    deletion_policy: DeletionPolicy = Field(default="Orphan", description=DELETION_POLICY_DESCRIPTION)


class ConsentRecord(CamelModel):
    """Admin consent for one scope set of this credential."""

    scope_set: str = Field(
        description="Stable key of the scope set: 'default' (the app's permissions) or a hash of the scopes."
    )
    scopes: list[str] | None = Field(default=None, description="The scopes of this set (none = default).")
    consent_url: str | None = Field(
        default=None, description="The URL an Entra administrator opens to consent."
    )
    state_hash: str | None = Field(
        default=None, description="SHA-256 of the single-use state token in the consent URL."
    )
    requested_at: str | None = Field(default=None, description="When the consent URL was issued (RFC 3339).")
    expires_at: str | None = Field(default=None, description="When the consent URL's state expires.")
    granted_at: str | None = Field(default=None, description="When the consent was recorded (RFC 3339).")
    granted_by: str | None = Field(
        default=None, description="How consent was recorded: callback or annotation."
    )
    settled_at: str | None = Field(
        default=None, description="grantedAt + scope-cache delay: grants are created after this time."
    )
    tenant_id: str | None = Field(
        default=None, description="The tenant the consent redirect named (callback consents)."
    )
    confirmed_at: str | None = Field(
        default=None,
        description="When Microsoft confirmed the consent (a client-credentials token for the tenant "
        "whose roles cover the scopes; --confirm-consent). Grants wait for it.",
    )
    confirmed_roles: list[str] | None = Field(
        default=None, max_length=256, description="The application roles Microsoft's token listed."
    )
    confirm_error: str | None = Field(
        default=None,
        max_length=1024,
        description="Why Microsoft has not confirmed the consent yet (an AADSTS code, missing roles).",
    )
    error: str | None = Field(default=None, description="The provider's error code if consent was refused.")
    error_description: str | None = Field(default=None, description="The provider's error description.")


class NylasCredentialStatus(CamelModel):
    """Observed state of a connector credential."""

    phase: str | None = Field(
        default=None, description="Pending, AwaitingConsent, ConsentSettling, Ready, Failed or Deleting."
    )
    observed_generation: int | None = Field(
        default=None, description="The metadata.generation last reconciled."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, Synced, CredentialsResolved, ConsentGranted, ConsentSettled.",
    )
    credential_id: str | None = Field(default=None, description="The credential's id in Nylas.")
    nylas_name: str | None = Field(
        default=None, description="The credential's deterministic name in Nylas (k8s:<namespace>/<name>)."
    )
    provider: str | None = Field(default=None, description="The provider of the credential's connector.")
    consent_url: str | None = Field(
        default=None, description="Consent URL of the default scope set (copied from consent[])."
    )
    settled_at: str | None = Field(default=None, description="When the default scope set settles.")
    consent: list[ConsentRecord] = Field(default_factory=list, description="Consent per scope set.")
    secret_versions: dict[str, str] | None = Field(
        default=None, description="resourceVersion of each referenced Secret when last applied."
    )
    deletion_attempts: int | None = Field(
        default=None,
        description="Failed attempts to delete the Nylas object of this deletion so far (deletionPolicy "
        "Delete); the Ready condition (reason DeleteFailed) says when the next one is.",
    )
    users: int | None = Field(
        default=None, description="How many ServiceAccountGrants in this namespace reference this credential."
    )
    last_handled_configuration: str | None = Field(
        default=None, description=HANDLED_CONFIGURATION_DESCRIPTION
    )
