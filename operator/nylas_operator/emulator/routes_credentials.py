"""`/v3/connectors/{provider}/creds[/{id}]`: list, create, get, patch, delete.

Owns the HTTP side of connector credentials. Responses never carry `credential_data`.
The rules (unique names, de-duplicated create, active credential protected) live in `state.py`.
"""

from __future__ import annotations

from aiohttp import web

from nylas_operator.emulator import schemas, views
from nylas_operator.emulator.envelopes import check_query, deleted, one, page_params, paged, read_object
from nylas_operator.emulator.errors import bad_request
from nylas_operator.emulator.model import Credential
from nylas_operator.emulator.runtime import application, runtime
from nylas_operator.emulator.validation import check_keys, optional_str, require_str

routes = web.RouteTableDef()
BASE = "/v3/connectors/{provider}/creds"


def _provider(request: web.Request) -> str:
    return schemas.check_provider(request.match_info["provider"], "path")


@routes.get(BASE)
async def list_credentials(request: web.Request) -> web.Response:
    rt = runtime(request)
    check_query(request.query, ("limit", "offset", "sort_by", "order_by"), rt.behaviour)
    page = page_params(request.query, rt.behaviour, sortable=True)
    items = rt.state.list_credentials(application(request).id, _provider(request))

    def key(c: Credential) -> tuple[int, int]:
        return (c.updated_at if page.sort_by == "updated_at" else c.created_at, c.seq)

    return paged(request, items, page, lambda c: views.credential_api(c, rt.behaviour), key=key)


@routes.post(BASE)
async def create_credential(request: web.Request) -> web.Response:
    rt = runtime(request)
    strict = rt.behaviour.reject_unknown_fields
    provider = _provider(request)
    body = await read_object(request)
    check_keys(body, ("name", "credential_type", "credential_data"), "request body", strict=strict)
    name = require_str(body, "name", "body")
    if "credential_type" not in body:
        raise bad_request("credential_type is required")
    type_ = schemas.credential_type(provider, body["credential_type"])
    if "credential_data" not in body:
        raise bad_request("credential_data is required")
    data = schemas.credential_data(type_, body["credential_data"], strict=strict)
    cred, created = rt.state.create_credential(
        application(request).id, provider, name=name, credential_type=type_, data=data
    )
    status = 201 if created else rt.behaviour.credential_dedup_status
    return one(request, views.credential_api(cred, rt.behaviour), status=status)


@routes.get(BASE + "/{id}")
async def get_credential(request: web.Request) -> web.Response:
    rt = runtime(request)
    cred = rt.state.get_credential(application(request).id, _provider(request), request.match_info["id"])
    return one(request, views.credential_api(cred, rt.behaviour))


@routes.patch(BASE + "/{id}")
async def update_credential(request: web.Request) -> web.Response:
    rt = runtime(request)
    strict = rt.behaviour.reject_unknown_fields
    provider = _provider(request)
    app_id = application(request).id
    body = await read_object(request)
    cred = rt.state.get_credential(app_id, provider, request.match_info["id"])
    if "credential_type" in body and body["credential_type"] != cred.credential_type:
        raise bad_request("credential_type cannot be changed")
    check_keys(body, ("name", "credential_data", "credential_type"), "request body", strict=strict)
    data = None
    if "credential_data" in body:
        # PATCH replaces the whole object: it must be complete and valid on its own.
        data = schemas.credential_data(cred.credential_type, body["credential_data"], strict=strict)
    updated = rt.state.update_credential(
        app_id, provider, cred.id, name=optional_str(body, "name", "body"), data=data
    )
    return one(request, views.credential_api(updated, rt.behaviour))


@routes.delete(BASE + "/{id}")
async def delete_credential(request: web.Request) -> web.Response:
    rt = runtime(request)
    rt.state.delete_credential(application(request).id, _provider(request), request.match_info["id"])
    return deleted(request)
