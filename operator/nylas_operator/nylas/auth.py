"""Authentication: custom auth (``POST /v3/connect/custom``) and the admin-consent URL (no HTTP).

Owns: creating/re-authenticating bulk grants for Microsoft (admin consent credential) and Google
(service account credential + scopes), and building the Microsoft admin-consent URL. Does not own: the
consent callback, state tokens or the wait after consent (``consent/`` and ``controllers/``).

Custom auth is idempotent per email address: a repeat re-authenticates and returns the same grant id,
so it is retried like a GET (see ``retry.py``). Right after admin consent Microsoft may still refuse
(a 4xx whose ``provider_error`` carries Microsoft's code): that is "not settled yet", for the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote, urlencode, urlsplit

from nylas_operator.nylas.models import CustomAuthRequest, CustomAuthSettings, Grant, Provider
from nylas_operator.nylas.resource import Resource
from nylas_operator.nylas.transport import Transport

MAX_STATE_LENGTH = 256


class Auth(Resource):
    def __init__(self, transport: Transport, *, application_id: str | None) -> None:
        super().__init__(transport)
        self._application_id = application_id

    async def custom(
        self,
        *,
        provider: Provider | str,
        email_address: str,
        credential_id: str,
        scopes: Sequence[str] | None = None,
    ) -> Grant:
        """Create or re-authenticate the grant of ``email_address``; Google needs ``scopes``."""
        provider = Provider(provider)
        if provider is Provider.MICROSOFT and scopes:
            raise ValueError("Microsoft bulk grants use the consented app permissions; pass no scopes")
        request = CustomAuthRequest(
            provider=provider,
            settings=CustomAuthSettings(
                email_address=email_address,
                credential_id=credential_id,
                scopes=list(scopes) if scopes else None,
            ),
        )
        return await self._one(Grant, "POST", "/v3/connect/custom", body=request, idempotent=True)

    def admin_consent_url(
        self,
        *,
        credential_id: str,
        redirect_uri: str,
        state: str,
        scope: Sequence[str] | None = None,
    ) -> str:
        """The admin-consent URL for this client's region and application."""
        if not self._application_id:
            raise ValueError("the client was created without application_id (the Nylas client id)")
        return build_admin_consent_url(
            base_url=self._transport.base_url,
            client_id=self._application_id,
            credential_id=credential_id,
            redirect_uri=redirect_uri,
            state=state,
            scope=scope,
        )


def build_admin_consent_url(
    *,
    base_url: str,
    client_id: str,
    credential_id: str,
    redirect_uri: str,
    state: str,
    scope: Sequence[str] | None = None,
) -> str:
    """``GET {base_url}/v3/connect/auth?...&response_type=adminconsent`` for a Microsoft admin to open.

    ``client_id`` is the Nylas application id (not the Azure app id). ``state`` is echoed back on the
    redirect (1-256 characters). ``scope`` is sent space-delimited; without it Nylas uses the defaults.
    """
    if not client_id:
        raise ValueError("client_id (the Nylas application id) is required")
    if not credential_id:
        raise ValueError("credential_id is required")
    if not state or len(state) > MAX_STATE_LENGTH:
        raise ValueError(f"state must be 1 to {MAX_STATE_LENGTH} characters")
    target = urlsplit(redirect_uri)
    if target.scheme not in ("http", "https") or not target.netloc or target.fragment:
        raise ValueError("redirect_uri must be an absolute http(s) URL without a fragment")
    base = urlsplit(base_url)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise ValueError("base_url must be an absolute http(s) URL")
    params = [
        ("client_id", client_id),
        ("provider", Provider.MICROSOFT.value),
        ("response_type", "adminconsent"),
        ("credential_id", credential_id),
        ("redirect_uri", redirect_uri),
        ("state", state),
    ]
    if scope:
        if any(not s or any(c.isspace() for c in s) for s in scope):
            raise ValueError("each scope must be a non-empty string without whitespace")
        params.append(("scope", " ".join(scope)))
    # quote (not quote_plus): spaces as %20 and every reserved character of the values escaped.
    return f"{base_url.rstrip('/')}/v3/connect/auth?{urlencode(params, quote_via=quote, safe='')}"
