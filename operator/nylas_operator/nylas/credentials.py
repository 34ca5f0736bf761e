"""Connector credentials: ``/v3/connectors/{provider}/creds[/{credential_id}]``.

Owns: the credential endpoints and finding one by name (Nylas has no name filter, so it pages through
all of them). Does not own: deciding to create, rotate or delete (``controllers/``).
Secret material is write-only: responses never carry it.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from typing import Literal

from nylas_operator.nylas.models import Credential, CredentialCreate, CredentialUpdate, Page, Provider
from nylas_operator.nylas.paging import MAX_PAGE_SIZE, check_limit, iterate_pages
from nylas_operator.nylas.resource import Resource

_ALL = "/v3/connectors/{provider}/creds"
_ONE = "/v3/connectors/{provider}/creds/{credential_id}"

SortBy = Literal["created_at", "updated_at"]
OrderBy = Literal["asc", "desc"]


class Credentials(Resource):
    async def list(
        self,
        provider: Provider | str,
        *,
        limit: int | None = None,
        offset: int | None = None,
        sort_by: SortBy | None = None,
        order_by: OrderBy | None = None,
    ) -> Page[Credential]:
        check_limit(limit)
        return await self._page(
            Credential,
            _ALL,
            path_params={"provider": str(provider)},
            params={"limit": limit, "offset": offset, "sort_by": sort_by, "order_by": order_by},
        )

    async def iterate(
        self, provider: Provider | str, *, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncIterator[Credential]:
        """Every credential of the connector, oldest first (a stable order while paging)."""

        async def fetch(limit: int, offset: int, token: str | None) -> Page[Credential]:
            return await self._page(
                Credential,
                _ALL,
                path_params={"provider": str(provider)},
                params={
                    "limit": limit,
                    "offset": offset,
                    "sort_by": "created_at",
                    "order_by": "asc",
                    "page_token": token,
                },
            )

        async for credential in iterate_pages(fetch, page_size=page_size):
            yield credential

    async def list_all(
        self, provider: Provider | str, *, page_size: int = MAX_PAGE_SIZE
    ) -> builtins.list[Credential]:
        return [c async for c in self.iterate(provider, page_size=page_size)]

    async def find_by_name(self, provider: Provider | str, name: str) -> Credential | None:
        async for credential in self.iterate(provider):
            if credential.name == name:
                return credential
        return None

    async def get(self, provider: Provider | str, credential_id: str) -> Credential:
        return await self._one(Credential, "GET", _ONE, path_params=_ids(provider, credential_id))

    async def create(self, provider: Provider | str, request: CredentialCreate) -> Credential:
        # Nylas de-duplicates a create with the same parameters, so a retried POST is safe.
        return await self._one(
            Credential, "POST", _ALL, path_params={"provider": str(provider)}, body=request, idempotent=True
        )

    async def update(
        self, provider: Provider | str, credential_id: str, request: CredentialUpdate
    ) -> Credential:
        """PATCH; a sent ``credential_data`` replaces the stored one entirely."""
        return await self._one(
            Credential, "PATCH", _ONE, path_params=_ids(provider, credential_id), body=request
        )

    async def delete(self, provider: Provider | str, credential_id: str) -> str | None:
        """Nylas refuses to delete the connector's active credential."""
        return await self._delete(_ONE, path_params=_ids(provider, credential_id))


def _ids(provider: Provider | str, credential_id: str) -> dict[str, str]:
    return {"provider": str(provider), "credential_id": credential_id}
