"""Connectors: ``/v3/connectors`` and ``/v3/connectors/{provider}`` (one per provider per application).

Owns: the connector endpoints. Does not own: the GET-then-create/patch reconcile (``controllers/``).
Deleting a connector deletes its credentials and breaks every grant on it: callers guard it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from nylas_operator.nylas.models import Connector, ConnectorCreate, ConnectorUpdate, Page, Provider
from nylas_operator.nylas.paging import MAX_PAGE_SIZE, check_limit, iterate_pages
from nylas_operator.nylas.resource import Resource

_ALL = "/v3/connectors"
_ONE = "/v3/connectors/{provider}"


class Connectors(Resource):
    async def list(self, *, limit: int | None = None, offset: int | None = None) -> Page[Connector]:
        check_limit(limit)
        return await self._page(Connector, _ALL, params={"limit": limit, "offset": offset})

    async def iterate(self, *, page_size: int = MAX_PAGE_SIZE) -> AsyncIterator[Connector]:
        async def fetch(limit: int, offset: int, token: str | None) -> Page[Connector]:
            return await self._page(
                Connector, _ALL, params={"limit": limit, "offset": offset, "page_token": token}
            )

        async for connector in iterate_pages(fetch, page_size=page_size):
            yield connector

    async def get(self, provider: Provider | str) -> Connector:
        return await self._one(Connector, "GET", _ONE, path_params={"provider": str(provider)})

    async def create(self, request: ConnectorCreate) -> Connector:
        # Not idempotent: a repeat after a lost answer fails as a duplicate (see retry.py).
        return await self._one(Connector, "POST", _ALL, body=request, idempotent=False)

    async def update(self, provider: Provider | str, request: ConnectorUpdate) -> Connector:
        """PATCH; a sent ``settings`` replaces the stored one entirely."""
        return await self._one(
            Connector, "PATCH", _ONE, path_params={"provider": str(provider)}, body=request
        )

    async def delete(self, provider: Provider | str) -> str | None:
        return await self._delete(_ONE, path_params={"provider": str(provider)})
