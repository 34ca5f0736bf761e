"""`/v3/grants[/{id}]` (list with filters, get, patch, delete) and `POST /v3/connect/custom`.

Owns the HTTP side of grants and custom (bulk) authentication. One grant per email per
application, re-auth keeping the id and the consent check live in `state.py`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nylas_operator.emulator import schemas, views
from nylas_operator.emulator.envelopes import check_query, deleted, one, page_params, paged, read_object
from nylas_operator.emulator.errors import bad_request
from nylas_operator.emulator.model import Grant
from nylas_operator.emulator.runtime import JOURNAL_ENTRY, application, runtime
from nylas_operator.emulator.validation import (
    as_object,
    check_keys,
    optional_str_list,
    parse_choice,
    parse_int,
)

routes = web.RouteTableDef()
_FILTERS = (
    "email",
    "provider",
    "grant_status",
    "since",
    "before",
    "ip",
    "account_id",
    "account_ids",
    "workspace_id",
)
# Documented filters on fields the emulated grants never have: they match nothing.
_ABSENT_FIELDS = ("ip", "account_id", "account_ids", "workspace_id")


def _filtered(grants: list[Grant], query: Any) -> list[Grant]:
    provider = parse_choice(query, "provider", schemas.KNOWN_PROVIDERS, None)
    status = parse_choice(query, "grant_status", ("valid", "invalid"), None)
    since = parse_int(query, "since", 0, minimum=0)
    before = parse_int(query, "before", 2**62, minimum=0)
    email = query.get("email")
    if any(query.get(name) for name in _ABSENT_FIELDS):
        return []
    return [
        g
        for g in grants
        if (provider is None or g.provider == provider)
        and (status is None or g.grant_status == status)
        and (email is None or g.email.casefold() == email.casefold())
        and since <= g.created_at < before
    ]


@routes.get("/v3/grants")
async def list_grants(request: web.Request) -> web.Response:
    rt = runtime(request)
    check_query(request.query, ("limit", "offset", "sort_by", "order_by", *_FILTERS), rt.behaviour)
    page = page_params(request.query, rt.behaviour, sortable=True)
    grants = _filtered(rt.state.list_grants(application(request).id), request.query)

    def key(g: Grant) -> tuple[int, int]:
        return (g.updated_at if page.sort_by == "updated_at" else g.created_at, g.seq)

    return paged(request, grants, page, views.grant_api, key=key)


@routes.get("/v3/grants/{id}")
async def get_grant(request: web.Request) -> web.Response:
    grant = runtime(request).state.get_grant(application(request).id, request.match_info["id"])
    return one(request, views.grant_api(grant))


@routes.patch("/v3/grants/{id}")
async def update_grant(request: web.Request) -> web.Response:
    rt = runtime(request)
    body = await read_object(request)
    check_keys(body, ("settings", "scope"), "request body", strict=rt.behaviour.reject_unknown_fields)
    changes: dict[str, Any] = {}
    if "settings" in body:
        changes["settings"] = dict(as_object(body["settings"], "settings"))
    if "scope" in body:
        scope = optional_str_list(body, "scope", "body")
        if scope is None:
            raise bad_request("scope must be an array of strings")
        changes["scope"] = scope
    grant = rt.state.update_grant(application(request).id, request.match_info["id"], changes)
    return one(request, views.grant_api(grant))


@routes.delete("/v3/grants/{id}")
async def delete_grant(request: web.Request) -> web.Response:
    runtime(request).state.delete_grant(application(request).id, request.match_info["id"])
    return deleted(request)


@routes.post("/v3/connect/custom")
async def custom_auth(request: web.Request) -> web.Response:
    rt = runtime(request)
    body = await read_object(request)
    settings = body.get("settings")
    if isinstance(settings, dict) and isinstance(settings.get("email_address"), str):
        request[JOURNAL_ENTRY].email = settings["email_address"]
    req = schemas.custom_auth(body, strict=rt.behaviour.reject_unknown_fields)
    grant, created = rt.state.custom_auth(application(request).id, req)
    return one(request, views.grant_api(grant), status=201 if created else rt.behaviour.reauth_status)
