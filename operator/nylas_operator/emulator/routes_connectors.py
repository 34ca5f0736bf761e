"""`/v3/connectors` and `/v3/connectors/{provider}`: list, create, get, patch, delete.

Owns the HTTP side of connectors (body and query checks, envelopes). The rules live in `state.py`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nylas_operator.emulator import schemas, views
from nylas_operator.emulator.envelopes import check_query, deleted, one, page_params, paged, read_object
from nylas_operator.emulator.errors import bad_request
from nylas_operator.emulator.runtime import application, runtime
from nylas_operator.emulator.validation import check_keys, optional_str, optional_str_list, require_str

routes = web.RouteTableDef()


def _provider(request: web.Request) -> str:
    return schemas.check_provider(request.match_info["provider"], "path")


@routes.get("/v3/connectors")
async def list_connectors(request: web.Request) -> web.Response:
    rt = runtime(request)
    check_query(request.query, ("limit", "offset"), rt.behaviour)
    page = page_params(request.query, rt.behaviour, sortable=False)
    items = rt.state.list_connectors(application(request).id)
    return paged(request, items, page, lambda c: views.connector_api(c, rt.behaviour))


@routes.post("/v3/connectors")
async def create_connector(request: web.Request) -> web.Response:
    rt = runtime(request)
    strict = rt.behaviour.reject_unknown_fields
    body = await read_object(request)
    check_keys(
        body, ("provider", "name", "settings", "scope", "active_credential_id"), "request body", strict=strict
    )
    provider = schemas.check_provider(require_str(body, "provider", "body"), "provider")
    if "settings" not in body:
        raise bad_request("settings is required")
    connector = rt.state.create_connector(
        application(request).id,
        provider,
        name=optional_str(body, "name", "body"),
        settings=schemas.connector_settings(provider, body["settings"], strict=strict),
        scope=optional_str_list(body, "scope", "body") or [],
        active_credential_id=optional_str(body, "active_credential_id", "body"),
    )
    return one(request, views.connector_api(connector, rt.behaviour), status=201)


@routes.get("/v3/connectors/{provider}")
async def get_connector(request: web.Request) -> web.Response:
    rt = runtime(request)
    connector = rt.state.get_connector(application(request).id, _provider(request))
    return one(request, views.connector_api(connector, rt.behaviour))


@routes.patch("/v3/connectors/{provider}")
async def update_connector(request: web.Request) -> web.Response:
    rt = runtime(request)
    strict = rt.behaviour.reject_unknown_fields
    provider = _provider(request)
    body = await read_object(request)
    check_keys(body, ("name", "settings", "scope", "active_credential_id"), "request body", strict=strict)
    if "provider" in body and body["provider"] != provider:
        raise bad_request("provider cannot be changed")
    changes: dict[str, Any] = {}
    if "settings" in body:
        # PATCH replaces the nested object, so it must be complete (client_secret included).
        changes["settings"] = schemas.connector_settings(provider, body["settings"], strict=strict)
    if "scope" in body:
        changes["scope"] = optional_str_list(body, "scope", "body") or []
    if "name" in body:
        changes["name"] = require_str(body, "name", "body")
    if "active_credential_id" in body:
        changes["active_credential_id"] = optional_str(body, "active_credential_id", "body")
    connector = rt.state.update_connector(application(request).id, provider, changes)
    return one(request, views.connector_api(connector, rt.behaviour))


@routes.delete("/v3/connectors/{provider}")
async def delete_connector(request: web.Request) -> web.Response:
    runtime(request).state.delete_connector(application(request).id, _provider(request))
    return deleted(request)
