"""What the operator's own watch loops share (grants: ``informer.py``; Secrets: ``secrets_watch.py``).

Owns: the server-side watch timeout, the delays between tries after a failed list or watch, and
stopping background tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

WATCH_TIMEOUT = 600
"""The apiserver ends each watch after this many seconds; the watch then resumes where it was."""
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


def retry_delay(failures: int) -> float:
    """Seconds before the next try after ``failures`` failures in a row (0: the first)."""
    return RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]


async def cancel_all(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancel the tasks and wait until each has ended."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
