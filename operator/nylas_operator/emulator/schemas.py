"""The documented request bodies of the bulk-auth endpoints, checked strictly.

Owns what a valid connector, credential and custom-auth body looks like per provider and
credential type (nylas-api-v3.md §2-§5). It does not apply the bodies to state (`state.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nylas_operator.emulator.errors import bad_request
from nylas_operator.emulator.validation import (
    as_object,
    check_keys,
    is_email,
    optional_str,
    optional_str_list,
    require_str,
)

# Every provider of the path enum; only these two are emulated (bulk auth exists only for them).
KNOWN_PROVIDERS = (
    "google",
    "microsoft",
    "imap",
    "icloud",
    "yahoo",
    "ews",
    "virtual-calendar",
    "zoom",
    "nylas",
)
EMULATED_PROVIDERS = ("google", "microsoft")
CREDENTIAL_TYPES = ("adminconsent", "serviceaccount", "connector")
# Which connector may hold which credential type.
CREDENTIAL_TYPES_BY_PROVIDER = {
    "microsoft": ("adminconsent", "connector"),
    "google": ("serviceaccount", "connector"),
}
_CONNECTOR_SETTINGS = {
    "google": {"required": ("client_id", "client_secret"), "optional": ("topic_name",)},
    "microsoft": {"required": ("client_id", "client_secret"), "optional": ("tenant",)},
}
# Non-secret keys that may be shown in introspection; everything else is treated as secret.
PUBLIC_CONNECTOR_SETTINGS = ("client_id", "tenant", "topic_name")
PUBLIC_CREDENTIAL_DATA = ("client_id", "tenant", "client_email", "project_id", "type")
PEM_HEADER = "-----BEGIN PRIVATE KEY-----"
PEM_FOOTER = "-----END PRIVATE KEY-----"


@dataclass(frozen=True)
class CustomAuth:
    provider: str
    email: str
    credential_id: str
    scopes: list[str] | None
    settings: dict[str, Any]


def check_provider(provider: str, where: str) -> str:
    if provider not in KNOWN_PROVIDERS:
        raise bad_request(f"{where}: unknown provider {provider!r}")
    if provider not in EMULATED_PROVIDERS:
        raise bad_request(f"{where}: provider {provider!r} is not supported by this emulator")
    return provider


def connector_settings(provider: str, value: Any, *, strict: bool) -> dict[str, str]:
    settings = as_object(value, "settings")
    spec = _CONNECTOR_SETTINGS[provider]
    check_keys(settings, (*spec["required"], *spec["optional"]), "settings", strict=strict)
    out = {key: require_str(settings, key, "settings") for key in spec["required"]}
    for key in spec["optional"]:
        optional = optional_str(settings, key, "settings")
        if optional is not None:
            out[key] = optional
    return out


def credential_type(provider: str, value: Any) -> str:
    if not isinstance(value, str) or value not in CREDENTIAL_TYPES:
        raise bad_request(f"credential_type must be one of: {', '.join(CREDENTIAL_TYPES)}")
    if value not in CREDENTIAL_TYPES_BY_PROVIDER[provider]:
        raise bad_request(f"credential_type {value!r} is not valid for the {provider} connector")
    return value


def credential_data(type_: str, value: Any, *, strict: bool) -> dict[str, str]:
    data = as_object(value, "credential_data")
    if type_ == "adminconsent":
        check_keys(data, ("client_id", "client_secret", "tenant"), "credential_data", strict=strict)
        out = {
            k: v
            for k in ("client_id", "client_secret", "tenant")
            if (v := optional_str(data, k, "credential_data"))
        }
        if ("client_id" in out) != ("client_secret" in out):
            raise bad_request("credential_data.client_id and credential_data.client_secret go together")
        return out
    # serviceaccount (the whole Google JSON key file) and connector accept extra string properties.
    for key, item in data.items():
        if not isinstance(item, str):
            raise bad_request(f"credential_data.{key} must be a string")
    if type_ == "connector":
        require_str(data, "client_id", "credential_data")
        require_str(data, "client_secret", "credential_data")
        return dict(data)
    require_str(data, "private_key_id", "credential_data")
    key = require_str(data, "private_key", "credential_data").strip()
    if not key.startswith(PEM_HEADER) or PEM_FOOTER not in key:
        raise bad_request(
            "credential_data.private_key must be a PEM private key (-----BEGIN PRIVATE KEY-----)"
        )
    if not is_email(require_str(data, "client_email", "credential_data")):
        raise bad_request("credential_data.client_email must be an email address")
    if data.get("type", "service_account") != "service_account":
        raise bad_request("credential_data.type must be service_account")
    return dict(data)


def custom_auth(body: dict[str, Any], *, strict: bool) -> CustomAuth:
    check_keys(body, ("provider", "settings", "scope", "state"), "request body", strict=strict)
    provider = check_provider(require_str(body, "provider", "body"), "provider")
    settings = as_object(body.get("settings"), "settings")
    if provider == "google":
        check_keys(settings, ("email_address", "credential_id", "scopes"), "settings", strict=strict)
        scopes = optional_str_list(settings, "scopes", "settings")
        if not scopes:
            raise bad_request("settings.scopes is required for google and must not be empty")
    else:
        check_keys(settings, ("email_address", "credential_id"), "settings", strict=strict)
        scopes = optional_str_list(body, "scope", "body")
    email = require_str(settings, "email_address", "settings")
    if not is_email(email):
        raise bad_request("settings.email_address must be an email address")
    credential_id = require_str(settings, "credential_id", "settings")
    optional_str(body, "state", "body")
    return CustomAuth(provider, email, credential_id, scopes, dict(settings))
