"""The application behind the API key: ``/v3/applications`` and its callback (redirect) URIs.

Owns: reading the application record (which application an API key belongs to) and listing and
adding the redirect URIs Nylas accepts in ``/v3/connect/auth``. Does not own: deciding whether the
operator may register its callback URL (``controllers/``).
"""

from __future__ import annotations

from nylas_operator.nylas.models import Application, RedirectUri, RedirectUriCreate
from nylas_operator.nylas.resource import Resource

_APP = "/v3/applications"
_URIS = "/v3/applications/redirect-uris"


class Applications(Resource):
    async def get(self) -> Application:
        """The application the API key belongs to; ``application_id`` is its client id."""
        return await self._one(Application, "GET", _APP)

    async def redirect_uris(self) -> list[RedirectUri]:
        page = await self._page(RedirectUri, _URIS)
        return page.items

    async def add_redirect_uri(self, url: str, *, platform: str = "web") -> RedirectUri:
        # Not idempotent: a repeat after a lost answer may be refused as a duplicate, so the caller
        # lists first and treats "already registered" as done.
        return await self._one(
            RedirectUri, "POST", _URIS, body=RedirectUriCreate(url=url, platform=platform), idempotent=False
        )
