"""What every API-area resource shares: one request, one object, one page, one delete.

Owns: unwrapping the ``{"request_id", "data"}`` envelopes into models. Does not own: endpoints.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from nylas_operator.nylas.errors import NylasResponseError
from nylas_operator.nylas.models import Page
from nylas_operator.nylas.transport import Query, Transport

M = TypeVar("M", bound=BaseModel)


class Resource:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._transport.base_url!r})"

    async def _one(
        self,
        model: type[M],
        method: str,
        template: str,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Query | None = None,
        body: BaseModel | None = None,
        idempotent: bool | None = None,
    ) -> M:
        doc = await self._transport.request(
            method, template, path_params=path_params, params=params, body=body, idempotent=idempotent
        )
        data = _envelope(doc, method, template).get("data")
        return _validate(model, data, method, template)

    async def _page(
        self,
        model: type[M],
        template: str,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Query | None = None,
    ) -> Page[M]:
        doc = _envelope(
            await self._transport.request("GET", template, path_params=path_params, params=params),
            "GET",
            template,
        )
        data = doc.get("data")
        if data is None:
            data = []
        if isinstance(data, dict) and isinstance(data.get("items"), list):  # an older SDK-tolerated shape
            doc = {**doc, "next_cursor": data.get("next_cursor")}
            data = data["items"]
        if not isinstance(data, list):
            raise NylasResponseError(method="GET", path=template, status=200, detail="data is not a list")
        return Page(
            items=[_validate(model, item, "GET", template) for item in data],
            limit=_int_or_none(doc.get("limit")),
            offset=_int_or_none(doc.get("offset")),
            next_cursor=doc.get("next_cursor") or None,
            request_id=doc.get("request_id"),
        )

    async def _delete(self, template: str, *, path_params: Mapping[str, str]) -> str | None:
        """DELETE answers 200 ``{"request_id"}`` (or 204); returns the request id if any."""
        doc = await self._transport.request("DELETE", template, path_params=path_params)
        if isinstance(doc, dict):
            rid = doc.get("request_id")
            return rid if isinstance(rid, str) else None
        return None


def _envelope(doc: Any, method: str, template: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise NylasResponseError(method=method, path=template, status=200, detail="not a JSON object")
    return doc


def _validate(model: type[M], data: Any, method: str, template: str) -> M:
    """Validate; the error names the failing fields, never their values."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        where = ", ".join(".".join(str(p) for p in e["loc"]) or "data" for e in exc.errors()[:5])
        raise NylasResponseError(
            method=method, path=template, status=200, detail=f"unexpected shape at {where}"
        ) from None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
