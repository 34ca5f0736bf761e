"""Click callbacks shared by the commands that take the same kinds of option (``run``, ``consent-server``).

Each turns a parse error into ``click.BadParameter`` so the user sees which option was wrong.
"""

from __future__ import annotations

from datetime import timedelta

import click

from nylas_operator.api.common import parse_duration
from nylas_operator.settings import parse_listen


def duration(_: click.Context, __: click.Parameter, value: str | None) -> timedelta | None:
    """A Go-style duration (``90s``, ``5m``, ``1h30m``); None when the option was not given."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def listen(_: click.Context, __: click.Parameter, value: str | None) -> tuple[str, int] | None:
    """``host:port`` to listen on; None for an empty value or ``off``."""
    if not value or value.lower() == "off":
        return None
    try:
        return parse_listen(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
