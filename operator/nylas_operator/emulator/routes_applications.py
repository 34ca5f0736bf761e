"""`/v3/applications` and `/v3/applications/redirect-uris`: the application the API key belongs to.

Owns the HTTP side of the application record: who the key belongs to, and the callback (redirect)
URIs registered on it, which `/v3/connect/auth` checks when the application enforces them.
"""

from __future__ import annotations

from aiohttp import web

from nylas_operator.emulator import views
from nylas_operator.emulator.envelopes import one, read_object, request_id
from nylas_operator.emulator.errors import bad_request
from nylas_operator.emulator.runtime import application, runtime
from nylas_operator.emulator.validation import check_keys, is_absolute_http_url, require_str

routes = web.RouteTableDef()
PLATFORMS = ("web", "desktop", "js", "ios", "android")


@routes.get("/v3/applications")
async def get_application(request: web.Request) -> web.Response:
    return one(request, views.application_api(application(request)))


@routes.get("/v3/applications/redirect-uris")
async def list_redirect_uris(request: web.Request) -> web.Response:
    uris = [views.redirect_uri_api(r) for r in application(request).redirect_uris]
    # The contract's list answer is {success, data}; request_id is kept like every other answer.
    return web.json_response({"request_id": request_id(request), "success": True, "data": uris})


@routes.post("/v3/applications/redirect-uris")
async def add_redirect_uri(request: web.Request) -> web.Response:
    rt = runtime(request)
    body = await read_object(request)
    check_keys(
        body, ("url", "platform", "settings"), "request body", strict=rt.behaviour.reject_unknown_fields
    )
    url = require_str(body, "url", "body")
    if not is_absolute_http_url(url):
        raise bad_request("url must be an absolute http or https URL")
    platform = body.get("platform", "web")
    if platform not in PLATFORMS:
        raise bad_request(f"platform must be one of: {', '.join(PLATFORMS)}")
    record = rt.state.add_redirect_uri(application(request).id, url, platform)
    return one(request, views.redirect_uri_api(record))
