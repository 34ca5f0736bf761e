"""Grants: ``/v3/grants`` (filtered, offset-paged) and ``/v3/grants/{grant_id}``.

Owns: the grant endpoints. Grants are created (and re-authenticated) by ``auth.custom``.
Deleting a grant is permanent: a new custom auth for the same email gets a new id.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from typing import Literal

from nylas_operator.nylas.models import Grant, GrantStatus, GrantUpdate, Page, Provider
from nylas_operator.nylas.paging import MAX_PAGE_SIZE, check_limit, iterate_pages
from nylas_operator.nylas.resource import Resource

_ALL = "/v3/grants"
_ONE = "/v3/grants/{grant_id}"

SortBy = Literal["created_at", "updated_at"]
OrderBy = Literal["asc", "desc"]


class Grants(Resource):
    async def list(
        self,
        *,
        email: str | None = None,
        provider: Provider | str | None = None,
        grant_status: GrantStatus | str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        sort_by: SortBy | None = None,
        order_by: OrderBy | None = None,
    ) -> Page[Grant]:
        check_limit(limit)
        params = _filters(email, provider, grant_status)
        params.update({"limit": limit, "offset": offset, "sort_by": sort_by, "order_by": order_by})
        return await self._page(Grant, _ALL, params=params)

    async def iterate(
        self,
        *,
        email: str | None = None,
        provider: Provider | str | None = None,
        grant_status: GrantStatus | str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[Grant]:
        """Every matching grant, oldest first (a stable order while paging)."""
        filters = _filters(email, provider, grant_status)

        async def fetch(limit: int, offset: int, token: str | None) -> Page[Grant]:
            params: dict[str, str | int | None] = {
                **filters,
                "limit": limit,
                "offset": offset,
                "sort_by": "created_at",
                "order_by": "asc",
                "page_token": token,
            }
            return await self._page(Grant, _ALL, params=params)

        async for grant in iterate_pages(fetch, page_size=page_size):
            yield grant

    async def list_all(
        self,
        *,
        email: str | None = None,
        provider: Provider | str | None = None,
        grant_status: GrantStatus | str | None = None,
    ) -> builtins.list[Grant]:
        return [g async for g in self.iterate(email=email, provider=provider, grant_status=grant_status)]

    async def find_by_email(
        self, email: str, *, provider: Provider | str | None = None
    ) -> builtins.list[Grant]:
        """Grants whose email matches exactly (case-insensitive), whatever the server's filter does."""
        wanted = email.casefold()
        return [
            g
            async for g in self.iterate(email=email, provider=provider)
            if (g.email or "").casefold() == wanted
        ]

    async def get(self, grant_id: str) -> Grant:
        return await self._one(Grant, "GET", _ONE, path_params={"grant_id": grant_id})

    async def update(self, grant_id: str, request: GrantUpdate) -> Grant:
        """PATCH; ``settings`` is replaced wholesale, ``scope`` changes only Nylas's record."""
        return await self._one(Grant, "PATCH", _ONE, path_params={"grant_id": grant_id}, body=request)

    async def delete(self, grant_id: str) -> str | None:
        return await self._delete(_ONE, path_params={"grant_id": grant_id})


def _filters(
    email: str | None, provider: Provider | str | None, grant_status: GrantStatus | str | None
) -> dict[str, str | int | None]:
    return {
        "email": email,
        "provider": str(provider) if provider is not None else None,
        "grant_status": str(grant_status) if grant_status is not None else None,
    }
