"""Deciding what a failed Nylas delete means: keep the finalizer and try again, later each time.

Owns (pure, table-tested in ``tests/unit/controllers/test_decide_deletion.py``): the backoff of a
deletion whose Nylas delete fails (``--min-retry-delay`` doubling per failed attempt, capped at
``--max-retry-delay``, jittered), the ``Ready=False``/``DeleteFailed`` condition it shows (the
error's class and status, the attempt count and the next try; capped, never the error's text, so
no answer of Nylas and no secret reaches the status), and when it posts a Warning event (the first
failure, as the Ready condition's transition, and a reminder every ``EVENT_EVERY``-th attempt,
not one per attempt).

Decisions, documented: a failing delete never orphans the Nylas object by itself (cert-manager and
Crossplane keep their finalizers too): a mailbox's access must not survive its object because
Nylas was away for a while. The escape hatches are the user's: ``deletionPolicy: Orphan``, or
removing the finalizer (docs/troubleshooting.md). Only a deletion that has no key at all (its
connector's Secret and cached client both gone) still orphans after ``--deletion-give-up``:
nothing the operator can do would ever succeed, and namespace teardown deletes Secrets too.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from nylas_operator.api import conditions as c
from nylas_operator.settings import RetrySettings

EVENT_EVERY = 10
"""A reminder Warning event every tenth failed attempt (the first failure's event is the Ready
condition's transition to ``DeleteFailed``, posted by ``status.Report``)."""
MESSAGE_LIMIT = 256


@dataclass(frozen=True)
class DeleteRetry:
    attempts: int
    """Failed attempts so far, this one included."""
    delay: float
    """Seconds until the next attempt."""
    message: str
    """The ``DeleteFailed`` condition's message."""
    event: str | None
    """A reminder Warning event's message to post with this attempt, or None."""


def delay_after(failures: int, settings: RetrySettings, rng: Callable[[], float] = random.random) -> float:
    """Seconds before the next attempt after ``failures`` (>= 1) failed ones: ``min_delay``
    doubling per failure, capped at ``max_delay``, then jittered downwards by up to ``jitter``."""
    exponent = min(max(failures - 1, 0), 20)
    base = min(settings.min_delay.total_seconds() * float(2**exponent), settings.max_delay.total_seconds())
    return base * (1 - settings.jitter + settings.jitter * rng())


def error_class(name: str, status: int | None) -> str:
    """What the condition says of the error: its class and HTTP status, nothing of its text."""
    return f"{name} (HTTP {status})" if status else name


def after_failure(
    what: str,
    error: str,
    previous: int,
    now: datetime,
    settings: RetrySettings,
    rng: Callable[[], float] = random.random,
) -> DeleteRetry:
    """A Nylas delete of ``what`` (grant, credential, connector) failed with ``error`` (from
    ``error_class``) after ``previous`` failed attempts of the same deletion."""
    attempts = max(previous, 0) + 1
    delay = delay_after(attempts, settings, rng)
    next_at = c.now_rfc3339(now + timedelta(seconds=delay))
    message = c.cap_message(
        f"deleting the Nylas {what} failed: {error}; attempt {attempts}, next try at {next_at}; "
        f"the finalizer stays until Nylas confirms (set deletionPolicy: Orphan to leave it in Nylas)",
        MESSAGE_LIMIT,
    )
    event = None
    if attempts % EVENT_EVERY == 0:
        event = c.cap_message(
            f"deleting the Nylas {what} failed {attempts} time(s), last with {error}; retrying with backoff",
            MESSAGE_LIMIT,
        )
    return DeleteRetry(attempts=attempts, delay=delay, message=message, event=event)
