"""Nylas-style API errors raised by the emulator's rules and turned into envelopes by the pipeline.

Owns the error types and their HTTP statuses. It does not build HTTP responses (`envelopes.py`).
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered as `{request_id, error: {type, message, provider_error?}}`."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        provider_error: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.provider_error = provider_error
        self.headers = headers or {}

    def body_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.provider_error is not None:
            error["provider_error"] = self.provider_error
        return error


def bad_request(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found_error", message)


def unauthorized(message: str = "Unauthorized") -> ApiError:
    return ApiError(401, "unauthorized", message)


def conflict_or_bad_request(status: int, message: str) -> ApiError:
    return ApiError(status, "conflict" if status == 409 else "invalid_request_error", message)
