"""What happens around every request: request ids, auth, rate limit, faults, journal, error envelopes.

Owns the order of those steps for /v3 calls (journal -> latency -> endpoint fault rule, else
the fault dice -> API key -> rate limit -> handler -> held or dropped answer) and turns every
error into a Nylas error envelope. /_emulator calls get error envelopes too, but no faults and
no journal entry. `GET /v3/connect/auth` is a browser redirect: it is journalled but needs no API
key and gets no faults.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from nylas_operator.emulator.envelopes import error
from nylas_operator.emulator.errors import ApiError, unauthorized
from nylas_operator.emulator.journal import JournalEntry
from nylas_operator.emulator.model import Application
from nylas_operator.emulator.runtime import APPLICATION, JOURNAL_ENTRY, REQUEST_ID, Runtime, runtime

log = logging.getLogger(__name__)
BROWSER_PATHS = frozenset({"/v3/connect/auth"})
_FAULT_ANSWERS = {
    "429": (429, "rate_limit_error", "too many requests"),
    "500": (500, "internal_error", "internal error"),
    "503": (503, "service_unavailable", "service unavailable"),
}


class _Dropped(Exception):
    """The connection was closed on purpose; nothing must be written."""


@web.middleware
async def pipeline(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = str(uuid.uuid4())
    request[REQUEST_ID] = rid
    rt = runtime(request)
    if not request.path.startswith("/v3/"):
        return _with_id(await _answer(request, handler, rid), rid)
    entry = rt.journal.begin(
        time=time.time(),
        method=request.method,
        path=request.path,
        query=_journal_query(request),
        request_id=rid,
        user_agent=request.headers.get("User-Agent"),
    )
    request[JOURNAL_ENTRY] = entry
    started = time.monotonic()
    try:
        response = await _api_call(request, handler, rt, entry, rid)
    except _Dropped:
        entry.dropped = True
        raise asyncio.CancelledError from None  # aiohttp treats it as a lost client: no answer, no log
    finally:
        entry.duration = time.monotonic() - started
    entry.status = response.status
    return _with_id(response, rid)


async def _api_call(
    request: web.Request, handler: Handler, rt: Runtime, entry: JournalEntry, rid: str
) -> web.StreamResponse:
    fault = rule = None
    if request.path not in BROWSER_PATHS:
        if rt.faults.config.latency_ms:
            await asyncio.sleep(rt.faults.config.latency_ms / 1000)
        rule = rt.faults.match(request.method, request.path)
        fault = entry.fault = rule.kind if rule is not None else rt.faults.draw()
        if fault == "drop":
            _drop(request)
        if fault in _FAULT_ANSWERS:
            status, type_, message = _FAULT_ANSWERS[fault]
            headers = {"Retry-After": str(rt.faults.config.retry_after)} if status == 429 else None
            return error(rid, ApiError(status, type_, message, headers=headers))
    response = await _answer(request, handler, rid, authenticate=request.path not in BROWSER_PATHS)
    if fault == "hold_after" and rule is not None:
        await _hold(request, rule.hold_seconds)  # applied, not yet answered: a client may die here
    if fault == "drop_after":
        _drop(request)  # the request was applied; only its answer is lost
    return response


async def _answer(
    request: web.Request, handler: Handler, rid: str, *, authenticate: bool = False
) -> web.StreamResponse:
    rt = runtime(request)
    try:
        if authenticate:
            app = _authenticate(request, rt)
            request[APPLICATION] = app
            request[JOURNAL_ENTRY].application_id = app.id
            rt.limiter.check(app.id, rt.behaviour.rate_limit_per_second)
        return await handler(request)
    except ApiError as exc:
        return error(rid, exc)
    except web.HTTPNotFound:
        return error(
            rid,
            ApiError(404, "not_found_error", f"Unrecognized request URL ({request.method} {request.path})"),
        )
    except web.HTTPMethodNotAllowed:
        return error(
            rid,
            ApiError(405, "invalid_request_error", f"method {request.method} not allowed on {request.path}"),
        )
    except web.HTTPException as exc:
        return error(rid, ApiError(exc.status, "invalid_request_error", exc.reason))
    except Exception:
        log.exception("emulator handler failed on %s %s", request.method, request.path)
        return error(rid, ApiError(500, "internal_error", "internal error"))


def _authenticate(request: web.Request, rt: Runtime) -> Application:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise unauthorized("missing or malformed Authorization header; expected 'Bearer <API key>'")
    request[JOURNAL_ENTRY].key_id = key_id(key.strip())
    app = rt.state.application_for_key(key.strip())
    if app is None:
        raise unauthorized("invalid API key for this region")
    return app


def key_id(api_key: str) -> str:
    """Which key sent a request, for the journal: a digest prefix, never the key."""
    return "sha256:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


async def _hold(request: web.Request, seconds: float) -> None:
    """Wait ``seconds``, or until the client has gone (then there is nobody left to answer)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            raise _Dropped
        await asyncio.sleep(min(0.1, max(deadline - time.monotonic(), 0.0)))


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise _Dropped


def _journal_query(request: web.Request) -> dict[str, str]:
    """The query as journalled; the consent `state` (a CSRF token) only as a digest."""
    query = dict(request.query)
    if "state" in query:
        query["state"] = "sha256:" + hashlib.sha256(query["state"].encode()).hexdigest()
    return query


def _with_id(response: web.StreamResponse, rid: str) -> web.StreamResponse:
    if not response.prepared:
        response.headers["X-Request-Id"] = rid
    return response
