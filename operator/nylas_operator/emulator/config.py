"""Start-up configuration of the emulator: applications, behaviour knobs for [U] facts, faults.

Owns the plain data the emulator is built from. It does not hold runtime state (see `state.py`)
and does not parse command lines (see `cli.py`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

ConsentMode = Literal["auto", "prompt", "deny"]
CONSENT_MODES: tuple[str, ...] = ("auto", "prompt", "deny")
# The shapes Nylas documents for `error.provider_error` (a free-form object in the contract):
# `{code, message}` (string or integer code), OAuth-style `{error, error_description}`, and the
# contract's own example `{error, provider_error}`. "random" picks one per answer.
PROVIDER_ERROR_SHAPES: tuple[str, ...] = ("code_message", "int_code", "oauth", "nested_string", "random")

# Fault kinds: HTTP answers, a connection closed before the request is applied ("drop"),
# and one closed after the request was applied but before the answer was sent ("drop_after").
FAULT_KINDS: tuple[str, ...] = ("429", "500", "503", "drop", "drop_after")
# Endpoint rules may also apply a request and then hold its answer ("hold_after"): a test can kill
# its client while the change is made but not yet reported.
RULE_KINDS: tuple[str, ...] = (*FAULT_KINDS, "hold_after")


@dataclass(frozen=True)
class ApplicationConfig:
    """One Nylas application: its application (client) id and its API key."""

    application_id: str
    api_key: str = field(repr=False)
    name: str = "Emulated application"
    # None: any absolute http(s) redirect URI is accepted by /v3/connect/auth (the sandbox).
    # A tuple: only those (plus any added by POST /v3/applications/redirect-uris) are accepted.
    redirect_uris: tuple[str, ...] | None = None
    organization_id: str = "emulator-organization"
    region: str = "us"


@dataclass(frozen=True)
class FaultRule:
    """A fault for the calls of one endpoint: `method` (or "*") and a glob `path`, e.g.
    `POST /v3/connectors/*/creds`. It wins over the dice for the calls it matches."""

    method: str
    path: str
    kind: str
    """One of `RULE_KINDS`."""
    times: int | None = None
    """How many matching calls get the fault; None = every one."""
    hold_seconds: float = 0.0
    """For "hold_after": how long the answer is held after the request was applied."""

    def validated(self) -> FaultRule:
        if self.kind not in RULE_KINDS:
            raise ValueError(f"unknown fault rule kind {self.kind!r}; known: {', '.join(RULE_KINDS)}")
        if not self.method or not self.path.startswith("/"):
            raise ValueError("a fault rule needs a method (or '*') and a path starting with '/'")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be positive or None")
        if self.hold_seconds < 0:
            raise ValueError("hold_seconds must not be negative")
        return self


@dataclass(frozen=True)
class FaultConfig:
    """Faults injected into /v3 API calls (never into /_emulator)."""

    rates: dict[str, float] = field(default_factory=dict)
    """Fraction of API calls answered with each kind in `FAULT_KINDS` (sum must be <= 1)."""
    rules: tuple[FaultRule, ...] = ()
    """Endpoint-scoped faults, checked in order before the dice (JSON: a list of objects)."""
    latency_ms: float = 0.0
    """Added to every API call before it is handled."""
    retry_after: int = 1
    """Seconds sent in `Retry-After` with an injected 429."""
    seed: int | None = None
    """Seed of the fault dice; None draws from the OS."""

    @classmethod
    def even(cls, rate: float, kinds: tuple[str, ...] = ("429", "500", "503"), **kw: Any) -> FaultConfig:
        """`rate` split evenly over `kinds`."""
        share = rate / len(kinds) if kinds else 0.0
        return cls(rates=dict.fromkeys(kinds, share), **kw)

    def __post_init__(self) -> None:
        # Rules arrive as JSON objects from /_emulator/faults; keep them typed and immutable.
        rules = tuple(r if isinstance(r, FaultRule) else FaultRule(**r) for r in self.rules)
        object.__setattr__(self, "rules", rules)

    def validated(self) -> FaultConfig:
        for rule in self.rules:
            rule.validated()
        for kind, rate in self.rates.items():
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate for {kind} must be within [0, 1]")
        if sum(self.rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates add up to more than 1")
        if self.latency_ms < 0 or self.retry_after < 0:
            raise ValueError("latency_ms and retry_after must not be negative")
        return self

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Behaviour:
    """Answers to the facts the Nylas reference marks [U]; defaults are the likeliest (see __init__)."""

    consent_mode: ConsentMode = "auto"
    scope_cache_delay: float = 300.0
    """Seconds after an admin consent during which Microsoft custom auth still fails (AADSTS65001)."""
    consent_pending_status: int = 400
    """HTTP status of that failure (400 or 403)."""
    duplicate_connector_status: int = 400
    """Second connector for the same provider: 400 invalid_request_error or 409 conflict."""
    credential_dedup_status: int = 200
    """Create of a credential with the same name and data as an existing one: 200 or 201."""
    reauth_status: int = 201
    """`POST /v3/connect/custom` for an email that already has a grant: 201 (the only success the
    contract documents) or 200."""
    missing_credential_status: int = 400
    """A missing credential (or its connector) on `/creds` paths other than the list: 400 (the
    only client error the contract documents there) or 404."""
    provider_error_shape: str = "code_message"
    """Shape of `error.provider_error` in provider refusals; one of `PROVIDER_ERROR_SHAPES`."""
    echo_credential_type: bool = False
    """Credential responses carry `credential_type` (the SDKs read it; the contract's
    CredentialObject does not list it and allows no other field)."""
    reject_unknown_fields: bool = True
    """Unknown keys in request bodies are a 400 (catches `scopes` vs `scope` bugs)."""
    reject_unknown_query: bool = True
    """Unknown query parameters on list endpoints are a 400 (catches `status` vs `grant_status`)."""
    max_limit: int = 200
    """Largest `limit` accepted by list endpoints; a larger one is a 400."""
    echo_connector_client_id: bool = False
    """Whether connector responses echo `settings.client_id` (secrets are never echoed)."""
    rate_limit_per_second: float | None = None
    """Per-application request budget (Nylas: 50/s); None = not enforced."""
    token_roles_lag: float = 0.0
    """Seconds after an admin consent during which the Microsoft token stand-in still issues
    tokens without ``roles`` (Microsoft propagates a new consent with a delay)."""
    app_roles: tuple[str, ...] = (
        "Mail.ReadWrite",
        "Calendars.ReadWrite",
        "Contacts.ReadWrite",
        "User.Read.All",
    )
    """Application permissions every consent of the emulated Azure app grants (its registered
    permissions, what a consent without ``scope`` covers); consented scopes are added to them."""

    def validated(self) -> Behaviour:
        if self.consent_mode not in CONSENT_MODES:
            raise ValueError(f"consent_mode must be one of {', '.join(CONSENT_MODES)}")
        if self.scope_cache_delay < 0:
            raise ValueError("scope_cache_delay must not be negative")
        checks = {
            "consent_pending_status": (self.consent_pending_status, (400, 403)),
            "duplicate_connector_status": (self.duplicate_connector_status, (400, 409)),
            "credential_dedup_status": (self.credential_dedup_status, (200, 201)),
            "reauth_status": (self.reauth_status, (200, 201)),
            "missing_credential_status": (self.missing_credential_status, (400, 404)),
        }
        for name, (value, allowed) in checks.items():
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}")
        if self.provider_error_shape not in PROVIDER_ERROR_SHAPES:
            raise ValueError(f"provider_error_shape must be one of {', '.join(PROVIDER_ERROR_SHAPES)}")
        if self.token_roles_lag < 0:
            raise ValueError("token_roles_lag must not be negative")
        object.__setattr__(self, "app_roles", tuple(self.app_roles))
        if self.max_limit < 1:
            raise ValueError("max_limit must be positive")
        if self.rate_limit_per_second is not None and self.rate_limit_per_second <= 0:
            raise ValueError("rate_limit_per_second must be positive or None")
        return self

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


DEFAULT_API_KEY = "nyk_emulator_key"  # a well-known test key, not a secret
DEFAULT_APPLICATION_ID = "emulator-application"


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator starts from; `POST /_emulator/reset` returns to it."""

    host: str = "127.0.0.1"
    port: int = 0
    applications: tuple[ApplicationConfig, ...] = (
        ApplicationConfig(application_id=DEFAULT_APPLICATION_ID, api_key=DEFAULT_API_KEY),
    )
    behaviour: Behaviour = field(default_factory=Behaviour)
    faults: FaultConfig = field(default_factory=FaultConfig)
    journal_size: int = 100_000

    def validated(self) -> EmulatorConfig:
        if not self.applications:
            raise ValueError("at least one application is needed")
        ids = [a.application_id for a in self.applications]
        keys = [a.api_key for a in self.applications]
        if len(set(ids)) != len(ids) or len(set(keys)) != len(keys):
            raise ValueError("application ids and API keys must be unique")
        self.behaviour.validated()
        self.faults.validated()
        return self
