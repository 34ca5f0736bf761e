"""The typed errors of the Nylas client, and how an HTTP answer becomes one.

Owns: the error tree, the mapping from (status, body, headers) to an error, redaction of known secret
values from text that came from the server. Does not own: whether the operator retries later or gives
up (that is ``controllers/``), nor the in-process retry loop (``retry.py``).

    NylasError
    ├── NylasTransportError            no HTTP answer (retryable)
    │   ├── NylasConnectError          the request never reached Nylas
    │   ├── NylasTimeoutError          no answer in time (the request may have been processed)
    │   └── NylasConnectionDropped     the connection broke mid-request (may have been processed)
    ├── NylasResponseError             a 2xx answer we cannot parse (not retryable)
    └── NylasStatusError               an HTTP error answer; ``status`` and the Nylas error envelope
        ├── NylasBadRequestError       400
        ├── NylasUnauthorizedError     401 (names the base URL: wrong region or key)
        ├── NylasForbiddenError        403
        ├── NylasNotFoundError         404
        ├── NylasConflictError         409
        ├── NylasRateLimitedError      429 (retryable)
        └── NylasServerError           5xx (retryable)

``str()`` of every error is stable for the same failure: request ids, timings and attempt counts are
attributes, never part of the message, so a Kubernetes status built from it does not churn.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

REDACTED = "[REDACTED]"

TransportKind = Literal["connect", "timeout", "dropped"]


_MIN_FRAGMENT = 16
"""Lines of a multi-line secret (a PEM key body) at least this long are redacted on their own."""


def _variants(secret: str) -> set[str]:
    """The forms a secret takes in echoed text: raw, JSON-escaped, and its long lines."""
    forms = {secret, json.dumps(secret)[1:-1]}
    forms.update(line.strip() for line in secret.splitlines() if len(line.strip()) >= _MIN_FRAGMENT)
    return {f for f in forms if f}


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every known secret value in ``text`` (servers may echo what they were sent)."""
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms |= _variants(secret)
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text


class WriteFenced(Exception):
    """A write was refused before it left the process: the operator no longer holds its leader
    Lease (``NylasSettings.write_gate`` said no). Deliberately not a ``NylasError``: no controller
    turns it into a status; the process is about to exit."""


class NylasError(Exception):
    """Base of every error raised by the Nylas client."""

    @property
    def retryable(self) -> bool:
        """True when the same request may succeed later without any change on our side."""
        return False


class NylasTransportError(NylasError):
    """No HTTP answer: connection refused, timeout, connection dropped."""

    kind: TransportKind = "dropped"

    def __init__(self, *, method: str, path: str, base_url: str, detail: str) -> None:
        self.method = method
        self.path = path
        self.base_url = base_url
        self.detail = detail
        super().__init__(f"{method} {path}: {self._what()} ({base_url}): {detail}")

    def _what(self) -> str:
        return "connection to Nylas dropped"

    @property
    def request_sent(self) -> bool:
        """False only when Nylas certainly did not receive the request (safe to resend any method)."""
        return True

    @property
    def retryable(self) -> bool:
        return True


class NylasConnectError(NylasTransportError):
    kind: TransportKind = "connect"

    def _what(self) -> str:
        return "cannot connect to Nylas"

    @property
    def request_sent(self) -> bool:
        return False


class NylasTimeoutError(NylasTransportError):
    kind: TransportKind = "timeout"

    def _what(self) -> str:
        return "timed out waiting for Nylas"


class NylasConnectionDropped(NylasTransportError):
    kind: TransportKind = "dropped"


class NylasResponseError(NylasError):
    """A success status whose body is not the JSON envelope we expect."""

    def __init__(self, *, method: str, path: str, status: int, detail: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        super().__init__(f"{method} {path}: HTTP {status} with an unreadable body: {detail}")


class ProviderError:
    """The upstream provider's own error (Microsoft/Google), relayed by Nylas.

    The contract types ``provider_error`` as a free-form object; Nylas sends ``{code, message}``
    (string or integer code), OAuth-style ``{error, error_description}`` and, in the contract's own
    example, ``{error, provider_error: "<text>"}``. ``raw`` keeps the value as received (redacted
    of known secrets); ``code`` and ``message`` are read from whichever shape it has.
    """

    __slots__ = ("code", "message", "raw")

    def __init__(self, code: str | None, message: str | None, raw: Any = None) -> None:
        self.code = code
        self.message = message
        self.raw = raw

    @classmethod
    def parse(cls, value: Any) -> ProviderError | None:
        """Any documented shape (or a bare string) → ProviderError; None when there is nothing."""
        if value is None or value == "" or value == {}:
            return None
        if isinstance(value, str):
            return cls(None, value, value)
        if not isinstance(value, dict):
            return cls(None, _text(value), value)
        code = _first_text(value, ("code", "error_code", "error"))
        message = _first_text(value, ("message", "error_description", "description", "provider_error"))
        inner = value.get("error") if isinstance(value.get("error"), dict) else value.get("provider_error")
        if isinstance(inner, dict):  # {"error": {"code", "message"}}: Microsoft Graph's own envelope
            nested = cls.parse(inner)
            if nested is not None:
                code, message = code or nested.code, message or nested.message
        if code is None and message is None:
            message = json.dumps(value, sort_keys=True, default=str)[:1000]
        return cls(code, message, value)

    @property
    def text(self) -> str:
        """Everything the provider said, for recognising well-known codes wherever they appear."""
        parts = [self.code or "", self.message or ""]
        if self.raw is not None and not isinstance(self.raw, str):
            parts.append(json.dumps(self.raw, sort_keys=True, default=str))
        return " ".join(p for p in parts if p)

    def redacted(self, secrets: Iterable[str]) -> ProviderError:
        secrets = tuple(secrets)
        return ProviderError(
            redact(self.code, secrets) if self.code else None,
            redact(self.message, secrets) if self.message else None,
            _redact_value(self.raw, secrets),
        )

    def __repr__(self) -> str:
        return f"ProviderError(code={self.code!r}, message={self.message!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProviderError) and (self.code, self.message) == (other.code, other.message)

    def __hash__(self) -> int:
        return hash((self.code, self.message))


def _redact_value(value: Any, secrets: tuple[str, ...]) -> Any:
    """Redact every string inside a JSON value (keys too), keeping its structure."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact(str(k), secrets): _redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v, secrets) for v in value]
    return value


def _first_text(value: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        item = value.get(key)
        if item is not None and item != "" and not isinstance(item, dict | list):
            return _text(item)
    return None


class NylasStatusError(NylasError):
    """Nylas answered with an error status. Match on the class (status) first, ``error_type`` second."""

    def __init__(
        self,
        *,
        status: int,
        method: str,
        path: str,
        base_url: str,
        error_type: str | None = None,
        message: str | None = None,
        request_id: str | None = None,
        provider_error: ProviderError | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.base_url = base_url
        self.error_type = error_type
        self.message = message
        self.request_id = request_id
        self.provider_error = provider_error
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"{self.method} {self.path}: HTTP {self.status}"
        if self.error_type:
            text += f" {self.error_type}"
        if self.message:
            text += f": {self.message}"
        pe = self.provider_error
        if pe is not None and (pe.code or pe.message):
            text += f" (provider error {pe.code or '?'}: {pe.message or ''})".replace(": )", ")")
        return text

    @property
    def provider_error_code(self) -> str | None:
        return self.provider_error.code if self.provider_error else None


class NylasBadRequestError(NylasStatusError):
    pass


class NylasUnauthorizedError(NylasStatusError):
    def _describe(self) -> str:
        return (
            f"{super()._describe()} — Nylas at {self.base_url} rejected the API key; "
            "the usual cause is a wrong region or API key"
        )


class NylasForbiddenError(NylasStatusError):
    pass


class NylasNotFoundError(NylasStatusError):
    pass


class NylasConflictError(NylasStatusError):
    pass


class NylasRateLimitedError(NylasStatusError):
    @property
    def retryable(self) -> bool:
        return True


class NylasServerError(NylasStatusError):
    @property
    def retryable(self) -> bool:
        return True


_BY_STATUS: Mapping[int, type[NylasStatusError]] = {
    400: NylasBadRequestError,
    401: NylasUnauthorizedError,
    403: NylasForbiddenError,
    404: NylasNotFoundError,
    409: NylasConflictError,
    429: NylasRateLimitedError,
}


def error_class_for(status: int) -> type[NylasStatusError]:
    if status >= 500:
        return NylasServerError
    return _BY_STATUS.get(status, NylasStatusError)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _parse_envelope(body: bytes) -> tuple[str | None, str | None, str | None, ProviderError | None]:
    """(type, message, request_id, provider_error) from a Nylas error body; tolerant of anything."""
    try:
        doc = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        return None, None, None, None
    request_id = _text(doc.get("request_id"))
    err = doc.get("error")
    if isinstance(err, dict):
        provider = ProviderError.parse(err.get("provider_error"))
        return _text(err.get("type")), _text(err.get("message")), request_id, provider
    # OAuth-style bodies (/v3/connect/token): {"error": "...", "error_description": "..."}
    if isinstance(err, str):
        return (
            err,
            _text(doc.get("error_description")),
            request_id,
            ProviderError.parse(doc.get("provider_error")),
        )
    return None, None, request_id, None


def status_error(
    *,
    status: int,
    body: bytes,
    method: str,
    path: str,
    base_url: str,
    request_id_header: str | None,
    retry_after: float | None,
    secrets: Iterable[str] = (),
) -> NylasStatusError:
    """Build the typed error for an HTTP error answer; non-JSON bodies (gateway pages) are tolerated."""
    error_type, message, request_id, provider = _parse_envelope(body)
    if message is None and error_type is None:
        message = _generic_message(status)
    secrets = tuple(secrets)
    if message is not None:
        message = redact(message, secrets)
    if error_type is not None:
        error_type = redact(error_type, secrets)
    if provider is not None:
        provider = provider.redacted(secrets)
    cls = error_class_for(status)
    return cls(
        status=status,
        method=method,
        path=path,
        base_url=base_url,
        error_type=error_type,
        message=message,
        request_id=request_id or request_id_header,
        provider_error=provider,
        retry_after=retry_after,
    )


def _generic_message(status: int) -> str:
    if status >= 500:
        return "Nylas or a gateway in front of it failed (no Nylas error body)"
    return "no Nylas error body"
