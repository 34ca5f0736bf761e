"""The consent callback endpoint: Nylas redirects the admin's browser here after admin consent.

Owns: parsing the redirect (``admin_consent``/``tenant`` or ``error``/``error_description``/
``error_uri``, always ``state``), refusing every bad state with one generic answer, rate limiting,
security headers, and logging without the raw state. Does not own: looking the state up or writing
status (the ``ConsentRecorder``), serving the app (the runner), ``/healthz`` (``observability``).

Every refusal (missing, duplicated, oversized, malformed, unknown, tampered, replayed, expired) is
the same 400 page: malformed input is refused before hashing, everything else costs one hash and one
recorder lookup, so the answer says nothing about which objects exist.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from nylas_operator.consent import pages
from nylas_operator.consent.clientaddr import FORWARDED_FOR, Network, client_address
from nylas_operator.consent.ratelimit import ClientRateLimiter
from nylas_operator.consent.recording import ConsentOutcome, ConsentRecorder, RecordResult
from nylas_operator.consent.tokens import hash_state, is_well_formed, short_hash

log = logging.getLogger("nylas_operator.consent")

DEFAULT_PATH = "/consent/callback"
MAX_QUERY_LENGTH = 4096  # aiohttp itself refuses request lines over 8190 bytes
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src {pages.STYLE_CSP_SOURCE}; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The URL carries the state: never send it onwards as a Referer.
    "Referrer-Policy": "no-referrer",
}
ALLOWED_METHODS = "GET, HEAD"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_callback_app(
    recorder: ConsentRecorder,
    *,
    path: str = DEFAULT_PATH,
    rate_limiter: ClientRateLimiter | None = None,
    trusted_proxies: Sequence[Network] = (),
) -> web.Application:
    """The aiohttp application serving ``GET path``.

    ``trusted_proxies``: peers (an Ingress controller) whose ``X-Forwarded-For`` names the client
    address used for rate limiting (``clientaddr``); any other peer is the client itself.
    Serve it with aiohttp's access log off, or keep ``install_access_log_scrubber`` in place, and
    behind ``guard.start_guarded_site`` when it is public (header deadline, connection caps).
    """
    install_access_log_scrubber()
    limiter = rate_limiter if rate_limiter is not None else ClientRateLimiter()
    endpoint = _CallbackEndpoint(recorder, limiter, tuple(trusted_proxies))
    app = web.Application(middlewares=[_security_middleware], client_max_size=1024)
    app.router.add_route("*", path, endpoint.handle)
    return app


def _html(page: str, status: int, **headers: str) -> web.Response:
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8", headers=headers)


def invalid_response() -> web.Response:
    return _html(pages.invalid_page(), 400)


@web.middleware
async def _security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # the router's 404/405: answer with our page and headers
        page = pages.method_not_allowed_page() if exc.status == 405 else pages.not_found_page()
        response = _html(page, exc.status)
        if exc.status == 405:
            response.headers["Allow"] = ALLOWED_METHODS
    response.headers.update(SECURITY_HEADERS)
    # One request per connection: a browser makes one; a held keep-alive connection would
    # escape the guard's header deadline.
    response.force_close()
    return response


class _CallbackEndpoint:
    def __init__(
        self, recorder: ConsentRecorder, limiter: ClientRateLimiter, proxies: tuple[Network, ...]
    ) -> None:
        self._recorder = recorder
        self._limiter = limiter
        self._proxies = proxies

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self._limiter.allow(self._client(request)):
            return _html(pages.rate_limited_page(), 429, **{"Retry-After": "1"})
        if request.method == "HEAD":
            return _html(pages.invalid_page(), 200)  # never records: only GET has an effect
        if request.method != "GET":
            return _html(pages.method_not_allowed_page(), 405, Allow=ALLOWED_METHODS)
        parsed = parse_callback_query(request)
        if parsed is None:
            return invalid_response()
        state, outcome = parsed
        state_hash = hash_state(state)
        try:
            result = await self._recorder.record(state_hash, outcome)
        except Exception:
            log.exception("Could not record the consent callback for state %s…", short_hash(state_hash))
            return _html(pages.unavailable_page(), 503, **{"Retry-After": "30"})
        log.info(
            "Consent callback for state %s…: granted=%s, accepted=%s.",
            short_hash(state_hash),
            outcome.granted,
            result.accepted,
        )
        return self._answer(outcome, result)

    @staticmethod
    def _answer(outcome: ConsentOutcome, result: RecordResult) -> web.Response:
        if not result.accepted:
            return invalid_response()
        if outcome.granted:
            return _html(pages.granted_page(result.grants_after, result.display_name), 200)
        return _html(pages.refused_page(outcome, result.display_name), 200)

    def _client(self, request: web.Request) -> str:
        return client_address(request.remote, request.headers.getall(FORWARDED_FOR, []), self._proxies)


def parse_callback_query(request: web.Request) -> tuple[str, ConsentOutcome] | None:
    """``(state, outcome)`` or None when the query is not a well-formed consent redirect."""
    if len(request.query_string) > MAX_QUERY_LENGTH:
        return None
    query = request.query
    values: dict[str, str | None] = {}
    for key in ("state", "admin_consent", "tenant", "error", "error_description", "error_uri"):
        found = query.getall(key, [])
        if len(found) > 1:  # a duplicated parameter is never a genuine redirect
            return None
        values[key] = found[0] if found else None
    state = values["state"]
    if state is None or not is_well_formed(state):
        return None
    flag = (values["admin_consent"] or "").strip().lower()
    if values["error"]:
        outcome = ConsentOutcome(
            granted=False,
            error=values["error"],
            error_description=values["error_description"],
            error_uri=values["error_uri"],
        )
    elif flag == "true":
        outcome = ConsentOutcome(granted=True, tenant=values["tenant"])
    elif flag == "false":
        outcome = ConsentOutcome(granted=False, tenant=values["tenant"], error="consent_not_granted")
    else:
        return None
    return state, outcome


_STATE_IN_TEXT = re.compile(r"(state=)[^&\s\"']*", re.IGNORECASE)


class StateScrubber(logging.Filter):
    """Replaces ``state=<value>`` in a record with ``state=[hidden]``: message, args and traceback.

    aiohttp's access log prints the request line and the Referer; ``aiohttp.server`` logs a
    too-long request line (with its start, hence the state) inside a traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        malformed = _malformed_request(record)
        if malformed is not None:
            # A client sent bytes that are not HTTP (e.g. an 8 KiB request line): aiohttp answers
            # 400 itself and would log an ERROR with a traceback. Anyone can send that, so it is a
            # one-line warning: no traceback to flood the logs or to look like a crash.
            text = _hide(record.getMessage())
            record.msg, record.args = "%s: refused a malformed HTTP request (%s)", (text, malformed)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
            return True
        if isinstance(record.msg, str):
            record.msg = _hide(record.msg)
        if record.args:
            record.args = _scrub_args(record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _hide(record.exc_text)
        return True


def _malformed_request(record: logging.LogRecord) -> str | None:
    """The exception class name when ``record`` is aiohttp's report of an unparsable request."""
    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, HttpProcessingError):
        return type(exc).__name__
    return None


def _hide(text: str) -> str:
    return _STATE_IN_TEXT.sub(r"\1[hidden]", text)


def _scrub_args(args: Any) -> Any:
    if isinstance(args, tuple):
        return tuple(_hide(a) if isinstance(a, str) else a for a in args)
    if isinstance(args, dict):
        return {k: _hide(v) if isinstance(v, str) else v for k, v in args.items()}
    return args


def install_access_log_scrubber() -> None:
    """Idempotently attach ``StateScrubber`` to aiohttp's ``access`` and ``server`` loggers.

    A logger-level filter sees those records before any handler does.
    """
    for name in ("aiohttp.access", "aiohttp.server"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, StateScrubber) for f in logger.filters):
            logger.addFilter(StateScrubber())
