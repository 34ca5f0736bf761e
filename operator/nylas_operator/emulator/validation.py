"""Small, strict checks for JSON request bodies and query strings.

Owns generic type/shape checks that raise 400 `invalid_request_error` with a message naming the
field. It knows nothing of connectors, credentials or grants (`schemas.py` does).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from nylas_operator.emulator.errors import bad_request

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_email(value: str) -> bool:
    return bool(_EMAIL.match(value))


def is_absolute_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def as_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request(f"{where} must be a JSON object")
    return value


def check_keys(obj: Mapping[str, Any], allowed: Iterable[str], where: str, *, strict: bool) -> None:
    """Reject keys outside `allowed` when `strict` (Nylas documents each body's fields)."""
    if not strict:
        return
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise bad_request(f"unknown field(s) in {where}: {', '.join(unknown)}")


def require_str(obj: Mapping[str, Any], key: str, where: str) -> str:
    if key not in obj or obj[key] is None:
        raise bad_request(f"{where}.{key} is required")
    value = obj[key]
    if not isinstance(value, str):
        raise bad_request(f"{where}.{key} must be a string")
    if not value.strip():
        raise bad_request(f"{where}.{key} must not be empty")
    return value


def optional_str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    if obj.get(key) is None:
        return None
    return require_str(obj, key, where)


def optional_str_list(obj: Mapping[str, Any], key: str, where: str) -> list[str] | None:
    if obj.get(key) is None:
        return None
    value = obj[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise bad_request(f"{where}.{key} must be an array of non-empty strings")
    return list(value)


def parse_int(query: Mapping[str, str], key: str, default: int, *, minimum: int) -> int:
    raw = query.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"query parameter {key} must be an integer") from None
    if value < minimum:
        raise bad_request(f"query parameter {key} must be >= {minimum}")
    return value


def parse_choice(
    query: Mapping[str, str], key: str, choices: tuple[str, ...], default: str | None
) -> str | None:
    raw = query.get(key)
    if raw is None:
        return default
    if raw not in choices:
        raise bad_request(f"query parameter {key} must be one of: {', '.join(choices)}")
    return raw
