"""Logging: JSON shape, kopf object context, and redaction of registered secrets."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from typing import Any, cast

import kopf
import pytest
from kopf._core.actions.loggers import ObjectLogger

from nylas_operator.observability import redaction
from nylas_operator.observability.logging import configure_logging

API_KEY = "nyk_v0_9mQeKpZ3sW7xY2aB4cD6eF8gH0iJ"
CLIENT_SECRET = "Zx8~Q.abcDEF123ghiJKL456"
PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
    "BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n"
)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    objects = logging.getLogger("kopf.objects")
    object_filters = {h: list(h.filters) for h in objects.handlers}
    quiet = {n: logging.getLogger(n).level for n in ("httpx", "httpcore", "aiohttp.access")}
    redaction.clear_secrets()
    yield
    redaction.clear_secrets()
    root.handlers[:] = handlers
    root.setLevel(level)
    for h, filters in object_filters.items():
        h.filters[:] = filters
    for n, lv in quiet.items():
        logging.getLogger(n).setLevel(lv)


def object_logger(body: dict[str, Any]) -> ObjectLogger:
    """kopf's real per-object logger, as handlers receive it."""
    return ObjectLogger(body=kopf.Body(cast(kopf.RawBody, body)), settings=kopf.OperatorSettings())


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def test_json_lines_shape_and_kopf_object_context() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    logging.getLogger("nylas_operator.test").debug("plain %s", "message")
    body: dict[str, Any] = {
        "apiVersion": "nylas-operator.io/v1alpha1",
        "kind": "ServiceAccountGrant",
        "metadata": {"name": "alice", "namespace": "team-a", "uid": "u-1"},
    }
    object_logger(body).info("Grant is %s.", "Ready")
    first, second = lines(stream)
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["level"] == "debug" and first["logger"] == "nylas_operator.test"
    assert first["message"] == "plain message"
    assert first["time"].endswith("Z") and first["time"][10] == "T"
    assert second["logger"] == "kopf.objects"
    assert second["message"] == "Grant is Ready."
    assert second["object"] == {
        "kind": "ServiceAccountGrant",
        "namespace": "team-a",
        "name": "alice",
        "uid": "u-1",
    }


def test_text_format_prefixes_the_object() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", stream=stream)
    body: dict[str, Any] = {"kind": "NylasCredential", "metadata": {"name": "ms", "namespace": "team-a"}}
    object_logger(body).warning("Consent %s.", "pending")
    logging.getLogger("x").debug("hidden at INFO")
    [line] = stream.getvalue().splitlines()
    assert line.endswith("WARNING kopf.objects [team-a/ms] Consent pending.")


def test_configure_is_idempotent_and_validates() -> None:
    configure_logging("INFO", "text", stream=io.StringIO())
    configure_logging("DEBUG", "json", stream=io.StringIO())
    ours = [h for h in logging.getLogger().handlers if type(h).__name__ == "_OperatorHandler"]
    assert len(ours) == 1
    assert logging.getLogger().level == logging.DEBUG
    assert logging.getLogger("httpcore").level == logging.WARNING  # never DEBUG: headers live there
    with pytest.raises(ValueError):
        configure_logging("LOUD", "text")
    with pytest.raises(ValueError):
        configure_logging("INFO", "xml")  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_registered_secrets_are_redacted_everywhere_at_debug(fmt: str) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", fmt, stream=stream)  # type: ignore[arg-type]
    for value in (API_KEY, CLIENT_SECRET, PEM, "short"):
        redaction.register_secret(value)
    log = logging.getLogger("nylas_operator.controllers")
    log.debug(f"message with {API_KEY} inline")
    log.debug("args %s and %r", CLIENT_SECRET, {"key": API_KEY})
    log.debug("dict args %(k)s", {"k": API_KEY})
    log.debug("base64 form in a Secret body: %s", base64.b64encode(API_KEY.encode()).decode())
    log.debug("json-escaped key: %s", json.dumps({"private_key": PEM}))
    log.debug("one line of the key: %s", PEM.splitlines()[1])
    log.info("a short registered value stays: short", extra={"note": f"extra {API_KEY}"})
    try:
        raise RuntimeError(f"Nylas said no to {API_KEY}")
    except RuntimeError:
        log.exception("failed with %s", CLIENT_SECRET)
    log.debug("stack", stack_info=True)
    output = stream.getvalue()
    for secret in (
        API_KEY,
        CLIENT_SECRET,
        *PEM.splitlines()[1:3],
        base64.b64encode(API_KEY.encode()).decode(),
    ):
        assert secret not in output
    assert output.count("[REDACTED]") >= 9
    assert "short" in output  # below the length floor: not redacted
    assert "RuntimeError: Nylas said no to [REDACTED]" in output
    assert "Traceback" in output


def test_redaction_reaches_kopf_event_poster_and_other_handlers() -> None:
    configure_logging("DEBUG", "json", stream=io.StringIO())
    poster_handlers = logging.getLogger("kopf.objects").handlers
    assert poster_handlers, "kopf registers its Event poster on kopf.objects"
    for handler in poster_handlers:
        assert any(isinstance(f, redaction.RedactionFilter) for f in handler.filters)
    # A handler added later (e.g. pytest's caplog) sees redacted records once ours has run first.
    redaction.register_secret(API_KEY)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "k=%s", (API_KEY,), None)
    assert redaction.RedactionFilter().filter(record)
    assert record.getMessage() == "k=[REDACTED]"


def test_redact_without_secrets_is_identity_and_longest_match_wins() -> None:
    assert redaction.redact(f"x {API_KEY}") == f"x {API_KEY}"
    redaction.register_secret("abcdef")
    redaction.register_secret("abcdefghij")
    redaction.register_secret(b"bytes-secret")
    redaction.register_secret(None)
    assert redaction.redact("abcdefghij abcdef bytes-secret") == "[REDACTED] [REDACTED] [REDACTED]"
