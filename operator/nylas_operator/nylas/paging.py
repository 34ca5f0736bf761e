"""Walking offset-paged (and, if Nylas ever sends one, cursor-paged) admin lists to the end.

Owns: the loop over pages and its stop rule. Does not own: the request of one page (resource modules).

Admin lists (connectors, credentials, grants) page by ``limit``/``offset`` and carry no cursor: the
end is the first page shorter than the limit. The limit used for that test is the one Nylas echoes
back, so a server that serves fewer items per page than asked does not end the walk early.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from nylas_operator.nylas.errors import NylasResponseError
from nylas_operator.nylas.models import Page

T = TypeVar("T")

MAX_PAGE_SIZE = 200
"""The largest ``limit`` Nylas accepts on admin lists."""

MAX_PAGES = 10_000
"""A guard against a server that ignores ``offset`` (the same full page forever)."""

FetchPage = Callable[[int, int, str | None], Awaitable[Page[T]]]
"""``fetch(limit, offset, page_token)`` → one page."""


def check_limit(limit: int | None) -> None:
    if limit is not None and not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")


async def iterate_pages(fetch: FetchPage[T], *, page_size: int = MAX_PAGE_SIZE) -> AsyncIterator[T]:
    check_limit(page_size)
    offset = 0
    token: str | None = None
    for _ in range(MAX_PAGES):
        page = await fetch(page_size, offset, token)
        for item in page.items:
            yield item
        if page.next_cursor:
            token = page.next_cursor
            continue
        effective_limit = min(page_size, page.limit) if page.limit else page_size
        if not page.items or len(page.items) < effective_limit:
            return
        offset += len(page.items)
    raise NylasResponseError(method="GET", path="(paged list)", status=200, detail="too many pages")
