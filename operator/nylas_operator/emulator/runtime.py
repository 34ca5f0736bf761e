"""The running emulator's parts in one place, reachable from every request handler.

Owns the wiring of state, faults, rate limiter and journal, and the way back to the start-up
configuration (`reset`). It does not define routes (`app.py`).
"""

from __future__ import annotations

import dataclasses

from aiohttp import web

from nylas_operator.emulator.config import Behaviour, EmulatorConfig
from nylas_operator.emulator.faults import FaultInjector
from nylas_operator.emulator.journal import Journal, JournalEntry
from nylas_operator.emulator.model import Application
from nylas_operator.emulator.ratelimit import RateLimiter
from nylas_operator.emulator.state import EmulatorState


class Runtime:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config.validated()
        self.reset()

    def reset(self) -> None:
        self.state = EmulatorState(self.config.applications, self.config.behaviour)
        self.faults = FaultInjector(self.config.faults)
        self.limiter = RateLimiter()
        self.journal = Journal(self.config.journal_size)

    @property
    def behaviour(self) -> Behaviour:
        return self.state.behaviour

    def change_behaviour(self, **changes: object) -> Behaviour:
        updated = dataclasses.replace(self.state.behaviour, **changes).validated()  # type: ignore[arg-type]
        self.state.behaviour = updated
        return updated


RUNTIME = web.AppKey("runtime", Runtime)
APPLICATION = web.RequestKey("nylas_application", Application)
JOURNAL_ENTRY = web.RequestKey("journal_entry", JournalEntry)
REQUEST_ID = web.RequestKey("request_id", str)


def runtime(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


def application(request: web.Request) -> Application:
    return request[APPLICATION]
