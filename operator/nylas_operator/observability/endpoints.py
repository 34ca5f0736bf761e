"""Turn a concrete Nylas request path into a low-cardinality template for metric labels.

``/v3/grants/8f2c…`` → ``/v3/grants/{grant_id}``. Query strings are dropped. Paths the client already
sends as templates pass through unchanged. Unknown paths keep only known words; every other segment
becomes ``{id}``, and depth is capped, so no id, email or name can reach a label.
"""

from __future__ import annotations

import re
from functools import lru_cache

_PLACEHOLDER = re.compile(r"\{[a-z_]{1,32}\}")
_KNOWN: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), template)
    for pattern, template in (
        (r"/v3/connectors/[^/]+/creds/[^/]+", "/v3/connectors/{provider}/creds/{credential_id}"),
        (r"/v3/connectors/[^/]+/creds", "/v3/connectors/{provider}/creds"),
        (r"/v3/connectors/[^/]+", "/v3/connectors/{provider}"),
        (r"/v3/grants/[^/]+", "/v3/grants/{grant_id}"),
        (r"/v3/applications/redirect-uris/[^/]+", "/v3/applications/redirect-uris/{redirect_uri_id}"),
    )
)
# Static words of the Nylas v3 paths; anything else in an unknown path is treated as an id.
_WORDS = frozenset(
    {
        "v3",
        "applications",
        "redirect-uris",
        "connectors",
        "creds",
        "grants",
        "connect",
        "custom",
        "auth",
        "token",
        "tokeninfo",
        "revoke",
        "callback",
        "providers",
        "detect",
        "me",
    }
)
MAX_SEGMENTS = 6


@lru_cache(maxsize=512)
def endpoint_template(path: str) -> str:
    """The label value for ``path`` (a concrete path, a template, or a full URL path with query)."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    segments = [s for s in path.split("/") if s]
    if not segments:
        return "/"
    if all(s in _WORDS or _PLACEHOLDER.fullmatch(s) for s in segments) and len(segments) <= MAX_SEGMENTS:
        return "/" + "/".join(segments)  # already a template
    normalised = "/" + "/".join(segments)
    for pattern, template in _KNOWN:
        if pattern.fullmatch(normalised):
            return template
    kept = [s if s in _WORDS else "{id}" for s in segments[:MAX_SEGMENTS]]
    if len(segments) > MAX_SEGMENTS:
        kept.append("{more}")
    return "/" + "/".join(kept)
