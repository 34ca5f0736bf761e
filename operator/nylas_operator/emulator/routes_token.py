"""`POST /{tenant}/oauth2/v2.0/token`: a stand-in for Microsoft's token endpoint (client credentials).

The operator can confirm with "Microsoft" that a tenant really admin-consented its Azure app
(``--confirm-consent``); in tests and the sandbox this route answers instead of
login.microsoftonline.com, on the emulator's own port (``--microsoft-login-url`` = the emulator's
URL). It issues an **unsigned** test JWT (``alg: none``) whose ``roles`` are the emulated app's
permissions plus the scopes consented, only for a tenant and client id whose admin consent the
emulator recorded (its consent page or ``POST /_emulator/consent``), and only after
``token_roles_lag`` (before that: a token without ``roles``, as while Microsoft propagates a new
consent). Otherwise it answers like Microsoft: 400 ``unauthorized_client`` ``AADSTS700016`` (the
app is not in that tenant: never consented there), 401 ``invalid_client`` ``AADSTS7000215`` (wrong
secret), 400 ``unsupported_grant_type`` / ``invalid_scope``. Not journalled as a Nylas call; the
requests are listed (tenant, client id, outcome; never the secret) in ``/_emulator/state``.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from typing import Any

from aiohttp import web

from nylas_operator.emulator.model import Consent
from nylas_operator.emulator.runtime import Runtime, runtime

routes = web.RouteTableDef()
GRAPH_PREFIX = "https://graph.microsoft.com/"
MAX_LISTED = 1000
SHARED = frozenset({"", "common", "organizations", "consumers"})
"""Aliases name no tenant: a client-credentials token needs a real one (answered as unknown)."""


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _refusal(status: int, error: str, code: int, text: str) -> web.Response:
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {text} Trace ID: emulator Timestamp: {time.time():.0f}",
        "error_codes": [code],
    }
    return web.json_response(body, status=status)


def _role(scope: str) -> str | None:
    name = scope[len(GRAPH_PREFIX) :] if scope.lower().startswith(GRAPH_PREFIX) else scope
    return None if name.lower() in ("offline_access", "openid", "profile", "email", ".default") else name


def _consent_for(rt: Runtime, tenant: str, client_id: str) -> tuple[Consent, str | None] | None:
    """The approved consent of ``client_id`` in ``tenant`` (by id, or by the credential's domain)."""
    st = rt.state
    for consent in st.consents.values():
        cred = st.credentials.get(consent.credential_id)
        if cred is None or not consent.approved:
            continue
        names = {str(consent.tenant or "").lower(), str(cred.data.get("tenant") or "").lower()} - SHARED
        app_id, secret = st.azure_app(cred)
        if tenant.lower() in names and app_id == client_id:
            return consent, secret
    return None


def _token(rt: Runtime, consent: Consent, client_id: str) -> str:
    now = time.time()
    claims: dict[str, Any] = {
        "aud": "https://graph.microsoft.com",
        "iss": f"https://sts.windows.net/{consent.tenant}/",
        "tid": consent.tenant,
        "appid": client_id,
        "iat": int(now),
        "exp": int(now) + 3600,
    }
    if now >= consent.decided_at + rt.behaviour.token_roles_lag:
        roles = {*rt.behaviour.app_roles, *(r for r in map(_role, consent.scopes) if r)}
        claims["roles"] = sorted(roles)
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def _answer(rt: Runtime, tenant: str, form: Any) -> tuple[web.Response, str]:
    if form.get("grant_type") != "client_credentials":
        return _refusal(
            400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
        ), ("unsupported_grant_type")
    if not str(form.get("scope") or "").endswith("/.default"):
        return _refusal(
            400, "invalid_scope", 1002012, "The provided value for scope is not valid."
        ), "invalid_scope"
    client_id = str(form.get("client_id") or "")
    found = _consent_for(rt, tenant, client_id)
    if found is None:
        text = f"Application with identifier '{client_id}' was not found in the directory '{tenant}'."
        return _refusal(400, "unauthorized_client", 700016, text), "AADSTS700016"
    consent, secret = found
    if secret is None or not hmac.compare_digest(str(form.get("client_secret") or ""), secret):
        return _refusal(401, "invalid_client", 7000215, "Invalid client secret provided."), "AADSTS7000215"
    body = {"token_type": "Bearer", "expires_in": 3599, "access_token": _token(rt, consent, client_id)}
    return web.json_response(body), "issued"


@routes.post("/{tenant}/oauth2/v2.0/token")
async def token(request: web.Request) -> web.Response:
    rt = runtime(request)
    tenant = request.match_info["tenant"]
    form = await request.post()
    response, outcome = _answer(rt, tenant, form)
    listed = rt.state.token_requests
    listed.append(
        {
            "time": time.time(),
            "tenant": tenant,
            "client_id": str(form.get("client_id") or ""),
            "outcome": outcome,
        }
    )
    del listed[:-MAX_LISTED]
    return response
