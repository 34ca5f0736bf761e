"""Nylas response envelopes and the shared pieces of list endpoints (paging, sorting, query checks).

Owns `{request_id, data}`, `{request_id, data, limit, offset}`, `{request_id}` and the error
envelope, plus offset paging. It does not decide which requests fail (`state.py`, `pipeline.py`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from nylas_operator.emulator.config import Behaviour
from nylas_operator.emulator.errors import ApiError, bad_request
from nylas_operator.emulator.runtime import REQUEST_ID
from nylas_operator.emulator.validation import parse_choice, parse_int
from nylas_operator.emulator.views import select_fields

T = TypeVar("T")
DEFAULT_LIMIT = 10


def request_id(request: web.Request) -> str:
    return request[REQUEST_ID]


def one(request: web.Request, data: dict[str, Any], status: int = 200) -> web.Response:
    shown = select_fields(data, request.query.get("select"))
    return web.json_response({"request_id": request_id(request), "data": shown}, status=status)


def deleted(request: web.Request) -> web.Response:
    return web.json_response({"request_id": request_id(request)}, status=200)


def error(request_id_: str, err: ApiError) -> web.Response:
    return web.json_response(
        {"request_id": request_id_, "error": err.body_error()}, status=err.status, headers=err.headers
    )


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int
    sort_by: str | None
    order_by: str | None


def check_query(query: Mapping[str, str], allowed: Sequence[str], behaviour: Behaviour) -> None:
    if behaviour.reject_unknown_query:
        unknown = sorted(set(query) - {*allowed, "select"})
        if unknown:
            raise bad_request(f"unknown query parameter(s): {', '.join(unknown)}")


def page_params(query: Mapping[str, str], behaviour: Behaviour, *, sortable: bool) -> Page:
    limit = parse_int(query, "limit", DEFAULT_LIMIT, minimum=1)
    if limit > behaviour.max_limit:
        raise bad_request(f"query parameter limit must be <= {behaviour.max_limit}")
    offset = parse_int(query, "offset", 0, minimum=0)
    if not sortable:
        return Page(limit, offset, None, None)
    sort_by = parse_choice(query, "sort_by", ("created_at", "updated_at"), "created_at")
    order_by = parse_choice(query, "order_by", ("asc", "desc"), "desc")
    return Page(limit, offset, sort_by, order_by)


def paged(
    request: web.Request,
    items: Sequence[T],
    page: Page,
    view: Callable[[T], dict[str, Any]],
    *,
    key: Callable[[T], tuple[int, int]] | None = None,
) -> web.Response:
    ordered = list(items)
    if key is not None:
        ordered.sort(key=key, reverse=page.order_by == "desc")
    window = ordered[page.offset : page.offset + page.limit]
    select = request.query.get("select")
    return web.json_response(
        {
            "request_id": request_id(request),
            "data": [select_fields(view(item), select) for item in window],
            "limit": page.limit,
            "offset": page.offset,
        }
    )


async def read_object(request: web.Request) -> dict[str, Any]:
    """The JSON object body of a POST/PATCH; anything else is a 400 like Nylas's parser gives."""
    if request.content_type != "application/json":
        raise bad_request("error parsing request body: Content-Type must be application/json")
    raw = await request.read()
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise bad_request("error parsing request body") from None
    if not isinstance(body, dict):
        raise bad_request("error parsing request body: expected a JSON object")
    return body
