"""Defence in depth against secrets in logs: a process-wide registry and a ``logging.Filter``.

Owns: ``register_secret`` (the controllers call it for every Secret value they read), the matching
and ``RedactionFilter``. Does not own: not logging secrets in the first place, which is every
module's job; this only catches mistakes.

Matching needs the values themselves (substring search cannot work on hashes); they are already in
this process's memory. Values shorter than ``MIN_SECRET_LENGTH`` are ignored so that short strings
("true", a region) do not redact everything. Besides the value, its base64 form (what a Secret's
``data`` holds), its JSON-escaped form (a PEM key inside a JSON string) and each long line of a
multi-line value (a PEM key quoted line by line in a traceback) are registered.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 6
MIN_LINE_LENGTH = 16

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None


def _variants(value: str) -> set[str]:
    found = {value, base64.b64encode(value.encode()).decode(), json.dumps(value)[1:-1]}
    found.update(line.strip() for line in value.splitlines() if len(line.strip()) >= MIN_LINE_LENGTH)
    return {v for v in found if len(v) >= MIN_SECRET_LENGTH}


def register_secret(value: str | bytes | None) -> None:
    """Remember ``value`` (and its encodings) for redaction; short or empty values are ignored."""
    global _pattern
    if value is None:
        return
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
    if len(text) < MIN_SECRET_LENGTH:
        return
    new = _variants(text) - _values
    if not new:
        return
    with _lock:
        _values.update(new)
        _pattern = None  # rebuilt lazily on the next redaction


def clear_secrets() -> None:
    """Forget every registered value (tests)."""
    global _pattern
    with _lock:
        _values.clear()
        _pattern = None


def _compiled() -> re.Pattern[str] | None:
    global _pattern
    if not _values:
        return None
    pattern = _pattern
    if pattern is None:
        with _lock:
            # Longest first, so a value containing another is replaced whole.
            alternatives = sorted(_values, key=len, reverse=True)
            pattern = _pattern = re.compile("|".join(re.escape(v) for v in alternatives))
    return pattern


def redact(text: str) -> str:
    """``text`` with every registered value replaced by ``[REDACTED]``."""
    pattern = _compiled()
    return text if pattern is None else pattern.sub(REDACTED, text)


class RedactionFilter(logging.Filter):
    """Rewrites a record in place: message with its args merged, exception and stack text.

    Attach it to handlers (a handler filter sees records propagated from child loggers). The record
    is changed in place, so every handler after the first redacting one sees the redacted text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if _compiled() is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw parts, redacted
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            # Formatters re-render exc_info only when exc_text is empty; keep the type for JSON.
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def install(*loggers: logging.Logger | str) -> RedactionFilter:
    """Attach one ``RedactionFilter`` to every handler of the given loggers (root by default).

    kopf's per-object Event poster is a handler on ``kopf.objects``; it runs before the root's
    handlers, so pass that logger too when Events may carry log messages.
    """
    flt = RedactionFilter()
    for item in loggers or (logging.getLogger(),):
        logger = logging.getLogger(item) if isinstance(item, str) else item
        for handler in logger.handlers:
            if not any(isinstance(f, RedactionFilter) for f in handler.filters):
                handler.addFilter(flt)
    return flt
