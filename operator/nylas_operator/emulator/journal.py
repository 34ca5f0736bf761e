"""The journal: one entry per /v3 request, for tests to count and inspect calls.

Owns the entry shape and a bounded log. Entries never hold bodies, headers or secrets: only
time, method, path, query, status, application id, which API key sent it (``key_id``, a SHA-256
prefix: tests prove whose key was used), the custom-auth email, the User-Agent (which operator
replica sent it) and any injected fault.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass
class JournalEntry:
    seq: int
    time: float
    method: str
    path: str
    query: dict[str, str]
    request_id: str
    status: int | None = None
    application_id: str | None = None
    email: str | None = None
    fault: str | None = None
    dropped: bool = False
    duration: float | None = None
    user_agent: str | None = None
    key_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Journal:
    def __init__(self, size: int) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=size)
        self._seq = 0

    def begin(
        self,
        *,
        time: float,
        method: str,
        path: str,
        query: dict[str, str],
        request_id: str,
        user_agent: str | None = None,
    ) -> JournalEntry:
        self._seq += 1
        entry = JournalEntry(self._seq, time, method, path, query, request_id, user_agent=user_agent)
        self._entries.append(entry)
        return entry

    def entries(self, after: int = 0) -> list[JournalEntry]:
        return [e for e in self._entries if e.seq > after]
