"""The Nylas v3 client of the operator: async, typed, rate-limited, retried, secret-safe.

Knows nothing of Kubernetes or kopf (an import-linter contract keeps it so). Public names are here;
the modules behind them are one concern each:

- ``client``: ``NylasClient`` (one per Nylas application) and its resources
  ``connectors``, ``credentials``, ``grants``, ``auth``
- ``models``: request/response models (secrets as ``SecretStr``)
- ``errors``: the error tree (``NylasError`` → transport / status errors by HTTP status)
- ``retry``: ``RetryPolicy`` and which requests are retried; ``ratelimit``: the shared token bucket
- ``settings``: ``NylasSettings`` and the region table
"""

from nylas_operator.nylas import classify as classify
from nylas_operator.nylas.auth import MAX_STATE_LENGTH, build_admin_consent_url
from nylas_operator.nylas.client import NylasClient
from nylas_operator.nylas.errors import (
    NylasBadRequestError,
    NylasConflictError,
    NylasConnectError,
    NylasConnectionDropped,
    NylasError,
    NylasForbiddenError,
    NylasNotFoundError,
    NylasRateLimitedError,
    NylasResponseError,
    NylasServerError,
    NylasStatusError,
    NylasTimeoutError,
    NylasTransportError,
    NylasUnauthorizedError,
    ProviderError,
)
from nylas_operator.nylas.models import (
    AdminConsentCredentialData,
    Application,
    Connector,
    ConnectorCreate,
    ConnectorCredentialData,
    ConnectorUpdate,
    Credential,
    CredentialCreate,
    CredentialType,
    CredentialUpdate,
    GoogleConnectorSettings,
    Grant,
    GrantStatus,
    GrantUpdate,
    MicrosoftConnectorSettings,
    Page,
    Provider,
    RedirectUri,
    ServiceAccountCredentialData,
)
from nylas_operator.nylas.paging import MAX_PAGE_SIZE
from nylas_operator.nylas.ratelimit import LimiterRegistry, RateLimiter, default_registry
from nylas_operator.nylas.retry import RetryPolicy, parse_retry_after
from nylas_operator.nylas.settings import REGION_URLS, NylasSettings, resolve_base_url
from nylas_operator.nylas.transport import RequestObserver

__all__ = [
    "MAX_PAGE_SIZE",
    "MAX_STATE_LENGTH",
    "REGION_URLS",
    "AdminConsentCredentialData",
    "Application",
    "Connector",
    "ConnectorCreate",
    "ConnectorCredentialData",
    "ConnectorUpdate",
    "Credential",
    "CredentialCreate",
    "CredentialType",
    "CredentialUpdate",
    "GoogleConnectorSettings",
    "Grant",
    "GrantStatus",
    "GrantUpdate",
    "LimiterRegistry",
    "MicrosoftConnectorSettings",
    "NylasBadRequestError",
    "NylasClient",
    "NylasConflictError",
    "NylasConnectError",
    "NylasConnectionDropped",
    "NylasError",
    "NylasForbiddenError",
    "NylasNotFoundError",
    "NylasRateLimitedError",
    "NylasResponseError",
    "NylasServerError",
    "NylasSettings",
    "NylasStatusError",
    "NylasTimeoutError",
    "NylasTransportError",
    "NylasUnauthorizedError",
    "Page",
    "Provider",
    "ProviderError",
    "RateLimiter",
    "RedirectUri",
    "RequestObserver",
    "RetryPolicy",
    "ServiceAccountCredentialData",
    "build_admin_consent_url",
    "default_registry",
    "parse_retry_after",
    "resolve_base_url",
]
