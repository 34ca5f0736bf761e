"""`/_emulator/*`: introspection and control for tests and people (never faulted, never journalled).

Owns: state (no secret values, only SHA-256 digests), journal, reset, faults, behaviour config,
applications, consent decisions, and drift (invalidate or delete a grant behind the operator's back).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from nylas_operator.emulator import views
from nylas_operator.emulator.config import ApplicationConfig, FaultConfig
from nylas_operator.emulator.envelopes import read_object
from nylas_operator.emulator.errors import bad_request, not_found
from nylas_operator.emulator.runtime import runtime
from nylas_operator.emulator.validation import parse_int, require_str

routes = web.RouteTableDef()
PREFIX = "/_emulator"


@routes.get(PREFIX + "/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@routes.get(PREFIX + "/state")
async def state(request: web.Request) -> web.Response:
    st = runtime(request).state
    return web.json_response(
        {
            "applications": [{"application_id": a.id, "name": a.name} for a in st.applications.values()],
            "connectors": [
                views.connector_state(c) for c in sorted(st.connectors.values(), key=lambda c: c.seq)
            ],
            "credentials": [
                views.credential_state(c) for c in sorted(st.credentials.values(), key=lambda c: c.seq)
            ],
            "grants": [views.grant_state(g) for g in sorted(st.grants.values(), key=lambda g: g.seq)],
            "consents": [views.consent_state(c) for c in st.consents.values()],
            "token_requests": list(st.token_requests),
        }
    )


@routes.get(PREFIX + "/journal")
async def journal(request: web.Request) -> web.Response:
    after = parse_int(request.query, "after", 0, minimum=0)
    return web.json_response({"entries": [e.to_json() for e in runtime(request).journal.entries(after)]})


@routes.post(PREFIX + "/reset")
async def reset(request: web.Request) -> web.Response:
    runtime(request).reset()
    return web.json_response({"ok": True})


def _faults_view(request: web.Request) -> web.Response:
    faults = runtime(request).faults
    return web.json_response({**faults.config.to_json(), "injected": faults.injected})


@routes.get(PREFIX + "/faults")
async def get_faults(request: web.Request) -> web.Response:
    return _faults_view(request)


@routes.route("PUT", PREFIX + "/faults")
@routes.route("POST", PREFIX + "/faults")
async def set_faults(request: web.Request) -> web.Response:
    """Merge the given keys over the current settings; `rate` + `kinds` is a shortcut for even rates."""
    faults = runtime(request).faults
    body = await read_object(request)
    current = faults.config.to_json()
    if "rate" in body:
        kinds = tuple(body.pop("kinds", ("429", "500", "503")))
        body["rates"] = FaultConfig.even(float(body.pop("rate")), kinds).rates
    unknown = set(body) - set(current)
    if unknown:
        raise bad_request(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
    try:
        faults.set(FaultConfig(**{**current, **body}))
    except (TypeError, ValueError) as exc:
        raise bad_request(str(exc)) from None
    return _faults_view(request)


@routes.get(PREFIX + "/config")
async def get_config(request: web.Request) -> web.Response:
    return web.json_response(runtime(request).behaviour.to_json())


@routes.put(PREFIX + "/config")
async def set_config(request: web.Request) -> web.Response:
    rt = runtime(request)
    body = await read_object(request)
    known = {f.name for f in dataclasses.fields(rt.behaviour)}
    unknown = set(body) - known
    if unknown:
        raise bad_request(f"unknown config key(s): {', '.join(sorted(unknown))}")
    try:
        behaviour = rt.change_behaviour(**body)
    except (TypeError, ValueError) as exc:
        raise bad_request(str(exc)) from None
    return web.json_response(behaviour.to_json())


@routes.post(PREFIX + "/applications")
async def add_application(request: web.Request) -> web.Response:
    body = await read_object(request)
    uris = body.get("redirect_uris")
    app = runtime(request).state.add_application(
        ApplicationConfig(
            application_id=require_str(body, "application_id", "body"),
            api_key=require_str(body, "api_key", "body"),
            name=str(body.get("name") or "Emulated application"),
            redirect_uris=tuple(uris) if isinstance(uris, list) else None,
        )
    )
    return web.json_response({"application_id": app.id, "name": app.name}, status=201)


@routes.post(PREFIX + "/consent")
async def consent(request: web.Request) -> web.Response:
    """Approve (or revoke, with decision=deny) the admin consent of a credential; `decided_at` backdates."""
    st = runtime(request).state
    body = await read_object(request)
    cred_id = require_str(body, "credential_id", "body")
    cred = st.credentials.get(cred_id)
    if cred is None:
        raise not_found(f"credential {cred_id!r} not found")
    st.adminconsent_credential(cred.app_id, cred.id)
    decision = body.get("decision", "approve")
    if decision not in ("approve", "deny"):
        raise bad_request("decision must be approve or deny")
    at: Any = body.get("decided_at")
    if at is not None and not isinstance(at, int | float):
        raise bad_request("decided_at must be a Unix time in seconds")
    scopes = body.get("scopes") or []
    if not isinstance(scopes, list) or not all(isinstance(x, str) for x in scopes):
        raise bad_request("scopes must be a list of strings")
    record = st.record_consent(
        cred, approved=decision == "approve", at=None if at is None else float(at), scopes=tuple(scopes)
    )
    return web.json_response(views.consent_state(record))


@routes.post(PREFIX + "/grants/{id}/invalidate")
async def invalidate_grant(request: web.Request) -> web.Response:
    grant = runtime(request).state.invalidate_grant(request.match_info["id"])
    return web.json_response(views.grant_state(grant))


@routes.delete(PREFIX + "/grants/{id}")
async def delete_grant(request: web.Request) -> web.Response:
    st = runtime(request).state
    grant = st.grants.pop(request.match_info["id"], None)
    if grant is None:
        raise not_found(f"grant {request.match_info['id']!r} not found")
    return web.json_response({"deleted": grant.id})
