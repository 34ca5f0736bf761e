"""The small HTML pages the consent callback answers with. Every dynamic value is HTML-escaped.

Owns: page text and markup. Does not own: status codes or headers (``callback``).
No scripts, styles from elsewhere, images or links: the CSP is ``default-src 'none'``.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from html import escape

from nylas_operator.consent.recording import ConsentOutcome

INVALID_MESSAGE = "This consent link is not valid or was already used."

_STYLE = "body{font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em;line-height:1.5}"
# The CSP allows exactly this inline style by hash, nothing else.
STYLE_CSP_SOURCE = "'sha256-" + base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode() + "'"


def _page(title: str, *paragraphs: str) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>\n"
    )


def format_utc(moment: datetime) -> str:
    """``2025-01-31 14:05:00 UTC``; a naive value is taken to be UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def invalid_page() -> str:
    """The one answer for missing, malformed, unknown, tampered, replayed and expired states."""
    return _page(
        "Consent link not valid",
        escape(INVALID_MESSAGE),
        "Ask the platform team for the current consent URL (it is shown in the credential's status).",
    )


def granted_page(grants_after: datetime | None, display_name: str | None) -> str:
    what = f" for {escape(display_name)}" if display_name else ""
    when = (
        f"Mailbox grants will be created after <strong>{escape(format_utc(grants_after))}</strong>, once "
        "Microsoft has propagated the consent."
        if grants_after is not None
        else "Mailbox grants will be created once Microsoft has propagated the consent."
    )
    return _page("Consent recorded", f"Admin consent{what} was recorded.", when, "You can close this page.")


def refused_page(outcome: ConsentOutcome, display_name: str | None) -> str:
    what = f" for {escape(display_name)}" if display_name else ""
    paragraphs = [f"Admin consent{what} was not granted. The refusal was recorded."]
    if outcome.error:
        paragraphs.append(f"Provider error: <code>{escape(outcome.error)}</code>")
    if outcome.error_description:
        paragraphs.append(f"Description: {escape(outcome.error_description)}")
    if outcome.error_uri:
        # Shown as text, never as a link: the value comes from the query string.
        paragraphs.append(f"More information: <code>{escape(outcome.error_uri)}</code>")
    paragraphs.append("Open the consent URL again to retry once the problem is fixed.")
    return _page("Consent refused", *paragraphs)


def rate_limited_page() -> str:
    return _page("Too many requests", "Too many requests from your address. Wait a moment and try again.")


def unavailable_page() -> str:
    return _page(
        "Try again shortly",
        "The consent could not be recorded right now. Reload this page in a minute.",
    )


def method_not_allowed_page() -> str:
    return _page("Method not allowed", "Only GET is supported here.")


def not_found_page() -> str:
    return _page("Not found", "There is nothing here.")
