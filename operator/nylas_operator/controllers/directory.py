"""Which mailboxes already have a grant in Nylas, per application: one listing per process.

Owns: a set of casefolded emails per application, filled by one paged ``GET /v3/grants`` the
first time a new grant object needs it (concurrent callers wait for that one listing), and
extended with every grant the operator creates. ``grant.py`` uses it to skip the lookup by email
before creating a mailbox that Nylas has never seen: Nylas keeps one grant per email per
application and ``POST /v3/connect/custom`` returns the existing one, so the lookup is only
needed to adopt (a listed email is looked up again, which also catches stale entries).
Does not own: the drift loop's listings (``drift.py``) or deciding anything (``grant.py``).
"""

from __future__ import annotations

import asyncio

from nylas_operator import nylas
from nylas_operator.controllers.clients import AppKey


class GrantDirectory:
    def __init__(self) -> None:
        self._emails: dict[AppKey, set[str]] = {}
        self._locks: dict[AppKey, asyncio.Lock] = {}

    def __repr__(self) -> str:  # emails are personal data: counts only
        return f"GrantDirectory({ {str(app): len(e) for app, e in self._emails.items()} })"

    async def has(self, app: AppKey, client: nylas.NylasClient, email: str) -> bool:
        """True when ``email`` had a grant in Nylas at the listing or was created since."""
        emails = self._emails.get(app)
        if emails is None:
            async with self._locks.setdefault(app, asyncio.Lock()):
                emails = self._emails.get(app)
                if emails is None:  # a failed listing raises; the next caller tries again
                    grants = await client.grants.list_all()
                    emails = {g.email.casefold() for g in grants if g.email}
                    self._emails[app] = emails
        return email.casefold() in emails

    def add(self, app: AppKey, email: str) -> None:
        emails = self._emails.get(app)
        if emails is not None:
            emails.add(email.casefold())
