"""Process logging: text or JSON lines on stderr, with kopf's object context and secret redaction.

Owns: ``configure_logging`` (root handler, levels of chatty libraries, redaction on the root and on
kopf's per-object Event poster), the two formatters and the demotion of watch-only handler lines.
Does not own: what is logged.

kopf's per-object loggers (``kopf.objects``) attach ``k8s_ref`` = ``{apiVersion, kind, name, uid,
namespace}`` to each record (``kopf/_core/actions/loggers.py``); it is read here as a plain record
attribute, so this module needs no kopf import.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, Literal

from nylas_operator.observability import redaction

LogFormat = Literal["text", "json"]
# Libraries whose DEBUG output may include request details (headers live there): never below INFO.
_QUIET = {"httpx": logging.WARNING, "httpcore": logging.WARNING, "aiohttp.access": logging.WARNING}


def _object_ref(record: logging.LogRecord) -> dict[str, str] | None:
    ref = getattr(record, "k8s_ref", None)
    if not isinstance(ref, dict):
        return None
    return {k: str(ref[k]) for k in ("kind", "namespace", "name", "uid") if ref.get(k)}


class TextFormatter(logging.Formatter):
    """``2025-01-31T14:05:00.123Z INFO    nylas_operator.x [ns/name] message``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _timestamp(record)

    def format(self, record: logging.LogRecord) -> str:
        ref = _object_ref(record)
        if ref and "name" in ref:
            where = f"{ref['namespace']}/{ref['name']}" if "namespace" in ref else ref["name"]
            record = logging.makeLogRecord(vars(record))  # a copy: other handlers keep the plain message
            record.msg, record.args = f"[{where}] {record.getMessage()}", None
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``, optional ``object``
    (kind, namespace, name, uid), ``exception`` and ``stack``."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        ref = _object_ref(record)
        if ref:
            doc["object"] = ref
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["exception"] = record.exc_text
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _OperatorHandler(logging.StreamHandler[Any]):
    """Marks the handler this module owns, so a second call replaces it instead of adding one."""


class QuietHandlersFilter(logging.Filter):
    """Demotes kopf's "Handler 'x' is invoked/succeeded." lines of watch-only handlers to DEBUG.

    kopf logs every handler success at INFO; for ``on.event`` handlers that only take note of an
    event (activity stamps, the canary, Secret digests) that is one INFO line per watch event.
    """

    def __init__(self, handler_ids: Collection[str]) -> None:
        super().__init__()
        self._ids = frozenset(handler_ids)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not record.name.startswith("kopf."):
            return True
        match = _HANDLER_LINE.fullmatch(str(record.msg))
        if match is None or match.group(1) not in self._ids:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


_HANDLER_LINE = re.compile(r"Handler '([^']+)' (?:is invoked|succeeded)\.")


def configure_logging(
    level: str | int = "INFO",
    fmt: LogFormat = "text",
    *,
    stream: Any = None,
    quiet_handlers: Collection[str] = (),
) -> logging.Handler:
    """Route all logging to one stderr handler (text or JSON) with secret redaction; returns it.

    Idempotent: calling again replaces the handler. Also attaches redaction to kopf's per-object
    Event poster (a handler on ``kopf.objects``), in case kopf posts log lines as Events.
    ``quiet_handlers``: kopf handler ids whose invoked/succeeded lines are DEBUG, not INFO.
    """
    if fmt not in ("text", "json"):
        raise ValueError(f"log format must be 'text' or 'json', not {fmt!r}")
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    handler = _OperatorHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    if quiet_handlers:
        handler.addFilter(QuietHandlersFilter(quiet_handlers))
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _OperatorHandler)] + [handler]
    root.setLevel(numeric)
    for name, floor in _QUIET.items():
        logging.getLogger(name).setLevel(max(floor, numeric))
    redaction.install(root, "kopf.objects")  # also on this handler
    return handler
