"""NylasConnector: one provider app (Google or Microsoft) registered on one Nylas application."""

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
    Scope,
    SecretKeySelector,
    cel,
    validations,
)

Provider = Literal["google", "microsoft"]
Region = Literal["us", "eu"]


class NylasApplication(CamelModel):
    """The Nylas application the connector lives on, and how to reach its API."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": False})

    api_key_secret_ref: SecretKeySelector = Field(
        description="The Nylas API key of the application, read from a Secret in this namespace. "
        "The key is sent only to the Nylas API and never written anywhere else."
    )
    client_id: str = Field(
        min_length=1,
        max_length=128,
        description="The Nylas application (client) id. It is used as client_id in admin-consent URLs. "
        "Immutable.",
    )
    region: Region = Field(
        default="us",
        description="Nylas data region of the application: us (https://api.us.nylas.com) or "
        "eu (https://api.eu.nylas.com). A wrong region makes Nylas answer 401. Immutable.",
    )
    api_url: str | None = Field(
        default=None,
        max_length=2048,
        json_schema_extra=validations(cel(URL_RULE, URL_MESSAGE)),
        description="Override of the Nylas API base URL (private endpoints, the local emulator). "
        "Must be https, or http on a loopback address, and its host must be allowed by the operator "
        "(--nylas-allowed-hosts). Immutable.",
    )


class ProviderApp(CamelModel):
    """The provider's OAuth app (a GCP project or an Azure/Entra app registration)."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": False})

    client_id: str = Field(
        min_length=1,
        max_length=256,
        description="Client id of the provider app (Azure app id / GCP client id).",
    )
    client_secret_ref: SecretKeySelector = Field(
        description="Client secret of the provider app, read from a Secret in this namespace."
    )
    tenant: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Microsoft only: the Entra tenant of the app (default 'common').",
    )
    topic_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="Google only: the Pub/Sub topic for Gmail push notifications (optional).",
    )


class NylasConnectorSpec(CamelModel):
    """Desired state of a Nylas connector (one per provider per Nylas application)."""

    model_config = ConfigDict(
        json_schema_extra={
            "additionalProperties": False,
            **validations(
                cel(
                    "self.provider == 'microsoft' || !has(self.providerApp.tenant)",
                    "spec.providerApp.tenant is only valid for provider microsoft",
                    fieldPath=".providerApp.tenant",
                ),
                cel(
                    "self.provider == 'google' || !has(self.providerApp.topicName)",
                    "spec.providerApp.topicName is only valid for provider google",
                    fieldPath=".providerApp.topicName",
                ),
                cel(
                    "self.provider != 'google' || (has(self.scopes) && size(self.scopes) > 0)",
                    "a google connector needs spec.scopes (the default scopes of its grants, which "
                    "must be authorised for domain-wide delegation)",
                    fieldPath=".scopes",
                    reason="FieldValueRequired",
                ),
                cel(
                    "self.provider == oldSelf.provider",
                    "spec.provider is immutable: create a new NylasConnector instead",
                    fieldPath=".provider",
                ),
                # Which application, and where its API lives, identify the connector in Nylas and
                # where its key is sent: changing them would point an existing object (its claims,
                # its grants' deletions) at another application with this key.
                cel(
                    "self.application.clientId == oldSelf.application.clientId",
                    "spec.application.clientId is immutable: create a new NylasConnector instead",
                    fieldPath=".application.clientId",
                ),
                cel(
                    "(has(self.application.region) ? self.application.region : 'us') == "
                    "(has(oldSelf.application.region) ? oldSelf.application.region : 'us')",
                    "spec.application.region is immutable: create a new NylasConnector instead",
                    fieldPath=".application.region",
                ),
                cel(
                    "(has(self.application.apiUrl) ? self.application.apiUrl : '') == "
                    "(has(oldSelf.application.apiUrl) ? oldSelf.application.apiUrl : '')",
                    "spec.application.apiUrl is immutable: create a new NylasConnector instead",
                    fieldPath=".application.apiUrl",
                ),
            ),
        }
    )

    provider: Provider = Field(description="The mail provider: google or microsoft.")
    application: NylasApplication = Field(description="The Nylas application and its API key.")
    provider_app: ProviderApp = Field(description="The provider's OAuth app registered on the connector.")
    scopes: list[Scope] | None = Field(
        default=None,
        max_length=64,
        description="Default scopes of the connector; grants that set no scopes use these. "
        "Required for google.",
    )
    deletion_policy: DeletionPolicy = Field(default="Orphan", description=DELETION_POLICY_DESCRIPTION)


class NylasConnectorStatus(CamelModel):
    """Observed state of a Nylas connector."""

    phase: str | None = Field(default=None, description="Pending, Ready, Failed or Deleting.")
    observed_generation: int | None = Field(
        default=None, description="The metadata.generation last reconciled."
    )
    conditions: list[Condition] = Field(
        default_factory=list, description="Ready, Synced, CredentialsResolved."
    )
    provider: str | None = Field(default=None, description="The provider of the Nylas connector.")
    active_credential_id: str | None = Field(
        default=None, description="The connector's default credential id in Nylas, if any."
    )
    api_url: str | None = Field(default=None, description="The Nylas API base URL in use.")
    last_handled_configuration: str | None = Field(
        default=None, description=HANDLED_CONFIGURATION_DESCRIPTION
    )
    secret_versions: dict[str, str] | None = Field(
        default=None,
        description="resourceVersion of each referenced Secret when last applied "
        "(used to push rotated secrets; never the secret values).",
    )
    claim: str | None = Field(
        default=None,
        description="The provider and Nylas application (provider/clientId@apiUrl) this connector holds, "
        "recorded when it became Ready: it keeps the claim through a later Ready=False until it is "
        "deleted, so no other NylasConnector takes it meanwhile.",
    )
    deletion_attempts: int | None = Field(
        default=None,
        description="Failed attempts to delete the Nylas object of this deletion so far (deletionPolicy "
        "Delete); the Ready condition (reason DeleteFailed) says when the next one is.",
    )
    users: int | None = Field(
        default=None, description="How many NylasCredentials in this namespace reference this connector."
    )
