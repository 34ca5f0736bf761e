"""What a Nylas error answer means, read from any of its documented shapes (pure functions).

Owns: recognising Microsoft's "admin consent not applied yet" codes (AADSTS…) and Google's
"domain-wide delegation not configured" codes wherever they appear in ``provider_error`` (code,
message, or a nested field of the raw object), and "the object is already gone" for deletes, which
Nylas answers with 404 or, on credential paths where the contract documents only 400 and 401, with
a 400 whose text says not found. Does not own: retry timing or status wording (``controllers/``).
"""

from __future__ import annotations

import re

from nylas_operator.nylas.errors import NylasBadRequestError, NylasError, NylasNotFoundError, NylasStatusError

NOT_PROPAGATED_CODES = ("AADSTS65001", "Authorization_RequestDenied", "AADSTS650051", "AADSTS7000112")
"""Microsoft's answers right after an admin consent, before its scope cache has the consent."""

DELEGATION_CODES = ("unauthorized_client", "Client is unauthorized to retrieve access tokens")
"""Google's answers while domain-wide delegation is not (yet) configured for the service account."""

_NOT_FOUND = re.compile(r"not[ _-]?found|does not exist|no such|unknown credential", re.IGNORECASE)


def provider_text(exc: NylasStatusError) -> str:
    pe = exc.provider_error
    return pe.text if pe is not None else ""


def is_not_propagated(exc: NylasError) -> bool:
    """A 400/403 carrying one of Microsoft's "consent not applied yet" codes, in any shape."""
    if not isinstance(exc, NylasStatusError) or exc.status not in (400, 403):
        return False
    text = provider_text(exc)
    return any(code in text for code in NOT_PROPAGATED_CODES)


def is_delegation_missing(exc: NylasError) -> bool:
    """A 400/401/403 carrying Google's "delegation not configured" answer, in any shape."""
    if not isinstance(exc, NylasStatusError) or exc.status not in (400, 401, 403):
        return False
    text = provider_text(exc)
    return any(code in text for code in DELEGATION_CODES)


def is_gone(exc: NylasError) -> bool:
    """The object of a GET/DELETE no longer exists: 404, or a 400 that says it was not found."""
    if isinstance(exc, NylasNotFoundError):
        return True
    if isinstance(exc, NylasBadRequestError) and exc.provider_error is None:
        return bool(_NOT_FOUND.search(f"{exc.error_type or ''} {exc.message or ''}"))
    return False
