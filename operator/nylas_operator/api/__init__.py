"""The three kinds as pydantic models, their conditions, and CRD generation.

This package knows nothing of kopf handlers or HTTP; it is the single source of truth from
which `crds/*.yaml` and the chart's CRD templates are generated.
"""

from nylas_operator.api.common import API_VERSION, GROUP, VERSION
from nylas_operator.api.connector import NylasConnectorSpec, NylasConnectorStatus
from nylas_operator.api.credential import NylasCredentialSpec, NylasCredentialStatus
from nylas_operator.api.grant import ServiceAccountGrantSpec, ServiceAccountGrantStatus

__all__ = [
    "API_VERSION",
    "GROUP",
    "VERSION",
    "NylasConnectorSpec",
    "NylasConnectorStatus",
    "NylasCredentialSpec",
    "NylasCredentialStatus",
    "ServiceAccountGrantSpec",
    "ServiceAccountGrantStatus",
]
