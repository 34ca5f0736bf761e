"""Consent ``state`` tokens: 256-bit random, URL-safe, stored only as a SHA-256 hash, expiring.

Owns: making a token, hashing it, comparing hashes in constant time, rejecting malformed input
cheaply, and the expiry arithmetic. Does not own: where hashes are stored or single use (the
recorder clears the stored hash when it records an outcome).

The raw token only ever lives in the consent URL; status keeps ``hash_state(token)``. A SHA-256 of
256 random bits needs no key: nobody can invert it or guess a token that matches.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

TOKEN_BYTES = 32  # 256 bits of entropy
# token_urlsafe(32) gives 43 characters; accept a band around it so a future length change stays
# compatible, and refuse anything else before hashing (Nylas echoes at most 256 characters).
MIN_TOKEN_LENGTH = 32
MAX_TOKEN_LENGTH = 128

_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+")
_HASH_RE = re.compile(r"[0-9a-f]{64}")


def new_state() -> tuple[str, str]:
    """A fresh ``(token, sha256_hex_of_token)``; put the token in the URL, store only the hash."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_state(token)


def hash_state(token: str) -> str:
    """SHA-256 hex digest of the token's ASCII bytes (64 lowercase hex characters)."""
    return hashlib.sha256(token.encode("ascii", errors="strict")).hexdigest()


def is_well_formed(token: str | None) -> bool:
    """Cheap shape check: length first (bounded work for absurd input), then the base64url alphabet."""
    if token is None or not MIN_TOKEN_LENGTH <= len(token) <= MAX_TOKEN_LENGTH:
        return False
    return _TOKEN_RE.fullmatch(token) is not None


def is_state_hash(value: str | None) -> bool:
    """True for a stored hash as ``hash_state`` writes it (guards against garbage in status)."""
    return value is not None and _HASH_RE.fullmatch(value) is not None


def hashes_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two hashes (no early exit on the first differing character)."""
    return hmac.compare_digest(a.encode("ascii", errors="replace"), b.encode("ascii", errors="replace"))


def short_hash(state_hash: str) -> str:
    """The first 8 hex characters of a hash: enough to correlate logs, useless to an attacker."""
    return state_hash[:8]
