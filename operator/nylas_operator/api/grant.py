"""ServiceAccountGrant: one mailbox's Nylas grant, created with the credential's bulk authentication."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from nylas_operator.api.common import (
    DELETION_POLICY_DESCRIPTION,
    CamelModel,
    Condition,
    DeletionPolicy,
    DnsName,
    Duration,
    Email,
    LocalObjectReference,
    Scope,
    cel,
    validations,
)


class GrantSecretTarget(CamelModel):
    """A Secret the operator writes with the grant's id (never an API key or client secret)."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": False})

    name: DnsName = Field(
        description="Name of the Secret to write in this namespace; it is owned by the grant and holds "
        "grant_id, email, provider and api_url.",
    )


class ServiceAccountGrantSpec(CamelModel):
    """Desired state of one mailbox's grant."""

    model_config = ConfigDict(
        json_schema_extra={
            "additionalProperties": False,
            **validations(
                cel(
                    "self.email == oldSelf.email",
                    "spec.email is immutable: create a new ServiceAccountGrant for another mailbox",
                    fieldPath=".email",
                ),
                cel(
                    "self.credentialRef.name == oldSelf.credentialRef.name",
                    "spec.credentialRef is immutable: create a new ServiceAccountGrant instead",
                    fieldPath=".credentialRef",
                ),
            ),
        }
    )

    credential_ref: LocalObjectReference = Field(
        description="The NylasCredential (same namespace) whose bulk authentication creates this grant."
    )
    email: Email = Field(
        description="The mailbox address. Immutable. Nylas keeps one grant per address per application.",
    )
    scopes: list[Scope] | None = Field(
        default=None,
        max_length=64,
        description="Scopes of the grant. Google: required unless the connector has default scopes. "
        "Microsoft: only with a credential for a specific tenant (a new consent is asked for this set).",
    )
    scope_cache_delay: Duration | None = Field(
        default=None,
        description="Microsoft: minimum wait after admin consent before the grant is created "
        "(Microsoft caches scopes). Defaults to the credential's, then the operator's (5m).",
    )
    deletion_policy: DeletionPolicy = Field(default="Orphan", description=DELETION_POLICY_DESCRIPTION)
    write_grant_to_secret: GrantSecretTarget | None = Field(
        default=None, description="Optional Secret to write the grant id into, for applications to read."
    )


class ServiceAccountGrantStatus(CamelModel):
    """Observed state of one mailbox's grant."""

    phase: str | None = Field(
        default=None,
        description="Pending, AwaitingConsent, ConsentSettling, Creating, Ready, Degraded, Failed "
        "or Deleting.",
    )
    observed_generation: int | None = Field(
        default=None, description="The metadata.generation last reconciled."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, Synced, CredentialsResolved, ConsentGranted, ConsentSettled.",
    )
    grant_id: str | None = Field(default=None, description="The grant's id in Nylas.")
    provider: str | None = Field(default=None, description="google or microsoft.")
    credential_id: str | None = Field(
        default=None, description="The Nylas credential the grant was created with."
    )
    grant_status: str | None = Field(default=None, description="Nylas's grant_status: valid or invalid.")
    scope_set: str | None = Field(
        default=None,
        description="The scope set the Nylas grant was last authenticated with ('default' or a hash of "
        "the scopes, as in the credential's status.consent); a different set is re-authenticated.",
    )
    eligible_at: str | None = Field(
        default=None, description="Microsoft: the grant is created no earlier than this time (RFC 3339)."
    )
    deletion_attempts: int | None = Field(
        default=None,
        description="Failed attempts to delete the Nylas object of this deletion so far (deletionPolicy "
        "Delete); the Ready condition (reason DeleteFailed) says when the next one is.",
    )
