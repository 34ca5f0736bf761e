"""The Microsoft identity platform's client-credentials token request, as a consent check.

``POST {login}/{tenant}/oauth2/v2.0/token`` with ``grant_type=client_credentials``, the app's
``client_id`` and ``client_secret`` and ``scope=https://graph.microsoft.com/.default`` is answered
with an access token whose ``roles`` claim lists the application permissions admin-consented in
that tenant (no ``roles`` claim when none is), or with an OAuth error whose ``error_codes`` /
``error_description`` name an AADSTS code: ``AADSTS700016`` when the app has no service principal
in the tenant (nobody ever consented there). docs/security.md cites Microsoft's pages.

Owns: the request, its limits (the host must be allowed, one deadline from sending to the last
byte, the answer read up to a cap, no retries: the caller's scheduler asks again), and
``parse_answer``, which keeps the tenant id, the roles and the error code and drops the token.
The token is never stored, logged, returned or put in an exception; neither is the secret.
Does not own: what an answer means for a consent record (``controllers/decide_confirm.py``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from pydantic import SecretStr

from nylas_operator.nylas.hosts import parse_allowed_hosts

DEFAULT_LOGIN_URL = "https://login.microsoftonline.com"
DEFAULT_LOGIN_HOSTS: tuple[str, ...] = (
    "login.microsoftonline.com",  # global
    "login.microsoftonline.us",  # US Government
    "login.partner.microsoftonline.cn",  # China (21Vianet)
    "localhost",
    "127.0.0.0/8",
    "::1",
)
GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"
MAX_ANSWER_BYTES = 256 * 1024
"""A token answer is a few KiB; anything longer is not Microsoft's."""
_AADSTS = re.compile(r"AADSTS\d{4,9}")


@dataclass(frozen=True)
class Answer:
    """What the token endpoint said, without the token.

    ``issued``: a token was issued (``tenant_id`` and ``roles`` from its claims); otherwise ``code``
    is Microsoft's AADSTS code (or the OAuth ``error``) for a refusal, or ``unavailable`` says why
    no answer could be read (a transport failure, a 5xx, a malformed answer: ask again later).
    """

    issued: bool
    roles: tuple[str, ...] = ()
    tenant_id: str | None = None
    code: str | None = None
    unavailable: str | None = None


def _claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, not verified: it came straight from the token endpoint over TLS and
    only describes itself; nothing here authorises anything with it."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    claims = json.loads(base64.urlsafe_b64decode(payload.encode()))
    if not isinstance(claims, dict):
        raise ValueError("JWT payload is not an object")
    return claims


def _error_code(body: dict[str, Any]) -> str:
    codes = body.get("error_codes")
    if isinstance(codes, list) and codes and isinstance(codes[0], int):
        return f"AADSTS{codes[0]}"
    found = _AADSTS.search(str(body.get("error_description") or ""))
    if found:
        return found.group(0)
    return str(body.get("error") or "unknown_error")[:64]


def parse_answer(status: int, content: bytes) -> Answer:
    """The answer of the token endpoint (status and body) as an ``Answer``; pure."""
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return Answer(False, unavailable=f"HTTP {status}, not a JSON object")
    if status == 200:
        try:
            claims = _claims(str(body.get("access_token") or ""))
        except (ValueError, UnicodeDecodeError, TypeError):
            return Answer(False, unavailable="HTTP 200 without a readable access token")
        roles = claims.get("roles")
        roles = tuple(sorted(str(r) for r in roles)) if isinstance(roles, list) else ()
        tid = claims.get("tid")
        return Answer(True, roles=roles, tenant_id=str(tid) if tid else None)
    if 400 <= status < 500 and body.get("error"):
        return Answer(False, code=_error_code(body))
    return Answer(False, unavailable=f"HTTP {status}")


def check_login_url(login_url: str, allowed_hosts: Sequence[str]) -> None:
    """ValueError unless ``login_url`` is an http(s) URL whose host is allowed."""
    host = urlsplit(login_url).hostname or ""
    allowed = parse_allowed_hosts(allowed_hosts)
    if urlsplit(login_url).scheme not in ("http", "https") or not host or not allowed.allows(host):
        raise ValueError(
            f"the Microsoft login host {host or login_url!r} is not in the allowed hosts ({allowed.text})"
        )


class TokenClient:
    """Asks ``{login_url}/{tenant}/oauth2/v2.0/token``; one attempt per call, bounded."""

    def __init__(
        self,
        *,
        login_url: str = DEFAULT_LOGIN_URL,
        allowed_hosts: Sequence[str] = DEFAULT_LOGIN_HOSTS,
        deadline: float = 30.0,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        check_login_url(login_url, allowed_hosts)
        self.login_url = login_url.rstrip("/")
        self._deadline = deadline
        self._cap = max_answer_bytes
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(deadline, connect=min(5.0, deadline)), follow_redirects=False
        )

    def __repr__(self) -> str:
        return f"TokenClient(login_url={self.login_url!r})"

    async def close(self) -> None:
        await self._http.aclose()

    async def ask(self, tenant: str, client_id: str, client_secret: SecretStr) -> Answer:
        """A client-credentials token request for ``tenant``; never raises for what Microsoft or
        the network answers (``Answer.unavailable`` says so instead)."""
        url = f"{self.login_url}/{quote(tenant, safe='')}/oauth2/v2.0/token"
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret.get_secret_value(),
            "scope": GRAPH_DEFAULT_SCOPE,
        }
        try:
            async with asyncio.timeout(self._deadline):
                status, content = await self._exchange(url, form)
        except TimeoutError:
            return Answer(False, unavailable=f"no complete answer within {self._deadline:g}s")
        except httpx.HTTPError as exc:  # the text may name the URL; only the class is kept
            return Answer(False, unavailable=type(exc).__name__)
        if content is None:
            return Answer(False, unavailable=f"the answer is larger than {self._cap} bytes")
        return parse_answer(status, content)

    async def _exchange(self, url: str, form: dict[str, str]) -> tuple[int, bytes | None]:
        request = self._http.build_request("POST", url, data=form, headers={"Accept": "application/json"})
        response = await self._http.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self._cap:
                    return response.status_code, None
                chunks.append(chunk)
            return response.status_code, b"".join(chunks)
        finally:
            await response.aclose()
