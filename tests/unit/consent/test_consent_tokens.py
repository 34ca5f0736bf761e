"""State tokens: entropy, shape, hashing, constant-time comparison, expiry."""

from __future__ import annotations

import base64
import hashlib

import pytest

from nylas_operator.consent import tokens


def test_new_state_is_256_bit_urlsafe_and_hash_matches() -> None:
    token, digest = tokens.new_state()
    assert len(token) == 43 and len(token) <= 256
    raw = base64.urlsafe_b64decode(token + "=")
    assert len(raw) == 32
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert tokens.is_state_hash(digest)
    assert tokens.is_well_formed(token)


def test_new_states_are_unique_and_not_low_entropy() -> None:
    made = [tokens.new_state()[0] for _ in range(2000)]
    assert len(set(made)) == len(made)
    # Every base64url character shows up across 2000 tokens of random bytes; a broken generator
    # (constant, counter, hex only) would not.
    assert len(set("".join(made))) == 64


def test_hash_is_deterministic_and_distinguishes_one_character() -> None:
    token, digest = tokens.new_state()
    assert tokens.hash_state(token) == digest
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert tokens.hash_state(tampered) != digest
    assert tokens.hashes_equal(tokens.hash_state(token), digest)
    assert not tokens.hashes_equal(tokens.hash_state(tampered), digest)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "short",
        "a" * 31,
        "a" * 129,
        "x" * 100_000,
        "a" * 40 + "=",
        "a" * 40 + "+/",
        "a" * 40 + " ",
        "a" * 40 + "\u00e9",
        "a" * 40 + "%20",
        "<script>alert(1)</script>aaaaaaaaaaaaaaaaaaaaaa",
    ],
)
def test_malformed_tokens_are_rejected(value: str | None) -> None:
    assert not tokens.is_well_formed(value)


def test_shape_band_accepts_other_lengths_of_the_alphabet() -> None:
    assert tokens.is_well_formed("A" * 32)
    assert tokens.is_well_formed("z-_9" * 32)  # 128


def test_hashes_equal_constant_time_helper() -> None:
    _, a = tokens.new_state()
    _, b = tokens.new_state()
    assert tokens.hashes_equal(a, a)
    assert not tokens.hashes_equal(a, b)
    assert not tokens.hashes_equal(a, a[:-1])
    assert not tokens.hashes_equal(a, "é" * 64)  # non-ASCII never equals and never raises


def test_is_state_hash() -> None:
    assert not tokens.is_state_hash(None)
    assert not tokens.is_state_hash("A" * 64)
    assert not tokens.is_state_hash("a" * 63)


def test_short_hash_is_a_prefix() -> None:
    _, digest = tokens.new_state()
    assert tokens.short_hash(digest) == digest[:8]
