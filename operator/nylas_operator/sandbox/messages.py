"""The sandbox's words: what it prints at each step, kept short and in one place.

Owns: the texts (banner, scope-cache announcement, consent instructions with the exact ``curl`` that
approves, how to use kubectl, the final lines). Pure functions returning strings; no I/O.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from urllib.parse import urlsplit

# The emulator's prompt page posts its Approve form here (a 32-hex ticket per consent URL opened).
TICKET_PATTERN = "/_emulator/consent/tickets/[0-9a-f]*"


def seconds_text(seconds: float) -> str:
    return f"{seconds:g}s" if seconds < 120 else f"{seconds / 60:g} min"


def scope_cache(settle_seconds: float) -> str:
    return (
        "Microsoft caches scopes for 5 minutes in real life; the sandbox uses "
        f"{seconds_text(settle_seconds)}: grants are created that long after the admin approves."
    )


def approve_command(consent_url: str) -> str:
    """A shell command that does what an administrator does: open the URL, press Approve.

    The first curl fetches the prompt page and picks its form's action; the second posts
    ``decision=approve`` and follows the redirects to the operator's callback (curl turns the
    POST into a GET on the 302, as a browser does).
    """
    parts = urlsplit(consent_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    # Approve and Deny post to the same ticket: take the first match.
    fetch_form = f"curl -s {shlex.quote(consent_url)} | grep -o '{TICKET_PATTERN}' | head -n 1"
    return f'curl -sL -d decision=approve "{origin}$({fetch_form})"'


def consent_needed(namespace: str, credential: str, consent_url: str) -> str:
    return "\n".join(
        [
            "",
            f"Admin consent needed for credential {namespace}/{credential}. Open this URL in a browser",
            "and press Approve (the emulator stands in for Microsoft's consent page):",
            "",
            f"    {consent_url}",
            "",
            "or approve it from a terminal:",
            "",
            f"    {approve_command(consent_url)}",
            "",
        ]
    )


def how_to_use(kubeconfig: Path, kubectl: str, namespaces: list[str], operator_log: Path) -> str:
    return "\n".join(
        [
            "",
            "Use kubectl against the sandbox from another terminal:",
            f"    export KUBECONFIG={kubeconfig}",
            f"    {kubectl} get nylas -A",
            f"Examples applied in: {', '.join(namespaces)}. Operator log: {operator_log}",
            "",
        ]
    )


def all_ready(count: int, exiting: bool) -> str:
    grants = "grant is" if count == 1 else f"{count} grants are"
    tail = "Stopping as asked (--exit-when-ready)." if exiting else "Press Ctrl-C to stop everything."
    return f"\nAll done: {'the' if count == 1 else 'all'} {grants} Ready. {tail}"
