"""`GET /v3/connect/auth?response_type=adminconsent`: the Microsoft admin-consent redirect.

Owns parameter checks (400 JSON errors, no redirect, for bad parameters), the three consent modes
(`auto` and `deny` redirect at once, `prompt` shows an HTML page with Approve / Deny forms) and the
form endpoint those buttons post to. Consent records and their timing live in `state.py`.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiohttp import web

from nylas_operator.emulator.errors import ApiError, bad_request, not_found
from nylas_operator.emulator.model import Credential
from nylas_operator.emulator.runtime import JOURNAL_ENTRY, runtime
from nylas_operator.emulator.state import consent_tenant
from nylas_operator.emulator.validation import is_absolute_http_url

routes = web.RouteTableDef()
MAX_STATE = 256
TICKETS = "/_emulator/consent/tickets/{ticket}"
DENIED_DESCRIPTION = "The administrator declined the consent request."
DENIED_URI = "https://learn.microsoft.com/entra/identity-platform/reference-error-codes"


def _param(request: web.Request, name: str) -> str:
    value = request.query.get(name)
    if value is None or not value.strip():
        raise bad_request(f"query parameter {name} is required")
    return value


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _approved_url(cred: Credential, redirect_uri: str, state: str | None) -> str:
    params = {"admin_consent": "true", "tenant": consent_tenant(cred)}
    if state is not None:
        params["state"] = state
    return _with_query(redirect_uri, params)


def _denied_url(redirect_uri: str, state: str | None) -> str:
    params = {"error": "access_denied", "error_description": DENIED_DESCRIPTION, "error_uri": DENIED_URI}
    if state is not None:
        params["state"] = state
    return _with_query(redirect_uri, params)


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


@routes.get("/v3/connect/auth")
async def connect_auth(request: web.Request) -> web.Response:
    rt = runtime(request)
    response_type = _param(request, "response_type")
    if response_type != "adminconsent":
        raise bad_request("response_type must be adminconsent (the OAuth code flow is not emulated)")
    client_id = _param(request, "client_id")
    app = rt.state.applications.get(client_id)
    if app is None:
        raise bad_request(f"client_id {client_id!r} is not a known application")
    request[JOURNAL_ENTRY].application_id = app.id
    if _param(request, "provider") != "microsoft":
        raise bad_request("provider must be microsoft for response_type=adminconsent")
    redirect_uri = _param(request, "redirect_uri")
    if not is_absolute_http_url(redirect_uri):
        raise bad_request("redirect_uri must be an absolute http or https URL")
    if not app.allows_redirect(redirect_uri):
        raise ApiError(
            400, "grant.callback_uri_not_allowed", "redirect_uri is not registered for this application"
        )
    cred = rt.state.adminconsent_credential(app.id, _param(request, "credential_id"))
    state = request.query.get("state")
    if state is not None and len(state) > MAX_STATE:
        raise bad_request(f"state must be at most {MAX_STATE} characters")
    scopes = tuple(request.query.get("scope", "").split())
    mode = rt.behaviour.consent_mode
    if mode == "auto":
        rt.state.record_consent(cred, approved=True, scopes=scopes)
        return _redirect(_approved_url(cred, redirect_uri, state))
    if mode == "deny":
        # An admin who cancels does not revoke an earlier consent.
        return _redirect(_denied_url(redirect_uri, state))
    ticket = rt.state.open_ticket(cred, redirect_uri, state, scopes)
    return web.Response(text=_prompt_page(app.id, cred, ticket.id), content_type="text/html")


@routes.post(TICKETS)
async def decide(request: web.Request) -> web.Response:
    rt = runtime(request)
    ticket = rt.state.tickets.pop(request.match_info["ticket"], None)
    if ticket is None:
        raise not_found("consent request not found or already answered")
    form = await request.post()
    decision = form.get("decision")
    cred = rt.state.credentials.get(ticket.credential_id)
    if cred is None:
        raise not_found("the credential of this consent request is gone")
    if decision == "approve":
        rt.state.record_consent(cred, approved=True, scopes=ticket.scopes)
        return _redirect(_approved_url(cred, ticket.redirect_uri, ticket.state))
    if decision == "deny":
        return _redirect(_denied_url(ticket.redirect_uri, ticket.state))
    raise bad_request("decision must be approve or deny")


def _prompt_page(app_id: str, cred: Credential, ticket: str) -> str:
    action = html.escape(TICKETS.format(ticket=ticket))
    tenant = html.escape(cred.data.get("tenant", "common"))

    def button(decision: str, label: str) -> str:
        return (
            f'<form method="post" action="{action}">'
            f'<input type="hidden" name="decision" value="{decision}">'
            f'<button type="submit" name="submit" value="{decision}">{label}</button></form>'
        )

    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Admin consent (Nylas emulator)</title>'
        "</head><body><h1>Permissions requested</h1>"
        f"<p>Nylas application <code>{html.escape(app_id)}</code> asks an administrator of tenant "
        f"<code>{tenant}</code> to consent for credential <code>{html.escape(cred.name)}</code> "
        f"(<code>{html.escape(cred.id)}</code>).</p>"
        f"{button('approve', 'Approve')}{button('deny', 'Deny')}</body></html>"
    )
