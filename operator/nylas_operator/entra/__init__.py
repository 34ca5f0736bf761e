"""Microsoft Entra, asked directly: did a tenant really admin-consent the app?

A building block like ``nylas/``: it knows nothing of Kubernetes, kopf or the controllers.
``token.py`` asks the token endpoint for a client-credentials token and reads only what the
token says about the consent (tenant id, application roles); the token itself is dropped at once.
"""

from nylas_operator.entra.token import (
    DEFAULT_LOGIN_HOSTS,
    DEFAULT_LOGIN_URL,
    Answer,
    TokenClient,
    check_login_url,
    parse_answer,
)

__all__ = [
    "DEFAULT_LOGIN_HOSTS",
    "DEFAULT_LOGIN_URL",
    "Answer",
    "TokenClient",
    "check_login_url",
    "parse_answer",
]
