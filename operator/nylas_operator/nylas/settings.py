"""Settings of a Nylas client, and the region → base URL table.

Owns: defaults and their reasons. Does not own: reading them from the environment or a CR (the runner).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from nylas_operator.nylas.ratelimit import DEFAULT_BURST, DEFAULT_RATE
from nylas_operator.nylas.retry import RetryPolicy

REGION_URLS: dict[str, str] = {
    "us": "https://api.us.nylas.com",
    "eu": "https://api.eu.nylas.com",
}


def resolve_base_url(region: str | None = "us", api_url: str | None = None) -> str:
    """``api_url`` when given (emulator, proxy), else the region's URL. A wrong region answers 401."""
    if api_url:
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("api_url must be an absolute http(s) URL without query or fragment")
        return api_url.rstrip("/")
    key = (region or "us").lower()
    try:
        return REGION_URLS[key]
    except KeyError:
        raise ValueError(f"unknown Nylas region {region!r}; expected one of {sorted(REGION_URLS)}") from None


@dataclass(frozen=True)
class NylasSettings:
    timeout: httpx.Timeout = field(default_factory=lambda: httpx.Timeout(30.0, connect=5.0, pool=10.0))
    """Per attempt. Connect is short (a dead endpoint should fail fast and be retried); reads allow a
    slow provider behind Nylas (custom auth talks to Microsoft/Google)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    """In-process retries; see ``retry.py`` for which requests are retried."""
    rate: float = DEFAULT_RATE
    """Requests per second for the whole application (Nylas allows 50/s on the admin APIs)."""
    burst: int = DEFAULT_BURST
    """Requests allowed back to back before pacing starts."""
    max_connections: int = 20
    """Connection pool size of the application's single ``httpx.AsyncClient``."""
    user_agent: str = "nylas-operator"
    write_gate: Callable[[], bool] | None = None
    """Asked right before every request that is not a GET leaves the process; False refuses it
    with ``WriteFenced`` (leader election's fence: a replica that lost its Lease writes nothing)."""
