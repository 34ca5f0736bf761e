"""Which Nylas application an API key belongs to, and where Nylas may send an administrator.

Owns two decisions, as pure functions the reconcilers call: whether a connector's
``spec.application.clientId`` is the application of its API key (``GET /v3/applications``), and
whether the operator's consent callback URL is among the application's registered redirect URIs.
Does not own: the HTTP calls (``nylas/applications.py``) or writing conditions (``status.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from nylas_operator import nylas

CallbackAction = Literal["registered", "register", "report"]


def application_mismatch(client_id: str, application: nylas.Application) -> str | None:
    """A precise message when the key belongs to another application, else None."""
    if application.application_id == client_id:
        return None
    return (
        f"spec.application.clientId is {client_id!r} but the API key belongs to Nylas application "
        f"{application.application_id!r}: fix the client id, or use an API key of that application "
        "(consent URLs built with the wrong client id send administrators to the wrong application)"
    )


def is_registered(url: str, registered: Iterable[nylas.RedirectUri]) -> bool:
    """Nylas compares redirect URIs exactly; a trailing slash or another port is another URI."""
    return any(r.url == url for r in registered)


def unregistered_message(url: str) -> str:
    return (
        f"the consent callback URL {url} is not a registered redirect URI of the Nylas application, "
        "so Nylas will refuse the consent link: add it under the application's callback URIs "
        "(Dashboard, or POST /v3/applications/redirect-uris), or start the operator with "
        "--register-callback-url to let it register it"
    )


def callback_action(
    url: str, registered: Iterable[nylas.RedirectUri], *, may_register: bool
) -> CallbackAction:
    """Registered already; register it (opt-in, only the operator's own callback URL); or report it."""
    if is_registered(url, registered):
        return "registered"
    return "register" if may_register else "report"
