"""The contract between the callback endpoint and whoever records consent (the controllers).

Owns: ``ConsentOutcome`` (what the provider said, sanitised and length-capped), ``RecordResult``
(what the page may tell the browser) and the ``ConsentRecorder`` protocol.
Does not own: finding the credential by state hash, single use, expiry checks, status writes: the
recorder implementation does those and answers ``RecordResult.refused()`` for every kind of miss.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

MAX_TENANT = 128
MAX_ERROR = 128
MAX_ERROR_DESCRIPTION = 1024
MAX_ERROR_URI = 512
MAX_DISPLAY_NAME = 256


def clean_text(value: str | None, limit: int) -> str | None:
    """Drop control/format characters and cap the length; ``None`` or blank stays ``None``.

    Provider text ends up in condition messages and HTML pages; it must not smuggle newlines,
    terminal escapes or bidi overrides there, nor grow status without bound.
    """
    if value is None:
        return None
    kept = "".join(" " if ch in "\t\r\n" else ch for ch in value if ch in "\t\r\n" or _printable(ch))
    kept = " ".join(kept.split())
    if not kept:
        return None
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


def _printable(ch: str) -> bool:
    return unicodedata.category(ch)[0] != "C"  # Cc, Cf, Cs, Co, Cn


@dataclass(frozen=True, slots=True)
class ConsentOutcome:
    """What the provider reported on the redirect. Build with ``granted_outcome``/``refused_outcome``."""

    granted: bool
    tenant: str | None = None
    error: str | None = None
    error_description: str | None = None
    error_uri: str | None = None

    def __post_init__(self) -> None:
        # Enforce the caps whichever way the object is built.
        object.__setattr__(self, "tenant", clean_text(self.tenant, MAX_TENANT))
        object.__setattr__(self, "error", clean_text(self.error, MAX_ERROR))
        object.__setattr__(
            self, "error_description", clean_text(self.error_description, MAX_ERROR_DESCRIPTION)
        )
        object.__setattr__(self, "error_uri", clean_text(self.error_uri, MAX_ERROR_URI))
        if self.granted and self.error is not None:
            raise ValueError("a granted outcome carries no error")


@dataclass(frozen=True, slots=True)
class RecordResult:
    """The recorder's answer. A refusal carries nothing, so the page cannot reveal what exists."""

    accepted: bool
    grants_after: datetime | None = None  # for accepted grants: when grants will be created (aware)
    display_name: str | None = None  # optional, shown on the page (e.g. the credential's name)

    def __post_init__(self) -> None:
        if not self.accepted and (self.grants_after is not None or self.display_name is not None):
            raise ValueError("a refused result carries no details")
        object.__setattr__(self, "display_name", clean_text(self.display_name, MAX_DISPLAY_NAME))

    @classmethod
    def refused(cls) -> RecordResult:
        return cls(accepted=False)


class ConsentRecorder(Protocol):
    """Records an outcome for the credential whose stored state hash equals ``state_hash``.

    Must answer ``RecordResult.refused()`` for unknown, already used (replayed) and expired states
    alike, and consume the state (single use) when it accepts a grant, exactly once under concurrent
    callbacks. A refusal by the provider keeps the state (anyone holding the URL can send one; the
    admin retries the same consent URL) and never replaces a grant. Raise only for infrastructure
    failures (apiserver unreachable): the endpoint then answers 503 and the state stays usable.
    For an accepted refusal by the provider (``outcome.granted`` false) ``grants_after`` is None.
    """

    async def record(self, state_hash: str, outcome: ConsentOutcome) -> RecordResult: ...
