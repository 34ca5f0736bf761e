"""Types shared by the three kinds: references, deletion policy, conditions, durations.

These pydantic models are the single source of truth for the CRD schemas (see `crds.py`):
field descriptions become `kubectl explain` text, and `x-kubernetes-validations` entries become
CEL rules enforced by the apiserver. Nothing here knows about kopf or HTTP.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema
from pydantic.alias_generators import to_camel

GROUP = "nylas-operator.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# Same-namespace object names (DNS-1123 subdomain), as Kubernetes names Secrets.
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Keys of a Secret's data map.
SECRET_KEY = r"^[-._a-zA-Z0-9]+$"  # noqa: S105 (a pattern, not a secret)
# A Go-style duration made of whole or decimal units, e.g. "5m", "90s", "1h30m".
DURATION = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
# A pragmatic mailbox address check (the provider is the real judge).
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# An https URL with a host, or an http URL whose host is a loopback address (local emulator,
# port-forward). The loopback check is a regex over the bounded URL string rather than over
# url(self).getHostname(): the apiserver cannot bound the cost of matching an unbounded result.
LOOPBACK_HTTP = (
    r"^http://(localhost|127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|\[::1\])(:[0-9]{1,5})?([/?#].*)?$"
)
URL_MESSAGE = "must be an https URL (plain http is allowed only for localhost, 127.x.x.x and [::1])"


def cel(rule: str, message: str, **extra: str) -> dict[str, str]:
    """One `x-kubernetes-validations` entry."""
    return {"rule": rule, "message": message, **extra}


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    return {"x-kubernetes-validations": list(rules)}


def cel_quote(text: str) -> str:
    """`text` as a single-quoted CEL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


URL_RULE = (
    "isURL(self) && ((url(self).getScheme() == 'https' && url(self).getHostname() != '') || "
    f"self.matches({cel_quote(LOOPBACK_HTTP)}))"
)


def _checked_schema(pattern: str, message: str, *, max_length: int, min_length: int = 1) -> dict[str, Any]:
    """The CRD schema of a string checked by a CEL rule instead of `pattern`.

    A plain `pattern` would make the apiserver answer "should match '^([0-9]+...'", which nobody
    reads; the CEL rule says in words what is expected. maxLength bounds the rule's cost. Python
    still checks the same pattern through `StringConstraints`.
    """
    return {
        "type": "string",
        "minLength": min_length,
        "maxLength": max_length,
        **validations(cel(f"self.matches({cel_quote(pattern)})", message)),
    }


DnsName = Annotated[
    str,
    StringConstraints(pattern=DNS_SUBDOMAIN, min_length=1, max_length=253),
    WithJsonSchema(
        _checked_schema(
            DNS_SUBDOMAIN,
            "must be the name of an object in this namespace: lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit (other namespaces cannot be referenced)",
            max_length=253,
        )
    ),
]
SecretKey = Annotated[
    str,
    StringConstraints(pattern=SECRET_KEY, min_length=1, max_length=253),
    WithJsonSchema(
        _checked_schema(
            SECRET_KEY, "must be a Secret data key: letters, digits, '-', '_' and '.'", max_length=253
        )
    ),
]
Duration = Annotated[
    str,
    StringConstraints(pattern=DURATION, min_length=1, max_length=32),
    WithJsonSchema(
        _checked_schema(
            DURATION, "must be a duration such as 90s, 5m or 1h30m (units ms, s, m, h)", max_length=32
        )
    ),
]
Email = Annotated[
    str,
    StringConstraints(pattern=EMAIL, min_length=3, max_length=320),
    WithJsonSchema(
        _checked_schema(
            EMAIL, "must be an email address such as user@example.com", max_length=320, min_length=3
        )
    ),
]
# One OAuth scope; bounded so that CEL rules over scope lists stay within the cost budget.
# Microsoft scope names and Google scope URLs never contain whitespace: "Mail.Read User.Read" in
# one item is two scopes pasted together and would fail only at consent or grant time.
SCOPE = r"^\S+$"
Scope = Annotated[
    str,
    StringConstraints(pattern=SCOPE, min_length=1, max_length=512),
    WithJsonSchema(
        _checked_schema(
            SCOPE,
            "must be one scope without whitespace (list each scope as its own item)",
            max_length=512,
        )
    ),
]


class CamelModel(BaseModel):
    """Kubernetes field names are camelCase; Python attributes stay snake_case."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class SecretKeySelector(CamelModel):
    """A key of a Secret in the object's own namespace."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": False})

    name: DnsName = Field(
        description="Name of a Secret in the same namespace as this object. "
        "Secrets in other namespaces cannot be referenced."
    )
    key: SecretKey = Field(description="Key inside the Secret's data that holds the value.")


class LocalObjectReference(CamelModel):
    """A reference to another object of this operator in the same namespace."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": False})

    name: DnsName = Field(description="Name of the referenced object, in the same namespace as this object.")


DeletionPolicy = Literal["Orphan", "Delete"]
DELETION_POLICY_DESCRIPTION = (
    "What happens to the Nylas-side object when this Kubernetes object is deleted: "
    "Orphan (default) leaves it in Nylas; Delete removes it from Nylas first."
)

ConditionStatus = Literal["True", "False", "Unknown"]


HANDLED_CONFIGURATION_FIELD = "lastHandledConfiguration"
HANDLED_CONFIGURATION_DESCRIPTION = (
    "Bookkeeping of the operator (kopf's diffbase): the spec, labels and annotations it last "
    "handled, as JSON; a change against it starts a reconcile. Not meant to be edited."
)


class Condition(CamelModel):
    """The standard Kubernetes condition shape (metav1.Condition)."""

    type: str = Field(description="Condition type: Ready, Synced, CredentialsResolved, ...")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="A CamelCase machine-readable reason for the status.")
    message: str = Field(default="", description="A human-readable explanation (stable text).")
    last_transition_time: str | None = Field(
        default=None, description="When the status last changed (RFC 3339)."
    )
    observed_generation: int | None = Field(
        default=None, description="The metadata.generation this condition was computed for."
    )


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> timedelta:
    """Parse a Go-style duration such as "5m" or "1h30m" (the CRD pattern guarantees the shape)."""
    if not re.fullmatch(DURATION[1:-1], text):
        raise ValueError(f"not a duration: {text!r} (expected e.g. 90s, 5m, 1h30m)")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    return timedelta(seconds=seconds)
